"""The analyzer the pipeline uses by default: each map from whichever method won it.

Held-out results (models/MODEL_CARD.md) decide the split: JewelNet gives the piece matte, the
metal and gem masks and the cast shadow; the image-analysis method keeps the defect map (the
network finds far more defects but also flags some prong, pave and edge pixels, which the
retouch must never touch), the metal kind (no clear winner) and its backdrop model.
"""

from __future__ import annotations

import numpy as np

from models.analysis import Analysis
from models.net.analyzer import NetAnalyzer

NET_MAPS = ("matte", "metal", "gem", "shadow")


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
        for name in NET_MAPS:
            setattr(base, name, getattr(learned, name).astype(np.float32))
        base.extras = {**base.extras, "analyzer": "hybrid", "net_maps": list(NET_MAPS)}
        return base
