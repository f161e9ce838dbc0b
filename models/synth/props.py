"""Studio props under and around a piece: the supports a retoucher removes with the backdrop.

Real jewelry photos show felt and foam pads a ring stands in, flat felt squares under a
pendant, blobs of museum wax holding a ring upright and clear acrylic clips. They are not the
piece: the truth matte leaves them out (they become backdrop), and where they hide part of the
piece that part stays hidden (the renderer occludes it; nothing is invented). Props are
`Part`s with role "prop" and a material of `models.synth.optics.PROPS`; `frame=False`, so the
camera frames the piece, not its pad.
"""

from __future__ import annotations

import numpy as np

from models.synth import geometry as g
from models.synth.jewelry import RING_KINDS, Design, Part, _pick

PROP_SHARE = 0.4
"""The share of bank pieces that get a prop."""


def _lift(d: Design, dz: float) -> None:
    for p in d.parts:
        p.mesh = p.mesh.transformed(None, (0.0, 0.0, dz))


def add_prop(d: Design, rng: np.random.Generator) -> str | None:
    """Adds one prop fitting the piece's kind (or none, 1 - PROP_SHARE of the time); returns
    its name ("slot_pad", "flat_pad", "wax", "clip") or None. Mutates `d`."""
    if rng.random() >= PROP_SHARE:
        return None
    lo, hi = d.bounds()
    size = hi - lo
    if d.kind in RING_KINDS:
        kind = _pick(rng, ["slot_pad", "flat_pad", "wax", "clip"], [4, 1, 2, 2])
    else:
        kind = "flat_pad"
    felt = ["felt_black", "felt_grey", "felt_navy", "felt_burgundy", "foam_white", "foam_grey"]
    if kind == "slot_pad":  # the ring stands in a slit of a felt or foam block
        material = _pick(rng, felt + ["card_tan"], [4, 2, 1, 1, 2, 2, 1])
        depth = size[1] * rng.uniform(0.7, 1.6) + 0.3
        half_w = size[0] * rng.uniform(0.6, 1.1)
        height = size[2] * rng.uniform(0.12, 0.35)
        centre = (lo + hi) / 2
        mesh = g.box(
            (centre[0] - half_w, centre[1] - depth / 2, 0.0),
            (centre[0] + half_w, centre[1] + depth / 2, height),
        )
    elif kind == "flat_pad":  # a square of felt under the piece: the piece rests on it
        material = _pick(rng, felt, [5, 2, 1, 1, 1, 1])
        thick = float(rng.uniform(0.05, 0.25))
        _lift(d, thick)
        lo, hi = d.bounds()
        centre = (lo + hi) / 2
        grow = rng.uniform(1.05, 1.6)
        half = np.maximum(size[:2] * grow / 2, 0.6)
        mesh = g.box(
            (centre[0] - half[0], centre[1] - half[1], 0.0),
            (centre[0] + half[0], centre[1] + half[1], thick),
        )
    elif kind == "wax":  # a blob holding the shank at the contact point
        material = _pick(rng, ["wax", "foam_white", "felt_grey"], [4, 1, 1])
        r = max(size[0], size[2]) * rng.uniform(0.07, 0.14)
        centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0])
        mesh = g.sphere((0, 0, 0), 1.0, 8, 14).transformed(
            np.diag([r * 1.6, r * 1.3, r * 0.8]), centre
        )
    else:  # a clear acrylic clip behind the ring, holding it up
        # Behind: the studios' camera is always on the +y side (models.synth.studio), so the
        # clip goes on -y. Seen through a clear clip in front, the ring would be neither prop
        # nor an honest matte; behind it, the clip is seen only around the ring.
        material = "acrylic"
        centre = (lo + hi) / 2
        w = size[0] * rng.uniform(0.25, 0.5)
        thick = rng.uniform(0.1, 0.3)
        mesh = g.box(
            (centre[0] - w / 2, lo[1] - 0.02 - thick, 0.0),
            (centre[0] + w / 2, lo[1] - 0.02, size[2] * rng.uniform(0.3, 0.6)),
        )
    d.parts.append(Part(mesh, material, "prop", False, False))
    d.facts["prop"] = {"kind": kind, "material": material}
    return kind


__all__ = ["PROP_SHARE", "add_prop"]
