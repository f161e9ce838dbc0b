"""The two baselines of the quality table: the input unchanged, and a generic auto-fix."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def unchanged(photo: np.ndarray) -> np.ndarray:
    """The input as it is. photo: (h, w, 3) uint8."""
    return photo.copy()


def generic_autofix(photo: np.ndarray, tolerance: float = 28.0) -> np.ndarray:
    """What generic tools do: per-channel auto-levels (0.5% / 99.5% percentiles stretched to
    0..255), then a flood fill to white of the region connected to the four corners whose
    colour is within `tolerance` (RGB distance) of the corner colour. (h, w, 3) uint8."""
    img = photo.astype(np.float64)
    lo = np.percentile(img, 0.5, axis=(0, 1))
    hi = np.percentile(img, 99.5, axis=(0, 1))
    img = np.clip((img - lo) / np.maximum(hi - lo, 1) * 255, 0, 255)
    h, w, _ = img.shape
    filled = np.zeros((h, w), bool)
    for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        if filled[y, x]:
            continue
        close = np.linalg.norm(img - img[y, x], axis=-1) < tolerance
        labels, _ = ndimage.label(close)
        filled |= labels == labels[y, x]
    img[filled] = 255
    return np.round(img).astype(np.uint8)
