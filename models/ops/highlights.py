"""Highlight control: a monotone shoulder that keeps speculars near 90% instead of flat 255."""

from __future__ import annotations

import numpy as np

# 90% of full scale in sRGB encoding is about 0.787 in linear light.
HOTSPOT_CEILING = 0.787
# The shoulder is the identity below KNEE * ceiling.
KNEE = 0.55


def shoulder(
    peak: np.ndarray, white_in: float | np.ndarray, ceiling: float = HOTSPOT_CEILING
) -> np.ndarray:
    """Compress linear values above a knee so that `white_in` lands on `ceiling`.

    peak: float32 array (any shape) of per-pixel max channel, linear, >= 0.
    white_in: the value that a clipped input pixel has after the colour gains (> 0): a scalar,
    or an array of peak's shape (per pixel, where the gains vary across the image).
    Returns the scale factor per pixel (same shape, float32) to multiply RGB by. The curve is
    the identity below the knee and strictly increasing above it, so gradients inside
    reflections stay gradients and a clipped patch is never widened.
    """
    top = np.maximum(np.asarray(white_in, dtype=np.float32), np.float32(ceiling * 1.15))
    knee = np.float32(KNEE * ceiling)
    span_out = np.float32(ceiling) - knee
    span_in = top - knee
    # Rational curve knee + x / (1 + x / r) passes through (top, ceiling).
    r = span_out * span_in / (span_in - span_out)
    x = np.maximum(peak - knee, 0)
    mapped = knee + x / (1 + x / r)
    scale = np.where(peak > knee, mapped / np.maximum(peak, 1e-6), np.float32(1.0))
    return scale.astype(np.float32)


def reserve_top(mapped: np.ndarray, margin: float, ceiling: float = HOTSPOT_CEILING) -> np.ndarray:
    """Lower values just under the ceiling so that they stay `margin` below it.

    mapped: float32 array (any shape) of shoulder outputs (per-pixel max channel, linear,
    <= ceiling) of pixels that were NOT clipped in the input. margin: linear, > 0 (about one
    and a half output codes at the ceiling). Returns the scale factor per pixel (float32) to
    multiply RGB by. Only values within 4 * margin of the ceiling move (by at most margin); the
    map stays strictly increasing (slope >= 3/4), so a gradient stays a gradient, and the top
    output code is left to the clipped patch alone.
    """
    start = np.float32(ceiling - 4 * margin)
    ramp = np.clip((mapped - start) / np.float32(4 * margin), 0, 1)
    lowered = mapped - np.float32(margin) * ramp
    return np.where(mapped > start, lowered / np.maximum(mapped, 1e-6), 1.0).astype(np.float32)
