"""Per-pixel reductions over the colour channels, written as element-wise passes.

NumPy's `a.max(axis=-1)` on an (h, w, 3) array walks three-element rows one at a time and is
about eight times slower than two element-wise `np.maximum` passes over the channel planes;
on a 12 MP photo that is tens of milliseconds per call. The results are identical.
"""

from __future__ import annotations

import numpy as np


def channel_max(rgb: np.ndarray) -> np.ndarray:
    """Largest channel per pixel: (..., c) any real dtype -> (...) same dtype."""
    out = rgb[..., 0].copy()
    for i in range(1, rgb.shape[-1]):
        np.maximum(out, rgb[..., i], out=out)
    return out


def channel_min(rgb: np.ndarray) -> np.ndarray:
    """Smallest channel per pixel: (..., c) any real dtype -> (...) same dtype."""
    out = rgb[..., 0].copy()
    for i in range(1, rgb.shape[-1]):
        np.minimum(out, rgb[..., i], out=out)
    return out
