"""The second catalog of pieces: what the first one lacked and real photos show.

The first catalog (`models.synth.jewelry`: rings, pendants, studs, drops, bracelets, hoops,
pearl strands, cable chains, wire wraps) has only flat-coloured cabochons and cable chains.
Real catalogs add pale and textured cabochons (opal, moonstone, jade, turquoise with matrix,
howlite, agate, mother of pearl) that a matte trained without them holes as backdrop, coins
and medals (large flat satin metal), filigree (openwork of fine wire), drop earrings on ear
wires and bars, and curb, rope, box and ball chains.

The first catalog's seeds must keep their pieces (the shipped weights are reproduced from
them), so the second catalog is a separate seed range (`CATALOG2_SEED_BASE`) with its own kind
list: its bank pieces draw these kinds and the first catalog's, the new ones more often.
"""

from __future__ import annotations

import numpy as np

from models.synth import geometry as g
from models.synth.jewelry import ALL_KINDS, Design, _chain, _pick, design
from models.synth.optics import METALS
from models.synth.stones import PALE_STONES, TEXTURED_STONES, planar_uv, stone_texture

CATALOG2_SEED_BASE = 2_000_000
"""Bank and sample seeds from here draw the second catalog (held-out ones from
CATALOG2_SEED_BASE + HELDOUT_OFFSET)."""

HELDOUT_OFFSET = 1_000_000

NEW_KINDS = (
    "cabochon_ring",
    "cabochon_pendant",
    "coin_pendant",
    "filigree",
    "rod_drops",
    "fancy_chain",
)
"""Kinds only the second catalog draws."""

CATALOG2_KINDS = ALL_KINDS + NEW_KINDS
CATALOG2_WEIGHTS = (1.0,) * len(ALL_KINDS) + (3.0,) * len(NEW_KINDS)
"""The new kinds are drawn three times as often as each old one (about 55 % of pieces)."""

CHAIN_STYLES = ("curb", "rope", "box", "ball")


def catalog_of(seed: int) -> int:
    """1 or 2: which catalog the bank piece or sample of `seed` belongs to."""
    return 2 if seed >= CATALOG2_SEED_BASE else 1


def pick_kind(rng: np.random.Generator) -> str:
    return _pick(rng, list(CATALOG2_KINDS), CATALOG2_WEIGHTS)


def pick_roughness(rng: np.random.Generator, kind: str) -> float:
    """Mirror polish about half the time; coins and medals are usually satin."""
    if kind == "coin_pendant":
        return float(rng.uniform(0.08, 0.3))
    return 0.0 if rng.random() < 0.5 else float(rng.uniform(0.02, 0.2))


def _textured_stone(d: Design, rng, radius: float, height: float, pos, elong: float = 1.0):
    """A textured cabochon (pale ones half the time) with its base at `pos`; returns name."""
    pale = rng.random() < 0.5
    names = list(PALE_STONES) if pale else [s for s in TEXTURED_STONES if s not in PALE_STONES]
    name = _pick(rng, names)
    mesh = g.cabochon(radius, height, segments=32, rings=8)
    mesh = planar_uv(mesh, radius).transformed(np.diag([elong, 1.0, 1.0]), pos)
    d.add(mesh, name, texture=stone_texture(name, rng))
    return name


def _bezel(d: Design, radius: float, pos, elong: float = 1.0, wall: float = 0.08) -> None:
    """A metal collar around a cabochon's girdle and the cup under it."""
    a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    loop = np.stack([radius * 1.04 * elong * np.cos(a), radius * 1.04 * np.sin(a), 0 * a], 1)
    d.add(g.tube(loop + pos + [0, 0, radius * wall * 0.6], radius * wall, 6, closed=True))
    cup = g.cabochon(radius * 1.08, radius * 0.3, segments=32).transformed(
        g.rotation_axis_angle((1, 0, 0), np.pi) @ np.diag([elong, 1.0, 1.0]), pos
    )
    d.add(cup)


def _bail_and_chain(d: Design, rng, top: float) -> None:
    """A bail at y = `top` and a cable chain running off-frame from it."""
    bail = np.array([0.0, top + 0.1, 0.1])
    a = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    loop = np.stack([0 * a, 0.13 * np.cos(a), 0.13 * np.sin(a)], 1) + bail
    d.add(g.tube(loop, 0.03, 6, closed=True))
    spread = rng.uniform(0.3, 0.9)
    for side in (-1, 1):
        _chain(d, rng, bail + [0, 0.15, -0.1], np.array([side * spread, 1.0, 0]), 6.0, 0.0)


def _cabochon_ring(d: Design, rng) -> None:
    radius, thick = 0.85, rng.uniform(0.14, 0.22)
    width = rng.uniform(0.2, 0.45)
    outer = radius + thick
    profile = g.band_profile(radius, width, thick, _pick(rng, ["comfort", "flat"]))
    d.add(g.revolve(profile, 96, axis="y").transformed(None, (0.0, 0.0, outer)))
    stone_r = rng.uniform(0.3, 0.55)
    elong = 1.0 if rng.random() < 0.5 else rng.uniform(1.15, 1.5)
    pos = np.array([0.0, 0.0, 2 * outer - 0.02])
    _bezel(d, stone_r, pos, elong)
    d.facts["centre_stone"] = _textured_stone(
        d, rng, stone_r, stone_r * rng.uniform(0.35, 0.65), pos, elong
    )


def _cabochon_pendant(d: Design, rng) -> None:
    stone_r = rng.uniform(0.4, 0.9)
    elong = rng.uniform(1.0, 1.5)
    # the oval's long axis along the chain (y): rotate the x-elongated stone by 90 degrees
    turn = g.rotation_axis_angle((0, 0, 1), np.pi / 2)
    start = len(d.parts)
    pos = np.array([0.0, 0.0, stone_r * 0.3])
    _bezel(d, stone_r, pos, elong)
    name = _textured_stone(d, rng, stone_r, stone_r * rng.uniform(0.3, 0.6), pos, elong)
    for p in d.parts[start:]:
        p.mesh = p.mesh.transformed(turn)
    d.facts["centre_stone"] = name
    _bail_and_chain(d, rng, stone_r * elong * 1.05)


def _coin_pendant(d: Design, rng) -> None:
    r = rng.uniform(0.7, 1.4)
    t = r * rng.uniform(0.08, 0.14)
    rim = r * rng.uniform(0.06, 0.12)
    # revolve about z: profile points are (distance from the axis, height)
    profile = np.array(
        [
            [0.0, t * 0.75],
            [r - rim, t * 0.75],
            [r - rim * 0.6, t],
            [r, t * 0.9],
            [r, 0.0],
            [0.0, 0.0],
        ]
    )
    d.add(g.revolve(profile, 128, axis="z"))
    # relief: a ring of beads, a laurel of small domes, a raised motif in the field
    k = int(rng.integers(24, 48))
    for a in np.linspace(0, 2 * np.pi, k, endpoint=False):
        p = ((r - rim * 2.2) * np.cos(a), (r - rim * 2.2) * np.sin(a), t * 0.75)
        d.add(g.sphere(p, rim * 0.35, 4, 6).transformed(np.diag([1, 1, 0.6])), detail=True)
    for _ in range(int(rng.integers(3, 9))):
        c = rng.uniform(-0.45, 0.45, 2) * r
        s = r * rng.uniform(0.08, 0.2)
        dome = g.cabochon(s, t * rng.uniform(0.2, 0.5), segments=16, rings=4)
        d.add(
            dome.transformed(np.diag([rng.uniform(0.6, 1.6), 1, 1]), (c[0], c[1], t * 0.75)),
            detail=True,
        )
    _bail_and_chain(d, rng, r)
    d.facts["coin_radius"] = float(r)


def _filigree(d: Design, rng) -> None:
    """An openwork disc or drop of wire scrolls inside a frame wire, as a pendant or a pair."""
    pair = rng.random() < 0.4
    outline_r = rng.uniform(0.5, 0.8) if pair else rng.uniform(0.8, 1.4)
    wire = outline_r * rng.uniform(0.025, 0.045)
    drop = rng.random() < 0.5
    look_seed = int(rng.integers(1 << 30))
    for side in (-1, 1) if pair else (0,):
        look = np.random.default_rng(look_seed)
        centre = np.array([side * outline_r * 1.4, 0.0, wire])
        a = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        stretch = 1 + (0.35 * (1 - np.sin(a)) if drop else 0)
        outline = np.stack([outline_r * np.cos(a), outline_r * stretch * np.sin(a), 0 * a], 1)
        d.add(g.tube(outline + centre, wire * 1.3, 6, closed=True))
        scroll_r = outline_r * look.uniform(0.14, 0.22)
        step = scroll_r * 2.05
        for gx in np.arange(-outline_r, outline_r + 1e-9, step):
            for gy in np.arange(-outline_r * 1.7, outline_r * 1.7, step * 0.87):
                x = gx + (step / 2 if int(round(gy / (step * 0.87))) % 2 else 0)
                ang = np.arctan2(gy, x)
                bound = outline_r * (1 + (0.35 * (1 - np.sin(ang)) if drop else 0))
                if np.hypot(x, gy) + scroll_r > bound * 0.95:
                    continue
                turns = look.uniform(1.2, 2.2)
                s = np.linspace(0, 2 * np.pi * turns, 48)
                rr = scroll_r * (0.25 + 0.75 * s / s[-1])
                spiral = np.stack([x + rr * np.cos(s), gy + rr * np.sin(s), 0 * s], 1)
                d.add(g.tube(spiral + centre, wire, 5), detail=True)
        top = centre + [0, outline_r * 1.05 + 0.08, 0]
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        d.add(
            g.tube(
                np.stack([0 * a, 0.08 * np.cos(a), 0.08 * np.sin(a)], 1) + top, wire, 5, closed=True
            )
        )
        if pair:
            _ear_wire(d, top + [0, 0.08, 0], outline_r * 0.9, wire)
    if not pair:
        _bail_and_chain(d, rng, outline_r * 1.05 + 0.1)
    d.facts["filigree"] = {"pair": pair, "drop": drop}


def _ear_wire(d: Design, start, size: float, wire: float) -> None:
    """A shepherd's-hook ear wire lying on the backdrop, rising from `start` (+y)."""
    s = np.linspace(0, 1, 40)
    path = (
        np.stack([size * 0.35 * np.sin(np.pi * s) ** 2, size * 1.2 * s, 0 * s], 1)
        + np.asarray(start) * [1, 1, 0]
        + [0, 0, wire]
    )
    hook = np.linspace(0, np.pi, 24)
    top = path[-1]
    arc = np.stack(
        [
            top[0] - size * 0.3 * (1 - np.cos(hook)),
            top[1] + size * 0.3 * np.sin(hook),
            0 * hook + wire,
        ],
        1,
    )
    d.add(g.tube(np.concatenate([path, arc[1:]]), wire, 6))


def _rod_drops(d: Design, rng) -> None:
    """A pair of drops: ear wire or post, a straight bar, a ball or stone at the end."""
    length = rng.uniform(0.8, 2.2)
    wire = rng.uniform(0.02, 0.04)
    gap = rng.uniform(0.8, 1.6)
    end = _pick(rng, ["ball", "stone", "disc"])
    look_seed = int(rng.integers(1 << 30))
    for side in (-1, 1):
        look = np.random.default_rng(look_seed)
        x = side * gap / 2
        bar = np.array([[x, -length / 2, wire * 1.5], [x, length / 2, wire * 1.5]])
        d.add(g.tube(bar, wire * 1.5, 8))
        tip = np.array([x, -length / 2, 0.0])
        if end == "ball":
            br = look.uniform(0.08, 0.2)
            d.add(g.sphere(tip + [0, -br, br], br, 8, 12))
        elif end == "disc":
            dr = look.uniform(0.15, 0.35)
            disc = g.revolve(np.array([[0.0, 0.03], [dr, 0.03], [dr, 0.0], [0.0, 0.0]]), 48, "z")
            d.add(disc.transformed(None, tip + [0, -dr, 0]))
        else:
            sr = look.uniform(0.12, 0.25)
            stone = _pick(look, ["diamond", "sapphire", "emerald", "ruby", "textured"])
            pos = tip + [0, -sr, sr * 0.7]
            if stone == "textured":
                _textured_stone(d, look, sr, sr * 0.6, tip + [0, -sr, 0.0])
            else:
                d.add(g.brilliant(sr, 16).transformed(None, pos), stone)
                a = np.linspace(0, 2 * np.pi, 32, endpoint=False)
                loop = np.stack([sr * 1.05 * np.cos(a), sr * 1.05 * np.sin(a), 0 * a], 1)
                d.add(g.tube(loop + pos, sr * 0.1, 6, closed=True))
        if rng.random() < 0.6:
            _ear_wire(d, (x, length / 2, 0.0), rng.uniform(0.5, 0.9), wire)
        else:  # a post with a butterfly back
            d.add(g.tube(np.array([[x, length / 2, wire], [x, length / 2 + 0.35, wire]]), wire))
            d.add(
                g.sphere((x, length / 2 + 0.4, 0.08), 0.09, 6, 10).transformed(
                    np.diag([1.6, 0.5, 1.0]), (0, 0, 0)
                )
            )
    d.facts["rod_end"] = end


def _fancy_chain(d: Design, rng) -> None:
    """A necklace of curb, rope, box or ball chain lying as a loop (the clasp at the front)."""
    style = _pick(rng, list(CHAIN_STYLES))
    radius = rng.uniform(1.6, 2.8)
    squash = rng.uniform(0.6, 1.0)
    a = np.linspace(-np.pi / 2, 1.5 * np.pi, 400)
    path = np.stack([radius * np.cos(a), squash * radius * np.sin(a), 0 * a], 1)
    size = rng.uniform(0.08, 0.22)  # link or bead size
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.cross(tangent, [0, 0, 1])
    if style == "rope":  # two strands twisted around each other
        twist = 2 * np.pi * s / (size * 2.5)
        for phase in (0.0, np.pi):
            offset = np.cos(twist + phase)[:, None] * side + np.sin(twist + phase)[:, None] * [
                0,
                0,
                1,
            ]
            strand = path + size * 0.45 * offset + [0, 0, size * 0.7]
            d.add(g.tube(strand, size * 0.28, 6), detail=True)
    elif style == "ball":
        d.add(g.tube(path + [0, 0, size * 0.5], size * 0.12, 5))
        for at in np.arange(0, s[-1], size * 1.5):
            i = min(int(np.searchsorted(s, at)), len(path) - 1)
            d.add(g.sphere(path[i] + [0, 0, size * 0.5], size * 0.5, 6, 10), detail=True)
    elif style == "box":  # square links, alternately flat and on edge
        for k, at in enumerate(np.arange(0, s[-1], size * 0.9)):
            i = min(int(np.searchsorted(s, at)), len(path) - 1)
            t, n = tangent[i], side[i]
            up = np.array([0.0, 0.0, 1.0])
            u, v = (t, n) if k % 2 == 0 else (t, up)
            h = size / 2
            corners = [h * (u + v), h * (-u + v), h * (-u - v), h * (u - v)]
            pts = []
            for c0, c1 in zip(corners, corners[1:] + corners[:1], strict=True):
                pts += [c0 + (c1 - c0) * f for f in np.linspace(0, 1, 4, endpoint=False)]
            loop = np.array(pts) + path[i] + [0, 0, h + size * 0.1]
            d.add(g.tube(loop, size * 0.1, 4, closed=True))
    else:  # curb: oval links all lying flat, each tilted about the chain, close together
        link = size * 1.3
        wire = link * 0.16
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        oval = np.stack([link / 2 * np.cos(t), link / 3 * np.sin(t), 0 * t], 1)
        for k, at in enumerate(np.arange(0, s[-1], link * 0.55)):
            i = min(int(np.searchsorted(s, at)), len(path) - 1)
            tilt = g.rotation_axis_angle((1, 0, 0), 0.35 if k % 2 else -0.35)
            flat = g.rotation_axis_angle((0, 0, 1), np.arctan2(tangent[i, 1], tangent[i, 0]))
            loop = oval @ tilt.T @ flat.T + path[i] + [0, 0, link / 6 + wire]
            d.add(g.tube(loop, wire, 5, closed=True))
    d.add(g.sphere((0.0, -squash * radius, size * 0.6), size * 0.6, 6, 10))  # the clasp
    d.facts["chain_style"] = style


_BUILDERS = {
    "cabochon_ring": _cabochon_ring,
    "cabochon_pendant": _cabochon_pendant,
    "coin_pendant": _coin_pendant,
    "filigree": _filigree,
    "rod_drops": _rod_drops,
    "fancy_chain": _fancy_chain,
}


def design2(kind: str, metal: str, rng: np.random.Generator) -> Design:
    """One piece of `kind` (a key of CATALOG2_KINDS) in `metal`, resting on z = 0."""
    if kind not in NEW_KINDS:
        return design(kind, metal, rng)
    if metal not in METALS:
        raise ValueError(f"unknown metal {metal!r}")
    d = Design(kind, metal)
    _BUILDERS[kind](d, rng)
    lowest = min(float(p.mesh.vertices[:, 2].min()) for p in d.parts)
    for p in d.parts:
        p.mesh = p.mesh.transformed(None, (0.0, 0.0, -lowest))
    return d


__all__ = [
    "CATALOG2_KINDS",
    "CATALOG2_SEED_BASE",
    "CHAIN_STYLES",
    "HELDOUT_OFFSET",
    "NEW_KINDS",
    "catalog_of",
    "design2",
    "pick_kind",
    "pick_roughness",
]
