"""Fingerprints and smudges on polished metal: find the patch, smooth only its fine detail.

A fingerprint on polished metal is a patch of fine, low-amplitude ridges (a period of a few
pixels) on otherwise smooth metal. Real detail (engraving, milgrain, pave, prong and mask
edges) is high-contrast; sensor noise is weaker than the ridges. So a pixel belongs to a
smudge when the local energy of its fine detail sits between the two, over an area that is
extended (not a line or a dot), away from any high-contrast detail. Inside such a patch the
fine detail is replaced by a Gaussian estimate: the ridges go, while the metal's broad
reflections and gradients (scales of tens of pixels) pass through unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FINE = 5  # box side: detail finer than this is the ridge band
BLOCK = 3  # detection runs on 3x3 blocks (cheap); the smoothing is at full resolution
STRONG = 0.06  # |fine detail| above this (sqrt-luminance units) is real detail, kept sharp
CLIPPED = 0.98  # p above this (linear luminance about 0.96) is a highlight, kept as it is
MAX_RMS = 0.045  # a smudge's fine-detail RMS stays under this
SURROUND = 3.0  # a smudge has this many times the median fine energy of the metal
MIN_AREA = 120  # pixels: smaller patches are specks (find_specks) or noise, not smudges
SMOOTH_SIGMA = 2.0  # px: removes ridge periods up to about 7 px, keeps broad gradients


def _blocks(values: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """(h, w) -> (ceil(h/3), ceil(w/3)): `combine` (np.add / np.maximum / np.minimum) folded
    over each 3x3 block (edge-padded). Nine strided passes: far faster than a 4-D reduce."""
    h, w = values.shape
    ph, pw = -h % BLOCK, -w % BLOCK
    if ph or pw:
        values = np.pad(values, ((0, ph), (0, pw)), mode="edge")
    out = values[0::BLOCK, 0::BLOCK].copy()
    for i in range(BLOCK):
        for j in range(BLOCK):
            if i or j:
                combine(out, values[i::BLOCK, j::BLOCK], out=out)
    return out


def find_smudges(
    p: np.ndarray, metal: np.ndarray, noise: float, protect: np.ndarray | None = None
) -> np.ndarray:
    """Soft mask of fingerprint / smudge texture on metal.

    p: (h, w) float32 perceptual lightness (sqrt of linear luminance), 0..1.
    metal: (h, w) float32 metal mask 0..1 (pixels under 0.5 are never smudges).
    noise: sensor noise of p (same units), as the pipeline measures it.
    protect: optional (h, w) bool, never a smudge (gems and their rims).
    Returns (h, w) float32 weight 0..1 (0 outside smudges, 1 inside, soft 1-px rim).
    """
    h, w = p.shape
    zero = np.zeros((h, w), dtype=np.float32)
    p = p.astype(np.float32, copy=False)
    fine = p - ndimage.uniform_filter(p, FINE)
    # Local fine-detail energy over about 9 x 9 px, and where real (strong) detail is.
    energy = ndimage.uniform_filter(_blocks(fine * fine, np.add), 3) / np.float32(BLOCK**2)
    strong = _blocks(np.abs(fine), np.maximum) > STRONG
    # A clipped highlight's rim has a kink, not ridges; smoothing it would widen the hotspot.
    strong |= _blocks(p, np.maximum) > CLIPPED
    near_strong = ndimage.uniform_filter(strong.astype(np.float32), 7) > 0  # ~10 px around
    # Over 1.7x the noise RMS: a 9x9 mean of white-noise energy rarely gets there.
    low = np.float32(max(1.7 * noise, 0.005) ** 2)
    on_metal = _blocks(metal, np.minimum) > 0.5
    if protect is not None:
        on_metal &= ~_blocks(protect, np.logical_or)
    smooth_metal = on_metal & ~near_strong
    if smooth_metal.sum() >= 64:
        # Compared with the surrounding metal: correlated noise (demosaicing, JPEG, upscaling)
        # has more fine energy than the row-difference noise estimate says.
        low = max(low, np.float32(SURROUND) * np.median(energy[smooth_metal]))
    cand = (energy > low) & (energy < np.float32(MAX_RMS**2)) & smooth_metal
    if not cand.any():
        return zero
    # Extended: most of a 15-px window is candidate (a reflection's edge line is not).
    dense = (ndimage.uniform_filter(cand.astype(np.float32), 5) > 0.6) & cand
    labels, count = ndimage.label(dense)
    if count == 0:
        return zero
    keep = np.bincount(labels.ravel()) * BLOCK**2 >= MIN_AREA
    keep[0] = False
    patch = keep[labels]
    if not patch.any():
        return zero
    # Grow over the energy window's rim so the ridges at the patch's border go too.
    patch = ndimage.binary_dilation(patch) & on_metal & ~near_strong
    full = np.repeat(np.repeat(patch, BLOCK, axis=0), BLOCK, axis=1)[:h, :w]
    rows = np.flatnonzero(full.any(axis=1))
    cols = np.flatnonzero(full.any(axis=0))
    ys = slice(max(int(rows[0]) - 2, 0), min(int(rows[-1]) + 3, h))
    xs = slice(max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 3, w))
    zero[ys, xs] = ndimage.uniform_filter(full[ys, xs].astype(np.float32), 3)
    return zero


def smooth_smudges(rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Replace the fine detail of rgb by a Gaussian estimate where weight > 0.

    rgb: (h, w, 3) float32 linear (any range); weight: (h, w) float32 0..1 from find_smudges.
    Returns a new (h, w, 3) float32 array; pixels with weight 0 are unchanged bit for bit.
    Each patch is blurred in its own box, so the cost follows the patches' area; the patches
    exclude high-contrast detail by construction, so no edge is blurred into them.
    """
    out = rgb.copy()
    labels, count = ndimage.label(weight > 0, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return out
    pad = int(3 * SMOOTH_SIGMA) + 1
    h, w = weight.shape
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        ys = slice(max(box[0].start - pad, 0), min(box[0].stop + pad, h))
        xs = slice(max(box[1].start - pad, 0), min(box[1].stop + pad, w))
        patch = rgb[ys, xs]
        smooth = ndimage.gaussian_filter(patch, (SMOOTH_SIGMA, SMOOTH_SIGMA, 0), mode="nearest")
        wt = weight[ys, xs]
        inside = labels[ys, xs] == index
        region = out[ys, xs]
        region[inside] = (patch + wt[..., None] * (smooth - patch))[inside]
    return out
