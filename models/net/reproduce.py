"""Reproduces the shipped weights from a seed: renders the data, trains, writes the weights.

    python -m models.net.reproduce --data DIR --count N --weights PATH

is what `jewel-retouch train` runs. The samples are rendered with Mitsuba's llvm_ad_rgb
variant by default (fast on CPU). Every sample, rendered pixels included, is an exact function
of its seed on a given variant and CPU (see models.synth.render).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from models.synth.dataset import HELDOUT_SEED_BASE, SynthConfig, generate, sample_path

# The settings that made the shipped weights (models/weights/jewelnet.pt).
# Sized so the whole run fits a 2-core CPU in about an hour (see models/MODEL_CARD.md).
DEFAULTS = {
    "count": 1000,
    "heldout": 120,
    "seed": 0,
    "steps": 4000,
    "batch": 16,
    "crop": 96,
    "threads": 2,
    "resolution": 128,
    "spp": 48,
}


def _bar(label: str):
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.time()
        if now - last[0] > 5 or done == total:
            last[0] = now
            print(f"{label}: {done}/{total}", flush=True)

    return show


def _cpu_name() -> str:
    """The CPU's model name (Linux), else the platform's machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu: " + platform.machine()


def reproduce(args: argparse.Namespace) -> dict:
    import torch

    from models.net.train import TrainConfig, save_weights, tensor_digest, train

    os.environ.setdefault("JEWEL_SYNTH_VARIANT", args.variant)
    config = SynthConfig(args.resolution, args.spp)
    workers = args.workers or (os.cpu_count() or 1)
    t0 = time.time()
    if args.heldout:
        held = [HELDOUT_SEED_BASE + i for i in range(args.heldout)]
        generate(Path(args.heldout_dir), held, config, workers, _bar("held-out"))
    t1 = time.time()
    deadline = t1 + args.gen_seconds if args.gen_seconds else None
    seeds = list(range(args.count))
    generate(Path(args.data), seeds, config, workers, _bar("train"), deadline)
    count = 0
    while count < len(seeds) and sample_path(Path(args.data), seeds[count]).exists():
        count += 1  # the unbroken prefix 0..count-1 is what we train on
    t2 = time.time()
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tcfg = TrainConfig(
        seed=args.seed,
        steps=args.steps,
        batch=args.batch,
        crop=args.crop,
        device=device,
        threads=args.threads,
    )
    folder = Path(args.data)
    subset = folder / f".train_{count}"
    subset.mkdir(exist_ok=True)
    for s in seeds[:count]:
        link = subset / sample_path(folder, s).name
        if not link.exists():
            os.symlink(sample_path(folder, s).resolve(), link)
    model, log = train(
        subset,
        tcfg,
        on_step=lambda i, n, loss: (
            print(f"step {i}/{n} loss {loss:.4f}", flush=True) if i % 250 == 1 or i == n else None
        ),
    )
    t3 = time.time()
    from models.synth.render import variant

    meta = {
        "train_seeds": [0, count],
        "heldout_seeds": [HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + args.heldout],
        "synth": {"resolution": args.resolution, "spp": args.spp, "variant": variant()},
        "train": log,
        "render_seconds": round(t2 - t1, 1),
        "heldout_render_seconds": round(t1 - t0, 1),
        "train_seconds": round(t3 - t2, 1),
        "device": torch.cuda.get_device_name(0) if device == "cuda" else _cpu_name(),
        "workers": workers,
        "tensor_sha256": tensor_digest(model),
    }
    save_weights(model, Path(args.weights), meta)
    digest = hashlib.sha256(Path(args.weights).read_bytes()).hexdigest()
    print(json.dumps({**meta, "sha256": digest}), flush=True)
    if args.compare:
        from models.net.train import load_weights

        other, _ = load_weights(Path(args.compare))
        same = tensor_digest(other) == meta["tensor_sha256"]
        meta["reproduced"] = same
        print(
            f"{'identical to' if same else 'DIFFERENT from'} {args.compare} "
            f"(parameters and buffers, bit for bit)",
            flush=True,
        )
    return meta


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="synth_data/train", help="folder of training samples")
    p.add_argument("--heldout-dir", default="synth_data/heldout")
    p.add_argument("--count", type=int, default=DEFAULTS["count"], help="training samples")
    p.add_argument("--heldout", type=int, default=DEFAULTS["heldout"], help="held-out samples")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="training seed")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument(
        "--crop", type=int, default=DEFAULTS["crop"], help="training window size in pixels"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=DEFAULTS["threads"],
        help="torch CPU threads for training (results are bit-identical for the same count)",
    )
    p.add_argument("--resolution", type=int, default=DEFAULTS["resolution"])
    p.add_argument("--spp", type=int, default=DEFAULTS["spp"])
    p.add_argument("--workers", type=int, default=0, help="render processes (0 = all cores)")
    p.add_argument(
        "--device",
        default="cpu",
        help="cpu (how the shipped weights were made), cuda or auto; CUDA rounds differently",
    )
    p.add_argument("--variant", default="llvm_ad_rgb", help="Mitsuba variant for the renders")
    p.add_argument(
        "--gen-seconds",
        type=float,
        default=0.0,
        help="stop rendering after this long and train on what is done (0 = no limit)",
    )
    p.add_argument("--weights", default="models/weights/jewelnet.pt")
    p.add_argument(
        "--compare",
        default="",
        help="weights file to compare the result with (e.g. the shipped one); "
        "exit status 1 when the learned numbers differ",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    meta = reproduce(parser.parse_args(argv))
    return 1 if meta.get("reproduced") is False else 0


if __name__ == "__main__":
    sys.exit(main())
