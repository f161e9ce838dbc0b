"""`V2Analyzer`: JewelNet v2 behind the `models.analysis.Analyzer` seam.

The v2 network (models/net/v2.py) runs at a long side of 512 px and predicts the soft matte,
metal, gem, defect, cast-shadow and prop maps and the metal kind. `V2_WEIGHTS_PATH` is the
shipped file (models/MODEL_CARD.md says how it was trained and what it is used for).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path

import numpy as np
import torch

from models.analysis import NET_SNAP, Analysis
from models.colour import srgb_encode
from models.net.analyzer import NET_THREADS
from models.net.v2 import OUTPUTS, WORKING_SIDE, JewelNetV2, predict

V2_WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "jewelnet_v2.pt"


@functools.lru_cache(maxsize=2)
def _cached(path: str, mtime_ns: int, size: int) -> tuple[JewelNetV2, dict]:
    from models.net.train_v2 import load_v2

    model, meta = load_v2(Path(path))
    meta = {**meta, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return model, meta


def _snap(p: np.ndarray) -> np.ndarray:
    return np.clip((p - NET_SNAP) / (1 - 2 * NET_SNAP), 0, 1).astype(np.float32)


class V2Analyzer:
    """JewelNet v2's maps at the photo's size (one thread by default, thread-safe).

    analyse(rgb_linear): float32 (h, w, 3) linear 0..1 -> Analysis with (h, w) float32 maps
    0..1, `props` included.
    """

    name = "jewelnet_v2"

    def __init__(
        self,
        model: JewelNetV2 | None = None,
        weights: Path | None = None,
        side: int = WORKING_SIDE,
        threads: int = NET_THREADS,
    ) -> None:
        if model is None:
            path = Path(weights) if weights else V2_WEIGHTS_PATH
            if not path.exists():
                raise FileNotFoundError(f"v2 network weights not found: {path}")
            stat = path.stat()
            model, self.meta = _cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        else:
            self.meta = {}
        self.model = model.eval()
        self.side = side
        self.threads = threads
        self._lock = threading.Lock()

    def predict(self, rgb_linear: np.ndarray) -> dict[str, np.ndarray]:
        """The raw maps (h, w) float32 0..1 keyed by OUTPUTS, and "metal_kind"."""
        if rgb_linear.ndim != 3 or rgb_linear.shape[2] != 3:
            raise ValueError(f"expected (h, w, 3) linear RGB, got shape {rgb_linear.shape}")
        encoded = torch.from_numpy(srgb_encode(rgb_linear).astype(np.float32)).permute(2, 0, 1)
        with self._lock:
            before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                out = predict(self.model, encoded, self.side)
            finally:
                torch.set_num_threads(before)
        maps = {k: out[k].numpy().astype(np.float32) for k in OUTPUTS}
        maps["metal_kind"] = out["metal_kind"]
        return maps

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        maps = self.predict(rgb_linear)
        matte = _snap(maps["piece"])
        return Analysis(
            matte=matte,
            metal=np.minimum(_snap(maps["metal"]), matte),
            gem=np.minimum(_snap(maps["gem"]), matte),
            defects=maps["defects"],
            shadow=maps["shadow"] * (1 - maps["piece"]),
            metal_kind=maps["metal_kind"],
            props=(maps["prop"] * (1 - matte)).astype(np.float32),
            extras={"analyzer": self.name, "weights": self.meta.get("sha256", "")},
        )


__all__ = ["V2_WEIGHTS_PATH", "V2Analyzer"]
