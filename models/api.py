"""The one narrow interface between the model and everything else.

Everything a retouch depends on is carried here: the pixel container
(`ImageData`), the options (`RetouchOptions`, validated in one place and
published as `OPTIONS_SCHEMA`), the result (`Result`) and the progress /
cancellation contract. The server, the CLI, the batch runner and the tests
only ever call `models.load()` and `Retoucher.retouch(...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

MODEL_NAME = "jewel-retouch"
MODEL_VERSION = "1.0.0"

# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class OptionsError(ValueError):
    """An option is unknown, of the wrong type, or out of range."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class ImageError(ValueError):
    """The pixels cannot be retouched (wrong shape, dtype, channels or size)."""


class Cancelled(Exception):
    """Raised by a progress callback to stop a retouch between stages or tiles."""


# --------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------


class PixelFormat(NamedTuple):
    """Layout of interleaved pixels: channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), bits 8|16."""

    channels: int
    depth: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.depth == 8 else np.dtype("<u2")

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)


@dataclass(frozen=True)
class ImageData:
    """Pixels plus the colour facts needed to interpret them.

    pixels: array of shape (H, W, C), C in {1, 2, 3, 4}, dtype uint8 (0..255) or
        uint16 (0..65535, full range), non-linear (as encoded in the file / layer).
    icc_profile: the embedded ICC profile bytes, or None (meaning sRGB).
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] not in (1, 2, 3, 4):
            raise ImageError(f"pixels must be (H, W, C) with C in 1..4, got shape {p.shape}")
        if p.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"pixels must be uint8 or uint16, got {p.dtype}")
        if p.shape[0] < 1 or p.shape[1] < 1:
            raise ImageError(f"image is empty: {p.shape[1]}x{p.shape[0]}")

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def format(self) -> PixelFormat:
        return PixelFormat(int(self.pixels.shape[2]), 8 if self.pixels.dtype == np.uint8 else 16)


# --------------------------------------------------------------------------------------
# Options: one schema, validated in one place, published to the plug-ins
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One user-facing option, as published in `/v1/info` (plug-ins build their UI from it)."""

    name: str
    type: str  # "enum" | "number" | "integer" | "boolean" | "list" (of `choices`, no repeats)
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    label: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").capitalize(),
            "type": self.type,
            "default": list(self.default) if self.type == "list" else self.default,
            "description": self.description,
        }
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def validate(self, value: Any) -> Any:
        name = self.name
        if self.type == "enum":
            if not isinstance(value, str) or value not in (self.choices or ()):
                allowed = ", ".join(self.choices or ())
                raise OptionsError(f"option '{name}' must be one of {allowed}; got {value!r}", name)
            return value
        if self.type == "list":
            allowed = self.choices or ()
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise OptionsError(
                    f"option '{name}' must be a list of names ({', '.join(allowed)}); got"
                    f" {value!r}", name
                )
            bad = [v for v in value if v not in allowed]
            if bad:
                raise OptionsError(
                    f"option '{name}': unknown {bad[0]!r}; allowed: {', '.join(allowed)}", name
                )
            if len(set(value)) != len(value):
                raise OptionsError(f"option '{name}' names {value!r} more than once", name)
            return tuple(value)
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise OptionsError(f"option '{name}' must be true or false; got {value!r}", name)
            return value
        if self.type in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise OptionsError(f"option '{name}' must be a number; got {value!r}", name)
            if self.type == "integer":
                if isinstance(value, float) and not value.is_integer():
                    raise OptionsError(
                        f"option '{name}' must be a whole number; got {value!r}", name
                    )
                value = int(value)
            else:
                value = float(value)
                if not np.isfinite(value):
                    raise OptionsError(f"option '{name}' must be finite; got {value!r}", name)
            if self.minimum is not None and value < self.minimum:
                raise OptionsError(f"option '{name}' must be >= {self.minimum}; got {value}", name)
            if self.maximum is not None and value > self.maximum:
                raise OptionsError(f"option '{name}' must be <= {self.maximum}; got {value}", name)
            return value
        raise AssertionError(f"unknown option type {self.type}")  # pragma: no cover


METALS = ("auto", "yellow_gold", "rose_gold", "white_gold", "silver", "platinum")
BACKGROUNDS = ("white", "transparent", "keep")
# New choices go last: GIMP 2.10 hands enum arguments over by index.
SHADOWS = ("none", "natural", "soft", "contact")
FINISHES = ("catalog", "natural")
VARIANT_METALS = ("yellow_gold", "rose_gold", "white_gold", "silver", "platinum")
FRAMINGS = ("none", "square", "amazon", "etsy", "ebay", "shopify")

OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "finish",
        "enum",
        "catalog",
        "catalog: the retoucher's look (crisper metal contrast, brilliant stones); natural:"
        " faithful, exposure and contrast as shot.",
        choices=FINISHES,
    ),
    OptionSpec(
        "background",
        "enum",
        "white",
        "Backdrop: pure white, transparent, or kept as shot.",
        choices=BACKGROUNDS,
    ),
    OptionSpec(
        "shadow",
        "enum",
        "none",
        "Shadow on the new backdrop: none; soft (a short graded drop shadow); contact (a thin"
        " shadow where the piece rests); natural (the photo's own, cleaned and softened).",
        choices=SHADOWS,
    ),
    OptionSpec(
        "reflection",
        "boolean",
        False,
        "Add a mirror reflection of the piece below it that fades out, as on a glossy surface.",
    ),
    OptionSpec("metal", "enum", "auto", "Metal to tone toward; auto detects it.", choices=METALS),
    OptionSpec(
        "metal_variants",
        "list",
        (),
        "Also deliver the piece in these metals (one extra result each, named after the"
        " metal); reflections and engraving kept, stones untouched.",
        choices=VARIANT_METALS,
        label="Metal variants",
    ),
    OptionSpec(
        "strength",
        "number",
        1.0,
        "Overall strength of the retouch (0 = unchanged).",
        minimum=0.0,
        maximum=1.0,
    ),
    OptionSpec(
        "cleanup",
        "boolean",
        True,
        "Remove dust, lint, fingerprints and micro-scratches (prongs and pave are kept).",
    ),
    OptionSpec(
        "hotspots",
        "boolean",
        True,
        "Tame blown specular highlights (to about 90%, 97% with the catalog finish) while"
        " keeping reflections.",
    ),
    OptionSpec(
        "gem_contrast",
        "number",
        0.5,
        "Local micro-contrast inside gemstones (0 = none).",
        minimum=0.0,
        maximum=1.0,
    ),
    OptionSpec("protect_gems", "boolean", False, "Leave gemstone pixels bit-for-bit untouched."),
    OptionSpec(
        "framing",
        "enum",
        "none",
        "Centre the piece on a square canvas with the given margin; a marketplace name also"
        " sets the canvas size (amazon/etsy 2000 px, ebay 1600 px, shopify 2048 px).",
        choices=FRAMINGS,
    ),
    OptionSpec(
        "margin",
        "number",
        0.075,
        "Framing margin as a fraction of the canvas side (0.075 = piece fills 85%).",
        minimum=0.0,
        maximum=0.45,
    ),
    OptionSpec(
        "force_cutout",
        "boolean",
        False,
        "Cut the piece out even when the photo is not a clean studio backdrop (otherwise such"
        " a photo keeps its background and gets only the piece-safe fixes, with a warning).",
    ),
    OptionSpec(
        "canvas_size",
        "integer",
        0,
        "Framing canvas side in pixels (0 = keep the piece's own resolution).",
        minimum=0,
        maximum=10000,
    ),
)

OPTIONS_BY_NAME: dict[str, OptionSpec] = {spec.name: spec for spec in OPTION_SPECS}


def options_schema() -> list[dict[str, Any]]:
    """The options as JSON-ready dicts, in display order (published by `/v1/info`)."""
    return [spec.to_json() for spec in OPTION_SPECS]


@dataclass(frozen=True)
class RetouchOptions:
    """Validated options of one retouch. Build it with `RetouchOptions.from_mapping`."""

    finish: str = "catalog"
    background: str = "white"
    shadow: str = "none"
    reflection: bool = False
    metal: str = "auto"
    metal_variants: tuple[str, ...] = ()
    strength: float = 1.0
    cleanup: bool = True
    hotspots: bool = True
    gem_contrast: float = 0.5
    protect_gems: bool = False
    framing: str = "none"
    margin: float = 0.075
    force_cutout: bool = False
    canvas_size: int = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RetouchOptions:
        """Validate user-supplied options (unknown names and bad values raise OptionsError)."""
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise OptionsError("options must be a JSON object")
        unknown = sorted(set(values) - set(OPTIONS_BY_NAME))
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(unknown)}", unknown[0])
        checked = {name: OPTIONS_BY_NAME[name].validate(value) for name, value in values.items()}
        return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["metal_variants"] = list(self.metal_variants)  # JSON has no tuples
        return out


def _check_specs_match_dataclass() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(RetouchOptions)}
    specs = {s.name: s.default for s in OPTION_SPECS}
    if fields != specs:  # pragma: no cover - guards against editing one and not the other
        raise AssertionError(f"OPTION_SPECS and RetouchOptions disagree: {fields} vs {specs}")


_check_specs_match_dataclass()

# --------------------------------------------------------------------------------------
# Progress and result
# --------------------------------------------------------------------------------------

ProgressCallback = Callable[[str, float], None]
"""progress(stage, fraction): stage is a short name ("analyse", "cleanup", ...), fraction is
the overall completion in 0..1. The callback may raise `Cancelled` to stop the work."""


def no_progress(stage: str, fraction: float) -> None:
    """A progress callback that does nothing."""


# Warnings a retouch can report (Result.warnings / info["warnings"]): code -> what the user is
# told. Codes are stable (clients may key on them); messages are for people.
WARNINGS: dict[str, str] = {
    "background_kept": "Background kept: this does not look like a studio backdrop, so only the"
    " piece-safe fixes (colour cast, metal, dust, gems) were applied. Use force_cutout to cut"
    " the piece out anyway.",
    "unsure_cutout": "The piece could not be separated cleanly from the backdrop; check the"
    " outline and the background (the cut-out was forced).",
    "no_piece": "No piece was found: the photo was only cleaned up.",
    "piece_at_edge": "The piece runs off the frame: the cut-out may be incomplete there.",
    "overexposed": "The photo is overexposed: clipped areas cannot be recovered.",
    "underexposed": "The photo is very dark: the result is noisy and the cut-out less certain.",
    "props_removed": "A support under or around the piece (a felt pad, wax or a clip) was"
    " removed with the backdrop; any part of the piece it hid stays hidden: check the outline"
    " there.",
    "low_resolution": "The image is small (under 500 px on its long side): prongs and chain"
    " links are a pixel or two wide, and the cut-out may lose them.",
}


def warning(code: str) -> dict[str, str]:
    """The JSON-ready warning {"code", "message"} for a code of WARNINGS."""
    return {"code": code, "message": WARNINGS[code]}


# Bottom to top; "shadow" and "reflection" are present only when the options add them.
LAYER_NAMES = ("background", "shadow", "reflection", "cleanup", "tone")
MASK_NAMES = ("piece", "metal", "gem")


@dataclass
class Result:
    """What a retouch returns.

    image: the retouched image, same channels, depth and ICC profile as the input (same size
        unless framing was asked for).
    layers: separable layers (names in LAYER_NAMES), each an ImageData with the input's depth and
        4 channels (RGBA; alpha says where the layer applies). Empty unless asked for.
    masks: (H, W) uint8 masks 0..255 (names in MASK_NAMES). Empty unless asked for.
    variants: the result with the piece's metal in each metal of options.metal_variants
        (metal name -> ImageData like `image`); empty unless asked for.
    info: JSON-ready facts about the run (detected metal, timings, ...), including
        "warnings" (a list of {"code", "message"}, codes from WARNINGS; empty when all went
        well) and "confidence" ({"backdrop_fit", "matte_certainty"}, each 0..1).
    """

    image: ImageData
    layers: dict[str, ImageData] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, ImageData] = field(default_factory=dict)

    @property
    def warnings(self) -> list[dict[str, str]]:
        """The run's warnings, [{"code", "message"}, ...] (empty when all went well)."""
        return list(self.info.get("warnings", []))
