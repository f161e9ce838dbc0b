"""Textured opaque stones: opal, moonstone, jade, turquoise with matrix, howlite, agate and
mother of pearl as albedo maps for the renderer.

Real catalogs are full of pale, mottled and veined cabochons on white card, and a matting
network trained on flat-coloured stones (the first catalog's turquoise, onyx, lapis, coral)
takes their pale patches for backdrop and holes them. Each stone here is an albedo texture
(linear RGB) drawn from its own generator, mapped onto the cabochon by a planar projection
(`planar_uv`). The values stay inside what the stones reflect (0.02-0.92), so no texture is
brighter than a white sweep.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.synth import geometry as g

TEXTURED_STONES: dict[str, tuple[float, float, float]] = {
    # name: mean linear albedo (what a flat-colour render of the stone would use)
    "opal": (0.74, 0.74, 0.72),
    "moonstone": (0.70, 0.72, 0.76),
    "jade": (0.22, 0.45, 0.25),
    "jade_pale": (0.55, 0.66, 0.50),
    "turquoise_matrix": (0.20, 0.52, 0.50),
    "howlite": (0.80, 0.80, 0.78),
    "agate": (0.45, 0.42, 0.40),
    "mother_of_pearl": (0.82, 0.81, 0.80),
}
"""Stones drawn by the second catalog (`models.synth.catalog2`); keys of optics.OPAQUE too."""

PALE_STONES = ("opal", "moonstone", "jade_pale", "howlite", "mother_of_pearl")
"""The ones nearly as light as a white backdrop: the hard case for a matte."""

TEXTURE_SIZE = 128


def _field(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Smooth noise (n, n), zero mean, unit std, periodic, features about `sigma` px."""
    f = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")
    return ((f - f.mean()) / (f.std() + 1e-9)).astype(np.float32)


def _veins(rng: np.random.Generator, n: int, sigma: float, width: float) -> np.ndarray:
    """A network of thin lines in [0, 1] (1 on a vein): where smooth noise crosses zero."""
    f = _field(rng, n, sigma)
    return np.exp(-((f / width) ** 2)).astype(np.float32)


def stone_texture(name: str, rng: np.random.Generator, n: int = TEXTURE_SIZE) -> np.ndarray:
    """The albedo map of one stone of kind `name` (a key of TEXTURED_STONES).

    Returns (n, n, 3) float32, linear RGB in [0.02, 0.92].
    """
    if name not in TEXTURED_STONES:
        raise ValueError(f"unknown textured stone {name!r}; known: {sorted(TEXTURED_STONES)}")
    base = np.array(TEXTURED_STONES[name], np.float32)
    ones = np.ones((n, n, 1), np.float32)
    if name == "opal":  # milky body with small pastel flecks of play of colour
        body = base * ones * (1 + 0.04 * _field(rng, n, 6)[:, :, None])
        hue = _field(rng, n, 5) * 2.5
        fleck = np.clip(_field(rng, n, 2.5) - 0.6, 0, None)[:, :, None]
        colour = 0.5 + 0.5 * np.stack([np.cos(hue), np.cos(hue + 2.1), np.cos(hue + 4.2)], -1)
        tex = body * (1 - 0.5 * fleck) + 0.5 * fleck * colour
    elif name == "moonstone":  # pale grey with a soft blue sheen across part of the dome
        yy, xx = np.mgrid[0:n, 0:n] / n
        cx, cy = rng.uniform(0.3, 0.7, 2)
        sheen = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.02, 0.08))[:, :, None]
        tex = base * ones * (1 + 0.05 * _field(rng, n, 10)[:, :, None])
        tex = tex * (1 - 0.3 * sheen) + 0.3 * sheen * np.array([0.55, 0.68, 0.9])
    elif name in ("jade", "jade_pale"):  # mottled greens, cloudy
        m = _field(rng, n, 8)[:, :, None]
        tex = base * ones * (1 + 0.25 * m) * (1 + 0.08 * _field(rng, n, 2)[:, :, None])
        tex[:, :, 1:2] *= 1 + 0.1 * m  # the darker clouds are greener
    elif name == "turquoise_matrix":  # blue-green with brown-black matrix veins
        vein = _veins(rng, n, 7, 0.12)[:, :, None]
        tex = base * ones * (1 + 0.12 * _field(rng, n, 5)[:, :, None])
        matrix = np.array([0.12, 0.08, 0.05]) * rng.uniform(0.3, 1.2)
        tex = tex * (1 - vein) + matrix * vein
    elif name == "howlite":  # white with grey veins
        vein = _veins(rng, n, 9, 0.08)[:, :, None]
        tex = base * ones * (1 + 0.03 * _field(rng, n, 4)[:, :, None])
        tex = tex * (1 - 0.8 * vein) + 0.8 * vein * np.array([0.25, 0.25, 0.26])
    elif name == "agate":  # concentric bands of greys, browns and milky white
        yy, xx = np.mgrid[0:n, 0:n] / n - 0.5
        r = np.hypot(xx * rng.uniform(0.8, 1.2), yy) + 0.04 * _field(rng, n, 10)
        bands = 0.5 + 0.5 * np.sin(2 * np.pi * r * rng.uniform(6, 14))
        light = np.array([0.80, 0.79, 0.78])
        dark = np.array([0.30, 0.22, 0.16]) * rng.uniform(0.5, 1.5)
        tex = dark + (light - dark) * bands[:, :, None]
    else:  # mother_of_pearl: white with iridescent pastel streaks
        streak = _field(rng, n, 4)
        streak = ndimage.gaussian_filter(streak, (1, 6), mode="wrap")  # stretched along one axis
        hue = streak * 3.0
        colour = 0.5 + 0.5 * np.stack([np.cos(hue), np.cos(hue + 2.1), np.cos(hue + 4.2)], -1)
        tex = base * ones * (1 - 0.15 * np.abs(streak)[:, :, None]) + 0.1 * colour
    return np.clip(tex, 0.02, 0.92).astype(np.float32)


def planar_uv(mesh: g.Mesh, radius: float) -> g.Mesh:
    """`mesh` with texture coordinates projected from above: (x, y) / (2 radius) + 0.5."""
    uv = mesh.vertices[:, :2] / (2 * radius) + 0.5
    return g.Mesh(mesh.vertices, mesh.faces, np.clip(uv, 0, 1))


__all__ = ["PALE_STONES", "TEXTURED_STONES", "TEXTURE_SIZE", "planar_uv", "stone_texture"]
