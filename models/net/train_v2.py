"""Training JewelNet v2 on composited studio samples (`models.synth.composite`).

    python -m models.net.train_v2 --data synth_data/v2/train --heldout synth_data/v2/heldout \
        --steps 5000 --batch 8 --crop 256 --threads 1 --weights out/jewelnet_v2.pt

Recipes (models/MODEL_CARD.md, "v2 (in progress)"): CPU (2 cores, about two hours) trains on
256 px crops cut at a random zoom of 0.7-1.4 from the 384 px samples; the GPU recipe trains on
whole 384 px frames with a larger batch. Nothing here is the shipped default: the weights go
where --weights says (out/ by default, which git ignores) and `models.load()` keeps v1.

Each step: a seeded batch of samples, one affine warp per sample (zoom, shift, mirror) applied
alike to the photo and its truth, an exposure jitter on the photo; loss = soft BCE on every map
+ L1 on the matte, weighted x4 in the unknown band (0 < alpha < 1, dilated), + the defect
map's positive weight and Dice term (as v1) + cross-entropy on the metal kind (samples with
at least 1% metal). A fine-tune (`--init WEIGHTS`) starts from a trained file; with
`--shadow-weight` it adds an L1 (x8 where there is shadow) + Dice term on the cast shadow and
with `--shadow-matte-weight` it makes a matte over the piece's shadow costlier (the first run's
BCE alone left the shadow head a faint blur). Deterministic for one torch build, device and
thread count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.net.v2 import METAL_KINDS, OUTPUTS, JewelNetV2, parameter_count

IGNORE = -100


@dataclass(frozen=True)
class TrainConfigV2:
    seed: int = 0
    steps: int = 5000
    batch: int = 8
    lr: float = 4e-3
    crop: int = 256
    zoom: tuple[float, float] = (0.7, 1.4)
    edge_weight: float = 4.0
    defect_pos_weight: float = 8.0
    kind_weight: float = 0.2
    # The cast-shadow head (0: the first recipe's plain BCE only). From the first run on,
    # BCE alone left it a faint blur (strength <= 0.2 where the truth reaches 0.8), so the
    # fine-tune adds an L1 on the strength, weighted where there is shadow, and a Dice term;
    # and a matte over the piece's shadow costs shadow_matte_weight x more (a soft matte
    # there is a grey blob on the white).
    shadow_weight: float = 0.0
    shadow_pos_weight: float = 8.0
    shadow_matte_weight: float = 0.0
    device: str = "cpu"
    threads: int = 1  # two threads waited on each other on the shared 2-core machine


def load_samples(folder: Path, limit: int | None = None):
    """All composited samples of `folder` (sorted by seed).

    Returns (photos uint8 (N, 3, S, S), targets uint8 (N, len(OUTPUTS), S, S) in OUTPUTS
    order with the matte from the 16-bit ``alpha`` when present (a map a sample lacks is
    zero), kinds int64 (N,) with IGNORE where a sample has under 1% metal).
    """
    paths = sorted(Path(folder).glob("[0-9]*.npz"))[:limit]
    if not paths:
        raise FileNotFoundError(f"no samples (*.npz) in {folder}")
    photos, targets, kinds = [], [], []
    for p in paths:
        with np.load(p) as s:
            photos.append(np.transpose(s["shot"], (2, 0, 1)))
            blank = np.zeros(s["piece"].shape, np.uint8)  # older samples have no prop map
            maps = [s[k] if k in s.files else blank for k in OUTPUTS]
            if "alpha" in s.files:  # the 16-bit matte, rounded to 8 bits here to fit memory
                maps[0] = (s["alpha"].astype(np.float32) / 257 + 0.5).astype(np.uint8)
            targets.append(np.stack(maps))
            meta = json.loads(str(s["meta"]))
            metal_share = float(s["metal"].mean()) / 255
        kind = meta.get("metal_kind")
        kinds.append(
            METAL_KINDS.index(kind) if kind in METAL_KINDS and metal_share >= 0.01 else IGNORE
        )
    return (
        torch.from_numpy(np.stack(photos)),
        torch.from_numpy(np.stack(targets)),
        torch.tensor(kinds, dtype=torch.int64),
    )


def augment(x: torch.Tensor, y: torch.Tensor, crop: int, zoom: tuple[float, float], gen):
    """One random affine window per sample (zoom, shift, mirror), alike on photo and truth,
    plus an exposure gain on the photo. x, y float (N, C, S, S) 0..1 -> (N, C, crop, crop)."""
    n, size = x.shape[0], x.shape[-1]
    r = torch.rand(n, 5, generator=gen)
    z = zoom[0] + (zoom[1] - zoom[0]) * r[:, 0]
    span = (crop / size) / z  # the window's share of the frame
    span = span.clamp(max=1.0)
    sx = torch.where(r[:, 1] < 0.5, -1.0, 1.0) * span
    tx = (r[:, 2] * 2 - 1) * (1 - span)
    ty = (r[:, 3] * 2 - 1) * (1 - span)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = sx, span, tx, ty
    grid = F.affine_grid(theta.to(x.device), (n, 1, crop, crop), align_corners=False)
    xw = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    yw = F.grid_sample(y, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gain = (0.8 + 0.4 * r[:, 4]).view(n, 1, 1, 1).to(x.device)
    return (xw * gain).clamp(0, 1), yw


def loss_v2(
    maps: torch.Tensor,
    kind: torch.Tensor,
    target: torch.Tensor,
    kinds: torch.Tensor,
    config: TrainConfigV2 = TrainConfigV2(),
) -> tuple[torch.Tensor, dict]:
    """The training loss and its parts (see the module docstring)."""
    bce = F.binary_cross_entropy_with_logits(maps, target, reduction="none")
    d = OUTPUTS.index("defects")
    pos = 1 + (config.defect_pos_weight - 1) * target[:, d : d + 1]
    bce_defects = (bce[:, d : d + 1] * pos).mean()
    bce_rest = torch.cat([bce[:, :d], bce[:, d + 1 :]], 1).mean() * (len(OUTPUTS) - 1)
    alpha = target[:, :1]
    unknown = ((alpha > 0.02) & (alpha < 0.98)).float()
    band = F.max_pool2d(unknown, 5, 1, 2)  # the unknown band, a couple of pixels wider
    weight = 1 + (config.edge_weight - 1) * band
    sh = OUTPUTS.index("shadow")
    shadow_true = target[:, sh : sh + 1]
    shadow_zone = F.max_pool2d((shadow_true > 0.05).float(), 5, 1, 2)
    if config.shadow_matte_weight:
        weight = weight + config.shadow_matte_weight * shadow_zone * (alpha < 0.02).float()
    matte_l1 = ((torch.sigmoid(maps[:, :1]) - alpha).abs() * weight).mean()
    prob = torch.sigmoid(maps[:, d])
    inter = (prob * target[:, d]).sum()
    dice = 1 - (2 * inter + 1) / (prob.sum() + target[:, d].sum() + 1)
    if (kinds != IGNORE).any():
        kind_loss = F.cross_entropy(kind, kinds, ignore_index=IGNORE)
    else:
        kind_loss = kind.sum() * 0.0
    total = bce_rest + bce_defects + matte_l1 + 0.5 * dice + config.kind_weight * kind_loss
    shadow_loss = torch.zeros(())
    if config.shadow_weight:
        shadow_prob = torch.sigmoid(maps[:, sh : sh + 1])
        pos_s = 1 + (config.shadow_pos_weight - 1) * shadow_zone
        shadow_l1 = ((shadow_prob - shadow_true).abs() * pos_s).mean()
        hard = (shadow_true > 0.15).float()
        inter_s = (shadow_prob * hard).sum()
        dice_s = 1 - (2 * inter_s + 1) / (shadow_prob.sum() + hard.sum() + 1)
        shadow_loss = shadow_l1 + 0.5 * dice_s
        total = total + config.shadow_weight * shadow_loss
    parts = {
        "bce": float(bce_rest.detach()),
        "matte_l1": float(matte_l1.detach()),
        "defects": float(bce_defects.detach() + 0.5 * dice.detach()),
        "kind": float(kind_loss.detach()),
        "shadow": float(shadow_loss.detach()),
    }
    return total, parts


def train_v2(
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    config: TrainConfigV2 = TrainConfigV2(),
    on_step: Callable[[int, int, float], None] | None = None,
    model: JewelNetV2 | None = None,
    on_checkpoint: Callable[[JewelNetV2, int], None] | None = None,
    checkpoint_every: int = 0,
) -> tuple[JewelNetV2, dict]:
    """Trains `model` (default: a fresh, seeded JewelNetV2) on `data` (from load_samples);
    returns (model in eval mode, log with the loss curve). on_checkpoint(model, step) is
    called every `checkpoint_every` steps (the model in train mode: copy it, do not keep it)."""
    before = torch.get_num_threads()
    try:
        torch.manual_seed(config.seed)
        if config.threads:
            torch.set_num_threads(config.threads)
        dev = torch.device(config.device)
        photos, targets, kinds = data
        model = (model or JewelNetV2()).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=config.lr, total_steps=max(config.steps, 2), pct_start=0.1
        )
        gen = torch.Generator().manual_seed(config.seed)
        n = photos.shape[0]
        losses: list[float] = []
        started = time.time()
        model.train()
        for step in range(config.steps):
            idx = torch.randint(0, n, (min(config.batch, n),), generator=gen)
            x = photos[idx].to(dev).float() / 255
            y = targets[idx].to(dev).float() / 255
            x, y = augment(x, y, config.crop, config.zoom, gen)
            maps, kind = model(x)
            loss, _ = loss_v2(maps, kind, y, kinds[idx].to(dev), config)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if on_step and (step % 25 == 0 or step == config.steps - 1):
                on_step(step + 1, config.steps, float(np.mean(losses[-25:])))
            if on_checkpoint and checkpoint_every and (step + 1) % checkpoint_every == 0:
                on_checkpoint(model, step + 1)
        model.eval()
        head = float(np.mean(losses[: max(1, min(25, len(losses)))])) if losses else math.nan
        tail = float(np.mean(losses[-max(1, min(25, len(losses))) :])) if losses else math.nan
        log = {
            "config": asdict(config),
            "samples": n,
            "seconds": round(time.time() - started, 1),
            "first_loss": head,
            "final_loss": tail,
            "curve": [
                round(float(np.mean(losses[i : i + 25])), 4) for i in range(0, len(losses), 25)
            ],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "parameters": parameter_count(model),
        }
        return model.cpu(), log
    finally:
        torch.set_num_threads(before)


def tensor_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def save_v2(model: JewelNetV2, path: Path, meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    blob = {"state_dict": state, "config": json.dumps(model.config), "meta": json.dumps(meta)}
    torch.save(blob, tmp)
    tmp.replace(path)


def load_v2(path: Path) -> tuple[JewelNetV2, dict]:
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    cfg = json.loads(blob["config"])
    model = JewelNetV2(cfg["stem"], tuple(tuple(s) for s in cfg["stages"]), tuple(cfg["decoder"]))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, json.loads(blob["meta"])


def main(argv: list[str] | None = None) -> int:
    d = TrainConfigV2()
    p = argparse.ArgumentParser(
        prog="python -m models.net.train_v2", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        help="folder(s) of composited samples (several: trained on all, in the order given)",
    )
    p.add_argument("--heldout", type=Path, default=None, help="held-out folder to score at the end")
    p.add_argument("--weights", type=Path, default=Path("out/jewelnet_v2.pt"))
    p.add_argument(
        "--limit", type=int, default=None, help="use the first N samples (of each folder) only"
    )
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--crop", type=int, default=d.crop, help="training window, px (multiple of 32)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--device", default=d.device, help="cpu or cuda")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these v2 weights (a fine-tune) instead of a fresh seeded network",
    )
    p.add_argument("--shadow-weight", type=float, default=d.shadow_weight,
                   help="weight of the cast-shadow L1 + Dice term (0: BCE only)")
    p.add_argument("--shadow-matte-weight", type=float, default=d.shadow_matte_weight,
                   help="extra matte weight over the piece's cast shadow")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="also write WEIGHTS.stepN.pt every N steps (a long run can be scored or cut short)",
    )
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="weights file to compare the result with (e.g. the shipped one, or for the first "
        "stage of a fine-tuned file, the digest it records); exit status 1 when they differ",
    )
    args = p.parse_args(argv)
    if args.crop % 32 or args.crop < 64 or args.steps < 1 or args.batch < 1:
        print(
            "train_v2: --crop must be a multiple of 32 (>= 64), --steps and --batch >= 1",
            file=sys.stderr,
        )
        return 2
    config = TrainConfigV2(
        seed=args.seed,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        crop=args.crop,
        device=args.device,
        threads=args.threads,
        shadow_weight=args.shadow_weight,
        shadow_matte_weight=args.shadow_matte_weight,
    )
    if args.init is not None and not args.init.is_file():
        print(f"train_v2: --init weights not found: {args.init}", file=sys.stderr)
        return 2
    missing = [str(f) for f in args.data if not f.is_dir()]
    if missing:
        print(f"train_v2: --data folder not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    t0 = time.time()
    parts = [load_samples(folder, args.limit) for folder in args.data]
    data = tuple(torch.cat([part[i] for part in parts]) for i in range(3)) if len(parts) > 1 \
        else parts[0]
    data_name = " ".join(str(f) for f in args.data)
    print(
        f"{data[0].shape[0]} samples from {data_name} loaded in {time.time() - t0:.1f} s",
        flush=True,
    )

    def show(step: int, total: int, loss: float) -> None:
        print(f"step {step}/{total}  loss {loss:.4f}  ({time.time() - t0:.0f} s)", flush=True)

    def checkpoint(net: JewelNetV2, step: int) -> None:
        # save_v2 copies the tensors out; the network stays in training mode.
        path = args.weights.with_name(f"{args.weights.stem}.step{step}.pt")
        save_v2(net, path, {"step": step, "data": data_name})
        print(f"checkpoint {path}", flush=True)

    start = None
    if args.init is not None:
        start, start_meta = load_v2(args.init)
    model, log = train_v2(
        data,
        config,
        show,
        model=start,
        on_checkpoint=checkpoint,
        checkpoint_every=args.checkpoint_every,
    )
    meta = {"log": log, "data": data_name, "digest": tensor_digest(model)}
    if start is not None:
        # The recipe is two runs: record the first one's file and digest.
        meta["init"] = {"path": str(args.init), "digest": start_meta.get("digest", "")}
    if args.heldout:
        from models.net.eval_v2 import evaluate_v2

        meta["heldout"] = evaluate_v2(model, args.heldout)
        print(json.dumps(meta["heldout"], indent=1))
    save_v2(model, args.weights, meta)
    print(
        f"loss {log['first_loss']:.4f} -> {log['final_loss']:.4f} in {log['seconds']} s; "
        f"wrote {args.weights}"
    )
    if args.compare:
        other, other_meta = load_v2(args.compare)
        if tensor_digest(other) == meta["digest"]:
            verdict = "identical to"
        elif other_meta.get("init", {}).get("digest") == meta["digest"]:
            # The shipped file is a fine-tune: this run reproduced its first stage.
            verdict = "identical to the first stage (--init) of"
        else:
            verdict = "DIFFERENT from"
        print(f"{verdict} {args.compare} (parameters and buffers, bit for bit)", flush=True)
        return 1 if verdict.startswith("DIFFERENT") else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
