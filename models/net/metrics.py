"""Held-out metrics of any `Analyzer` against synthetic ground truth.

For each sample the analyzer sees the degraded photo (decoded to linear RGB) and its maps are
compared with the exact render masks, thresholded at 0.5:

* IoU of the matte, metal and gem masks (pooled over the whole split: sum of intersections
  over sum of unions, so large pieces weigh more than tiny ones);
* defect recall: the fraction of injected defect pixels flagged, and the fraction of defect
  blobs (connected components) with at least one flagged pixel;
* false positives: the fraction of prong/pave/milgrain/engraving pixels ("detail") and of
  piece-edge pixels (a 3 px band along the piece outline) flagged as defects, defect pixels
  themselves excluded;
* cast shadow: IoU of shadow strength above 0.15, and mean absolute error of the strength;
* metal-kind accuracy (samples with at least 1% metal) and seconds per image.

    python -m models.net.metrics HELDOUT_DIR [--analyzer classical|net|default]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from scipy import ndimage

from models.analyzers import ANALYZER_NAMES, analyzer_by_name
from models.synth.dataset import load_sample
from models.synth.degrade import srgb_decode

MASKS = ("matte", "metal", "gem")


def edge_band(piece: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels within `width` of the outline of the boolean mask `piece` (H, W) -> bool."""
    grown = ndimage.binary_dilation(piece, iterations=width)
    shrunk = ndimage.binary_erosion(piece, iterations=width)
    return grown & ~shrunk


def evaluate(
    analyzer,
    paths: Iterable[Path],
    on_sample: Callable[[dict, object], None] | None = None,
) -> dict:
    """Metrics of `analyzer` over the samples at `paths` (see the module docstring).

    on_sample(sample, analysis), when given, sees each loaded sample (`load_sample`'s dict)
    with its Analysis, so further measures need not run the analyzer a second time."""
    inter = dict.fromkeys(MASKS, 0)
    union = dict.fromkeys(MASKS, 0)
    defect_px = defect_hit = blobs = blobs_hit = 0
    detail_px = detail_fp = edge_px = edge_fp = 0
    kinds = kinds_right = 0
    shadow_inter = shadow_union = 0
    shadow_err = 0.0
    seconds = 0.0
    n = 0
    for path in paths:
        s = load_sample(path)
        rgb = srgb_decode(s["shot"].astype(np.float32) / 255).astype(np.float32)
        start = time.perf_counter()
        a = analyzer.analyse(rgb)
        seconds += time.perf_counter() - start
        n += 1
        if on_sample is not None:
            on_sample(s, a)
        truth = {"matte": s["piece"] > 127, "metal": s["metal"] > 127, "gem": s["gem"] > 127}
        pred = {"matte": a.matte > 0.5, "metal": a.metal > 0.5, "gem": a.gem > 0.5}
        for k in MASKS:
            inter[k] += int((truth[k] & pred[k]).sum())
            union[k] += int((truth[k] | pred[k]).sum())
        true_shadow = s["shadow"].astype(np.float32) / 255
        shadow_inter += int(((true_shadow > 0.15) & (a.shadow > 0.15)).sum())
        shadow_union += int(((true_shadow > 0.15) | (a.shadow > 0.15)).sum())
        shadow_err += float(np.abs(a.shadow - true_shadow).mean())
        flagged = a.defects > 0.5
        defects = s["defects"] > 63
        defect_px += int(defects.sum())
        defect_hit += int((defects & flagged).sum())
        labels, count = ndimage.label(defects)
        if count:
            hit = ndimage.maximum(flagged, labels, range(1, count + 1))
            blobs += count
            blobs_hit += int(np.count_nonzero(hit))
        near_defect = ndimage.binary_dilation(s["defects"] > 25, iterations=1)
        detail = (s["detail"] > 127) & ~near_defect
        edges = edge_band(truth["matte"]) & ~near_defect
        detail_px += int(detail.sum())
        detail_fp += int((detail & flagged).sum())
        edge_px += int(edges.sum())
        edge_fp += int((edges & flagged).sum())
        if truth["metal"].mean() >= 0.01:
            kinds += 1
            kinds_right += int(a.metal_kind == s["meta"]["metal_kind"])
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "samples": n,
        "iou": {k: ratio(inter[k], union[k]) for k in MASKS},
        "defect_pixel_recall": ratio(defect_hit, defect_px),
        "defect_blob_recall": ratio(blobs_hit, blobs),
        "fp_detail": ratio(detail_fp, detail_px),
        "fp_edges": ratio(edge_fp, edge_px),
        "shadow_iou": ratio(shadow_inter, shadow_union),
        "shadow_mae": ratio(shadow_err, n),
        "metal_kind_accuracy": ratio(kinds_right, kinds),
        "seconds_per_image": ratio(seconds, n),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="held-out metrics of an analyzer")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--analyzer", default="net", choices=ANALYZER_NAMES)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    paths = sorted(args.folder.glob("[0-9]*.npz"))
    if args.limit:
        paths = paths[: args.limit]
    if not paths:
        print(f"no samples in {args.folder}", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(analyzer_by_name(args.analyzer), paths), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
