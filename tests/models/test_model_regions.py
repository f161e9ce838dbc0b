"""The per-pixel and per-region reductions the pipeline uses for speed give the same numbers
as NumPy's and SciPy's own (the independent references)."""

import numpy as np
import pytest
from scipy import ndimage

from models.ops.channels import channel_max, channel_min
from models.ops.regions import region_median, region_quantiles


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_region_median_matches_scipy_on_random_regions(dtype):
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        h, w = rng.integers(1, 50, size=2)
        mask = rng.random((h, w)) < rng.random()
        labels, count = ndimage.label(mask)
        if count == 0:
            continue
        values = (rng.random((h, w)) * 10).astype(dtype)
        if rng.random() < 0.4:  # ties, and regions of an even size with equal middles
            values = np.round(values).astype(dtype)
        expected = np.asarray(ndimage.median(values, labels, range(1, count + 1)))
        got = region_median(values, labels, count)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        checked += count
    assert checked > 500


def test_region_median_even_region_takes_the_mean_of_its_middle_values():
    labels = np.array([[1, 1, 1, 1, 0, 2, 2, 2]])
    values = np.array([[4.0, 1.0, 3.0, 100.0, -5.0, 7.0, 9.0, 8.0]], np.float32)
    np.testing.assert_array_equal(region_median(values, labels, 2), [3.5, 8.0])


def test_region_median_label_without_pixels_is_nan_and_shapes_must_agree():
    labels = np.array([[1, 1, 3]])
    values = np.array([[2.0, 4.0, 5.0]])
    got = region_median(values, labels, 3)
    np.testing.assert_array_equal(got[[0, 2]], [3.0, 5.0])
    assert np.isnan(got[1])
    assert region_median(values, np.zeros((1, 3), int), 0).shape == (0,)
    with pytest.raises(ValueError):
        region_median(values, labels.T, 3)


def test_region_quantiles_are_the_lower_nearest_rank_per_region():
    rng = np.random.default_rng(11)
    for _ in range(50):
        mask = rng.random((40, 40)) < 0.5
        labels, count = ndimage.label(mask)
        values = rng.normal(size=(40, 40))
        quantiles = (0.0, 0.25, 0.5, 0.9, 1.0)
        got = region_quantiles(values, labels, count, quantiles)
        for i in range(1, count + 1):
            inside = values[labels == i]
            for q, per_region in zip(quantiles, got, strict=True):
                assert per_region[i - 1] == np.quantile(inside, q, method="lower")
    # A region without pixels: inf, whatever the quantile.
    (low, high) = region_quantiles(np.ones((1, 2)), np.array([[2, 2]]), 2, (0.1, 0.9))
    assert np.isinf(low[0]) and np.isinf(high[0]) and low[1] == 1.0


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channel_reductions_match_numpy(channels):
    rng = np.random.default_rng(channels)
    rgb = rng.normal(size=(31, 17, channels)).astype(np.float32)
    np.testing.assert_array_equal(channel_max(rgb), rgb.max(axis=-1))
    np.testing.assert_array_equal(channel_min(rgb), rgb.min(axis=-1))
    assert channel_max(rgb).dtype == np.float32
    before = rgb.copy()
    channel_max(rgb)
    channel_min(rgb)
    np.testing.assert_array_equal(rgb, before)  # the input is not modified
