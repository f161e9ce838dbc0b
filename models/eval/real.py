"""`make eval-real`: retouch a folder of real photos and judge them without ground truth.

    python -m models.eval.real DIR --out OUT [--options JSON] [--limit N] [--match TEXT]
    python -m models.eval.real DIR --out OUT --pairs [--options JSON] [--match TEXT]

For every photo in DIR (JPEG, PNG, TIFF, WebP) it writes to OUT:

- `NAME.jpg`: the retouched result at full size (JPEG q95; for looking, not for delivery);
- `NAME_pair.png`: before | after side by side (each half at most 1200 px on its long side);
- `sheet_NN.png`: contact sheets of 12 pairs each;
- `figures.csv` and `figures.md`: the no-reference figures below, one row per photo.

Figures (over the output's piece mask, `masks["piece"] > 127`, and its metal mask):

- `lum`, `contrast`, `chroma`: the piece's mean CIE L*, the standard deviation of L* and the
  mean C*ab, each as out/in (1.00 = as shot);
- `border255`: share of the output's frame border (outermost 2 % of each side) at exactly 255
  in every channel (1.00 on a clean white background);
- `islands`: share of the frame covered by non-white (any channel < 250) output regions that do
  not touch the piece (grey blobs of old backdrop or shadow left on the white);
- `clip_in`, `clip_out`: share of metal pixels with every channel at the top code;
- `backdrop_fit`, `matte_certainty`: the analysis' confidence; `metal`: detected -> used;
  `cast`: share of the backdrop's tint removed as the light's; `exposure`: the piece's gain;
  `warnings`: the warning codes.

Pairs mode (`--pairs`) compares us with a professional retoucher: for every before/after
pair in DIR (`NAME_before.EXT` / `NAME_after.EXT`, or `dNNN_NAME-before` / `dMMM_NAME-after`:
the same name once the leading id and the word before/after are taken away), it retouches the
before and writes `NAME_vs.png` (raw | ours | retoucher), `pairs_NN.png` sheets and
`pairs.csv` / `pairs.md` with, against the retoucher's version (same size as the raw):

- `residue`: share of the retoucher's white pixels (every channel >= 250) that we leave
  non-white (background or shadow left over; with a shadow option, ours counts too);
- `lost`: share of the retoucher's piece pixels (any channel < 230) that we make white;
- `lum`, `contrast`: the piece's mean L* and L* spread, ours / theirs, over the pixels that
  both call piece; `raw_lum`, `raw_contrast`: the raw shot's / theirs (what "as shot" gives).

The photos are never modified and nothing here is used by the tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from scipy import ndimage

from models import ImageData, RetouchOptions, load
from models.analyzers import ANALYZER_NAMES, analyzer_by_name
from models.colour import srgb_decode
from models.ops.lab import linear_srgb_to_lab

SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
PAIR_SIDE = 1200
SHEET_COLUMNS = 3
SHEET_ROWS = 4
THUMB_SIDE = 400
COLUMNS = (
    "photo", "size", "lum", "contrast", "chroma", "border255", "islands", "clip_in",
    "clip_out", "backdrop_fit", "matte_certainty", "metal", "cast", "exposure", "seconds",
    "warnings",
)


def read_photo(path: Path) -> ImageData:
    """A photo file as ImageData (8-bit RGB or RGBA, EXIF orientation applied, ICC kept)."""
    with Image.open(path) as img:
        icc = img.info.get("icc_profile")
        img = ImageOps.exif_transpose(img)
        mode = "RGBA" if "A" in img.getbands() else "RGB"
        pixels = np.asarray(img.convert(mode))
    return ImageData(np.ascontiguousarray(pixels), icc or None)


def _lab(codes: np.ndarray) -> np.ndarray:
    """uint8 sRGB codes (..., 3) -> CIE Lab (..., 3) float32."""
    return linear_srgb_to_lab(srgb_decode(codes.astype(np.float32) / 255.0))


def _ratio(out: float, inp: float) -> float:
    return round(out / inp, 3) if abs(inp) > 1e-6 else float("nan")


def figures(photo: np.ndarray, out: np.ndarray, piece: np.ndarray, metal: np.ndarray) -> dict:
    """No-reference figures of one retouch (see the module docstring).

    photo, out: uint8 (h, w, 3) sRGB codes of the input and the (same-size) output;
    piece, metal: bool (h, w) masks of the output.
    """
    row: dict = {}
    if piece.sum() >= 16:
        step = max(1, int(np.sqrt(piece.sum() / 200_000)))  # subsample big pieces
        sel = piece[::step, ::step]
        lab_in = _lab(photo[::step, ::step][sel])
        lab_out = _lab(out[::step, ::step][sel])
        row["lum"] = _ratio(lab_out[:, 0].mean(), lab_in[:, 0].mean())
        row["contrast"] = _ratio(lab_out[:, 0].std(), lab_in[:, 0].std())
        row["chroma"] = _ratio(
            np.hypot(lab_out[:, 1], lab_out[:, 2]).mean(),
            np.hypot(lab_in[:, 1], lab_in[:, 2]).mean(),
        )
    else:
        row["lum"] = row["contrast"] = row["chroma"] = float("nan")
    h, w = piece.shape
    band = max(1, int(0.02 * min(h, w)))
    border = np.zeros((h, w), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    row["border255"] = round(float((out[border] == 255).all(axis=-1).mean()), 3)
    non_white = (out < 250).any(axis=-1)
    labels, count = ndimage.label(non_white)
    if count:
        touching = np.unique(labels[ndimage.binary_dilation(piece, iterations=2) & non_white])
        island = non_white & ~np.isin(labels, touching)
        row["islands"] = round(float(island.mean()), 4)
    else:
        row["islands"] = 0.0
    if metal.any():
        row["clip_in"] = round(float((photo[metal] == 255).all(axis=-1).mean()), 4)
        row["clip_out"] = round(float((out[metal] == 255).all(axis=-1).mean()), 4)
    else:
        row["clip_in"] = row["clip_out"] = float("nan")
    return row


def _fit(img: Image.Image, side: int) -> Image.Image:
    scale = side / max(img.size)
    if scale >= 1:
        return img
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                      Image.Resampling.LANCZOS)


def pair_image(before: np.ndarray, after: np.ndarray, side: int, label: str = "") -> Image.Image:
    """before | after side by side on grey, each fitted into side x side, with a caption."""
    left = _fit(Image.fromarray(before), side)
    right = _fit(Image.fromarray(after), side)
    gap, caption = 8, 22
    sheet = Image.new("RGB", (left.width + right.width + gap, max(left.height, right.height) +
                              caption), (128, 128, 128))
    sheet.paste(left, (0, caption))
    sheet.paste(right, (left.width + gap, caption))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), f"before  {label}", fill=(255, 255, 0))
    draw.text((left.width + gap + 4, 4), "after", fill=(255, 255, 0))
    return sheet


def contact_sheets(pairs: list[Image.Image], out: Path) -> list[Path]:
    """Contact sheets of SHEET_COLUMNS x SHEET_ROWS pairs; returns their paths."""
    per = SHEET_COLUMNS * SHEET_ROWS
    cell_w, cell_h = 2 * THUMB_SIDE + 8, THUMB_SIDE + 22
    paths = []
    for start in range(0, len(pairs), per):
        sheet = Image.new("RGB", (SHEET_COLUMNS * cell_w, SHEET_ROWS * cell_h), (64, 64, 64))
        for i, pair in enumerate(pairs[start : start + per]):
            thumb = _fit(pair, 2 * THUMB_SIDE + 8)
            sheet.paste(thumb, ((i % SHEET_COLUMNS) * cell_w, (i // SHEET_COLUMNS) * cell_h))
        path = out / f"sheet_{start // per + 1:02d}.png"
        sheet.save(path)
        paths.append(path)
    return paths


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 (h, w, C) -> (h, w, 3) over white (transparency shown as white)."""
    if pixels.dtype != np.uint8:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.shape[2] in (1, 2):
        pixels = np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=-1)
    if pixels.shape[2] == 4:
        a = pixels[..., 3:4].astype(np.float32) / 255
        return (pixels[..., :3] * a + 255 * (1 - a) + 0.5).astype(np.uint8)
    return pixels[..., :3]


def evaluate_folder(
    folder: Path,
    out: Path,
    options: dict | None = None,
    limit: int | None = None,
    match: str | None = None,
    analyzer: str = "default",
    v2_weights: Path | None = None,
) -> list[dict]:
    """Retouch every photo of `folder`, write the images and tables to `out`; the rows.
    analyzer: a name of models.analyzers.ANALYZER_NAMES (v2_weights: its JewelNet v2 file)."""
    out.mkdir(parents=True, exist_ok=True)
    opts = RetouchOptions.from_mapping(options or {})
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if match:
        paths = [p for p in paths if match in p.name]
    paths = paths[:limit] if limit else paths
    if not paths:
        raise SystemExit(f"no photos ({', '.join(sorted(SUFFIXES))}) in {folder}")
    retoucher = _retoucher(analyzer, v2_weights)
    rows, pairs = [], []
    for index, path in enumerate(paths, 1):
        try:
            image = read_photo(path)
        except (OSError, ValueError) as exc:
            print(f"[{index}/{len(paths)}] {path.name}: cannot read ({exc})", file=sys.stderr)
            continue
        started = time.perf_counter()
        result = retoucher.retouch(image, opts, layers=True)
        seconds = time.perf_counter() - started
        before, after = _rgb(image.pixels), _rgb(result.image.pixels)
        row = {"photo": path.name, "size": f"{image.width}x{image.height}"}
        if after.shape == before.shape:
            piece = result.masks["piece"] > 127
            metal = (result.masks["metal"] > 127) & piece
            row.update(figures(before, after, piece, metal))
        confidence = result.info.get("confidence", {})
        row["backdrop_fit"] = confidence.get("backdrop_fit", float("nan"))
        row["matte_certainty"] = confidence.get("matte_certainty", float("nan"))
        row["metal"] = f"{result.info.get('detected_metal')}->{result.info.get('metal')}"
        row["cast"] = result.info.get("tone", {}).get("cast_removed", float("nan"))
        row["exposure"] = result.info.get("tone", {}).get("exposure_gain", float("nan"))
        row["seconds"] = round(seconds, 2)
        row["warnings"] = " ".join(w["code"] for w in result.warnings)
        rows.append(row)
        Image.fromarray(after).save(out / f"{path.stem}.jpg", quality=95)
        pair = pair_image(before, after, PAIR_SIDE, path.name)
        pair.save(out / f"{path.stem}_pair.png")
        pairs.append(pair)
        print(f"[{index}/{len(paths)}] {path.name} {seconds:.1f}s {row['warnings']}", flush=True)
    contact_sheets(pairs, out)
    write_tables(rows, out)
    return rows


def write_tables(rows: list[dict], out: Path, name: str = "figures",
                 columns: tuple[str, ...] = COLUMNS) -> None:
    with open(out / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


PAIR_COLUMNS = ("pair", "residue", "lost", "lum", "raw_lum", "contrast", "raw_contrast", "seconds",
                "warnings")
RETOUCHER_WHITE = 250  # every channel at least this: the retoucher's background
RETOUCHER_PIECE = 230  # any channel below this: the retoucher's piece


def _pair_key(stem: str) -> tuple[str, str] | None:
    """(name without the word before/after, "before" | "after"), or None for a lone photo."""
    lower = stem.lower()
    found = re.search(r"(before|after)", lower)
    if found is None:
        return None
    rest = lower[: found.start()] + lower[found.end() :]
    return rest.strip("_- "), found.group(1)


def _without_id(name: str) -> str:
    return re.sub(r"^[a-z]?\d+[_-]", "", name)


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(before, after) photo pairs of `folder`, sorted by the before's name: the same name
    once before/after is taken away, or else once the leading id is taken away too."""
    befores: dict[str, Path] = {}
    afters: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES):
        key = _pair_key(path.stem)
        if key is not None:
            (befores if key[1] == "before" else afters)[key[0]] = path
    pairs = {k: (befores[k], afters.pop(k)) for k in list(befores) if k in afters}
    loose = {_without_id(k): path for k, path in afters.items()}
    for key, before in befores.items():
        if key not in pairs and _without_id(key) in loose:
            pairs[key] = (before, loose.pop(_without_id(key)))
    return sorted(pairs.values(), key=lambda pair: pair[0].name)


def pair_figures(raw: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> dict:
    """Figures of our retouch against the retoucher's (see the module docstring).

    raw, ours, theirs: uint8 (h, w, 3) sRGB codes of the same size."""
    their_white = (theirs >= RETOUCHER_WHITE).all(axis=-1)
    their_piece = (theirs < RETOUCHER_PIECE).any(axis=-1)
    our_white = (ours >= RETOUCHER_WHITE).all(axis=-1)
    row: dict = {
        "residue": round(float((their_white & ~our_white).sum() / max(their_white.sum(), 1)), 4),
        "lost": round(float((their_piece & our_white).sum() / max(their_piece.sum(), 1)), 4),
    }
    both = their_piece & (ours < RETOUCHER_PIECE).any(axis=-1)
    if both.sum() >= 16:
        l_raw, l_ours, l_theirs = (_lab(img[both])[:, 0] for img in (raw, ours, theirs))
        row["lum"] = _ratio(l_ours.mean(), l_theirs.mean())
        row["contrast"] = _ratio(l_ours.std(), l_theirs.std())
        row["raw_lum"] = _ratio(l_raw.mean(), l_theirs.mean())
        row["raw_contrast"] = _ratio(l_raw.std(), l_theirs.std())
    else:
        row["lum"] = row["contrast"] = row["raw_contrast"] = row["raw_lum"] = float("nan")
    return row


def triptych(images: list[np.ndarray], labels: list[str], side: int) -> Image.Image:
    """Images side by side on grey, each fitted into side x side, each with its label."""
    tiles = [_fit(Image.fromarray(img), side) for img in images]
    gap, caption = 8, 22
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1),
                              max(t.height for t in tiles) + caption), (128, 128, 128))
    draw = ImageDraw.Draw(sheet)
    x = 0
    for tile, label in zip(tiles, labels, strict=True):
        sheet.paste(tile, (x, caption))
        draw.text((x + 4, 4), label, fill=(255, 255, 0))
        x += tile.width + gap
    return sheet


def _retoucher(analyzer: str, v2_weights: Path | None = None):
    """The shipped retoucher, or the pipeline with the named analyzer."""
    if analyzer == "default" and v2_weights is None:
        return load()
    from models.pipeline import Retoucher

    return Retoucher(analyzer=analyzer_by_name(analyzer, v2_weights))


def evaluate_pairs(folder: Path, out: Path, options: dict | None = None,
                   match: str | None = None, analyzer: str = "default",
                   v2_weights: Path | None = None) -> list[dict]:
    """Pairs mode: retouch every pair's before, compare with its after; the rows."""
    out.mkdir(parents=True, exist_ok=True)
    opts = RetouchOptions.from_mapping(options or {})
    pairs = find_pairs(folder)
    if match:
        pairs = [p for p in pairs if match in p[0].name]
    if not pairs:
        raise SystemExit(f"no before/after pairs in {folder}")
    retoucher = _retoucher(analyzer, v2_weights)
    rows, sheets = [], []
    for index, (before_path, after_path) in enumerate(pairs, 1):
        try:
            before, after = read_photo(before_path), read_photo(after_path)
        except (OSError, ValueError) as exc:
            print(f"[{index}/{len(pairs)}] {before_path.name}: cannot read ({exc})",
                  file=sys.stderr)
            continue
        started = time.perf_counter()
        result = retoucher.retouch(before, opts)
        seconds = time.perf_counter() - started
        raw, ours, theirs = _rgb(before.pixels), _rgb(result.image.pixels), _rgb(after.pixels)
        row = {"pair": before_path.stem, "seconds": round(seconds, 2),
               "warnings": " ".join(w["code"] for w in result.warnings)}
        if raw.shape == ours.shape == theirs.shape:
            row.update(pair_figures(raw, ours, theirs))
        rows.append(row)
        Image.fromarray(ours).save(out / f"{before_path.stem}.jpg", quality=95)
        sheet = triptych([raw, ours, theirs], [f"raw {before_path.name}", "ours", "retoucher"],
                         int(PAIR_SIDE / 1.5))
        sheet.save(out / f"{before_path.stem}_vs.png")
        sheets.append(sheet)
        print(f"[{index}/{len(pairs)}] {before_path.name} {seconds:.1f}s", flush=True)
    per = 4
    for start in range(0, len(sheets), per):
        group = sheets[start : start + per]
        page = Image.new("RGB", (max(s.width for s in group), sum(s.height for s in group)),
                         (64, 64, 64))
        y = 0
        for sheet in group:
            page.paste(sheet, (0, y))
            y += sheet.height
        page.save(out / f"pairs_{start // per + 1:02d}.png")
    write_tables(rows, out, "pairs", PAIR_COLUMNS)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.eval.real",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, help="folder of real photos")
    parser.add_argument("--out", type=Path, required=True, help="where to write the results")
    parser.add_argument("--options", default="{}", help="retouch options as a JSON object")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    parser.add_argument("--match", default=None, help="only photos whose name contains this")
    parser.add_argument("--pairs", action="store_true",
                        help="compare with a retoucher's before/after pairs in the folder")
    parser.add_argument("--analyzer", default="default", choices=ANALYZER_NAMES,
                        help="the analysis to retouch with (default: the shipped one)")
    parser.add_argument("--v2-weights", type=Path, default=None,
                        help="JewelNet v2 weights for an analyzer that uses v2 (a candidate)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"not a folder: {args.folder}")
    try:
        options = json.loads(args.options)
        RetouchOptions.from_mapping(options)
    except ValueError as exc:
        parser.error(f"--options: {exc}")
    try:
        _retoucher(args.analyzer, args.v2_weights)  # refuse a bad pair before any work
    except ValueError as exc:
        parser.error(str(exc))
    if args.pairs:
        rows = evaluate_pairs(
            args.folder, args.out, options, args.match, args.analyzer, args.v2_weights
        )
        print((args.out / "pairs.md").read_text())
        print(f"{len(rows)} pairs; sheets and figures in {args.out}")
        return 0
    rows = evaluate_folder(
        args.folder, args.out, options, args.limit, args.match, args.analyzer, args.v2_weights
    )
    print((args.out / "figures.md").read_text())
    print(f"{len(rows)} photos; images and figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
