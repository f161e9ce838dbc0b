"""Props (models/synth/props.py) and the v2-only piece kinds: built from the design seed, in
the right place, never part of the piece. Meshes only: no Mitsuba."""

from __future__ import annotations

import numpy as np
import pytest

from models.synth import geometry as g
from models.synth.jewelry import ALL_KINDS, EXTRA_KINDS, PIECE_KINDS, RING_KINDS, design
from models.synth.optics import PROPS
from models.synth.props import add_prop


def test_box_faces_point_outward():
    box = g.box((0, 0, 0), (1, 2, 3))
    v = box.vertices
    centre = v.mean(axis=0)
    for face in box.faces:
        a, b, c = v[face]
        assert np.cross(b - a, c - a) @ ((a + b + c) / 3 - centre) > 0
    assert np.allclose(box.bounds[0], 0) and np.allclose(box.bounds[1], (1, 2, 3))


def test_v1_kinds_are_unchanged_and_the_extra_kinds_build():
    # The v1 data set's seeds map onto PIECE_KINDS: it must not grow.
    assert len(PIECE_KINDS) == 11 and set(EXTRA_KINDS).isdisjoint(PIECE_KINDS)
    for kind in EXTRA_KINDS:
        d = design(kind, "silver", np.random.default_rng(1))
        assert d.parts and all(p.role in ("metal", "gem") for p in d.parts)
        lowest = min(float(p.mesh.vertices[:, 2].min()) for p in d.parts)
        assert lowest == pytest.approx(0.0, abs=1e-9)  # resting on the backdrop
    strand = design("pearl_strand", "silver", np.random.default_rng(2))
    assert sum(p.role == "gem" for p in strand.parts) >= 10  # the pearls
    assert set(ALL_KINDS) == set(PIECE_KINDS) | set(EXTRA_KINDS)


def _with_prop(kind: str, want: str, tries: int = 200):
    for seed in range(tries):
        d = design(kind, "yellow_gold", np.random.default_rng(seed))
        before = [p.mesh.vertices.copy() for p in d.parts]
        if add_prop(d, np.random.default_rng([seed, 13])) == want:
            return d, before
    raise AssertionError(f"no {want} in {tries} seeds")


@pytest.mark.parametrize("want", ["slot_pad", "flat_pad", "wax", "clip"])
def test_a_ring_gets_each_kind_of_prop_as_a_non_piece_part(want):
    d, before = _with_prop("solitaire", want)
    props = [p for p in d.parts if p.role == "prop"]
    assert len(props) == 1 and props[0].material in PROPS and not props[0].frame
    assert d.facts["prop"]["kind"] == want
    pieces = [p for p in d.parts if p.role != "prop"]
    lo = min(float(p.mesh.vertices[:, 2].min()) for p in pieces)
    if want == "flat_pad":  # the piece rests on the pad, the pad on the backdrop
        pad_top = float(props[0].mesh.vertices[:, 2].max())
        assert lo == pytest.approx(pad_top, abs=1e-9)
        assert float(props[0].mesh.vertices[:, 2].min()) == 0.0
    else:  # the ring still stands on the backdrop; the prop does not move it
        assert all(np.array_equal(p.mesh.vertices, b) for p, b in zip(pieces, before, strict=True))
    # Framing follows the piece, not its pad.
    assert np.allclose(d.bounds()[0], np.min([p.mesh.bounds[0] for p in pieces], axis=0))


def test_props_are_seeded_and_only_some_pieces_get_one():
    names = []
    for seed in range(60):
        d = design("plain_band", "silver", np.random.default_rng(seed))
        names.append(add_prop(d, np.random.default_rng([seed, 13])))
    again = []
    for seed in range(60):
        d = design("plain_band", "silver", np.random.default_rng(seed))
        again.append(add_prop(d, np.random.default_rng([seed, 13])))
    assert names == again
    share = np.mean([n is not None for n in names])
    assert 0.2 < share < 0.6
    # Pieces that are not rings only get a flat pad.
    for seed in range(40):
        d = design("pendant", "silver", np.random.default_rng(seed))
        assert add_prop(d, np.random.default_rng([seed, 13])) in (None, "flat_pad")
    assert set(RING_KINDS) == {
        "solitaire", "halo", "pave_band", "plain_band", "engraved_band", "milgrain_band", "stacked"
    }
