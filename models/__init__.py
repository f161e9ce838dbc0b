"""jewel-retouch model package: `load()` a Retoucher, then `retouch(image, options)`."""

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
    Region,
    Result,
    RetouchOptions,
    options_schema,
)
from models.pipeline import Retoucher, load

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
    "Region",
    "Result",
    "RetouchOptions",
    "Retoucher",
    "load",
    "options_schema",
]
