"""Procedural jewelry: rings, pendants on chains, earring pairs and bracelets as mesh parts.

A design is a list of `Part`s. Each part knows its material and its role for the masks:
`role` is "metal" or "gem" (pearls and opaque cabochons count as gem), and `detail` marks
fine real structure the retoucher must keep sharp (prongs, pave stones and their beads,
milgrain, engraving). Units are centimetres, z up, the backdrop floor is z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.synth import geometry as g
from models.synth.optics import GEMS, METALS

PIECE_KINDS = (
    "solitaire",
    "halo",
    "pave_band",
    "plain_band",
    "engraved_band",
    "milgrain_band",
    "stacked",
    "pendant",
    "studs",
    "drops",
    "bracelet",
)
"""The v1 data set's kinds (its seeds map onto this tuple: keep it as it is)."""

RING_KINDS = PIECE_KINDS[:7]
"""The kinds that are rings (a single ring or stacked bands)."""

EXTRA_KINDS = ("hoops", "pearl_strand", "chain", "wire_wrap")
"""Kinds only the v2 piece bank draws (`models.synth.pieces`)."""

ALL_KINDS = PIECE_KINDS + EXTRA_KINDS


@dataclass
class Part:
    mesh: g.Mesh
    material: str  # "metal", a key of GEMS or a key of OPAQUE
    role: str  # "metal" | "gem" | "prop" (a support that is not the piece)
    detail: bool = False
    frame: bool = True  # counted when the camera frames the piece (chains run off-frame)
    texture: np.ndarray | None = None  # (n, n, 3) linear albedo map over the mesh's uv


@dataclass
class Design:
    kind: str
    metal: str
    parts: list[Part] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def add(
        self, mesh, material="metal", role="metal", detail=False, frame=True, texture=None
    ) -> None:
        if material != "metal":
            role = "gem"
        if material in GEMS:
            mesh = g.orient_outward(mesh)
        self.parts.append(Part(mesh, material, role, detail, frame, texture))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        framed = [p.mesh for p in self.parts if p.frame] or [p.mesh for p in self.parts]
        lo = np.min([m.bounds[0] for m in framed], axis=0)
        hi = np.max([m.bounds[1] for m in framed], axis=0)
        return lo, hi


def _pick(rng: np.random.Generator, options, weights=None):
    w = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return options[int(rng.choice(len(options), p=w))]


def _centre_stone(rng) -> str:
    return _pick(rng, list(GEMS) + ["pearl", "cabochon"], [5, 2, 2, 2, 1.5, 1, 1, 1])


def _stone_mesh(d: Design, stone: str, radius: float, rot, pos, rng, detail=False) -> str:
    """Adds a stone (faceted, pearl or cabochon) with its table along rot's +z; returns name."""
    if stone == "pearl":
        name = _pick(rng, ["pearl_white", "pearl_cream", "pearl_black"], [3, 2, 1])
        d.add(g.sphere((0, 0, 0), radius, 10, 16).transformed(rot, pos), name, detail=detail)
    elif stone == "cabochon":
        name = _pick(rng, ["turquoise", "onyx", "lapis", "coral"])
        mesh = g.cabochon(radius, radius * rng.uniform(0.45, 0.7))
        d.add(mesh.transformed(rot, pos), name, detail=detail)
    else:
        name = stone
        elong = 1.0 if rng.random() < 0.7 else rng.uniform(1.2, 1.5)
        mesh = g.brilliant(radius, facets=int(_pick(rng, [12, 16, 16])), elongation=elong)
        d.add(mesh.transformed(rot, pos), name, detail=detail)
    return name


def _prongs(d: Design, count: int, stone_r: float, base, top_z: float, rot, pos, detail=True):
    """Claws around a stone: from below the girdle up over the crown edge, ball tips."""
    radius = max(0.045 * stone_r * 2, 0.012)
    for k in range(count):
        a = 2 * np.pi * (k + 0.5) / count
        c, s = np.cos(a), np.sin(a)
        path = np.array(
            [
                [0.45 * stone_r * c, 0.45 * stone_r * s, base],
                [1.02 * stone_r * c, 1.02 * stone_r * s, 0.0],
                [0.92 * stone_r * c, 0.92 * stone_r * s, top_z],
            ]
        )
        fine = np.stack([np.interp(np.linspace(0, 2, 7), [0, 1, 2], path[:, i]) for i in range(3)])
        d.add(g.tube(fine.T, radius, 6).transformed(rot, pos), detail=detail)
        d.add(g.sphere(path[-1], radius * 1.25, 5, 8).transformed(rot, pos), detail=detail)


def _band(rng, radius, width, thick, shape=None, segments=96) -> g.Mesh:
    shape = shape or _pick(rng, ["comfort", "flat", "knife"], [3, 2, 1])
    return g.revolve(g.band_profile(radius, width, thick, shape), segments, axis="y")


def _ring(d: Design, rng, style: str, y0: float = 0.0, radius: float = 0.85) -> None:
    """One ring standing on its shank, finger axis along y, head at the top (+z)."""
    width = rng.uniform(0.18, 0.35) if style in ("solitaire", "halo") else rng.uniform(0.2, 0.6)
    thick = rng.uniform(0.14, 0.22)
    outer = radius + thick
    lift = np.array([0.0, y0, outer])  # band centre, so the shank rests on z = 0

    if style == "engraved_band":
        band = _band(rng, radius, width, thick, "flat", segments=240)
        v = band.vertices
        ang = np.arctan2(v[:, 2], v[:, 0])
        rad = np.hypot(v[:, 0], v[:, 2])
        outside = rad > radius + thick * 0.75
        freq = int(rng.integers(18, 40))
        pattern = np.sin(freq * ang + 6 * np.sin(3 * ang) * (v[:, 1] / width)) > 0.55
        groove = outside & pattern & (np.abs(v[:, 1]) < width * 0.38)
        depth = thick * 0.12
        v = v.copy()
        v[groove, 0] -= depth * np.cos(ang[groove])
        v[groove, 2] -= depth * np.sin(ang[groove])
        f = band.faces
        detail_face = groove[f].any(axis=1)
        d.add(g.Mesh(v, f[~detail_face]).transformed(None, lift))
        d.add(g.Mesh(v, f[detail_face]).transformed(None, lift), detail=True)
        return

    d.add(_band(rng, radius, width, thick).transformed(None, lift))

    if style == "milgrain_band":
        bead = max(width * 0.06, 0.012)
        n = int(2 * np.pi * outer / (2.1 * bead))
        for side in (-1, 1):
            for k in range(n):
                a = 2 * np.pi * k / n
                p = np.array([outer * np.cos(a), side * (width / 2 - bead), outer * np.sin(a)])
                d.add(g.sphere(p + lift, bead, 4, 6), detail=True)
    elif style == "pave_band":
        r_small = width * rng.uniform(0.2, 0.3)
        n = int(np.pi * outer / (2.3 * r_small))  # over the top half of the band
        for k in range(n):
            a = np.pi * (0.1 + 0.8 * k / max(n - 1, 1))
            normal = np.array([np.cos(a), 0.0, np.sin(a)])
            rot = g.rotation_z_to(normal)
            pos = normal * (outer - 0.16 * 2 * r_small) + lift
            d.add(g.brilliant(r_small, 12).transformed(rot, pos), "diamond", detail=True)
            for side in (-1, 1):  # shared beads hold the stones
                bead_pos = normal * outer + np.array([0, side * r_small * 1.05, 0]) + lift
                d.add(g.sphere(bead_pos, r_small * 0.28, 4, 6), detail=True)
    elif style in ("solitaire", "halo"):
        stone = _centre_stone(rng)
        stone_r = rng.uniform(0.22, 0.42)
        height = thick * 0.5 + stone_r * 0.9
        pos = np.array([0.0, 0.0, outer + height]) + np.array([0, y0, outer])
        rot = np.eye(3)
        name = _stone_mesh(d, stone, stone_r, rot, pos, rng)
        if stone == "pearl":
            d.add(g.tube(np.array([[0, 0, -height], [0, 0, 0]]), 0.03).transformed(rot, pos))
        else:
            n_prongs = int(_pick(rng, [4, 6], [3, 2]))
            crown = stone_r * 0.36 if name in GEMS else stone_r * 0.3
            _prongs(d, n_prongs, stone_r, -height, crown, rot, pos)
        if style == "halo":
            r_small = stone_r * rng.uniform(0.16, 0.22)
            ring_r = stone_r + r_small * 1.15
            n = int(2 * np.pi * ring_r / (2.2 * r_small))
            for k in range(n):
                a = 2 * np.pi * k / n
                p = pos + np.array([ring_r * np.cos(a), ring_r * np.sin(a), -0.05 * stone_r])
                d.add(g.brilliant(r_small, 12).transformed(None, p), "diamond", detail=True)
            loop = np.array(
                [
                    [ring_r * np.cos(a), ring_r * np.sin(a), -0.3 * stone_r]
                    for a in np.linspace(0, 2 * np.pi, 48, endpoint=False)
                ]
            )
            d.add(g.tube(loop + pos, r_small * 0.9, 6, closed=True))
        d.facts["centre_stone"] = name


def _chain(d: Design, rng, start: np.ndarray, direction: np.ndarray, length: float, z: float):
    """Cable chain lying on the backdrop from `start` along `direction` (runs off-frame)."""
    link_len = rng.uniform(0.12, 0.22)
    wire = link_len * 0.12
    n = int(length / (link_len * 0.8))
    bend = rng.uniform(-0.25, 0.25)
    dir0 = direction / np.linalg.norm(direction)
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for k in range(n):
        s = k * link_len * 0.8
        heading = g.rotation_axis_angle((0, 0, 1), bend * s / length) @ dir0
        centre = start + heading * s
        loop = np.stack([link_len / 2 * np.cos(t), link_len / 3.2 * np.sin(t), np.zeros_like(t)], 1)
        flat = g.rotation_axis_angle((0, 0, 1), np.arctan2(heading[1], heading[0]))
        if k % 2:  # alternate links stand on edge
            loop = loop @ g.rotation_axis_angle((1, 0, 0), np.pi / 2).T
        pos = np.array([centre[0], centre[1], z + (link_len / 3.2 if k % 2 else wire)])
        d.add(g.tube(loop @ flat.T + pos, wire, 5, closed=True), frame=False)


def _setting(d: Design, rng, stone_r: float, pos, stone: str | None = None) -> str:
    """A stone face up with prongs or a bezel, as used by pendants and earrings."""
    stone = stone or _centre_stone(rng)
    name = _stone_mesh(d, stone, stone_r, np.eye(3), pos, rng)
    if name in GEMS:
        if rng.random() < 0.5:
            _prongs(d, int(_pick(rng, [4, 6])), stone_r, -stone_r * 0.7, stone_r * 0.36, None, pos)
        else:  # bezel: a metal collar around the girdle
            a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
            loop = np.stack([stone_r * 1.04 * np.cos(a), stone_r * 1.04 * np.sin(a), 0 * a], 1)
            d.add(g.tube(loop + pos, stone_r * 0.09, 6, closed=True))
            d.add(
                g.cabochon(stone_r * 1.0, stone_r * 0.7).transformed(
                    g.rotation_axis_angle((1, 0, 0), np.pi), pos - np.array([0, 0, 0.02])
                )
            )
    return name


def design(kind: str, metal: str, rng: np.random.Generator) -> Design:
    """Builds one piece of `kind` (see ALL_KINDS) in `metal` (a key of optics.METALS)."""
    if kind not in ALL_KINDS or metal not in METALS:
        raise ValueError(f"unknown piece {kind!r} or metal {metal!r}")
    d = Design(kind, metal)
    if kind == "stacked":
        styles = [
            _pick(rng, ["plain_band", "pave_band", "milgrain_band", "engraved_band"])
            for _ in range(int(rng.integers(2, 4)))
        ]
        y = 0.0
        for style in styles:
            _ring(d, rng, style, y0=y)
            y += 0.5
        for p in d.parts:
            p.mesh = p.mesh.transformed(None, (0, -y / 2 + 0.25, 0))
        d.facts["bands"] = styles
    elif kind in RING_KINDS:  # (stacked is handled above)
        _ring(d, rng, kind)
    elif kind == "pendant":
        stone_r = rng.uniform(0.3, 0.6)
        pos = np.array([0.0, 0.0, stone_r * 0.7])
        d.facts["centre_stone"] = _setting(d, rng, stone_r, pos)
        bail = np.array([0.0, stone_r * 1.35, 0.06])
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        loop = np.stack([0 * a, 0.12 * np.cos(a), 0.12 * np.sin(a) + 0.12], 1) + bail
        d.add(g.tube(loop, 0.025, 6, closed=True))
        spread = rng.uniform(0.3, 0.9)
        for side in (-1, 1):
            _chain(d, rng, bail + [0, 0.15, 0], np.array([side * spread, 1.0, 0]), 6.0, 0.0)
    elif kind in ("studs", "drops"):
        stone = _centre_stone(rng)
        stone_r = rng.uniform(0.2, 0.4)
        gap = stone_r * rng.uniform(2.6, 4.0)
        drop_r = stone_r * rng.uniform(0.8, 1.4)
        drop = "pearl" if rng.random() < 0.5 else stone
        look_seed = int(rng.integers(1 << 30))  # both earrings of the pair look the same
        for side in (-1, 1):
            pos = np.array([side * gap / 2, 0.0, stone_r * 0.7])
            look = np.random.default_rng(look_seed)
            d.facts["centre_stone"] = _setting(d, look, stone_r, pos, stone)
            if kind == "drops":
                ring_pos = pos + np.array([0, -stone_r * 1.25, -stone_r * 0.5])
                a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
                loop = np.stack([0 * a, 0.08 * np.cos(a), 0.08 * np.sin(a)], 1)
                d.add(g.tube(loop + ring_pos, 0.02, 6, closed=True))
                drop_pos = ring_pos + np.array([0, -drop_r * 1.2, drop_r * 0.5 - 0.08])
                _stone_mesh(d, drop, drop_r, np.eye(3), drop_pos, look)
    elif kind == "bracelet":
        r = rng.uniform(2.6, 3.2)
        if rng.random() < 0.5:  # bangle lying flat
            band = g.revolve(g.band_profile(r, rng.uniform(0.4, 0.9), 0.25, "comfort"), 160, "z")
            lo, _ = band.bounds
            d.add(band.transformed(None, (0, 0, -lo[2])))
        else:  # tennis bracelet: a loop of set stones
            stone_r = rng.uniform(0.12, 0.2)
            n = int(2 * np.pi * r / (2.4 * stone_r))
            for k in range(n):
                a = 2 * np.pi * k / n
                pos = np.array([r * np.cos(a), r * np.sin(a), stone_r * 0.8])
                d.add(g.brilliant(stone_r, 12).transformed(None, pos), "diamond", detail=True)
                cup = g.cabochon(stone_r * 1.15, stone_r * 0.7).transformed(
                    g.rotation_axis_angle((1, 0, 0), np.pi), pos - [0, 0, 0.01]
                )
                d.add(cup)
                link = np.array([pos, pos]) + [[0, 0, -0.3 * stone_r], [0, 0, -0.3 * stone_r]]
                link[1, :2] = r * np.cos(a + np.pi / n), r * np.sin(a + np.pi / n)
                d.add(g.tube(link, stone_r * 0.3, 6))
    elif kind in EXTRA_KINDS:
        _extra(d, rng, kind)
    lowest = min(float(p.mesh.vertices[:, 2].min()) for p in d.parts)
    # Rest the piece on the backdrop instead of sinking into it (the v2 kinds also instead of
    # floating a polygon's sag above it; the v1 kinds stay as their data set was made).
    if lowest < 0 or (kind in EXTRA_KINDS and lowest > 0):
        for p in d.parts:
            p.mesh = p.mesh.transformed(None, (0.0, 0.0, -lowest))
    return d


def _links_along(d: Design, rng, path: np.ndarray, link_len: float, frame: bool = True) -> None:
    """Cable links (alternately flat and on edge) along the polyline `path` (N, 3)."""
    wire = link_len * rng.uniform(0.1, 0.16)
    seg = np.diff(path, axis=0)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(seg, axis=1))])
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for k, at in enumerate(np.arange(0.0, s[-1], link_len * 0.8)):
        i = min(int(np.searchsorted(s, at, side="right")) - 1, len(seg) - 1)
        centre = path[i] + seg[i] * ((at - s[i]) / max(s[i + 1] - s[i], 1e-9))
        heading = seg[i] / max(np.linalg.norm(seg[i]), 1e-9)
        loop = np.stack([link_len / 2 * np.cos(t), link_len / 3.2 * np.sin(t), 0 * t], 1)
        if k % 2:
            loop = loop @ g.rotation_axis_angle((1, 0, 0), np.pi / 2).T
        flat = g.rotation_axis_angle((0, 0, 1), np.arctan2(heading[1], heading[0]))
        lift = link_len / 3.2 if k % 2 else wire
        d.add(g.tube(loop @ flat.T + centre + [0, 0, lift], wire, 5, closed=True), frame=frame)


def _extra(d: Design, rng, kind: str) -> None:
    """The v2-only kinds: hoop earrings, a pearl strand, a chain necklace, a wire-wrapped stone."""
    if kind == "hoops":
        r = rng.uniform(0.7, 1.6)
        wire = r * rng.uniform(0.04, 0.12)
        gap = r * rng.uniform(2.2, 2.8)
        a = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        for side in (-1, 1):
            loop = np.stack([r * np.cos(a) + side * gap / 2, r * np.sin(a), 0 * a + wire], 1)
            d.add(g.tube(loop, wire, 10, closed=True))
        d.facts["hoop_radius"] = float(r)
    elif kind == "pearl_strand":
        pearl_r = rng.uniform(0.18, 0.4)
        name = _pick(rng, ["pearl_white", "pearl_cream", "pearl_black"], [4, 2, 1])
        radius = rng.uniform(2.0, 3.2)
        open_ = rng.uniform(0.3, 1.0)  # the strand lies as an open loop
        n = int((2 * np.pi - open_) * radius / (2.05 * pearl_r))
        for k in range(n):
            a = open_ / 2 + (2 * np.pi - open_) * k / max(n - 1, 1) - np.pi / 2
            wobble = 1 + 0.06 * np.sin(3 * a)
            pos = (radius * wobble * np.cos(a), radius * wobble * np.sin(a), pearl_r)
            d.add(g.sphere(pos, pearl_r * rng.uniform(0.96, 1.04), 8, 14), name)
        gap_pos = np.array([0.0, -radius, pearl_r * 0.6])
        d.add(g.sphere(gap_pos, pearl_r * 0.55, 6, 10))  # the clasp
        d.facts["pearl"] = name
    elif kind == "chain":
        radius = rng.uniform(1.8, 3.0)
        a = np.linspace(-np.pi / 2, 1.5 * np.pi, 160)
        squash = rng.uniform(0.6, 1.0)
        path = np.stack([radius * np.cos(a), squash * radius * np.sin(a), 0 * a], 1)
        _links_along(d, rng, path, rng.uniform(0.15, 0.35))
        d.add(g.sphere((0.0, -squash * radius, 0.09), 0.09, 6, 10))  # the clasp
    elif kind == "wire_wrap":
        stone_r = rng.uniform(0.45, 0.8)
        name = _pick(rng, ["turquoise", "lapis", "coral", "onyx", "pearl_white"])
        height = stone_r * rng.uniform(0.5, 0.8)
        d.add(g.cabochon(stone_r, height), name)
        wire = rng.uniform(0.025, 0.05)
        turns = int(rng.integers(2, 5))
        for k in range(turns):  # wraps crossing over the stone's dome
            tilt = np.pi * (k + 0.5) / turns + rng.uniform(-0.2, 0.2)
            t = np.linspace(0, np.pi, 40)
            arc = np.stack(
                [(stone_r + wire) * np.cos(t), 0 * t, (height + wire) * np.sin(t) + wire], 1
            )
            d.add(g.tube(arc @ g.rotation_axis_angle((0, 0, 1), tilt).T, wire, 6))
        ring = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        base = np.stack([stone_r * np.cos(ring), stone_r * np.sin(ring), 0 * ring + wire], 1)
        d.add(g.tube(base, wire * 1.3, 6, closed=True))
        bail = np.stack(
            [0 * ring, stone_r + 0.15 + 0.12 * np.cos(ring), 0.12 + 0.12 * np.sin(ring)], 1
        )
        d.add(g.tube(bail, wire, 6, closed=True))
        for side in (-1, 1):
            _chain(
                d,
                rng,
                np.array([0.0, stone_r + 0.4, 0.0]),
                np.array([side * 0.5, 1.0, 0]),
                6.0,
                0.0,
            )
        d.facts["centre_stone"] = name
