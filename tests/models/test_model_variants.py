"""Metal variants (models/ops/variants.py): the same piece in another metal, on constructed
photos whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models import ImageData, OptionsError, RetouchOptions
from models.ops.lab import ciede2000, lab_to_linear_srgb, linear_srgb_to_lab
from models.ops.metal import TARGETS

LUMA = np.array([0.2126, 0.7152, 0.0722])
KINDS = ["yellow_gold", "rose_gold", "white_gold", "silver", "platinum"]


def _reference(kind):
    """The metal's chromaticity under white light: its mid-tone colour (TARGETS at L* 70) in
    linear sRGB, scaled to luminance 1."""
    a, b = TARGETS[kind]
    rgb = lab_to_linear_srgb(np.array([70.0, a, b]))
    return rgb / (rgb @ LUMA)


@pytest.fixture(scope="module")
def gold_ring(scenes):
    return scenes.ring_scene(metal=scenes.GOLD, cast=(1.0, 1.0, 1.0))


@pytest.mark.parametrize("finish", ["natural", "catalog"])
def test_each_variant_is_the_target_metal_at_the_pieces_own_tones(retoucher, scenes, gold_ring,
                                                                   finish):
    res = retoucher.retouch(ImageData(gold_ring.codes()),
                            RetouchOptions(finish=finish, metal_variants=tuple(KINDS)))
    assert list(res.variants) == KINDS and res.info["variants"] == KINDS
    inner = ndimage.binary_erosion(gold_ring.masks["metal"], iterations=3)
    first = scenes.from_codes(res.image.pixels[inner])
    y_first = first @ LUMA
    mid = y_first < 0.55  # the mid-tones: highlights whiten toward the top, as speculars do
    assert mid.mean() > 0.6
    for kind in KINDS:
        got = scenes.from_codes(res.variants[kind].pixels[inner])
        # The truth: the target metal under the same light, at the first result's tones.
        truth = y_first[:, None] * _reference(kind)[None]
        delta = ciede2000(linear_srgb_to_lab(got[mid].astype(np.float32)),
                          linear_srgb_to_lab(truth[mid].astype(np.float32)))
        assert np.mean(delta) <= 3.0, (kind, float(np.mean(delta)))
        # The reflections are the photo's: each pixel keeps its luminance.
        assert np.abs(got @ LUMA - y_first).max() < 0.02, kind


def test_variants_leave_stones_and_backdrop_bit_identical(product, scenes):
    scene = scenes.gem_scene()
    res = product.retouch(ImageData(scene.codes()),
                          RetouchOptions(metal_variants=("silver", "rose_gold")), layers=True)
    stone = ndimage.binary_erosion(scene.masks["gem"], iterations=3)
    far = ~ndimage.binary_dilation(scene.piece, iterations=4)
    shank = ndimage.binary_erosion(scene.masks["metal"], iterations=3)
    for kind, variant in res.variants.items():
        px = variant.pixels
        assert px.shape == res.image.pixels.shape and px.dtype == res.image.pixels.dtype
        assert np.array_equal(px[stone], res.image.pixels[stone]), kind
        assert np.array_equal(px[far], res.image.pixels[far]), kind
        assert not np.array_equal(px[shank], res.image.pixels[shank]), kind  # the metal changed
    silver = linear_srgb_to_lab(scenes.from_codes(res.variants["silver"].pixels[shank])
                                .astype(np.float32))
    assert np.median(np.hypot(silver[:, 1], silver[:, 2])) < 3  # gold became neutral silver


def test_variants_follow_framing_reflection_and_sixteen_bit(product, scenes, gold_ring):
    codes16 = gold_ring.codes(depth=16)
    res = product.retouch(
        ImageData(codes16),
        RetouchOptions(framing="square", reflection=True, metal_variants=("silver",)),
    )
    silver = res.variants["silver"].pixels
    assert silver.shape == res.image.pixels.shape and silver.dtype == np.uint16
    # The reflection in the silver variant is silver's reflection, not the gold's.
    rows = np.flatnonzero((res.image.pixels < 40000).any(axis=-1).any(axis=1))
    below = slice(int(rows[-1]) + 3, int(rows[-1]) + 6)
    gold_band = res.image.pixels[below].astype(float)
    silver_band = silver[below].astype(float)
    tinted = (gold_band[..., 0] - gold_band[..., 2]) > 500
    assert tinted.sum() > 10
    assert (silver_band[tinted][:, 0] - silver_band[tinted][:, 2]).mean() < \
        0.5 * (gold_band[tinted][:, 0] - gold_band[tinted][:, 2]).mean()


def test_no_variants_by_default_and_bad_variant_names_are_refused():
    assert RetouchOptions().metal_variants == ()
    with pytest.raises(OptionsError, match="metal_variants"):
        RetouchOptions.from_mapping({"metal_variants": ["gold"]})
    with pytest.raises(OptionsError, match="more than once"):
        RetouchOptions.from_mapping({"metal_variants": ["silver", "silver"]})
    with pytest.raises(OptionsError, match="list"):
        RetouchOptions.from_mapping({"metal_variants": "silver"})
    assert RetouchOptions.from_mapping({"metal_variants": ["silver"]}).to_dict()[
        "metal_variants"] == ["silver"]
