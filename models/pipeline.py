"""The retouch pipeline behind `models.load()`.

PLACEHOLDER (to be replaced by the model issue): returns the input unchanged, with real
progress reporting and cancellation, so that the server and plug-ins can be built against
the final interface.
"""

from __future__ import annotations

import numpy as np

from models.api import (
    MODEL_NAME,
    MODEL_VERSION,
    ImageData,
    ProgressCallback,
    Result,
    RetouchOptions,
    no_progress,
)


class Retoucher:
    """A loaded model. Thread-safe: one instance may serve several workers."""

    name = MODEL_NAME
    version = MODEL_VERSION

    def retouch(
        self,
        image: ImageData,
        options: RetouchOptions | None = None,
        progress: ProgressCallback = no_progress,
        layers: bool = False,
    ) -> Result:
        """Retouch `image` with `options`; `layers=True` also returns separable layers/masks."""
        options = options or RetouchOptions()
        progress("analyse", 0.0)
        out = np.array(image.pixels, copy=True)
        progress("done", 1.0)
        return Result(image=ImageData(out, image.icc_profile))


def load() -> Retoucher:
    """Load the bundled model (weights shipped in the package; nothing is downloaded)."""
    return Retoucher()
