"""`jewel-retouch batch IN_DIR OUT_DIR`: retouch a whole catalog folder with one set of settings."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from server.commands._options import add_option_flags, given_options

FORMATS = ("png", "jpeg", "tiff", "webp")
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}


def _format(text: str) -> str:
    name = FORMAT_ALIASES.get(text.lower(), text.lower())
    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(FORMATS)} (jpg means jpeg)")
    return name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="retouch every image in a folder (recursively) into another folder",
        description=(
            "Retouch every image under IN_DIR (PNG, JPEG, TIFF, WebP, camera RAW) with the same "
            "settings into OUT_DIR, keeping sub-folders. Re-running skips finished outputs; "
            "inputs are never modified. A manifest of each run is written to "
            "OUT_DIR/.jewel-retouch/."
        ),
    )
    parser.add_argument("in_dir", type=Path, metavar="IN_DIR")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--preset", help="named settings set (see: jewel-retouch presets)")
    parser.add_argument("--presets-dir", type=Path, help="folder of user presets")
    parser.add_argument(
        "--format",
        type=_format,
        metavar="{png,jpeg,tiff,webp}",
        help="output format (default: the preset's, else the input's; jpg means jpeg)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--dask", metavar="SCHEDULER_ADDRESS", help="run on a Dask cluster (tcp://host:8786)"
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="Dask: retries of a task whose worker failed"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="redo every file, even finished ones"
    )
    parser.add_argument(
        "--raw-bits", type=int, choices=(8, 16), default=16, help="camera RAW depth (default 16)"
    )
    parser.add_argument(
        "--raw-highlights",
        choices=("blend", "clip", "reconstruct"),
        default="blend",
        help="camera RAW highlight handling (default blend: neutral, graded metal highlights)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="load the model from this factory instead of models.load (experiments, tests)",
    )
    group = parser.add_argument_group("model options (override the preset)")
    add_option_flags(group, dest_prefix="opt_")
    parser.set_defaults(func=run)


def option_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The model options given on the command line (those left out stay unset)."""
    return given_options(args, dest_prefix="opt_")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from models.api import OptionsError, RetouchOptions
    from server.batch import BatchSettings, NoImages, PlanError, SettingsMismatch, run_batch
    from server.batch.progress import batch_progress
    from server.batch.runner import BatchInterrupted
    from server.presets import PresetError, get_preset

    try:
        overrides = option_overrides(args)
        fmt = args.format
        if args.preset:
            preset = get_preset(args.preset, args.presets_dir)
            options = preset.retouch_options(overrides)
            fmt = fmt or preset.format
        else:
            options = RetouchOptions.from_mapping(overrides)
    except (PresetError, OptionsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        settings = BatchSettings(options, fmt, args.raw_bits, args.raw_highlights)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = None if args.quiet else batch_progress()
    # SIGTERM stops the run like Ctrl-C: workers ended, manifest saved, resumable.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        manifest = run_batch(
            args.in_dir,
            args.out_dir,
            settings,
            jobs=args.jobs,
            dask=args.dask,
            overwrite=args.overwrite,
            progress=progress,
            retries=args.retries,
            model=args.model,
        )
    except NoImages as exc:
        # Nothing failed, but nothing was done either: most likely the wrong folder.
        print(f"warning: {exc}", file=sys.stderr)
        return 1
    except (PlanError, SettingsMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BatchInterrupted as stop:
        summary = stop.manifest.summary()
        print(
            f"interrupted: {summary['ok']} retouched, {summary['interrupted']} left; run the "
            f"same command again to resume; manifest: {stop.manifest.path}"
        )
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = manifest.summary()
    print(
        f"{summary['ok']} retouched, {summary['skipped']} skipped (already done), "
        f"{summary['failed']} failed, of {summary['total']}; manifest: {manifest.path}"
    )
    for record in manifest.records.values():
        if record.status == "failed":
            print(f"failed: {record.input}: {record.error}", file=sys.stderr)
        for warning in record.warnings or []:
            print(
                f"warning: {record.input}: {warning['code']}: {warning['message']}", file=sys.stderr
            )
    return 1 if summary["failed"] else 0
