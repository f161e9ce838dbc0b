"""Camera RAW decoding through LibRaw (rawpy) on real DNG files written by the test."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ImageCms

from server.raw import RawError, decode_raw, is_raw_path

GREEN_FIRST = (0.5, 1.0, 0.6)  # a camera whose green channel saturates first


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def test_dng_decodes_to_16_bit_srgb_with_icc_profile(tmp_path, make_dng, make_scene):
    scene = make_scene(hotspot=0.0)  # nothing clips: plain colour check
    path = make_dng(tmp_path / "ring.dng", scene * 0.9)
    image = decode_raw(path)
    assert image.pixels.shape == (96, 128, 3)
    assert image.pixels.dtype == np.uint16
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.icc_profile))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    # Backdrop is neutral grey and the gold disc reads as gold (R > G > B), with hue ratios
    # close to the scene's (the decoder's exposure may scale, not shift, the colours).
    backdrop = image.pixels[4, 4].astype(float)
    assert np.ptp(backdrop) / backdrop.max() < 0.01
    gold = image.pixels[48, 64].astype(float)
    assert gold[0] > gold[1] > gold[2]
    expected = srgb_encode(np.array([0.62, 0.42, 0.12]) * 0.9)
    assert np.allclose(gold / gold[0], expected / expected[0], atol=0.06)


def test_8_bit_output_on_request(tmp_path, make_dng, make_scene):
    path = make_dng(tmp_path / "ring.dng", make_scene())
    image = decode_raw(path, bits=8)
    assert image.pixels.dtype == np.uint8
    assert image.pixels.shape == (96, 128, 3)


def test_raw_bytes_decode_like_the_file(tmp_path, make_dng, make_scene):
    path = make_dng(tmp_path / "ring.dng", make_scene())
    assert np.array_equal(decode_raw(path.read_bytes()).pixels, decode_raw(path).pixels)


def test_polished_metal_highlights_stay_neutral_and_graded(tmp_path, make_dng, make_scene):
    """A specular hotspot that clips green first: blend keeps it neutral and not a flat patch."""
    scene = make_scene(hotspot=1.6)
    path = make_dng(tmp_path / "hot.dng", scene, neutral=GREEN_FIRST)
    hot = scene.min(axis=2) > 1.0 / 0.8  # every channel saturated in the sensor
    blend = decode_raw(path).pixels[hot].astype(float)
    clip = decode_raw(path, highlights="clip").pixels[hot].astype(float)
    # Neutral: no magenta/pink cast in the hotspot (channels within 2% of each other).
    assert ((blend.max(1) - blend.min(1)) / blend.max(1)).max() < 0.02
    # Not flattened: most hotspot pixels keep a gradient below full scale, where plain
    # clipping turns the whole hotspot into one flat 65535 patch.
    assert (clip == 65535).all(axis=1).mean() == 1.0
    assert (blend == 65535).all(axis=1).mean() < 0.5
    assert len(np.unique(blend[:, 1])) > 10


def test_not_a_raw_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.cr2"
    bad.write_bytes(b"this is not a camera raw file" * 10)
    with pytest.raises(RawError, match="cannot decode camera RAW"):
        decode_raw(bad)
    with pytest.raises(RawError, match="cannot decode camera RAW"):
        decode_raw(tmp_path / "missing.nef")


def test_bad_settings_are_refused(tmp_path, make_dng, make_scene):
    path = make_dng(tmp_path / "ring.dng", make_scene())
    with pytest.raises(RawError, match="8 or 16"):
        decode_raw(path, bits=12)
    with pytest.raises(RawError, match="highlight mode"):
        decode_raw(path, highlights="magic")


def test_raw_extensions():
    for name in ("a.CR2", "b.cr3", "c.NEF", "d.arw", "e.dng"):
        assert is_raw_path(name)
    assert not is_raw_path("f.tif") and not is_raw_path("g.png")
