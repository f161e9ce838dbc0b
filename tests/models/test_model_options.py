"""Every option value runs; determinism, progress, cancellation, layers, framing, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models import (
    LAYER_NAMES,
    MASK_NAMES,
    OPTION_SPECS,
    Cancelled,
    ImageData,
    ImageError,
    RetouchOptions,
)
from models.pipeline import Retoucher


def _values(spec):
    if spec.type == "enum":
        return list(spec.choices)
    if spec.type == "boolean":
        return [False, True]
    if spec.type == "list":
        return [[], [spec.choices[0]], list(spec.choices)]
    middle = (spec.minimum + spec.maximum) / 2
    if spec.type == "integer":
        return [int(spec.minimum), 300, int(spec.maximum) if spec.maximum <= 2000 else 1200]
    return [spec.minimum, middle, spec.maximum]


CASES = [(spec.name, value) for spec in OPTION_SPECS for value in _values(spec)]


@pytest.fixture(scope="module")
def small_photo(scenes):
    return scenes.ring_scene(h=200, w=260)


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v}" for n, v in CASES])
def test_every_option_value_runs(product, small_photo, name, value):
    options = {name: value}
    if name == "canvas_size":
        options["framing"] = "square"
    res = product.retouch(
        ImageData(small_photo.codes()), RetouchOptions.from_mapping(options), layers=True
    )
    px = res.image.pixels
    assert px.dtype == np.uint8 and px.ndim == 3
    assert {"background", "cleanup", "tone"} <= set(res.layers) <= set(LAYER_NAMES)
    shadow = options.get("shadow", "none")
    if shadow != "natural":  # natural: a layer only when the photo has a shadow of its own
        assert ("shadow" in res.layers) == (shadow in ("soft", "contact"))
    assert ("reflection" in res.layers) == bool(options.get("reflection"))
    assert set(res.masks) == set(MASK_NAMES)
    for layer in res.layers.values():
        assert layer.pixels.shape[:2] == px.shape[:2] and layer.pixels.shape[2] == 4
    for mask in res.masks.values():
        assert mask.shape == px.shape[:2] and mask.dtype == np.uint8


def test_output_is_deterministic_across_runs_and_worker_counts(small_photo):
    from models.analysis.classical import ClassicalAnalyzer

    photo = ImageData(small_photo.codes())
    options = RetouchOptions(shadow="soft", reflection=True, framing="square", gem_contrast=1.0)
    a = Retoucher(workers=1).retouch(photo, options).image.pixels
    b = Retoucher(workers=2).retouch(photo, options).image.pixels
    c = Retoucher(workers=2).retouch(photo, options).image.pixels
    assert a.tobytes() == b.tobytes() == c.tobytes()  # the shipped default analyzer
    classical = ClassicalAnalyzer()
    a = Retoucher(classical, workers=1).retouch(photo, options).image.pixels
    b = Retoucher(classical, workers=2).retouch(photo, options).image.pixels
    c = Retoucher(classical, workers=2).retouch(photo, options).image.pixels
    assert a.tobytes() == b.tobytes() == c.tobytes()


def test_strength_zero_is_unchanged_and_half_is_between(retoucher, small_photo):
    photo = small_photo.codes()
    same = retoucher.retouch(ImageData(photo), RetouchOptions(strength=0.0)).image.pixels
    assert np.array_equal(same, photo)
    full = retoucher.retouch(ImageData(photo), RetouchOptions(strength=1.0)).image.pixels
    half = retoucher.retouch(ImageData(photo), RetouchOptions(strength=0.5)).image.pixels
    far = ~ndimage.binary_dilation(small_photo.piece, iterations=3)
    lo = np.minimum(photo, full)[far].astype(int)
    hi = np.maximum(photo, full)[far].astype(int)
    mid = half[far].astype(int)
    assert ((mid >= lo - 1) & (mid <= hi + 1)).all()
    assert (mid > lo + 5).mean() > 0.9


def test_input_array_is_never_modified(product, small_photo):
    photo = small_photo.codes()
    before = photo.copy()
    product.retouch(ImageData(photo), RetouchOptions(protect_gems=True), layers=True)
    assert np.array_equal(photo, before)


def test_progress_reports_stages_and_cancel_stops(product, scenes):
    photo = ImageData(scenes.ring_scene(h=700, w=300).codes())
    seen = []
    product.retouch(photo, RetouchOptions(), progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = [s for s, _ in seen]
    assert {"analyse", "retouch", "done"} <= set(stages)
    assert stages.count("retouch") >= 3  # once per tile

    calls = []

    def cancel_in_retouch(stage, fraction):
        calls.append(stage)
        if stage == "retouch":
            raise Cancelled()

    with pytest.raises(Cancelled):
        product.retouch(photo, RetouchOptions(), progress=cancel_in_retouch)
    assert calls.count("retouch") == 1 and "done" not in calls

    # Cancelled while the first pass reads the photo (between its row bands).
    reads = []

    def cancel_while_reading(stage, fraction):
        reads.append((stage, fraction))
        if stage == "analyse" and 0 < fraction < 0.2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        product.retouch(photo, RetouchOptions(), progress=cancel_while_reading)
    assert [s for s, _ in reads].count("analyse") == 2 and "retouch" not in dict(reads)


@pytest.mark.parametrize("extras", [{}, {"shadow": "soft", "reflection": True}])
def test_layers_recompose_the_image(retoucher, small_photo, scenes, extras):
    photo = small_photo.codes()
    res = retoucher.retouch(ImageData(photo), RetouchOptions(**extras), layers=True)
    stack = scenes.from_codes(photo)
    # Bottom to top, "normal" mode in linear light; the shadow and reflection lie above the
    # backdrop they fall on.
    names = ["cleanup", "tone", "background"] + [n for n in ("shadow", "reflection")
                                                 if n in res.layers]
    assert len(names) == 3 + 2 * bool(extras)
    for name in names:
        layer = res.layers[name].pixels
        a = layer[..., 3:] / 255
        stack = scenes.from_codes(layer[..., :3]) * a + stack * (1 - a)
    diff = np.abs(scenes.to_codes(stack).astype(float) - res.image.pixels.astype(float))
    assert np.percentile(diff, 99) <= 2 and diff.mean() < 0.5
    piece = res.masks["piece"] > 127
    assert (piece == small_photo.piece).mean() > 0.99


def test_square_framing_centres_the_piece_with_the_margin(retoucher, small_photo):
    photo = small_photo.codes()
    res = retoucher.retouch(ImageData(photo), RetouchOptions(framing="square", margin=0.1))
    out = res.image.pixels
    assert out.shape[0] == out.shape[1]
    piece = (out < 250).any(axis=-1)
    rows, cols = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
    side = out.shape[0]
    extent = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    assert abs(extent / side - 0.8) < 0.03
    assert (
        abs((rows[0] + rows[-1]) / 2 - side / 2) < 3
        and abs((cols[0] + cols[-1]) / 2 - side / 2) < 3
    )
    assert tuple(out[0, 0]) == (255, 255, 255)


def piece_box(pixels):
    """(top, bottom, left, right) of the non-white pixels (inclusive)."""
    piece = (pixels < 250).any(axis=-1)
    rows, cols = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_marketplace_preset_sets_the_canvas(retoucher, small_photo):
    res = retoucher.retouch(ImageData(small_photo.codes()), RetouchOptions(framing="ebay"))
    out = res.image.pixels
    assert out.shape[:2] == (1600, 1600)  # eBay's canvas
    top, bottom, left, right = piece_box(out)
    extent = max(bottom - top + 1, right - left + 1)
    assert abs(extent / 1600 - 0.85) < 0.03  # the default margin 0.075 on each side
    assert abs((top + bottom) / 2 - 800) < 8 and abs((left + right) / 2 - 800) < 8  # centred
    assert tuple(out[0, 0]) == tuple(out[-1, -1]) == (255, 255, 255)
    res = retoucher.retouch(
        ImageData(small_photo.codes()), RetouchOptions(framing="amazon", canvas_size=500)
    )
    assert res.image.pixels.shape[:2] == (500, 500)


def test_too_many_pixels_is_a_clear_error(product):
    huge = np.broadcast_to(np.zeros((1, 1, 1), np.uint8), (10_001, 10_000, 1))
    with pytest.raises(ImageError, match="limit"):
        product.retouch(ImageData(huge))


def test_options_as_a_mapping_are_validated(retoucher, small_photo):
    from models import OptionsError

    photo = ImageData(small_photo.codes())
    as_dict = retoucher.retouch(photo, {"background": "keep"}).image.pixels
    as_options = retoucher.retouch(photo, RetouchOptions(background="keep")).image.pixels
    assert np.array_equal(as_dict, as_options)
    with pytest.raises(OptionsError, match="metal"):
        retoucher.retouch(photo, {"metal": "bronze"})
    with pytest.raises(OptionsError):
        retoucher.retouch(photo, "white")


def test_blank_image_runs_and_says_no_piece_was_found(retoucher):
    """No piece: nothing is cut out (whitening the frame could erase a piece the analysis
    missed); the photo comes back as it was, with a warning."""
    blank = np.full((64, 80, 3), 200, np.uint8)
    res = retoucher.retouch(ImageData(blank), RetouchOptions(framing="square"), layers=True)
    assert res.image.pixels.shape == blank.shape
    assert "no_piece" in [w["code"] for w in res.warnings]
    assert np.abs(res.image.pixels.astype(int) - 200).max() <= 1
