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
