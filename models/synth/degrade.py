"""Turns a clean render into an "as shot" photo, with the mask of every defect it added.

All operators are pure functions on numpy arrays: images are float32 (H, W, 3) linear RGB in
0..1, masks float32 (H, W) in 0..1. The random draws all come from the generator passed in.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth noise (H, W) float32, zero mean, unit standard deviation, features about `sigma`
    px (backdrop grain, velvet pile, skin blotches)."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return n / max(float(n.std()), 1e-6)


def jpeg_roundtrip(encoded: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (h, w, 3) sRGB codes as they come back from a JPEG of `quality` (the camera's or
    the phone's compression artefacts)."""
    buf = io.BytesIO()
    Image.fromarray(encoded).save(buf, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear 0..1 -> sRGB-encoded 0..1 (IEC 61966-2-1 curve), same shape."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 -> linear 0..1, same shape."""
    x = np.clip(encoded, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def _paint(img: np.ndarray, defects: np.ndarray, alpha: np.ndarray, colour) -> None:
    """Composites `colour` over img with coverage `alpha` (H, W), in place; records it."""
    a = np.clip(alpha, 0.0, 1.0)[:, :, None]
    img *= 1 - a
    img += a * np.asarray(colour, dtype=np.float32).reshape(-1)[None, None, :]
    np.maximum(defects, a[:, :, 0], out=defects)


def _stroke(shape, points: np.ndarray, width: float) -> np.ndarray:
    """Antialiased coverage (H, W) of a polyline `points` (N, 2 as x, y) of `width` pixels."""
    h, w = shape
    canvas = np.zeros((h * 4, w * 4), np.float32)  # 4x supersampled
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=False):
        n = int(max(abs(x1 - x0), abs(y1 - y0)) * 8) + 2
        xs = np.clip(np.linspace(x0, x1, n) * 4, 0, w * 4 - 1).astype(int)
        ys = np.clip(np.linspace(y0, y1, n) * 4, 0, h * 4 - 1).astype(int)
        canvas[ys, xs] = 1.0
    canvas = ndimage.grey_dilation(canvas, size=max(int(round(width * 4)), 1))
    return canvas.reshape(h, 4, w, 4).mean(axis=(1, 3))


def add_dust(img, defects, rng, count: int) -> None:
    """Round specks 0.4..1.8 px radius, dark on light backdrops and light on dark ones."""
    h, w, _ = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.4, 1.8)
        alpha = np.clip(r + 0.5 - np.hypot(xx - cx, yy - cy), 0, 1) * rng.uniform(0.6, 1.0)
        local = img[int(cy) % h, int(cx) % w].mean()
        level = rng.uniform(0.02, 0.2) if local > 0.25 else rng.uniform(0.5, 0.9)
        _paint(img, defects, alpha, (level, level, level * rng.uniform(0.9, 1.0)))


def add_lint(img, defects, rng, count: int) -> None:
    """Thin curly fibres, 8..40 px long."""
    h, w, _ = img.shape
    for _ in range(count):
        n = int(rng.integers(6, 20))
        steps = rng.uniform(1.2, 2.2)
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.35, n))
        start = rng.uniform([0, 0], [w, h])
        pts = start + np.cumsum(np.stack([np.cos(heading), np.sin(heading)], 1) * steps, 0)
        alpha = _stroke((h, w), pts, rng.uniform(0.5, 1.0)) * rng.uniform(0.5, 0.9)
        local = img[int(start[1]) % h, int(start[0]) % w].mean()
        level = rng.uniform(0.05, 0.3) if local > 0.25 else rng.uniform(0.5, 0.85)
        _paint(img, defects, alpha, (level,) * 3)


def add_scratches(img, defects, rng, count: int, metal: np.ndarray) -> None:
    """Fine straight or gently curved hairline scratches on the metal."""
    h, w, _ = img.shape
    ys, xs = np.nonzero(metal > 0.5)
    if len(xs) == 0:
        return
    for _ in range(count):
        k = int(rng.integers(len(xs)))
        length = rng.uniform(4, 25)
        ang = rng.uniform(0, np.pi)
        t = np.linspace(-0.5, 0.5, 6)[:, None]
        pts = np.array([xs[k], ys[k]]) + t * length * np.array([np.cos(ang), np.sin(ang)])
        pts += (t**2) * rng.normal(0, 3, 2)
        alpha = _stroke((h, w), pts, rng.uniform(0.4, 0.8)) * metal * rng.uniform(0.35, 0.8)
        level = rng.uniform(0.75, 1.0) if rng.random() < 0.6 else rng.uniform(0.05, 0.2)
        _paint(img, defects, alpha, (level,) * 3)


def add_fingerprints(img, defects, rng, count: int, metal: np.ndarray) -> None:
    """Oily ridged smudges on metal: local haze that lifts shadows and dulls reflections."""
    h, w, _ = img.shape
    ys, xs = np.nonzero(metal > 0.5)
    if len(xs) == 0:
        return
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    hazy = ndimage.gaussian_filter(img, sigma=(2, 2, 0)) * 0.8 + 0.08
    for _ in range(count):
        k = int(rng.integers(len(xs)))
        rx, ry = rng.uniform(3, 10, 2)
        ang = rng.uniform(0, np.pi)
        dx, dy = xx - xs[k], yy - ys[k]
        u = (dx * np.cos(ang) + dy * np.sin(ang)) / rx
        v = (-dx * np.sin(ang) + dy * np.cos(ang)) / ry
        r = np.hypot(u, v)
        patch = np.clip(1.2 - r, 0, 1) * metal
        ridges = 0.5 + 0.5 * np.sin(2 * np.pi * r * max(rx, ry) / rng.uniform(1.4, 2.4))
        beta = patch * (0.25 + 0.35 * ridges) * rng.uniform(0.6, 1.0)
        img *= 1 - beta[:, :, None]
        img += beta[:, :, None] * hazy
        np.maximum(defects, np.where(patch > 0.15, np.minimum(patch * 2, 1), 0), out=defects)


def degrade(
    clean: np.ndarray, metal: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """An "as shot" version of `clean`.

    clean: float32 (H, W, 3) linear 0..1; metal: float32 (H, W) coverage 0..1.
    Returns (shot uint8 (H, W, 3) sRGB-encoded, defects float32 (H, W) 0..1, facts dict).
    """
    h, w, _ = clean.shape
    img = clean.astype(np.float32).copy()
    defects = np.zeros((h, w), np.float32)
    area = h * w / (128 * 128)
    counts = {
        "dust": int(rng.poisson(6 * area)),
        "lint": int(rng.poisson(0.8 * area)),
        "scratches": int(rng.poisson(2.0 * area)),
        "fingerprints": int(rng.poisson(0.5 * area)),
    }
    add_fingerprints(img, defects, rng, counts["fingerprints"], metal)
    add_scratches(img, defects, rng, counts["scratches"], metal)
    add_dust(img, defects, rng, counts["dust"])
    add_lint(img, defects, rng, counts["lint"])

    exposure = float(2.0 ** rng.normal(-0.1, 0.35))
    cast = np.exp(rng.normal(0, 0.06, 3)).astype(np.float32)
    cast /= cast.mean()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang)) * rng.uniform(0, 0.35)
    vignette = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * rng.uniform(0, 0.5)
    field = np.clip(1 - ramp - vignette, 0.4, 1.2)
    img *= (exposure * field)[:, :, None] * cast[None, None, :]

    blur = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0
    if blur:
        img = ndimage.gaussian_filter(img, sigma=(blur, blur, 0))
    read, gain = rng.uniform(0.001, 0.008), rng.uniform(0.0, 0.004)
    img = img + rng.normal(0, 1, img.shape).astype(np.float32) * np.sqrt(
        read**2 + gain * np.clip(img, 0, None)
    )
    encoded = (srgb_encode(img) * 255 + 0.5).astype(np.uint8)
    quality = int(rng.integers(60, 96)) if rng.random() < 0.7 else None
    if quality:
        encoded = jpeg_roundtrip(encoded, quality)
    defects = np.where(defects > 0.1, defects, 0).astype(np.float32)
    facts = {
        **counts,
        "exposure": exposure,
        "cast": cast.tolist(),
        "blur": blur,
        "jpeg_quality": quality,
    }
    return encoded, defects, facts
