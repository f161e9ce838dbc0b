"""The compositor's ground truth is exact: the formula on constructed layers, shadows only on
the backdrop, resampling that keeps truth and photo consistent, every backdrop kind, the CC0
assets on disk, and whole samples (no Mitsuba: the piece layers are constructed here)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from models.synth import composite as C

LUM = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _layers(size: int = 48, seed: int = 0) -> dict:
    """Piece layers with the structure of a bank file: a soft-edged disc of metal with a gem
    inside, a shadow to its lower right, a reflection below, a light fall-off."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(xx - size * 0.45, yy - size * 0.4)
    alpha = np.clip(size * 0.25 - r, 0, 1)  # 1 inside, a one-pixel soft rim, 0 outside
    gem = np.clip(size * 0.1 - r, 0, 1)
    metal = alpha - gem
    lights = rng.uniform(0, 1.5, (size, size, 3)).astype(np.float32) * alpha[:, :, None]
    sweep = rng.uniform(0, 0.6, (size, size, 3)).astype(np.float32) * alpha[:, :, None]
    rs = np.hypot(xx - size * 0.6, yy - size * 0.55)
    shadow = np.clip(0.7 - rs / (size * 0.4), 0, 1).astype(np.float32)
    shadow[shadow < 0.04] = 0
    m_alpha = np.clip(size * 0.2 - np.hypot(xx - size * 0.45, yy - size * 0.8), 0, 1)
    mirror = rng.uniform(0, 1, (size, size, 3)).astype(np.float32) * m_alpha[:, :, None]
    field = (0.8 + 0.4 * yy / size).astype(np.float32)
    floor_xy = np.stack([(xx - size / 2) / 10, (yy - size / 2) / 10], -1).astype(np.float32)
    return {
        "lights": lights,
        "sweep": sweep,
        "alpha": alpha.astype(np.float32),
        "metal": metal.astype(np.float32),
        "gem": gem.astype(np.float32),
        "detail": np.zeros_like(alpha, dtype=np.float32),
        "shadow": shadow,
        "light_field": field,
        "floor_xy": floor_xy,
        "mirror": mirror,
        "mirror_alpha": m_alpha.astype(np.float32),
        "meta": {"seed": seed, "metal_kind": "rose_gold"},
    }


def _c(albedo, layers):
    """The backdrop's mean radiance: what the metal mirrors."""
    return (albedo * layers["light_field"][:, :, None]).reshape(-1, 3).mean(0)


def test_compose_is_the_over_formula_with_the_backdrop_the_metal_mirrors():
    layers = _layers()
    h, w = layers["alpha"].shape
    albedo = np.empty((h, w, 3), np.float32)
    albedo[:] = [0.7, 0.5, 0.3]
    bd = C.Backdrop("test", albedo, shadow_strength=0.8)
    out = C.compose(layers, bd)
    a = layers["alpha"][:, :, None]
    c = _c(albedo, layers)
    behind = albedo * layers["light_field"][:, :, None] * (1 - 0.8 * layers["shadow"])[:, :, None]
    expected = layers["lights"] + c * layers["sweep"] + (1 - a) * behind
    np.testing.assert_allclose(out["image"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["alpha"], layers["alpha"])
    np.testing.assert_allclose(
        out["shadow"], 0.8 * layers["shadow"] * (1 - layers["alpha"]), atol=1e-6
    )
    assert out["alpha"].min() >= 0 and out["alpha"].max() <= 1
    # The metal mirrors the backdrop: a darker backdrop makes the same piece darker.
    dark = C.compose(layers, C.Backdrop("dark", albedo * 0.05))
    inside = layers["alpha"] == 1
    assert (dark["image"][inside] < out["image"][inside]).all()


def test_shadow_is_only_on_the_visible_backdrop_and_exact_under_defocus():
    layers = _layers()
    grey = np.full((*layers["alpha"].shape, 3), 0.6, np.float32)
    for blur in (0.0, 3.0):
        out = C.compose(layers, C.Backdrop("grey", grey, blur=blur))
        assert (out["shadow"][layers["alpha"] == 1] == 0).all()
        assert out["shadow"].min() >= 0 and out["shadow"].max() <= 1
        # The backdrop behind the piece is exactly the lit backdrop darkened by the truth.
        lit = grey * layers["light_field"][:, :, None]
        if blur:
            lit = C.disc_blur(lit, blur)
        behind = out["image"] - (layers["lights"] + _c(grey, layers) * layers["sweep"])
        keep = layers["alpha"] < 1
        one_minus_a = (1 - layers["alpha"])[keep][:, None]
        recovered = behind[keep] / one_minus_a
        predicted = lit[keep] * (1 - out["shadow"][keep] / one_minus_a[:, 0])[:, None]
        np.testing.assert_allclose(recovered, predicted, rtol=1e-4, atol=1e-5)
    # Where the piece casts no shadow and there is no defocus, there is no shadow truth.
    plain = C.compose({**layers, "shadow": np.zeros_like(layers["shadow"])}, C.Backdrop("g", grey))
    assert (plain["shadow"] == 0).all()


def test_mirror_reflection_and_its_truth():
    layers = _layers()
    albedo = np.full((*layers["alpha"].shape, 3), 0.01, np.float32)
    sky = np.full_like(albedo, 0.2)
    bd = C.Backdrop("black_acrylic", albedo, shadow_strength=0.3, mirror=0.4, sky=sky)
    out = C.compose(layers, bd)
    a = layers["alpha"][:, :, None]
    am = layers["mirror_alpha"][:, :, None]
    diffuse = albedo * layers["light_field"][:, :, None] * (1 - 0.3 * layers["shadow"])[:, :, None]
    behind = diffuse + 0.4 * (layers["mirror"] + (1 - am) * sky)
    expected = layers["lights"] + _c(albedo, layers) * layers["sweep"] + (1 - a) * behind
    np.testing.assert_allclose(out["image"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["reflection"], 0.4 * am[:, :, 0] * (1 - a[:, :, 0]), atol=1e-6)
    assert (out["reflection"][layers["alpha"] == 1] == 0).all()


def test_piece_defocus_blurs_the_matte_with_the_piece():
    layers = _layers()
    grey = np.full((*layers["alpha"].shape, 3), 0.5, np.float32)
    out = C.compose(layers, C.Backdrop("grey", grey, shadow_strength=0.0), piece_blur=1.5)
    alpha = C.disc_blur(layers["alpha"], 1.5)
    np.testing.assert_allclose(out["alpha"], alpha, atol=1e-6)
    fg = C.disc_blur(layers["lights"] + _c(grey, layers) * layers["sweep"], 1.5)
    lit = grey * layers["light_field"][:, :, None]
    np.testing.assert_allclose(
        out["image"], fg + (1 - alpha)[:, :, None] * lit, rtol=1e-5, atol=1e-6
    )
    soft = (out["alpha"] > 0.01) & (out["alpha"] < 0.99)
    assert soft.sum() > ((layers["alpha"] > 0.01) & (layers["alpha"] < 0.99)).sum()


def test_crop_resize_keeps_photo_and_truth_consistent():
    """Resampling the layers then compositing equals compositing then resampling (one linear
    filter for colour and alpha; constant backdrop, so the composite is linear in the layers)."""
    layers = _layers(64)
    grey = np.full((64, 64, 3), 0.4, np.float32)
    flat = {
        **layers,
        "light_field": np.ones_like(layers["light_field"]),
        "shadow": np.zeros_like(layers["shadow"]),
    }
    whole = C.compose(flat, C.Backdrop("g", grey, 0.0))
    crop = {
        k: C.crop_resize(v, 5.3, 7.1, 50.0, 40)
        for k, v in flat.items()
        if isinstance(v, np.ndarray)
    }
    small = C.compose(crop, C.Backdrop("g", np.full((40, 40, 3), 0.4, np.float32), 0.0))
    c = grey[0, 0] * 1.0  # reflect colour of a uniform backdrop
    expected = (
        C.crop_resize(layers["lights"] + c * layers["sweep"], 5.3, 7.1, 50.0, 40)
        + (1 - C.crop_resize(layers["alpha"], 5.3, 7.1, 50.0, 40))[:, :, None] * 0.4
    )
    np.testing.assert_allclose(small["image"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        small["image"], C.crop_resize(whole["image"], 5.3, 7.1, 50.0, 40), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("kind", sorted(C.BACKDROPS))
def test_every_backdrop_kind_is_a_valid_albedo(kind):
    layers = _layers(40)
    bd = C.make_backdrop(kind, layers["floor_xy"], np.random.default_rng(3))
    assert bd.albedo.shape == (40, 40, 3) and bd.albedo.dtype == np.float32
    assert np.isfinite(bd.albedo).all() and bd.albedo.min() >= 0 and bd.albedo.max() <= 1
    assert 0 <= bd.shadow_strength <= 1 and 0 <= bd.mirror < 1
    assert (bd.mirror > 0) == (kind == "black_acrylic")
    if kind in ("black_velvet", "navy_velvet", "black_acrylic"):
        assert bd.albedo.mean() < 0.08
    if kind in ("white_sweep", "white_card", "light_tent"):
        assert bd.albedo.mean() > 0.7
    if kind == "navy_velvet":
        assert bd.albedo[..., 2].mean() > 2 * bd.albedo[..., 0].mean()


def test_unknown_backdrop_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backdrop"):
        C.make_backdrop("moon_dust", _layers(16)["floor_xy"], np.random.default_rng(0))


def test_assets_are_listed_with_their_cc0_evidence():
    listed = {}
    with open(C.ASSETS / "ASSETS.csv", newline="") as f:
        for row in csv.DictReader(f):
            listed[row["file"]] = row
    used = {f"textures/{n}" for names in C.TEXTURES.values() for n in names}
    on_disk = {f"textures/{p.name}" for p in (C.ASSETS / "textures").iterdir()}
    assert used <= on_disk and on_disk <= set(listed)
    for name in on_disk:
        assert listed[name]["licence"] == "CC0-1.0" and listed[name]["licence_evidence"]
        assert int(listed[name]["size_bytes"]) == (C.ASSETS / name).stat().st_size
    assert sum((C.ASSETS / n).stat().st_size for n in on_disk) < 3_000_000


def test_a_whole_sample_has_exact_truth_and_is_a_function_of_its_seed():
    piece = _layers(80, seed=5)
    a = C.make_composite(11, piece, size=64)
    b = C.make_composite(11, piece, size=64)
    other = C.make_composite(12, piece, size=64)
    for k in ("shot", "clean", "piece", "alpha", "metal", "gem", "shadow", "defects", "reflection"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not np.array_equal(a["shot"], other["shot"])
    assert a["shot"].dtype == np.uint8 and a["shot"].shape == (64, 64, 3)
    assert a["alpha"].dtype == np.uint16
    # The 8-bit matte is the 16-bit one rounded.
    assert np.abs(a["piece"].astype(int) - np.round(a["alpha"] / 257).astype(int)).max() <= 1
    alpha = a["alpha"] / 65535
    assert (a["shadow"][alpha > 0.999] == 0).all() and (a["reflection"][alpha > 0.999] == 0).all()
    meta = json.loads(str(a["meta"]))
    assert meta["metal_kind"] == "rose_gold" and meta["backdrop"] in C.BACKDROPS
    # The clean plate is the composite: the piece's coverage matches its rendered disc.
    assert 0.05 < alpha.mean() < 0.6


def test_camera_marks_its_defects_and_leaves_the_input_alone():
    layers = _layers(64)
    img = np.full((64, 64, 3), 0.5, np.float32)
    before = img.copy()
    shot, defects, facts = C.camera(img, layers["metal"], np.random.default_rng(2))
    np.testing.assert_array_equal(img, before)
    assert shot.dtype == np.uint8 and shot.shape == (64, 64, 3)
    assert defects.min() >= 0 and defects.max() <= 1
    assert {"exposure", "jpeg_quality", "sharpen", "dust"} <= set(facts)


def test_generate_composites_writes_resumably(tmp_path: Path):
    from models.synth import pieces

    bank = tmp_path / "bank"
    bank.mkdir()
    layers = _layers(72, seed=1)
    meta = layers.pop("meta")
    np.savez_compressed(
        pieces.bank_path(bank, 1),
        meta=np.array(json.dumps(meta)),
        **{k: v.astype(np.float16) for k, v in layers.items()},
    )
    out = tmp_path / "train"
    paths = C.generate_composites(out, range(3), [pieces.bank_path(bank, 1)], size=64)
    assert [p.name for p in paths] == ["0000000.npz", "0000001.npz", "0000002.npz"]
    stamp = paths[0].stat().st_mtime_ns
    again = C.generate_composites(out, range(4), [pieces.bank_path(bank, 1)], size=64)
    assert len(again) == 4 and paths[0].stat().st_mtime_ns == stamp  # not rewritten
    with np.load(again[3]) as s:
        assert {"shot", "clean", "piece", "alpha", "metal", "gem", "shadow", "defects"} <= set(
            s.files
        )


def test_a_prop_is_photographed_but_is_not_the_piece():
    """A felt pad under the piece: it covers the backdrop in the photo (the colour layers are
    premultiplied by piece + prop coverage) but the truth matte leaves it out, and the shadow
    and reflection truth are zero under it."""
    layers = _layers()
    h, w = layers["alpha"].shape
    prop = np.zeros((h, w), np.float32)
    prop[30:40, 5:43] = 1.0 - layers["alpha"][30:40, 5:43]  # the pad, behind the piece
    pad_colour = np.array([0.02, 0.02, 0.025], np.float32)
    layers = {**layers, "prop": prop}
    layers["lights"] = layers["lights"] + prop[:, :, None] * pad_colour
    albedo = np.full((h, w, 3), 0.8, np.float32)
    out = C.compose(layers, C.Backdrop("white", albedo, shadow_strength=1.0))
    np.testing.assert_array_equal(out["alpha"], layers["alpha"])  # the pad is not piece
    np.testing.assert_array_equal(out["prop"], prop)
    pad = prop == 1
    # Where the pad fully covers the backdrop the photo shows the pad, not the white.
    np.testing.assert_allclose(out["image"][pad], (layers["lights"] + _c(albedo, layers)
                                                   * layers["sweep"])[pad], atol=1e-6)
    assert out["image"][pad].max() < 0.1
    assert (out["shadow"][pad] == 0).all() and (out["reflection"][pad] == 0).all()
    # Without the prop layer (an older bank file) nothing changes but the prop map.
    plain = C.compose({k: v for k, v in _layers().items()}, C.Backdrop("white", albedo))
    assert (plain["prop"] == 0).all()


def test_a_whole_sample_writes_the_prop_map():
    layers = _layers(size=64)
    prop = np.zeros((64, 64), np.float32)
    prop[44:56, 8:56] = 1.0
    piece = {**layers, "prop": prop, "meta": {**layers["meta"], "prop": {"kind": "flat_pad"}}}
    sample = C.make_composite(3, piece, size=64)
    assert sample["prop"].dtype == np.uint8 and sample["prop"].max() == 255
    assert json.loads(str(sample["meta"]))["piece"]["prop"] == {"kind": "flat_pad"}
