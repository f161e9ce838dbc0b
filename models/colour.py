"""Pixels <-> linear-light float32 sRGB, honouring the input's ICC profile.

`Codec.for_image` reads the image's profile once and builds look-up tables, so decoding and
encoding a tile costs a few gathers: 16-bit inputs keep their precision (65536-entry decode
table; the encode table is indexed by sqrt(linear) with 2**18 entries, well under one 16-bit
code of error). Wide-gamut profiles (Adobe RGB, P3, ProPhoto) are mapped to linear sRGB
primaries by a 3x3 matrix without clipping, so colours outside sRGB survive the round trip.
Profiles that are not matrix/TRC go through Pillow's ImageCms (8-bit precision).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from models import icc
from models.api import ImageData, ImageError

SRGB_TO_XYZ_D50 = icc.rgb_to_xyz_d50(icc.SRGB_PRIMARIES, icc.D65)
XYZ_D50_TO_SRGB = np.linalg.inv(SRGB_TO_XYZ_D50)
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # linear sRGB luminance weights

_ENCODE_BITS = 18


def srgb_decode(x: np.ndarray) -> np.ndarray:
    """sRGB transfer function: encoded 0..1 -> linear 0..1 (any float array, same shape)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """Inverse of `srgb_decode`: linear 0..1 -> encoded 0..1 (values clipped to 0..1 first)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def _encode_table(curve, maximum: int, dtype) -> np.ndarray:
    """Table from sqrt(linear) index to the nearest code of the inverse of `curve`."""
    codes = np.arange(maximum + 1, dtype=np.float64) / maximum
    linear = curve(codes)
    linear = np.maximum.accumulate(linear)  # guard against non-monotone table curves
    sample = np.linspace(0.0, 1.0, (1 << _ENCODE_BITS) + 1) ** 2
    # Between two codes choose the nearer one in linear light: midpoints decide.
    mid = (linear[1:] + linear[:-1]) / 2
    return np.searchsorted(mid, sample, side="left").astype(dtype)


@dataclass(frozen=True)
class Codec:
    """Decodes an image's pixels to linear sRGB float32 and encodes them back."""

    depth: int
    grey: bool
    decode_tables: tuple[np.ndarray, ...]  # per channel (or one shared), float32, 2**depth
    encode_tables: tuple[np.ndarray, ...]  # per channel (or one shared), uint8/uint16
    to_srgb: np.ndarray | None  # 3x3 float32 (profile linear RGB -> linear sRGB), None = same
    from_srgb: np.ndarray | None
    description: str

    @classmethod
    def for_profile(cls, icc_profile: bytes | None, channels: int, depth: int) -> Codec:
        """Build the codec of pixels with `channels` (1..4) and `depth` (8/16) in the profile."""
        grey = channels in (1, 2)
        if icc_profile is None:
            curves = (srgb_decode,)
            keys: tuple = (b"srgb",)
            to_xyz = None if grey else SRGB_TO_XYZ_D50
            description = "sRGB (assumed)"
        else:
            try:
                profile = icc.read_profile(icc_profile)
            except icc.ProfileError as exc:
                raise ImageError(f"the embedded ICC profile cannot be read: {exc}") from exc
            if profile is None:
                raise ImageError("ICC profile is not a matrix/TRC profile")
            if grey != (profile.colour_space == "GRAY"):
                raise ImageError(
                    f"a {profile.colour_space} ICC profile does not fit {channels}-channel pixels"
                )
            curves, keys = profile.curves, profile.curve_keys
            to_xyz = profile.to_xyz
            description = profile.description
        maximum = (1 << depth) - 1
        dtype = np.uint8 if depth == 8 else np.uint16
        if len(set(keys)) == 1:
            curves = curves[:1]
        codes = np.arange(maximum + 1, dtype=np.float64) / maximum
        decode = tuple(c(codes).astype(np.float32) for c in curves)
        encode = tuple(_encode_table(c, maximum, dtype) for c in curves)
        to_srgb = from_srgb = None
        if to_xyz is not None:
            matrix = XYZ_D50_TO_SRGB @ to_xyz
            if not np.allclose(matrix, np.eye(3), atol=2e-3):
                to_srgb = matrix.astype(np.float32)
                from_srgb = np.linalg.inv(matrix).astype(np.float32)
        return cls(depth, grey, decode, encode, to_srgb, from_srgb, description)

    @property
    def maximum(self) -> int:
        return (1 << self.depth) - 1

    def decode(self, pixels: np.ndarray) -> np.ndarray:
        """(h, w, C) uint8/uint16 colour channels (C = 1 or 3) -> (h, w, 3) float32 linear sRGB.

        Values may fall outside 0..1 for colours outside the sRGB gamut (wide-gamut inputs).
        """
        if len(self.decode_tables) == 1:
            rgb = self.decode_tables[0][pixels]
        else:
            rgb = np.stack([t[pixels[..., i]] for i, t in enumerate(self.decode_tables)], axis=-1)
        if self.grey:
            return np.repeat(rgb[..., :1], 3, axis=-1)
        if self.to_srgb is not None:
            rgb = rgb @ self.to_srgb.T
        return rgb

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) float32 linear sRGB -> (h, w, C) codes (C = 1 for grey), clipped to range."""
        if self.grey:
            values = (rgb @ LUMA)[..., None]
        elif self.from_srgb is not None:
            values = rgb @ self.from_srgb.T
        else:
            values = rgb
        scale = np.float32(1 << _ENCODE_BITS)
        index = np.sqrt(np.clip(values, 0.0, 1.0)) * scale + np.float32(0.5)
        index = index.astype(np.int32)
        if len(self.encode_tables) == 1:
            return self.encode_tables[0][index]
        return np.stack([t[index[..., i]] for i, t in enumerate(self.encode_tables)], axis=-1)

    def decode_alpha(self, alpha: np.ndarray) -> np.ndarray:
        """(h, w) alpha codes -> (h, w) float32 in 0..1 (alpha is linear, no curve)."""
        return alpha.astype(np.float32) / np.float32(self.maximum)

    def encode_alpha(self, alpha: np.ndarray) -> np.ndarray:
        """(h, w) float32 0..1 -> alpha codes."""
        codes = np.clip(alpha, 0.0, 1.0) * np.float32(self.maximum) + np.float32(0.5)
        return codes.astype(np.uint8 if self.depth == 8 else np.uint16)


# --------------------------------------------------------------------------------------
# Profiles that are not matrix/TRC: convert through ImageCms to sRGB and back
# --------------------------------------------------------------------------------------


def needs_cms(icc_profile: bytes | None) -> bool:
    """True when the profile is readable but not matrix/TRC (so ImageCms must convert it)."""
    if icc_profile is None:
        return False
    try:
        return icc.read_profile(icc_profile) is None
    except icc.ProfileError as exc:
        raise ImageError(f"the embedded ICC profile cannot be read: {exc}") from exc


def _cms_transform(src: bytes, to_srgb: bool):
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(src))
        srgb = ImageCms.createProfile("sRGB")
        pair = (profile, srgb) if to_srgb else (srgb, profile)
        return ImageCms.buildTransform(*pair, "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError) as exc:
        raise ImageError(f"the embedded ICC profile cannot be used: {exc}") from exc


def cms_convert(image: ImageData, to_srgb: bool, icc_profile: bytes) -> ImageData:
    """Convert the colour channels of an RGB(A) image between `icc_profile` and sRGB (8-bit)."""
    from PIL import Image, ImageCms

    if image.format.channels not in (3, 4):
        raise ImageError("only RGB images can carry a non-matrix ICC profile")
    pixels = image.pixels
    colour = pixels[..., :3]
    if pixels.dtype == np.uint16:
        colour = ((colour.astype(np.uint32) + 128) // 257).astype(np.uint8)
    out = np.asarray(
        ImageCms.applyTransform(
            Image.fromarray(colour, "RGB"), _cms_transform(icc_profile, to_srgb)
        )
    )
    if pixels.dtype == np.uint16:
        out = out.astype(np.uint16) * 257
    if image.format.has_alpha:
        out = np.concatenate([out, pixels[..., 3:]], axis=-1)
    return ImageData(np.ascontiguousarray(out), None if to_srgb else icc_profile)
