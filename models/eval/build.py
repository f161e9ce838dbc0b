"""Write the benchmark set: `python -m models.eval.build [folder]` (default: the committed set).

Each scene folder holds photo.png (the degraded photo), truth.png (the right answer) and
piece/metal/gem/defects/detail.png masks (0 or 255), plus meta.json with the true metal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from models.eval import scenes

DEFAULT_FOLDER = Path(__file__).resolve().parent / "benchmark"
MASKS = ("piece", "metal", "gem", "defects", "detail")


def write_set(folder: Path = DEFAULT_FOLDER) -> list[Path]:
    written = []
    for name in scenes.SCENES:
        data = scenes.build(name)
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data["photo"]).save(target / "photo.png", optimize=True)
        Image.fromarray(data["truth"]).save(target / "truth.png", optimize=True)
        for mask in MASKS:
            Image.fromarray(data[mask].astype(np.uint8) * 255).save(target / f"{mask}.png")
        (target / "meta.json").write_text(json.dumps({"metal": scenes.metal_of(name)}) + "\n")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_set(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER):
        print(path)
