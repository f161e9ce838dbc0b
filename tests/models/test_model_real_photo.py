"""What real photos need (issue: retouch v2): the piece's tone set by the piece, casts told
from tinted sweeps, no colour bands, no retinting in auto, a safe fallback with warnings, and
no harm to a photo that is already a clean catalog shot. Constructed scenes with known
answers; every check runs with both analyzers (the `retoucher` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models import ImageData, RetouchOptions
from models.ops.lab import ciede2000, linear_srgb_to_lab


def _interior(mask, n=3):
    return ndimage.binary_erosion(mask, iterations=n)


def _lab(scenes, codes):
    return linear_srgb_to_lab(scenes.from_codes(codes))


def _codes(result):
    """The run's warning codes, less low_resolution (these constructed photos are small on
    purpose; test_bad_photos checks that warning itself)."""
    return [w["code"] for w in result.warnings if w["code"] != "low_resolution"]


def _on_sweep(scenes, clean, piece, sweep_rgb, light=(1.0, 1.0, 1.0), seed=0):
    """The clean piece (exposed as is) on a flat sweep of linear colour `sweep_rgb` (with a
    gentle vertical fall-off), all under a light of colour `light`, with sensor noise."""
    h, w, _ = clean.shape
    yy, _ = scenes.grid(h, w)
    falloff = (0.92 + 0.08 * yy / (h - 1))[..., None]
    photo = np.where(piece[..., None], clean, falloff * np.asarray(sweep_rgb)[None, None])
    photo = photo * np.asarray(light)
    rng = np.random.default_rng(seed)
    return np.clip(photo + rng.normal(0, 0.003, photo.shape) * np.sqrt(photo), 0, None)


@pytest.mark.parametrize("level", [0.35, 0.5, 0.75])
def test_the_sweeps_grey_level_does_not_change_the_piece(retoucher, scenes, level):
    """The same gold ring on a 35 %, 50 % and 75 % grey sweep: its metal comes out as shot
    (within CIEDE2000 2 of the truth), however light or dark the sweep."""
    scene = scenes.ring_scene(metal=scenes.GOLD)
    photo = _on_sweep(scenes, scene.clean, scene.piece, (level, level, level))
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions(finish="natural"))
    assert _codes(res) == []
    inside = _interior(scene.piece)
    out_lab = _lab(scenes, res.image.pixels[inside])
    true_lab = linear_srgb_to_lab(scene.clean[inside])
    assert np.median(ciede2000(out_lab, true_lab)) <= 2.0
    corners = res.image.pixels[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 255).all()


def test_the_three_sweeps_give_the_same_piece(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.GOLD)
    inside = _interior(scene.piece)
    outs = []
    for level in (0.35, 0.5, 0.75):
        photo = _on_sweep(scenes, scene.clean, scene.piece, (level, level, level))
        res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
        outs.append(_lab(scenes, res.image.pixels[inside]))
    for other in outs[1:]:
        assert np.median(ciede2000(outs[0], other)) <= 2.0


def _white_metal_ring(scenes):
    """A white-gold ring with bright (unclipped) reflections: what a neutral highlight is."""
    scene = scenes.ring_scene(metal=scenes.SILVER)
    h, w = scene.piece.shape
    yy, xx = scenes.grid(h, w)
    glints = 1.0 + 0.5 * np.exp(-(((xx - 0.35 * w) / 30.0) ** 2)) * scene.piece
    clean = scene.clean.copy()
    clean[scene.piece] *= glints[scene.piece][:, None]
    return clean, scene.piece


@pytest.mark.parametrize(
    ("name", "sweep"), [("blue-grey", (0.50, 0.55, 0.66)), ("cream", (0.66, 0.60, 0.46))]
)
def test_white_metal_on_a_tinted_sweep_stays_neutral(retoucher, scenes, name, sweep):
    """A tinted sweep under white light: the metal's neutral highlights say the light is
    white, so the sweep's tint is not removed from the piece (which would turn it warm/pink
    or blue)."""
    clean, piece = _white_metal_ring(scenes)
    photo = _on_sweep(scenes, clean, piece, sweep)
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    lab = _lab(scenes, res.image.pixels[_interior(piece)])
    assert np.median(np.hypot(lab[:, 1], lab[:, 2])) < 2.5, name
    assert res.info["tone"]["cast_removed"] < 0.3


def test_a_real_cast_on_a_grey_sweep_is_removed_from_white_metal(retoucher, scenes):
    """The same ring on a neutral sweep under a blue light: the highlights share the
    backdrop's tint, so it is the light's, and it goes."""
    clean, piece = _white_metal_ring(scenes)
    photo = _on_sweep(scenes, clean, piece, (0.55, 0.55, 0.55), light=(0.86, 0.95, 1.15))
    before = linear_srgb_to_lab(photo[_interior(piece)])
    assert np.median(np.hypot(before[:, 1], before[:, 2])) > 5  # the cast is real
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    lab = _lab(scenes, res.image.pixels[_interior(piece)])
    assert np.median(np.hypot(lab[:, 1], lab[:, 2])) < 2.0
    assert res.info["tone"]["cast_removed"] > 0.7


def test_no_colour_band_where_the_piece_meets_the_frame_edge(retoucher, scenes):
    """A silver bar running off both sides of the frame under a cast and uneven light: its
    colour is the same at the frame's edges as in the middle (one global cast gain, no
    extrapolated per-pixel field)."""
    h, w = 240, 360
    yy, xx = scenes.grid(h, w)
    bar = (yy > 90) & (yy < 150)
    clean = np.ones((h, w, 3))
    clean[bar] = scenes.SILVER[None] * scenes.metal_shading(h, w)[bar][:, None]
    photo = scenes.photograph(clean, cast=(0.85, 0.95, 1.15), top=0.35, bottom=0.7, piece=bar)
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    assert "piece_at_edge" in _codes(res)
    rows = slice(100, 140)
    edge = np.concatenate([res.image.pixels[rows, :6], res.image.pixels[rows, -6:]], axis=1)
    middle = res.image.pixels[rows, 170:190]
    edge_lab = _lab(scenes, edge.reshape(-1, 3))
    middle_lab = _lab(scenes, middle.reshape(-1, 3))
    assert np.median(np.hypot(edge_lab[:, 1], edge_lab[:, 2])) < 2.5
    assert abs(np.median(edge_lab[:, 1]) - np.median(middle_lab[:, 1])) < 1.5
    assert abs(np.median(edge_lab[:, 2]) - np.median(middle_lab[:, 2])) < 1.5


def test_auto_never_retints_a_pale_metal(retoucher, scenes):
    """A pale, slightly warm white gold (too weak for yellow or rose gold's band) under white
    light: auto keeps its colour instead of pushing it into a band."""
    pale = scenes.srgb_decode(np.array([0.80, 0.78, 0.72]))
    scene = scenes.ring_scene(metal=pale)
    photo = _on_sweep(scenes, scene.clean, scene.piece, (0.6, 0.6, 0.6))
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    inside = _interior(scene.piece)
    out = _lab(scenes, res.image.pixels[inside])
    shot = linear_srgb_to_lab(photo[inside])
    out_chroma = np.median(np.hypot(out[:, 1], out[:, 2]))
    shot_chroma = np.median(np.hypot(shot[:, 1], shot[:, 2]))
    assert out_chroma <= shot_chroma + 1.0  # not pushed towards a gold band
    assert np.median(ciede2000(out, shot)) < 2.5


def _catalog_shot(scenes):
    """A finished catalog image: a gold bar on exact white with a soft shadow and a faded
    mirror reflection under it (deliberate, a retoucher's work)."""
    h, w = 300, 400
    yy, xx = scenes.grid(h, w)
    bar = (yy > 80) & (yy < 170) & (xx > 100) & (xx < 300)
    clean = np.ones((h, w, 3))
    clean[bar] = scenes.GOLD[None] * scenes.metal_shading(h, w)[bar][:, None]
    reflection = (yy >= 172) & (yy < 230) & (xx > 100) & (xx < 300)
    fade = np.clip(1 - (yy - 172) / 58.0, 0, 1) * 0.25
    mirrored = np.flip(clean[110:168], axis=0)
    clean[172:230][reflection[172:230]] = (
        1 - fade[172:230, :, None] + fade[172:230, :, None] * mirrored
    )[reflection[172:230]]
    shadow = ndimage.gaussian_filter(((yy > 165) & (yy < 175) & (xx > 90) & (xx < 310)) * 1.0, 4)
    clean *= (1 - 0.3 * shadow * ~bar)[..., None]
    return scenes.to_codes(clean), bar


def test_an_image_already_on_white_comes_back_nearly_unchanged(retoucher, scenes):
    photo, bar = _catalog_shot(scenes)
    res = retoucher.retouch(ImageData(photo), RetouchOptions())
    assert res.info["already_white"]
    out = res.image.pixels.astype(int)
    around = ~ndimage.binary_dilation(bar, iterations=2)
    change = np.abs(out[around] - photo[around]).max(axis=-1)
    assert (change > 3).mean() < 0.001  # reflection and shadow kept (a speck may go)
    assert (out[photo.min(axis=-1) < 240].min(axis=-1) < 245).all()  # nothing whitened
    inside = _interior(bar)
    assert np.abs(out[inside] - photo[inside]).mean() < 3  # the piece as it was


def test_a_busy_scene_keeps_its_background_with_a_warning(retoucher, scenes):
    """Bokeh (large soft blobs of many colours) behind a ring: not a studio backdrop. The
    user gets the photo with the piece-only fixes and a warning, never a half-white mess;
    force_cutout cuts it out anyway and says it is unsure."""
    scene = scenes.ring_scene(metal=scenes.GOLD)
    h, w = scene.piece.shape
    rng = np.random.default_rng(7)
    bokeh = np.zeros((h, w, 3))
    yy, xx = scenes.grid(h, w)
    for _ in range(40):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(15, 45)
        bokeh += (np.hypot(yy - cy, xx - cx) < r)[..., None] * rng.uniform(0.05, 0.5, 3)
    bokeh = ndimage.gaussian_filter(np.clip(bokeh, 0.02, 0.9), (6, 6, 0))
    photo = np.where(scene.piece[..., None], scene.clean, bokeh)
    codes = scenes.to_codes(photo)
    res = retoucher.retouch(ImageData(codes), RetouchOptions())
    assert _codes(res)[:1] == ["background_kept"]
    assert res.info["background"] == "keep"
    far = ~ndimage.binary_dilation(scene.piece, iterations=3)
    white = (res.image.pixels[far] >= 250).all(axis=-1)
    assert white.mean() < 0.02  # no half-white mess
    forced = retoucher.retouch(ImageData(codes), RetouchOptions(force_cutout=True))
    assert "unsure_cutout" in _codes(forced) and forced.info["background"] == "white"


def test_a_tray_running_off_the_frame_keeps_the_background(retoucher, scenes):
    """A ring on a sweep beside a flat beige tray that runs off the frame's corner (d104): the
    analysis takes the tray for piece, and a cut-out would leave it as a slab on the white, so
    the background is kept with a warning."""
    scene = scenes.ring_scene(metal=scenes.GOLD)
    h, w = scene.piece.shape
    yy, xx = scenes.grid(h, w)
    tray = (yy > 0.8 * h) & (xx < 0.45 * w) & ~scene.piece
    photo = scene.photo.copy()
    photo[tray] *= np.array([0.78, 0.62, 0.47])
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    assert _codes(res)[:1] == ["background_kept"]
    assert res.info["background"] == "keep"
    assert res.info["confidence"]["matte_certainty"] < 0.5


def test_a_clean_studio_shot_is_cut_out_without_warnings(retoucher, scenes):
    res = retoucher.retouch(ImageData(scenes.ring_scene().codes()), RetouchOptions())
    assert _codes(res) == []
    assert res.info["confidence"]["backdrop_fit"] >= 0.9
    assert res.info["confidence"]["matte_certainty"] >= 0.9


def test_the_pipeline_runs_with_the_network_analyzer_alone(scenes):
    from models.net.analyzer import NetAnalyzer
    from models.pipeline import Retoucher

    retoucher = Retoucher(analyzer=NetAnalyzer())
    scene = scenes.ring_scene()
    res = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(), layers=True)
    assert res.info["analyzer"] == "jewelnet"
    assert set(res.info["confidence"]) == {"backdrop_fit", "matte_certainty"}
    piece = res.masks["piece"] > 127
    assert (piece & scene.piece).sum() > 0.8 * scene.piece.sum()


@pytest.mark.parametrize("kind", ["black", "overexposed", "noisy", "tiny"])
def test_bad_photos_give_a_result_and_a_warning(retoucher, scenes, kind):
    scene = scenes.ring_scene()
    photo = scene.codes()
    if kind == "black":
        photo = (photo // 40).astype(np.uint8)
        expected = "underexposed"
    elif kind == "overexposed":
        photo = np.clip(photo.astype(int) * 3, 0, 255).astype(np.uint8)
        expected = "overexposed"
    elif kind == "noisy":
        rng = np.random.default_rng(1)
        photo = np.clip(photo + rng.normal(0, 40, photo.shape), 0, 255).astype(np.uint8)
        expected = None
    else:
        photo = photo[::8, ::8]  # 50 x 38 px
        expected = "low_resolution"
    res = retoucher.retouch(ImageData(photo), RetouchOptions())
    assert res.image.pixels.shape == photo.shape
    assert np.isfinite(res.image.pixels).all()
    if expected:
        assert expected in [w["code"] for w in res.warnings]


def test_auto_does_not_turn_a_rose_gold_read_as_yellow_gold_peach():
    """A warm gold between the rose and yellow bands keeps its hue under auto, whichever of
    the two it was taken for; a green-yellow (brassy) gold is still pulled back."""
    from models.ops.metal import wanted_chroma

    rad = np.radians(62.0)  # a rose gold's hue, just under yellow gold's band
    a, b = 22 * np.cos(rad), 22 * np.sin(rad)
    for kind in ("yellow_gold", "rose_gold"):
        ta, tb = wanted_chroma(kind, a, b, auto=True)
        assert abs(np.degrees(np.arctan2(tb, ta)) - 62.0) < 0.5, kind
    brassy = np.radians(100.0)
    ta, tb = wanted_chroma("yellow_gold", 30 * np.cos(brassy), 30 * np.sin(brassy), auto=True)
    assert abs(np.degrees(np.arctan2(tb, ta)) - 90.0) < 0.5
