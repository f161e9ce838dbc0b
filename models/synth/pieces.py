"""Rendered jewelry pieces as compositing layers: a "piece bank" for `models.synth.composite`.

Rendering a whole studio per training sample is slow (seconds at 384 px on one core), and one
rendered studio is one backdrop. Instead each piece is rendered once, without any backdrop,
as the layers that compositing needs, and then placed on many backdrops. Every layer is a
Mitsuba render of the same piece seen by the same camera (the studio of
`models.synth.studio.random_studio`: camera, lights, cards, ambient level):

* ``lights``: premultiplied linear radiance of the piece lit by the studio's lights, cards and
  the ambient light of the upper hemisphere (RGBA film, hidden emitters: alpha is the exact
  fraction of the pixel's samples that hit the piece);
* ``sweep``: premultiplied radiance of the piece lit *only* by a unit-white backdrop: an
  environment that emits 1 below the horizon and on a wall behind the piece (the sweep's
  curve), in the same set with the lights switched off. Light transport is linear in the
  emitters, so a backdrop of radiance c adds exactly c * sweep: white metal on a white sweep
  mirrors the white sweep, on black velvet it does not;
* ``alpha``: the coverage of the piece, from the ``lights`` film (the same samples, so the
  premultiplied colour and the alpha agree exactly; the sweep pass uses the same camera
  samples, so it shares that alpha bit for bit);
* ``metal``, ``gem``, ``detail``: class coverage: a flat-colour albedo pass (box filter) gives
  each pixel's class shares, which split ``alpha`` (metal + gem == alpha);
* ``prop``: the coverage of the piece's prop (a felt pad, wax, an acrylic clip; see
  `models.synth.props`), from a second flat pass that paints only the prop: the film's
  coverage is alpha + prop, and the lit and sweep layers are premultiplied by that sum (a prop
  is photographed like the piece; it is the truth matte that leaves it out);
* ``shadow``: the cast shadow's opacity on a white floor: 1 - (floor with piece) / (floor
  without piece), rendered with the same seed so the two renders' noise cancels, smoothed and
  zero where faint; under the piece (hidden) it is filled from the nearest visible floor;
* ``light_field``: the floor's irradiance without the piece, relative to its median (the
  lights' fall-off across the backdrop);
* ``floor_xy``: the world (x, y) point of the floor seen through every pixel, to map a
  backdrop texture in perspective;
* ``mirror`` and ``mirror_alpha``: the piece's reflection in a mirror floor (black acrylic):
  the mirrored world (piece, lights and sky reflected through the floor) seen by the camera.

All radiances are divided by the median radiance of a white (albedo 1) floor, so a white
backdrop of albedo a reads a (times its light fall-off). A bank file is an exact function of
its seed for one Mitsuba variant on one machine (see `models.synth.render`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from models.synth import catalog2
from models.synth import geometry as g
from models.synth.dataset import HELDOUT_SEED_BASE
from models.synth.jewelry import ALL_KINDS, Design, Part
from models.synth.optics import METAL_KIND, METALS
from models.synth.props import add_prop
from models.synth.render import (
    _look_at,
    _material,
    card_shape,
    light_shape,
    mitsuba,
    single_render_thread,
)
from models.synth.studio import Card, Light, Studio, random_studio

LAYER_KEYS = (
    "lights",
    "sweep",
    "alpha",
    "metal",
    "gem",
    "detail",
    "shadow",
    "light_field",
    "floor_xy",
    "mirror",
    "mirror_alpha",
    "prop",
)

SHADOW_FLOOR = 0.04
"""Shadow opacities below this are render noise, not a shadow (set to 0)."""


def _environment(
    mi, camera_dir: np.ndarray, *, upper: float, sweep: float, size: int = 64, mirror: bool = False
):
    """An equirectangular environment: `upper` above the horizon, `sweep` below it and on a
    wall behind the piece (directions away from the camera, below 35 degrees elevation).

    Mitsuba's envmap has +y up; the scene is z up, hence the rotation. mirror: the same sky
    reflected through a horizontal plane (for the mirror-floor pass).
    """
    h, w = size, 2 * size
    theta = (np.arange(h) + 0.5) / h * np.pi  # from +y_env (world +z) down
    phi = (np.arange(w) + 0.5) / w * 2 * np.pi
    # env direction (x, y, z)_env = (sin t sin p, cos t, -sin t cos p) in Mitsuba's convention;
    # to_world rotates +90 degrees about x: world = (x_env, -z_env, y_env)
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    sp, cp = np.sin(phi)[None, :], np.cos(phi)[None, :]
    world = np.stack([st * sp, st * cp, np.broadcast_to(ct, (h, w)) * (-1 if mirror else 1)], -1)
    elevation = np.arcsin(np.clip(world[..., 2], -1, 1))
    away = -(world[..., :2] @ (camera_dir[:2] / (np.linalg.norm(camera_dir[:2]) + 1e-9)))
    is_sweep = (elevation < 0) | ((away > 0.2) & (elevation < np.radians(35)))
    env = np.where(is_sweep, sweep, upper)[..., None] * np.ones(3)
    bitmap = mi.Bitmap(np.ascontiguousarray(env, dtype=np.float32))
    return {
        "type": "envmap",
        "bitmap": bitmap,
        "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], 90),
    }, env


def in_view(camera, points: np.ndarray) -> bool:
    """Whether any of `points` (N, 3) is inside the camera's (square) view frustum."""
    origin = np.asarray(camera.origin, float)
    forward = np.asarray(camera.target, float) - origin
    forward /= np.linalg.norm(forward)
    up = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.999 else np.array([0.0, 1.0, 0.0])
    left = np.cross(up, forward)
    left /= np.linalg.norm(left)
    above = np.cross(forward, left)
    d = np.asarray(points, float) - origin
    z = d @ forward
    half = np.tan(np.radians(camera.fov) / 2)
    ok = (z > 1e-6) & (np.abs(d @ left) <= half * z) & (np.abs(d @ above) <= half * z)
    return bool(ok.any())


def _card_points(card, centre: np.ndarray) -> np.ndarray:
    """A 9 x 9 grid over a card facing `centre` (for the frustum test)."""
    normal = centre - np.asarray(card.position, float)
    normal /= np.linalg.norm(normal)
    a = np.cross(normal, [0.0, 0.0, 1.0])
    if np.linalg.norm(a) < 1e-6:
        a = np.array([1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    t = np.linspace(-0.5, 0.5, 9) * card.size
    return np.asarray(card.position, float) + t[:, None, None] * a + t[None, :, None] * b


def _light_points(light, centre: np.ndarray) -> np.ndarray:
    if light.shape == "sphere":
        offsets = np.vstack([np.zeros(3), np.eye(3), -np.eye(3)]) * light.size
        return np.asarray(light.position, float) + offsets
    return _card_points(light, centre).reshape(-1, 3)


def _lights(mi, studio: Studio, centre: np.ndarray, emit: bool = True) -> dict:
    """The studio's lights and cards. Lights have a null BSDF: camera rays pass through them
    (the film's alpha counts only the piece) while reflections in the metal still see them.
    Lights and cards inside the camera's view are left out: in a real set they would block the
    view, and the film's alpha would count them as piece."""
    scene: dict = {}
    black = {"type": "null"}
    for k, light in enumerate(studio.lights):
        if studio.camera is not None and in_view(studio.camera, _light_points(light, centre)):
            continue  # a softbox in the frame would stand between the camera and the piece
        radiance = list(light.radiance) if emit else [0.0, 0.0, 0.0]
        scene[f"light{k}"] = light_shape(mi, light, centre, radiance, black)
    for k, card in enumerate(studio.cards):
        if studio.camera is not None and in_view(
            studio.camera, _card_points(card, centre).reshape(-1, 3)
        ):
            continue
        scene[f"card{k}"] = card_shape(mi, card, centre)
    return scene


def _mirrored_design(piece: Design, floor_z: float) -> Design:
    """The piece reflected through the plane z = floor_z (faces reversed: normals stay outward,
    which the dielectric gems need)."""
    out = Design(piece.kind, piece.metal, facts=dict(piece.facts))
    for part in piece.parts:
        v = part.mesh.vertices * np.array([1.0, 1.0, -1.0]) + np.array([0.0, 0.0, 2 * floor_z])
        mesh = g.Mesh(v, part.mesh.faces[:, ::-1].copy(), part.mesh.uv)
        out.parts.append(Part(mesh, part.material, part.role, part.detail, part.frame))
    return out


def _mirrored_studio(studio: Studio, floor_z: float) -> Studio:
    def flip(p):
        return np.asarray(p, float) * np.array([1, 1, -1]) + np.array([0, 0, 2 * floor_z])

    lights = [Light(x.shape, flip(x.position), x.size, x.radiance) for x in studio.lights]
    cards = [Card(flip(c.position), c.size, c.albedo) for c in studio.cards]
    return Studio(
        studio.backdrop, studio.texture, studio.rig, lights, cards, studio.ambient, studio.camera
    )


def _floor(mi, z: float, radius: float, albedo: float) -> dict:
    to_world = mi.ScalarTransform4f().translate([0.0, 0.0, z]) @ mi.ScalarTransform4f().scale(
        [400 * radius, 400 * radius, 1.0]
    )
    return {
        "type": "rectangle",
        "to_world": to_world,
        "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [albedo] * 3}},
    }


def _parts(design_: Design, folder: Path, roughness: float, masks: str | None) -> dict:
    """The design's parts as Mitsuba shapes: their materials (masks None), or flat colours
    for the class passes: masks "classes" paints (metal, gem, detail), "props" (prop, 0, 0)."""
    scene = {}
    for k, part in enumerate(design_.parts):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part{k}.ply"
        if not path.exists():
            g.write_ply(part.mesh, path)
        entry: dict = {"type": "ply", "filename": str(path), "face_normals": True}
        if masks == "props":
            colour = [float(part.role == "prop"), 0.0, 0.0]
            entry["bsdf"] = {
                "type": "twosided",
                "material": {"type": "diffuse", "reflectance": {"type": "rgb", "value": colour}},
            }
        elif masks:
            colour = [float(part.role == "metal"), float(part.role == "gem"), float(part.detail)]
            entry["bsdf"] = {
                "type": "twosided",
                "material": {"type": "diffuse", "reflectance": {"type": "rgb", "value": colour}},
            }
        else:
            entry["bsdf"] = _material(part.material, design_.metal, roughness, part.texture)
        scene[f"part{k}"] = entry
    return scene


def _sensor(mi, origin, target, fov: float, size: int, spp: int, rfilter: str, rgba: bool):
    return {
        "type": "perspective",
        "fov": float(fov),
        "fov_axis": "x",
        "to_world": _look_at(mi, origin, target),
        "film": {
            "type": "hdrfilm",
            "width": size,
            "height": size,
            "pixel_format": "rgba" if rgba else "rgb",
            "rfilter": {"type": rfilter},
        },
        "sampler": {"type": "independent", "sample_count": int(spp)},
    }


def _render(mi, scene: dict, spp: int, seed: int) -> np.ndarray:
    loaded = mi.load_dict(scene, parallel=False, optimize=False)  # see models.synth.render
    return np.array(mi.render(loaded, spp=spp, seed=seed), dtype=np.float32)


def _fill_from_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """values where valid; elsewhere the value of the nearest valid pixel."""
    if valid.all() or not valid.any():
        return values
    _, (iy, ix) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return values[iy, ix]


def piece_setup(seed: int) -> tuple[Design, Studio, float]:
    """The piece (with its prop, if any: parts of role "prop"), its studio (camera, lights,
    cards, ambient) and its metal roughness."""
    rng_design = np.random.default_rng([seed, 11])
    rng_studio = np.random.default_rng([seed, 12])
    # The second catalog has its own seed range and kind list; the first draws exactly as its
    # bank was made (design2 builds the first catalog's kinds with jewelry.design).
    second = catalog2.catalog_of(seed) == 2
    if second:
        kind = catalog2.pick_kind(rng_design)
    else:
        kind = ALL_KINDS[int(rng_design.integers(len(ALL_KINDS)))]
    metal = list(METALS)[int(rng_design.integers(len(METALS)))]
    piece = catalog2.design2(kind, metal, rng_design)
    add_prop(piece, np.random.default_rng([seed, 13]))
    if second:
        roughness = catalog2.pick_roughness(rng_design, kind)
    else:
        roughness = 0.0 if rng_design.random() < 0.6 else float(rng_design.uniform(0.02, 0.12))
    lo, hi = piece.bounds()
    studio = random_studio(rng_studio, (lo + hi) / 2, float(np.linalg.norm(hi - lo) / 2))
    return piece, studio, roughness


def render_piece(seed: int, size: int = 448, spp: int = 32) -> dict:
    """All layers of the piece of `seed` at `size` x `size` px (see the module docstring).

    Returns float32 arrays (float16 would do for storage; see `write_piece`) plus "meta".
    """
    mi = mitsuba()
    piece, studio, roughness = piece_setup(seed)
    lo, hi = piece.bounds()
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo) / 2)
    floor_z = min(0.0, min(float(p.mesh.vertices[:, 2].min()) for p in piece.parts))
    cam = studio.camera
    cam_dir = np.asarray(cam.target, float) - np.asarray(cam.origin, float)
    r_seed = seed % (1 << 31)
    lit_env, _ = _environment(mi, cam_dir, upper=studio.ambient, sweep=0.0)
    sweep_env, _ = _environment(mi, cam_dir, upper=0.0, sweep=1.0)
    path = {"type": "path", "max_depth": 10, "hide_emitters": True}
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="jr_pieces_") as tmp, single_render_thread():
        folder = Path(tmp)
        parts = _parts(piece, folder, roughness, masks=None)
        lights = _lights(mi, studio, centre)

        def sensor(n, rfilter="gaussian", rgba=True, origin=cam.origin, target=cam.target):
            return _sensor(mi, origin, target, cam.fov, size, n, rfilter, rgba)

        lit = _render(
            mi,
            {"type": "scene", "integrator": path, "sensor": sensor(spp), "env": lit_env}
            | lights
            | parts,
            spp,
            r_seed,
        )
        # The same scene with the lights dark and only the sweep glowing: light transport is
        # linear in the emitters, the cards still shade the sweep's light, and the same
        # geometry, sample count and seed give the same camera rays, so the two premultiplied
        # layers share one coverage (checked below): F = lights + c * sweep is premultiplied by
        # exactly `alpha`.
        swept = _render(
            mi,
            {"type": "scene", "integrator": path, "sensor": sensor(spp), "env": sweep_env}
            | _lights(mi, studio, centre, emit=False)
            | parts,
            spp,
            r_seed,
        )
        masks_scene = {
            "type": "scene",
            "integrator": {"type": "aov", "aovs": "albedo:albedo,p:position"},
            "sensor": sensor(16, "box", rgba=False),
            "floor": _floor(mi, floor_z, radius, 0.0),
        } | _parts(piece, folder, roughness, masks="classes")
        masks = _render(mi, masks_scene, 16, r_seed + 2)
        has_prop = any(p.role == "prop" for p in piece.parts)
        if has_prop:  # the same camera samples, props painted: their share of each pixel
            props_scene = masks_scene | _parts(piece, folder, roughness, masks="props")
            prop_pass = _render(mi, props_scene, 16, r_seed + 2)
        else:
            prop_pass = np.zeros_like(masks)
        # The same seed for both floor renders: the same camera and light samples, so the ratio
        # keeps the shadow and cancels most of the noise.
        floor_spp = max(16, spp)
        floor_scene = {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 4, "hide_emitters": True},
            "sensor": sensor(floor_spp, rgba=False),
            "env": lit_env,
            "floor": _floor(mi, floor_z, radius, 1.0),
        } | lights
        without = _render(mi, floor_scene, floor_spp, r_seed + 3)
        with_piece = _render(mi, floor_scene | parts, floor_spp, r_seed + 3)
        # The reflection in a mirror floor is the mirrored world (piece, lights, cards and
        # sky reflected through the floor plane) seen by the same camera: the camera sees the
        # mirrored piece below the floor, lit as the real one is.
        m_piece = _mirrored_design(piece, floor_z)
        m_env, _ = _environment(mi, cam_dir, upper=studio.ambient, sweep=0.0, mirror=True)
        m_studio = _mirrored_studio(studio, floor_z)
        m_centre = centre * np.array([1, 1, -1]) + np.array([0, 0, 2 * floor_z])
        mirrored = _render(
            mi,
            {"type": "scene", "integrator": path, "sensor": sensor(spp // 2), "env": m_env}
            | _lights(mi, m_studio, m_centre)
            | _parts(m_piece, folder / "mirror", roughness, masks=None),
            spp // 2,
            r_seed + 4,
        )

    if not np.array_equal(lit[:, :, 3], swept[:, :, 3]):
        raise RuntimeError("the lit and sweep passes saw different coverage (camera rays differ)")
    covered = np.clip(lit[:, :, 3], 0.0, 1.0)  # piece and prop
    floor_seen = masks[:, :, 3:6]  # world position of the first hit
    floor_hit = np.abs(floor_seen[:, :, 2] - floor_z) < 1e-3 * max(radius, 1e-3)
    background = (covered < 0.01) & floor_hit
    lum = lambda x: x[:, :, :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)  # noqa: E731
    white = lum(without)
    level = float(np.median(white[background])) if background.any() else float(np.median(white))
    level = max(level, 1e-6)
    # Soft tent and ambient shadows are noisy at these sample counts: smooth over ~1% of the frame.
    sigma = max(1.0, size / 200)
    ratio = ndimage.gaussian_filter(lum(with_piece), sigma) / np.maximum(
        ndimage.gaussian_filter(white, sigma), 1e-6
    )
    shadow = np.clip(1.0 - ratio, 0.0, 1.0)
    shadow = np.where(background, shadow, 0.0)
    shadow = _fill_from_nearest(shadow, background | (covered < 0.01) & ~floor_hit)
    shadow = np.where(shadow >= SHADOW_FLOOR, shadow, 0.0)
    field = np.clip(white / level, 0.35, 1.6)
    field = _fill_from_nearest(field, background)
    xy = _fill_from_nearest(floor_seen[:, :, :2], background)
    out["lights"] = lit[:, :, :3] / level
    out["sweep"] = swept[:, :, :3]  # per unit backdrop radiance, already relative
    # The flat-colour passes say which class each covered sample is, from its own samples;
    # their shares split the lit pass's coverage, so metal + gem == alpha and alpha + prop ==
    # the coverage exactly (the pixels where the flat pass missed a sliver the lit pass hit
    # take the nearest pixel's shares).
    metal_c, gem_c = np.clip(masks[:, :, 0], 0, 1), np.clip(masks[:, :, 1], 0, 1)
    prop_c = np.clip(prop_pass[:, :, 0], 0, 1)
    seen = metal_c + gem_c + prop_c > 1e-3
    piece_share = _fill_from_nearest(
        (metal_c + gem_c) / np.maximum(metal_c + gem_c + prop_c, 1e-3), seen
    )
    alpha = covered * np.clip(piece_share, 0, 1)
    out["alpha"] = alpha.astype(np.float32)
    out["prop"] = (covered - alpha).astype(np.float32)
    known = metal_c + gem_c > 1e-3
    share = _fill_from_nearest(metal_c / np.maximum(metal_c + gem_c, 1e-3), known)
    detail = _fill_from_nearest(
        np.clip(masks[:, :, 2], 0, 1) / np.maximum(metal_c + gem_c, 1e-3), known
    )
    out["metal"] = (alpha * share).astype(np.float32)
    out["gem"] = (alpha * (1 - share)).astype(np.float32)
    out["detail"] = (alpha * np.clip(detail, 0, 1)).astype(np.float32)
    out["shadow"] = shadow.astype(np.float32)
    out["light_field"] = field.astype(np.float32)
    out["floor_xy"] = ((xy - centre[:2]) / radius).astype(np.float32)  # in piece radii
    out["mirror"] = mirrored[:, :, :3] / level
    out["mirror_alpha"] = np.clip(mirrored[:, :, 3], 0, 1)
    out["meta"] = {
        "seed": seed,
        "size": size,
        "spp": spp,
        "kind": piece.kind,
        "metal": piece.metal,
        "metal_kind": METAL_KIND[piece.metal],
        "roughness": roughness,
        "design": piece.facts,
        "prop": piece.facts.get("prop"),
        "rig": studio.rig,
        "lights": len(studio.lights),
        "cards": len(studio.cards),
        "fov": float(cam.fov),
        "elevation_deg": float(np.degrees(np.arcsin(-cam_dir[2] / np.linalg.norm(cam_dir)))),
        "white_level": level,
    }
    if catalog2.catalog_of(seed) == 2:  # (the first catalog's meta stays as its bank has it)
        out["meta"]["catalog"] = 2
    return out


def bank_path(folder: Path, seed: int) -> Path:
    return Path(folder) / f"piece_{seed:07d}.npz"


def write_piece(folder: Path, seed: int, size: int = 448, spp: int = 32) -> Path:
    """Renders the piece of `seed` and stores it atomically (float16 layers); returns the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    layers = render_piece(seed, size, spp)
    meta = {**layers.pop("meta"), "render_seconds": round(time.time() - started, 2)}
    path = bank_path(folder, seed)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    arrays = {k: v.astype(np.float16) for k, v in layers.items()}
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)
    return path


def load_piece(path: Path) -> dict:
    """A bank file: float32 layers and the "meta" dict."""
    with np.load(path) as data:
        out = {k: data[k].astype(np.float32) for k in data.files if k != "meta"}
        out["meta"] = json.loads(str(data["meta"]))
    return out


def _render_job(args: tuple[str, int, int, int]) -> tuple[int, float, str | None]:
    folder, seed, size, spp = args
    os.environ.setdefault("DRJIT_LIBLLVM_PATH", "/usr/lib/x86_64-linux-gnu/libLLVM-19.so")
    t = time.time()
    try:
        write_piece(Path(folder), seed, size, spp)
    except RuntimeError as exc:  # a piece whose layers would not be exact: leave it out
        return seed, time.time() - t, str(exc)
    return seed, time.time() - t, None


def ensure_bank(
    folder: Path, seeds, size: int = 448, spp: int = 32, log=print, workers: int = 1
) -> list[Path]:
    """Renders every missing piece of `seeds` into `folder` (resumable; `workers` render
    processes, each single-threaded); returns the paths of the pieces on disk (a piece that
    fails its exactness check is logged and left out)."""
    import multiprocessing as mp

    seeds = list(seeds)
    todo = [(str(folder), s, size, spp) for s in seeds if not bank_path(folder, s).exists()]
    with contextlib.ExitStack() as stack:
        results = map(_render_job, todo)
        if workers > 1 and len(todo) > 1:
            pool = stack.enter_context(mp.get_context("spawn").Pool(workers))
            results = pool.imap_unordered(_render_job, todo)
        for seed, seconds, error in results:
            done = f"rendered piece {seed} in {seconds:.1f} s"
            log(f"piece {seed} left out: {error}" if error else done)
    return [bank_path(folder, s) for s in seeds if bank_path(folder, s).exists()]


__all__ = [
    "HELDOUT_SEED_BASE",
    "LAYER_KEYS",
    "bank_path",
    "ensure_bank",
    "load_piece",
    "piece_setup",
    "render_piece",
    "write_piece",
]
