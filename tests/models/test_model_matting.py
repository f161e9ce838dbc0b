"""Edge alpha from the known backdrop (models/ops/matting.py) on constructed edges."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.ops.matting import edge_alpha


def _scene():
    h, w = 40, 60
    light = np.full((h, w, 3), 0.8, np.float32)
    rgb = light.copy()
    rgb[:, 20] = 0.2  # a one-pixel chain link (dark metal), fully covering its column
    rgb[:, 21] = 0.5  # the next column half covered (0.5 of the way to the metal)
    shadow = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    soft = ndimage.gaussian_filter(((xx > 38) & (xx < 50)).astype(np.float32), 5)
    rgb *= (1 - 0.35 * soft)[..., None]  # a smooth cast shadow further right
    shadow[:] = 0.35 * soft
    # What a working-resolution matte gives: a blur over both.
    matte = np.zeros((h, w), np.float32)
    matte[:, 16:26] = 0.4
    matte[:, 36:52] = 0.3
    return rgb, light, shadow, matte


def test_a_one_pixel_chain_gets_its_coverage_and_the_blur_round_it_goes():
    rgb, light, shadow, matte = _scene()
    alpha = edge_alpha(rgb, light, shadow, matte, floor=0.04, window=7)
    assert (alpha[:, 20] > 0.95).all()  # the link itself: full coverage
    assert (np.abs(alpha[:, 21] - 0.44) < 0.15).all()  # the mixed column: partial
    assert (alpha[:, 16:19] == 0).all() and (alpha[:, 23:26] == 0).all()  # no halo


def test_a_smooth_shadow_is_not_coverage():
    rgb, light, shadow, matte = _scene()
    alpha = edge_alpha(rgb, light, shadow, matte, floor=0.04, window=7)
    assert alpha[:, 36:52].max() < 0.1
    # Without the analysis's shadow map the same darkening would read as coverage.
    blind = edge_alpha(rgb, light, np.zeros_like(shadow), matte, floor=0.04, window=7)
    assert blind[:, 40:48].max() > 0.5


def test_pixels_outside_the_band_are_unchanged():
    rgb, light, shadow, matte = _scene()
    matte[:, :5] = 1.0
    alpha = edge_alpha(rgb, light, shadow, matte, floor=0.04, window=7)
    assert (alpha[:, :5] == 1.0).all() and (alpha[:, 26:36] == 0.0).all()


def test_a_chain_lying_in_its_own_shadow_keeps_its_coverage():
    rgb, light, shadow, matte = _scene()
    rgb[:, 44] = 0.12  # a link inside the shadow: darker still, and sharp
    alpha = edge_alpha(rgb, light, shadow, matte, floor=0.04, window=7)
    assert (alpha[:, 44] > 0.8).all()
    assert alpha[:, 38:42].max() < 0.1  # the shadow beside it is still not coverage


def test_negative_wide_gamut_values_give_a_finite_alpha():
    rgb, light, shadow, matte = _scene()
    rgb[:, 20, 2] = -0.05  # a saturated colour outside sRGB decodes below zero
    alpha = edge_alpha(rgb, light, shadow, matte, floor=0.04, window=7)
    assert np.isfinite(alpha).all() and alpha.min() >= 0 and alpha.max() <= 1


def test_soft_values_inside_the_piece_are_not_an_edge():
    """A bright reflection inside the piece (same colour as the backdrop) where the upsampled
    matte is soft, far from open backdrop: the matte there is left as it is."""
    h, w = 40, 100
    light = np.full((h, w, 3), 0.8, np.float32)
    rgb = np.full((h, w, 3), 0.3, np.float32)  # a dark metal plate over the whole frame
    rgb[15:25, 60:70] = 0.8  # a reflection of the sweep, 57 px from open backdrop
    matte = np.ones((h, w), np.float32)
    matte[:, :3] = 0.0  # open backdrop at the left edge
    matte[15:25, 60:70] = 0.6  # the upsampled matte dips on the reflection
    alpha = edge_alpha(rgb, light, np.zeros((h, w), np.float32), matte, floor=0.04, window=7)
    assert (alpha[15:25, 60:70] == 0.6).all()
