"""Named, documented settings sets ("presets") stored as TOML files.

Built-in presets ship beside this module (`server/presets/*.toml`); users add their own (or
override a built-in one of the same name) as `*.toml` files in `<config dir>/presets/`, where
the config dir follows docs/protocol.md (`JEWEL_RETOUCH_CONFIG_DIR`, else the OS default).

A preset file::

    title = "Marketplace white"           # shown to people
    description = "..."                   # what it is for
    format = "jpeg"                       # optional: output file format for batch runs
    [options]                             # any model options (see GET /v1/info)
    background = "white"

The file name (without `.toml`) is the preset's name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.api import OptionsError, RetouchOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BUILTIN_DIR = Path(__file__).resolve().parent
OUTPUT_FORMATS = ("png", "jpeg", "tiff", "webp")
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}  # accepted in preset files, stored as the name


class PresetError(ValueError):
    """A preset is unknown, or its file is not valid TOML / has bad options."""


@dataclass(frozen=True)
class Preset:
    """One named settings set. `options` are validated model options (only those the file sets)."""

    name: str
    title: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    source: Path | None = None
    builtin: bool = True

    def retouch_options(self, overrides: dict[str, Any] | None = None) -> RetouchOptions:
        """The preset's options with `overrides` on top, validated."""
        return RetouchOptions.from_mapping({**self.options, **(overrides or {})})

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "options": dict(self.options),
            "format": self.format,
            "builtin": self.builtin,
        }


def user_dir(config_dir: Path | None = None) -> Path:
    """Where users put their own preset files: `presets/` in the config folder (the token's)."""
    from server.config import user_config_dir

    return (config_dir or user_config_dir()) / "presets"


def parse_preset(path: Path, *, builtin: bool = False) -> Preset:
    """Read and validate one preset file. Raises PresetError with the file name on any problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PresetError(f"preset file {path}: {exc}") from exc
    unknown = sorted(set(data) - {"title", "description", "format", "options"})
    if unknown:
        raise PresetError(f"preset file {path}: unknown key(s) {', '.join(unknown)}")
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise PresetError(f"preset file {path}: [options] must be a table")
    try:
        RetouchOptions.from_mapping(options)
    except OptionsError as exc:
        raise PresetError(f"preset file {path}: {exc}") from exc
    fmt = data.get("format")
    if isinstance(fmt, str):
        fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise PresetError(
            f"preset file {path}: format must be one of {', '.join(OUTPUT_FORMATS)}; got {fmt!r}"
        )
    for key in ("title", "description"):
        if key in data and not isinstance(data[key], str):
            raise PresetError(f"preset file {path}: {key} must be a string")
    name = path.stem
    return Preset(
        name=name,
        title=data.get("title", name),
        description=" ".join(data.get("description", "").split()),
        options=dict(options),
        format=fmt,
        source=path,
        builtin=builtin,
    )


def load_presets(extra_dir: Path | None = None) -> tuple[dict[str, Preset], list[str]]:
    """All presets by name (built-in, then user ones overriding), and a list of problems.

    A broken user file is reported in the problem list and skipped, so one typo does not hide
    every other preset. `extra_dir` replaces the user folder (tests, `--presets-dir`).
    """
    presets: dict[str, Preset] = {}
    problems: list[str] = []
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        presets[path.stem] = parse_preset(path, builtin=True)
    folder = extra_dir if extra_dir is not None else user_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                presets[path.stem] = parse_preset(path, builtin=False)
            except PresetError as exc:
                problems.append(str(exc))
    return presets, problems


def get_preset(name: str, extra_dir: Path | None = None) -> Preset:
    """The preset called `name`, or PresetError listing the known names."""
    presets, problems = load_presets(extra_dir)
    if name in presets:
        return presets[name]
    hint = "; ".join(problems)
    known = ", ".join(sorted(presets))
    raise PresetError(
        f"unknown preset {name!r}; known presets: {known}" + (f" (skipped: {hint})" if hint else "")
    )
