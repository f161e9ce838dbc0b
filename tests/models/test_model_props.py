"""Supports are not the piece (issue 16): a ring standing in a black felt pad that runs off
the frame comes out on clean white, pad gone, what the pad hid still hidden, with the
`props_removed` warning. The prop map is what JewelNet v2 hands the hybrid; here stand-ins
hand the scene's own masks (v2: the pad as prop; v1: the ring alone), so the test checks the
pipeline's use of them (the networks' own accuracy on props is measured on held-out renders,
models/MODEL_CARD.md)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models.analysis import Analysis
from models.api import ImageData, RetouchOptions


def _scene(scenes, h=300, w=400):
    yy, xx = scenes.grid(h, w)
    r = np.hypot(yy - h * 0.45, xx - w * 0.5)
    ring = (r > 55) & (r < 90)
    pad = yy >= h * 0.72  # a black felt block across the whole frame, in front of the ring
    visible = ring & ~pad
    clean = np.ones((h, w, 3))
    clean[visible] = scenes.GOLD[None] * scenes.metal_shading(h, w)[visible][:, None]
    clean[pad] = 0.03
    photo = scenes.photograph(clean, cast=(1.0, 1.0, 1.0), top=0.55, bottom=0.65,
                              piece=visible | pad)
    return photo, visible, ring & pad, pad


class RingOnly:
    """Stands in for JewelNet v1 as on the renders: it leaves the pad out of the piece (image
    analysis, the real one here, calls ring and pad one piece and the hybrid grows into it)."""

    name = "ring_only"

    def __init__(self, piece: np.ndarray):
        self.piece = piece

    def analyse(self, rgb):
        h, w = rgb.shape[:2]
        zoom = (h / self.piece.shape[0], w / self.piece.shape[1])
        piece = ndimage.zoom(self.piece.astype(np.float32), zoom, order=0)[:h, :w]
        z = np.zeros((h, w), np.float32)
        return Analysis(piece, piece.copy(), z, z.copy(), z.copy(), None)


class PadMap:
    """Stands in for JewelNet v2: the scene's pad as its prop map, the ring as its matte."""

    name = "pad_map"

    def __init__(self, piece: np.ndarray, pad: np.ndarray):
        self.piece, self.pad = piece, pad

    def analyse(self, rgb):
        h, w = rgb.shape[:2]
        zoom = (h / self.pad.shape[0], w / self.pad.shape[1])
        piece = ndimage.zoom(self.piece.astype(np.float32), zoom, order=0)[:h, :w]
        prop = ndimage.zoom(self.pad.astype(np.float32), zoom, order=0)[:h, :w]
        z = np.zeros((h, w), np.float32)
        return Analysis(piece, piece.copy(), z, z.copy(), z.copy(), None, props=prop)


@pytest.fixture(scope="module")
def results(scenes):
    from models.analysis.classical import ClassicalAnalyzer
    from models.net.hybrid import HybridAnalyzer
    from models.pipeline import Retoucher

    photo, visible, hidden, pad = _scene(scenes)
    image = ImageData(scenes.to_codes(photo))
    options = RetouchOptions(background="white", shadow="none", finish="natural")
    v1 = RingOnly(visible)
    with_v2 = Retoucher(
        analyzer=HybridAnalyzer(ClassicalAnalyzer(), net=v1, props_net=PadMap(visible, pad))
    )
    without = Retoucher(analyzer=HybridAnalyzer(ClassicalAnalyzer(), net=v1))
    return (with_v2.retouch(image, options), without.retouch(image, options),
            visible, hidden, pad, image)


def test_the_pad_goes_with_the_backdrop_and_the_user_is_told(results):
    res, _, visible, hidden, pad, image = results
    out = res.image.pixels
    inner_pad = ndimage.binary_erosion(pad, iterations=4)
    assert float((out[inner_pad] >= 250).all(axis=-1).mean()) > 0.98
    # What the pad hid stays hidden: no metal is invented where the ring went into the pad.
    hid = ndimage.binary_erosion(hidden, iterations=2)
    assert float((out[hid] >= 250).all(axis=-1).mean()) > 0.98
    inner_ring = ndimage.binary_erosion(visible, iterations=4)
    assert float((out[inner_ring] >= 250).all(axis=-1).mean()) < 0.02  # the ring stays
    codes = [w["code"] for w in res.warnings]
    assert "props_removed" in codes and "background_kept" not in codes
    assert image.pixels is not res.image.pixels


def test_without_the_v2_network_the_pad_is_not_cleanly_removed(results):
    """The comparison that shows the prop map is what does it: without it image analysis's
    piece (ring and pad) is grown back into the pad that v1 left out, and it stays."""
    _, res, _, _, pad, _ = results
    inner_pad = ndimage.binary_erosion(pad, iterations=4)
    assert float((res.image.pixels[inner_pad] < 250).any(axis=-1).mean()) > 0.05
    assert "props_removed" not in [w["code"] for w in res.warnings]


def test_a_v2_used_for_its_maps_only_removes_no_support(scenes):
    """find_props=False (the hybrid that takes only v2's shadow): the same prop map is
    ignored, nothing is counted as removed, and the analysis has no props map."""
    from models.analysis.classical import ClassicalAnalyzer
    from models.net.hybrid import HybridAnalyzer
    from models.pipeline import Retoucher

    photo, visible, _, pad = _scene(scenes)
    image = ImageData(scenes.to_codes(photo))
    options = RetouchOptions(background="white", shadow="none", finish="natural")
    analyzer = HybridAnalyzer(ClassicalAnalyzer(), net=RingOnly(visible),
                              props_net=PadMap(visible, pad), props_net_maps=("shadow",),
                              find_props=False)
    res = Retoucher(analyzer=analyzer).retouch(image, options)
    inner_pad = ndimage.binary_erosion(pad, iterations=4)
    assert float((res.image.pixels[inner_pad] < 250).any(axis=-1).mean()) > 0.05
    assert "props_removed" not in [w["code"] for w in res.warnings]
    analysis = analyzer.analyse(photo.astype(np.float32))  # the linear photo
    assert analysis.props is None and "props_removed" not in analysis.extras
