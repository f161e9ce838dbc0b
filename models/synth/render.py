"""Mitsuba 3 scenes for one design in one studio, and the three passes that make a sample.

* beauty: physically based path tracing (conductors with measured n + ik, dielectric gems,
  area lights, textured backdrop sweep), linear RGB;
* masks: a flat-colour pass with no lighting: the albedo AOV of the first hit, where every
  part's albedo is its class colour (R metal, G gem, B fine detail), through a box filter,
  so edges get exact fractional coverage;
* backdrop: the same studio without the piece, to measure the cast shadow it leaves.

The variant is picked once per process: JEWEL_SYNTH_VARIANT if set, else cuda_ad_rgb when a
GPU with OptiX is usable, else llvm_ad_rgb when libLLVM is found, else scalar_rgb.
For one variant on one machine, every pass is a bit-exact function of the seed, within a
process and across processes. Two things used to break that:

* mi.load_dict(optimize=True), the default, merges identical objects (the lights share a black
  BSDF) and then lists the shapes, hence the area emitters, in an order that changes from run
  to run. Emitter sampling maps the same random number to another light when the order
  changes, so one seed gave one of a few distinct noise patterns (up to 0.4 in linear radiance
  at 32 x 32, thousands of 16-bit codes after exposure). Scenes are loaded with optimize=False.
* With several Dr.Jit worker threads, the film sums the samples that splat into one pixel in
  whatever order the threads run: float rounding then differs by about 1e-6, enough to flip
  an output code now and then. Renders therefore run on one Dr.Jit thread (no slower at 96 px,
  32 spp on the 2-core dev machine); run several generator processes (`generate(workers=...)`)
  to use more cores.

Checked with llvm_ad_rgb and scalar_rgb (Mitsuba 3.9.1); cuda_ad_rgb sums with GPU atomics, which
one CPU thread does not order (not checked).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from models.synth import geometry as g
from models.synth.jewelry import Design
from models.synth.optics import GEMS, METALS, OPAQUE, PROPS
from models.synth.studio import Studio

_LLVM_DEFAULT = "/usr/lib/x86_64-linux-gnu/libLLVM-19.so"
_variant: str | None = None


def mitsuba():
    """The mitsuba module with a variant set (imported lazily: it is an optional dependency)."""
    global _variant
    try:
        import mitsuba as mi
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "synthetic renders need Mitsuba 3: pip install 'jewel-retouch[synth]'"
        ) from exc
    if _variant is None:
        wanted = os.environ.get("JEWEL_SYNTH_VARIANT")
        if os.path.exists(_LLVM_DEFAULT):
            os.environ.setdefault("DRJIT_LIBLLVM_PATH", _LLVM_DEFAULT)
        candidates = [wanted] if wanted else ["cuda_ad_rgb", "llvm_ad_rgb", "scalar_rgb"]
        for name in candidates:
            try:
                mi.set_variant(name)
                mi.load_dict({"type": "sphere"})  # fails here when the backend is unusable
                _variant = name
                break
            except Exception:  # noqa: BLE001 - any backend failure means "try the next one"
                continue
        else:
            raise RuntimeError(f"no usable Mitsuba variant among {candidates}")
    return mi


def variant() -> str:
    mitsuba()
    return str(_variant)


def light_shape(mi, light, centre, radiance: list, bsdf: dict) -> dict:
    """The Mitsuba shape of a studio light (a sphere or a rectangle facing `centre`) emitting
    `radiance` (RGB) with surface `bsdf`."""
    emitter = {"type": "area", "radiance": {"type": "rgb", "value": radiance}}
    if light.shape == "sphere":
        return {
            "type": "sphere",
            "center": [float(x) for x in light.position],
            "radius": float(light.size),
            "emitter": emitter,
            "bsdf": bsdf,
        }
    to_world = _look_at(mi, light.position, centre) @ mi.ScalarTransform4f().scale(
        [light.size / 2, light.size / 2, 1]
    )
    return {"type": "rectangle", "to_world": to_world, "emitter": emitter, "bsdf": bsdf}


def card_shape(mi, card, centre) -> dict:
    """The Mitsuba shape of a bounce card: a two-sided diffuse square facing `centre`."""
    to_world = _look_at(mi, card.position, centre) @ mi.ScalarTransform4f().scale(
        [card.size / 2, card.size / 2, 1]
    )
    return {
        "type": "rectangle",
        "to_world": to_world,
        "bsdf": {
            "type": "twosided",
            "material": {
                "type": "diffuse",
                "reflectance": {"type": "rgb", "value": [card.albedo] * 3},
            },
        },
    }


def _look_at(mi, origin, target, up=(0.0, 0.0, 1.0)):
    direction = np.asarray(target, float) - np.asarray(origin, float)
    if abs(direction[2]) > 0.999 * np.linalg.norm(direction):  # looking straight up or down
        up = (0.0, 1.0, 0.0)
    return mi.ScalarTransform4f().look_at(
        origin=[float(x) for x in origin], target=[float(x) for x in target], up=list(up)
    )


def _material(
    name: str, metal: str, roughness: float, texture: np.ndarray | None = None
) -> dict:
    """The Mitsuba BSDF of a part of material `name`; `texture` ((n, n, 3) linear albedo, the
    part's uv mapped onto it) replaces an opaque stone's flat colour."""
    if name == "metal":
        optics = METALS[metal]
        inner = {
            "type": "roughconductor" if roughness > 0 else "conductor",
            "eta": {"type": "rgb", "value": list(optics.eta)},
            "k": {"type": "rgb", "value": list(optics.k)},
        }
        if roughness > 0:
            inner["alpha"] = roughness
        return {"type": "twosided", "material": inner}
    if name in GEMS:
        gem = GEMS[name]
        return {
            "type": "dielectric",
            "int_ior": gem.ior,
            "ext_ior": 1.0,
            "specular_transmittance": {"type": "rgb", "value": list(gem.colour)},
        }
    if name in PROPS:
        prop = PROPS[name]
        if prop.clear:
            return {
                "type": "dielectric",
                "int_ior": 1.49,
                "ext_ior": 1.0,
                "specular_transmittance": {"type": "rgb", "value": list(prop.colour)},
            }
        reflectance = {"type": "rgb", "value": list(prop.colour)}
        return {"type": "twosided", "material": {"type": "diffuse", "reflectance": reflectance}}
    stone = OPAQUE[name]
    diffuse: dict = {"type": "rgb", "value": list(stone.colour)}
    if texture is not None:
        mi = mitsuba()
        diffuse = {"type": "bitmap", "bitmap": mi.Bitmap(texture), "raw": True}
        diffuse["filter_type"] = "bilinear"
    inner = {
        "type": "roughplastic" if stone.roughness > 0 else "plastic",
        "diffuse_reflectance": diffuse,
        "int_ior": stone.ior,
    }
    if stone.roughness > 0:
        inner["alpha"] = stone.roughness
    return {"type": "twosided", "material": inner}


def _sweep_dict(mi, studio: Studio, radius: float, folder: Path, mode: str) -> dict:
    mesh = g.sweep(width=60 * radius, depth=40 * radius, height=30 * radius, bend=6 * radius)
    path = folder / "sweep.ply"
    g.write_ply(mesh, path)
    if mode == "masks":
        bsdf = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0, 0, 0]}}
    else:
        # mi.Bitmap may wrap the numpy buffer without copying it: keep the array alive on the
        # studio until the scene is loaded (a freed buffer gave random backdrop colours).
        studio.texture_flipped = np.ascontiguousarray(studio.texture[::-1])
        bitmap = mi.Bitmap(studio.texture_flipped)
        tex = {"type": "bitmap", "bitmap": bitmap, "raw": True, "filter_type": "bilinear"}
        bsdf = {"type": "twosided", "material": {"type": "diffuse", "reflectance": tex}}
    return {"type": "ply", "filename": str(path), "bsdf": bsdf, "face_normals": True}


def build_scene(
    design: Design,
    studio: Studio,
    resolution: tuple[int, int],
    mode: str,
    folder: Path,
    roughness: float = 0.0,
    max_depth: int = 10,
    spp: int = 16,
):
    """A loaded Mitsuba scene. mode: "beauty", "masks" or "backdrop" (the set without the piece)."""
    mi = mitsuba()
    lo, hi = design.bounds()
    radius = float(np.linalg.norm(hi - lo) / 2)
    cam = studio.camera
    width, height = resolution
    rfilter = {"type": "box"} if mode == "masks" else {"type": "gaussian"}
    scene: dict = {
        "type": "scene",
        # masks: the albedo AOV of the first surface hit is exactly the part's class colour
        "integrator": {"type": "aov", "aovs": "albedo:albedo"}
        if mode == "masks"
        else {"type": "path", "max_depth": max_depth, "hide_emitters": True},
        "sensor": {
            "type": "perspective",
            "fov": float(cam.fov),
            "fov_axis": "x",
            "to_world": _look_at(mi, cam.origin, cam.target),
            "film": {
                "type": "hdrfilm",
                "width": width,
                "height": height,
                "pixel_format": "rgb",
                "rfilter": rfilter,
            },
            "sampler": {"type": "independent", "sample_count": int(spp)},
        },
        "sweep": _sweep_dict(mi, studio, radius, folder, mode),
    }
    if mode != "masks":
        scene["ambient"] = {
            "type": "constant",
            "radiance": {"type": "rgb", "value": [studio.ambient] * 3},
        }
        centre = (lo + hi) / 2
        black = {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0, 0, 0]}}
        for k, light in enumerate(studio.lights):
            scene[f"light{k}"] = light_shape(mi, light, centre, list(light.radiance), black)
        for k, card in enumerate(studio.cards):
            scene[f"card{k}"] = card_shape(mi, card, centre)
    if mode != "backdrop":
        for k, part in enumerate(design.parts):
            path = folder / f"part{k}.ply"
            g.write_ply(part.mesh, path)
            entry = {"type": "ply", "filename": str(path), "face_normals": True}
            if mode == "masks":
                colour = [
                    float(part.role == "metal"),
                    float(part.role == "gem"),
                    float(part.detail),
                ]
                entry["bsdf"] = {
                    "type": "twosided",
                    "material": {
                        "type": "diffuse",
                        "reflectance": {"type": "rgb", "value": colour},
                    },
                }
            else:
                entry["bsdf"] = _material(part.material, design.metal, roughness, part.texture)
            scene[f"part{k}"] = entry
    # optimize=False: merging identical objects (the lights' black BSDFs) leaves the shapes, and
    # so the emitters, in a different order from run to run. parallel=False: the order must not
    # hang on thread timing either (not seen to matter, and costs nothing at these sizes).
    return mi.load_dict(scene, parallel=False, optimize=False)


@contextmanager
def single_render_thread() -> Iterator[None]:
    """Runs the block on one Dr.Jit worker thread (a fixed summation order), then restores the
    thread count the process had before."""
    import drjit as dr

    before = dr.thread_count()
    if before != 1:
        dr.set_thread_count(1)
    try:
        yield
    finally:
        if before != 1:
            dr.set_thread_count(before)


def render_passes(
    design: Design,
    studio: Studio,
    resolution: tuple[int, int],
    spp: int,
    seed: int,
    roughness: float = 0.0,
) -> dict[str, np.ndarray]:
    """Renders the three passes; returns float32 (H, W, 3) arrays "beauty", "masks", "backdrop".

    beauty and backdrop are linear RGB radiance (unnormalised); masks holds coverage in 0..1
    (R metal, G gem, B fine detail).
    """
    mi = mitsuba()
    out = {}
    with tempfile.TemporaryDirectory(prefix="jr_synth_") as tmp, single_render_thread():
        folder = Path(tmp)
        for mode, n in (
            ("beauty", spp),
            ("masks", max(16, spp // 2)),
            ("backdrop", max(8, spp // 2)),
        ):
            scene = build_scene(design, studio, resolution, mode, folder, roughness, spp=n)
            img = mi.render(scene, spp=n, seed=seed)
            out[mode] = np.array(img, dtype=np.float32)[:, :, :3]
            del scene
    out["masks"] = np.clip(out["masks"], 0.0, 1.0)
    return out
