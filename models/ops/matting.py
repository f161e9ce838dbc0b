"""Full-resolution alpha at the piece's edge, from the known backdrop.

On a studio sweep the backdrop behind every pixel is known: the fitted light field. A pixel of
the edge band mixes the piece's colour F with that backdrop colour B, so its distance from B
(log colour, the backdrop model's own residual) over the nearest pure piece pixel's distance
is its coverage. This resolves what the working-resolution masks cannot: a chain link, a
prong or a wire of one or two pixels, and a soft, anti-aliased outline in place of an
upsampled blur. The analysis's shadow map keeps the piece's own smooth shadow (darker, same
colour as the backdrop) from reading as coverage.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.ops.channels import channel_max

LOG_EPS = 0.01
MAX_WINDOW = 15  # full-resolution pixels searched for the nearest pure piece colour
EDGE_REACH = 4  # how many search windows from open backdrop a soft pixel is still an edge


def edge_alpha(
    rgb: np.ndarray,
    light: np.ndarray,
    shadow: np.ndarray,
    matte: np.ndarray,
    floor: float,
    window: int,
) -> np.ndarray:
    """The matte with its edge band (0 < matte < 1) re-estimated from the known backdrop.

    rgb: float32 (h, w, 3) linear photo (values below 0, from wide gamuts, count as 0);
    light: float32 (h, w, 3) the backdrop's light field at the same pixels;
    shadow: float32 (h, w) 0..1 the analysis's cast-shadow strength;
    matte: float32 (h, w) 0..1 the upsampled matte; floor: residual (log units) below which
    a pixel is backdrop (the backdrop's texture and noise); window: odd size of the search
    for the pure piece's residual. Returns float32 (h, w) 0..1; pixels outside the band are
    unchanged, so no new piece appears away from the analysis's outline.

    In the outer half of the band (matte < 0.5) the colour estimate replaces the matte (a
    blurred halo of backdrop goes, a fine chain stays); in the inner half it can only add
    coverage (a rim that mirrors the sweep keeps the analysis's word that it is piece).
    """
    # The band is the outline: soft pixels next to open backdrop. Soft values well inside the
    # piece (the guided upsampling follows the metal's own highlights) are not an edge, and
    # there a bright reflection would read as backdrop.
    band = (matte > 0) & (matte < 1)
    if not band.any():
        return matte
    # Within EDGE_REACH search windows of open backdrop (the network's halo is that wide at
    # full resolution); a square maximum filter is separable, so this costs little.
    exterior = (matte <= 0).astype(np.uint8)
    band &= ndimage.maximum_filter(exterior, size=2 * EDGE_REACH * window + 1) > 0
    # Wide-gamut inputs decode to slightly negative linear sRGB: clamp before the log.
    # The log ratio as one log of one quotient, worked in place (this runs on every tile).
    ratio = np.maximum(rgb, 0.0)
    ratio += np.float32(LOG_EPS)
    ratio /= light + np.float32(LOG_EPS)
    np.log(ratio, out=ratio)
    distance = channel_max(np.abs(ratio, out=ratio))
    # A shadow is smooth: where the analysis sees one and the residual does not vary from
    # pixel to pixel, the darkening it explains is the shadow's, not coverage. A fine chain
    # lying in its own shadow varies strongly, and keeps its alpha.
    variation = np.abs(distance - ndimage.gaussian_filter(distance, 1.5))
    smooth = np.clip(1.0 - variation / (2 * floor), 0.0, 1.0)
    explained = -np.log1p(-np.clip(shadow, 0.0, 0.95)) * smooth
    distance = np.maximum(distance - explained, 0.0)
    window = int(min(max(window, 3), MAX_WINDOW)) | 1
    pure = ndimage.maximum_filter(distance, size=window)
    alpha = np.clip((distance - floor) / np.maximum(pure - floor, floor), 0.0, 1.0)
    out = matte.copy()
    outer = band & (matte < 0.5)
    inner = band & ~outer
    out[outer] = alpha[outer]
    out[inner] = np.maximum(alpha[inner], matte[inner])
    return out.astype(np.float32)
