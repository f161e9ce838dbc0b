"""The analyzer the pipeline uses by default: each map from whichever method won it.

Held-out results (models/MODEL_CARD.md) decide the split: JewelNet gives the piece matte, the
metal and gem masks and the cast shadow; the image-analysis method keeps the defect map (the
network finds far more defects but also flags some prong, pave and edge pixels, which the
retouch must never touch), the metal kind (no clear winner) and its backdrop model.

One repair on top: a blown-out highlight inside polished metal is backdrop-white, and the
network can leave it out of the matte (a white hole that the retouch would paint as
backdrop). Where the network's matte encloses a hole that the image-analysis method calls
piece (it tells real see-through holes, which fit its backdrop model, from such patches),
the hole is filled with the image-analysis maps.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.analysis import Analysis
from models.net.analyzer import NetAnalyzer

NET_MAPS = ("matte", "metal", "gem", "shadow")
BACKDROP_SURE = 0.05  # image-analysis matte below this: the pixel fits the backdrop model


class HybridAnalyzer:
    """Runs both analyzers on the same working-resolution photo and merges their maps.

    analyse(rgb_linear): float32 (h, w, 3) linear 0..1 -> Analysis with (h, w) maps 0..1.
    """

    name = "hybrid"

    def __init__(self, classical, net: NetAnalyzer | None = None) -> None:
        self.classical = classical
        self.net = net or NetAnalyzer()

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        base = self.classical.analyse(rgb_linear)
        learned = self.net.analyse(rgb_linear)
        solid = learned.matte > 0.5
        holes = ndimage.binary_fill_holes(solid) & ~solid
        fill = holes & (base.matte > 0.5)
        merged = {name: getattr(learned, name).astype(np.float32) for name in NET_MAPS}
        if fill.any():
            merged["matte"] = np.where(
                fill, np.maximum(base.matte, merged["matte"]), merged["matte"]
            )
            merged["metal"] = np.where(fill, base.metal, merged["metal"]).astype(np.float32)
            merged["gem"] = np.where(fill, base.gem, merged["gem"]).astype(np.float32)
            merged["shadow"] = np.where(fill, 0.0, merged["shadow"]).astype(np.float32)
        # The network's matte is soft and spills a few pixels onto the backdrop; the backdrop
        # model is exact where a pixel fits it. Where both call a pixel backdrop, it is backdrop
        # (so it comes out at exactly 255, and maps of the piece do not bleed onto it).
        backdrop = (merged["matte"] < 0.5) & (base.matte < BACKDROP_SURE)
        for name in ("matte", "metal", "gem"):
            merged[name] = np.where(backdrop, 0.0, merged[name]).astype(np.float32)
        for name, value in merged.items():
            setattr(base, name, value.astype(np.float32))
        base.extras = {
            **base.extras,
            "analyzer": "hybrid",
            "net_maps": list(NET_MAPS),
            "filled_from_classical": int(fill.sum()),
        }
        return base
