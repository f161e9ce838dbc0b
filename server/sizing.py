"""What a job will produce, checked against the limits before any work starts.

The limits (`--max-megapixels`, `--max-dimension`) bound every image a job makes, not only the
upload: framing can put a small photo on a large canvas, and the layers and masks of a framed
job have the canvas's size too. The canvas side is known from the options alone (a marketplace
preset or `canvas_size`), or, when it follows the piece's box, bounded by the worst case: a
piece as large as the photo, framed with the asked margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.api import RetouchOptions
from server.protocol import Limits, ProtocolError

# The model never lets the piece fill less than this fraction of the canvas side.
MIN_FILL = 0.05


def marketplace_sizes() -> dict[str, int]:
    """Marketplace framing preset -> canvas side in pixels (the model's own table)."""
    try:
        from models.ops.framing import presets
    except ImportError:  # pragma: no cover - the model package always ships it
        return {}
    return presets()


@dataclass(frozen=True)
class PlannedOutput:
    """The largest image (and layer, and mask) a job can produce."""

    width: int
    height: int
    framed: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


def planned_output(width: int, height: int, options: RetouchOptions) -> PlannedOutput:
    """The output size of a `width` x `height` input under `options` (worst case when framing
    follows the piece's box)."""
    if options.framing == "none":
        return PlannedOutput(width, height, False)
    side = options.canvas_size or marketplace_sizes().get(options.framing, 0)
    if not side:
        fill = max(1.0 - 2.0 * options.margin, MIN_FILL)
        side = math.ceil(max(width, height) / fill)
    return PlannedOutput(side, side, True)


def check_job_size(
    limits: Limits, width: int, height: int, options: RetouchOptions, layers: bool = False
) -> PlannedOutput:
    """Raise ProtocolError `too_large` unless the input and everything the job will produce fit
    the limits; returns the planned output size."""
    limits.check_size(width, height)
    planned = planned_output(width, height, options)
    if not planned.framed:
        return planned
    side, pixels = planned.width, planned.pixels
    what = "the framed image and each of its layers and masks" if layers else "the framed image"
    if side > limits.max_dimension or pixels > limits.max_pixels:
        raise ProtocolError(
            "too_large",
            f"framing '{options.framing}' would make {what} up to {side}x{side} px "
            f"({pixels / 1e6:.1f} MP); the server's limit is {limits.max_pixels / 1e6:g} MP and "
            f"{limits.max_dimension} px a side: ask for a smaller canvas_size or margin",
        )
    return planned
