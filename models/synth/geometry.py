"""Triangle-mesh builders for procedural jewelry (pure numpy, no renderer inside).

Every builder returns a `Mesh` in centimetres, z up. Meshes are flat-shaded by the renderer
(no vertex normals are written), so facets of cut stones stay crisp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Mesh:
    """vertices: (V, 3) float64; faces: (F, 3) int64 indices into vertices; uv: (V, 2) or None."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None

    def transformed(self, rotation: np.ndarray | None = None, offset=(0.0, 0.0, 0.0), scale=1.0):
        v = self.vertices * scale
        if rotation is not None:
            v = v @ np.asarray(rotation).T
        return Mesh(v + np.asarray(offset, dtype=float), self.faces.copy(), self.uv)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)


def merge(meshes: list[Mesh]) -> Mesh:
    """One mesh holding all `meshes` (uv dropped unless every mesh has one)."""
    verts, faces, uvs, base = [], [], [], 0
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + base)
        uvs.append(m.uv)
        base += len(m.vertices)
    uv = np.concatenate(uvs) if all(u is not None for u in uvs) else None
    return Mesh(np.concatenate(verts), np.concatenate(faces), uv)


def write_ply(mesh: Mesh, path: Path) -> None:
    """Binary little-endian PLY (positions, optional u/v, triangle faces) that Mitsuba loads."""
    v = mesh.vertices.astype("<f4")
    has_uv = mesh.uv is not None
    cols = [v] + ([mesh.uv.astype("<f4")] if has_uv else [])
    vert_block = np.ascontiguousarray(np.concatenate(cols, axis=1))
    faces = mesh.faces.astype("<i4")
    face_block = np.empty(len(faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_block["n"] = 3
    face_block["idx"] = faces
    header = [
        "ply",
        "format binary_little_endian 1.0",
        f"element vertex {len(v)}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if has_uv:
        header += ["property float u", "property float v"]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(vert_block.tobytes())
        f.write(face_block.tobytes())


# --------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------


def rotation_axis_angle(axis, angle: float) -> np.ndarray:
    """3x3 rotation matrix of `angle` radians about `axis` (right-handed)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    x, y, z = a
    c, s, t = np.cos(angle), np.sin(angle), 1 - np.cos(angle)
    return np.array(
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    )


def rotation_z_to(direction) -> np.ndarray:
    """3x3 rotation that maps +z onto the unit vector along `direction`."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    cross = np.cross(z, d)
    sin = np.linalg.norm(cross)
    if sin < 1e-9:
        return np.eye(3) if d[2] > 0 else rotation_axis_angle((1, 0, 0), np.pi)
    return rotation_axis_angle(cross, np.arctan2(sin, float(np.dot(z, d))))


# --------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------


def _grid_faces(rows: int, cols: int, wrap_cols: bool, wrap_rows: bool = False) -> np.ndarray:
    """Two triangles per cell of a rows x cols vertex grid (indices row * cols + col)."""
    r_end = rows if wrap_rows else rows - 1
    c_end = cols if wrap_cols else cols - 1
    i, j = np.meshgrid(np.arange(r_end), np.arange(c_end), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a = i * cols + j
    b = i * cols + (j + 1) % cols
    c = ((i + 1) % rows) * cols + (j + 1) % cols
    d = ((i + 1) % rows) * cols + j
    return np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def revolve(profile: np.ndarray, segments: int, axis: str = "y") -> Mesh:
    """Surface of revolution of a closed 2-D profile about `axis` ("y" or "z").

    profile: (P, 2) array of (radius, height) points, in order around the closed outline.
    """
    p = np.asarray(profile, dtype=float)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rad, h = p[:, 0][:, None], p[:, 1][:, None]
    c, s = np.cos(ang)[None, :], np.sin(ang)[None, :]
    if axis == "y":  # ring standing on the backdrop: the finger axis is horizontal (y)
        verts = np.stack([rad * c, h + 0 * c, rad * s], -1)
    else:
        verts = np.stack([rad * c, rad * s, h + 0 * c], -1)
    faces = _grid_faces(len(p), segments, wrap_cols=True, wrap_rows=True)
    return Mesh(verts.reshape(-1, 3), faces)


def band_profile(radius: float, width: float, thickness: float, shape: str, n: int = 16):
    """Closed cross-section of a ring band: (radius, axial) points.

    shape: "comfort" (domed outside, domed inside), "flat" (flat outside, rounded edges) or
    "knife" (outside rises to a ridge).
    """
    t = np.linspace(0, 2 * np.pi, 4 * n, endpoint=False)
    x, y = np.cos(t), np.sin(t)  # x: radial, y: axial
    if shape == "flat":
        x = np.sign(x) * np.abs(x) ** 0.25
        y = np.sign(y) * np.abs(y) ** 0.25
    elif shape == "knife":
        x = np.where(x > 0, x * (1 - 0.6 * np.abs(y)) + 0.2 * x, x)
    else:  # comfort
        y = np.sign(y) * np.abs(y) ** 0.5
    return np.stack([radius + thickness / 2 + x * thickness / 2, y * width / 2], 1)


def tube(path: np.ndarray, radius: float, sides: int = 8, closed: bool = False) -> Mesh:
    """Circular tube of `radius` along a polyline `path` (N, 3); open ends are left uncapped."""
    pts = np.asarray(path, dtype=float)
    n = len(pts)
    tang = np.gradient(pts, axis=0) if not closed else np.roll(pts, -1, 0) - np.roll(pts, 1, 0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True) + 1e-12
    ref = np.array([0.0, 0.0, 1.0]) if abs(tang[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normals, binormals = [], []
    nrm = np.cross(tang[0], ref)
    nrm /= np.linalg.norm(nrm)
    for k in range(n):  # parallel transport keeps the tube from twisting
        nrm = nrm - tang[k] * np.dot(nrm, tang[k])
        nrm /= np.linalg.norm(nrm) + 1e-12
        normals.append(nrm)
        binormals.append(np.cross(tang[k], nrm))
    normals, binormals = np.array(normals), np.array(binormals)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = (
        np.cos(ang)[None, :, None] * normals[:, None]
        + np.sin(ang)[None, :, None] * binormals[:, None]
    )
    verts = pts[:, None, :] + radius * ring
    faces = _grid_faces(n, sides, wrap_cols=True, wrap_rows=closed)
    return Mesh(verts.reshape(-1, 3), faces)


def sphere(center, radius: float, rings: int = 8, segments: int = 12) -> Mesh:
    """UV sphere (also used for milgrain beads, prong tips and pearls)."""
    th = np.linspace(0, np.pi, rings + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(th, ph, indexing="ij")
    body = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 1]], body, [[0, 0, -1]]])
    faces = [_grid_faces(rings - 1, segments, wrap_cols=True) + 1]
    top = np.arange(segments)
    faces.append(np.stack([np.zeros(segments, int), top + 1, (top + 1) % segments + 1], 1))
    last = len(verts) - 1
    base = (rings - 2) * segments + 1
    faces.append(np.stack([np.full(segments, last), (top + 1) % segments + base, top + base], 1))
    return Mesh(verts * radius + np.asarray(center, dtype=float), np.concatenate(faces))


def brilliant(radius: float, facets: int = 16, elongation: float = 1.0) -> Mesh:
    """Round brilliant-style cut, table up (+z), girdle at z = 0, culet at the bottom.

    Proportions follow a Tolkowsky-like cut: table 55% of the diameter, crown 16%, pavilion
    43% of the diameter deep. `elongation` > 1 stretches it along x (oval / pear-ish drops).
    """
    ang = np.linspace(0, 2 * np.pi, facets, endpoint=False)
    half = np.pi / facets
    ring = lambda r, z, off: np.stack(  # noqa: E731
        [r * np.cos(ang + off) * elongation, r * np.sin(ang + off), np.full(facets, z)], 1
    )
    d = 2 * radius
    table = ring(0.55 * radius, 0.16 * d, half)
    girdle_top = ring(radius, 0.012 * d, 0.0)
    girdle_bot = ring(radius, -0.012 * d, 0.0)
    verts = np.concatenate([table, girdle_top, girdle_bot, [[0, 0, 0.16 * d]], [[0, 0, -0.43 * d]]])
    t0, g0, b0, ctab, cul = 0, facets, 2 * facets, 3 * facets, 3 * facets + 1
    k = np.arange(facets)
    k1 = (k + 1) % facets
    faces = [
        np.stack([np.full(facets, ctab), t0 + k, t0 + k1], 1),  # table
        np.stack([t0 + k, g0 + k1, t0 + k1], 1),  # crown kites (two triangles per sector)
        np.stack([t0 + k, g0 + k, g0 + k1], 1),
        np.stack([g0 + k, b0 + k, b0 + k1], 1),  # girdle band
        np.stack([g0 + k, b0 + k1, g0 + k1], 1),
        np.stack([b0 + k, np.full(facets, cul), b0 + k1], 1),  # pavilion mains
    ]
    return Mesh(verts, np.concatenate(faces))


def cabochon(radius: float, height: float, segments: int = 16, rings: int = 6) -> Mesh:
    """Domed cabochon (half ellipsoid) with a flat base at z = 0."""
    th = np.linspace(0, np.pi / 2, rings + 1)[1:]
    ph = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(th, ph, indexing="ij")
    body = np.stack(
        [radius * np.sin(t) * np.cos(p), radius * np.sin(t) * np.sin(p), height * np.cos(t)], -1
    ).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, height]], body, [[0, 0, 0]]])
    faces = [_grid_faces(rings, segments, wrap_cols=True) + 1]
    top = np.arange(segments)
    faces.append(np.stack([np.zeros(segments, int), top + 1, (top + 1) % segments + 1], 1))
    base = (rings - 1) * segments + 1
    last = len(verts) - 1
    faces.append(np.stack([np.full(segments, last), (top + 1) % segments + base, top + base], 1))
    return Mesh(verts, np.concatenate(faces))


def box(lo, hi) -> Mesh:
    """Axis-aligned box from corner `lo` to corner `hi` (12 outward-facing triangles)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], float)
    verts = lo + corners * (hi - lo)
    faces = np.array(
        [
            [0, 2, 1],
            [1, 2, 3],
            [4, 5, 6],
            [5, 7, 6],  # bottom, top
            [0, 1, 4],
            [1, 5, 4],
            [2, 6, 3],
            [3, 6, 7],  # front (y lo), back (y hi)
            [0, 4, 2],
            [2, 4, 6],
            [1, 3, 5],
            [3, 7, 5],  # left (x lo), right (x hi)
        ],
        dtype=np.int64,
    )
    return Mesh(verts, faces)


def sweep(width: float, depth: float, height: float, bend: float, n: int = 24) -> Mesh:
    """Photographic backdrop sweep: a floor curving up into a back wall, with uv (0..1).

    The floor spans x in [-width/2, width/2], y from +depth/2 (front) back to the bend; the wall
    rises at the back to `height`. uv.v runs from the front edge (0) to the top of the wall (1).
    """
    y_back = -depth / 2
    arc = np.linspace(0, np.pi / 2, n)
    front = np.array([[depth / 2, 0.0], [y_back + bend, 0.0]])
    curve = np.stack([y_back + bend - bend * np.sin(arc), bend - bend * np.cos(arc)], 1)[1:]
    top = np.array([[y_back, height]])
    prof = np.concatenate([front, curve, top])  # (y, z) along the sweep
    seg = np.linalg.norm(np.diff(prof, axis=0), axis=1)
    v = np.concatenate([[0.0], np.cumsum(seg)])
    v /= v[-1]
    xs = np.linspace(-width / 2, width / 2, 2)
    X, P = np.meshgrid(xs, np.arange(len(prof)), indexing="ij")
    verts = np.stack([X, prof[P, 0], prof[P, 1]], -1).reshape(-1, 3)
    uv = np.stack([(X + width / 2) / width, v[P]], -1).reshape(-1, 2)
    faces = _grid_faces(2, len(prof), wrap_cols=False)
    # orient faces towards +z / +y (the camera side)
    faces = faces[:, ::-1]
    return Mesh(verts, faces, uv)


def orient_outward(mesh: Mesh) -> Mesh:
    """Flip faces of a convex closed mesh so their normals point away from its centroid.

    Dielectrics need this: the side a ray hits decides whether it enters or leaves the stone.
    """
    v, f = mesh.vertices, mesh.faces.copy()
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    normal = np.cross(b - a, c - a)
    outward = ((a + b + c) / 3 - v.mean(axis=0)) * normal
    flip = outward.sum(axis=1) < 0
    f[flip] = f[flip][:, ::-1]
    return Mesh(v, f, mesh.uv)
