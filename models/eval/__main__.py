"""`make eval`: the quality table of the model next to the two baselines.

    python -m models.eval [FOLDER] [--per-scene] [--json FILE]

FOLDER holds one sub-folder per image with photo.png, truth.png and mask PNGs (piece, metal,
gem, defects, detail; a missing mask skips its metric), as `models.eval.build` writes them.
Default: the committed benchmark set in models/eval/benchmark.

The truth of these scenes is the faithful retouch (the piece as it is, on white), so the model
runs with finish="natural"; the catalog finish is judged against a retoucher's versions of
real photos instead (`python -m models.eval.real DIR --pairs`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from models import ImageData, RetouchOptions, load
from models.eval import baselines, metrics
from models.eval.build import DEFAULT_FOLDER, MASKS

ROWS = [
    ("bg_white", "background: true-bg pixels at 255", "{:.3f}"),
    ("bg_worst_corner", "background: worst corner value", "{:.0f}"),
    ("bg_banding", "background: banding (max row/col step)", "{:.2f}"),
    ("metal_de2000", "metal: CIEDE2000 to truth (median)", "{:.2f}"),
    ("metal_clipped", "hotspots: metal clipped at 255", "{:.4f}"),
    ("metal_clipped_truth", "hotspots: same, ground truth", "{:.4f}"),
    ("gem_energy", "gems: gradient energy out/truth", "{:.2f}"),
    ("gem_max_change_protect", "gems: max change, protect-gems", "{:.0f}"),
    ("defects_removed", "defects: injected pixels removed", "{:.3f}"),
    ("detail_damaged", "detail: prong/pave/edge damaged", "{:.3f}"),
    ("metal_detected", "metal kind detected right", "{:.2f}"),
    ("psnr", "whole image: PSNR (dB)", "{:.2f}"),
    ("ssim", "whole image: SSIM", "{:.3f}"),
    ("seconds", "seconds per image", "{:.2f}"),
]


def load_case(folder: Path) -> dict:
    case = {"name": folder.name}
    case["photo"] = np.asarray(Image.open(folder / "photo.png").convert("RGB"))
    case["truth"] = np.asarray(Image.open(folder / "truth.png").convert("RGB"))
    h, w = case["photo"].shape[:2]
    masks = {}
    for mask in MASKS:
        path = folder / f"{mask}.png"
        masks[mask] = (
            np.asarray(Image.open(path).convert("L")) > 127
            if path.exists()
            else np.zeros((h, w), bool)
        )
    case["masks"] = masks
    meta = folder / "meta.json"
    case["metal"] = json.loads(meta.read_text()).get("metal") if meta.exists() else None
    return case


def run(folder: Path, analyzers: tuple[str, ...] = ("default",)) -> dict[str, list[dict]]:
    retouchers = {}
    for name in analyzers:
        if name == "classical":
            from models.analysis.classical import ClassicalAnalyzer
            from models.pipeline import Retoucher

            retouchers["jewel-retouch (classical)"] = Retoucher(analyzer=ClassicalAnalyzer())
        else:
            retouchers["jewel-retouch"] = load()
    results: dict[str, list[dict]] = {"input": [], "generic auto-fix": []}
    results.update({label: [] for label in retouchers})
    cases = sorted(p for p in folder.iterdir() if (p / "photo.png").exists())
    if not cases:
        raise SystemExit(f"no cases (sub-folders with photo.png) in {folder}")
    for path in cases:
        case = load_case(path)
        photo, truth, masks = case["photo"], case["truth"], case["masks"]
        for name, fn in (
            ("input", baselines.unchanged),
            ("generic auto-fix", baselines.generic_autofix),
        ):
            started = time.perf_counter()
            out = fn(photo)
            row = metrics.evaluate(out, photo, truth, masks)
            row["seconds"] = time.perf_counter() - started
            row["gem_max_change_protect"] = math.nan
            row["metal_detected"] = math.nan
            results[name].append(row | {"case": case["name"]})
        for label, retoucher in retouchers.items():
            started = time.perf_counter()
            res = retoucher.retouch(ImageData(photo), RetouchOptions(finish="natural"))
            seconds = time.perf_counter() - started
            row = metrics.evaluate(res.image.pixels, photo, truth, masks)
            row["seconds"] = seconds
            protected = retoucher.retouch(
                ImageData(photo), RetouchOptions(finish="natural", protect_gems=True)
            )
            row["gem_max_change_protect"] = metrics.max_gem_change(
                protected.image.pixels, photo, masks["gem"]
            )
            detected = res.info.get("detected_metal")
            row["metal_detected"] = float(detected == case["metal"]) if case["metal"] else math.nan
            row["detected_metal"] = detected
            row["analyzer"] = res.info.get("analyzer")
            results[label].append(row | {"case": case["name"]})
    return results


def _mean(rows: list[dict], key: str) -> float:
    values = [
        r[key] for r in rows if isinstance(r.get(key), (int, float)) and not math.isnan(r[key])
    ]
    return float(np.mean(values)) if values else math.nan


def table(results: dict[str, list[dict]]) -> str:
    names = list(results)
    width = max(len(label) for _, label, _ in ROWS)
    cell = max(16, *(len(n) for n in names))
    lines = [
        f"{'metric (mean over images)':<{width}} | " + " | ".join(f"{n:>{cell}}" for n in names)
    ]
    lines.append("-" * len(lines[0]))
    for key, label, fmt in ROWS:
        cells = []
        for n in names:
            value = _mean(results[n], key)
            cells.append(f"{'-' if math.isnan(value) else fmt.format(value):>{cell}}")
        lines.append(f"{label:<{width}} | " + " | ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.eval", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--per-scene", action="store_true", help="also print one table per image")
    parser.add_argument("--json", type=Path, help="write all figures to this JSON file")
    parser.add_argument(
        "--analyzers",
        default="default,classical",
        help="comma list: default (what models.load() ships) and/or classical",
    )
    args = parser.parse_args(argv)
    results = run(args.folder, tuple(args.analyzers.split(",")))
    count = len(results["input"])
    print(f"jewel-retouch quality on {count} images in {args.folder}\n")
    print(table(results))
    if args.per_scene:
        for i in range(count):
            print(f"\n{results['input'][i]['case']}")
            print(table({k: [v[i]] for k, v in results.items()}))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
