"""`jewel-retouch synth`: render synthetic jewelry samples (thin wrapper over models.synth)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="render synthetic jewelry photos with exact masks (needs Mitsuba 3)",
        description="Render procedural jewelry (clean image, piece/metal/gem/shadow masks, a "
        "degraded 'as shot' copy and its defect mask) into DIR, one .npz per seed. Resumable: "
        "samples already in DIR are skipped.",
    )
    p.add_argument("--count", type=int, required=True, help="number of samples")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--start", type=int, default=0, help="first seed (held-out split: 1000000+)")
    p.add_argument("--resolution", type=int, default=128, help="image side in pixels")
    p.add_argument("--spp", type=int, default=48, help="samples per pixel of the beauty pass")
    p.add_argument("--workers", type=int, default=0, help="processes (0 = one per core)")
    p.add_argument("--variant", default="", help="Mitsuba variant (default: fastest usable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from models.synth.dataset import SynthConfig, generate

    if args.count < 0 or args.resolution < 16 or args.spp < 1:
        print("synth: --count must be >= 0, --resolution >= 16, --spp >= 1")
        return 2
    if args.variant:
        os.environ["JEWEL_SYNTH_VARIANT"] = args.variant
    workers = args.workers or (os.cpu_count() or 1)
    seeds = range(args.start, args.start + args.count)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task("rendering", total=args.count)
        generate(
            args.out,
            seeds,
            SynthConfig(args.resolution, args.spp),
            workers,
            on_done=lambda done, total: bar.update(task, completed=done),
        )
    print(f"{args.count} samples in {args.out}")
    return 0
