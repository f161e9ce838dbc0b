"""Which analyzer the pipeline uses: the one place that knows both the image-analysis method
(models/analysis) and the network (models/net), so neither package imports the other's
implementation."""

from __future__ import annotations

from models.analysis import Analyzer

MATTE_NETWORK = "v1"
"""The network the default hybrid takes its matte, metal, gem and shadow maps from ("v1" or
"v2"), decided by the held-out renders and the real photos' verdicts (models/MODEL_CARD.md)."""


def default_analyzer() -> Analyzer:
    """The analyzer the pipeline uses: the trained network for the matte, metal, gem and
    shadow maps (where it won on held-out renders, see models/MODEL_CARD.md), the
    image-analysis method for the rest; the image-analysis method alone if the network cannot
    be loaded. JewelNet v2 (when its weights are shipped) finds the supports to remove
    (felt pads, wax, clips); without it nothing is taken for a support."""
    from models.analysis.classical import ClassicalAnalyzer

    try:
        from models.net.hybrid import HybridAnalyzer

        props = _props_net()
        if MATTE_NETWORK == "v2" and props is not None:
            return HybridAnalyzer(ClassicalAnalyzer(), net=props, props_net=props)
        return HybridAnalyzer(ClassicalAnalyzer(), props_net=props)
    except (ImportError, OSError, RuntimeError, KeyError):
        return ClassicalAnalyzer()


def _props_net():
    try:
        from models.net.analyzer_v2 import V2Analyzer

        return V2Analyzer()
    except (ImportError, OSError, RuntimeError, KeyError):
        return None


ANALYZER_NAMES = ("default", "classical", "net", "v2", "hybrid_v1", "hybrid_v2")
"""Analyzers the evaluation tools can be asked for: the shipped default; image analysis alone;
JewelNet v1 or v2 alone; the hybrid with v1 (no prop removal); the hybrid with v2 as its
network (matte, metal, gem, shadow and props from v2)."""


def analyzer_by_name(name: str) -> Analyzer:
    """One of ANALYZER_NAMES (for the evaluation tools; the pipeline uses default_analyzer)."""
    from models.analysis.classical import ClassicalAnalyzer

    if name not in ANALYZER_NAMES:
        raise ValueError(f"unknown analyzer {name!r} (one of {', '.join(ANALYZER_NAMES)})")
    if name == "default":
        return default_analyzer()
    if name == "classical":
        return ClassicalAnalyzer()
    from models.net.analyzer import NetAnalyzer
    from models.net.analyzer_v2 import V2Analyzer
    from models.net.hybrid import HybridAnalyzer

    if name == "net":
        return NetAnalyzer()
    if name == "v2":
        return V2Analyzer()
    if name == "hybrid_v1":
        return HybridAnalyzer(ClassicalAnalyzer())
    v2 = V2Analyzer()
    return HybridAnalyzer(ClassicalAnalyzer(), net=v2, props_net=v2)
