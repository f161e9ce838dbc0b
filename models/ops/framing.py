"""Framing: the piece centred on a square canvas with a margin, optionally resized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from models.api import ImageData, RetouchOptions
from models.colour import Codec

PRESETS_FILE = Path(__file__).resolve().parent.parent / "presets" / "framing.toml"


def presets() -> dict[str, int]:
    """Marketplace preset name -> canvas side in pixels."""
    with PRESETS_FILE.open("rb") as f:
        return {name: int(v["size"]) for name, v in tomllib.load(f).items()}


def square_box(
    piece: np.ndarray, margin: float, extend_below: float = 0.0
) -> tuple[int, int, int] | None:
    """(x0, y0, side) of the square canvas that centres the piece's bounding box with `margin`.

    piece: (H, W) uint8 piece mask; extend_below: room kept under the piece (a reflection), as
    a share of its height. The box may extend past the image. None if no piece.
    """
    on = piece > 127
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    bottom += int(round(extend_below * (bottom - top)))
    extent = max(bottom - top, right - left)
    side = int(np.ceil(extent / max(1 - 2 * margin, 0.05)))
    cy, cx = (top + bottom) / 2, (left + right) / 2
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def place(array: np.ndarray, box: tuple[int, int, int], fill, edge: bool) -> np.ndarray:
    """Crop/pad `array` (H, W[, C]) to the square `box`; outside pixels get `fill` per channel,
    or the nearest edge pixel when `edge` is true."""
    x0, y0, side = box
    h, w = array.shape[:2]
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w), min(y0 + side, h)
    crop = array[sy0:sy1, sx0:sx1]
    pads = [(sy0 - y0, y0 + side - sy1), (sx0 - x0, x0 + side - sx1)]
    pads += [(0, 0)] * (array.ndim - 2)
    if edge:
        return np.pad(crop, pads, mode="edge")
    out = np.empty((side, side) + array.shape[2:], dtype=array.dtype)
    out[...] = fill
    out[pads[0][0] : pads[0][0] + crop.shape[0], pads[1][0] : pads[1][0] + crop.shape[1]] = crop
    return out


def _resize_float(values: np.ndarray, size: int) -> np.ndarray:
    """(h, w, c) float32 -> (size, size, c) float32, antialiased bilinear (deterministic)."""
    t = torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))[None]
    out = torch.nn.functional.interpolate(
        t, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out[0].numpy().transpose(1, 2, 0)


def resize_pixels(pixels: np.ndarray, size: int, codec: Codec | None) -> np.ndarray:
    """Resize pixels (h, w, C) uint8/16; with a codec, colour is resampled in linear light and
    alpha premultiplied; without one, values are resampled as they are (masks)."""
    squeeze = pixels.ndim == 2
    if squeeze:
        pixels = pixels[..., None]
    maximum = 255 if pixels.dtype == np.uint8 else 65535
    c = pixels.shape[2]
    if codec is None:
        out = _resize_float(pixels.astype(np.float32), size)
        out = np.clip(out + 0.5, 0, maximum).astype(pixels.dtype)
        return out[..., 0] if squeeze else out
    colour_n = 1 if c in (1, 2) else 3
    rgb = codec.decode(pixels[..., :colour_n])
    alpha = pixels[..., -1:].astype(np.float32) / maximum if c in (2, 4) else None
    stack = np.concatenate([rgb * alpha, alpha], -1) if alpha is not None else rgb
    stack = _resize_float(stack.astype(np.float32), size)
    out = np.empty((size, size, c), dtype=pixels.dtype)
    if alpha is not None:
        a = np.clip(stack[..., 3:], 0, 1)
        out[..., :colour_n] = codec.encode(stack[..., :3] / np.maximum(a, 1e-6))
        out[..., -1] = codec.encode_alpha(a[..., 0])
    else:
        out[...] = codec.encode(stack)
    return out


def apply(pixels, piece, options: RetouchOptions, codec: Codec, layers: dict, masks: dict,
          extend_below: float = 0.0):
    """Frame the output, layers and masks; returns (pixels, layers, masks, info or None).
    extend_below: room kept under the piece, as a share of its height (see square_box)."""
    box = square_box(piece, options.margin, extend_below)
    if box is None:
        return pixels, layers, masks, {"skipped": "no piece found"}
    size = options.canvas_size or presets().get(options.framing, 0) or box[2]
    maximum = 255 if pixels.dtype == np.uint8 else 65535
    c = pixels.shape[2]
    keep = options.background == "keep"
    if options.background == "transparent":
        fill = np.zeros(c, dtype=pixels.dtype)
    else:
        fill = np.full(c, maximum, dtype=pixels.dtype)
    framed = place(pixels, box, fill, edge=keep)
    new_layers = {}
    for name, layer in layers.items():
        placed = place(layer.pixels, box, np.zeros(4, layer.pixels.dtype), edge=False)
        if size != box[2]:
            placed = resize_pixels(placed, size, codec if not codec.grey else None)
        new_layers[name] = ImageData(placed, layer.icc_profile)
    new_masks = {}
    for name, mask in masks.items():
        placed = place(mask, box, 0, edge=False)
        new_masks[name] = resize_pixels(placed, size, None) if size != box[2] else placed
    if size != box[2]:
        framed = resize_pixels(framed, size, codec)
    info = {"box": list(box), "canvas": size}
    return framed, new_layers, new_masks, info
