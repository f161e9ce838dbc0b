"""Highlight control: a monotone shoulder that keeps speculars near 90% instead of flat 255."""

from __future__ import annotations

import numpy as np

# 90% of full scale in sRGB encoding is about 0.787 in linear light.
HOTSPOT_CEILING = 0.787


def shoulder(peak: np.ndarray, white_in: float, ceiling: float = HOTSPOT_CEILING) -> np.ndarray:
    """Compress linear values above a knee so that `white_in` lands on `ceiling`.

    peak: float32 array (any shape) of per-pixel max channel, linear, >= 0.
    white_in: the value that a clipped input pixel has after the colour gains (> 0).
    Returns the scale factor per pixel (same shape, float32) to multiply RGB by. The curve is
    the identity below the knee and strictly increasing above it, so gradients inside
    reflections stay gradients and a clipped patch is never widened.
    """
    top = max(white_in, ceiling * 1.15)
    knee = np.float32(0.55 * ceiling)
    span_out = ceiling - knee
    span_in = top - knee
    # Rational curve knee + x / (1 + x / r) passes through (top, ceiling).
    r = np.float32(span_out * span_in / (span_in - span_out))
    x = np.maximum(peak - knee, 0)
    mapped = knee + x / (1 + x / r)
    scale = np.where(peak > knee, mapped / np.maximum(peak, 1e-6), np.float32(1.0))
    return scale.astype(np.float32)
