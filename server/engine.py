"""The server's one door to the model: layout conversions around `Retoucher.retouch`, and the
packing of a `Result` into wire parts.

The model takes RGB/RGBA; grey (1 channel) and grey+alpha (2) inputs are widened to 3/4
channels for the call and narrowed back afterwards, so the answer keeps the input's layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import models
from models.api import ImageData, ProgressCallback, Result, RetouchOptions, no_progress
from server.imageio import FileInfo, write_image
from server.protocol import Part, ProtocolError


def profile_for_name(name: str | None) -> bytes | None:
    """ICC bytes for a raw layer's `color_profile` name (docs/protocol.md); None means sRGB.

    The model reads colour through the ICC profile, so raw pixels from an Adobe RGB or P3
    document must carry the matching profile into the model (the raw answer carries none).
    """
    if not name or name == "srgb":
        return None
    try:
        from models import icc
    except ImportError:  # pragma: no cover - the model package always ships it
        return None
    builders = {
        "adobe-rgb": icc.adobe_rgb_profile,
        "display-p3": icc.display_p3_profile,
        "prophoto": icc.prophoto_profile,
        "linear-srgb": lambda: icc.build_rgb_profile(
            "linear sRGB", icc.SRGB_PRIMARIES, icc.D65, gamma=1.0
        ),
    }
    builder = builders.get(name)
    return builder() if builder is not None else None


def to_model_layout(image: ImageData) -> ImageData:
    """Grey -> RGB and grey+alpha -> RGBA (a copy only when needed).

    A grey image's ICC profile (a grey profile) cannot describe the widened RGB pixels, so the
    model sees them untagged (sRGB); `Engine.retouch` puts the original profile back.
    """
    channels = image.pixels.shape[2]
    if channels >= 3:
        return image
    grey = image.pixels[:, :, :1]
    parts = [grey, grey, grey] + ([image.pixels[:, :, 1:2]] if channels == 2 else [])
    return ImageData(np.concatenate(parts, axis=2), None)


def from_model_layout(image: ImageData, channels: int) -> ImageData:
    """Narrow the model's RGB(A) answer back to `channels` (1 or 2: mean of R, G, B)."""
    pixels = image.pixels
    if channels >= 3 or pixels.shape[2] < 3:
        return image
    grey = np.rint(pixels[:, :, :3].astype(np.float32).mean(axis=2, keepdims=True))
    out = [grey.astype(pixels.dtype)]
    if channels == 2:
        out.append(pixels[:, :, 3:4] if pixels.shape[2] == 4 else _opaque(pixels))
    return ImageData(np.ascontiguousarray(np.concatenate(out, axis=2)), image.icc_profile)


def _opaque(pixels: np.ndarray) -> np.ndarray:
    full = 255 if pixels.dtype == np.uint8 else 65535
    return np.full(pixels.shape[:2] + (1,), full, pixels.dtype)


class Engine:
    """A loaded model plus the layout handling every caller needs (server and CLI)."""

    def __init__(self, retoucher: Any | None = None) -> None:
        self.retoucher = retoucher if retoucher is not None else models.load()

    @property
    def model_info(self) -> dict[str, str]:
        return {
            "name": str(getattr(self.retoucher, "name", models.MODEL_NAME)),
            "version": str(getattr(self.retoucher, "version", models.MODEL_VERSION)),
        }

    def retouch(
        self,
        image: ImageData,
        options: RetouchOptions,
        progress: ProgressCallback = no_progress,
        layers: bool = False,
    ) -> Result:
        """Run the model; the answer has the input's channels, depth and ICC profile."""
        channels = image.pixels.shape[2]
        result = self.retoucher.retouch(
            to_model_layout(image), options, progress=progress, layers=layers
        )
        out = from_model_layout(result.image, channels)
        if out.pixels.dtype != image.pixels.dtype:
            raise ProtocolError("internal", "the model changed the bit depth of the image")
        if out.icc_profile != image.icc_profile:
            out = ImageData(out.pixels, image.icc_profile)  # the answer keeps the input's profile
        variants = {
            name: ImageData(from_model_layout(v, channels).pixels, image.icc_profile)
            for name, v in (getattr(result, "variants", None) or {}).items()
        }
        return Result(out, dict(result.layers or {}), dict(result.masks or {}), result.info or {},
                      variants)


def pixel_bytes(pixels: np.ndarray) -> memoryview:
    """Interleaved little-endian bytes of (H, W, C) pixels, without a copy when possible."""
    if pixels.dtype == np.uint16 and pixels.dtype.byteorder == ">":
        pixels = pixels.astype("<u2")
    return memoryview(np.ascontiguousarray(pixels)).cast("B")


def result_parts(result: Result, fmt: str, info: FileInfo | None = None) -> list[Part]:
    """The image, then layers, then masks, then metal variants, as wire parts.

    fmt "raw": interleaved pixels. Otherwise the image and variant parts are encoded as `fmt`
    (with `info`'s resolution) and layers/masks as PNG files.
    """
    parts: list[Part] = []
    image = result.image

    def add(name: str, kind: str, data: ImageData, encode_as: str | None) -> None:
        h, w, c = data.pixels.shape
        depth = 16 if data.pixels.dtype == np.uint16 else 8
        payload = pixel_bytes(data.pixels) if encode_as is None else write_image(data, encode_as)
        parts.append(Part(name, kind, w, h, c, depth, payload))

    if fmt == "raw":
        add("image", "image", image, None)
    else:
        h, w, c = image.pixels.shape
        depth = 16 if image.pixels.dtype == np.uint16 else 8
        parts.append(Part("image", "image", w, h, c, depth, write_image(image, fmt, info)))
    encode_as = None if fmt == "raw" else "png"
    for name in models.LAYER_NAMES:
        if name in result.layers:
            add(name, "layer", result.layers[name], encode_as)
    for name in sorted(set(result.layers) - set(models.LAYER_NAMES)):
        add(name, "layer", result.layers[name], encode_as)
    mask_names = [n for n in models.MASK_NAMES if n in result.masks]
    mask_names += sorted(set(result.masks) - set(models.MASK_NAMES))
    for name in mask_names:
        mask = np.asarray(result.masks[name])
        if mask.ndim == 2:
            mask = mask[:, :, None]
        add(name, "mask", ImageData(np.ascontiguousarray(mask.astype(np.uint8))), encode_as)
    for name, variant in result.variants.items():
        if fmt == "raw":
            add(name, "variant", variant, None)
        else:
            h, w, c = variant.pixels.shape
            depth = 16 if variant.pixels.dtype == np.uint16 else 8
            parts.append(Part(name, "variant", w, h, c, depth, write_image(variant, fmt, info)))
    return parts
