"""The shipped JewelNet v2 file (models/weights/jewelnet_v2.pt): small, loadable, what its
card says it is, and the prop finder of the evaluation hybrid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch


def test_the_v2_weights_are_small_and_carry_their_recipe():
    from models.net.analyzer_v2 import V2_WEIGHTS_PATH
    from models.net.train_v2 import load_v2, tensor_digest

    assert V2_WEIGHTS_PATH.exists()
    assert V2_WEIGHTS_PATH.stat().st_size <= 30e6
    model, meta = load_v2(V2_WEIGHTS_PATH)
    assert meta["digest"] == tensor_digest(model)  # the numbers are the ones trained
    config = meta["log"]["config"]
    assert config["threads"] == 1 and config["device"] == "cpu"  # the CPU recipe
    assert meta["log"]["samples"] >= 1000
    if "init" in meta:  # a fine-tune: its first run is named by digest (train_v2 --compare)
        assert len(meta["init"]["digest"]) == 64 and meta["init"]["digest"] != meta["digest"]
    blob = torch.load(V2_WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert json.loads(blob["config"])  # the architecture is in the file


def test_v2_analysis_has_every_map_at_the_photo_size():
    from models.net.analyzer_v2 import V2Analyzer

    rng = np.random.default_rng(0)
    rgb = (0.6 + 0.05 * rng.standard_normal((190, 250, 3))).clip(0, 1).astype(np.float32)
    rgb[60:130, 90:160] = [0.55, 0.42, 0.18]  # a gold-ish block on a grey sweep
    a = V2Analyzer().analyse(rgb)
    for name in ("matte", "metal", "gem", "defects", "shadow", "props"):
        m = getattr(a, name)
        assert m.shape == (190, 250) and m.dtype == np.float32, name
        assert 0 <= m.min() and m.max() <= 1, name
    assert (a.metal <= a.matte + 1e-6).all() and (a.props <= 1 - a.matte + 1e-6).all()
    assert a.metal_kind in ("yellow_gold", "rose_gold", "white_gold", "silver", "platinum")
    assert a.extras["analyzer"] == "jewelnet_v2" and len(a.extras["weights"]) == 64


def test_v2_finds_props_in_the_evaluation_hybrid_and_the_default_says_whether():
    from models.analyzers import PROPS_IN_DEFAULT, V2_MAPS, analyzer_by_name, default_analyzer
    from models.net.analyzer_v2 import V2Analyzer

    assert isinstance(analyzer_by_name("hybrid_props").props_net, V2Analyzer)
    default = default_analyzer()
    assert isinstance(default.props_net, V2Analyzer) == bool(PROPS_IN_DEFAULT or V2_MAPS)
    assert default.props_net_maps == V2_MAPS and default.find_props == PROPS_IN_DEFAULT


def test_evaluation_analyzers_take_candidate_v2_weights(tmp_path):
    """A candidate v2 file is judged through the same analyzers as the shipped one; asking it
    of an analyzer without v2, or naming a missing file, is an error, not a silent fallback."""
    from models.analyzers import analyzer_by_name
    from models.net.train_v2 import save_v2, tensor_digest
    from models.net.v2 import JewelNetV2

    torch.manual_seed(3)
    candidate = JewelNetV2()
    path = tmp_path / "candidate.pt"
    save_v2(candidate, path, {"sha256": "candidate"})
    v2 = analyzer_by_name("v2", path)
    assert tensor_digest(v2.model) == tensor_digest(candidate)
    hybrid = analyzer_by_name("hybrid_v2all", path)
    assert tensor_digest(hybrid.props_net.model) == tensor_digest(candidate)
    assert hybrid.props_net_maps == ("matte", "metal", "gem", "shadow")
    shipped = analyzer_by_name("hybrid_v2")
    assert tensor_digest(shipped.props_net.model) != tensor_digest(candidate)
    with pytest.raises(ValueError, match="does not use"):
        analyzer_by_name("hybrid_v1", path)
    with pytest.raises(ValueError, match="not found"):
        analyzer_by_name("v2", tmp_path / "missing.pt")
