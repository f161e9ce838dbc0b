"""`jewel-retouch retouch INPUT... -o OUT`: run the model in-process on image files.

No server needed; the options are the API's (`--background white --strength 0.8 ...`, built
from models.OPTION_SPECS). With one input, `-o` names the output file and its extension picks
the format; with several, `-o` names a folder and each output keeps its input's name and format.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import models
from models.api import OptionsError, RetouchOptions
from server.protocol import ProtocolError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retouch",
        help="retouch image files in-process (no server needed)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT",
        help="output file (one input) or folder (several inputs)",
    )
    parser.add_argument(
        "--layers",
        action="store_true",
        help="also write the separable layers and masks as PNGs into OUT_layers/",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="load the model from this factory instead of models.load (experiments, tests)",
    )
    group = parser.add_argument_group("model options (as in GET /v1/info)")
    for spec in models.OPTION_SPECS:
        flag = "--" + spec.name.replace("_", "-")
        help_text = f"{spec.description} (default {spec.default!r})".replace("%", "%%")
        if spec.type == "boolean":
            group.add_argument(
                flag, dest=spec.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        elif spec.type == "enum":
            group.add_argument(flag, dest=spec.name, choices=spec.choices, help=help_text)
        else:
            kind = int if spec.type == "integer" else float
            group.add_argument(
                flag,
                dest=spec.name,
                type=kind,
                metavar=f"{spec.minimum:g}..{spec.maximum:g}",
                help=help_text,
            )
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> RetouchOptions:
    given: dict[str, Any] = {}
    for spec in models.OPTION_SPECS:
        value = getattr(args, spec.name, None)
        if value is not None:
            given[spec.name] = value
    return RetouchOptions.from_mapping(given)


def plan_outputs(inputs: list[Path], output: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input -> `output` is the file; else `output` is a folder."""
    if len(inputs) == 1 and not output.is_dir():
        return [(inputs[0], output)]
    if output.exists() and not output.is_dir():
        raise ValueError(f"with several inputs, -o must be a folder; '{output}' is a file")
    names: set[str] = set()
    pairs = []
    for source in inputs:
        if source.name in names:
            raise ValueError(f"two inputs are named '{source.name}'; outputs would collide")
        names.add(source.name)
        name = source.name
        if _is_raw(source):  # camera RAW is developed to 16-bit and kept lossless as TIFF
            name = source.stem + ".tif"
        pairs.append((source, output / name))
    return pairs


def run(args: argparse.Namespace) -> int:
    from server.commands.serve import load_engine
    from server.imageio import (
        DEFAULT_LIMITS,
        fit_for_format,
        format_from_path,
        read_image,
        save_image,
    )
    from server.job_input import run_warnings
    from server.sizing import check_job_size

    try:
        options = options_from_args(args)
        pairs = plan_outputs(args.inputs, args.output)
        for _, target in pairs:
            format_from_path(target)
            if target.exists() and not args.overwrite:
                raise ValueError(f"'{target}' exists (pass --overwrite to replace it)")
    except (OptionsError, ValueError, ProtocolError) as exc:
        print(f"jewel-retouch retouch: {exc}", file=sys.stderr)
        return 2
    if len(pairs) > 1:
        args.output.mkdir(parents=True, exist_ok=True)
    try:
        engine = load_engine(args.model)
    except (ImportError, AttributeError) as exc:
        print(f"jewel-retouch retouch: cannot load the model: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for source, target in pairs:
        try:
            if _is_raw(source):
                from server.raw import decode_raw

                image, info = decode_raw(source), None
            else:
                image, info = read_image(source)
            check_job_size(DEFAULT_LIMITS, image.width, image.height, options, args.layers)
            progress = models.api.no_progress if args.quiet else _printer(source.name)
            result = engine.retouch(image, options, progress=progress, layers=args.layers)
            for warning in run_warnings(result.info):  # shown even with --quiet
                print(f"warning: {warning['code']}: {warning['message']}", file=sys.stderr)
            fmt = format_from_path(target)
            out = fit_for_format(result.image, fmt)
            if out is not result.image and not args.quiet:
                print(
                    f"{target.name}: converted for {fmt.upper()} (8 bit, no alpha)", file=sys.stderr
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(out, target, info)
            if args.layers:
                _save_layers(result, target)
            if not args.quiet:
                print(f"{source} -> {target}", file=sys.stderr)
        except (ProtocolError, OptionsError, ValueError, OSError) as exc:
            failures += 1
            print(f"jewel-retouch retouch: {source}: {exc}", file=sys.stderr)
    return 1 if failures else 0


def _is_raw(path: Path) -> bool:
    try:
        from server.raw import is_raw_path
    except ImportError:  # pragma: no cover - the RAW module is part of the package
        return False
    return is_raw_path(path)


def _save_layers(result: models.Result, target: Path) -> None:
    import numpy as np

    from models.api import ImageData
    from server.imageio import save_image

    folder = target.with_name(target.stem + "_layers")
    if not result.layers and not result.masks:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, layer in result.layers.items():
        save_image(layer, folder / f"{name}.png")
    for name, mask in result.masks.items():
        mask = np.asarray(mask, dtype=np.uint8)
        save_image(
            ImageData(mask[:, :, None] if mask.ndim == 2 else mask), folder / f"mask_{name}.png"
        )


def _printer(label: str):
    last = {"stage": None}

    def progress(stage: str, fraction: float) -> None:
        if stage != last["stage"]:
            last["stage"] = stage
            print(f"{label}: {stage} {fraction:.0%}", file=sys.stderr)

    return progress
