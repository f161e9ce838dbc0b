"""jewel-retouch model package: `load()` a Retoucher, then `retouch(image, options)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.api import (
    LAYER_NAMES,
    MASK_NAMES,
    MODEL_NAME,
    MODEL_VERSION,
    OPTION_SPECS,
    Cancelled,
    ImageData,
    ImageError,
    OptionsError,
    PixelFormat,
    ProgressCallback,
    Result,
    RetouchOptions,
    options_schema,
)

__all__ = [
    "LAYER_NAMES",
    "MASK_NAMES",
    "MODEL_NAME",
    "MODEL_VERSION",
    "OPTION_SPECS",
    "Cancelled",
    "ImageData",
    "ImageError",
    "OptionsError",
    "PixelFormat",
    "ProgressCallback",
    "Result",
    "RetouchOptions",
    "Retoucher",
    "load",
    "options_schema",
]


if TYPE_CHECKING:
    from models.pipeline import Retoucher, load


def __getattr__(name: str) -> Any:
    # The pipeline pulls in torch and scipy (seconds to import); commands and clients that only
    # need the options schema or the value types should not pay for it.
    if name in ("Retoucher", "load"):
        from models import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
