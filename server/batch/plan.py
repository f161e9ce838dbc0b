"""Which files a batch run processes and where each result goes (always inside OUT_DIR)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from server.raw import RAW_EXTENSIONS

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"})
INPUT_EXTENSIONS = IMAGE_EXTENSIONS | RAW_EXTENSIONS
OUTPUT_FORMATS = ("png", "jpeg", "tiff", "webp")  # the server's names (server.imageio)
OUTPUT_EXTENSION = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "webp": ".webp"}
FORMAT_OF_EXTENSION = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
}
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}


def format_name(name: str) -> str:
    """The one name of an output format ("jpg" -> "jpeg"); PlanError for an unknown one."""
    fmt = FORMAT_ALIASES.get(name.lower(), name.lower())
    if fmt not in OUTPUT_FORMATS:
        raise PlanError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}; got {name!r}")
    return fmt


STATE_DIR_NAME = ".jewel-retouch"
# Said to people: the full list of RAW extensions is two lines long.
KNOWN_INPUTS = (
    "PNG, JPEG (.jpg, .jpeg), TIFF (.tif, .tiff), WebP and camera RAW (.cr2, .cr3, .nef, "
    ".arw, .dng, .raf, .orf, .rw2 and the other formats LibRaw reads)"
)


class PlanError(ValueError):
    """The batch cannot start (missing input folder, output inside a file, unsafe path...)."""


class NoImages(PlanError):
    """The input folder holds no image this batch reads: nothing to do, most likely the wrong
    folder. Raised before the output folder is made."""


def missing_folder_message(in_dir: Path) -> str:
    """Why IN_DIR cannot be read as a folder, with the likely fix (a close name beside it, or
    `retouch` for a single file)."""
    import difflib
    import shlex

    if in_dir.is_file() and in_dir.suffix.lower() in INPUT_EXTENSIONS:
        return (
            f"input folder {in_dir} is a file; for one file run: jewel-retouch retouch "
            f"{shlex.quote(str(in_dir))} -o OUTPUT_FILE"
        )
    message = f"input folder {in_dir} does not exist or is not a folder"
    parent = in_dir.parent if str(in_dir.parent) else Path(".")
    try:
        siblings = [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        siblings = []
    close = difflib.get_close_matches(in_dir.name, siblings, n=3, cutoff=0.6)
    if close:
        message += "; did you mean " + " or ".join(str(parent / name) for name in close) + "?"
    return message


def no_images_message(in_dir: Path) -> str:
    """What the folder holds instead of images (so a wrong folder or format is plain)."""
    others: dict[str, int] = {}
    hidden = 0
    for _root, dirs, files in os.walk(in_dir, followlinks=False):
        hidden += sum(1 for d in dirs if d.startswith("."))  # not walked, as in discover()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                hidden += 1
                continue
            suffix = Path(name).suffix.lower() or "(no extension)"
            others[suffix] = others.get(suffix, 0) + 1
    if not others and not hidden:
        found = "it is empty"
    else:
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(others.items()))
        found = f"it holds {kinds or 'no visible files'}"
        if hidden:
            found += f" and {hidden} hidden file(s) or folder(s), which are skipped"
    return (
        f"no images in {in_dir} (searched its sub-folders too): {found}. "
        f"The batch reads {KNOWN_INPUTS}"
    )


@dataclass(frozen=True)
class BatchItem:
    """One input file and its output, both relative to the run's IN_DIR / OUT_DIR."""

    source: str  # POSIX-style path relative to IN_DIR
    target: str  # POSIX-style path relative to OUT_DIR
    format: str  # output format: png | jpeg | tiff | webp


def output_format_for(source: Path, requested: str | None) -> str:
    """The output format: the requested one, else the input's own (RAW files become 16-bit TIFF)."""
    if requested:
        return format_name(requested)
    return FORMAT_OF_EXTENSION.get(source.suffix.lower(), "tiff")


def discover(in_dir: Path) -> list[Path]:
    """Every image file under `in_dir`, recursively, sorted; hidden files/folders are left out."""
    in_dir = in_dir.resolve()
    found: list[Path] = []
    for root, dirs, files in os.walk(in_dir, followlinks=False):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = root_path / name
            if name.startswith(".") or path.suffix.lower() not in INPUT_EXTENSIONS:
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(in_dir):
                continue  # a link pointing out of the input folder is not part of the catalog
            found.append(path)
    return found


def confined(out_dir: Path, relative: str) -> Path:
    """OUT_DIR / relative, refusing any path that would land outside OUT_DIR."""
    base = out_dir.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or target == base:
        raise PlanError(f"output path {relative!r} would leave the output folder {out_dir}")
    return target


def check_apart(in_resolved: Path, out_resolved: Path) -> None:
    """Refuse an output folder that is, contains or lies inside the input folder (links
    resolved): inputs would be taken for finished outputs, or written over."""
    if out_resolved == in_resolved:
        raise PlanError("the output folder must differ from the input folder (inputs are kept)")
    if out_resolved.is_relative_to(in_resolved) or in_resolved.is_relative_to(out_resolved):
        raise PlanError(
            "the output folder must not contain or lie inside the input folder (inputs are "
            "kept): choose a folder beside it"
        )


def plan_batch(in_dir: Path, out_dir: Path, requested_format: str | None) -> list[BatchItem]:
    """The batch's items in a stable order; outputs keep the sub-folder structure.

    Two inputs that would share an output name (ring.png and ring.jpg written as PNG) are told
    apart by keeping the input extension in the name: ring.png, ring.jpg.png.
    """
    if not in_dir.is_dir():
        raise PlanError(missing_folder_message(in_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise PlanError(f"output path {out_dir} exists and is not a folder")
    in_resolved = in_dir.resolve()
    check_apart(in_resolved, out_dir.resolve())
    items: list[BatchItem] = []
    taken: set[str] = set()
    for path in discover(in_dir):
        rel = path.relative_to(in_resolved) if path.is_absolute() else path.relative_to(in_dir)
        fmt = output_format_for(path, requested_format)
        ext = OUTPUT_EXTENSION[fmt]
        target = rel.with_suffix(ext).as_posix()
        if target.lower() in taken:
            target = rel.with_name(rel.name + ext).as_posix()
        taken.add(target.lower())
        confined(out_dir, target)
        items.append(BatchItem(source=rel.as_posix(), target=target, format=fmt))
    return items


def variant_path(target: Path, kind: str) -> Path:
    """Where a metal variant of the result `target` goes: NAME_white_gold.EXT beside it
    (docs/protocol.md, "Metal variants")."""
    return target.with_name(f"{target.stem}_{kind}{target.suffix}")
