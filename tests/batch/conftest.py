"""Fixtures for the batch, presets and RAW tests: real image files written to tmp folders."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# XYZ (D65) -> linear sRGB: the DNG ColorMatrix1 of a "camera" whose raw RGB is linear sRGB.
XYZ_TO_SRGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)


def _ifd_entry(tag: int, typ: int, values: list, data: bytearray, base: int) -> bytes:
    """One 12-byte IFD entry; values longer than 4 bytes go to `data` (offset `base` + len)."""
    fmt = {1: "B", 2: "s", 3: "H", 4: "I", 5: "II", 10: "ii"}[typ]
    size = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 10: 8}[typ]
    if typ == 2:
        payload = values[0].encode("ascii") + b"\0"
        count = len(payload)
    elif typ in (5, 10):
        payload = b"".join(struct.pack("<" + fmt, *pair) for pair in values)
        count = len(values)
    else:
        payload = struct.pack(f"<{len(values)}{fmt}", *values)
        count = len(values)
    if count * size <= 4:
        return struct.pack("<HHI", tag, typ, count) + payload.ljust(4, b"\0")
    if len(data) % 2:
        data.append(0)
    offset = base + len(data)
    data.extend(payload)
    return struct.pack("<HHII", tag, typ, count, offset)


def _srational(value: float) -> tuple[int, int]:
    return (round(value * 10000), 10000)


def write_dng(
    path: Path,
    scene_linear: np.ndarray,
    *,
    black: int = 256,
    white: int = 16383,
    neutral: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> Path:
    """Write a minimal valid DNG 1.4 (uncompressed 16-bit RGGB Bayer CFA) from a linear scene.

    scene_linear: float array (H, W, 3), linear sRGB, 1.0 = sensor saturation (values above
        clip, like a real sensor); H and W even.
    The "camera" has sRGB primaries (ColorMatrix1 = XYZ->sRGB); `neutral` is its raw response
    to white (AsShotNeutral): (0.5, 1.0, 0.6) is a typical camera whose green saturates first,
    so a bright specular clips green while red and blue are still below the white level.
    """
    h, w, _ = scene_linear.shape
    assert h % 2 == 0 and w % 2 == 0
    cfa_channel = np.zeros((h, w), dtype=np.intp)  # RGGB: R at (0,0), G at (0,1)/(1,0), B at (1,1)
    cfa_channel[0::2, 1::2] = 1
    cfa_channel[1::2, 0::2] = 1
    cfa_channel[1::2, 1::2] = 2
    camera_rgb = scene_linear * np.asarray(neutral)
    mosaic = np.take_along_axis(camera_rgb, cfa_channel[..., None], axis=2)[..., 0]
    raw = np.clip(black + mosaic * (white - black), 0, white).round().astype("<u2")
    pixel_bytes = raw.tobytes()

    entries_spec = [
        (254, 4, [0]),
        (256, 4, [w]),
        (257, 4, [h]),
        (258, 3, [16]),
        (259, 3, [1]),
        (262, 3, [32803]),
        (271, 2, ["JewelTest"]),
        (272, 2, ["CFA-1"]),
        (273, 4, [0]),  # strip offset, patched below
        (274, 3, [1]),
        (277, 3, [1]),
        (278, 4, [h]),
        (279, 4, [len(pixel_bytes)]),
        (284, 3, [1]),
        (33421, 3, [2, 2]),
        (33422, 1, [0, 1, 1, 2]),
        (50706, 1, [1, 4, 0, 0]),
        (50707, 1, [1, 1, 0, 0]),
        (50708, 2, ["JewelTest CFA-1"]),
        (50714, 4, [black]),
        (50717, 4, [white]),
        (50721, 10, [_srational(v) for v in XYZ_TO_SRGB.ravel()]),
        (50728, 5, [(round(v * 10000), 10000) for v in neutral]),
        (50778, 3, [21]),
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries_spec) + 4
    data_base = ifd_offset + ifd_size
    extra = bytearray()
    # Reserve the pixel data after the extra tag data: compute extra first with a dummy offset.
    entries = [_ifd_entry(t, ty, v, extra, data_base) for t, ty, v in entries_spec]
    strip_offset = data_base + len(extra) + (len(extra) % 2)
    entries[8] = _ifd_entry(273, 4, [strip_offset], bytearray(), 0)
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    out += extra
    if len(out) % 2:
        out.append(0)
    assert len(out) == strip_offset
    out += pixel_bytes
    path.write_bytes(bytes(out))
    return path


def ring_scene(height: int = 96, width: int = 128, hotspot: float = 1.6) -> np.ndarray:
    """A linear-light test scene: light grey backdrop, a yellow-gold disc, a specular hotspot.

    Returns float64 (height, width, 3), linear sRGB; the hotspot (value `hotspot`, above 1.0)
    saturates the sensor in every channel, and its rim saturates only green and red, the way
    speculars on polished gold clip in real cameras.
    """
    yy, xx = np.mgrid[0:height, 0:width]
    scene = np.full((height, width, 3), 0.55)
    cy, cx, r = height / 2, width / 2, min(height, width) * 0.35
    dist = np.hypot(yy - cy, xx - cx)
    scene[dist < r] = (0.62, 0.42, 0.12)
    hy, hx = cy - r * 0.4, cx - r * 0.3
    hot = np.exp(-(np.hypot(yy - hy, xx - hx) ** 2) / (2 * (r * 0.18) ** 2))
    scene[dist < r] += hot[dist < r, None] * hotspot
    return scene


@pytest.fixture
def make_dng() -> Callable[..., Path]:
    return write_dng


@pytest.fixture
def make_scene() -> Callable[..., np.ndarray]:
    return ring_scene


def _catalog_image(seed: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(60, 230, width, dtype=np.float64)[None, :, None]
    noise = rng.normal(0, 12, (height, width, channels))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_catalog(root: Path, *, size: tuple[int, int] = (48, 64)) -> dict[str, Path]:
    """A small catalog: PNG and JPEG files in nested folders, plus one broken file.

    Returns relative name -> path of every file written (the broken one is `rings/broken.png`).
    """
    from PIL import Image

    h, w = size
    files = {
        "hero.png": ("PNG", 3),
        "rings/solitaire.png": ("PNG", 3),
        "rings/band.jpg": ("JPEG", 3),
        "rings/gold/eternity.png": ("PNG", 4),
        "earrings/studs.png": ("PNG", 3),
    }
    written = {}
    for index, (rel, (fmt, channels)) in enumerate(sorted(files.items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = _catalog_image(index, h, w, channels)
        Image.fromarray(pixels).save(path, fmt)
        written[rel] = path
    broken = root / "rings" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"truncated")
    written["rings/broken.png"] = broken
    (root / "notes.txt").write_text("not an image, must be ignored")
    return written


@pytest.fixture
def catalog(tmp_path) -> tuple[Path, dict[str, Path]]:
    """An input catalog folder under tmp_path/in."""
    root = tmp_path / "in"
    return root, write_catalog(root)


@pytest.fixture
def make_catalog() -> Callable[..., dict[str, Path]]:
    return write_catalog
