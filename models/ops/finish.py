"""The catalog finish: the contrast a retoucher gives polished metal, on top of the faithful
retouch (`finish="natural"` leaves the tone as shot).

What a retoucher does to raw studio metal (measured on the development set's before/after
pairs, models/README.md): reflections deepened, highlights brightened, mid-tones kept, so the
piece's lightness spread grows by about 1.2x while its mean barely moves and nothing new
clips. `contrast_curve` does that with one smooth S-curve per photo on the luminance of the
metal, in a perceptual (cube-root) scale, pivoting on the metal's own median: slope
CATALOG_SLOPE at the pivot, flattening toward black and white, so 0 stays 0, 1 stays 1 and
no pixel is pushed into clipping. Colour is carried along (each pixel's RGB is scaled by
its luminance's change), so the metal's hue and chroma ratios stay as they were.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.colour import LUMA
from models.ops.channels import channel_max

# Clipped speculars end here (linear; sRGB code about 247) instead of the natural finish's 90 %
# (models/ops/highlights.py): bright, still not flat 255.
CATALOG_CEILING = 0.93
CATALOG_SLOPE = 1.45
# Stones' facet micro-contrast (gem_contrast) is this much stronger with the catalog finish.
CATALOG_GEM_BOOST = 1.6  # slope of the curve at the pivot (the spread grows by about 1.2x)
PIVOT_RANGE = (0.35, 0.8)  # the pivot (cube-root luminance) is kept in this range
# The metal's mid-tone is lifted toward LIFT_TARGET (cube-root luminance; L* about 74) by one
# exposure gain of at most MAX_LIFT, never so far that its brightest unclipped pixels (the
# 99th percentile of the brightest channel) pass LIFT_CEILING: raw studio metal is shot dark
# to keep its reflections, a retoucher brightens it; a piece already that bright is not lifted.
LIFT_TARGET = 0.78
MAX_LIFT = 1.6
# The lift may take the metal's brightest unclipped pixels up to here before the highlight
# shoulder: the shoulder rolls them back under CATALOG_CEILING, smoothly. Stopping the lift
# at the ceiling itself left real metal (its speculars already near it) as dark as shot.
LIFT_CEILING = 1.3


def pivot(luminance: np.ndarray) -> float:
    """The curve's pivot: the median cube-root luminance of the metal's pixels, clipped to
    PIVOT_RANGE. luminance: (n,) float linear 0..1 (an empty array gives the range's middle).
    """
    if luminance.size == 0:
        return float(np.mean(PIVOT_RANGE))
    mid = float(np.median(np.cbrt(np.clip(luminance, 0, 1))))
    return float(np.clip(mid, *PIVOT_RANGE))


def lift_gain(metal_rgb: np.ndarray) -> float:
    """The catalog finish's exposure gain (>= 1) for the metal's pixels `metal_rgb` (n, 3)
    float linear (see LIFT_TARGET)."""
    if metal_rgb.shape[0] < 16:
        return 1.0
    mid = float(np.median(np.cbrt(np.clip(metal_rgb @ LUMA, 0, 1))))
    peak = metal_rgb.max(axis=-1)
    peak = peak[peak < 0.995]  # clipped speculars carry no level to protect
    top = float(np.quantile(peak, 0.99)) if peak.size >= 16 else 1.0
    wanted = (LIFT_TARGET / max(mid, 1e-3)) ** 3
    return float(np.clip(min(wanted, LIFT_CEILING / max(top, 1e-3), MAX_LIFT), 1.0, None))


def _expand(t: np.ndarray, slope: float) -> np.ndarray:
    """0..1 -> 0..1, slope `slope` at 0, 1 at 1, concave: t * k / (1 + (k - 1) t)."""
    return t * slope / (1 + (slope - 1) * t)


def contrast_curve(rgb: np.ndarray, weight: np.ndarray, mid: float, slope: float = CATALOG_SLOPE,
                   to: float | None = None) -> np.ndarray:
    """The catalog contrast on linear RGB.

    rgb: (..., 3) float32 linear, 0..1 (values above 1 are left as they are); weight: (...)
    float32 0..1, how much of the curve each pixel takes (the metal mask); mid: the pivot
    (`pivot`), in cube-root luminance; slope: the curve's slope at the pivot (1 = identity);
    to: where the pivot goes (default: it stays). 0 stays 0, 1 stays 1.
    Returns a new (..., 3) float32 array; pixels with weight 0 are returned unchanged.
    """
    to = mid if to is None else to
    y = np.maximum(rgb @ LUMA, 0).astype(np.float32)
    v = np.cbrt(np.minimum(y, 1))
    up = v > mid
    t = np.where(up, (v - mid) / max(1 - mid, 1e-6), (mid - v) / max(mid, 1e-6))
    # Each side's expansion is chosen so the slope at the pivot is `slope` on both sides.
    low_k = slope * mid / max(to, 1e-6)
    high_k = slope * (1 - mid) / max(1 - to, 1e-6)
    t = np.clip(t, 0, 1)
    v_new = np.where(up, to + (1 - to) * _expand(t, high_k), to - to * _expand(t, low_k))
    v_new = v + weight * (v_new - v)
    ratio = np.where(y > 1e-6, v_new**3 / np.maximum(y, 1e-6), 1.0)
    ratio = np.where(y >= 1, 1.0, ratio)  # clipped light is the shoulder's, not the curve's
    # A brightened pixel stops where its brightest channel reaches 1: no new clipping.
    peak = channel_max(rgb)
    ratio = np.where(ratio > 1, np.minimum(ratio, np.maximum(1 / np.maximum(peak, 1e-6), 1)),
                     ratio)
    return (rgb * ratio[..., None]).astype(np.float32)


# Grain on polished metal: detail finer than GRAIN_SIGMA (px) and weaker than GRAIN_K x the
# sensor noise is sensor grain, not the metal's: it fades (soft coring); engraving, milgrain,
# prongs and reflections' edges are far stronger and stay.
GRAIN_SIGMA = 1.2
GRAIN_K = 2.5


def smooth_grain(rgb: np.ndarray, weight: np.ndarray, noise: float) -> np.ndarray:
    """Polished metal without sensor grain.

    rgb: (h, w, 3) float32 linear 0..1; weight: (h, w) float32 0..1, where to smooth (the metal
    mask, 0 on stones); noise: the sensor noise in sqrt-luminance units (as measured on the
    photo). Returns a new (h, w, 3) float32 array: each pixel's luminance detail (sqrt scale,
    against a Gaussian of GRAIN_SIGMA) d becomes d * (1 - exp(-(d / t)^2)), t = GRAIN_K x
    noise; colour is carried along (RGB scaled), clipped light is left as it is.
    """
    if noise <= 0 or not (weight > 0).any():
        return rgb
    y = np.maximum(rgb @ LUMA, 0)
    s = np.sqrt(y)
    base = ndimage.gaussian_filter(s, GRAIN_SIGMA)
    detail = s - base
    t = np.float32(GRAIN_K * noise)
    cored = base + detail * (1 - np.exp(-((detail / t) ** 2)))
    s_new = s + weight * (cored - s)
    ratio = np.where((y > 1e-6) & (y < 0.98), (np.maximum(s_new, 0) / np.maximum(s, 1e-6)) ** 2, 1)
    return (rgb * ratio[..., None].astype(np.float32)).astype(np.float32)
