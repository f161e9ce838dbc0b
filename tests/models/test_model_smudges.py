"""Fingerprints and smudges on polished metal are smoothed away; real detail stays sharp."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models import ImageData, RetouchOptions


def _lum(codes: np.ndarray) -> np.ndarray:
    return codes.astype(np.float64).mean(axis=-1)


def _fine_energy(values: np.ndarray, region: np.ndarray) -> float:
    """Mean squared detail finer than a 5-px box (the ridge band) inside region."""
    fine = values - ndimage.uniform_filter(values, 5)
    return float((fine[region] ** 2).mean())


def _gradient_energy(values: np.ndarray, region: np.ndarray) -> float:
    gy, gx = np.gradient(values)
    return float((gx[region] ** 2 + gy[region] ** 2).mean())


def _retouch(retoucher, photo, cleanup):
    options = RetouchOptions(background="keep", cleanup=cleanup, hotspots=False)
    return retoucher.retouch(ImageData(photo), options).image.pixels


def test_fingerprint_on_polished_metal_is_removed_and_detail_kept(retoucher, scenes):
    scene = scenes.fingerprint_scene()
    photo = scene.codes()
    on = _lum(_retouch(retoucher, photo, True))
    off = _lum(_retouch(retoucher, photo, False))
    truth = _lum(scenes.to_codes(scene.clean))
    patch = scene.masks["print"]
    # The ridges are really there, and cleanup=false keeps them.
    excess_in = _fine_energy(_lum(photo), patch) - _fine_energy(truth, patch)
    excess_off = _fine_energy(off, patch) - _fine_energy(truth, patch)
    excess_on = _fine_energy(on, patch) - _fine_energy(truth, patch)
    assert excess_in > 4.0  # codes^2: visible ridges
    assert excess_off > 0.7 * excess_in
    assert excess_on < excess_off / 10  # the ridge energy drops by a large factor
    # The metal's broad reflection gradient through the patch is kept.
    broad_on = ndimage.gaussian_filter(on, 6)[patch]
    broad_off = ndimage.gaussian_filter(off, 6)[patch]
    assert np.abs(broad_on - broad_off).max() < 2.0
    assert broad_on.std() > 0.9 * broad_off.std() > 3.0
    # Engraving, milgrain and pave keep their gradient energy.
    for name in ("engraving", "milgrain", "pave"):
        region = scene.masks[name]
        kept = _gradient_energy(on, region) / _gradient_energy(off, region)
        assert 0.98 < kept < 1.02, (name, kept)
        assert _gradient_energy(off, region) > 0.4 * _gradient_energy(_lum(photo), region)
    # Smooth metal away from the print is left exactly as it was.
    far = scene.piece & ~ndimage.binary_dilation(patch, iterations=20)
    assert np.array_equal(on[far], off[far])


def test_fingerprint_cleanup_layer_marks_the_patch_only(retoucher, scenes):
    scene = scenes.fingerprint_scene()
    res = retoucher.retouch(
        ImageData(scene.codes()), RetouchOptions(background="keep"), layers=True
    )
    alpha = res.layers["cleanup"].pixels[..., 3] > 0
    inner = ndimage.binary_erosion(scene.masks["print"], iterations=6)
    assert alpha[inner].mean() > 0.9
    for name in ("engraving", "milgrain", "pave"):
        assert alpha[scene.masks[name]].mean() < 0.01, name


def test_fingerprint_is_removed_with_the_shipped_analyzer(product, scenes):
    scene = scenes.fingerprint_scene()
    photo = scene.codes()
    on = _lum(_retouch(product, photo, True))
    off = _lum(_retouch(product, photo, False))
    truth = _lum(scenes.to_codes(scene.clean))
    patch = ndimage.binary_erosion(scene.masks["print"], iterations=3)
    excess_off = _fine_energy(off, patch) - _fine_energy(truth, patch)
    excess_on = _fine_energy(on, patch) - _fine_energy(truth, patch)
    assert excess_on < excess_off / 5
