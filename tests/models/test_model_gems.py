"""Gems: protect-gems is bit-exact; micro-contrast is local, not a global brighten."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models import ImageData, RetouchOptions


def _energy(values: np.ndarray, mask: np.ndarray) -> float:
    gy, gx = np.gradient(values)
    return float((gy**2 + gx**2)[mask].mean())


def test_protect_gems_leaves_gem_pixels_bit_identical(retoucher, scenes):
    scene = scenes.gem_scene()
    photo = scene.codes()
    res = retoucher.retouch(
        ImageData(photo), RetouchOptions(protect_gems=True, gem_contrast=1.0), layers=True
    )
    stone = scene.masks["gem"]
    inner = ndimage.binary_erosion(stone, iterations=1)
    assert np.array_equal(res.image.pixels[inner], photo[inner])
    # ... while the metal around it was retouched, and the mask found the stone.
    shank = ndimage.binary_erosion(scene.masks["metal"], iterations=2)
    assert not np.array_equal(res.image.pixels[shank], photo[shank])
    gem_mask = res.masks["gem"] > 127
    assert gem_mask[stone].mean() > 0.9
    assert gem_mask[shank].mean() < 0.05


def test_gem_micro_contrast_is_local(retoucher, scenes):
    scene = scenes.gem_scene()
    photo = ImageData(scene.codes())
    flat = retoucher.retouch(photo, RetouchOptions(gem_contrast=0.0)).image.pixels
    crisp = retoucher.retouch(photo, RetouchOptions(gem_contrast=1.0)).image.pixels
    stone = ndimage.binary_erosion(scene.masks["gem"], iterations=2)
    lum_flat = flat.astype(float).mean(axis=-1)
    lum_crisp = crisp.astype(float).mean(axis=-1)
    assert _energy(lum_crisp, stone) > 1.15 * _energy(lum_flat, stone)
    assert abs(lum_crisp[stone].mean() - lum_flat[stone].mean()) < 0.03 * lum_flat[stone].mean()
    shank = ndimage.binary_erosion(scene.masks["metal"], iterations=3)
    assert np.abs(crisp[shank].astype(int) - flat[shank].astype(int)).max() <= 1
