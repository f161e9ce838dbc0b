"""Guided upsampling of the network's low-resolution maps onto the sharper photo.

The fast guided filter (He & Sun, 2015): fit, at the network's resolution, a local linear
model map = a * guide + b; upsample a and b; apply them to the full-resolution guide. The
map's outlines then follow the photo's own edges instead of a bilinear blur.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    return ndimage.uniform_filter(x, size=2 * radius + 1, mode="reflect")


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def guided_upsample(
    maps_low: np.ndarray,
    guide_low: np.ndarray,
    guide_high: np.ndarray,
    radius: int = 1,
    eps: float = 1e-3,
) -> np.ndarray:
    """Upsamples maps to the guide's resolution with edges taken from the guide.

    maps_low: float32 (k, sh, sw) in 0..1; guide_low: float32 (sh, sw), the grey photo at the
    maps' resolution (0..1); guide_high: float32 (h, w), the same photo at full resolution.
    radius: window radius at low resolution; eps: regularisation (larger = closer to plain
    bilinear). Returns float32 (k, h, w) in 0..1.
    """
    h, w = guide_high.shape
    mean_i = _box(guide_low, radius)
    var_i = _box(guide_low * guide_low, radius) - mean_i * mean_i
    out = np.empty((maps_low.shape[0], h, w), np.float32)
    for k, p in enumerate(maps_low):
        mean_p = _box(p, radius)
        cov = _box(guide_low * p, radius) - mean_i * mean_p
        a = cov / (var_i + eps)
        b = mean_p - a * mean_i
        a_high = _resize(_box(a, radius), (h, w))
        b_high = _resize(_box(b, radius), (h, w))
        out[k] = np.clip(a_high * guide_high + b_high, 0.0, 1.0)
    return out
