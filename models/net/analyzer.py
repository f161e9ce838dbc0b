"""`NetAnalyzer`: JewelNet behind the `models.analysis.Analyzer` seam."""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.analysis import NET_SNAP, Analysis
from models.net.guided import guided_upsample
from models.net.model import OUTPUTS, JewelNet
from models.net.train import load_weights

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "jewelnet.pt"
MAX_SIDE = 192
"""The network runs with the long side at most this many pixels (its working resolution).
Training saw 128 px renders zoomed 1-2x, so 192 px puts a frame-filling piece mid-range."""

GUIDED_MAPS = ("piece",)
"""Maps upsampled with the photo as guide. Only the matte: its outline is a luminance edge of
the photo; the metal/gem boundary often is not (a check on held-out renders run at half scale
showed no gain for metal or gem, and none lost for the matte). Defects and shadow: bilinear."""

NET_THREADS = max(1, int(os.environ.get("JEWEL_RETOUCH_NET_THREADS", "1")))
"""Threads for the forward pass. One by default: on a busy 2-core machine two threads waited
on each other (median 520 ms vs 85 ms for one thread, benchmarks/bench_net.py)."""


def _encode(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def metal_kind_from_colour(rgb_linear: np.ndarray, metal: np.ndarray) -> str | None:
    """Names the metal from the mean chromaticity of confident metal pixels (None if no metal).

    rgb_linear: (h, w, 3) float32 0..1; metal: (h, w) float32 0..1.
    """
    sel = metal > 0.6
    if sel.sum() < 8:
        return None
    mean = rgb_linear[sel].mean(axis=0) + 1e-6
    r, g, b = mean / mean.sum()
    warmth = r - b
    if warmth > 0.12:
        return "rose_gold" if r - g > 0.08 else "yellow_gold"
    if warmth > 0.04:
        return "white_gold"
    return "silver" if float(np.median(rgb_linear[sel].max(axis=1))) > 0.35 else "platinum"


@functools.lru_cache(maxsize=4)
def _cached_weights(path: str, mtime_ns: int, size: int) -> tuple[JewelNet, dict]:
    """Loads each weights file once per process (the pipeline asks for an analyzer per call)."""
    model, meta = load_weights(Path(path))
    meta = {**meta, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return model, meta


def snap(prob: np.ndarray, margin: float = NET_SNAP) -> np.ndarray:
    """Maps [margin, 1 - margin] linearly onto [0, 1] and clips: float32 (h, w) 0..1.

    A sigmoid never reaches 0 or 1, so an unsnapped matte would blend every piece pixel with
    a little backdrop; this keeps soft edges and makes solid regions exactly solid.
    """
    return np.clip((prob - margin) / (1 - 2 * margin), 0.0, 1.0).astype(np.float32)


class NetAnalyzer:
    """Runs JewelNet at a working resolution of at most MAX_SIDE and upsamples its maps.

    analyse(rgb_linear): rgb_linear float32 (h, w, 3) linear 0..1. Returns an Analysis whose
    maps are (h, w) float32 0..1. Thread-safe (one lock around the torch module).
    """

    name = "jewelnet"

    def __init__(self, weights: Path | None = None, max_side: int = MAX_SIDE) -> None:
        self.model, self.meta = self._load(Path(weights) if weights else WEIGHTS_PATH)
        self.max_side = max_side
        self._lock = threading.Lock()

    @staticmethod
    def _load(path: Path) -> tuple[JewelNet, dict]:
        if not path.exists():
            raise FileNotFoundError(f"network weights not found: {path}")
        stat = path.stat()
        return _cached_weights(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    def predict(self, rgb_linear: np.ndarray) -> dict[str, np.ndarray]:
        """The raw maps, each (h, w) float32 0..1, keyed by OUTPUTS."""
        if rgb_linear.ndim != 3 or rgb_linear.shape[2] != 3:
            raise ValueError(f"expected (h, w, 3) linear RGB, got shape {rgb_linear.shape}")
        h, w, _ = rgb_linear.shape
        scale = min(1.0, self.max_side / max(h, w))
        sh, sw = max(16, int(round(h * scale / 16)) * 16), max(16, int(round(w * scale / 16)) * 16)
        encoded = _encode(rgb_linear).astype(np.float32)
        x = torch.from_numpy(encoded).permute(2, 0, 1)[None]
        x = F.interpolate(x, size=(sh, sw), mode="area" if scale < 1 else "bilinear")
        with self._lock, torch.inference_mode():
            threads = torch.get_num_threads()
            torch.set_num_threads(NET_THREADS)
            try:
                probs = torch.sigmoid(self.model(x))
            finally:
                torch.set_num_threads(threads)
        low = probs[0].numpy().astype(np.float32)
        up = F.interpolate(probs, size=(h, w), mode="bilinear", align_corners=False)
        maps = up[0].numpy().astype(np.float32)
        if (sh, sw) != (h, w):  # outlines follow the photo's own edges, not a bilinear blur
            sharp = [OUTPUTS.index(k) for k in GUIDED_MAPS]
            guide_low = x[0].mean(dim=0).numpy().astype(np.float32)
            maps[sharp] = guided_upsample(low[sharp], guide_low, encoded.mean(axis=2))
        return {name: np.clip(maps[i], 0.0, 1.0) for i, name in enumerate(OUTPUTS)}

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        maps = self.predict(rgb_linear)
        matte, metal, gem = (snap(maps[k]) for k in ("piece", "metal", "gem"))
        return Analysis(
            matte=matte,
            metal=np.minimum(metal, matte),
            gem=np.minimum(gem, matte),
            defects=maps["defects"],
            shadow=maps["shadow"] * (1 - maps["piece"]),
            metal_kind=metal_kind_from_colour(rgb_linear, maps["metal"]),
            extras={"analyzer": "jewelnet", "weights": self.meta.get("sha256", "")},
        )
