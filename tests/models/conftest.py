"""Constructed photos with known right answers for the model tests.

Scenes are built in linear light: a clean catalog image (pieces on exact white) and the "photo"
of it (the clean image times an uneven, colour-cast light, plus sensor noise), encoded with
the sRGB curve written out here (not the model's own colour code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from models import load


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(linear, dtype=np.float64), 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    x = np.asarray(encoded, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_codes(linear: np.ndarray, depth: int = 8) -> np.ndarray:
    maximum = 255 if depth == 8 else 65535
    codes = np.round(srgb_encode(linear) * maximum)
    return codes.astype(np.uint8 if depth == 8 else np.uint16)


def from_codes(codes: np.ndarray) -> np.ndarray:
    maximum = 255 if codes.dtype == np.uint8 else 65535
    return srgb_decode(codes.astype(np.float64) / maximum)


# True metal colours (linear sRGB) at full light.
GOLD = srgb_decode(np.array([0.86, 0.70, 0.33]))
SILVER = srgb_decode(np.array([0.80, 0.80, 0.80]))
BLUE_CAST = np.array([0.80, 0.92, 1.12])


@dataclass
class Scene:
    clean: np.ndarray  # (h, w, 3) float64 linear, backdrop exactly 1.0
    photo: np.ndarray  # (h, w, 3) float64 linear, what the camera saw
    piece: np.ndarray  # (h, w) bool
    masks: dict  # name -> (h, w) bool

    def codes(self, depth: int = 8) -> np.ndarray:
        return to_codes(self.photo, depth)


def grid(h: int, w: int):
    return np.mgrid[0:h, 0:w].astype(np.float64)


def metal_shading(h: int, w: int) -> np.ndarray:
    """Structured reflections: broad bright and dark bands, as polished metal shows."""
    yy, xx = grid(h, w)
    return 0.55 + 0.4 * np.cos(xx / 23.0 + yy / 41.0) ** 2


def photograph(clean, cast=BLUE_CAST, top=0.48, bottom=0.66, noise=0.004, seed=0, piece=None):
    """Photograph the clean scene on a grey sweep under a coloured light: the backdrop (all
    but `piece`; by default where the clean image is exactly white) becomes a vertical grey
    gradient from `top` to `bottom` (times its own shading, such as a cast shadow); the piece
    is exposed as it is (its radiance does not depend on the sweep's grey level); both take
    the light's colour cast."""
    h, w, _ = clean.shape
    yy, _ = grid(h, w)
    sweep = (top + (bottom - top) * yy / (h - 1))[..., None]
    if piece is None:
        piece = ~(clean == 1.0).all(axis=-1)
    backdrop = ~np.asarray(piece, bool)[..., None]
    light = np.where(backdrop, sweep, 1.0) * np.asarray(cast)
    rng = np.random.default_rng(seed)
    photo = clean * light
    return np.clip(photo + rng.normal(0, noise, photo.shape) * np.sqrt(photo), 0, None)


def ring_scene(h=300, w=400, metal=GOLD, cast=BLUE_CAST, seed=0) -> Scene:
    """A ring (annulus: its hole is backdrop) and a bar of the same metal."""
    yy, xx = grid(h, w)
    r = np.hypot(yy - h * 0.5, xx - w * 0.35)
    ring = (r > 45) & (r < 85)
    bar = (yy > h * 0.3) & (yy < h * 0.7) & (xx > w * 0.68) & (xx < w * 0.85)
    piece = ring | bar
    clean = np.ones((h, w, 3))
    shade = metal_shading(h, w)
    clean[piece] = np.asarray(metal)[None] * shade[piece][:, None]
    return Scene(clean, photograph(clean, cast, seed=seed), piece, {"metal": piece, "ring": ring})


@pytest.fixture(scope="session", params=["classical", "default"])
def retoucher(request):
    """The pipeline with each analyzer: the image-analysis method alone, and the shipped
    default (models.load(): the hybrid of network and image analysis, models/net). Every
    quality check below must hold for both."""
    from models.analysis.classical import ClassicalAnalyzer
    from models.pipeline import Retoucher

    if request.param == "classical":
        return Retoucher(analyzer=ClassicalAnalyzer())
    return load()


@pytest.fixture(scope="session")
def product():
    """Exactly what the server ships: models.load()."""
    return load()


@pytest.fixture(scope="session")
def ring_photo() -> Scene:
    return ring_scene()


def hotspot_scene(h=240, w=320, metal=SILVER, cast=(1.0, 1.0, 1.0)) -> Scene:
    """A polished bar (silver by default) whose specular glow clips to 255 in the photo."""
    yy, xx = grid(h, w)
    bar = (yy > 60) & (yy < 180) & (xx > 60) & (xx < 260)
    clean = np.ones((h, w, 3))
    d2 = (yy - 120) ** 2 + (xx - 160) ** 2
    shade = metal_shading(h, w) * 0.8 + 2.6 * np.exp(-d2 / (2 * 9.0**2))
    clean[bar] = np.asarray(metal)[None] * shade[bar][:, None]
    photo = photograph(clean, cast=cast, noise=0.002)
    return Scene(clean, photo, bar, {"metal": bar})


def cleanup_scene(h=240, w=360, oy=0, ox=0) -> Scene:
    """Silver bar with one dust speck, a pave field of 3-px stones, a speck on the backdrop;
    (oy, ox) moves every feature that far down and right in a larger frame."""
    yy, xx = grid(h, w)
    yy, xx = yy - oy, xx - ox
    bar = (yy > 50) & (yy < 190) & (xx > 40) & (xx < 320)
    clean = np.ones((h, w, 3))
    shade = 0.75 + 0.15 * np.cos(xx / 50.0)
    clean[bar] = SILVER[None] * shade[bar][:, None]
    pave = np.zeros((h, w), dtype=bool)
    for cy in range(80, 165, 6):
        for cx in range(200, 300, 6):
            pave[oy + cy - 1 : oy + cy + 2, ox + cx - 1 : ox + cx + 2] = True
    photo_clean = clean.copy()
    photo_clean[pave] *= 0.35
    speck_metal = np.zeros((h, w), dtype=bool)
    speck_metal[oy + 119 : oy + 122, ox + 99 : ox + 102] = True
    speck_back = np.zeros((h, w), dtype=bool)
    speck_back[oy + 20 : oy + 23, ox + 180 : ox + 183] = True
    dusty = photo_clean.copy()
    dusty[speck_metal] *= 0.3
    dusty[speck_back] *= 0.35
    photo = photograph(dusty, cast=(1.0, 1.0, 1.0), noise=0.002, piece=bar)
    masks = {"pave": pave, "speck_metal": speck_metal, "speck_back": speck_back}
    return Scene(photo_clean, photo, bar, masks)


def gem_scene(h=260, w=320) -> Scene:
    """A gold ring shank carrying a faceted blue stone."""
    yy, xx = grid(h, w)
    r = np.hypot(yy - 150, xx - 160)
    shank = (r > 60) & (r < 85)
    stone = np.hypot(yy - 70, xx - 160) < 28
    shank &= ~stone
    clean = np.ones((h, w, 3))
    clean[shank] = GOLD[None] * metal_shading(h, w)[shank][:, None]
    angle = np.arctan2(yy - 70, xx - 160)
    facets = 0.35 + 0.5 * (np.floor((angle + np.pi) / (np.pi / 6)) % 2)
    facets = facets * (0.7 + 0.3 * np.cos(np.hypot(yy - 70, xx - 160) / 3.0))
    blue = srgb_decode(np.array([0.15, 0.25, 0.75]))
    clean[stone] = blue[None] * facets[stone][:, None]
    photo = photograph(clean, noise=0.003)
    return Scene(clean, photo, shank | stone, {"metal": shank, "gem": stone})


def fingerprint_scene(h=360, w=420) -> Scene:
    """A polished silver bar with broad reflections carrying a fingerprint (curved ridges,
    5-px period, +-6% of the light), crossing the 256-row tile boundary, next to an engraved
    pattern, a milgrain row and a pave field (real detail that must stay sharp).

    masks: print (the fingerprint patch), engraving, milgrain, pave (detail regions, boxes).
    """
    yy, xx = grid(h, w)
    bar = (yy > 60) & (yy < 320) & (xx > 30) & (xx < 390)
    clean = np.ones((h, w, 3))
    shade = 0.5 + 0.35 * np.cos(xx / 30.0 + yy / 55.0) ** 2  # broad structured reflections
    clean[bar] = SILVER[None] * shade[bar][:, None]
    detail = np.ones((h, w))
    engraving = (yy > 90) & (yy < 150) & (xx > 50) & (xx < 140)
    detail[engraving & ((xx + yy // 2) % 7 < 2)] = 0.55  # diagonal grooves
    milgrain = (yy > 296) & (yy < 304) & (xx > 50) & (xx < 370)
    beads = np.hypot(yy - 300, (xx % 6) - 3) < 1.6
    detail[milgrain & beads] = 0.5
    pave = (yy > 90) & (yy < 160) & (xx > 280) & (xx < 370)
    stones = ((yy % 6) >= 1) & ((yy % 6) <= 3) & ((xx % 6) >= 1) & ((xx % 6) <= 3)
    detail[pave & stones] = 0.35
    clean[bar] *= detail[bar][:, None]
    # The print: elliptic ridges, a whorl-like pattern, with a soft-edged envelope.
    cy, cx = 250.0, 200.0
    er = np.hypot((yy - cy) / 1.0, (xx - cx) / 1.3)
    envelope = np.clip((34.0 - er) / 6.0, 0, 1)
    ridges = np.sin(2 * np.pi * er / 5.0 + 0.4 * np.sin((xx - cx) / 9.0))
    smudged = clean.copy()
    smudged[..., :] *= (1 + 0.06 * envelope * ridges)[..., None] * bar[..., None] + ~bar[..., None]
    photo = photograph(smudged, cast=(1.0, 1.0, 1.0), noise=0.002, seed=4)
    masks = {
        "print": (er < 28) & bar,
        "engraving": engraving,
        "milgrain": milgrain,
        "pave": pave,
    }
    return Scene(clean, photo, bar, masks)


@pytest.fixture(scope="session")
def scenes():
    """The scene builders and colour helpers above, for test modules (importlib mode)."""
    import types

    names = [
        "GOLD",
        "SILVER",
        "BLUE_CAST",
        "Scene",
        "to_codes",
        "from_codes",
        "srgb_encode",
        "srgb_decode",
        "ring_scene",
        "hotspot_scene",
        "cleanup_scene",
        "gem_scene",
        "fingerprint_scene",
        "photograph",
        "metal_shading",
        "grid",
    ]
    return types.SimpleNamespace(**{n: globals()[n] for n in names})


class _FixedAnalyzer:
    """Stands in for image analysis (with a backdrop model) or v1: a fixed matte."""

    def __init__(self, matte, backdrop=None):
        self.matte, self.backdrop = matte, backdrop

    def analyse(self, rgb):
        from models.analysis import Analysis

        zero = np.zeros_like(self.matte)
        return Analysis(self.matte, self.matte.copy(), zero, zero, zero, "yellow_gold",
                        self.backdrop)


class _V2StandIn(_FixedAnalyzer):
    """Stands in for JewelNet v2: a fixed matte, and a prop map (empty)."""

    def analyse(self, rgb):
        from models.analysis import Analysis

        zero = np.zeros_like(self.matte)
        return Analysis(self.matte, self.matte.copy(), zero, zero, zero, None, props=zero)


@pytest.fixture(scope="session")
def keyed_hybrid():
    """make(rgb, v2_matte, **options) -> the hybrid analyzer on a backdrop that is no studio
    sweep (velvet, crumpled paper), with stand-ins: image analysis's backdrop model cannot
    fit its folds (tau at its cap) and its piece is v2's matte over 0.2 (it takes lit folds
    for piece), v1 the same, and v2 the given matte. options go to HybridAnalyzer
    (dark_backdrops, coloured_backdrops)."""
    from models.analysis import Backdrop
    from models.net.hybrid import HybridAnalyzer

    def make(rgb, v2_matte, **options):
        h, w = v2_matte.shape
        loose = Backdrop(rgb.copy(), np.full((h, w), 0.7, np.float32), 0.6)
        classical = (v2_matte > 0.2).astype(np.float32)
        return HybridAnalyzer(_FixedAnalyzer(classical, loose), _FixedAnalyzer(classical),
                              props_net=_V2StandIn(v2_matte), props_net_maps=("shadow",),
                              find_props=False, **options)

    return make
