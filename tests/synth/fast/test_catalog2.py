"""The second catalog (models.synth.catalog2, stones, backdrops2): new kinds, textured stones,
hands and boxes, drawn only by its own seed range so the first catalog's data stays as made."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from models.synth import backdrops2, catalog2, composite, pieces, stones
from models.synth.jewelry import ALL_KINDS
from models.synth.optics import METALS, OPAQUE

C2 = catalog2.CATALOG2_SEED_BASE


def test_seed_ranges_name_their_catalog():
    assert catalog2.catalog_of(0) == 1
    assert catalog2.catalog_of(1_000_000 + 199) == 1  # the first catalog's held-out samples
    assert catalog2.catalog_of(C2) == 2
    assert catalog2.catalog_of(C2 + catalog2.HELDOUT_OFFSET + 5) == 2


def test_first_catalog_seeds_draw_the_first_catalogs_kinds_as_before():
    # The first catalog's kind is the first draw of its seed's design generator over
    # ALL_KINDS; the second catalog must not have changed that.
    for seed in list(range(40)) + list(range(1_000_000, 1_000_020)):
        expected = ALL_KINDS[int(np.random.default_rng([seed, 11]).integers(len(ALL_KINDS)))]
        piece, _, _ = pieces.piece_setup(seed)
        assert piece.kind == expected
        assert all(p.texture is None for p in piece.parts)


def test_second_catalog_draws_every_new_kind_and_rests_them_on_the_floor():
    kinds = Counter()
    for seed in range(C2, C2 + 120):
        piece, _, roughness = pieces.piece_setup(seed)
        kinds[piece.kind] += 1
        own = [p for p in piece.parts if p.role != "prop"]  # (wax may sink into the floor)
        lowest = min(float(p.mesh.vertices[:, 2].min()) for p in own)
        assert lowest > -1e-6, piece.kind
        if piece.kind in catalog2.NEW_KINDS and "prop" not in piece.facts:
            assert abs(lowest) < 1e-6, piece.kind
        assert roughness >= 0
    assert set(catalog2.NEW_KINDS) <= set(kinds)
    assert sum(kinds[k] for k in catalog2.NEW_KINDS) > 0.4 * 120  # weighted towards them


@pytest.mark.parametrize("kind", catalog2.NEW_KINDS)
def test_new_kinds_build_metal_and_stones(kind):
    for seed in range(4):
        d = catalog2.design2(kind, "yellow_gold", np.random.default_rng(seed))
        assert d.kind == kind and d.parts
        roles = {p.role for p in d.parts}
        assert "metal" in roles and roles <= {"metal", "gem"}
        for p in d.parts:
            assert np.isfinite(p.mesh.vertices).all()
            assert p.mesh.faces.max() < len(p.mesh.vertices)
            if p.texture is not None:  # a textured stone: uv inside its map, a known stone
                assert p.material in stones.TEXTURED_STONES and p.material in OPAQUE
                assert p.mesh.uv is not None and p.mesh.uv.shape == (len(p.mesh.vertices), 2)
                assert 0 <= p.mesh.uv.min() and p.mesh.uv.max() <= 1
    with pytest.raises(ValueError):
        catalog2.design2(kind, "brass", np.random.default_rng(0))


def test_cabochon_kinds_carry_textured_stones_pale_ones_included():
    names = Counter()
    for seed in range(40):
        for kind in ("cabochon_ring", "cabochon_pendant"):
            d = catalog2.design2(kind, "silver", np.random.default_rng(seed))
            textured = [p for p in d.parts if p.texture is not None]
            assert len(textured) == 1
            names[textured[0].material] += 1
    assert sum(names[s] for s in stones.PALE_STONES) > 0.3 * sum(names.values())
    assert len(names) >= 6


def test_chain_styles_all_drawn():
    styles = {
        catalog2.design2("fancy_chain", "silver", np.random.default_rng(s)).facts["chain_style"]
        for s in range(30)
    }
    assert styles == set(catalog2.CHAIN_STYLES)


@pytest.mark.parametrize("name", sorted(stones.TEXTURED_STONES))
def test_stone_textures_are_textured_albedos_near_their_mean(name):
    tex = stones.stone_texture(name, np.random.default_rng(3))
    assert tex.shape == (stones.TEXTURE_SIZE, stones.TEXTURE_SIZE, 3)
    assert tex.dtype == np.float32 and tex.flags["C_CONTIGUOUS"]
    assert 0.02 <= tex.min() and tex.max() <= 0.92
    assert tex.std(axis=(0, 1)).max() > 0.01  # not a flat colour
    mean = np.array(stones.TEXTURED_STONES[name])
    assert np.abs(tex.mean(axis=(0, 1)) - mean).max() < 0.2
    again = stones.stone_texture(name, np.random.default_rng(3))
    assert np.array_equal(tex, again)
    assert not np.array_equal(tex, stones.stone_texture(name, np.random.default_rng(4)))


def test_pale_stones_are_nearly_as_light_as_white_card_and_veins_are_dark():
    for name in stones.PALE_STONES:
        # linear 0.5 is sRGB 0.73: paler than most backdrops but white card
        assert np.mean(stones.stone_texture(name, np.random.default_rng(0))) > 0.5, name
    veined = stones.stone_texture("turquoise_matrix", np.random.default_rng(0))
    lum = veined.mean(-1)
    assert (lum < 0.15).mean() > 0.02  # matrix lines
    assert np.median(lum) > 0.3
    with pytest.raises(ValueError):
        stones.stone_texture("granite", np.random.default_rng(0))


def _floor(n: int = 96, extent: float = 4.0) -> np.ndarray:
    axis = np.linspace(-extent, extent, n, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis), -1)


def test_hand_lies_under_the_piece_and_its_surround_shows_elsewhere():
    xy = _floor()
    surround = np.full(xy.shape[:2] + (3,), 0.8, np.float32)
    for seed in range(6):
        inside = backdrops2.hand_inside(xy, np.random.default_rng(seed))
        centre = inside[40:56, 40:56]
        assert (centre > 0).mean() > 0.5  # the palm is under the piece
        assert (inside < 0).mean() > 0.1  # and the hand does not fill the floor
        albedo = backdrops2.hand_albedo(xy, np.random.default_rng(seed), surround)
        assert np.allclose(albedo[inside < -0.1], 0.8)
        skin = albedo[inside > 0.2]
        assert (skin[:, 0] > skin[:, 2]).mean() > 0.95  # warm skin, red over blue
        assert np.abs(skin - 0.8).mean() > 0.05


def test_box_shows_cushion_walls_and_table():
    xy = _floor(128, 6.0)
    table = np.full(xy.shape[:2] + (3,), 0.5, np.float32)
    seen_table = 0
    for seed in range(6):
        albedo = backdrops2.box_albedo(xy, np.random.default_rng(seed), table)
        assert albedo.shape == table.shape and np.isfinite(albedo).all()
        assert not np.allclose(albedo[60:68, 60:68], 0.5)  # the cushion under the piece
        seen_table += np.isclose(albedo[0, 0], 0.5).all()
    assert seen_table >= 3  # at the frame's corner the table shows (the box is smaller)


def test_backdrop_tables_keep_the_first_catalog_and_add_hand_and_box():
    assert set(composite.BACKDROPS2) == set(composite.BACKDROPS) | {"hand", "box"}
    for k, share in composite.BACKDROPS.items():
        assert composite.BACKDROPS2[k] == share
    first = {composite.pick_backdrop(np.random.default_rng(s)) for s in range(400)}
    second = {
        composite.pick_backdrop(np.random.default_rng(s), composite.BACKDROPS2) for s in range(400)
    }
    assert "hand" not in first and "box" not in first
    assert {"hand", "box"} <= second
    xy = _floor(48)
    for kind in ("hand", "box"):
        bd = composite.make_backdrop(kind, xy, np.random.default_rng(1))
        assert bd.kind == kind and bd.albedo.shape == (48, 48, 3)
        assert 0 < bd.shadow_strength <= 1 and np.isfinite(bd.albedo).all()
    with pytest.raises(ValueError, match="hand"):
        backdrops2.make("glove", xy, np.random.default_rng(0), lambda *a: None)


def test_composite_cli_refuses_seeds_outside_the_catalog(tmp_path, capsys):
    rc = composite.main(["--count", "3", "--out", str(tmp_path), "--catalog", "2", "--start", "7"])
    assert rc == 2 and "catalog 2" in capsys.readouterr().err
    rc = composite.main(["--count", "3", "--out", str(tmp_path), "--start", str(C2)])
    assert rc == 2


def test_metals_unchanged():
    assert set(METALS) >= {"yellow_gold", "rose_gold", "white_gold", "silver", "platinum"}


def _piece_layers(size: int = 48) -> dict:
    """Bank-file layers of a plain metal disc (the structure `make_composite` reads)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    alpha = np.clip(size * 0.2 - np.hypot(xx - size / 2, yy - size / 2), 0, 1)
    zeros = np.zeros_like(alpha)
    colour = np.repeat(alpha[:, :, None] * 0.6, 3, 2)
    floor_xy = np.stack([(xx - size / 2) / 8, (yy - size / 2) / 8], -1).astype(np.float32)
    return {
        "lights": colour,
        "sweep": colour * 0.3,
        "alpha": alpha,
        "metal": alpha,
        "gem": zeros,
        "detail": zeros,
        "shadow": zeros,
        "light_field": np.ones_like(alpha),
        "floor_xy": floor_xy,
        "mirror": np.zeros_like(colour),
        "mirror_alpha": zeros,
        "meta": {"seed": 0, "metal_kind": "silver"},
    }


def test_only_second_catalog_samples_lie_in_hands_and_boxes():
    import json

    layers = _piece_layers()
    seen = {1: Counter(), 2: Counter()}
    for k in range(80):
        for seed in (k, C2 + k):
            meta = json.loads(str(composite.make_composite(seed, layers, size=48)["meta"]))
            seen[catalog2.catalog_of(seed)][meta["backdrop"]] += 1
    assert not {"hand", "box"} & set(seen[1])
    assert seen[2]["hand"] + seen[2]["box"] >= 4
