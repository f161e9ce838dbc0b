"""Held-out figures for JewelNet v2 beside v1 and image analysis, on composited samples.

    python -m models.net.eval_v2 synth_data/v2/heldout --weights out/jewelnet_v2.pt \
        --compare net,classical

Every method sees the same degraded photos (decoded to linear RGB) and is scored with
`models.net.metrics.evaluate` (matte, metal and gem IoU, defects, shadow IoU and error,
metal-kind accuracy, seconds) plus the matting benchmarks' measures of the matte against the
exact 16-bit coverage: SAD (sum of absolute alpha errors per image, in thousands) and MSE
(mean squared alpha error). The v2 network is wrapped as an `Analyzer` here (`V2Analyzer`)
for scoring only; the pipeline's analyzers are unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from models.analysis import NET_SNAP, Analysis
from models.net.metrics import analyzer_by_name, evaluate
from models.net.v2 import WORKING_SIDE, JewelNetV2, predict
from models.synth.degrade import srgb_decode, srgb_encode


class V2Analyzer:
    """JewelNetV2 behind the Analyzer seam (maps at the photo's size; one thread by default)."""

    name = "jewelnet_v2"

    def __init__(self, model: JewelNetV2, side: int = WORKING_SIDE, threads: int = 1) -> None:
        self.model = model.eval()
        self.side = side
        self.threads = threads

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        encoded = torch.from_numpy(srgb_encode(rgb_linear).astype(np.float32)).permute(2, 0, 1)
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            out = predict(self.model, encoded, self.side)
        finally:
            torch.set_num_threads(before)
        maps = {
            k: out[k].numpy().astype(np.float32)
            for k in ("piece", "metal", "gem", "defects", "shadow")
        }
        snap = lambda p: np.clip((p - NET_SNAP) / (1 - 2 * NET_SNAP), 0, 1).astype(np.float32)  # noqa: E731
        matte = snap(maps["piece"])
        return Analysis(
            matte=matte,
            metal=np.minimum(snap(maps["metal"]), matte),
            gem=np.minimum(snap(maps["gem"]), matte),
            defects=maps["defects"],
            shadow=maps["shadow"] * (1 - maps["piece"]),
            metal_kind=out["metal_kind"],
            extras={"analyzer": self.name},
        )


def matte_errors(analyzer, paths: list[Path]) -> dict:
    """SAD (per image, /1000) and MSE of the matte against the exact coverage."""
    sad, mse = [], []
    for path in paths:
        with np.load(path) as s:
            shot = s["shot"]
            truth = (
                (s["alpha"].astype(np.float32) / 65535) if "alpha" in s.files else s["piece"] / 255
            )
        rgb = srgb_decode(shot.astype(np.float32) / 255).astype(np.float32)
        matte = analyzer.analyse(rgb).matte.astype(np.float32)
        err = matte - truth
        sad.append(float(np.abs(err).sum()) / 1000)
        mse.append(float((err**2).mean()))
    return {"matte_sad": round(float(np.mean(sad)), 3), "matte_mse": round(float(np.mean(mse)), 5)}


def score(analyzer, paths: list[Path]) -> dict:
    return {**evaluate(analyzer, paths), **matte_errors(analyzer, paths)}


def evaluate_v2(model: JewelNetV2, folder: Path, limit: int | None = None) -> dict:
    paths = sorted(Path(folder).glob("[0-9]*.npz"))[:limit]
    if not paths:
        raise FileNotFoundError(f"no samples (*.npz) in {folder}")
    return score(V2Analyzer(model), paths)


ROWS = (
    ("matte SAD (/1000, lower is better)", lambda r: r["matte_sad"]),
    ("matte MSE", lambda r: r["matte_mse"]),
    ("matte IoU", lambda r: r["iou"]["matte"]),
    ("metal IoU", lambda r: r["iou"]["metal"]),
    ("gem IoU", lambda r: r["iou"]["gem"]),
    ("shadow IoU (> 0.15)", lambda r: r["shadow_iou"]),
    ("defect pixel recall", lambda r: r["defect_pixel_recall"]),
    ("metal-kind accuracy", lambda r: r["metal_kind_accuracy"]),
    ("seconds per image", lambda r: r["seconds_per_image"]),
)


def table(results: dict[str, dict]) -> str:
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, get in ROWS:
        lines.append(f"| {label} | " + " | ".join(str(get(results[n])) for n in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m models.net.eval_v2", description=__doc__.split("\n")[0]
    )
    p.add_argument("folder", type=Path, help="held-out composited samples")
    p.add_argument("--weights", type=Path, default=Path("out/jewelnet_v2.pt"))
    p.add_argument(
        "--compare", default="net,classical", help="also score these (net, classical, default)"
    )
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    paths = sorted(args.folder.glob("[0-9]*.npz"))[: args.limit]
    if not paths:
        print(f"no samples in {args.folder}", file=sys.stderr)
        return 2
    from models.net.train_v2 import load_v2

    results = {}
    t = time.time()
    if args.weights.exists():
        model, _ = load_v2(args.weights)
        results["v2"] = score(V2Analyzer(model), paths)
    else:
        print(f"(no v2 weights at {args.weights}; scoring the others only)", file=sys.stderr)
    for name in filter(None, args.compare.split(",")):
        results[{"net": "v1", "classical": "image analysis"}.get(name, name)] = score(
            analyzer_by_name(name), paths
        )
    print(table(results))
    print(json.dumps({"samples": len(paths), "seconds": round(time.time() - t, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
