"""Degenerate but valid inputs: one-pixel, one-row and flat black or white images."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from models import ImageData, RetouchOptions


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 2, 4), (1, 9, 3), (7, 1, 3), (4, 4, 3)])
@pytest.mark.parametrize("value", [0, 128, 255])
def test_tiny_flat_images_retouch_cleanly(retoucher_default, shape, value):
    pixels = np.full(shape, value, np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or empty-slice on the way
        result = retoucher_default.retouch(ImageData(pixels), RetouchOptions(), layers=True)
    out = result.image.pixels
    assert out.shape == shape and out.dtype == np.uint8
    if value == 255:
        assert (out == 255).all()  # a white frame stays white


@pytest.fixture(scope="module")
def retoucher_default():
    from models import load

    return load()


@pytest.mark.parametrize("shape", [(1, 500, 3), (500, 1, 3), (1, 2000, 3), (3, 1200, 3)])
def test_one_row_strips_longer_than_the_half_size_fit_retouch_cleanly(retoucher_default, shape):
    """A strip a pixel or few high and hundreds long (the backdrop fit works on a half-size
    copy above 400 px, which such a strip does not have) with a piece in the middle."""
    pixels = np.full(shape, 200, np.uint8)
    h, w = shape[:2]
    pixels[h // 3 : h // 3 + 1 + h // 3, w // 3 : 2 * w // 3] = (180, 140, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = retoucher_default.retouch(ImageData(pixels), RetouchOptions(), layers=True)
    assert result.image.pixels.shape == shape and result.image.pixels.dtype == np.uint8
    assert np.array_equal(pixels[0, 0], (200, 200, 200))  # the input is untouched
