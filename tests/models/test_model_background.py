"""Background: exact white (or transparent, or kept) around an intact piece."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models import ImageData, RetouchOptions


def _far_from(mask: np.ndarray, pixels: int) -> np.ndarray:
    return ~ndimage.binary_dilation(mask, iterations=pixels)


def test_grey_gradient_backdrop_becomes_exact_white(retoucher, ring_photo):
    scene = ring_photo
    photo = scene.codes()
    assert photo[scene.piece == 0].max() < 235  # the backdrop really is a grey, cast gradient
    out = retoucher.retouch(ImageData(photo), RetouchOptions()).image.pixels
    backdrop = _far_from(scene.piece, 3)
    white = (out == 255).all(axis=-1)
    assert white[backdrop].mean() == 1.0
    for corner in (out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]):
        assert tuple(corner) == (255, 255, 255)
    # The ring's hole is backdrop too.
    hole = (~scene.masks["ring"]) & ndimage.binary_fill_holes(scene.masks["ring"])
    hole &= _far_from(scene.piece, 3)
    assert hole.sum() > 1000 and white[hole].all()


def test_piece_edges_are_intact(retoucher, ring_photo):
    scene = ring_photo
    out = retoucher.retouch(ImageData(scene.codes()), RetouchOptions()).image.pixels
    inside = ndimage.binary_erosion(scene.piece, iterations=1)
    # Every piece pixel one pixel inside the true outline is still piece, not backdrop white.
    assert (out[inside] < 250).any(axis=-1).mean() > 0.995
    # The outline sits where it was: along a row through the bar, the first non-white pixel
    # is the bar's first pixel (within one pixel).
    row = scene.piece.shape[0] // 2
    truth = np.flatnonzero(scene.piece[row, 200:])[0]
    found = np.flatnonzero((out[row, 200:] < 250).any(axis=-1))[0]
    assert abs(int(found) - int(truth)) <= 1


def test_transparent_background(retoucher, ring_photo):
    scene = ring_photo
    res = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(background="transparent"))
    out = res.image.pixels
    assert out.shape[2] == 4
    backdrop = _far_from(scene.piece, 3)
    assert (out[..., 3][backdrop] == 0).all()
    inside = ndimage.binary_erosion(scene.piece, iterations=2)
    assert (out[..., 3][inside] == 255).all()


def test_keep_background_leaves_backdrop_as_shot(retoucher, ring_photo):
    scene = ring_photo
    photo = scene.codes()
    out = retoucher.retouch(ImageData(photo), RetouchOptions(background="keep")).image.pixels
    backdrop = _far_from(scene.piece, 4)
    diff = np.abs(out.astype(int) - photo.astype(int))[backdrop]
    assert diff.max() <= 1


def test_natural_shadow_keeps_the_photos_own_cast_shadow_smoothed(retoucher, scenes):
    """A soft cast shadow beside the piece survives (smoothed, neutral) with shadow=natural
    and disappears with shadow=none."""
    h, w = 240, 320
    yy, xx = scenes.grid(h, w)
    bar = (yy > 80) & (yy < 160) & (xx > 60) & (xx < 140)
    clean = np.ones((h, w, 3))
    clean[bar] = scenes.SILVER[None] * scenes.metal_shading(h, w)[bar][:, None]
    cast = (yy > 90) & (yy < 170) & (xx >= 175) & (xx < 235)
    soft = ndimage.gaussian_filter(cast.astype(float), 8)
    clean *= (1 - 0.4 * soft * ~bar)[..., None]
    photo = scenes.photograph(clean, cast=(1.0, 1.0, 1.0), noise=0.002, piece=bar)
    photo = scenes.to_codes(photo)
    shadow_zone = (yy > 110) & (yy < 150) & (xx > 190) & (xx < 220)
    with_shadow = retoucher.retouch(ImageData(photo), RetouchOptions(shadow="natural"))
    without = retoucher.retouch(ImageData(photo), RetouchOptions(shadow="none"))
    kept = with_shadow.image.pixels[shadow_zone].astype(int)
    assert kept.mean() < 235  # the photo's shadow is there
    assert np.abs(kept[:, 0] - kept[:, 2]).max() <= 2  # and neutral
    assert (without.image.pixels[shadow_zone] == 255).all()  # and gone with shadow=none
