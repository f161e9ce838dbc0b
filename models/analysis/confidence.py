"""How sure an analysis is, and whether a clean cut-out can be promised.

A cut-out is only as good as the separation of piece and backdrop. On a studio sweep, a light
tent or plain card the backdrop model fits the frame closely (its texture scale tau is small)
and the piece is a compact part of the frame; on wood, fabric, a hand, bokeh or a busy scene
the "backdrop" is not one smooth surface, the matte spreads over parts of the scene, and a
white cut-out would be a half-white, half-photo mess. `assess` turns the analysis into two
numbers in 0..1 and the decision the pipeline acts on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from models.analysis import Analysis
from models.analysis.classical import log_gradient
from models.ops.lab import linear_srgb_to_lab
from models.ops.tone import ramp

# Backdrop texture scale (tau of the backdrop model, capped at 0.6): clean sweeps measure 0.05
# to 0.15, a sweep with strong light fall-off or a phone shot of paper 0.2 to 0.45; velvet,
# wood, fabric and scenes reach the cap.
TAU_CLEAN, TAU_BUSY = 0.3, 0.55
# Share of the frame's border that must fit the backdrop model for a confident fit.
BORDER_FIT_LOW, BORDER_FIT_HIGH = 0.45, 0.75
# A "piece" covering nearly the whole frame is the scene, not a piece.
PIECE_SHARE_LOW, PIECE_SHARE_HIGH = 0.8, 0.95
# Many separate sizable parts mean the matte has picked up pieces of the scene.
PARTS_FEW, PARTS_MANY = 6, 16
# A piece covering this much of the frame's border is the scene rather than a product.
BORDER_PIECE_LOW, BORDER_PIECE_HIGH = 0.2, 0.35
# Network and image analysis disagreeing this much on the piece (IoU) means neither is sure.
AGREEMENT_LOW, AGREEMENT_HIGH = 0.15, 0.4
# Without a backdrop model: share of the frame where the matte is decisive (< 0.1 or > 0.9).
DECISIVE_LOW, DECISIVE_HIGH = 0.85, 0.95
# A dark backdrop's border luminance (linear, 95th percentile): velvet measures 0.002 to 0.03;
# models/net/dark_backdrop.py takes none over 0.06.
DARK_BORDER_CLEAN, DARK_BORDER_BUSY = 0.03, 0.06
# A coloured backdrop's border spread (90th percentile chromaticity distance from its median;
# over the band around the piece when the paper does not fill the frame): magenta tissue
# measures 0.03 to 0.06; models/net/coloured_backdrop.py takes none over 0.08.
COLOURED_BORDER_CLEAN, COLOURED_BORDER_BUSY = 0.06, 0.08
# On such a backdrop the matte follows the paper's colour exactly, so what runs off the frame
# is seldom the piece: a hand holding it, a prop (d044's tube and fingers cover 0.13 of the
# border, the pieces on magenta paper 0 to 0.01); a piece covering more of the border than
# this is no cut-out.
COLOURED_BORDER_PIECE_LOW, COLOURED_BORDER_PIECE_HIGH = 0.02, 0.05
# The keyed backdrops' border measure and its busy and clean ends, by their extras key.
KEYED_BACKDROPS = {
    "dark_backdrop": ("border_lum_p95", DARK_BORDER_BUSY, DARK_BORDER_CLEAN),
    "coloured_backdrop": ("border_spread", COLOURED_BORDER_BUSY, COLOURED_BORDER_CLEAN),
}
# A flat surface running off the frame (a tray, a table top, a box's lid, a plinth) that the
# analysis took for piece: the cut-out would keep it as a grey slab on the white. No jewel is
# that smooth (the hybrid's FLAT_SMOOTH: metal, stones and pearls have texture, highlights or
# noise above it): a part touching the frame's border whose median log-gradient, measured
# FLAT_PART_INSET px inside its outline over FLAT_PART_MIN_PX or more, is under
# FLAT_PART_SMOOTH is such a surface, and one covering this share of the border is a scene
# (d104's tray: 0.20 of the border at 0.015; the cords and chains running off the dev photos'
# frames measure 0.03 or more, most of them far more).
FLAT_PART_SMOOTH, FLAT_PART_INSET, FLAT_PART_MIN_PX = 0.02, 3, 50
FLAT_BORDER_LOW, FLAT_BORDER_HIGH = 0.05, 0.1
# Both scores at least this: the cut-out is done; otherwise the background is kept.
CUTOUT_MIN = 0.5
# A frame whose border is this white (linear >= 0.98 in every channel) is already on white.
WHITE_LEVEL, WHITE_BORDER_SHARE = 0.98, 0.9


@dataclass(frozen=True)
class Confidence:
    """backdrop_fit, matte_certainty: 0..1 (1 = sure). already_white: the photo is already a
    catalog shot on white. piece_found: a piece was found. at_edge: the piece runs off the
    frame. facts: the measured inputs, JSON-ready."""

    backdrop_fit: float
    matte_certainty: float
    already_white: bool
    piece_found: bool
    at_edge: bool
    facts: dict

    @property
    def cutout_ok(self) -> bool:
        return min(self.backdrop_fit, self.matte_certainty) >= CUTOUT_MIN

    def to_json(self) -> dict:
        return {
            "backdrop_fit": round(self.backdrop_fit, 3),
            "matte_certainty": round(self.matte_certainty, 3),
        }


def border_mask(shape: tuple[int, int], fraction: float = 0.02) -> np.ndarray:
    """bool (h, w): the outermost `fraction` of each side (at least one pixel)."""
    h, w = shape
    band = max(1, int(round(fraction * min(h, w))))
    mask = np.zeros((h, w), bool)
    mask[:band], mask[-band:], mask[:, :band], mask[:, -band:] = True, True, True, True
    return mask


def _flat_border_piece(
    labels: np.ndarray, count: int, border: np.ndarray, rgb_linear: np.ndarray
) -> float:
    """The share of the frame's border covered by flat parts of the piece: float 0..1.

    labels: int (h, w), the piece's parts (0 outside, 1..count); border: bool (h, w), the
    frame's border band; rgb_linear: float32 (h, w, 3) linear 0..1. A part touching the
    border is flat when its median log-gradient FLAT_PART_INSET px inside its outline (over
    FLAT_PART_MIN_PX or more) is under FLAT_PART_SMOOTH.
    """
    touching = np.unique(labels[border])
    touching = touching[touching > 0]
    if touching.size == 0:
        return 0.0
    flat = np.zeros(count + 1, dtype=bool)
    slices = ndimage.find_objects(labels)
    h, w = labels.shape
    for k in touching:
        # Measured in the part's own box (with a pixel of margin for the gradient's stencil):
        # most parts that touch the border are a chain's end or a cord, a small box.
        ys, xs = slices[k - 1]
        box = (slice(max(ys.start - 1, 0), min(ys.stop + 1, h)),
               slice(max(xs.start - 1, 0), min(xs.stop + 1, w)))
        inner = ndimage.binary_erosion(labels[box] == k, iterations=FLAT_PART_INSET)
        if int(inner.sum()) < FLAT_PART_MIN_PX:
            continue
        typical = float(np.median(log_gradient(rgb_linear[box])[inner]))
        flat[k] = typical < FLAT_PART_SMOOTH
    return float(flat[labels[border]].mean())


def assess(analysis: Analysis, rgb_linear: np.ndarray) -> Confidence:
    """The confidence of `analysis` of the working-resolution photo.

    rgb_linear: float32 (h, w, 3) linear 0..1 (the image the analysis was made from).
    """
    h, w = analysis.matte.shape
    border = border_mask((h, w))
    solid = analysis.matte > 0.5
    piece_share = float(solid.mean())
    white = (rgb_linear >= WHITE_LEVEL).all(axis=-1)
    already_white = bool(white[border].mean() >= WHITE_BORDER_SHARE)
    facts: dict = {"piece_share": round(piece_share, 4)}
    if analysis.backdrop is not None:
        tau = float(analysis.backdrop.tau)
        # The backdrop round the frame's edge (where the piece does not run off it) fits. A
        # support the analysis will remove (a felt pad running off the frame) is not asked to.
        open_border = border & ~solid
        if analysis.props is not None:
            open_border &= analysis.props < 0.5
        fits = analysis.backdrop.fits
        border_fit = float(fits[open_border].mean()) if open_border.any() else 0.0
        light = np.median(analysis.backdrop.light.reshape(-1, 3), axis=0)
        lab = linear_srgb_to_lab(light)
        facts.update(
            tau=round(tau, 4),
            border_fit=round(border_fit, 4),
            backdrop_L=round(float(lab[0]), 1),
            backdrop_chroma=round(float(np.hypot(lab[1], lab[2])), 1),
        )
        backdrop_fit = min(ramp(tau, TAU_BUSY, TAU_CLEAN),
                           ramp(border_fit, BORDER_FIT_LOW, BORDER_FIT_HIGH))
    elif keyed := next((k for k in KEYED_BACKDROPS if k in analysis.extras), None):
        # A backdrop told from the piece by its measured colour (models/net/dark_backdrop.py,
        # models/net/coloured_backdrop.py): its matte is binary at the working size, so its
        # decisiveness says nothing; the network's own matte's does, and so does how clean
        # the frame's border is (dark enough, or of one colour: a lit object at the edge, a
        # strip of table, is a scene).
        found = analysis.extras[keyed]
        facts[keyed] = found
        measure, busy, clean = KEYED_BACKDROPS[keyed]
        backdrop_fit = min(
            ramp(float(found["v2_decisive"]), DECISIVE_LOW, DECISIVE_HIGH),
            ramp(float(found[measure]), busy, clean),
        )
    else:
        # No backdrop model (the network alone): how decisive the matte is, pixel by pixel.
        decisive = float(((analysis.matte < 0.1) | (analysis.matte > 0.9)).mean())
        facts["decisive"] = round(decisive, 4)
        backdrop_fit = ramp(decisive, DECISIVE_LOW, DECISIVE_HIGH)
    if already_white:
        backdrop_fit = 1.0
    labels, count = ndimage.label(solid)
    parts = 0
    if count:
        areas = np.bincount(labels.ravel())[1:]
        parts = int((areas >= 0.001 * h * w).sum())
    border_piece = float(solid[border].mean())
    flat_border = _flat_border_piece(labels, count, border, rgb_linear)
    facts.update(parts=parts, border_piece=round(border_piece, 4),
                 flat_border_piece=round(flat_border, 4))
    certainty = min(
        ramp(piece_share, PIECE_SHARE_HIGH, PIECE_SHARE_LOW),
        ramp(float(parts), PARTS_MANY, PARTS_FEW),
        ramp(border_piece, BORDER_PIECE_HIGH, BORDER_PIECE_LOW),
        ramp(flat_border, FLAT_BORDER_HIGH, FLAT_BORDER_LOW),
    )
    if "coloured_backdrop" in analysis.extras:
        certainty = min(certainty, ramp(border_piece, COLOURED_BORDER_PIECE_HIGH,
                                        COLOURED_BORDER_PIECE_LOW))
    attached = analysis.extras.get("attached_border_piece")
    if attached is not None:  # (the hybrid with v2's shadow map: see models/net/hybrid.py)
        facts["attached_border_piece"] = attached
        certainty = min(certainty, ramp(float(attached), BORDER_PIECE_HIGH, BORDER_PIECE_LOW))
    spread = analysis.extras.get("network_border_piece")
    if spread is not None:  # (the network's piece before the hybrid cleared its flat parts)
        facts["network_border_piece"] = spread
        certainty = min(certainty, ramp(float(spread), BORDER_PIECE_HIGH, BORDER_PIECE_LOW))
    agreement = analysis.extras.get("net_classical_iou")
    if agreement is not None:
        facts["agreement"] = agreement
        certainty = min(certainty, ramp(float(agreement), AGREEMENT_LOW, AGREEMENT_HIGH))
    piece_found = bool(solid.sum() >= 4)
    if not piece_found:
        certainty = 0.0
    at_edge = border_piece > 0.01
    return Confidence(backdrop_fit, certainty, already_white, piece_found, at_edge, facts)
