"""JewelNet v2 speed on this machine: the forward pass at the 512 px working size with one and
two torch threads (target: 0.4 s), the whole `predict` on a 1024 x 768 analysis image, the
parameter count and the size of the float32 weights (limit 30 MB).

    python benchmarks/bench_net_v2.py [--weights out/jewelnet_v2.pt] [--repeats 15]

The timings do not depend on the weights' values, so with no weights file a freshly
initialised network is timed (said in the output).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from bench_net import _median_ms  # noqa: E402  (the same timer as v1's benchmark)

TARGET_S = 0.4


def _timed(fn, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """(median, best) seconds of `fn` (bench_net's timer, in seconds)."""
    med, best = _median_ms(fn, repeats, warmup)
    return med / 1000, best / 1000


def main(argv: list[str] | None = None) -> int:
    from models.net.v2 import WORKING_SIDE, JewelNetV2, parameter_count, predict

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", type=Path, default=Path("out/jewelnet_v2.pt"))
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    if args.weights.exists():
        from models.net.train_v2 import load_v2

        model, _ = load_v2(args.weights)
        source = str(args.weights)
    else:
        model = JewelNetV2().eval()
        source = "fresh initialisation (no weights file)"
    params = parameter_count(model)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; JewelNet v2 from {source}")
    print(f"parameters: {params:,} ({params * 4 / 1e6:.2f} MB of float32 weights; limit 30 MB)")
    x = torch.rand(1, 3, WORKING_SIDE, WORKING_SIDE)
    photo = torch.rand(3, 768, 1024)  # a pipeline-sized analysis image, resized inside
    default = torch.get_num_threads()
    worst = 0.0
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            med, best = _timed(lambda: model(x), args.repeats)
        worst = max(worst, med)
        verdict = "OK" if med <= TARGET_S else f"over the {TARGET_S} s target"
        print(
            f"forward {WORKING_SIDE}x{WORKING_SIDE}, {threads} thread(s): {med:.3f} s median, "
            f"{best:.3f} s best ({verdict})"
        )
    torch.set_num_threads(1)
    med, best = _timed(lambda: predict(model, photo), max(3, args.repeats // 3), 1)
    print(
        f"predict on a 1024x768 image (resize to 512x384, forward, maps back to 1024x768), "
        f"1 thread: {med:.3f} s median, {best:.3f} s best"
    )
    torch.set_num_threads(default)
    print(f"worst median {worst:.3f} s: {'within' if worst <= TARGET_S else 'over'} the target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
