"""Which analyzer the pipeline uses: the one place that knows both the image-analysis method
(models/analysis) and the network (models/net), so neither package imports the other's
implementation."""

from __future__ import annotations

from pathlib import Path

from models.analysis import Analyzer

PROPS_IN_DEFAULT = False
"""Whether the default hybrid runs JewelNet v2 to remove supports. Off: on the 126 real
development photos (2026-12-01) it changed three (e11, d104, d105), none visibly for the
better (a wavy edge inside e11's bangle, a little of a table edge), and its warning came up
where no support was; with the guards those photos needed it removes almost nothing on the
held-out renders either (models/MODEL_CARD.md). `--analyzer hybrid_props` runs it."""

V2_MAPS: tuple[str, ...] = ("shadow",)
"""The maps the default hybrid takes from JewelNet v2 instead of v1 (of "matte", "metal",
"gem", "shadow"), decided by the held-out renders and the real photos' verdicts
(models/MODEL_CARD.md): v2's cast shadow (fine-tuned, held-out shadow IoU 0.21 against v1's
0.16) changed 13 of the 126 development photos, for the better on e02 (a post v1 cut), d041,
e04 and d025 (less attached shadow), about the same on the others (e07: a faint band under
the studs, a little bumpier). v2's matte is not used: on real photos it erased part of e05's
shank, holed d010's coin and matte stones (d015, d016) and left shadow blobs on d009."""


def default_analyzer() -> Analyzer:
    """The analyzer the pipeline uses: JewelNet v1 for the matte, metal and gem maps,
    JewelNet v2 for the maps of V2_MAPS (v1's if v2 cannot be loaded; see
    models/MODEL_CARD.md), the image-analysis method for the rest; on a dark backdrop (black
    or navy velvet) JewelNet v2's matte settled by the velvet's colour
    (models/net/dark_backdrop.py), on paper of one strong colour the paper's colour with v2
    saying where the piece is (models/net/coloured_backdrop.py); the image-analysis method
    alone if the network cannot be loaded. With PROPS_IN_DEFAULT, JewelNet v2 also finds the
    supports to remove (felt pads, wax, clips)."""
    from models.analysis.classical import ClassicalAnalyzer

    try:
        from models.net.hybrid import HybridAnalyzer

        props = _props_net() if PROPS_IN_DEFAULT or V2_MAPS else None
        maps = V2_MAPS if props is not None else ()
        return HybridAnalyzer(
            ClassicalAnalyzer(),
            props_net=props,
            props_net_maps=maps,
            find_props=PROPS_IN_DEFAULT,
        )
    except (ImportError, OSError, RuntimeError, KeyError):
        return ClassicalAnalyzer()


def _props_net():
    try:
        from models.net.analyzer_v2 import V2Analyzer

        return V2Analyzer()
    except (ImportError, OSError, RuntimeError, KeyError):
        return None


ANALYZER_NAMES = (
    "default",
    "classical",
    "net",
    "v2",
    "hybrid_v1",
    "hybrid_props",
    "hybrid_v2",
    "hybrid_v2all",
    "hybrid_v2shadow",
)
"""Analyzers the evaluation tools can be asked for: the shipped default; image analysis alone;
JewelNet v1 or v2 alone; the hybrid with v1 only (no prop removal); with v1 and v2's props;
with v2's matte, metal and gem, v1's shadow and v2's props; with every map from v2; with v1's
matte, metal and gem and v2's cast shadow (no prop removal)."""


USES_V2 = ("v2", "hybrid_props", "hybrid_v2", "hybrid_v2all", "hybrid_v2shadow")
"""The names of ANALYZER_NAMES that run JewelNet v2 (and so take other v2 weights)."""


def analyzer_by_name(name: str, v2_weights: Path | None = None) -> Analyzer:
    """One of ANALYZER_NAMES (for the evaluation tools; the pipeline uses default_analyzer).
    v2_weights: a JewelNet v2 file to use instead of the shipped one (a candidate being
    judged); refused for analyzers without v2."""
    from models.analysis.classical import ClassicalAnalyzer

    if name not in ANALYZER_NAMES:
        raise ValueError(f"unknown analyzer {name!r} (one of {', '.join(ANALYZER_NAMES)})")
    if v2_weights is not None and name not in USES_V2:
        raise ValueError(f"analyzer {name!r} does not use JewelNet v2 weights")
    if v2_weights is not None and not Path(v2_weights).is_file():
        raise ValueError(f"v2 weights not found: {v2_weights}")
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
        return V2Analyzer(weights=v2_weights)
    if name == "hybrid_v1":
        return HybridAnalyzer(ClassicalAnalyzer())
    if name == "hybrid_v2shadow":
        return HybridAnalyzer(
            ClassicalAnalyzer(),
            props_net=V2Analyzer(weights=v2_weights),
            props_net_maps=("shadow",),
            find_props=False,
        )
    maps = {"hybrid_props": (), "hybrid_v2": ("matte", "metal", "gem")}.get(
        name, ("matte", "metal", "gem", "shadow")
    )
    return HybridAnalyzer(
        ClassicalAnalyzer(), props_net=V2Analyzer(weights=v2_weights), props_net_maps=maps
    )
