"""Model speed and peak memory at 3, 12, 24 and 48 MP (`make bench`; prints figures).

Each size runs in a fresh child process so the peak resident memory (ru_maxrss) belongs to
that size alone; the input is a procedural benchmark scene (a ring with a stone on a grey,
colour-cast gradient backdrop) scaled up to the size, 8-bit RGB, default options. With
`--scenes tissue` the same ring lies on crumpled magenta tissue instead, which takes the
coloured-backdrop path (models/net/coloured_backdrop.py, models/ops/unmix.py).
Targets (2 cores): 12 MP <= 1.5 s, 24 MP <= 3 s, peak <= 100 bytes per pixel, linear growth.

    python benchmarks/bench_model.py [--sizes 3,12,24,48] [--repeat 2] [--scenes sweep,tissue]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {3: (1500, 2000), 12: (3000, 4000), 24: (4000, 6000), 48: (6000, 8000)}


def _scene(name: str):
    """The benchmark photo at 384 x 512: uint8 (h, w, 3)."""
    import numpy as np
    from scipy import ndimage

    from models.colour import srgb_decode, srgb_encode
    from models.eval import scenes

    built = scenes.build("ring_sapphire_gold", h=384, w=512)
    if name == "sweep":
        return built["photo"]
    # Magenta tissue with folds behind the same ring (its outline anti-aliased).
    rng = np.random.default_rng(1)
    folds = ndimage.gaussian_filter(rng.standard_normal((384, 512)), 8)
    folds = 1 + 0.4 * folds / np.abs(folds).max()
    paper = np.array([0.30, 0.02, 0.32], np.float32) * folds[..., None]
    cover = ndimage.gaussian_filter(built["piece"].astype(np.float32), 0.7)[..., None]
    rgb = cover * srgb_decode(built["photo"].astype(np.float32) / 255) + (1 - cover) * paper
    return np.round(srgb_encode(np.clip(rgb, 0, 1)) * 255).astype(np.uint8)


def child(mp: int, repeat: int, analyzer: str, options: dict, scene: str = "sweep") -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from PIL import Image

    from models import ImageData, RetouchOptions, load

    h, w = SHAPES[mp]
    photo = _scene(scene)
    pixels = np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR))
    image = ImageData(pixels)
    if analyzer == "classical":
        from models.analysis.classical import ClassicalAnalyzer
        from models.pipeline import Retoucher

        retoucher = Retoucher(analyzer=ClassicalAnalyzer())
    else:
        retoucher = load()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = retoucher.retouch(image, RetouchOptions.from_mapping(options))
        times.append(time.perf_counter() - started)
        del result
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps({"mp": mp, "pixels": h * w, "seconds": min(times), "peak": peak, "base": base})
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,12,24,48")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", type=int)
    parser.add_argument("--scenes", default="sweep,tissue",
                        help="sweep (the ring on a grey sweep) and/or tissue (on magenta "
                        "tissue paper; the default analyzer only)")
    parser.add_argument(
        "--options",
        default="{}",
        help='retouch options as JSON, e.g. \'{"background": "keep"}\' (every pixel takes the '
        "full path)",
    )
    parser.add_argument(
        "--analyzers",
        default="default,classical",
        help="default (what models.load() ships) and/or classical (image analysis only)",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat, args.analyzers, json.loads(args.options), args.scenes)
        return 0
    print(f"model benchmark, {os.cpu_count()} CPUs visible")
    runs = [(scene, analyzer) for scene in args.scenes.split(",")
            for analyzer in args.analyzers.split(",")
            if scene == "sweep" or analyzer == "default"]
    for scene, analyzer in runs:
        print(f"\nanalyzer: {analyzer}, options: {args.options}, scene: {scene}")
        print(
            f"{'size':>6} {'pixels':>11} {'seconds':>8} {'s/MP':>6} {'peak MB':>8} {'B/px':>6}"
            f" {'retouch B/px':>12}"
        )
        for mp in (int(s) for s in args.sizes.split(",")):
            command = [sys.executable, __file__, "--child", str(mp), "--repeat", str(args.repeat)]
            command += ["--analyzers", analyzer, "--options", args.options, "--scenes", scene]
            out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                print(f"{mp} MP failed:\n{out.stderr[-2000:]}")
                return 1
            row = json.loads(out.stdout.strip().splitlines()[-1])
            px = row["pixels"]
            print(
                f"{mp:>4}MP {px:>11} {row['seconds']:>8.2f} {row['seconds'] / px * 1e6:>6.3f} "
                f"{row['peak'] / 1e6:>8.0f} {row['peak'] / px:>6.1f}"
                f" {(row['peak'] - row['base']) / px:>12.1f}"
            )
    print("peak = whole-process resident peak (interpreter, numpy, torch, input included);")
    print("retouch B/px = that peak minus the resident size just before the first retouch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
