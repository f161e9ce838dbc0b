"""The confidence (models/analysis/confidence.py): what makes a cut-out unsafe. Constructed
analyses and photos only."""

from __future__ import annotations

import numpy as np

from models.analysis import Analysis, Backdrop


def _piece_and_part_at_the_edge(part_texture: float):
    """A textured gold piece in the middle of a light sweep and a second part of the piece
    running off the frame's lower left corner (a tray's edge, or a chain's end), grey with
    stripes of contrast `part_texture` (0: a flat surface). Returns (analysis, photo)."""
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(3)
    light = np.full((h, w, 3), 0.8, np.float32)
    photo = light * rng.normal(1.0, 0.003, (h, w, 1)).astype(np.float32)
    piece = (np.hypot(yy - 50, xx - 90) < 25) & (np.hypot(yy - 50, xx - 90) > 12)
    shading = 0.45 + 0.4 * np.cos(xx / 1.5) ** 2 * np.cos(yy / 2.5) ** 2
    photo[piece] = (shading[..., None] * np.array([0.9, 0.65, 0.3]))[piece]
    part = (yy >= 96) & (xx < 64)
    stripes = 1.0 + part_texture * np.sign(np.sin(xx * np.pi / 2.0))
    photo[part] = (0.55 * stripes[..., None] * rng.normal(1.0, 0.003, (h, w, 1)))[part]
    matte = (piece | part).astype(np.float32)
    residual = np.where(matte > 0, 1.0, 0.01).astype(np.float32)
    zero = np.zeros_like(matte)
    analysis = Analysis(matte, matte.copy(), zero, zero, zero.copy(), "yellow_gold",
                        Backdrop(light, residual, 0.1))
    return analysis, np.clip(photo, 0, 1).astype(np.float32)


def test_a_flat_surface_running_off_the_frame_makes_the_cut_out_unsafe():
    """A flat part of the piece along the frame's edge is a tray or a table, not jewelry: the
    cut-out would leave it as a grey slab on the white. The same part with texture (a chain,
    a cord's weave) covering the same share of the border is no such doubt."""
    from models.analysis.confidence import assess

    flat, photo = _piece_and_part_at_the_edge(0.0)
    sure = assess(flat, photo)
    assert sure.facts["flat_border_piece"] > 0.1
    assert sure.matte_certainty == 0.0 and not sure.cutout_ok
    textured, photo = _piece_and_part_at_the_edge(0.3)
    doubt = assess(textured, photo)
    assert doubt.facts["flat_border_piece"] == 0.0
    assert doubt.facts["border_piece"] == sure.facts["border_piece"]
    assert doubt.matte_certainty == 1.0 and doubt.cutout_ok
