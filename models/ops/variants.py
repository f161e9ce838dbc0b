"""Metal variants: the same piece in another metal, from one photo.

A metal's colour under white light is the colour of its reflectance: in linear RGB every
pixel of polished metal is (nearly) its shading times one chromaticity, the metal's, and
the highlights whiten only where they clip. So the variant keeps each pixel's luminance (the
reflections, highlights, engraving and the piece's tone curve exactly as retouched) and
swaps the source metal's chromaticity for the target's, in that linear "metal" space:

    new = rgb * t_target(Y) / t_source(Y),   then renormalised to the pixel's own Y,

where t(Y) is a chromaticity (RGB / luminance) as a function of the pixel's luminance Y:
t_source measured on the piece's own metal (the median in luminance bins, so that a gold's
whitened highlights map to the target's highlights), and t_target the target metal's
reference chromaticity (models/ops/metal.py TARGETS at L* REFERENCE_L), fading toward
neutral in the brightest tones as real speculars do. A pixel's own departure from its
bin's typical colour (a stone's reflection in the metal, a patina) is kept. Stones and
everything outside the metal mask are left bit for bit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.colour import LUMA, Codec
from models.ops.channels import channel_max
from models.ops.lab import lab_to_linear_srgb
from models.ops.metal import TARGETS

REFERENCE_L = 70.0  # L* at which TARGETS' (a*, b*) define each metal's chromaticity
BINS = 32  # luminance bins of the source metal's chromaticity curve (on sqrt(Y))
MIN_BIN = 24  # pixels a bin needs to be measured; thinner bins borrow from the global median
HIGHLIGHT_FADE = (0.55, 0.9, 0.4)  # Y where the target tint starts fading, ends, and to what
MAX_CODE = 0.995  # a brightened channel stops here (the chroma gives way, not the luminance)


def chromaticity(kind: str) -> np.ndarray:
    """The metal's chromaticity (3,) float32: its linear sRGB colour scaled to luminance 1."""
    a, b = TARGETS[kind]
    rgb = np.maximum(lab_to_linear_srgb(np.array([REFERENCE_L, a, b], dtype=np.float64)), 1e-4)
    return (rgb / float(rgb @ LUMA)).astype(np.float32)


def _bin_of(y: np.ndarray) -> np.ndarray:
    return np.clip((np.sqrt(np.clip(y, 0, 1)) * BINS).astype(np.int32), 0, BINS - 1)


def source_curve(rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The metal's chromaticity per luminance bin: (BINS, 3) float32.

    rgb: (n, 3) float32 linear; weight: (n,) float32 0..1 metal mask. Bins with fewer than
    MIN_BIN sure metal pixels take the nearest measured bin's value (the global median when
    none is)."""
    sure = weight > 0.5
    pix = rgb[sure]
    y = np.maximum(pix @ LUMA, 1e-6)
    chroma = pix / y[:, None]
    curve = np.full((BINS, 3), np.nan, np.float32)
    overall = np.median(chroma, axis=0) if len(chroma) else np.ones(3, np.float32)
    bins = _bin_of(y)
    for index in range(BINS):
        members = chroma[bins == index]
        if len(members) >= MIN_BIN:
            curve[index] = np.median(members, axis=0)
    measured = np.flatnonzero(~np.isnan(curve[:, 0]))
    if measured.size == 0:
        return np.broadcast_to(overall.astype(np.float32), (BINS, 3)).copy()
    for index in range(BINS):
        if np.isnan(curve[index, 0]):
            curve[index] = curve[measured[np.argmin(np.abs(measured - index))]]
    return curve


def target_curve(kind: str) -> np.ndarray:
    """The target metal's chromaticity per luminance bin: (BINS, 3) float32, the reference
    chromaticity fading toward neutral in the brightest bins (HIGHLIGHT_FADE)."""
    centre = ((np.arange(BINS) + 0.5) / BINS) ** 2  # each bin's luminance
    start, end, floor = HIGHLIGHT_FADE
    strength = 1 - (1 - floor) * np.clip((centre - start) / (end - start), 0, 1)
    tint = chromaticity(kind)
    return (1 + strength[:, None] * (tint[None] - 1)).astype(np.float32)


def metal_share(metal: np.ndarray, piece: np.ndarray, gem: np.ndarray) -> np.ndarray:
    """How much of each pixel's piece colour is metal: float32 0..1, the masks' shape.

    metal, piece, gem: uint8 0..255 masks of one shape ((H, W), or the values at some
    pixels). The metal mask is the metal's coverage times the piece's (soft at the outline);
    on the outline a pixel is part metal, part backdrop, and all of its colour that is not
    backdrop is the metal's, so the share is metal / piece there. Stones (gem > 127) are 0."""
    share = metal.astype(np.float32) / np.maximum(piece.astype(np.float32), 1.0)
    share = np.where(piece > 0, np.clip(share, 0, 1), metal.astype(np.float32) / 255)
    share[gem > 127] = 0
    return share.astype(np.float32)


class MetalPixels:
    """The metal pixels of one result, decoded once and shared by all its variants.

    pixels: (H, W, C) uint8/uint16 codes of the result (C = 3 or 4); metal, piece, gem: (H, W)
    uint8 0..255 masks of the same geometry. Holds the metal's bounding box, the positions of
    the pixels with a metal share (`metal_share` > 0), their linear RGB, luminance bins and
    shares, and the metal's `source_curve`."""

    def __init__(self, pixels: np.ndarray, metal: np.ndarray, piece: np.ndarray,
                 gem: np.ndarray, codec: Codec) -> None:
        self.pixels, self.codec = pixels, codec
        rows = np.flatnonzero(metal.any(axis=1))
        self.box = None
        if rows.size == 0 or pixels.shape[2] < 3:
            return
        cols = np.flatnonzero(metal.any(axis=0))
        self.box = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
        # Only the metal's own pixels are looked at (a few % of a photo's frame).
        where = np.nonzero(metal[self.box])
        m, p, g = (mask[self.box][where] for mask in (metal, piece, gem))
        share = metal_share(m, p, g)
        keep = share > 0  # stones have no share: they stay bit-identical
        self.where = (where[0][keep], where[1][keep])
        self.share = share[keep]
        self.rgb = codec.decode(pixels[self.box][self.where][None, :, :3])[0]
        self.y = np.maximum(self.rgb @ LUMA, 0).astype(np.float32)
        self.bins = _bin_of(self.y)
        sure = self.share > 0.5
        sample = self.rgb[sure][:: max(1, int(sure.sum()) // 50_000)]  # enough for the curve
        self.source = source_curve(sample, np.ones(len(sample), np.float32))

    def variant(self, kind: str, workers: int = 2) -> np.ndarray:
        """The result's pixels with the metal in `kind`: a new (H, W, C) array, bit-identical
        to the result wherever the metal share is 0 (the backdrop, the stones)."""
        out = self.pixels.copy()
        if self.box is None:
            return out
        gains = target_curve(kind) / np.maximum(self.source, 1e-4)  # (BINS, 3)
        codes = np.empty((len(self.y), 3), dtype=out.dtype)
        chunks = np.array_split(np.arange(len(self.y)), max(1, workers * 4))

        def work(index: np.ndarray) -> None:
            if index.size == 0:
                return
            sl = slice(int(index[0]), int(index[-1]) + 1)
            new = _recoloured(self.rgb[sl], self.y[sl], gains[self.bins[sl]], self.share[sl])
            codes[sl] = self.codec.encode(new[None])[0]

        if workers > 1 and len(self.y) > 100_000:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(work, chunks))
        else:
            for chunk in chunks:
                work(chunk)
        block = out[self.box]
        block[self.where[0], self.where[1], :3] = codes
        return out


def _recoloured(rgb: np.ndarray, y: np.ndarray, gain: np.ndarray, share: np.ndarray):
    """(n, 3) linear RGB of luminance y (n,) times its bin's chromaticity gain (n, 3), back at
    its own luminance, a brightened channel giving way in chroma, blended by share (n,)."""
    new = rgb * gain
    new *= (y / np.maximum(new @ LUMA, 1e-6))[:, None]
    peak = channel_max(new)
    over = peak > MAX_CODE
    if over.any():
        keep = np.clip((MAX_CODE - y[over]) / np.maximum(peak[over] - y[over], 1e-6), 0, 1)
        new[over] = y[over, None] + keep[:, None] * (new[over] - y[over, None])
    return rgb + share[:, None] * (new - rgb)
