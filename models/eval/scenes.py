"""Procedural jewelry scenes with exact ground truth, for the benchmark set.

A scene is drawn as scene radiance (linear RGB; speculars above 1) plus masks. The ground truth
is what a retoucher delivers: the piece on exact white, true metal colour, speculars rolled off
to about 90% (not clipped). The photo is the same radiance under uneven, colour-cast light with
the exposure of a real shoot (speculars clip), plus dust, lint, micro-scratches, a fingerprint
smudge, sensor noise and, for some scenes, JPEG compression.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

METALS_LINEAR = {  # true mid-tone colours, linear sRGB
    "yellow_gold": (0.70, 0.46, 0.10),
    "rose_gold": (0.68, 0.40, 0.30),
    "white_gold": (0.62, 0.60, 0.55),
    "silver": (0.60, 0.60, 0.60),
    "platinum": (0.52, 0.52, 0.51),
}


@dataclass
class Canvas:
    h: int
    w: int
    radiance: np.ndarray = field(init=False)
    piece: np.ndarray = field(init=False)
    metal: np.ndarray = field(init=False)
    gem: np.ndarray = field(init=False)
    detail: np.ndarray = field(init=False)  # prongs, pave, milgrain, engraving, fine edges

    def __post_init__(self) -> None:
        self.radiance = np.ones((self.h, self.w, 3))
        self.piece = np.zeros((self.h, self.w), bool)
        self.metal = np.zeros((self.h, self.w), bool)
        self.gem = np.zeros((self.h, self.w), bool)
        self.detail = np.zeros((self.h, self.w), bool)
        self.yy, self.xx = np.mgrid[0 : self.h, 0 : self.w].astype(np.float64)

    def paint_metal(self, mask: np.ndarray, kind: str, phase: float = 0.0) -> None:
        colour = np.array(METALS_LINEAR[kind])
        bands = 0.45 + 0.55 * np.cos(self.xx / 17.0 + self.yy / 29.0 + phase) ** 2
        self.radiance[mask] = colour * bands[mask][:, None]
        self.piece |= mask
        self.metal |= mask
        self.gem &= ~mask

    def specular(self, cy: float, cx: float, radius: float, peak: float = 3.0) -> None:
        """A bright specular glint on metal (radiance above 1: it clips in the photo)."""
        glow = peak * np.exp(-((self.yy - cy) ** 2 + (self.xx - cx) ** 2) / (2 * radius**2))
        self.radiance[self.metal] += glow[self.metal][:, None]

    def paint_gem(self, mask: np.ndarray, colour, facets: int = 8, cy=None, cx=None) -> None:
        cy = self.yy[mask].mean() if cy is None else cy
        cx = self.xx[mask].mean() if cx is None else cx
        angle = np.arctan2(self.yy - cy, self.xx - cx)
        dist = np.hypot(self.yy - cy, self.xx - cx)
        pattern = 0.3 + 0.6 * (np.floor((angle + np.pi) / (2 * np.pi / facets)) % 2)
        pattern *= 0.75 + 0.25 * np.cos(dist / 2.5)
        self.radiance[mask] = np.array(colour) * pattern[mask][:, None]
        self.piece |= mask
        self.gem |= mask
        self.metal &= ~mask

    def disc(self, cy, cx, r):
        return np.hypot(self.yy - cy, self.xx - cx) < r

    def annulus(self, cy, cx, r0, r1, squash=1.0):
        d = np.hypot((self.yy - cy) / squash, self.xx - cx)
        return (d > r0) & (d < r1)


def _ring_with_stone(c: Canvas, rng) -> None:
    c.paint_metal(c.annulus(c.h * 0.55, c.w * 0.5, 70, 92, squash=0.8), "yellow_gold")
    stone = c.disc(c.h * 0.55 - 80, c.w * 0.5, 26)
    for k in range(4):  # prongs: small metal claws, real detail
        a = np.pi / 4 + k * np.pi / 2
        prong = c.disc(c.h * 0.55 - 80 + 26 * np.sin(a), c.w * 0.5 + 26 * np.cos(a), 4)
        c.paint_metal(prong, "yellow_gold")
        c.detail |= prong
    c.paint_gem(stone & ~c.metal, (0.03, 0.08, 0.55), facets=10)
    c.specular(c.h * 0.55 + 40, c.w * 0.5 - 60, 5)


def _chain(c: Canvas, rng) -> None:
    for i, x in enumerate(np.arange(40, c.w - 40, 22)):
        y = c.h * 0.5 + 50 * np.sin(x / 90.0)
        squash = 0.55 if i % 2 else 1.0
        link = c.annulus(y, x, 8 if i % 2 == 0 else 6, 13 if i % 2 == 0 else 10, squash)
        c.paint_metal(link, "silver", phase=i)
        c.detail |= link & ~ndimage.binary_erosion(link)
    c.specular(c.h * 0.5, c.w * 0.4, 3, 2.5)


def _pave_band(c: Canvas, rng) -> None:
    band = c.annulus(c.h * 0.5, c.w * 0.5, 80, 112, squash=0.7)
    c.paint_metal(band, "rose_gold")
    pave = np.zeros_like(band)
    for y in range(int(c.h * 0.5 - 80), int(c.h * 0.5 - 58), 6):
        for x in range(int(c.w * 0.5 - 70), int(c.w * 0.5 + 70), 6):
            if band[y, x]:
                pave[y - 1 : y + 2, x - 1 : x + 2] = True
    sparkle = np.where(rng.random(pave.shape) > 0.5, 0.95, 0.15)
    c.radiance[pave] = sparkle[pave][:, None] * np.array([1.0, 1.0, 1.0])
    c.gem |= pave
    c.metal &= ~pave
    c.detail |= ndimage.binary_dilation(pave)
    c.specular(c.h * 0.5 + 60, c.w * 0.5 + 70, 6)


def _earrings(c: Canvas, rng) -> None:
    for cx in (c.w * 0.3, c.w * 0.7):
        hook = c.annulus(c.h * 0.3, cx, 14, 19)
        c.paint_metal(hook, "white_gold")
        drop = c.disc(c.h * 0.55, cx, 40) & ~c.disc(c.h * 0.55, cx, 24)
        c.paint_metal(drop, "white_gold", phase=1.0)
        c.paint_gem(c.disc(c.h * 0.55, cx, 22), (0.45, 0.05, 0.08), facets=8, cy=c.h * 0.55, cx=cx)
        c.specular(c.h * 0.55 - 30, cx + 20, 4)


def _pearl_pendant(c: Canvas, rng) -> None:
    bail = c.annulus(c.h * 0.28, c.w * 0.5, 10, 16)
    c.paint_metal(bail, "yellow_gold")
    cap = c.disc(c.h * 0.38, c.w * 0.5, 16)
    c.paint_metal(cap, "yellow_gold")
    pearl = c.disc(c.h * 0.58, c.w * 0.5, 55) & ~cap
    d = np.hypot(c.yy - (c.h * 0.58 - 20), c.xx - (c.w * 0.5 - 15))
    shade = 0.55 + 0.4 * np.exp(-(d**2) / 1500)
    c.radiance[pearl] = np.array([0.85, 0.78, 0.72]) * shade[pearl][:, None]
    c.piece |= pearl
    c.gem |= pearl
    for k in range(12):  # milgrain beads round the cap
        a = k * np.pi / 6
        bead = c.disc(c.h * 0.38 + 17 * np.sin(a), c.w * 0.5 + 17 * np.cos(a), 2)
        c.paint_metal(bead, "yellow_gold")
        c.detail |= bead


def _platinum_band(c: Canvas, rng) -> None:
    band = c.annulus(c.h * 0.5, c.w * 0.5, 85, 118, squash=0.6)
    c.paint_metal(band, "platinum")
    c.specular(c.h * 0.5 - 55, c.w * 0.5 - 40, 5)
    # Engraving: a regular run of short dark grooves.
    for x in range(int(c.w * 0.5 - 90), int(c.w * 0.5 + 90), 5):
        groove = (np.abs(c.xx - x) < 1) & (np.abs(c.yy - (c.h * 0.5 + 58)) < 5) & band
        c.radiance[groove] *= 0.35
        c.detail |= groove
    stone = c.disc(c.h * 0.5 - 62, c.w * 0.5, 14)
    c.paint_gem(stone, (0.05, 0.55, 0.50), facets=6)  # opaque turquoise-like stone


SCENES = {
    "ring_sapphire_gold": (
        _ring_with_stone,
        dict(metal="yellow_gold", cast=(0.82, 0.93, 1.12), light=(0.50, 0.66)),
    ),
    "chain_silver": (
        _chain,
        dict(metal="silver", cast=(1.10, 1.0, 0.82), light=(0.62, 0.50), jpeg=90),
    ),
    "pave_band_rose": (
        _pave_band,
        dict(metal="rose_gold", cast=(1.0, 1.0, 1.0), light=(0.56, 0.72)),
    ),
    "earrings_white_gold": (
        _earrings,
        dict(metal="white_gold", cast=(0.95, 1.0, 1.08), light=(0.80, 0.93)),
    ),
    "pearl_pendant_gold": (
        _pearl_pendant,
        dict(metal="yellow_gold", cast=(1.06, 1.0, 0.92), light=(0.45, 0.60)),
    ),
    "platinum_band": (
        _platinum_band,
        dict(metal="platinum", cast=(0.9, 1.0, 1.05), light=(0.58, 0.44), jpeg=92),
    ),
}


def _truth(radiance: np.ndarray, piece: np.ndarray) -> np.ndarray:
    """Catalog-ready linear image: white backdrop, speculars rolled off to ~90% (not clipped)."""
    out = radiance.copy()
    peak = out.max(axis=-1, keepdims=True)
    knee, ceiling = 0.45, 0.787
    over = np.maximum(peak - knee, 0)
    mapped = knee + (ceiling - knee) * (1 - np.exp(-over / (ceiling - knee)))
    out = np.where(peak > knee, out * mapped / np.maximum(peak, 1e-6), out)
    out[~piece] = 1.0
    return out


def _defects(c: Canvas, rng) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative defect field (h, w) and the injected defect mask."""
    field = np.ones((c.h, c.w))
    mask = np.zeros((c.h, c.w), bool)
    away = ~ndimage.binary_dilation(c.detail | c.gem, iterations=6)
    inner_metal = ndimage.binary_erosion(c.metal, iterations=4) & away
    backdrop = ~ndimage.binary_dilation(c.piece, iterations=6)
    for region, count in ((backdrop, 14), (inner_metal, 6)):
        ys, xs = np.nonzero(region)
        for i in rng.choice(ys.size, size=min(count, ys.size), replace=False):
            r = rng.uniform(1.0, 2.0)
            speck = c.disc(ys[i], xs[i], r)
            field[speck] *= rng.choice([0.35, 0.5, 1.6])
            mask |= speck
    ys, xs = np.nonzero(backdrop)
    for i in rng.choice(ys.size, size=2, replace=False):  # lint: a thin wavy fibre
        t = np.linspace(0, 1, 80)
        py = ys[i] + 25 * t + 4 * np.sin(9 * t)
        px = xs[i] + 30 * t * rng.choice([-1, 1])
        fibre = np.zeros_like(mask)
        iy, ix = np.round(py).astype(int), np.round(px).astype(int)
        ok = (iy >= 0) & (iy < c.h) & (ix >= 0) & (ix < c.w)
        fibre[iy[ok], ix[ok]] = True
        field[fibre] *= 0.55
        mask |= fibre
    ys, xs = np.nonzero(inner_metal)
    for i in rng.choice(ys.size, size=min(2, ys.size), replace=False):  # micro-scratches
        length = rng.integers(8, 16)
        line = (np.abs(c.yy - ys[i] - 0.3 * (c.xx - xs[i])) < 0.6) & (np.abs(c.xx - xs[i]) < length)
        line &= inner_metal
        field[line] *= 1.5
        mask |= line
    return field, mask


def build(name: str, h: int = 384, w: int = 512, seed: int = 0) -> dict[str, np.ndarray]:
    """Build one scene: returns uint8 arrays 'photo', 'truth' (RGB) and bool masks."""
    draw, look = SCENES[name]
    rng = np.random.default_rng(seed + sum(map(ord, name)))
    c = Canvas(h, w)
    draw(c, rng)
    # The sweep is a grey gradient (its level is the studio's choice, not the piece's); the
    # piece has one exposure of its own (the gradient's mean); both take the light's colour
    # cast. The truth is the piece as exposed, cast-free, on exact white.
    top, bottom = look["light"]
    exposure = (top + bottom) / 2
    truth = _truth(c.radiance * exposure, c.piece)
    sweep = (top + (bottom - top) * c.yy / (h - 1))[..., None]
    light = np.where(c.piece[..., None], exposure, sweep) * np.array(look["cast"])
    field, defects = _defects(c, rng)
    photo = c.radiance * light * field[..., None]
    photo += rng.normal(0, 1, photo.shape) * 0.006 * np.sqrt(np.clip(photo, 0, None))
    photo_codes = encode_srgb8(photo)
    if look.get("jpeg"):
        buffer = io.BytesIO()
        Image.fromarray(photo_codes).save(buffer, "JPEG", quality=look["jpeg"])
        photo_codes = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return {
        "photo": photo_codes,
        "truth": encode_srgb8(truth),
        "piece": c.piece,
        "metal": c.metal,
        "gem": c.gem,
        "defects": defects,
        "detail": c.detail,
    }


def metal_of(name: str) -> str:
    """The true metal of a scene."""
    return SCENES[name][1]["metal"]


def encode_srgb8(linear: np.ndarray) -> np.ndarray:
    """(h, w, 3) linear -> uint8 sRGB codes (clipped)."""
    x = np.clip(linear, 0, 1)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255).astype(np.uint8)
