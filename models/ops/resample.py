"""Resampling between the full-resolution image and the working resolution.

The working image is an exact `factor` x `factor` area average of the full image (the last
block row/column is averaged over the pixels that exist). Full-resolution pixel (y, x) sits at
working coordinate ((y + 0.5) / factor - 0.5, (x + 0.5) / factor - 0.5), so a map computed at
working resolution can be sampled for any band of rows independently: tiles agree exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def working_factor(height: int, width: int, long_side: int = 768) -> int:
    """The integer reduction factor that brings the long side to at most `long_side` pixels."""
    return max(1, -(-max(height, width) // long_side))


def area_reduce(block: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks.

    block: (h, w, c) float32, any range; h need not be a multiple of factor (partial blocks
    are averaged over the pixels present). Returns (ceil(h/f), ceil(w/f), c) float32.
    """
    if factor == 1:
        return block.astype(np.float32, copy=True)
    h, w, c = block.shape
    rows = np.add.reduceat(block, np.arange(0, h, factor), axis=0, dtype=np.float32)
    sums = np.add.reduceat(rows, np.arange(0, w, factor), axis=1)
    counts_y = np.minimum(factor, h - np.arange(0, h, factor))
    counts_x = np.minimum(factor, w - np.arange(0, w, factor))
    counts = counts_y[:, None, None] * counts_x[None, :, None]
    return (sums / counts).astype(np.float32)


def _axis_weights(start: int, stop: int, factor: int, size: int):
    """Indices and weights to sample a working-resolution axis of `size` at full-res positions."""
    pos = (np.arange(start, stop, dtype=np.float64) + 0.5) / factor - 0.5
    pos = np.clip(pos, 0.0, size - 1)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, size - 1)
    w = (pos - i0).astype(np.float32)
    return i0, i1, w


def upsample_rows(
    small: np.ndarray, factor: int, y0: int, y1: int, x1: int, x0: int = 0
) -> np.ndarray:
    """Bilinear sample of a working-resolution map for full-resolution rows y0..y1, columns
    x0..x1.

    small: (h, w, c) float32. Returns (y1 - y0, x1 - x0, c) float32.
    """
    h, w, _ = small.shape
    r0, r1, wy = _axis_weights(y0, y1, factor, h)
    c0, c1, wx = _axis_weights(x0, x1, factor, w)
    # Columns first, on the few working rows involved (factor times fewer than output rows).
    lo, hi = int(r0.min()), int(r1.max()) + 1
    band = small[lo:hi]
    cols = band[:, c0] * (1 - wx)[None, :, None]
    cols += band[:, c1] * wx[None, :, None]
    # Then rows: output rows come in runs that share one pair of working rows; each run is
    # that row plus a weight times the pair's difference (two passes over the output, no
    # full-size temporaries).
    out = np.empty((y1 - y0, x1 - x0, small.shape[2]), dtype=np.float32)
    starts = np.flatnonzero(np.diff(r0, prepend=-1) | np.diff(r1, prepend=-1))
    stops = np.append(starts[1:], r0.size)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        top = cols[r0[a] - lo]
        step = cols[r1[a] - lo] - top
        run = out[a:b]
        np.multiply(wy[a:b, None, None], step[None], out=run)
        run += top
    return out


def box_mean(img: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges reflected. img: (h, w[, c]) float32."""
    size = (2 * radius + 1, 2 * radius + 1) + ((1,) if img.ndim == 3 else ())
    return ndimage.uniform_filter(img, size=size, mode="reflect")


def guided_coefficients(
    guide: np.ndarray, target: np.ndarray, radius: int, eps: float
) -> np.ndarray:
    """Fast guided filter coefficients (He and Sun) at working resolution.

    guide: (h, w) float32, target: (h, w, c) float32. Returns (h, w, 2c) float32: the mean
    slope `a` then the mean offset `b` per target channel, so that full-resolution values are
    a * guide_full + b (edges follow the full-resolution guide).
    """
    g = guide[..., None]
    mean_g = box_mean(g, radius)
    mean_t = box_mean(target, radius)
    cov = box_mean(g * target, radius) - mean_g * mean_t
    var = box_mean(g * g, radius) - mean_g * mean_g
    a = cov / (var + np.float32(eps))
    b = mean_t - a * mean_g
    return np.concatenate([box_mean(a, radius), box_mean(b, radius)], axis=-1)


def apply_guided(coeffs: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Full-resolution guided values: coeffs (h, w, 2c) upsampled, guide (h, w) -> (h, w, c)."""
    c = coeffs.shape[-1] // 2
    out = coeffs[..., :c] * guide[..., None]
    out += coeffs[..., c:]
    return out
