"""eval_v2's scoring: the matting measures against the exact 16-bit coverage, the prop share
kept as piece, and one analyzer run per sample for all figures (no renders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.analysis import Analysis
from models.net.eval_v2 import score

SIZE = 32


class Recording:
    """An analyzer whose matte is `matte` everywhere; counts its calls."""

    def __init__(self, matte: float) -> None:
        self.matte = matte
        self.calls = 0

    def analyse(self, rgb: np.ndarray) -> Analysis:
        self.calls += 1
        m = np.full(rgb.shape[:2], self.matte, np.float32)
        zero = np.zeros_like(m)
        return Analysis(m, zero, zero.copy(), zero.copy(), zero.copy(), "silver", props=None)


@pytest.fixture
def samples(tmp_path: Path) -> list[Path]:
    """Two samples: a 10 x 10 piece (exact coverage 1) and beside it a 4 x 5 felt pad."""
    alpha = np.zeros((SIZE, SIZE), np.float32)
    alpha[4:14, 4:14] = 1.0
    prop = np.zeros((SIZE, SIZE), np.uint8)
    prop[20:24, 4:9] = 255
    blank = np.zeros((SIZE, SIZE), np.uint8)
    sample = {
        "shot": np.full((SIZE, SIZE, 3), 200, np.uint8),
        "alpha": (alpha * 65535).astype(np.uint16),
        "piece": (alpha * 255).astype(np.uint8),
        "metal": blank, "gem": blank, "defects": blank, "detail": blank, "shadow": blank,
        "prop": prop,
        "meta": np.array(json.dumps({"metal_kind": "silver"})),
    }
    paths = [tmp_path / "0000000.npz", tmp_path / "0000001.npz"]
    for p in paths:
        np.savez(p, **sample)
    return paths


def test_matting_measures_against_the_exact_coverage(samples):
    nothing = Recording(0.0)
    r = score(nothing, samples)
    assert r["matte_sad"] == pytest.approx(0.1)  # 100 pixels wrong by 1, per image, /1000
    assert r["matte_mse"] == pytest.approx(100 / SIZE**2, abs=1e-5)
    assert r["prop_kept"] == 0.0 and r["prop_iou"] is None  # no prop map of its own
    everything = score(Recording(1.0), samples)
    assert everything["prop_kept"] == 1.0  # the whole pad called piece
    assert everything["matte_sad"] == pytest.approx((SIZE**2 - 100) / 1000)
    assert everything["iou"]["matte"] == pytest.approx(100 / SIZE**2, abs=1e-4)


def test_each_sample_is_analysed_once_for_all_figures(samples):
    analyzer = Recording(0.5)
    score(analyzer, samples)
    assert analyzer.calls == len(samples)
