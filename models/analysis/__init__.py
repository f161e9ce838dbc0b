"""The analysis seam: what the pipeline needs to know about a photo, and who computes it.

The pipeline asks an `Analyzer` for an `Analysis` of a working-resolution copy of the photo,
then applies its corrections at full resolution (guided upsampling). The image-analysis method
(background modelling, colour statistics, local texture) and the trained network both implement
`Analyzer`; `models.analyzers.default_analyzer()` decides which one (or which combination) the
pipeline uses. This package never imports the network (models/net imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# Decisions every stage shares, named once.
SOLID = 0.5  # a map value from which a pixel is that thing (piece, metal, gem, defect)
GEM_SURE = 0.3  # gem coverage from which a pixel is protected as a stone
NET_SNAP = 0.02  # the network's probabilities this close to 0 or 1 are snapped
MATTE_SNAP = 0.04  # the full-resolution matte this close to 0 or 1 is snapped (exact white)


@dataclass(frozen=True)
class Backdrop:
    """The fitted backdrop model at working resolution (h, w).

    light: float32 (h, w, 3) > 0, the smooth linear-RGB light field of the backdrop (what the
        backdrop would look like everywhere, also behind the piece).
    residual: float32 (h, w) >= 0, each pixel's log-colour distance from `light`.
    tau: the residual above which a pixel does not fit the backdrop (its texture scale: about
        0.05 on a clean sweep, 0.3 or more on wood, fabric or a busy scene).
    """

    light: np.ndarray
    residual: np.ndarray
    tau: float

    @property
    def fits(self) -> np.ndarray:
        """bool (h, w): pixels that fit the backdrop model."""
        return self.residual < self.tau


@dataclass(frozen=True)
class Analysis:
    """Per-pixel analysis at working resolution (h, w); every map float32 in 0..1.

    matte: piece opacity (holes inside rings and chain links are background; contact shadows
        and reflections under the piece are not piece).
    metal: metal coverage.  gem: gemstone coverage.
    defects: probability of dust, lint, fingerprint or micro-scratch.
    shadow: cast/contact shadow strength on the backdrop (0 where none).
    metal_kind: detected metal ("yellow_gold", "rose_gold", "white_gold", "silver",
        "platinum") or None when no metal was found.
    backdrop: the fitted backdrop model, or None when the analyzer has none.
    props: coverage of supports that are not the piece (felt pads, wax, clips), or None when
        the analyzer does not look for them.
    extras: JSON-ready facts for the run's info (which analyzer, counts, ...).
    """

    matte: np.ndarray
    metal: np.ndarray
    gem: np.ndarray
    defects: np.ndarray
    shadow: np.ndarray
    metal_kind: str | None = None
    backdrop: Backdrop | None = None
    props: np.ndarray | None = None
    extras: dict = field(default_factory=dict)


class Analyzer(Protocol):
    """Computes an `Analysis` from a working-resolution photo.

    name: a short name for the run's info ("classical", "jewelnet", "hybrid").
    rgb_linear: float32 array (h, w, 3), linear-light RGB in 0..1 (already converted from the
        input's ICC profile to linear sRGB primaries).
    """

    name: str

    def analyse(self, rgb_linear: np.ndarray) -> Analysis: ...
