"""The hybrid analyzer on a clean sweep keeps the piece's cast shadow out of the piece, and
still takes in the fine parts the network misses (models/net/hybrid.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.analysis import Analysis, Backdrop


class _Fixed:
    def __init__(self, matte, backdrop=None):
        self.matte, self.backdrop = matte, backdrop

    def analyse(self, rgb):
        zero = np.zeros_like(self.matte)
        return Analysis(self.matte, self.matte.copy(), zero, zero, zero, None, self.backdrop)


def _scene():
    h, w = 60, 90
    light = np.full((h, w, 3), 0.8, np.float32)
    rgb = light.copy()
    net = np.zeros((h, w), np.float32)
    net[20:40, 10:30] = 1.0  # the piece the network found
    rgb[20:40, 10:30] = (0.6, 0.45, 0.2)  # gold
    yy, xx = np.mgrid[0:h, 0:w]
    soft = ndimage.gaussian_filter(((yy > 20) & (yy < 40) & (xx >= 30) & (xx < 45)) * 1.0, 3)
    rgb *= (1 - 0.3 * soft * (net < 0.5))[..., None]  # its smooth cast shadow to the right
    chain = (yy == 30) & (xx >= 0) & (xx < 10)  # a fine silver chain to the left
    rgb[chain | ((yy == 31) & (xx < 10) & (xx % 2 == 0))] = 0.35  # links: sharp, neutral
    classical = net.copy()
    classical[soft > 0.2] = 1.0  # image analysis attaches the shadow...
    classical[29:33, 0:10] = 1.0  # ...and sees the chain
    return rgb, light, net, classical, soft


def test_the_cast_shadow_stays_out_and_the_chain_comes_in():
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, soft = _scene()
    h, w = net.shape
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)  # clean, not precise
    merged = HybridAnalyzer(_Fixed(classical, sweep), _Fixed(net)).analyse(rgb)
    shadow_core = (soft > 0.5) & (net < 0.5)
    assert merged.matte[shadow_core].max() == 0.0
    assert (merged.matte[30, 1:9] == 1.0).all()
    # On a loose fit the colour test is not trusted, and image analysis's piece is taken in.
    loose = Backdrop(light, np.zeros((h, w), np.float32), 0.4)
    merged = HybridAnalyzer(_Fixed(classical, loose), _Fixed(net)).analyse(rgb)
    assert merged.matte[shadow_core].min() == 1.0
