"""JewelNet speed on this machine: network forward pass at its working resolution, the whole
NetAnalyzer call on a pipeline-sized working image, the hybrid default analyzer, and the
synthetic renderer's seconds per training sample.

Target: the network at its working resolution (192 px long side) within 150 ms. Figures are
the median and the best of repeated runs, with torch's default threads and with one thread
(on a machine shared with other work, one thread suffers less from waiting on the other).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _median_ms(fn, repeats: int = 15, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> int:
    from models.analysis.classical import ClassicalAnalyzer
    from models.net.analyzer import MAX_SIDE, NetAnalyzer
    from models.net.hybrid import HybridAnalyzer

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    net = NetAnalyzer()
    params = sum(p.numel() for p in net.model.parameters())
    print(f"JewelNet: {params} parameters, weights file {net.meta.get('sha256', '')[:12]}")
    x = torch.rand(1, 3, MAX_SIDE, MAX_SIDE)
    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            med, best = _median_ms(lambda: net.model(x))
        verdict = "OK" if med <= 150 else "over the 150 ms target"
        print(
            f"network forward {MAX_SIDE}x{MAX_SIDE}, {threads} thread(s): {med:.1f} ms median, "
            f"{best:.1f} ms best ({verdict})"
        )
    torch.set_num_threads(default_threads)
    rgb = np.random.default_rng(0).random((512, 768, 3), dtype=np.float32)
    med, best = _median_ms(lambda: net.analyse(rgb))
    print(f"NetAnalyzer.analyse 768x512 working image: {med:.1f} ms median, {best:.1f} ms best")
    hybrid = HybridAnalyzer(ClassicalAnalyzer(), net)
    med, best = _median_ms(lambda: hybrid.analyse(rgb), 5, 1)
    print(f"HybridAnalyzer.analyse 768x512 (both methods): {med:.1f} ms median, {best:.1f} best")

    if os.environ.get("BENCH_SKIP_RENDER"):
        return 0
    try:
        from models.synth.dataset import SynthConfig, make_sample
        from models.synth.render import variant
    except ImportError as exc:  # pragma: no cover
        print(f"renderer not available: {exc}")
        return 0
    make_sample(0, SynthConfig(32, 2))  # JIT warm-up
    seconds = []
    for seed in range(3):
        start = time.perf_counter()
        make_sample(seed, SynthConfig(128, 48))
        seconds.append(time.perf_counter() - start)
    print(
        f"synth ({variant()}): {statistics.median(seconds):.2f} s per 128x128 sample at 48 spp "
        "(one process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
