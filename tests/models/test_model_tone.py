"""Metal tone under a colour cast, and hotspot control."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models import ImageData, RetouchOptions, load
from models.analysis.classical import ClassicalAnalyzer
from models.ops.lab import ciede2000, linear_srgb_to_lab
from models.pipeline import Retoucher


def _interior(mask, n=3):
    return ndimage.binary_erosion(mask, iterations=n)


def test_yellow_gold_under_blue_cast_comes_back_true(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.GOLD)
    res = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(finish="natural"))
    assert res.info["detected_metal"] == "yellow_gold"
    inside = _interior(scene.piece)

    out_lab = linear_srgb_to_lab(scenes.from_codes(res.image.pixels)[inside])
    true_lab = linear_srgb_to_lab(scene.clean[inside])
    photo_lab = linear_srgb_to_lab(scenes.from_codes(scene.codes())[inside])
    assert np.median(ciede2000(photo_lab, true_lab)) > 4  # the cast is real
    assert np.median(ciede2000(out_lab, true_lab)) < 3.0
    assert np.percentile(ciede2000(out_lab, true_lab), 90) < 5.0


def test_silver_under_blue_cast_comes_back_neutral(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.SILVER)
    res = retoucher.retouch(ImageData(scene.codes()), RetouchOptions())
    assert res.info["detected_metal"] in ("silver", "white_gold")

    inside = _interior(scene.piece)
    lab = linear_srgb_to_lab(scenes.from_codes(res.image.pixels)[inside])
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    assert np.median(chroma) < 2.0
    photo = linear_srgb_to_lab(scenes.from_codes(scene.codes())[inside])
    assert np.median(np.hypot(photo[:, 1], photo[:, 2])) > 5  # it was blue before


def test_chosen_metal_tones_only_the_metal(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.SILVER)
    res = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(metal="yellow_gold"))

    inside = _interior(scene.piece)
    lab = linear_srgb_to_lab(scenes.from_codes(res.image.pixels)[inside])
    hue = np.degrees(np.arctan2(np.median(lab[:, 2]), np.median(lab[:, 1])))
    assert 65 < hue < 95 and np.median(np.hypot(lab[:, 1], lab[:, 2])) > 15
    far = ~ndimage.binary_dilation(scene.piece, iterations=3)
    assert (res.image.pixels[far] == 255).all()  # the backdrop is not tinted


@pytest.mark.parametrize("analyzer", ["classical", "default"])
def test_clipped_hotspot_is_not_widened_and_sits_near_90_percent(scenes, analyzer):
    retoucher = Retoucher(analyzer=ClassicalAnalyzer()) if analyzer == "classical" else load()
    scene = scenes.hotspot_scene()
    photo = scene.codes()
    clipped_in = (photo == 255).all(axis=-1) & scene.piece
    assert clipped_in.sum() > 50
    out = retoucher.retouch(ImageData(photo), RetouchOptions(finish="natural")).image.pixels
    piece = _interior(scene.piece, 3)  # away from edge pixels blended with the white backdrop
    peak = out[piece].max(axis=-1)
    assert (peak < 255).all()  # nothing on the metal is clipped
    assert 0.85 * 255 <= peak.max() <= 0.95 * 255  # the specular stays near 90%
    top = out.max(axis=-1)
    # The flat top (pixels at the output's highest code) is no larger than the clipped patch,
    # and the top two codes cover no more than the photo's own near-white (>= 250) area.
    assert ((top == peak.max()) & piece).sum() <= clipped_in.sum()
    near_white_in = (photo.max(axis=-1) >= 250) & scene.piece
    assert ((top >= peak.max() - 1) & piece).sum() <= 1.1 * near_white_in.sum()
    # Structured reflections keep their gradients (not flattened).
    band = out[100:140, 70:110].mean(axis=-1)
    assert band.std() > 0.5 * photo[100:140, 70:110].mean(axis=-1).std()


@pytest.mark.parametrize(("finish", "bound"), [("natural", 0.95), ("catalog", 0.985)])
@pytest.mark.parametrize("analyzer", ["classical", "default"])
def test_only_clipped_pixels_reach_the_top_code_under_a_cast(scenes, analyzer, finish, bound):
    """Silver under a cool cast: the tone gains differ per channel and vary across the hotspot
    (uneven light, soft metal mask); no pixel that was below 255 in the photo may land on
    the clipped patch's output code, and the output keeps the photo's order of brightness."""
    retoucher = Retoucher(analyzer=ClassicalAnalyzer()) if analyzer == "classical" else load()
    scene = scenes.hotspot_scene(cast=(1.0, 1.04, 1.15))
    photo = scene.codes()
    clipped_in = (photo == 255).all(axis=-1) & scene.piece
    assert clipped_in.sum() > 20
    out = retoucher.retouch(ImageData(photo), RetouchOptions(finish=finish)).image.pixels
    piece = _interior(scene.piece, 3)
    top = out.max(axis=-1)
    ceiling = top[piece].max()
    assert ceiling < bound * 255  # natural: about 90 %; catalog: brighter, never 255
    assert (top[clipped_in & piece] == ceiling).all()  # the clipped patch sits on one code
    assert not ((top == ceiling) & piece & ~clipped_in).any()  # and owns it


def test_hotspots_off_leaves_the_clipped_patch_clipped(retoucher, scenes):
    scene = scenes.hotspot_scene()
    photo = scene.codes()
    clipped_in = (photo == 255).all(axis=-1) & _interior(scene.piece, 1)
    assert clipped_in.sum() > 50
    out = retoucher.retouch(ImageData(photo), RetouchOptions(hotspots=False)).image.pixels
    clipped_out = (out == 255).all(axis=-1) & _interior(scene.piece, 1)
    assert clipped_out.sum() >= clipped_in.sum()  # the metal is not darkened without it
    shouldered = retoucher.retouch(ImageData(photo), RetouchOptions()).image.pixels
    assert not ((shouldered == 255).all(axis=-1) & _interior(scene.piece, 1)).any()


def test_silver_on_a_wood_backdrop_is_not_tinted_or_blown(retoucher, scenes):
    """A coloured backdrop is not the light's colour: the piece keeps its own colour."""
    scene = scenes.ring_scene(metal=scenes.SILVER)
    h, w = scene.piece.shape
    yy, xx = scenes.grid(h, w)
    grain = 0.5 + 0.12 * np.sin(yy / 3.0 + 2 * np.sin(xx / 40.0))
    wood = np.stack([grain * 0.55, grain * 0.38, grain * 0.22], axis=-1)
    photo = np.where(scene.piece[..., None], scene.clean * 0.7, wood)
    res = retoucher.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions())
    inside = _interior(scene.piece)
    out = scenes.from_codes(res.image.pixels)[inside]
    lab = linear_srgb_to_lab(out)
    assert np.median(np.hypot(lab[:, 1], lab[:, 2])) < 3  # still neutral silver, not blue
    shot = linear_srgb_to_lab(photo[inside])
    assert abs(np.median(lab[:, 0]) - np.median(shot[:, 0])) < 8  # exposure kept, not blown
    # Wood is not a studio backdrop: the background is kept (with a warning) unless the user
    # forces the cut-out.
    far = ~ndimage.binary_dilation(scene.piece, iterations=3)
    codes = [w["code"] for w in res.warnings]
    assert "background_kept" in codes and set(codes) <= {"background_kept", "low_resolution"}
    # The kept backdrop takes the piece's global tone, uniformly (no seams where a doubtful
    # matte ends): one linear gain for every far pixel.
    ratio = scenes.from_codes(res.image.pixels[far]) / np.maximum(photo[far], 1e-3)
    bright = photo[far].min(axis=-1) > 0.05
    assert np.std(ratio[bright]) / np.mean(ratio[bright]) < 0.03
    forced = retoucher.retouch(ImageData(scenes.to_codes(photo)), {"force_cutout": True})
    assert "unsure_cutout" in [w["code"] for w in forced.warnings]
    assert (forced.image.pixels[far] == 255).mean() > 0.99
