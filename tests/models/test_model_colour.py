"""Colour: ICC profiles honoured, 16-bit precision kept, alpha preserved."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms
from scipy import ndimage

from models import ImageData, ImageError, RetouchOptions, icc
from models.colour import Codec
from models.ops.lab import ciede2000, linear_srgb_to_lab

# Textbook Adobe RGB (1998): linear sRGB -> XYZ(D65) -> linear Adobe RGB, gamma 563/256.
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
ADOBE_TO_XYZ = np.array(
    [
        [0.5767309, 0.1855540, 0.1881852],
        [0.2973769, 0.6273491, 0.0752741],
        [0.0270343, 0.0706872, 0.9911085],
    ]
)
ADOBE_GAMMA = 563 / 256


def srgb_linear_to_adobe_codes(linear: np.ndarray, depth: int) -> np.ndarray:
    adobe = np.clip(linear @ (np.linalg.inv(ADOBE_TO_XYZ) @ SRGB_TO_XYZ).T, 0, 1)
    maximum = 255 if depth == 8 else 65535
    codes = np.round(adobe ** (1 / ADOBE_GAMMA) * maximum)
    return codes.astype(np.uint8 if depth == 8 else np.uint16)


def adobe_codes_to_srgb_linear(codes: np.ndarray) -> np.ndarray:
    maximum = 255 if codes.dtype == np.uint8 else 65535
    adobe = (codes.astype(np.float64) / maximum) ** ADOBE_GAMMA
    return adobe @ (np.linalg.inv(SRGB_TO_XYZ) @ ADOBE_TO_XYZ).T


def test_codec_agrees_with_littlecms_for_adobe_rgb():
    profile = icc.adobe_rgb_profile()
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), "RGB", "RGB"
    )
    ref = np.asarray(ImageCms.applyTransform(Image.fromarray(px), transform)).astype(float)
    srgb = Codec.for_profile(None, 3, 8)
    mine = srgb.encode(Codec.for_profile(profile, 3, 8).decode(px)).astype(float)
    in_gamut = (ref > 2).all(axis=-1) & (ref < 253).all(axis=-1)
    assert in_gamut.sum() > 1000
    assert np.abs(mine - ref)[in_gamut].max() <= 1.0


def test_adobe_rgb_in_adobe_rgb_out(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.GOLD)
    profile = icc.adobe_rgb_profile()
    photo = srgb_linear_to_adobe_codes(scene.photo, 8)
    res = retoucher.retouch(ImageData(photo, profile), RetouchOptions(finish="natural"))
    assert res.image.icc_profile == profile
    out = res.image.pixels
    far = ~ndimage.binary_dilation(scene.piece, iterations=3)
    assert (out[far] == 255).all()
    inside = ndimage.binary_erosion(scene.piece, iterations=3)
    out_lab = linear_srgb_to_lab(adobe_codes_to_srgb_linear(out[inside]))
    true_lab = linear_srgb_to_lab(scene.clean[inside])
    assert np.median(ciede2000(out_lab, true_lab)) < 3.0


def test_sixteen_bit_in_sixteen_bit_out_without_banding(retoucher, scenes):
    h, w = 200, 420
    yy, xx = scenes.grid(h, w)
    bar = (yy > 60) & (yy < 140) & (xx > 40) & (xx < 380)
    clean = np.ones((h, w, 3))
    ramp = 0.25 + 0.45 * (xx - 40) / 340  # a smooth reflection across the bar
    clean[bar] = scenes.SILVER[None] * ramp[bar][:, None]
    photo = scenes.photograph(clean, cast=(1.0, 1.0, 1.0), noise=0.0)
    codes = scenes.to_codes(photo, 16)
    res = retoucher.retouch(ImageData(codes), RetouchOptions(finish="natural"))
    out = res.image.pixels
    assert out.dtype == np.uint16 and out.shape == codes.shape
    row = out[100, 60:360, 1].astype(np.int64)
    steps = np.diff(row)
    assert (steps > 0).all()  # strictly increasing: no flat bands, no reversals
    assert steps.max() < 4 * np.median(steps)  # no jumps
    assert (row % 257 != 0).mean() > 0.9  # 16-bit values, not 8-bit ones scaled up
    assert len(np.unique(row)) == row.size


def test_sixteen_bit_adobe_rgb_round_trip_keeps_precision(retoucher, scenes):
    scene = scenes.ring_scene(metal=scenes.GOLD)
    profile = icc.adobe_rgb_profile()
    photo = srgb_linear_to_adobe_codes(scene.photo, 16)
    res = retoucher.retouch(ImageData(photo, profile), RetouchOptions(background="keep"))
    assert res.image.pixels.dtype == np.uint16 and res.image.icc_profile == profile
    far = ~ndimage.binary_dilation(scene.piece, iterations=4)
    diff = np.abs(res.image.pixels[far].astype(int) - photo[far].astype(int))
    assert diff.max() <= 2  # untouched backdrop survives decode/encode to the 16-bit code


def test_alpha_is_preserved(retoucher, scenes):
    scene = scenes.ring_scene()
    rgb = scene.codes()
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :20] = 0
    alpha[:, 20:40] = 128
    res = retoucher.retouch(ImageData(np.dstack([rgb, alpha])), RetouchOptions())
    assert res.image.pixels.shape[2] == 4
    assert np.array_equal(res.image.pixels[..., 3], alpha)


@pytest.mark.parametrize("channels", [1, 2])
def test_grey_images_run_and_stay_grey(retoucher, scenes, channels):
    scene = scenes.ring_scene(metal=scenes.SILVER)
    grey = scene.codes()[..., 1:2]
    if channels == 2:
        grey = np.dstack([grey, np.full_like(grey, 255)])
    res = retoucher.retouch(ImageData(grey), RetouchOptions())
    assert res.image.pixels.shape == grey.shape
    far = ~ndimage.binary_dilation(scene.piece, iterations=3)
    assert (res.image.pixels[..., 0][far] == 255).all()


def test_unreadable_or_mismatched_profile_is_a_clear_error(retoucher, scenes):
    photo = scenes.ring_scene().codes()
    with pytest.raises(ImageError, match="ICC"):
        retoucher.retouch(ImageData(photo, b"not a profile at all" * 10))
    grey_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    with pytest.raises(ImageError):
        retoucher.retouch(ImageData(photo, grey_profile))
