"""Shadows and reflections on the new backdrop: the styles of the `shadow` and `reflection`
options.

Every style is scaled by the piece's own size (the geometric mean of its bounding box's
sides) and falls the same way (light from the top left), so a catalog shot on different
days gets one look.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.colour import Codec

# The soft drop shadow: how far it falls (down, right) and how wide it blurs, as fractions of
# the piece's size, and its darkest opacity. A retoucher's soft shadow is short and graded:
# it grounds the piece without drawing a second outline.
SOFT_OFFSET = (0.035, 0.02)
SOFT_BLUR = 0.035
SOFT_OPACITY = 0.30
# The contact shadow: a thin dark line where the piece rests.
CONTACT_OFFSET = 0.006
CONTACT_BLUR = 0.006
CONTACT_OPACITY = 0.45
# The photo's own shadow is kept at this share of its opacity, blurred this much (working
# pixels): dust and blotches go, the light's direction stays, no hard edge of the old one.
NATURAL_KEEP = 0.8
NATURAL_BLUR = 2.0
# The mirror reflection: its height as a share of the piece's, and its opacity at the
# contact line (it fades to nothing at its far end).
REFLECTION_DEPTH = 0.3
REFLECTION_OPACITY = 0.28


def piece_size(matte: np.ndarray) -> float:
    """The piece's size in pixels: sqrt(height x width) of matte > 0.5's bounding box, 0 when
    there is no piece. matte: (h, w) float 0..1."""
    on = matte > 0.5
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return 0.0
    return float(np.sqrt((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)))


def _cast(matte: np.ndarray, offset: tuple[float, float], blur: float, size: float):
    shifted = ndimage.shift(matte, (offset[0] * size, offset[1] * size), order=1, mode="constant")
    return ndimage.gaussian_filter(shifted, max(blur * size, 0.5))


def soft_shadow(matte: np.ndarray) -> np.ndarray:
    """The retoucher's soft drop shadow under the piece, as opacity on the backdrop.

    matte: (h, w) float32 0..1 piece opacity (working resolution). Returns (h, w) float32
    0..1: a short, graded shadow falling down and to the right, plus a faint contact line.
    """
    size = piece_size(matte)
    if size == 0:
        return np.zeros_like(matte, dtype=np.float32)
    drop = _cast(matte, SOFT_OFFSET, SOFT_BLUR, size)
    contact = _cast(matte, (CONTACT_OFFSET, 0.0), CONTACT_BLUR, size)
    shadow = SOFT_OPACITY * drop + 0.3 * CONTACT_OPACITY * contact
    return np.clip(shadow, 0, 1).astype(np.float32)


def contact_shadow(matte: np.ndarray) -> np.ndarray:
    """A thin contact shadow where the piece rests: (h, w) float32 0..1 opacity.

    matte: (h, w) float32 0..1 piece opacity (working resolution)."""
    size = piece_size(matte)
    if size == 0:
        return np.zeros_like(matte, dtype=np.float32)
    contact = _cast(matte, (CONTACT_OFFSET, 0.0), CONTACT_BLUR, size)
    return np.clip(CONTACT_OPACITY * contact, 0, 1).astype(np.float32)


def natural_shadow(matte: np.ndarray, cast_shadow: np.ndarray) -> np.ndarray:
    """The photo's own cast shadow, cleaned: (h, w) float32 0..1 opacity.

    matte: (h, w) float32 0..1 piece opacity; cast_shadow: (h, w) float 0..1, the analysis'
    opacity of the photo's shadow on its backdrop (both working resolution). Blurred so that
    dust, blotches and the old shadow's hard cut-off go, and a little lighter.
    """
    real = np.clip(cast_shadow, 0, 1) * (1 - np.clip(matte, 0, 1))
    if not real.any():
        return np.zeros_like(matte, dtype=np.float32)
    size = piece_size(matte)
    sigma = max(NATURAL_BLUR, 0.01 * size)
    return np.clip(ndimage.gaussian_filter(real, sigma) * NATURAL_KEEP, 0, 1).astype(np.float32)


def shadow_style(style: str, matte: np.ndarray, cast_shadow: np.ndarray) -> np.ndarray:
    """The shadow option's opacity map: style is "none" | "soft" | "contact" | "natural"."""
    if style == "soft":
        return soft_shadow(matte)
    if style == "contact":
        return contact_shadow(matte)
    if style == "natural":
        return natural_shadow(matte, cast_shadow)
    return np.zeros_like(matte, dtype=np.float32)


def reflection_spans(piece: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Where each piece's reflection goes: [(contact row, depth, col0, col1), ...].

    piece: (H, W) uint8 0..255 piece mask. Each separate piece (a connected part, found on a
    4x subsampled mask; parts under 2 % of the largest are specks) is mirrored about the row
    below its own lowest pixel, over its own columns; depth is REFLECTION_DEPTH of its height.
    """
    step = 4
    small = piece[::step, ::step] > 127
    labels, count = ndimage.label(ndimage.binary_dilation(small, iterations=2))
    if count == 0:
        return []
    sizes = ndimage.sum(small, labels, index=np.arange(1, count + 1))
    spans = []
    h, w = piece.shape
    for index, found in enumerate(ndimage.find_objects(labels)):
        if found is None or sizes[index] < 0.02 * sizes.max():
            continue
        rows, cols = found
        y0, y1 = rows.start * step, min(rows.stop * step, h)
        x0, x1 = cols.start * step, min(cols.stop * step, w)
        on_rows = np.flatnonzero((piece[y0:y1, x0:x1] > 127).any(axis=1))
        if on_rows.size == 0:
            continue
        top, bottom = y0 + int(on_rows[0]), y0 + int(on_rows[-1]) + 1
        spans.append((bottom, max(1, int(round(REFLECTION_DEPTH * (bottom - top)))), x0, x1))
    return spans


def add_reflection(
    pixels: np.ndarray, piece: np.ndarray, codec: Codec
) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray, np.ndarray]]]:
    """A mirror reflection of each piece below it, fading out, as on a glossy surface.

    pixels: (H, W, C) uint8/uint16 codes of the finished result (C = 1..4, alpha last when
    C is 2 or 4); piece: (H, W) uint8 0..255 piece mask of the same geometry. Returns a new
    pixels array and the reflections: [(row0, col0, opacity (h, w) float32 0..1, the
    reflected codes (h, w, C)), ...] (empty when there is no piece or no room below it).
    The input is not modified. A reflection is behind the pieces (never over one) and only
    below its contact line.
    """
    h, w, c = pixels.shape
    out = pixels
    placed = []
    colour_n = 1 if c in (1, 2) else 3
    for contact, depth, x0, x1 in sorted(reflection_spans(piece)):
        depth = min(depth, h - contact, contact)
        if depth <= 0:
            continue
        if out is pixels:
            out = pixels.copy()
        ys = np.arange(contact, contact + depth)
        sources = 2 * contact - 1 - ys  # the row mirrored about the contact line
        fade = REFLECTION_OPACITY * (1 - (ys - contact + 0.5) / depth) ** 2
        coverage = piece[sources, x0:x1].astype(np.float32) / 255
        behind = 1 - piece[ys, x0:x1].astype(np.float32) / 255
        a = (fade[:, None] * coverage * behind).astype(np.float32)[..., None]
        src = codec.decode(pixels[sources, x0:x1, :colour_n])
        dst = codec.decode(out[ys, x0:x1, :colour_n])
        if c in (2, 4):
            # Over transparency the reflection adds its own coverage (premultiplied "over").
            base = codec.decode_alpha(out[ys, x0:x1, -1])[..., None]
            a = a * codec.decode_alpha(pixels[sources, x0:x1, -1])[..., None]
            cover = a + base * (1 - a)
            rgb = (src * a + dst * base * (1 - a)) / np.maximum(cover, 1e-6)
            out[ys, x0:x1, -1] = codec.encode_alpha(cover[..., 0])
        else:
            rgb = src * a + dst * (1 - a)
        out[ys, x0:x1, :colour_n] = codec.encode(rgb)
        placed.append((contact, x0, np.ascontiguousarray(a[..., 0]), pixels[sources, x0:x1]))
    return out, placed
