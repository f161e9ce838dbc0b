"""Dust and scratch removal that keeps pave, prongs and edges."""

from __future__ import annotations

import numpy as np

from models import ImageData, RetouchOptions


def _surround(values: np.ndarray, mask: np.ndarray, pad: int = 4) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    box = values[ys.min() - pad : ys.max() + pad + 1, xs.min() - pad : xs.max() + pad + 1]
    inner = mask[ys.min() - pad : ys.max() + pad + 1, xs.min() - pad : xs.max() + pad + 1]
    return box[~inner]


def test_isolated_speck_on_metal_is_removed_and_pave_kept(retoucher, scenes):
    scene = scenes.cleanup_scene()
    photo = scene.codes()
    res = retoucher.retouch(ImageData(photo), RetouchOptions(background="keep"), layers=True)
    out = res.image.pixels.astype(float).mean(axis=-1)
    src = photo.astype(float).mean(axis=-1)
    speck = scene.masks["speck_metal"]
    assert src[speck].mean() < 0.6 * np.median(_surround(src, speck))  # really a dark speck
    assert abs(out[speck].mean() - np.median(_surround(out, speck))) < 6
    # Pave: every 3-px stone is still there, as dark against its metal as before.
    pave = scene.masks["pave"]
    ys, xs = np.nonzero(pave)
    region = (slice(ys.min() - 2, ys.max() + 3), slice(xs.min() - 2, xs.max() + 3))
    contrast_in = src[region][~pave[region]].mean() - src[region][pave[region]].mean()
    contrast_out = out[region][~pave[region]].mean() - out[region][pave[region]].mean()
    assert contrast_in > 40
    assert contrast_out > 0.85 * contrast_in
    corr = np.corrcoef(src[region].ravel(), out[region].ravel())[0, 1]
    assert corr > 0.95
    # The cleanup layer says where it worked: the speck, not the pave.
    alpha = res.layers["cleanup"].pixels[..., 3]
    assert (alpha[speck] == 255).all()
    assert (alpha[pave] == 0).mean() > 0.99


def test_isolated_speck_on_backdrop_is_removed(retoucher, scenes):
    scene = scenes.cleanup_scene()
    photo = scene.codes()
    for background in ("white", "keep"):
        out = retoucher.retouch(ImageData(photo), RetouchOptions(background=background))
        px = out.image.pixels.astype(float).mean(axis=-1)
        speck = scene.masks["speck_back"]
        assert abs(px[speck].mean() - np.median(_surround(px, speck))) < 3, background


def test_cleanup_off_keeps_the_speck(retoucher, scenes):
    scene = scenes.cleanup_scene()
    photo = scene.codes()
    out = retoucher.retouch(ImageData(photo), RetouchOptions(background="keep", cleanup=False))
    px = out.image.pixels.astype(float).mean(axis=-1)
    speck = scene.masks["speck_metal"]
    assert px[speck].mean() < 0.7 * np.median(_surround(px, speck))


def test_speck_across_a_tile_boundary_is_removed(retoucher, scenes):
    from models import pipeline

    h, w = pipeline.TILE_ROWS + 80, 200
    rng = np.random.default_rng(3)
    photo = np.clip(rng.normal(180, 1.0, (h, w, 3)), 0, 255).astype(np.uint8)
    y = pipeline.TILE_ROWS - 1  # rows TILE_ROWS-2 .. TILE_ROWS straddle two tiles
    photo[y - 1 : y + 2, 100:103] = 60
    out = retoucher.retouch(ImageData(photo), RetouchOptions(background="keep")).image.pixels
    assert out[y - 1 : y + 2, 100:103].min() > 170


def test_cleanup_near_the_piece_only_gives_the_same_bytes_as_the_whole_tile(
    retoucher, scenes, monkeypatch
):
    """With a white backdrop the speck search is cropped to the piece's box plus context; a
    crop too small would change speck decisions or fills inside the piece, which shows here."""
    import models.pipeline as pipeline

    pad_y, pad_x = 150, 200  # silver bar at rows 51-189, columns 41-319, moved by these
    scene = scenes.cleanup_scene(h=240 + 2 * pad_y, w=360 + 2 * pad_x, oy=pad_y, ox=pad_x)
    photo = scene.codes()
    rng = np.random.default_rng(4)
    ys, xs = rng.integers(0, photo.shape[0], 1500), rng.integers(0, photo.shape[1], 1500)
    far = np.hypot(ys - (120 + pad_y), xs - (318 + pad_x)) > 40
    photo[ys[far], xs[far]] = photo[ys[far], xs[far]] // 3  # specks, far and near the piece
    # A 32-px dark fibre lying across the bar's right edge: too long to be lint, so it stays;
    # a crop that cut it short (to the box alone) would wrongly paint its inner part away.
    photo[120 + pad_y, 309 + pad_x : 341 + pad_x] //= 3
    cropped = retoucher.retouch(ImageData(photo), RetouchOptions())
    monkeypatch.setattr(pipeline, "SPECK_CONTEXT", 10**6)  # the region becomes the whole tile
    whole = retoucher.retouch(ImageData(photo), RetouchOptions())
    np.testing.assert_array_equal(cropped.image.pixels, whole.image.pixels)
    # The fibre's part on the bar is still there (a crop that cut it short would have made
    # it short enough to count as lint and painted it away).
    on_bar = cropped.image.pixels[120 + pad_y, 311 + pad_x : 318 + pad_x].astype(int)
    beside = cropped.image.pixels[118 + pad_y, 311 + pad_x : 318 + pad_x].astype(int)
    assert (on_bar < beside - 40).all()
