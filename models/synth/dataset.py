"""One training sample from one seed, and whole data sets written in parallel, resumably.

A sample is one `.npz` file holding (all H x W, row 0 at the top):

* ``shot``   uint8 (H, W, 3): the degraded "as shot" photo, sRGB-encoded;
* ``clean``  uint16 (H, W, 3): the clean render, sRGB-encoded, full 16-bit range;
* ``piece``, ``metal``, ``gem``, ``shadow``, ``defects``, ``detail``: uint8 (H, W) soft masks
  0..255 (``detail`` marks prongs, pave, milgrain and engraving: real detail to keep);
* ``meta``: a JSON string with the seed, the design, the studio and the degradation facts.

Files are written to a temporary name and renamed, so an interrupted run leaves no half
sample; a rerun skips every sample already on disk.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from models.synth import degrade as dg
from models.synth.jewelry import PIECE_KINDS, design
from models.synth.optics import METAL_KIND, METALS
from models.synth.studio import random_studio

HELDOUT_SEED_BASE = 1_000_000
"""Seeds from here up are the held-out evaluation split; training never uses them."""

MASK_KEYS = ("piece", "metal", "gem", "shadow", "defects", "detail")


@dataclass(frozen=True)
class SynthConfig:
    resolution: int = 128
    spp: int = 64


def sample_path(folder: Path, seed: int) -> Path:
    return Path(folder) / f"{seed:07d}.npz"


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def make_sample(seed: int, config: SynthConfig = SynthConfig()) -> dict[str, np.ndarray]:
    """Renders and degrades the sample of `seed`.

    Every array is an exact function of the seed for one Mitsuba variant on one machine (CPU
    variants; see models.synth.render for how the renders are kept bit-identical).
    """
    from models.synth.render import render_passes, variant

    rng_design = np.random.default_rng([seed, 1])
    rng_studio = np.random.default_rng([seed, 2])
    rng_shot = np.random.default_rng([seed, 3])
    kind = PIECE_KINDS[int(rng_design.integers(len(PIECE_KINDS)))]
    metal = list(METALS)[int(rng_design.integers(len(METALS)))]
    piece = design(kind, metal, rng_design)
    roughness = 0.0 if rng_design.random() < 0.6 else float(rng_design.uniform(0.02, 0.12))
    lo, hi = piece.bounds()
    studio = random_studio(rng_studio, (lo + hi) / 2, float(np.linalg.norm(hi - lo) / 2))
    res = (config.resolution, config.resolution)
    passes = render_passes(piece, studio, res, config.spp, seed % (1 << 31), roughness)

    masks = passes["masks"]
    metal_m, gem_m, detail_m = masks[:, :, 0], masks[:, :, 1], masks[:, :, 2]
    piece_m = np.clip(metal_m + gem_m, 0.0, 1.0)
    # Exposure: a perfect white surface under the median backdrop irradiance reads 0.9.
    bg = piece_m < 0.02
    backdrop_lum = _luminance(passes["backdrop"])
    albedo = float(np.median(_luminance(studio.texture)))
    irradiance = float(np.median(backdrop_lum[bg] if bg.any() else backdrop_lum)) / albedo
    scale = 0.9 / max(irradiance, 1e-6)
    clean = np.clip(passes["beauty"] * scale, 0.0, 1.0).astype(np.float32)
    # Cast shadow: how much darker the backdrop is with the piece than without it.
    with_piece = ndimage.gaussian_filter(_luminance(passes["beauty"]), 1.2)
    without = ndimage.gaussian_filter(backdrop_lum, 1.2)
    shadow = np.clip(1.0 - with_piece / np.maximum(without, 1e-6), 0.0, 1.0) * (1 - piece_m)
    shadow = np.where(shadow > 0.06, shadow, 0.0)

    shot, defects, facts = dg.degrade(clean, metal_m, rng_shot)
    meta = {
        "seed": seed,
        "variant": variant(),
        "resolution": config.resolution,
        "spp": config.spp,
        "kind": kind,
        "metal": metal,
        "metal_kind": METAL_KIND[metal],
        "roughness": roughness,
        "design": piece.facts,
        "backdrop": studio.backdrop,
        "rig": studio.rig,
        "lights": len(studio.lights),
        "cards": len(studio.cards),
        "fov": float(studio.camera.fov),
        "degradation": facts,
    }
    to8 = lambda m: (np.clip(m, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
    return {
        "shot": shot,
        "clean": (dg.srgb_encode(clean) * 65535 + 0.5).astype(np.uint16),
        "piece": to8(piece_m),
        "metal": to8(metal_m),
        "gem": to8(gem_m),
        "shadow": to8(shadow),
        "defects": to8(defects),
        "detail": to8(detail_m),
        "meta": np.array(json.dumps(meta)),
    }


def write_sample(folder: Path, seed: int, config: SynthConfig = SynthConfig()) -> Path:
    """Makes the sample of `seed` and stores it atomically; returns its path."""
    path = sample_path(folder, seed)
    arrays = make_sample(seed, config)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_sample(path: Path) -> dict:
    """Reads a sample file: arrays as stored, "meta" decoded to a dict."""
    with np.load(path) as data:
        out = {k: data[k] for k in data.files if k != "meta"}
        out["meta"] = json.loads(str(data["meta"]))
    return out


def _worker_init(threads: int) -> None:
    # Renders themselves run on one Dr.Jit thread (for bit-identical samples, see
    # models.synth.render); `threads` serves the rest of Dr.Jit's work in this process.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from models.synth.render import mitsuba

    mitsuba()
    try:
        import drjit as dr

        dr.set_thread_count(threads)
    except Exception:  # noqa: BLE001 - thread count is only a hint
        pass


def _work(job: tuple[str, int, SynthConfig]) -> int:
    folder, seed, config = job
    write_sample(Path(folder), seed, config)
    return seed


def generate(
    folder: Path,
    seeds: Iterable[int],
    config: SynthConfig = SynthConfig(),
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
) -> list[Path]:
    """Writes the samples of `seeds` into `folder` with `workers` processes (resumable).

    on_done(done, total) is called after each sample (and once at the start for those already
    on disk). `deadline` (a time.time() value) stops early, keeping every finished sample.
    Returns the paths of the requested samples that exist.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(seeds)
    todo = [s for s in seeds if not sample_path(folder, s).exists()]
    done = len(seeds) - len(todo)
    if on_done:
        on_done(done, len(seeds))
    jobs = [(str(folder), s, config) for s in todo]
    if workers <= 1:
        _worker_init(max(os.cpu_count() or 1, 1))
        for job in jobs:
            if deadline is not None and time.time() > deadline:
                break
            _work(job)
            done += 1
            if on_done:
                on_done(done, len(seeds))
    elif jobs:
        threads = max((os.cpu_count() or 1) // workers, 1)
        ctx = mp.get_context("spawn")  # Dr.Jit's thread pools do not survive fork
        with ctx.Pool(workers, initializer=_worker_init, initargs=(threads,)) as pool:
            pending = pool.imap_unordered(_work, jobs)
            while done < len(seeds):
                wait = None if deadline is None else deadline - time.time()
                if wait is not None and wait <= 0:
                    break
                try:
                    pending.next(timeout=wait)
                except mp.TimeoutError:
                    break
                done += 1
                if on_done:
                    on_done(done, len(seeds))
            pool.terminate()
    return [p for p in (sample_path(folder, s) for s in seeds) if p.exists()]
