"""Dust, lint and micro-scratch detection and removal that leaves real detail alone.

A defect is a small structure that stands out of its surroundings (a morphological top-hat)
AND is isolated: prongs, pave, milgrain and engraving are small too, but they come in
regular groups, so a candidate with many candidate neighbours is kept as detail.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_EIGHT = np.ones((3, 3), dtype=bool)


def find_specks(
    p: np.ndarray,
    threshold: float,
    protect: np.ndarray | None = None,
    size: int = 7,
    max_length: int = 24,
    window: int = 25,
) -> np.ndarray:
    """Mask of isolated specks and short thin scratches.

    p: (h, w) float32 perceptual lightness (sqrt of linear luminance), 0..1.
    threshold: minimum contrast (in p units) against the surroundings.
    protect: optional (h, w) bool; candidates touching it are never defects (e.g. near gems).
    size: structuring element side; blobs narrower than size - 1 pixels are candidates.
    max_length: the longest thin candidate (a micro-scratch or lint fibre) still removed.
    window: side of the neighbourhood in which other candidates make a candidate "detail".
    Returns (h, w) bool.
    """
    closed = ndimage.grey_closing(p, size=(size, size))
    opened = ndimage.grey_opening(p, size=(size, size))
    cand = ((closed - p) > threshold) | ((p - opened) > threshold)
    out = np.zeros(p.shape, dtype=bool)
    labels, count = ndimage.label(cand, structure=_EIGHT)
    if count == 0:
        return out
    density = ndimage.uniform_filter(cand.astype(np.float32), size=window) * np.float32(window**2)
    keep = np.zeros(count + 1, dtype=bool)
    for i, box in enumerate(ndimage.find_objects(labels)):
        extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
        if extent > max_length:
            continue
        own = labels[box] == i + 1
        area = int(own.sum())
        blob = extent <= size - 1
        thin_line = area <= 3 * extent
        if not (blob or thin_line):
            continue
        isolated = float(density[box][own].max()) - area <= 0.5 * area + 2
        if isolated and not (protect is not None and protect[box][own].any()):
            keep[i + 1] = True
    out = keep[labels]
    return out


def inpaint(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill masked pixels from their surroundings by normalised Gaussian convolution.

    rgb: (h, w, 3) float32 (any range), mask: (h, w) bool. Returns a new array; pixels more
    than one pixel from the mask are unchanged bit for bit. Each defect is filled in its own
    small box, with a blur radius that grows with the defect, so the cost follows the number
    of defects.
    """
    out = rgb.copy()
    if not mask.any():
        return out
    labels, _ = ndimage.label(mask, structure=_EIGHT)
    h, w = mask.shape
    for box in ndimage.find_objects(labels):
        extent = max(box[0].stop - box[0].start, box[1].stop - box[1].start) + 2
        sigma = max(1.5, extent / 2.5)
        pad = int(3 * sigma) + 2
        ys = slice(max(box[0].start - pad, 0), min(box[0].stop + pad, h))
        xs = slice(max(box[1].start - pad, 0), min(box[1].stop + pad, w))
        hole = ndimage.binary_dilation(mask[ys, xs], structure=_EIGHT)
        valid = (~hole).astype(np.float32)
        patch = rgb[ys, xs]
        num = ndimage.gaussian_filter(patch * valid[..., None], (sigma, sigma, 0), mode="nearest")
        den = ndimage.gaussian_filter(valid, sigma, mode="nearest")[..., None]
        fill = num / np.maximum(den, 1e-6)
        region = out[ys, xs]
        region[hole] = fill[hole]
    return out
