"""Quality metrics of domain.md "Measuring quality", on 8-bit sRGB images with ground truth.

All images are (h, w, 3) uint8 sRGB; masks are (h, w) bool.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.ops.lab import ciede2000, linear_srgb_to_lab


def _linear(codes: np.ndarray) -> np.ndarray:
    x = codes.astype(np.float64) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _lum(codes: np.ndarray) -> np.ndarray:
    return codes.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def background_metrics(out: np.ndarray, piece: np.ndarray, clearance: int = 2) -> dict:
    """White-mode background: fraction of true-background pixels (at least `clearance` px from
    the piece) at exactly 255, the worst corner value, and banding (largest step between the
    mean levels of adjacent background rows or columns, in codes)."""
    background = ~ndimage.binary_dilation(piece, iterations=clearance)
    white = (out == 255).all(axis=-1)
    corners = [out[:8, :8], out[:8, -8:], out[-8:, :8], out[-8:, -8:]]
    lum = np.where(background, _lum(out), np.nan)
    steps = []
    for axis in (0, 1):
        with np.errstate(all="ignore"):
            means = np.nanmean(lum, axis=1 - axis)
        means = means[~np.isnan(means)]
        if means.size > 1:
            steps.append(np.abs(np.diff(means)).max())
    return {
        "bg_white": float(white[background].mean()),
        "bg_worst_corner": int(min(int(c.min()) for c in corners)),
        "bg_banding": float(max(steps) if steps else 0.0),
    }


def metal_delta_e(out: np.ndarray, truth: np.ndarray, metal: np.ndarray) -> float:
    """Median CIEDE2000 between output and ground-truth metal (mask eroded by 1 px)."""
    inner = ndimage.binary_erosion(metal, iterations=1)
    if not inner.any():
        return float("nan")
    return float(
        np.median(
            ciede2000(
                linear_srgb_to_lab(_linear(out[inner])), linear_srgb_to_lab(_linear(truth[inner]))
            )
        )
    )


def clipped_fraction(img: np.ndarray, metal: np.ndarray) -> float:
    """Fraction of metal pixels clipped at 255 in any channel."""
    if not metal.any():
        return float("nan")
    return float((img[metal] == 255).any(axis=-1).mean())


def gradient_energy_ratio(out: np.ndarray, truth: np.ndarray, gem: np.ndarray) -> float:
    """Gradient energy inside the gem mask, output / ground truth (1.0 perfect, < 0.9 smeared)."""
    inner = ndimage.binary_erosion(gem, iterations=1)
    if not inner.any():
        return float("nan")

    def energy(img):
        gy, gx = np.gradient(_lum(img))
        return float((gy**2 + gx**2)[inner].mean())

    return energy(out) / max(energy(truth), 1e-9)


def max_gem_change(out: np.ndarray, photo: np.ndarray, gem: np.ndarray) -> int:
    """Largest code change in gem pixels between input and output (protect-gems: 0)."""
    inner = ndimage.binary_erosion(gem, iterations=1)
    if not inner.any():
        return 0
    return int(np.abs(out[inner].astype(int) - photo[inner].astype(int)).max())


def _deviation(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-pixel |luminance - median of the surrounding ring outside `mask`| (h, w)."""
    lum = _lum(img)
    ring = ndimage.binary_dilation(mask, iterations=4) & ~ndimage.binary_dilation(mask)
    filled = np.where(ring, lum, np.nan)
    labels, n = ndimage.label(ndimage.binary_dilation(mask, iterations=4))
    reference = np.zeros_like(lum)
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        values = filled[box][labels[box] == i]
        values = values[~np.isnan(values)]
        reference[box][labels[box] == i] = np.median(values) if values.size else lum[box].mean()
    return np.abs(lum - reference)


def defects_removed(out: np.ndarray, photo: np.ndarray, defects: np.ndarray) -> float:
    """Fraction of injected defect pixels whose deviation from their surroundings dropped to
    under a third of what the photo showed (tone-independent)."""
    if not defects.any():
        return float("nan")
    before = _deviation(photo, defects)[defects]
    after = _deviation(out, defects)[defects]
    visible = before > 6  # only defects that were visible at all
    if not visible.any():
        return float("nan")
    return float((after[visible] < before[visible] / 3).mean())


def detail_damaged(out: np.ndarray, truth: np.ndarray, detail: np.ndarray) -> float:
    """Fraction of prong/pave/edge/engraving pixels whose local detail (luminance minus its
    Gaussian blur, sigma 2 px) fell below half of the ground truth's."""
    if not detail.any():
        return float("nan")

    def high_pass(img):
        lum = _lum(img)
        return lum - ndimage.gaussian_filter(lum, 2)

    hp_truth, hp_out = high_pass(truth)[detail], high_pass(out)[detail]
    strong = np.abs(hp_truth) > 8
    if not strong.any():
        return float("nan")
    kept = np.sign(hp_out[strong]) == np.sign(hp_truth[strong])
    kept &= np.abs(hp_out[strong]) >= 0.5 * np.abs(hp_truth[strong])
    return float(1 - kept.mean())


def psnr(out: np.ndarray, truth: np.ndarray) -> float:
    mse = float(np.mean((out.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM of luminance (Gaussian window sigma 1.5, K1 0.01, K2 0.03, range 255)."""
    x, y = _lum(out), _lum(truth)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(a):
        return ndimage.gaussian_filter(a, 1.5, truncate=3.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def evaluate(out: np.ndarray, photo: np.ndarray, truth: np.ndarray, masks: dict) -> dict:
    """Every metric for one output image."""
    row = background_metrics(out, masks["piece"])
    row["metal_de2000"] = metal_delta_e(out, truth, masks["metal"])
    row["metal_clipped"] = clipped_fraction(out, masks["metal"])
    row["metal_clipped_truth"] = clipped_fraction(truth, masks["metal"])
    row["gem_energy"] = gradient_energy_ratio(out, truth, masks["gem"])
    row["defects_removed"] = defects_removed(out, photo, masks["defects"])
    row["detail_damaged"] = detail_damaged(out, truth, masks["detail"])
    row["psnr"] = psnr(out, truth)
    row["ssim"] = ssim(out, truth)
    return row
