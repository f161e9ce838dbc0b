"""Backdrop modelling: a smooth per-channel light field fitted to the visible backdrop."""

from __future__ import annotations

import numpy as np

from models.ops.channels import channel_max

_LOG_EPS = 0.01


def _terms(degree: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]


def _basis_at(v: np.ndarray, u: np.ndarray, degree: int) -> np.ndarray:
    """(n, terms) float64 polynomial basis at coordinates v, u (normalised to -1..1)."""
    return np.stack([u**i * v**j for i, j in _terms(degree)], axis=1)


def _evaluate(coeffs: np.ndarray, v: np.ndarray, u: np.ndarray, degree: int) -> np.ndarray:
    """The fitted polynomials on the grid v x u, separably: V @ C @ U^T per channel."""
    powers_v = v[:, None] ** np.arange(degree + 1)
    powers_u = u[:, None] ** np.arange(degree + 1)
    out = np.empty((v.size, u.size, coeffs.shape[1]), dtype=np.float32)
    for c in range(coeffs.shape[1]):
        grid = np.zeros((degree + 1, degree + 1))
        for k, (i, j) in enumerate(_terms(degree)):
            grid[j, i] = coeffs[k, c]
        out[..., c] = powers_v @ grid @ powers_u.T
    return out


def log_residual(rgb: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """Per-pixel max over channels of |log(rgb) - log(backdrop)|: (h, w, 3) -> (h, w) float32."""
    diff = np.log(np.maximum(rgb, 0) + _LOG_EPS) - np.log(np.maximum(backdrop, 0) + _LOG_EPS)
    return channel_max(np.abs(diff)).astype(np.float32)


def _backdrop_cluster(log_lum: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Which pixels belong to the backdrop's brightness cluster on the border.

    When the piece runs off the frame, border pixels form two clusters (Otsu split of log
    luminance); the backdrop is the smoother one (smaller spread), which on the usual light
    backdrops is also the lighter one. Returns an (h, w) bool mask.
    """
    values = log_lum[border]
    med = np.median(values)
    mad = np.median(np.abs(values - med)) + 1e-4
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-3:
        return np.ones_like(border)
    hist, edges = np.histogram(values, bins=64, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * centres)
    total, total_mean = weight[-1], mean[-1]
    between = (total_mean * weight - mean * total) ** 2 / np.maximum(
        weight * (total - weight), 1e-9
    )
    split = centres[int(np.argmax(between[:-1]))]
    low, high = values[values <= split], values[values > split]
    if min(low.size, high.size) < 0.1 * values.size:
        return np.abs(log_lum - med) < max(6 * 1.4826 * mad, 0.1)

    def spread(v):
        return float(np.median(np.abs(v - np.median(v))))

    gap = abs(np.median(high) - np.median(low))
    if gap < 4 * max(spread(low), spread(high), 0.01):
        return np.abs(log_lum - med) < max(6 * 1.4826 * mad, 0.1)
    pick = high if spread(high) <= 1.5 * spread(low) else low
    centre = np.median(pick)
    return np.abs(log_lum - centre) < max(6 * 1.4826 * spread(pick), 0.1)


def fit_backdrop(
    rgb: np.ndarray, degree: int = 3, iterations: int = 4, max_samples: int = 16000
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit a smooth backdrop light field to the pixels that look like backdrop.

    rgb: (h, w, 3) float32 linear RGB, 0..1. Starts from the image border (where the backdrop
    nearly always shows), then alternates fitting a degree-`degree` polynomial per channel and
    re-selecting pixels whose log-colour residual is within the backdrop's own texture scale.
    Returns (backdrop (h, w, 3) float32 > 0, residual (h, w) float32, tau) where tau is the
    residual above which a pixel is not backdrop.
    """
    h, w, _ = rgb.shape
    v_full, u_full = np.linspace(-1, 1, h), np.linspace(-1, 1, w)
    half_size = max(h, w) > 400 and min(h, w) >= 4  # (a strip a few px high has no half)
    if half_size:
        # The light field is smooth: fit it on a half-size copy (pixel centres mapped to the
        # full grid's coordinates), evaluate it at full size, then re-measure tau there.
        hh, hw = h // 2, w // 2
        half = rgb[: hh * 2, : hw * 2].reshape(hh, 2, hw, 2, 3).mean(axis=(1, 3))
        v_half = -1 + 2 * (2 * np.arange(hh) + 0.5) / max(h - 1, 1)
        u_half = -1 + 2 * (2 * np.arange(hw) + 0.5) / max(w - 1, 1)
        coeffs, step, tau = _fit(half, degree, iterations, max_samples, v_half, u_half)
    else:
        coeffs, step, tau = _fit(rgb, degree, iterations, max_samples, v_full, u_full)
    if coeffs is None:
        backdrop = np.broadcast_to(np.median(rgb.reshape(-1, 3), axis=0), (h, w, 3))
    else:
        backdrop = np.maximum(_evaluate(coeffs, v_full, u_full, step), 1e-3)
    backdrop = np.ascontiguousarray(backdrop, dtype=np.float32)
    residual = log_residual(rgb, backdrop)
    if half_size:
        near = residual < 2 * tau
        if near.any():
            tau = float(np.clip(4.5 * 1.4826 * float(np.median(residual[near])), 0.045, 0.6))
    return backdrop, residual, tau


def _fit(rgb, degree: int, iterations: int, max_samples: int, v: np.ndarray, u: np.ndarray):
    """The iterative fit of `fit_backdrop`: (coefficients or None, their degree, tau)."""
    h, w, _ = rgb.shape
    # Low degrees first: a cubic fitted to a few border strips extrapolates wildly inside.
    schedule = [min(d, degree) for d in range(1, degree + 1)]
    schedule += [degree] * max(0, iterations - len(schedule))
    coord_v = np.repeat(v, w)
    coord_u = np.tile(u, h)
    flat = rgb.reshape(-1, 3).astype(np.float64)
    band = max(2, int(round(0.04 * min(h, w))))
    chosen = np.zeros((h, w), dtype=bool)
    chosen[:band], chosen[-band:], chosen[:, :band], chosen[:, -band:] = True, True, True, True
    # Border pixels far from the border's typical colour are the piece running off the frame.
    lum = np.log(rgb.mean(axis=-1) + _LOG_EPS)
    chosen &= _backdrop_cluster(lum, chosen)
    if chosen.sum() < 16:
        chosen[:band], chosen[-band:] = True, True
    tau = 0.05
    backdrop = np.broadcast_to(np.median(flat[chosen.ravel()], axis=0), (h, w, 3))
    coeffs, fitted = None, 1
    for step in schedule:
        idx = np.flatnonzero(chosen.ravel())
        if idx.size > max_samples:  # deterministic thinning
            idx = idx[:: idx.size // max_samples + 1]
        if idx.size < 3 * len(_terms(step)):
            break
        basis = _basis_at(coord_v[idx], coord_u[idx], step)
        coeffs, *_ = np.linalg.lstsq(basis, flat[idx], rcond=None)
        fitted = step
        backdrop = np.maximum(_evaluate(coeffs, v, u, step), 1e-3).astype(np.float32)
        residual = log_residual(rgb, backdrop)
        spread = 1.4826 * float(np.median(residual[chosen]))
        tau = float(np.clip(4.5 * spread, 0.045, 0.6))
        chosen = residual < tau
    return coeffs, fitted, tau


