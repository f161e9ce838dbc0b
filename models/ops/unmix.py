"""The piece's own colour at its edge, where it mixes with a known, coloured backdrop.

An edge pixel of coverage alpha records alpha x F + (1 - alpha) x B: the piece's colour F and
the backdrop's B behind it. Composited onto white as it is, it keeps (1 - alpha) x B: on a
grey sweep that is a neutral rim nobody sees, on magenta paper a lilac fringe round every
link of a gold chain. With B known, F is (pixel - (1 - alpha) x B) / alpha.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Below this coverage F is not solved for (the division would amplify noise): the pixel's
# backdrop part is still removed, and its colour scaled as at this coverage.
ALPHA_FLOOR = 0.1
# Working-resolution px over which the backdrop's colour is spread under the piece, and kept
# between the piece and the backdrop pixels it is measured on.
SPREAD_SIGMA, SPREAD_GAP = 6.0, 2


def backdrop_colour(rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The backdrop's local colour everywhere, the piece's footprint included.

    rgb: float32 (h, w, 3) linear 0..1; matte: float32 (h, w) 0..1 (the piece). Returns float32
    (h, w, 3): a normalised Gaussian average (SPREAD_SIGMA) of the pixels at least SPREAD_GAP
    px clear of the piece; where none is near, their median.
    """
    clear = ~ndimage.binary_dilation(matte > 0, iterations=SPREAD_GAP)
    if not clear.any():
        return np.array(rgb, dtype=np.float32, copy=True)
    weight = ndimage.gaussian_filter(clear.astype(np.float32), SPREAD_SIGMA)
    spread = np.stack(
        [ndimage.gaussian_filter(np.where(clear, rgb[..., c], 0.0), SPREAD_SIGMA)
         for c in range(3)], axis=-1
    )
    median = np.median(rgb[clear], axis=0)
    near = weight > 1e-3
    out = np.where(near[..., None], spread / np.maximum(weight, 1e-3)[..., None], median)
    return out.astype(np.float32)


def unmix(rgb: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """The piece's colour where alpha is strictly between 0 and 1; elsewhere `rgb` as it is.

    rgb: float32 (h, w, 3) linear; alpha: float32 (h, w) 0..1, the piece's coverage;
    backdrop: float32 (h, w, 3) linear, the backdrop's colour behind each pixel. Returns
    float32 (h, w, 3), >= 0: (rgb - (1 - alpha) x backdrop) / max(alpha, ALPHA_FLOOR).
    Composited as alpha x F + (1 - alpha) x white it gives the photo with the backdrop's part
    replaced by white.
    """
    edge = (alpha > 0) & (alpha < 1)
    if not edge.any():
        return rgb
    a = alpha[edge][:, None]
    piece = (rgb[edge] - (1 - a) * backdrop[edge]) / np.maximum(a, ALPHA_FLOOR)
    out = np.array(rgb, dtype=np.float32, copy=True)
    out[edge] = np.maximum(piece, 0.0)
    return out


__all__ = ["backdrop_colour", "unmix"]
