"""`jewel-retouch retouch INPUT... -o OUT`: run the model in-process on image files.

No server needed; the options are the API's (`--background white --strength 0.8 ...`, built
from models.OPTION_SPECS). With one input, `-o` names the output file and its extension picks
the format; with several, `-o` names a folder and each output keeps its input's name and format.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import models
from models.api import OptionsError, RetouchOptions
from server.batch.plan import variant_path
from server.commands._options import add_option_flags, as_flags, given_options
from server.protocol import ProtocolError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retouch",
        help="retouch image files in-process (no server needed)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="image files; a pattern such as '*.jpg' is expanded here when the shell did not "
        "(a whole folder is `jewel-retouch batch`)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=str,  # kept as typed: a trailing slash says "a folder" (Path would drop it)
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
    add_option_flags(group)
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> RetouchOptions:
    return RetouchOptions.from_mapping(given_options(args))


class InputError(ValueError):
    """The inputs cannot be retouched as given; the message says what to run instead."""


GLOB_CHARACTERS = frozenset("*?[")


def expand_inputs(
    inputs: list[Path], output: Path, options: dict[str, Any]
) -> tuple[list[Path], bool]:
    """The files to retouch, checked before the model is loaded (a missing file is told at
    once, not after the model's start-up).

    A pattern the shell left unexpanded ('*.jpg' in quotes, or any pattern in Windows' cmd and
    PowerShell) is expanded here, to its image files. A folder is refused with the `batch`
    command that does what was meant. Every problem is listed, not just the first.
    """
    from server.batch.plan import INPUT_EXTENSIONS, KNOWN_INPUTS

    files: list[Path] = []
    problems: list[str] = []
    folders: list[Path] = []
    expanded = False
    for given in inputs:
        text = str(given)
        if not given.exists() and GLOB_CHARACTERS & set(text):
            expanded = True
            matches = sorted(Path(m) for m in glob.glob(text, recursive="**" in text))
            images = [m for m in matches if m.is_file() and m.suffix.lower() in INPUT_EXTENSIONS]
            if not images:
                what = f"{len(matches)} path(s), none an image file" if matches else "nothing"
                problems.append(f"'{text}' matches {what}")
            files += images
            continue
        if given.is_dir():
            folders.append(given)
        elif not given.exists():
            problems.append(f"'{given}' does not exist")
        elif not given.is_file():
            problems.append(f"'{given}' is not a file")
        elif given.suffix.lower() not in INPUT_EXTENSIONS:
            problems.append(f"'{given}' is not an image file this reads ({KNOWN_INPUTS})")
        elif not os.access(given, os.R_OK):
            problems.append(f"'{given}' cannot be read (permission denied)")
        else:
            files.append(given)
    if folders:
        problems += [batch_advice(folder, output, options) for folder in folders]
    if problems:
        raise InputError("\n".join(problems))
    return files, expanded


def batch_advice(folder: Path, output: Path, options: dict[str, Any]) -> str:
    """What to run for a folder: `batch`, with the same output and options."""
    from server.batch.plan import FORMAT_OF_EXTENSION

    out_dir, fmt = output, None
    if output.suffix.lower() in FORMAT_OF_EXTENSION and not output.is_dir():
        # `-o ring.png` names a file; batch writes into a folder (in that format).
        fmt = FORMAT_OF_EXTENSION[output.suffix.lower()]
        out_dir = output.with_suffix("")
    command = ["jewel-retouch", "batch", str(folder), str(out_dir), *as_flags(options)]
    if fmt:
        command += ["--format", fmt]
    return (
        f"'{folder}' is a folder; `retouch` takes image files. To retouch every image in it "
        f"(and its sub-folders), run:\n  {shlex.join(command)}"
    )


def plan_outputs(inputs: list[Path], output: Path, folder: bool = False) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one input -> `output` is the file; else `output` is a folder.
    folder: `output` is a folder even for one input (a pattern, or OUT given with a slash)."""
    if len(inputs) == 1 and not folder and not output.is_dir():
        return [(inputs[0], output)]
    if output.exists() and not output.is_dir():
        raise ValueError(f"with several inputs, -o must be a folder; '{output}' is a file")
    if not inputs:
        raise ValueError("no input files")
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

    output = Path(args.output)
    as_folder = args.output.endswith(("/", os.sep))
    try:
        options = options_from_args(args)
        inputs, expanded = expand_inputs(args.inputs, output, given_options(args))
        as_folder = as_folder or expanded
        pairs = plan_outputs(inputs, output, folder=as_folder)
        for _, target in pairs:
            format_from_path(target)
            for path in [target, *(variant_path(target, k) for k in options.metal_variants)]:
                if path.exists() and not args.overwrite:
                    raise ValueError(f"'{path}' exists (pass --overwrite to replace it)")
    except (OptionsError, ValueError, ProtocolError) as exc:
        print(f"jewel-retouch retouch: {exc}", file=sys.stderr)
        return 2
    if len(pairs) > 1 or as_folder:
        output.mkdir(parents=True, exist_ok=True)
    try:
        engine = load_engine(args.model)
    except (ImportError, AttributeError) as exc:
        print(f"jewel-retouch retouch: cannot load the model: {exc}", file=sys.stderr)
        return 2
    from server.batch.progress import FileProgress

    failures = 0
    bars = FileProgress()
    for number, (source, target) in enumerate(pairs, 1):
        label = source.name if len(pairs) == 1 else f"{number}/{len(pairs)} {source.name}"
        try:
            if _is_raw(source):
                from server.raw import decode_raw

                image, info = decode_raw(source), None
            else:
                image, info = read_image(source)
            check_job_size(DEFAULT_LIMITS, image.width, image.height, options, args.layers)
            progress = models.api.no_progress if args.quiet else bars.callback(label)
            try:
                result = engine.retouch(image, options, progress=progress, layers=args.layers)
            finally:
                bars.finish()  # the bar goes before anything else is printed
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
            for kind, variant in result.variants.items():
                save_image(fit_for_format(variant, fmt), variant_path(target, kind), info)
            if args.layers:
                _save_layers(result, target)
            if not args.quiet:
                print(f"{source} -> {target}", file=sys.stderr)
                for kind in result.variants:
                    print(f"{source} -> {variant_path(target, kind)}", file=sys.stderr)
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
