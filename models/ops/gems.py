"""Gemstone micro-contrast: local facet contrast inside the gem mask, never a global brighten."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.colour import LUMA
from models.ops.channels import channel_max, channel_min


def micro_contrast(rgb: np.ndarray, gem: np.ndarray, amount: float, sigma: float = 1.5):
    """Raise local contrast of facets where `gem` is set.

    rgb: (h, w, 3) float32 linear RGB. gem: (h, w) float32 0..1 gem coverage.
    amount: >= 0 (the option's 0..1, times the catalog boost; 0 = unchanged). Detail of
    sqrt-luminance (minus its Gaussian blur of `sigma` px) is boosted by 0.45 x `amount`;
    hue is kept by scaling RGB together. The mean
    level inside a stone is unchanged to first order. Returns a new (h, w, 3) float32 array.
    """
    if amount <= 0 or not (gem > 0.01).any():
        return rgb
    rows = np.flatnonzero((gem > 0.01).any(axis=1))
    cols = np.flatnonzero((gem > 0.01).any(axis=0))
    pad = int(4 * sigma) + 1
    ys = slice(max(rows[0] - pad, 0), rows[-1] + pad + 1)
    xs = slice(max(cols[0] - pad, 0), cols[-1] + pad + 1)
    part = rgb[ys, xs]
    y = np.maximum(part @ LUMA, 0)
    p = np.sqrt(y)  # perceptual lightness, so the boost does not shift the stone's mean tone
    detail = p - ndimage.gaussian_filter(p, sigma, mode="nearest")
    boosted = np.maximum(p + np.float32(0.45 * amount) * detail * gem[ys, xs], 0)
    scale = np.clip(boosted**2 / np.maximum(y, 1e-6), 0.25, 4.0)
    out = rgb.copy()
    out[ys, xs] = part * scale[..., None]
    return out


# Colourless stones: linear-RGB saturation ((max - min) / max) under WHITE_SAT_LOW is a clear
# stone's tint (the sweep or a card mirrored in its facets); over WHITE_SAT_HIGH it is the
# stone's colour or its fire, never touched. Pale coloured stones (aquamarine, morganite,
# light sapphire) measure 0.3 and more; a colourless stone mirroring a blue-grey sweep about
# 0.1 to 0.2.
WHITE_SAT_LOW, WHITE_SAT_HIGH = 0.12, 0.25
WHITE_KEEP = 0.3  # the share of a colourless stone's tint that stays


def clean_whites(rgb: np.ndarray, gem: np.ndarray, keep: float = WHITE_KEEP) -> np.ndarray:
    """Neutralise the faint tint of colourless facets: the catalog finish's clean whites.

    rgb: (h, w, 3) float32 linear RGB; gem: (h, w) float32 0..1 gem coverage; keep: 0..1,
    the share of the tint left (1 = unchanged). Per pixel, by its own saturation: pixels of
    saturation <= WHITE_SAT_LOW keep `keep` of their chroma, those >= WHITE_SAT_HIGH (a
    stone's colour, its fire) are unchanged, smoothly between. Luminance (LUMA) is unchanged:
    only the tint goes, nothing is brightened or drawn. Returns a new (h, w, 3) float32 array.
    """
    if keep >= 1 or not (gem > 0.01).any():
        return rgb
    peak = channel_max(rgb)
    sat = (peak - channel_min(rgb)) / np.maximum(peak, 1e-6)
    colourless = np.clip((WHITE_SAT_HIGH - sat) / (WHITE_SAT_HIGH - WHITE_SAT_LOW), 0, 1)
    factor = 1 - (1 - np.float32(keep)) * colourless * np.clip(gem, 0, 1)
    y = (rgb @ LUMA)[..., None]
    cleaned = y + (rgb - y) * factor[..., None]
    # The rest exactly as it was.
    return np.where((factor < 1)[..., None], cleaned, rgb).astype(np.float32, copy=False)
