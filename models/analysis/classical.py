"""Image-analysis method: backdrop modelling, colour statistics and local texture.

Works on the working-resolution linear RGB photo and returns an `Analysis`:
- matte: pixels that do not fit the fitted backdrop light field and are not shadow;
  enclosed regions that fit the backdrop (holes of rings and chain links) stay backdrop.
- shadow: darker-than-backdrop, same-colour, smooth regions that touch the backdrop.
- metal / gem: inside the piece, gems are colours far from the metal's hue (coloured
  stones, opaque stones) or neutral regions dense with facet sparkle (diamonds, pave).
- metal_kind: from the metal's mid-tone chromaticity after the backdrop's cast is removed.
- defects: isolated specks and short scratches visible at working resolution.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.analysis import Analysis, Backdrop
from models.colour import LUMA
from models.ops.backdrop import fit_backdrop
from models.ops.channels import channel_max
from models.ops.lab import linear_srgb_to_lab
from models.ops.metal import classify_metal
from models.ops.regions import region_median
from models.ops.specks import find_specks
from models.ops.tone import COLOURED_CHROMA

_EIGHT = np.ones((3, 3), dtype=bool)
# A see-through hole shows the smooth backdrop; metal that only passes through the backdrop's
# level (the glow round a specular, a rim mirroring the sweep) has a log-luminance gradient
# above this (per working pixel) on top of three times the backdrop's own.
HOLE_MAX_GRADIENT = 0.03
# Local gradient energy (5-px mean of the log-luminance gradient) that marks metal structure:
# this many times the backdrop's own.
STRUCTURE_FACTOR = 6.0
# A soft shadow's median gradient energy stays under this (a 40 % shadow blurred by 8 px
# measures about 0.014); neutral metal's reflection bands measure 0.02 and more.
SHADOW_MAX_STRUCTURE = 0.018
# A shadow is darker than the backdrop model by at least this share of tau (in log units) and
# its colour departs from the backdrop's by at most SHADOW_TINT x tau.
# (Only on a clean sweep, where tau is at most CLEAN_SHADOW_TAU; otherwise darker by tau and
# within tau of the backdrop's colour.)
SHADOW_MIN_DARKENING, SHADOW_TINT, CLEAN_SHADOW_TAU = 0.3, 1.5, 0.25


def _remove_small(mask: np.ndarray, min_fraction: float, min_pixels: int) -> np.ndarray:
    labels, count = ndimage.label(mask, structure=_EIGHT)
    if count == 0:
        return mask
    areas = np.bincount(labels.ravel())[1:]
    keep = areas >= max(min_pixels, min_fraction * areas.max())
    return np.concatenate([[False], keep])[labels]


def _shadow_mask(rgb, backdrop, residual, tau, not_backdrop):
    """Darker, same-colour, smooth regions adjacent to the backdrop."""
    lum_ratio, chroma_dev = against_backdrop(rgb, backdrop)
    grad = log_gradient(rgb)
    # On a clean sweep a pixel can be off the backdrop model through one channel (a shadow on
    # a blue-grey sweep takes a cooler tint, lit by the sweep itself) while darker by less
    # than tau. On a loose fit (tau large) that would call half the piece shadow.
    if tau <= CLEAN_SHADOW_TAU:
        darker, tint = SHADOW_MIN_DARKENING * tau, max(SHADOW_TINT * tau, 0.08)
    else:
        darker, tint = tau, max(tau, 0.06)
    cand = not_backdrop & (lum_ratio < -darker) & (lum_ratio > -1.6)
    cand &= (chroma_dev < tint) & (grad < 0.05)
    labels, count = ndimage.label(cand, structure=_EIGHT)
    if count == 0:
        return cand
    backdrop_px = ~not_backdrop
    ring = ndimage.binary_dilation(cand, structure=_EIGHT) & ~cand
    touch = ndimage.sum(
        backdrop_px & ring, ndimage.grey_dilation(labels, size=3), range(1, count + 1)
    )
    edge = ndimage.sum(ring, ndimage.grey_dilation(labels, size=3), range(1, count + 1))
    keep = touch >= 0.25 * np.maximum(edge, 1)
    # A shadow is smooth across its area; bands of neutral metal under the same light are
    # darker than the sweep too, but carry the reflections' structure.
    energy = _gradient_energy(rgb)
    calm_px = ~not_backdrop
    calm = float(np.median(energy[calm_px])) if calm_px.any() else 0.0
    typical = region_median(energy, labels, count)
    keep &= typical <= max(STRUCTURE_FACTOR * calm, SHADOW_MAX_STRUCTURE)
    return np.concatenate([[False], keep])[labels]


def colour_departure(rgb: np.ndarray, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How each pixel departs from the backdrop's light, as vectors: (log luminance ratio
    (h, w) float, log colour departure (h, w, 3) float, the per-channel log ratio less its
    mean). rgb, light: (h, w, 3) linear (or (n, 3))."""
    ratio = np.log(np.maximum(rgb, 0) + 0.01) - np.log(np.maximum(light, 0) + 0.01)
    lum_ratio = ratio.mean(axis=-1)
    return lum_ratio, ratio - lum_ratio[..., None]


def against_backdrop(rgb: np.ndarray, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How each pixel departs from the backdrop's light: (log luminance ratio, log colour
    departure), each (h, w) float. rgb, light: (h, w, 3) linear. A shadow has a negative
    ratio and a small departure."""
    lum_ratio, departure = colour_departure(rgb, light)
    return lum_ratio, channel_max(np.abs(departure))


def log_gradient(rgb: np.ndarray) -> np.ndarray:
    """The log-luminance gradient magnitude (Sobel, per pixel): (h, w, 3) linear -> (h, w)."""
    log_lum = np.log(np.maximum(rgb @ LUMA, 0) + 0.01)
    return np.hypot(ndimage.sobel(log_lum, 0), ndimage.sobel(log_lum, 1)) / 8


def _gradient_energy(rgb: np.ndarray) -> np.ndarray:
    """Local structure: the 5-px mean of the log-luminance gradient magnitude, (h, w) float."""
    return ndimage.uniform_filter(log_gradient(rgb), 5)


class ClassicalAnalyzer:
    """The image-analysis `Analyzer` (no learned weights)."""

    name = "classical"

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        rgb = np.clip(rgb_linear.astype(np.float32), 0.0, 4.0)
        h, w, _ = rgb.shape
        backdrop, residual, tau = fit_backdrop(rgb)
        not_backdrop = residual >= tau
        shadow = _shadow_mask(rgb, backdrop, residual, tau, not_backdrop)
        piece = ndimage.binary_opening(not_backdrop & ~shadow, structure=_EIGHT)
        piece |= not_backdrop & ~shadow & ndimage.binary_dilation(piece, iterations=1)
        piece = _remove_small(piece, 0.01, 6)
        piece = self._fill_reflection_holes(piece, residual, tau, rgb)

        # A black frame fits a black "backdrop": keep the divisions finite.
        backdrop = np.maximum(backdrop, np.float32(1e-4))
        # The photo with the backdrop's colour divided out but its level kept: a grey sweep's
        # level says nothing about the piece's exposure (models/ops/tone.py).
        flat = rgb * ((backdrop @ LUMA)[..., None] / backdrop)
        backdrop_lab = linear_srgb_to_lab(np.median(backdrop.reshape(-1, 3), axis=0))
        if np.hypot(backdrop_lab[1], backdrop_lab[2]) > np.mean(COLOURED_CHROMA):
            # A coloured backdrop (wood, fabric) is not the light's colour: judge the metal's
            # colour as shot (at a mid-tone exposure) rather than against it.
            lum = rgb @ LUMA
            typical = float(np.median(lum[piece])) if piece.any() else float(np.median(lum))
            flat = rgb * (0.3 / max(typical, 1e-3))
        lab = linear_srgb_to_lab(flat).astype(np.float32)
        gem = self._gems(lab, piece)
        metal = piece & ~gem
        mid = metal & (lab[..., 0] > 30) & (lab[..., 0] < 95)
        kind = None
        metal_stats = {}
        if mid.sum() >= 8:
            a = float(np.median(lab[..., 1][mid]))
            b = float(np.median(lab[..., 2][mid]))
            kind = classify_metal(a, b)
            metal_stats = {"a": a, "b": b, "L": float(np.median(lab[..., 0][mid]))}

        p = np.sqrt(np.maximum(rgb @ LUMA, 0))
        defects = find_specks(p, 0.06, protect=ndimage.binary_dilation(gem, iterations=2))

        shadow_strength = np.where(shadow, 1 - np.clip((rgb @ LUMA) / (backdrop @ LUMA), 0, 1), 0)
        return Analysis(
            matte=piece.astype(np.float32),
            metal=metal.astype(np.float32),
            gem=gem.astype(np.float32),
            defects=defects.astype(np.float32),
            shadow=shadow_strength.astype(np.float32),
            metal_kind=kind,
            backdrop=Backdrop(backdrop, residual, float(tau)),
            extras={"metal_lab": metal_stats},
        )

    @staticmethod
    def _fill_reflection_holes(piece, residual, tau, rgb):
        """Fill enclosed non-piece regions that are mostly not backdrop-coloured.

        A ring's or chain link's hole fits the backdrop model and stays a hole; an enclosed
        region made of dark "shadow-like" metal or of thin parts the opening removed is filled,
        and so is any enclosed region of at most 12 working pixels or with strong gradients.
        (A reflection inside white metal that exactly matches the backdrop stays a hole.)
        """
        holes = ndimage.binary_fill_holes(piece) & ~piece
        labels, count = ndimage.label(holes, structure=_EIGHT)
        if count == 0:
            return piece
        gy, gx = np.gradient(np.log(np.maximum(rgb @ LUMA, 0) + 0.01))
        grad = np.hypot(gy, gx)
        calm = float(np.median(grad[~piece])) if (~piece).any() else 0.0
        fill = np.zeros(count + 1, dtype=bool)
        for i, box in enumerate(ndimage.find_objects(labels)):
            own = labels[box] == i + 1
            inner = ndimage.binary_erosion(own, iterations=1)
            inner = inner if inner.any() else own
            # Tiny enclosed bits (bright pave stones, glints) are piece even when
            # backdrop-coloured: a see-through gap that small is rarer than a sparkle.
            tiny = own.sum() <= 12
            not_backdrop = (residual[box][own] >= tau).mean() > 0.5
            # The backdrop seen through a hole is smooth; metal that merely matches its level
            # (the glow round a specular) carries strong gradients.
            textured = float(np.median(grad[box][inner])) > 3 * calm + HOLE_MAX_GRADIENT
            fill[i + 1] = tiny or not_backdrop or textured
        return piece | fill[labels]

    @staticmethod
    def _gems(lab: np.ndarray, piece: np.ndarray) -> np.ndarray:
        """Gems: colours off the metal's hue, or neutral regions dense with facet sparkle."""
        if not piece.any():
            return np.zeros_like(piece)
        L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
        chroma = np.hypot(a, b)
        hue = np.degrees(np.arctan2(b, a)) % 360
        metal_like = (chroma < 10) | ((hue > 20) & (hue < 115))
        ref = piece & metal_like & (L > 30) & (L < 95)
        if ref.sum() >= 8:
            am, bm = float(np.median(a[ref])), float(np.median(b[ref]))
        else:
            am, bm = 0.0, 0.0
        off_metal = np.hypot(a - am, b - bm)
        coloured = piece & (chroma > 12) & ~metal_like
        coloured |= piece & (off_metal > 18) & (chroma > 12) & (np.hypot(am, bm) < 8)
        # Facet sparkle: strong local light/dark alternation, dense over a compact area.
        local_max = ndimage.maximum_filter(L, size=5)
        local_min = ndimage.minimum_filter(L, size=5)
        contrasty = (local_max - local_min) > 0.45 * np.maximum(local_max, 1)
        inner = ndimage.binary_erosion(piece, structure=_EIGHT, iterations=2)
        dense = ndimage.uniform_filter(contrasty.astype(np.float32), 7) > 0.55
        sparkle = inner & dense & (chroma < 20)
        gem = ndimage.binary_opening(coloured | sparkle, structure=_EIGHT)
        gem = ndimage.binary_closing(gem, structure=_EIGHT, iterations=2) & piece
        gem = ndimage.binary_fill_holes(gem) & piece
        return _remove_small(gem, 0.0, 4)
