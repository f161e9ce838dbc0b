"""Training samples like real studio photos: rendered pieces composited onto studio backdrops.

`models.synth.pieces` renders each piece once as compositing layers (premultiplied colour
under the studio's lights and under a unit-white sweep, exact alpha, metal/gem/detail
coverage, the cast shadow's opacity, the floor's light fall-off and texture coordinates, the
mirror reflection). Here every sample takes one piece and one backdrop and composites, in
linear light:

    piece colour   F = lights + c * sweep             (c: the backdrop's mean radiance; the
                                                       metal mirrors the sweep it stands on)
    backdrop       B = blur_bg(A * field * (1 - k * shadow)) + m * (mirror + (1 - a_m) * sky)
    image          I = blur_p(F) + (1 - blur_p(alpha + prop)) * B

A: the backdrop's albedo mapped on the floor in perspective (procedural sweeps, velvet,
paper, card, linen, or a CC0 texture: marble, wood, fabric, leather, plaster, onyx), k: how
hard the shadow is on that material, m: the mirror's reflectance (black acrylic), blur_bg: the
backdrop's defocus (depth of field), blur_p: an optional slight defocus of the piece. The
truth is read off the same arrays, so it is exact: ``alpha`` is blur_p(alpha) (coverage of
the piece in the image; a prop under it, a felt pad or wax, is in ``prop`` and not in the
matte: a retoucher removes it with the backdrop), ``shadow`` is 1 - B_shadowed / B_unshadowed
of the diffuse backdrop times (1 - alpha - prop), ``reflection`` is m * a_m * (1 - alpha -
prop), metal and gem coverage go through
the same blur_p. Then the phone camera: dust, lint, scratches and fingerprints (the defect
map), exposure, white balance, vignetting, sensor noise, sharpening and JPEG.

Each sample is an exact function of (sample seed, piece bank file). Written files follow
`models.synth.dataset` (``shot``, ``clean``, uint8 masks ``piece``, ``metal``, ``gem``,
``shadow``, ``defects``, ``detail``, JSON ``meta``) plus ``alpha`` (uint16, the matte at
1/65535), ``reflection`` and ``prop`` (uint8), so the v1 loaders read them too.

    python -m models.synth.composite --count 2000 --out synth_data/v2/train
    python -m models.synth.composite --count 200 --heldout --out synth_data/v2/heldout

`--catalog 2` draws the second catalog (`models.synth.catalog2`: textured and pale cabochons,
coins, filigree, bar drops, curb/rope/box/ball chains) from its own seed range, and its
samples also lie in a hand or an open jewelry box (`models.synth.backdrops2`); the first
catalog's seeds, pieces and backdrops are unchanged by it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from models.synth import backdrops2
from models.synth import degrade as dg
from models.synth.catalog2 import CATALOG2_SEED_BASE, HELDOUT_OFFSET, catalog_of
from models.synth.dataset import HELDOUT_SEED_BASE, sample_path

ASSETS = Path(__file__).resolve().parent / "assets"

TEXTURES: dict[str, tuple[str, ...]] = {
    "marble": ("marble_white_marble01_512.jpg", "marble_black_marble006_512.jpg"),
    "wood": (
        "wood_dark_table_001_512.jpg",
        "wood_medium_table_worn_512.jpg",
        "wood_dark_rosewood_veneer1_512.jpg",
    ),
    "fabric": ("fabric_mauve_fabric02_512.jpg", "fabric_denim_blue_512.jpg"),
    "leather": ("leather_tan_fabric_leather_02_512.jpg",),
    "stone": ("plaster_painted_grey_512.jpg", "stone_onyx_onyx003_512.jpg"),
}

BACKDROPS: dict[str, float] = {
    # kind: share of samples. Most real catalog shots are on white or grey sweeps.
    "white_sweep": 0.18,
    "grey_sweep": 0.10,
    "light_tent": 0.07,
    "white_card": 0.06,
    "black_velvet": 0.08,
    "navy_velvet": 0.07,
    "black_acrylic": 0.08,
    "coloured_paper": 0.07,
    "linen": 0.05,
    "marble": 0.07,
    "wood": 0.07,
    "fabric": 0.05,
    "leather": 0.025,
    "stone": 0.025,
}

BACKDROPS2: dict[str, float] = {**BACKDROPS, "hand": 0.08, "box": 0.07}
"""The second catalog's samples (`models.synth.catalog2`) also lie in a hand or a box."""

BANK_PIECES = 64
"""Pieces in the default training bank (each rendered once, about 7 s at 448 px, 32 spp)."""


@dataclass
class Backdrop:
    """One backdrop for one piece's camera: all arrays (H, W[, 3]) float32, linear."""

    kind: str
    albedo: np.ndarray  # diffuse albedo seen through each pixel
    shadow_strength: float = 1.0  # k: 1 on matte paper, less on a mirror or in a light tent
    mirror: float = 0.0  # m: reflectance of a mirror floor (black acrylic)
    sky: np.ndarray | None = None  # what the mirror shows where the piece's reflection is not
    blur: float = 0.0  # backdrop defocus, disc radius in px


# ---------------------------------------------------------------------------------------------
# Backdrops


@lru_cache(maxsize=16)
def _texture(name: str) -> np.ndarray:
    """A CC0 albedo texture as linear float32 (h, w, 3)."""
    img = np.asarray(Image.open(ASSETS / "textures" / name).convert("RGB"), np.float32) / 255
    return dg.srgb_decode(img).astype(np.float32)


def _sample_texture(tex: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear, wrapping lookup of tex (h, w, 3) at uv (H, W, 2) in texture pixels."""
    coords = [uv[:, :, 1].ravel(), uv[:, :, 0].ravel()]
    chans = [
        ndimage.map_coordinates(tex[:, :, c], coords, order=1, mode="grid-wrap") for c in range(3)
    ]
    return np.stack(chans, -1).reshape(*uv.shape[:2], 3).astype(np.float32)


def _floor_uv(floor_xy: np.ndarray, rng: np.random.Generator, period: float, px: int):
    """Texture coordinates (px per `period` piece radii), randomly rotated and shifted."""
    ang = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    return (floor_xy @ rot.T) / period * px + rng.uniform(0, px, 2).astype(np.float32)


def make_backdrop(kind: str, floor_xy: np.ndarray, rng: np.random.Generator) -> Backdrop:
    """A backdrop of `kind` (a key of BACKDROPS) for a piece whose floor coordinates (in piece
    radii, (H, W, 2)) are `floor_xy`."""
    if kind in backdrops2.KINDS:
        albedo, strength = backdrops2.make(
            kind, floor_xy, rng, lambda k, xy, r: make_backdrop(k, xy, r).albedo
        )
        return Backdrop(kind, albedo, strength)
    h, w = floor_xy.shape[:2]
    fy = floor_xy[:, :, 1]  # towards the camera is +y
    depth = (fy - fy.min()) / max(float(np.ptp(fy)), 1e-6)  # 0 at the back, 1 at the front
    grain = dg.smooth_noise(rng, (h, w), 0.7)
    ones = np.ones((h, w, 3), np.float32)
    if kind in ("white_sweep", "light_tent", "white_card"):
        level = rng.uniform(0.82, 0.95) if kind != "white_card" else rng.uniform(0.78, 0.9)
        tint = 1 + rng.normal(0, 0.012, 3)
        fall = 1 - rng.uniform(0, 0.08) * (1 - depth)  # the sweep's curve is a little darker
        tex = 0.01 if kind != "white_card" else 0.02
        albedo = level * tint * fall[:, :, None] * (1 + tex * grain[:, :, None]) * ones
        strength = rng.uniform(0.25, 0.6) if kind == "light_tent" else rng.uniform(0.7, 1.0)
        return Backdrop(kind, albedo.astype(np.float32), strength)
    if kind == "grey_sweep":
        front, back = rng.uniform(0.35, 0.75), rng.uniform(0.08, 0.35)
        tint = 1 + rng.normal(0, 0.02, 3) + np.array([0, 0, rng.uniform(0, 0.1)])
        v = back + (front - back) * depth
        return Backdrop(kind, (v[:, :, None] * tint * ones).astype(np.float32))
    if kind in ("black_velvet", "navy_velvet"):
        base = (
            np.array([0.012, 0.012, 0.013])
            if kind == "black_velvet"
            else np.array([0.010, 0.014, 0.045])
        ) * rng.uniform(0.7, 1.6)
        pile = 1 + 0.35 * grain + 0.2 * dg.smooth_noise(rng, (h, w), 6.0)  # fibres and crushed pile
        sheen = 1 + rng.uniform(0, 1.5) * (1 - depth) ** 2  # brighter towards grazing angles
        albedo = base * np.clip(pile * sheen, 0.2, None)[:, :, None]
        return Backdrop(kind, albedo.astype(np.float32), rng.uniform(0.6, 1.0))
    if kind == "black_acrylic":
        base = rng.uniform(0.005, 0.02)
        albedo = base * ones
        # The acrylic mirrors the studio: a soft softbox gradient behind the reflection.
        yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        cx, cy, s = rng.uniform(0.2, 0.8), rng.uniform(0.0, 0.5), rng.uniform(0.2, 0.6)
        glow = rng.uniform(0.05, 0.6) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        sky = (glow[:, :, None] * ones).astype(np.float32)
        return Backdrop(kind, albedo, rng.uniform(0.2, 0.5), rng.uniform(0.15, 0.55), sky)
    if kind == "coloured_paper":
        hue = rng.uniform(0, 2 * np.pi)
        sat = rng.uniform(0.15, 0.6)
        col = 0.55 + sat * 0.45 * np.cos(hue + np.array([0, 2.1, 4.2]))
        col = dg.srgb_decode(np.clip(col * rng.uniform(0.6, 1.0), 0, 1))
        albedo = col * (1 + 0.03 * grain[:, :, None]) * ones
        return Backdrop(kind, albedo.astype(np.float32), rng.uniform(0.7, 1.0))
    if kind == "linen":
        period = rng.uniform(0.05, 0.12)  # thread spacing in piece radii
        uv = _floor_uv(floor_xy, rng, period, 1)
        weave = 0.5 + 0.25 * (np.sin(2 * np.pi * uv[:, :, 0]) + np.sin(2 * np.pi * uv[:, :, 1]))
        slub = dg.smooth_noise(rng, (h, w), 2.0)
        col = dg.srgb_decode(np.array([0.86, 0.82, 0.74]) * rng.uniform(0.7, 1.05))
        albedo = col * (0.82 + 0.18 * weave + 0.05 * slub)[:, :, None]
        return Backdrop(kind, albedo.astype(np.float32), rng.uniform(0.7, 1.0))
    if kind in TEXTURES:
        names = TEXTURES[kind]
        tex = _texture(names[int(rng.integers(len(names)))])
        period = rng.uniform(2.0, 8.0)  # one texture tile spans this many piece radii
        uv = _floor_uv(floor_xy, rng, period, tex.shape[1])
        gain = rng.uniform(0.75, 1.25) * (1 + rng.normal(0, 0.04, 3))
        albedo = np.clip(_sample_texture(tex, uv) * gain, 0.003, 0.95)
        strength = rng.uniform(0.7, 1.0)
        return Backdrop(kind, albedo.astype(np.float32), strength)
    raise ValueError(f"unknown backdrop {kind!r}; known: {sorted(BACKDROPS2)}")


# ---------------------------------------------------------------------------------------------
# Compositing (pure functions)


def disc_blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Defocus: convolution with a normalised disc of `radius` px (bokeh), per channel."""
    if radius < 0.5:
        return img
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    kernel /= kernel.sum()
    if img.ndim == 2:
        return ndimage.convolve(img, kernel, mode="nearest")
    return np.stack(
        [ndimage.convolve(img[:, :, c], kernel, mode="nearest") for c in range(img.shape[2])],
        -1,
    )


def reflect_colour(backdrop: Backdrop, light_field: np.ndarray) -> np.ndarray:
    """c: the mean radiance of the backdrop (relative to a white floor), per channel."""
    return (backdrop.albedo * light_field[:, :, None]).reshape(-1, 3).mean(axis=0)


def compose(
    layers: dict[str, np.ndarray], backdrop: Backdrop, piece_blur: float = 0.0
) -> dict[str, np.ndarray]:
    """Composites one piece's layers over `backdrop` (see the module docstring for the formula).

    Returns float32 "image" (H, W, 3) linear, and the exact truth "alpha", "metal", "gem",
    "detail", "shadow" and "reflection" (H, W) in 0..1, plus "backdrop" (the backdrop as seen
    behind the piece, for tests and for the clean plate).
    """
    alpha = np.clip(layers["alpha"], 0.0, 1.0)
    prop = np.clip(layers["prop"], 0.0, 1.0) if "prop" in layers else np.zeros_like(alpha)
    field = layers["light_field"]
    c = reflect_colour(backdrop, field)
    fg = layers["lights"] + c[None, None, :] * layers["sweep"]
    lit = backdrop.albedo * field[:, :, None]
    darkening = np.clip(backdrop.shadow_strength * layers["shadow"], 0.0, 1.0)
    shadowed = lit * (1 - darkening)[:, :, None]
    if backdrop.blur >= 0.5:
        lit = disc_blur(lit, backdrop.blur)
        shadowed = disc_blur(shadowed, backdrop.blur)
    lum = np.array([0.2126, 0.7152, 0.0722], np.float32)
    shadow = np.clip(1 - (shadowed @ lum) / np.maximum(lit @ lum, 1e-6), 0.0, 1.0)
    behind = shadowed
    reflection = np.zeros_like(alpha)
    if backdrop.mirror > 0:
        m_alpha = np.clip(layers["mirror_alpha"], 0.0, 1.0)
        sky = backdrop.sky if backdrop.sky is not None else np.zeros_like(lit)
        mirror = layers["mirror"] + (1 - m_alpha)[:, :, None] * sky
        if backdrop.blur >= 0.5:
            mirror = disc_blur(mirror, backdrop.blur)
            m_alpha = disc_blur(m_alpha, backdrop.blur)
        behind = behind + backdrop.mirror * mirror
        reflection = backdrop.mirror * m_alpha
    maps = {k: np.clip(layers[k], 0.0, 1.0) for k in ("metal", "gem", "detail")}
    if piece_blur >= 0.5:
        fg = disc_blur(fg, piece_blur)
        alpha = disc_blur(alpha, piece_blur)
        prop = disc_blur(prop, piece_blur)
        maps = {k: disc_blur(v, piece_blur) for k, v in maps.items()}
    covered = np.clip(alpha + prop, 0.0, 1.0)  # fg is premultiplied by piece + prop coverage
    image = fg + (1 - covered)[:, :, None] * behind
    return {
        "image": image.astype(np.float32),
        "alpha": alpha.astype(np.float32),
        "prop": prop.astype(np.float32),
        **{k: v.astype(np.float32) for k, v in maps.items()},
        "shadow": (shadow * (1 - covered)).astype(np.float32),
        "reflection": (reflection * (1 - covered)).astype(np.float32),
        "backdrop": behind.astype(np.float32),
    }


def crop_resize(arr: np.ndarray, top: float, left: float, side: float, out: int) -> np.ndarray:
    """The square window (top, left, side) of arr resampled to out x out px, bilinear.

    One linear filter for every layer: premultiplied colour and alpha stay consistent, so
    the composite of the resampled layers is the resampled composite of the originals.
    """
    t = (np.arange(out, dtype=np.float32) + 0.5) * (side / out) - 0.5
    ys, xs = np.meshgrid(top + t, left + t, indexing="ij")
    coords = [ys.ravel(), xs.ravel()]
    if arr.ndim == 2:
        res = ndimage.map_coordinates(arr, coords, order=1, mode="nearest")
        return res.reshape(out, out).astype(np.float32)
    chans = [
        ndimage.map_coordinates(arr[:, :, c], coords, order=1, mode="nearest")
        for c in range(arr.shape[2])
    ]
    return np.stack(chans, -1).reshape(out, out, arr.shape[2]).astype(np.float32)


def frame_layers(
    layers: dict[str, np.ndarray], rng: np.random.Generator, out: int
) -> tuple[dict[str, np.ndarray], dict]:
    """A random crop (72-100% of the rendered frame), resampled to `out` px, maybe mirrored."""
    size = layers["alpha"].shape[0]
    side = float(rng.uniform(0.72, 1.0)) * size
    top, left = (float(v) for v in rng.uniform(0, size - side, 2))
    flip = bool(rng.random() < 0.5)
    framed = {}
    for k, v in layers.items():
        if not isinstance(v, np.ndarray):
            continue
        r = crop_resize(v, top, left, side, out)
        framed[k] = r[:, ::-1].copy() if flip else r
    if flip:
        framed["floor_xy"][:, :, 0] *= -1  # the floor mirrors with the image
    return framed, {"crop": [round(top, 1), round(left, 1), round(side, 1)], "flip": flip}


# ---------------------------------------------------------------------------------------------
# The phone camera


def camera(
    linear: np.ndarray, metal: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Defects, exposure, white balance, vignetting, noise, sharpening and JPEG.

    linear: (H, W, 3) float32; metal: (H, W) coverage. Returns (shot uint8 sRGB (H, W, 3),
    defects (H, W) float32 0..1, facts). The truth maps are untouched: these act on the photo.
    """
    h, w, _ = linear.shape
    img = np.clip(linear, 0, None).astype(np.float32).copy()
    defects = np.zeros((h, w), np.float32)
    area = h * w / (128 * 128)
    counts = {
        "dust": int(rng.poisson(1.5 * area)),
        "lint": int(rng.poisson(0.3 * area)),
        "scratches": int(rng.poisson(0.6 * area)),
        "fingerprints": int(rng.poisson(0.2 * area)),
    }
    dg.add_fingerprints(img, defects, rng, counts["fingerprints"], metal)
    dg.add_scratches(img, defects, rng, counts["scratches"], metal)
    dg.add_dust(img, defects, rng, counts["dust"])
    dg.add_lint(img, defects, rng, counts["lint"])
    exposure = float(2.0 ** rng.normal(-0.15, 0.35))
    cast = np.exp(rng.normal(0, 0.07, 3)).astype(np.float32)
    cast /= cast.mean()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * rng.uniform(0, 0.6)
    img *= (exposure * vignette)[:, :, None] * cast[None, None, :]
    read, gain = rng.uniform(0.001, 0.01), rng.uniform(0.0, 0.006)
    noise = rng.standard_normal(img.shape).astype(np.float32)
    if rng.random() < 0.5:  # phone denoisers leave blotchy, low-frequency chroma noise
        noise = ndimage.gaussian_filter(noise, (0.8, 0.8, 0)) * 2.0
    img = img + noise * np.sqrt(read**2 + gain * np.clip(img, 0, None))
    enc = dg.srgb_encode(np.clip(img, 0, 1)).astype(np.float32)
    sharpen = float(rng.uniform(0.0, 1.2)) if rng.random() < 0.6 else 0.0
    if sharpen:  # phones sharpen the encoded image: halos on edges, crunchy noise
        radius = float(rng.uniform(0.7, 1.8))
        enc = enc + sharpen * (enc - ndimage.gaussian_filter(enc, (radius, radius, 0)))
    encoded = (np.clip(enc, 0, 1) * 255 + 0.5).astype(np.uint8)
    quality = int(rng.integers(55, 96)) if rng.random() < 0.8 else None
    if quality:
        encoded = dg.jpeg_roundtrip(encoded, quality)
    defects = np.where(defects > 0.1, defects, 0).astype(np.float32)
    facts = {
        **counts,
        "exposure": exposure,
        "cast": cast.tolist(),
        "noise": [read, gain],
        "sharpen": sharpen,
        "jpeg_quality": quality,
    }
    return encoded, defects, facts


# ---------------------------------------------------------------------------------------------
# Samples and data sets


def pick_backdrop(rng: np.random.Generator, table: dict[str, float] = BACKDROPS) -> str:
    kinds = list(table)
    p = np.array([table[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]


def make_composite(
    seed: int, piece: dict, size: int = 384, backdrop: str | None = None
) -> dict[str, np.ndarray]:
    """The sample of `seed` from one bank piece (`models.synth.pieces.load_piece`)."""
    rng = np.random.default_rng([seed, 21])
    layers, framing = frame_layers(piece, rng, size)
    table = BACKDROPS2 if catalog_of(seed) == 2 else BACKDROPS
    kind = backdrop or pick_backdrop(rng, table)
    bd = make_backdrop(kind, layers["floor_xy"], rng)
    bd.blur = float(rng.uniform(1.0, 7.0)) * size / 384 if rng.random() < 0.3 else 0.0
    piece_blur = float(rng.uniform(0.5, 1.5)) if rng.random() < 0.15 else 0.0
    comp = compose(layers, bd, piece_blur)
    clean = np.clip(comp["image"], 0.0, 1.0)
    shot, defects, facts = camera(comp["image"], comp["metal"], rng)
    meta = {
        "seed": seed,
        "piece": piece["meta"],
        "metal_kind": piece["meta"]["metal_kind"],
        "backdrop": kind,
        "shadow_strength": bd.shadow_strength,
        "mirror": bd.mirror,
        "backdrop_blur": bd.blur,
        "piece_blur": piece_blur,
        "size": size,
        **framing,
        "camera": facts,
    }
    to8 = lambda m: (np.clip(m, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return {
        "shot": shot,
        "clean": (dg.srgb_encode(clean) * 65535 + 0.5).astype(np.uint16),
        "piece": to8(comp["alpha"]),
        "alpha": (np.clip(comp["alpha"], 0, 1) * 65535 + 0.5).astype(np.uint16),
        "metal": to8(comp["metal"]),
        "gem": to8(comp["gem"]),
        "shadow": to8(comp["shadow"]),
        "defects": to8(defects),
        "detail": to8(comp["detail"]),
        "reflection": to8(comp["reflection"]),
        "prop": to8(comp["prop"]),
        "meta": np.array(json.dumps(meta)),
    }


def piece_for_sample(seed: int, bank: list[Path]) -> Path:
    """The bank file a sample uses: a function of the seed and the bank's (sorted) list."""
    return bank[int(np.random.default_rng([seed, 20]).integers(len(bank)))]


_piece_cache: dict[str, dict] = {}


def _load_cached(path: Path) -> dict:
    from models.synth.pieces import load_piece

    key = str(path)
    if key not in _piece_cache:
        if len(_piece_cache) >= 8:  # a few pieces in memory (about 20 MB each at 448 px)
            _piece_cache.pop(next(iter(_piece_cache)))
        _piece_cache[key] = load_piece(path)
    return _piece_cache[key]


def write_composite(folder: Path, seed: int, bank: list[Path], size: int) -> Path:
    path = sample_path(folder, seed)
    arrays = make_composite(seed, _load_cached(piece_for_sample(seed, bank)), size)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def _job(args: tuple[str, int, list[str], int]) -> int:
    folder, seed, bank, size = args
    write_composite(Path(folder), seed, [Path(b) for b in bank], size)
    return seed


def generate_composites(
    folder: Path,
    seeds,
    bank: list[Path],
    size: int = 384,
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Writes the samples of `seeds` (resumable: existing files are skipped)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(seeds)
    bank = sorted(Path(b) for b in bank)
    if not bank:
        raise ValueError("the piece bank is empty")
    todo = [s for s in seeds if not sample_path(folder, s).exists()]
    done = len(seeds) - len(todo)
    # Group by piece so each worker reloads a bank file rarely.
    todo.sort(key=lambda s: (str(piece_for_sample(s, bank)), s))
    jobs = [(str(folder), s, [str(b) for b in bank], size) for s in todo]
    if workers <= 1:
        for job in jobs:
            _job(job)
            done += 1
            if on_done:
                on_done(done, len(seeds))
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_job, jobs, chunksize=4):
                done += 1
                if on_done:
                    on_done(done, len(seeds))
    return [p for p in (sample_path(folder, s) for s in seeds) if p.exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.synth.composite",
        description="Write composited studio samples (renders the missing bank pieces first).",
    )
    parser.add_argument("--count", type=int, required=True, help="number of samples")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--start", type=int, default=None, help="first sample seed")
    parser.add_argument("--heldout", action="store_true", help="held-out split (seeds 1e6+)")
    parser.add_argument(
        "--bank", type=Path, default=None, help="piece bank (default OUT/../bank[_heldout])"
    )
    parser.add_argument("--pieces", type=int, default=BANK_PIECES, help="pieces in the bank")
    parser.add_argument("--size", type=int, default=384, help="sample side in px (>= 64)")
    parser.add_argument("--render-size", type=int, default=448, help="bank render side in px")
    parser.add_argument("--spp", type=int, default=32, help="samples per pixel of the renders")
    parser.add_argument("--workers", type=int, default=1, help="render and compositing processes")
    parser.add_argument(
        "--catalog",
        type=int,
        choices=(1, 2),
        default=1,
        help="1: the first catalog's pieces and backdrops (seeds 0+, held-out 1e6+); 2: also "
        "textured cabochons, coins, filigree, bar drops, fancy chains, hands and boxes "
        "(seeds 2e6+, held-out 3e6+)",
    )
    args = parser.parse_args(argv)
    if args.count < 0 or args.size < 64 or args.pieces < 1 or args.render_size < args.size // 2:
        print(
            "composite: need --count >= 0, --size >= 64, --pieces >= 1 and "
            "--render-size >= --size / 2",
            file=sys.stderr,
        )
        return 2
    if args.catalog == 2:
        base = CATALOG2_SEED_BASE + (HELDOUT_OFFSET if args.heldout else 0)
        bank_name = "bank2_heldout" if args.heldout else "bank2"
    else:
        base = HELDOUT_SEED_BASE if args.heldout else 0
        bank_name = "bank_heldout" if args.heldout else "bank"
    start = base if args.start is None else args.start
    last = start + max(args.count - 1, 0)
    if catalog_of(start) != args.catalog or catalog_of(last) != args.catalog:
        print(f"composite: seeds from {start} are not in catalog {args.catalog}", file=sys.stderr)
        return 2
    bank_dir = args.bank or args.out.parent / bank_name
    os.environ.setdefault("DRJIT_LIBLLVM_PATH", "/usr/lib/x86_64-linux-gnu/libLLVM-19.so")
    from models.synth.pieces import ensure_bank

    t0 = time.time()
    already = sum(sample_path(args.out, s).exists() for s in range(start, start + args.count))
    bank = ensure_bank(
        bank_dir, range(base, base + args.pieces), args.render_size, args.spp, workers=args.workers
    )
    t1 = time.time()

    def report(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"{done}/{total} samples", flush=True)

    paths = generate_composites(
        args.out, range(start, start + args.count), bank, args.size, args.workers, report
    )
    t2 = time.time()
    made = len(paths) - already
    rate = made / max(t2 - t1, 1e-9) * 60
    print(
        f"bank: {len(bank)} pieces in {bank_dir} ({t1 - t0:.1f} s); "
        f"{len(paths)} samples in {args.out}, {made} made now "
        f"({t2 - t1:.1f} s, {rate:.0f} samples/min)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
