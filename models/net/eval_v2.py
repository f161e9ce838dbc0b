"""Held-out figures for JewelNet v2 beside v1 and image analysis, on composited samples.

    python -m models.net.eval_v2 synth_data/v2/heldout --weights out/jewelnet_v2.pt \
        --compare net,classical

Every method sees the same degraded photos (decoded to linear RGB) and is scored with
`models.net.metrics.evaluate` (matte, metal and gem IoU, defects, shadow IoU and error,
metal-kind accuracy, seconds) plus the matting benchmarks' measures of the matte against the
exact 16-bit coverage: SAD (sum of absolute alpha errors per image, in thousands) and MSE
(mean squared alpha error), and how much of a prop (felt pad, wax, clip) each keeps as piece.
The v2 network is scored through `models.net.analyzer_v2.V2Analyzer`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from models.analyzers import USES_V2, analyzer_by_name
from models.net.analyzer_v2 import V2Analyzer
from models.net.metrics import evaluate
from models.net.v2 import JewelNetV2


class MatteErrors:
    """The matting measures, gathered one sample at a time (`add`, as evaluate's on_sample).

    result(): SAD (per image, /1000) and MSE of the matte against the exact coverage, and on
    samples with a prop (a felt pad, wax, a clip): "prop_kept", the share of the prop's pixels
    (coverage > 0.5) that the matte calls piece (> 0.5; lower is better: a retoucher removes
    them all), and "prop_iou" of the analyzer's own prop map where it has one.
    """

    def __init__(self) -> None:
        self.sad: list[float] = []
        self.mse: list[float] = []
        self.prop_px = self.prop_kept = self.prop_inter = self.prop_union = 0
        self.has_props = False

    def add(self, sample: dict, analysis) -> None:
        truth = (
            sample["alpha"].astype(np.float32) / 65535
            if "alpha" in sample
            else sample["piece"].astype(np.float32) / 255
        )
        prop = sample["prop"] > 127 if "prop" in sample else np.zeros(truth.shape, bool)
        matte = analysis.matte.astype(np.float32)
        err = matte - truth
        self.sad.append(float(np.abs(err).sum()) / 1000)
        self.mse.append(float((err**2).mean()))
        self.prop_px += int(prop.sum())
        self.prop_kept += int((prop & (matte > 0.5)).sum())
        if analysis.props is not None:
            self.has_props = True
            said = analysis.props > 0.5
            self.prop_inter += int((said & prop).sum())
            self.prop_union += int((said | prop).sum())

    def result(self) -> dict:
        return {
            "matte_sad": round(float(np.mean(self.sad)), 3) if self.sad else None,
            "matte_mse": round(float(np.mean(self.mse)), 5) if self.mse else None,
            "prop_kept": round(self.prop_kept / self.prop_px, 3) if self.prop_px else None,
            "prop_iou": (
                round(self.prop_inter / self.prop_union, 3)
                if self.has_props and self.prop_union
                else None
            ),
        }


def score(analyzer, paths: list[Path]) -> dict:
    """evaluate's figures and the matting measures, the analyzer run once per sample."""
    errors = MatteErrors()
    return {**evaluate(analyzer, paths, on_sample=errors.add), **errors.result()}


def evaluate_v2(model: JewelNetV2, folder: Path, limit: int | None = None) -> dict:
    paths = sorted(Path(folder).glob("[0-9]*.npz"))[:limit]
    if not paths:
        raise FileNotFoundError(f"no samples (*.npz) in {folder}")
    return score(V2Analyzer(model=model), paths)


ROWS = (
    ("matte SAD (/1000, lower is better)", lambda r: r["matte_sad"]),
    ("matte MSE", lambda r: r["matte_mse"]),
    ("matte IoU", lambda r: r["iou"]["matte"]),
    ("metal IoU", lambda r: r["iou"]["metal"]),
    ("gem IoU", lambda r: r["iou"]["gem"]),
    ("shadow IoU (> 0.15)", lambda r: r["shadow_iou"]),
    ("defect pixel recall", lambda r: r["defect_pixel_recall"]),
    ("prop pixels kept as piece (lower is better)", lambda r: r["prop_kept"]),
    ("prop IoU", lambda r: r["prop_iou"]),
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
        results["v2"] = score(V2Analyzer(model=model), paths)
    else:
        print(f"(no v2 weights at {args.weights}; scoring the others only)", file=sys.stderr)
    for name in filter(None, args.compare.split(",")):
        # The hybrids that use v2 get the same v2 weights as the column above.
        weights = args.weights if name in USES_V2 and args.weights.exists() else None
        results[{"net": "v1", "classical": "image analysis"}.get(name, name)] = score(
            analyzer_by_name(name, weights), paths
        )
    print(table(results))
    print(json.dumps({"samples": len(paths), "seconds": round(time.time() - t, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
