"""Reading and writing matrix/TRC ICC profiles (the kind every RGB working space uses).

sRGB, Adobe RGB, Display P3 and ProPhoto profiles are "matrix/TRC" profiles: one tone curve
per channel (TRC) and a 3x3 matrix to the D50 profile connection space. Reading those two
things ourselves lets the pipeline decode 16-bit pixels at full precision with look-up tables
(Pillow's ImageCms works on 8-bit RGB only). Profiles of any other kind are recognised and
reported, and the colour module falls back to ImageCms for them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

D50_XYZ = np.array([0.9642, 1.0, 0.8249])

ToneCurve = Callable[[np.ndarray], np.ndarray]
"""Maps encoded values in 0..1 to linear light in 0..1 (float64 arrays)."""


class ProfileError(ValueError):
    """The ICC bytes are not a profile this module can read."""


@dataclass(frozen=True)
class MatrixProfile:
    """A matrix/TRC profile: `curves` decode each channel, `to_xyz` maps linear RGB to XYZ(D50).

    For a grey profile there is one curve and `to_xyz` is None.
    """

    colour_space: str  # "RGB" or "GRAY"
    curves: tuple[ToneCurve, ...]
    curve_keys: tuple[bytes, ...]  # raw tag bytes: equal keys mean equal curves
    to_xyz: np.ndarray | None
    description: str


def _s15(data: bytes, offset: int, count: int) -> list[float]:
    values = struct.unpack_from(f">{count}i", data, offset)
    return [v / 65536.0 for v in values]


def _tag_table(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 132 or data[36:40] != b"acsp":
        raise ProfileError("not an ICC profile (no 'acsp' signature)")
    (count,) = struct.unpack_from(">I", data, 128)
    if count > 1000 or 132 + 12 * count > len(data):
        raise ProfileError("ICC tag table is truncated")
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        if offset + size > len(data):
            raise ProfileError(f"ICC tag {sig!r} points outside the profile")
        tags[sig] = data[offset : offset + size]
    return tags


def _parse_curve(tag: bytes) -> ToneCurve:
    kind = tag[:4]
    if kind == b"curv":
        (n,) = struct.unpack_from(">I", tag, 8)
        if n == 0:
            return lambda x: np.asarray(x, dtype=np.float64)
        if n == 1:
            (g,) = struct.unpack_from(">H", tag, 12)
            gamma = g / 256.0
            return lambda x: np.power(np.clip(x, 0.0, 1.0), gamma)
        table = np.array(struct.unpack_from(f">{n}H", tag, 12), dtype=np.float64) / 65535.0
        grid = np.linspace(0.0, 1.0, n)
        return lambda x: np.interp(x, grid, table)
    if kind == b"para":
        (function,) = struct.unpack_from(">H", tag, 8)
        count = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(function)
        if count is None:
            raise ProfileError(f"unknown parametric curve type {function}")
        p = _s15(tag, 12, count) + [0.0] * (7 - count)
        g, a, b, c, d, e, f = p
        if function == 1:
            d, c, e, f = -b / a, 0.0, 0.0, 0.0
        elif function == 2:
            d, e, f = -b / a, p[3], p[3]
            c = 0.0
        elif function == 0:
            a, b, c, d = 1.0, 0.0, 0.0, 0.0

        def curve(x: np.ndarray) -> np.ndarray:
            x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
            high = np.power(np.maximum(a * x + b, 0.0), g) + e
            low = c * x + f
            return np.where(x >= d, high, low)

        return curve
    raise ProfileError(f"unsupported tone curve type {kind!r}")


def _description(tags: dict[bytes, bytes]) -> str:
    tag = tags.get(b"desc")
    if not tag:
        return ""
    try:
        if tag[:4] == b"desc":
            (n,) = struct.unpack_from(">I", tag, 8)
            return tag[12 : 12 + n].split(b"\0")[0].decode("latin-1")
        if tag[:4] == b"mluc":
            count, _size = struct.unpack_from(">II", tag, 8)
            if count:
                _lang, length, offset = struct.unpack_from(">4sII", tag, 16)
                return tag[offset : offset + length].decode("utf-16-be")
    except (struct.error, UnicodeDecodeError):
        pass
    return ""


def read_profile(data: bytes) -> MatrixProfile | None:
    """Parse `data`; a MatrixProfile for matrix/TRC RGB or grey profiles, None for other kinds.

    Raises ProfileError when the bytes are not a readable ICC profile at all.
    """
    tags = _tag_table(data)
    space = data[16:20]
    description = _description(tags)
    if space == b"GRAY":
        if b"kTRC" not in tags:
            return None
        return MatrixProfile(
            "GRAY", (_parse_curve(tags[b"kTRC"]),), (tags[b"kTRC"],), None, description
        )
    if space != b"RGB ":
        return None
    needed = [b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"]
    if not all(t in tags for t in needed):
        return None
    columns = [_s15(tags[t], 8, 3) for t in (b"rXYZ", b"gXYZ", b"bXYZ")]
    to_xyz = np.array(columns, dtype=np.float64).T
    keys = tuple(tags[t] for t in (b"rTRC", b"gTRC", b"bTRC"))
    curves = tuple(_parse_curve(k) for k in keys)
    return MatrixProfile("RGB", curves, keys, to_xyz, description)


def colour_space(data: bytes) -> str:
    """The profile's data colour space signature, stripped ("RGB", "GRAY", "CMYK", ...)."""
    _tag_table(data)
    return data[16:20].decode("latin-1").strip()


# --------------------------------------------------------------------------------------
# Building profiles (used to tag outputs of tests and of the benchmark set)
# --------------------------------------------------------------------------------------

_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _xy_to_xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def rgb_to_xyz_d50(primaries: tuple[tuple[float, float], ...], white: tuple[float, float]):
    """The 3x3 matrix linear RGB -> XYZ(D50), Bradford-adapted from the space's white point."""
    columns = np.stack([_xy_to_xyz(*p) for p in primaries], axis=1)
    white_xyz = _xy_to_xyz(*white)
    scale = np.linalg.solve(columns, white_xyz)
    to_xyz = columns * scale
    source = _BRADFORD @ white_xyz
    target = _BRADFORD @ D50_XYZ
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(target / source) @ _BRADFORD
    return adapt @ to_xyz


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _xyz_tag(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + struct.pack(">3i", *(int(round(v * 65536)) for v in xyz))


def build_rgb_profile(
    description: str,
    primaries: tuple[tuple[float, float], ...],
    white: tuple[float, float],
    gamma: float | None = None,
    srgb_curve: bool = False,
) -> bytes:
    """An ICC v2 matrix/TRC RGB profile: a pure `gamma` curve, or the sRGB curve."""
    to_xyz = rgb_to_xyz_d50(primaries, white)
    if srgb_curve:
        params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
        trc = b"para\0\0\0\0" + struct.pack(">HH5i", 3, 0, *(int(round(p * 65536)) for p in params))
    else:
        assert gamma is not None
        trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(gamma * 256)))
    text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * (4 + 4 + 2 + 1 + 67)
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz_tag(D50_XYZ)),
        (b"rXYZ", _xyz_tag(to_xyz[:, 0])),
        (b"gXYZ", _xyz_tag(to_xyz[:, 1])),
        (b"bXYZ", _xyz_tag(to_xyz[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0"),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table = struct.pack(">I", len(tags))
    body = b""
    placed: dict[bytes, int] = {}
    for sig, data in tags:
        if data in placed:  # shared curves point to one copy, as most profiles do
            table += struct.pack(">4sII", sig, placed[data], len(data))
            continue
        placed[data] = offset + len(body)
        table += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += _pad4(data)
    size = 128 + table_size + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8
    header += struct.pack(">I", 0)
    header += struct.pack(">3i", *(int(round(v * 65536)) for v in D50_XYZ))
    header += b"\0" * (128 - len(header))
    return header + table + body


SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
ADOBE_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
PROPHOTO_PRIMARIES = ((0.7347, 0.2653), (0.1596, 0.8404), (0.0366, 0.0001))
D65 = (0.3127, 0.3290)
D50 = (0.3457, 0.3585)


def adobe_rgb_profile() -> bytes:
    """An Adobe RGB (1998) compatible profile (gamma 563/256, D65 white)."""
    return build_rgb_profile("Adobe RGB (1998) compatible", ADOBE_PRIMARIES, D65, gamma=563 / 256)


def display_p3_profile() -> bytes:
    """A Display P3 profile (P3 primaries, D65 white, sRGB curve)."""
    return build_rgb_profile("Display P3 compatible", P3_PRIMARIES, D65, srgb_curve=True)


def prophoto_profile() -> bytes:
    """A ProPhoto RGB compatible profile (gamma 1.8, D50 white)."""
    return build_rgb_profile("ProPhoto RGB compatible", PROPHOTO_PRIMARIES, D50, gamma=1.8)


def srgb_profile() -> bytes:
    """An sRGB profile (IEC 61966-2-1 primaries and curve)."""
    return build_rgb_profile("sRGB IEC61966-2.1 compatible", SRGB_PRIMARIES, D65, srgb_curve=True)
