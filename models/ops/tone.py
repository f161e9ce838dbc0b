"""Tone of the piece: which colour cast to remove, and the piece's own exposure.

Convention (what "true to the piece" means here):

- The backdrop's level says nothing about the metal: a grey sweep is chosen to keep
  reflections dark, a white one to light the piece from below. So the piece is never
  brightened by the backdrop's level. Its exposure is set by the piece alone: mid-tones and
  contrast as shot, unless the piece is clearly underexposed: when its brightest highlights
  (99.5th percentile of the brightest channel) sit below HIGHLIGHT_TARGET, one gain (at most
  MAX_EXPOSURE_GAIN) lifts them to it. Polished metal nearly always shows speculars far
  above that, so on a normally exposed photo the gain is 1. Nothing is ever darkened here
  (clipped speculars are the highlight shoulder's job).
- The colour cast is one global per-channel gain of unit luminance, measured on the backdrop
  (a smooth per-pixel field would paint colour bands where its polynomial extrapolates at the
  frame's edges). It is removed only as far as the evidence says it is the light's colour:
  a clearly coloured backdrop (wood, fabric, coloured paper: chroma above COLOURED_CHROMA) or a
  dark one (velvet, black acrylic: L* below DARK_L) is not the light; and when the piece's
  near-neutral highlights do not share the backdrop's tint, the sweep is tinted (blue-grey,
  cream) and the light is not.
"""

from __future__ import annotations

import numpy as np

from models.colour import LUMA
from models.ops.lab import lab_to_linear_srgb, linear_srgb_to_lab

HIGHLIGHT_TARGET = 0.5  # linear level (sRGB code ~188) the brightest highlights reach
MAX_EXPOSURE_GAIN = 2.0
COLOURED_CHROMA = (12.0, 17.0)  # backdrop chroma: a cast below, a coloured backdrop above
DARK_L = (22.0, 45.0)  # backdrop L*: no evidence of the light below, full evidence above
NEUTRAL_HIGHLIGHT = 6.0  # highlight chroma under which highlights are near-neutral
NEAR_CLIP = 0.92  # linear level above which a channel no longer shows the light's colour
HIGHLIGHT_SHARE = 0.05  # the brightest share of the piece's metal taken as its highlights
MIN_HIGHLIGHTS = 20


def ramp(value: float, bad: float, good: float) -> float:
    """0 at `bad`, 1 at `good`, linear between (either order), clipped."""
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0))


def highlight_colour(rgb: np.ndarray, metal: np.ndarray) -> np.ndarray | None:
    """The median colour of the metal's brightest unclipped pixels, or None if too few.

    rgb: float32 (h, w, 3) linear 0..1; metal: float32 (h, w) 0..1. Returns (3,) float64.
    """
    sel = (metal > 0.5) & (rgb.max(axis=-1) < NEAR_CLIP)
    if sel.sum() < MIN_HIGHLIGHTS / HIGHLIGHT_SHARE:
        return None
    pixels = rgb[sel]
    lum = pixels @ LUMA
    top = pixels[lum >= np.quantile(lum, 1 - HIGHLIGHT_SHARE)]
    return np.median(top, axis=0).astype(np.float64) if len(top) >= MIN_HIGHLIGHTS else None


def cast_gains(backdrop_rgb: np.ndarray, highlights_rgb: np.ndarray | None = None):
    """Per-channel gains (3,) float32 of unit luminance that remove the light's colour cast.

    backdrop_rgb: (3,) linear RGB of the backdrop (its median light); highlights_rgb: (3,)
    linear RGB of the piece's highlights (`highlight_colour`) or None. Returns (gains, facts):
    facts says how much of the backdrop's tint was taken for the light's ("removed", 0..1).
    """
    backdrop = np.maximum(np.asarray(backdrop_rgb, dtype=np.float64), 1e-4)
    L, a, b = linear_srgb_to_lab(backdrop)
    chroma = float(np.hypot(a, b))
    trust = (1.0 - ramp(chroma, *COLOURED_CHROMA)) * ramp(float(L), *DARK_L)
    facts = {"backdrop_chroma": round(chroma, 2), "backdrop_L": round(float(L), 1)}
    if highlights_rgb is not None and chroma > 1.0:
        _, ha, hb = linear_srgb_to_lab(np.maximum(highlights_rgb, 1e-4))
        if np.hypot(ha, hb) < max(NEUTRAL_HIGHLIGHT, chroma):
            # Near-neutral highlights: their share of the backdrop's tint is the light's.
            shared = float((ha * a + hb * b) / chroma**2)
            trust *= float(np.clip(shared, 0.0, 1.0))
            facts["highlights_share"] = round(shared, 3)
    target = lab_to_linear_srgb(np.array([L, a * (1 - trust), b * (1 - trust)]))
    gains = np.maximum(target, 1e-4) / backdrop
    gains *= float(backdrop @ LUMA) / float((backdrop * gains) @ LUMA)  # unit luminance
    facts["removed"] = round(trust, 3)
    return np.clip(gains, 0.25, 4.0).astype(np.float32), facts


def exposure_gain(piece_rgb: np.ndarray) -> float:
    """The piece's exposure gain (>= 1): lifts the 99.5th percentile of its pixels' brightest
    channel to HIGHLIGHT_TARGET when it is below, by at most MAX_EXPOSURE_GAIN.

    piece_rgb: float (n, 3) linear RGB of the piece's pixels (cast removed).
    """
    if len(piece_rgb) < 16:
        return 1.0
    bright = float(np.quantile(piece_rgb.max(axis=-1), 0.995))
    return float(np.clip(HIGHLIGHT_TARGET / max(bright, 1e-4), 1.0, MAX_EXPOSURE_GAIN))
