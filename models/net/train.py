"""Training JewelNet on synthetic renders, reproducibly from a seed.

`train(folder, config)` reads every sample of a folder written by `models.synth.dataset`,
trains with seeded augmentation (random zoom 1-2x, shift, mirror, exposure jitter) and
returns the model and a log. `save_weights` / `load_weights` store the state dict with the
facts needed to reproduce it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.net.model import OUTPUTS, JewelNet
from models.synth.dataset import load_sample

TARGET_KEYS = OUTPUTS  # piece, metal, gem, defects, shadow: the mask names in a sample file


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 3000
    batch: int = 32
    lr: float = 3e-3
    crop: int = 128
    defect_pos_weight: float = 8.0
    device: str = "cpu"
    threads: int = 0  # CPU threads for torch (0 = leave torch's default)


def load_folder(folder: Path, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All samples of `folder` (sorted by seed) as uint8 tensors.

    Returns (photos (N, 3, H, W), targets (N, 5, H, W) in OUTPUTS order), both 0..255.
    """
    paths = sorted(Path(folder).glob("[0-9]*.npz"))[:limit]
    if not paths:
        raise FileNotFoundError(f"no samples (*.npz) in {folder}")
    photos, targets = [], []
    for p in paths:
        s = load_sample(p)
        photos.append(np.transpose(s["shot"], (2, 0, 1)))
        targets.append(np.stack([s[k] for k in TARGET_KEYS]))
    return torch.from_numpy(np.stack(photos)), torch.from_numpy(np.stack(targets))


def _augment(x: torch.Tensor, y: torch.Tensor, crop: int, gen: torch.Generator):
    """Random zoom (1-2x), shift, mirror and exposure jitter through one affine warp.

    x, y: float (N, C, S, S) in 0..1. Returns (N, C, crop, crop) windows at the samples' own
    pixel scale times the zoom: with crop == S the whole frame at zoom 1, with a smaller crop
    a random window of the same scale (cheaper steps, same look as the full-size photo).
    """
    n, size = x.shape[0], x.shape[-1]
    dev = x.device
    r = torch.rand(n, 5, generator=gen).to(dev)
    zoom = 1.0 + r[:, 0]
    span = min(crop / size, 1.0) / zoom  # the window's share of the frame (affine units)
    sx = torch.where(r[:, 1] < 0.5, -1.0, 1.0) * span
    sy = span
    tx = (r[:, 2] * 2 - 1) * (1 - span)
    ty = (r[:, 3] * 2 - 1) * (1 - span)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = sx, sy, tx, ty
    grid = F.affine_grid(theta, (n, 1, crop, crop), align_corners=False)
    xw = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    yw = F.grid_sample(y, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gain = (0.8 + 0.4 * r[:, 4]).view(n, 1, 1, 1)  # exposure jitter in the encoded domain
    return (xw * gain).clamp(0, 1), yw


def loss_fn(logits: torch.Tensor, target: torch.Tensor, defect_pos_weight: float):
    """Soft BCE on every map; the sparse defect map gets a positive weight and a Dice term."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    weights = torch.ones(1, len(OUTPUTS), 1, 1, device=logits.device)
    d = OUTPUTS.index("defects")
    pos = 1 + (defect_pos_weight - 1) * target[:, d : d + 1]
    bce_d = (bce[:, d : d + 1] * pos).mean()
    others = torch.cat([bce[:, :d], bce[:, d + 1 :]], 1) * torch.cat(
        [weights[:, :d], weights[:, d + 1 :]], 1
    )
    prob = torch.sigmoid(logits[:, d])
    inter = (prob * target[:, d]).sum()
    dice = 1 - (2 * inter + 1) / (prob.sum() + target[:, d].sum() + 1)
    return others.mean() * (len(OUTPUTS) - 1) + bce_d + 0.5 * dice


def train(
    folder: Path,
    config: TrainConfig = TrainConfig(),
    limit: int | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[JewelNet, dict]:
    """Trains a fresh JewelNet on the samples in `folder`; returns (model in eval mode, log)."""
    threads = torch.get_num_threads()
    try:
        return _train(folder, config, limit, on_step)
    finally:
        torch.set_num_threads(threads)


def _train(
    folder: Path,
    config: TrainConfig,
    limit: int | None,
    on_step: Callable[[int, int, float], None] | None,
) -> tuple[JewelNet, dict]:
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if config.threads:
        torch.set_num_threads(config.threads)  # float sums depend on the thread split
    dev = torch.device(config.device)
    photos, targets = load_folder(folder, limit)
    x_all = photos.to(dev)
    y_all = targets.to(dev)
    model = JewelNet().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=config.steps, pct_start=0.1
    )
    gen = torch.Generator().manual_seed(config.seed)
    n = x_all.shape[0]
    started = time.time()
    losses = []
    model.train()
    for step in range(config.steps):
        idx = torch.randint(0, n, (min(config.batch, n),), generator=gen).to(dev)
        x = x_all[idx].float() / 255
        y = y_all[idx].float() / 255
        x, y = _augment(x, y, config.crop, gen)
        loss = loss_fn(model(x), y, config.defect_pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if on_step and (step % 50 == 0 or step == config.steps - 1):
            on_step(step + 1, config.steps, float(np.mean(losses[-50:])))
    model.eval()
    log = {
        "config": asdict(config),
        "samples": n,
        "seconds": round(time.time() - started, 1),
        "final_loss": float(np.mean(losses[-100:])) if losses else math.nan,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    return model.cpu(), log


def tensor_digest(model: JewelNet) -> str:
    """SHA-256 of the parameters and buffers alone (names, shapes, float32 bytes, in order).

    The weights file also holds the run's log (timings), so two identical trainings write
    different files; this digest is equal exactly when the learned numbers are.
    """
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def save_weights(model: JewelNet, path: Path, meta: dict) -> None:
    """State dict (float32) plus JSON-ready meta, in one torch file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": state, "widths": list(model.widths), "meta": json.dumps(meta)}, tmp)
    tmp.replace(path)


def load_weights(path: Path) -> tuple[JewelNet, dict]:
    """A JewelNet in eval mode with the weights of `path`, and its meta dict."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = JewelNet(tuple(blob["widths"]))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, json.loads(blob["meta"])
