"""Reading catalog files into ImageData and encoding results, for the batch runner.

Camera RAW goes through `server.raw`; other files through the server's image I/O
(`server.imageio`) when it is installed, so that a batch run and the HTTP/WebSocket API write
byte-identical files; a Pillow fallback covers 8-bit files otherwise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.api import ImageData
from server.raw import RawError, decode_raw, is_raw_path

try:  # the server's image I/O (16-bit PNG/TIFF with ICC profiles); optional at import time
    from server import imageio as _server_io
except ImportError:  # pragma: no cover - depends on the server package's state
    _server_io = None

PILLOW_FORMAT = {"png": "PNG", "jpg": "JPEG", "tiff": "TIFF", "webp": "WEBP"}
JPEG_QUALITY = 95


class DecodeError(ValueError):
    """The file cannot be read, or its result cannot be written in the asked format (reported
    per file; the batch goes on)."""


@dataclass(frozen=True)
class ReadSettings:
    """How camera RAW files are developed (other formats are read as they are)."""

    raw_bits: int = 16
    raw_highlights: str = "blend"


def read_image(
    name: str, data: bytes, settings: ReadSettings = ReadSettings()
) -> tuple[ImageData, Any]:
    """Decode a file's bytes; `name` (the file name) tells RAW files apart by extension.

    Returns the pixels and the file facts the writer keeps (resolution), or None for RAW.
    """
    if is_raw_path(name):
        try:
            image = decode_raw(data, bits=settings.raw_bits, highlights=settings.raw_highlights)
        except RawError as exc:
            raise DecodeError(str(exc)) from exc
        return image, None
    if _server_io is not None:
        try:
            return _server_io.read_image(data)
        except _server_io.ImageFileError as exc:
            raise DecodeError(f"cannot read {name}: {exc}") from exc
    return _pillow_decode(name, data), None


def encode_image(image: ImageData, fmt: str, info: Any = None) -> bytes:
    """Encode `image` as `fmt` (png | jpg | tiff | webp), keeping its ICC profile.

    JPEG and WebP hold 8 bits and JPEG no alpha: 16-bit pixels are scaled to 8 bits and, for
    JPEG, alpha is composited onto white (refuse transparent backgrounds with JPEG first).
    `info`: the input's file facts from `read_image` (keeps its resolution), or None.
    """
    if _server_io is not None:
        server_fmt = "jpeg" if fmt == "jpg" else fmt
        try:
            fitted = _server_io.fit_for_format(image, server_fmt)
            return _server_io.write_image(fitted, server_fmt, info)
        except _server_io.ImageFileError as exc:
            raise DecodeError(f"cannot write the result as {fmt}: {exc}") from exc
    if fmt in ("jpg", "webp"):
        image = to_8_bit(image)
    if fmt == "jpg" and image.format.has_alpha:
        image = flatten_on_white(image)
    return _pillow_encode(image, fmt)


def to_8_bit(image: ImageData) -> ImageData:
    """uint16 (0..65535) -> uint8 (0..255) by rounding v / 257; uint8 passes through."""
    if image.pixels.dtype == np.uint8:
        return image
    pixels = ((image.pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return ImageData(pixels, image.icc_profile)


def flatten_on_white(image: ImageData) -> ImageData:
    """Composite an image with alpha (C = 2 or 4) onto white; returns C - 1 channels."""
    p = image.pixels
    peak = 255.0 if p.dtype == np.uint8 else 65535.0
    alpha = p[..., -1:].astype(np.float32) / peak
    colour = p[..., :-1].astype(np.float32)
    flat = colour * alpha + peak * (1.0 - alpha)
    return ImageData(np.round(flat).astype(p.dtype), image.icc_profile)


def _pillow_decode(name: str, data: bytes) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            icc = img.info.get("icc_profile")
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                pixels = np.asarray(img).astype(np.uint16)[..., None]
            else:
                mode = {"1": "L", "P": "RGBA" if "transparency" in img.info else "RGB"}.get(
                    img.mode, img.mode
                )
                if mode not in ("L", "LA", "RGB", "RGBA"):
                    mode = "RGB"
                converted = img.convert(mode)
                pixels = np.asarray(converted)
                if pixels.ndim == 2:
                    pixels = pixels[..., None]
    except UnidentifiedImageError as exc:
        raise DecodeError(f"cannot read {name}: not a PNG, JPEG, TIFF or WebP image") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"cannot read {name}: {exc}") from exc
    return ImageData(np.ascontiguousarray(pixels), icc)


def _pillow_encode(image: ImageData, fmt: str) -> bytes:
    from PIL import Image

    p = image.pixels
    if p.dtype != np.uint8:
        # Pillow writes 16 bits only for single-channel images; say so instead of truncating.
        if p.shape[2] != 1 or fmt not in ("png", "tiff"):
            raise NotImplementedError(
                "16-bit colour output needs the server's image I/O (server/imageio.py)"
            )
        img = Image.fromarray(p[..., 0].astype("<u2"), mode="I;16")
    else:
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[p.shape[2]]
        img = Image.fromarray(p[..., 0] if p.shape[2] == 1 else p, mode=mode)
    params: dict = {}
    if image.icc_profile:
        params["icc_profile"] = image.icc_profile
    if fmt == "jpg":
        params.update(quality=JPEG_QUALITY, subsampling=0)
    elif fmt == "webp":
        params.update(lossless=True)
    elif fmt == "tiff":
        params.update(compression="tiff_adobe_deflate")
    out = io.BytesIO()
    img.save(out, format=PILLOW_FORMAT[fmt], **params)
    return out.getvalue()
