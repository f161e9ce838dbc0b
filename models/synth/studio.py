"""Studio set-ups drawn at random: backdrops, light rigs, cards and the camera (plain data).

Nothing here touches the renderer; `models.synth.render` turns a `Studio` into a scene.
Distances are in centimetres and scale with the piece's bounding radius.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BACKDROPS = ("white", "grey_gradient", "bluegrey_gradient", "coloured", "fabric", "wood")
RIGS = ("softboxes", "light_tent", "hard_light")


@dataclass
class Light:
    shape: str  # "rectangle" (softbox) or "sphere" (hard light)
    position: np.ndarray
    size: float
    radiance: tuple[float, float, float]


@dataclass
class Card:
    position: np.ndarray
    size: float
    albedo: float  # 0.02 black card, 0.9 white card


@dataclass
class Camera:
    origin: np.ndarray
    target: np.ndarray
    fov: float  # degrees, horizontal


@dataclass
class Studio:
    backdrop: str
    texture: np.ndarray  # (256, 256, 3) float32 linear albedo 0..1
    rig: str
    lights: list[Light] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    ambient: float = 0.05
    camera: Camera | None = None
    texture_flipped: np.ndarray | None = None  # the texture as handed to the renderer


def _smooth_noise(rng: np.random.Generator, size: int, scale: int) -> np.ndarray:
    """Value noise in 0..1 of shape (size, size): a coarse random grid, bilinearly upsampled."""
    coarse = rng.random((scale + 1, scale + 1))
    t = np.linspace(0, scale, size)
    i = np.minimum(t.astype(int), scale - 1)
    f = t - i
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def backdrop_texture(kind: str, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Backdrop albedo texture, (size, size, 3) float32 linear 0..1; row 0 = front edge."""
    v = np.linspace(0, 1, size)[:, None, None]  # front -> top of the sweep
    u = np.linspace(0, 1, size)[None, :, None]
    if kind == "white":
        base = rng.uniform(0.78, 0.92) * np.ones((1, 1, 3))
        tex = base * (1 - 0.05 * v) + 0 * u
    elif kind == "grey_gradient":
        a, b = rng.uniform(0.35, 0.7), rng.uniform(0.1, 0.35)
        tex = (a + (b - a) * v) * np.ones((1, 1, 3)) + 0 * u
    elif kind == "bluegrey_gradient":
        tint = np.array([0.78, 0.88, 1.0]) * rng.uniform(0.9, 1.0)
        a, b = rng.uniform(0.4, 0.7), rng.uniform(0.08, 0.3)
        tex = (a + (b - a) * v) * tint + 0 * u
    elif kind == "coloured":
        hue = rng.uniform(0, 2 * np.pi)
        col = 0.45 + 0.3 * np.cos(hue + np.array([0, 2.1, 4.2]))
        tex = col * rng.uniform(0.5, 1.0) * (1 - 0.2 * v) + 0 * u
    elif kind == "fabric":
        f = rng.uniform(60, 140)
        weave = 0.5 + 0.25 * np.sin(2 * np.pi * f * u) * np.sin(2 * np.pi * f * v)
        col = rng.uniform(0.05, 0.7, 3) * np.array([1.0, 0.9, 0.9])
        grain = _smooth_noise(rng, size, 24)[:, :, None]
        tex = col * (0.75 + 0.25 * weave + 0.15 * (grain - 0.5))
    else:  # wood
        warp = _smooth_noise(rng, size, 6)[:, :, None]
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(15, 40) * u + 3 * warp))
        col = np.array([0.42, 0.24, 0.11]) * rng.uniform(0.6, 1.2)
        tex = col * (0.7 + 0.3 * rings) * (0.9 + 0.2 * _smooth_noise(rng, size, 40)[:, :, None])
    return np.clip(np.broadcast_to(tex, (size, size, 3)), 0.01, 0.95).astype(np.float32)


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    return np.array(
        [
            np.cos(elevation) * np.sin(azimuth),
            np.cos(elevation) * np.cos(azimuth),
            np.sin(elevation),
        ]
    )


def random_studio(rng: np.random.Generator, centre: np.ndarray, radius: float) -> Studio:
    """A studio around a piece of bounding `radius` centred at `centre`."""
    backdrop = str(rng.choice(BACKDROPS, p=[0.3, 0.17, 0.13, 0.13, 0.13, 0.14]))
    rig = str(rng.choice(RIGS, p=[0.5, 0.3, 0.2]))
    studio = Studio(backdrop, backdrop_texture(backdrop, rng), rig)
    cam_az = rng.uniform(-0.6, 0.6)  # camera in front (+y side), looking back at the sweep
    cam_el = np.radians(rng.uniform(15, 80))
    fov = rng.uniform(12, 40)
    fill = rng.uniform(0.7, 1.1)
    dist = radius / np.tan(np.radians(fov) / 2) / fill
    jitter = rng.normal(0, 0.12, 3) * radius
    jitter[2] = abs(jitter[2]) * 0.3
    target = centre + jitter
    studio.camera = Camera(target + dist * _direction(cam_az, cam_el), target, fov)

    n_soft = {"softboxes": int(rng.integers(1, 4)), "light_tent": 2, "hard_light": 1}[rig]
    for k in range(n_soft):
        d = radius * rng.uniform(4, 8)
        size = d * rng.uniform(0.5, 1.2)
        az = cam_az + rng.uniform(-1.7, 1.7)
        el = np.radians(rng.uniform(35, 85))
        power = (1.0 if k == 0 else rng.uniform(0.3, 0.7)) * d * d / (size * size) * 3.0
        warm = rng.normal(0, 0.03)
        studio.lights.append(
            Light(
                "rectangle",
                centre + d * _direction(az, el),
                size,
                (power * (1 + warm), power, power * (1 - warm)),
            )
        )
    if rig == "hard_light":
        d = radius * rng.uniform(6, 12)
        size = radius * rng.uniform(0.15, 0.4)
        power = 1.5 * d * d / (np.pi * size * size)
        az, el = cam_az + rng.uniform(-1.5, 1.5), np.radians(rng.uniform(30, 70))
        studio.lights.append(Light("sphere", centre + d * _direction(az, el), size, (power,) * 3))
    studio.ambient = rng.uniform(0.5, 0.9) if rig == "light_tent" else rng.uniform(0.03, 0.2)
    for _ in range(int(rng.integers(0, 4))):  # black and white cards shape metal reflections
        d = radius * rng.uniform(3.0, 5.0)
        az = cam_az + rng.choice([-1, 1]) * rng.uniform(1.4, 2.4)  # beside the set, off-frame
        el = np.radians(rng.uniform(5, 40))
        albedo = 0.02 if rng.random() < 0.5 else 0.9
        studio.cards.append(
            Card(centre + d * _direction(az, el), d * rng.uniform(0.4, 0.9), albedo)
        )
    return studio
