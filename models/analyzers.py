"""Which analyzer the pipeline uses: the one place that knows both the image-analysis method
(models/analysis) and the network (models/net), so neither package imports the other's
implementation."""

from __future__ import annotations

from models.analysis import Analyzer


def default_analyzer() -> Analyzer:
    """The analyzer the pipeline uses: the trained network for the matte, metal, gem and
    shadow maps (where it won on held-out renders, see models/MODEL_CARD.md), the
    image-analysis method for the rest; the image-analysis method alone if the network cannot
    be loaded. JewelNet v2 (when its weights are shipped) finds the supports to remove
    (felt pads, wax, clips); without it nothing is taken for a support."""
    from models.analysis.classical import ClassicalAnalyzer

    try:
        from models.net.hybrid import HybridAnalyzer

        return HybridAnalyzer(ClassicalAnalyzer(), props_net=_props_net())
    except (ImportError, OSError, RuntimeError, KeyError):
        return ClassicalAnalyzer()


def _props_net():
    try:
        from models.net.analyzer_v2 import V2Analyzer

        return V2Analyzer()
    except (ImportError, OSError, RuntimeError, KeyError):
        return None
