"""The second catalog's backdrops: a hand holding the piece, and an open jewelry box.

Phone photos show pieces on a palm or fingers and in their boxes far more often than on a
sweep. Both are backdrop here (the truth matte is the piece alone), so the network learns that
skin and a box's cushion and walls are not jewelry. Each is an albedo over the floor's
coordinates (in piece radii, the piece near (0, 0)) with what lies around it: the hand's
surroundings and the table under the box come from the first catalog's backdrops.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from models.synth import degrade as dg

KINDS = ("hand", "box")

SKIN_LIGHT = (0.93, 0.77, 0.66)
SKIN_DARK = (0.34, 0.22, 0.16)
"""sRGB ends of the skin tones drawn (a hand's albedo lies between them)."""

_SURROUNDS = ("white_sweep", "grey_sweep", "linen", "wood", "fabric", "black_velvet")
_TABLES = ("white_card", "wood", "marble", "linen", "grey_sweep")
_CUSHIONS = {  # sRGB colour of the box's cushion: velvet or satin
    "black": (0.05, 0.05, 0.055),
    "navy": (0.06, 0.08, 0.2),
    "burgundy": (0.32, 0.06, 0.1),
    "cream": (0.9, 0.85, 0.74),
    "white": (0.93, 0.93, 0.92),
    "grey": (0.45, 0.45, 0.46),
    "green": (0.08, 0.25, 0.15),
}


def _capsule_distance(xy: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (H, W) of each floor point to the segment a-b."""
    ab = b - a
    t = np.clip(((xy - a) @ ab) / max(float(ab @ ab), 1e-9), 0, 1)
    return np.linalg.norm(xy - (a + t[..., None] * ab), axis=-1)


def hand_inside(floor_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How far inside a hand each floor point lies, in piece radii (< 0 outside): a palm
    under the piece and four fingers and a thumb, in a random pose. (H, W) float32."""
    centre = rng.uniform(-0.4, 0.4, 2)
    angle = rng.uniform(0, 2 * np.pi)
    scale = rng.uniform(0.9, 1.8)
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-u[1], u[0]])
    local = np.stack([(floor_xy - centre) @ u, (floor_xy - centre) @ v], -1) / scale
    palm = 1.0 - np.hypot(local[..., 0] / 1.3, local[..., 1] / 1.1)  # ellipse, ~radius 1
    inside = palm * 1.1
    spread = rng.uniform(0.08, 0.22)
    for k, length in enumerate(rng.uniform(1.3, 2.1, 4)):
        a = np.array([1.0, -0.75 + 0.5 * k])
        direction = np.array([np.cos(spread * (k - 1.5)), np.sin(spread * (k - 1.5))])
        dist = _capsule_distance(local, a, a + direction * length)
        inside = np.maximum(inside, 0.24 - dist)
    thumb = _capsule_distance(local, np.array([-0.2, -1.0]), np.array([0.9, -1.9]))
    inside = np.maximum(inside, 0.27 - thumb)
    return (inside * scale).astype(np.float32)


def hand_albedo(floor_xy: np.ndarray, rng: np.random.Generator, surround: np.ndarray) -> np.ndarray:
    """Skin over `surround` (H, W, 3 linear albedo) where the hand is. (H, W, 3) float32."""
    h, w = floor_xy.shape[:2]
    inside = hand_inside(floor_xy, rng)
    tone = rng.uniform(0, 1)
    skin = dg.srgb_decode(np.array(SKIN_LIGHT) * (1 - tone) + np.array(SKIN_DARK) * tone)
    blotch = dg.smooth_noise(rng, (h, w), 12)
    redness = np.array([1.0, 0.94, 0.94]) ** np.clip(blotch, -2, 2)[..., None]
    # fine lines where the noise crosses 0
    creases = np.exp(-((dg.smooth_noise(rng, (h, w), 5) / 0.08) ** 2))
    # a curved body: darker towards the outline, where the surface turns from the light
    round_ = 0.6 + 0.4 * np.clip(inside / 0.35, 0, 1) ** 0.5
    albedo = skin * redness * (round_ * (1 - 0.25 * creases))[..., None]
    cover = np.clip(inside / 0.03 + 0.5, 0, 1)[..., None]  # a soft, anti-aliased outline
    return (cover * albedo + (1 - cover) * surround).astype(np.float32)


def box_albedo(floor_xy: np.ndarray, rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    """The inside of an open jewelry box (a velvet or satin cushion with the ring's slit,
    its walls) on `table` (H, W, 3 linear). (H, W, 3) float32."""
    h, w = floor_xy.shape[:2]
    name = list(_CUSHIONS)[int(rng.integers(len(_CUSHIONS)))]
    cushion = dg.srgb_decode(np.array(_CUSHIONS[name]) * rng.uniform(0.8, 1.15))
    x, y = floor_xy[..., 0], floor_xy[..., 1]
    half = rng.uniform([1.4, 1.2], [3.2, 2.6])
    centre = rng.uniform(-0.3, 0.3, 2)
    pile = 1 + 0.25 * dg.smooth_noise(rng, (h, w), 0.7) + 0.15 * dg.smooth_noise(rng, (h, w), 8)
    slit_y = rng.uniform(-0.4, 0.1)
    slit = np.exp(-(((y - slit_y) / rng.uniform(0.03, 0.08)) ** 2))
    # the cushion bulges either side of the slit: lighter on top, darker into it
    bulge = 1 + 0.25 * np.tanh((np.abs(y - slit_y) - 0.15) / 0.2)
    inner = cushion * (np.clip(pile, 0.3, None) * bulge * (1 - 0.7 * slit))[..., None]
    wall_w = rng.uniform(0.15, 0.45)
    wall_colour = dg.srgb_decode(
        np.clip(np.array(_CUSHIONS[name]) * rng.uniform(0.7, 1.6), 0, 0.95)
        if rng.random() < 0.6
        else np.array(_CUSHIONS[list(_CUSHIONS)[int(rng.integers(len(_CUSHIONS)))]])
    )
    dx = np.abs(x - centre[0]) - half[0]
    dy = np.abs(y - centre[1]) - half[1]
    out = np.maximum(dx, dy)  # > 0 outside the cushion
    wall_shade = 0.7 + 0.3 * np.clip(out / wall_w, 0, 1)
    albedo = np.where(
        (out <= 0)[..., None],
        inner,
        np.where((out <= wall_w)[..., None], wall_colour * wall_shade[..., None], table),
    )
    return ndimage.gaussian_filter(albedo, (0.6, 0.6, 0)).astype(np.float32)


def make(
    kind: str,
    floor_xy: np.ndarray,
    rng: np.random.Generator,
    base: Callable[[str, np.ndarray, np.random.Generator], np.ndarray],
) -> tuple[np.ndarray, float]:
    """The albedo (H, W, 3, linear float32) and shadow strength of a `kind` backdrop;
    `base(kind, floor_xy, rng)` gives a first-catalog backdrop's albedo for the surround."""
    if kind == "hand":
        surround = base(_SURROUNDS[int(rng.integers(len(_SURROUNDS)))], floor_xy, rng)
        return hand_albedo(floor_xy, rng, surround), float(rng.uniform(0.6, 0.95))
    if kind == "box":
        table = base(_TABLES[int(rng.integers(len(_TABLES)))], floor_xy, rng)
        return box_albedo(floor_xy, rng, table), float(rng.uniform(0.6, 1.0))
    raise ValueError(f"unknown backdrop {kind!r}; known: {KINDS}")


__all__ = ["KINDS", "SKIN_DARK", "SKIN_LIGHT", "box_albedo", "hand_albedo", "hand_inside", "make"]
