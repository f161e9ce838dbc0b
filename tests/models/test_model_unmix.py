"""The piece's own colour at an edge over a known coloured backdrop (models/ops/unmix.py)."""

from __future__ import annotations

import numpy as np

from models.ops.unmix import ALPHA_FLOOR, backdrop_colour, unmix

GOLD = np.array([0.5, 0.3, 0.06], np.float32)
MAGENTA = np.array([0.3, 0.02, 0.32], np.float32)


def test_an_edge_pixel_gives_back_the_pieces_colour():
    alpha = np.array([[0.0, 0.25, 0.5, 0.9, 1.0]], np.float32)
    mixed = alpha[..., None] * GOLD + (1 - alpha[..., None]) * MAGENTA
    backdrop = np.broadcast_to(MAGENTA, mixed.shape)
    out = unmix(mixed, alpha, backdrop)
    np.testing.assert_allclose(out[0, 1:4], np.broadcast_to(GOLD, (3, 3)), atol=1e-5)
    # Outside the edge (alpha 0 or 1) the pixel is left as it was.
    np.testing.assert_array_equal(out[0, [0, 4]], mixed[0, [0, 4]])
    # Composited onto white, the backdrop's part became white: no magenta left.
    onto_white = alpha[..., None] * out + (1 - alpha[..., None])
    expected = alpha[..., None] * GOLD + (1 - alpha[..., None])
    np.testing.assert_allclose(onto_white[0, 1:4], expected[0, 1:4], atol=1e-5)


def test_low_coverage_is_not_amplified_and_nothing_goes_negative():
    alpha = np.array([[0.02]], np.float32)
    noisy = (0.02 * GOLD + 0.98 * MAGENTA * 1.1)[None, None]  # the paper a bit brighter here
    out = unmix(noisy, alpha, MAGENTA[None, None])
    assert (out >= 0).all()
    bound = (noisy[0, 0] - 0.98 * MAGENTA) / ALPHA_FLOOR
    np.testing.assert_allclose(out[0, 0], np.maximum(bound, 0), atol=1e-6)
    assert out.max() < 1.0


def test_the_backdrop_colour_is_spread_under_the_piece():
    h, w = 40, 50
    ramp = np.linspace(0.6, 1.4, w, dtype=np.float32)[None, :, None]
    rgb = np.broadcast_to(MAGENTA * ramp, (h, w, 3)).copy()
    matte = np.zeros((h, w), np.float32)
    matte[12:28, 18:32] = 1
    rgb[matte > 0] = GOLD
    colour = backdrop_colour(rgb, matte)
    inside = colour[20, 25]
    # Under the piece: the paper's colour (its chromaticity), no gold in it ...
    np.testing.assert_allclose(inside / inside.sum(), MAGENTA / MAGENTA.sum(), atol=1e-3)
    # ... and its light as around there (the ramp at that column, within the spread).
    assert abs(inside.sum() / MAGENTA.sum() - float(ramp[0, 25, 0])) < 0.05
    np.testing.assert_allclose(colour[5, 5], rgb[5, 5], rtol=0.05)
