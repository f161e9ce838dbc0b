"""Catalog batch throughput: images per minute locally with 1 and 2 jobs, and on Dask.

Default (issue 7): 200 generated 12 MP JPEG catalog shots. That takes hours on a small
machine with the full model, so the count and size are settable:

    python benchmarks/bench_batch.py --count 20 --megapixels 2
    JEWEL_BENCH_BATCH_COUNT=20 JEWEL_BENCH_BATCH_MP=2 make bench

Each mode writes into its own fresh output folder; the Dask mode starts a LocalCluster of
`--dask-workers` worker processes (one thread each) on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.batch import BatchSettings, run_batch  # noqa: E402


def catalog_shot(seed: int, megapixels: float) -> np.ndarray:
    """A jewelry-like photo: uneven grey backdrop, a gold ring with a hotspot, sensor noise.

    Returns uint8 (H, W, 3) with H:W = 3:4 and H * W ~ megapixels * 1e6.
    """
    rng = np.random.default_rng(seed)
    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    yy, xx = np.ogrid[0:height, 0:width]
    backdrop = 200 + 30 * (xx / width) - 20 * (yy / height)
    image = np.repeat(backdrop[..., None], 3, axis=2).astype(np.float32)
    cy, cx = height * rng.uniform(0.4, 0.6), width * rng.uniform(0.4, 0.6)
    radius = min(height, width) * rng.uniform(0.2, 0.3)
    dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    band = (dist > radius * 0.75) & (dist < radius)
    image[band] = (205, 160, 70)
    hot = np.exp(-(((yy - cy + radius * 0.85) ** 2 + (xx - cx) ** 2) / (radius * 0.1) ** 2))
    image += hot[..., None] * 80
    image += rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_catalog(folder: Path, count: int, megapixels: float) -> None:
    for index in range(count):
        sub = folder / f"collection{index % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(catalog_shot(index, megapixels)).save(
            sub / f"shot{index:04}.jpg", quality=92
        )


def timed(label: str, count: int, run) -> float:
    start = time.perf_counter()
    manifest = run()
    seconds = time.perf_counter() - start
    summary = manifest.summary()
    rate = summary["ok"] / seconds * 60 if seconds else float("nan")
    print(
        f"{label:<28} {summary['ok']:>4}/{count} ok  {seconds:8.1f} s  {rate:8.2f} images/min",
        flush=True,
    )
    if summary["failed"]:
        print(f"  {summary['failed']} failed, e.g. {_first_error(manifest)}")
    return rate


def _first_error(manifest) -> str:
    return next((r.error for r in manifest.records.values() if r.error), "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=int(os.environ.get("JEWEL_BENCH_BATCH_COUNT", 200))
    )
    parser.add_argument(
        "--megapixels", type=float, default=float(os.environ.get("JEWEL_BENCH_BATCH_MP", 12))
    )
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--modes", default="local1,local2,dask")
    args = parser.parse_args()
    modes = args.modes.split(",")

    print(
        f"batch throughput: {args.count} generated {args.megapixels:g} MP JPEG shots; "
        f"{os.cpu_count()} CPU(s), {platform.platform()}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="jewel-bench-batch-"))
    try:
        in_dir = work / "in"
        start = time.perf_counter()
        make_catalog(in_dir, args.count, args.megapixels)
        print(f"generated the catalog in {time.perf_counter() - start:.1f} s", flush=True)
        settings = BatchSettings()
        if "local1" in modes:
            timed("local, 1 job", args.count, lambda: run_batch(in_dir, work / "o1", settings))
        if "local2" in modes:
            timed(
                "local, 2 jobs",
                args.count,
                lambda: run_batch(in_dir, work / "o2", settings, jobs=2),
            )
        if "dask" in modes:
            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=args.dask_workers,
                    threads_per_worker=1,
                    dashboard_address=":0",
                    host="127.0.0.1",
                    silence_logs=40,
                ) as cluster,
                Client(cluster) as client,
            ):
                timed(
                    f"dask LocalCluster x{args.dask_workers}",
                    args.count,
                    lambda: run_batch(in_dir, work / "od", settings, dask=client),
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
