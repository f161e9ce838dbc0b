"""JewelNet: training end to end on a tiny set, the shipped weights, and the pipeline with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.analysis import Analysis
from models.net.analyzer import WEIGHTS_PATH, NetAnalyzer
from models.net.model import OUTPUTS, JewelNet
from models.net.train import TrainConfig, load_weights, save_weights, train


def test_training_runs_end_to_end_on_a_tiny_set(tiny_dataset, tmp_path):
    config = TrainConfig(seed=3, steps=4, batch=2, crop=32, lr=1e-2)
    model, log = train(tiny_dataset, config)
    assert log["samples"] == 3 and np.isfinite(log["final_loss"])
    torch.manual_seed(3)
    before = JewelNet()  # the same initialisation the training started from
    changed = any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), before.state_dict().values(), strict=True)
    )
    assert changed, "training must update the weights"
    # the same seed gives the same weights, bit for bit (what `jewel-retouch train` promises)
    again, _ = train(tiny_dataset, config)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    path = tmp_path / "w.pt"
    save_weights(model, path, {"note": "tiny"})
    loaded, meta = load_weights(path)
    assert meta == {"note": "tiny"}
    x = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x))


def test_training_windows_keep_the_samples_pixel_scale():
    from models.net.train import _augment

    size, crop = 64, 32
    ramp = torch.arange(size, dtype=torch.float32).repeat(size, 1) / size  # 1/size per pixel
    y = ramp[None, None].repeat(8, 1, 1, 1)
    x = torch.rand(8, 3, size, size)
    xw, yw = _augment(x, y, crop, torch.Generator().manual_seed(0))
    assert xw.shape == (8, 3, crop, crop) and yw.shape == (8, 1, crop, crop)
    step = (yw[..., 1:] - yw[..., :-1]).abs().mean(dim=(1, 2, 3)) * size  # input px per output px
    # zoom 1-2x: one output pixel spans 0.5-1 input pixels (never a shrunk whole frame)
    assert torch.all(step > 0.49) and torch.all(step < 1.01), step
    assert step.max() - step.min() > 0.1  # the zoom varies
    whole, _ = _augment(x, y, size, torch.Generator().manual_seed(0))
    assert whole.shape[-1] == size


def test_shipped_weights_are_small_and_load():
    assert WEIGHTS_PATH.exists()
    assert WEIGHTS_PATH.stat().st_size < 5 * 1024 * 1024
    from models.net.reproduce import DEFAULTS
    from models.net.train import tensor_digest

    model, meta = load_weights(WEIGHTS_PATH)
    assert meta["heldout_seeds"][0] >= 1_000_000  # held-out seeds never used in training
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    # The shipped file is what `jewel-retouch train` makes with its defaults, and it records
    # the digest of its learned numbers (what --compare checks a new run against).
    assert meta["train_seeds"] == [0, DEFAULTS["count"]]
    assert meta["heldout_seeds"][1] - meta["heldout_seeds"][0] == DEFAULTS["heldout"]
    config = meta["train"]["config"]
    for key in ("seed", "steps", "batch", "crop", "threads"):
        assert config[key] == DEFAULTS[key], key
    assert config["device"] == "cpu"
    assert meta["synth"] == {
        "resolution": DEFAULTS["resolution"],
        "spp": DEFAULTS["spp"],
        "variant": "llvm_ad_rgb",
    }
    assert meta["tensor_sha256"] == tensor_digest(model)


@pytest.mark.parametrize("shape", [(50, 70), (300, 200)])
def test_net_analyzer_maps_have_input_shape_and_range(shape):
    rgb = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    analysis = NetAnalyzer().analyse(rgb)
    assert isinstance(analysis, Analysis)
    for name in ("matte", "metal", "gem", "defects", "shadow"):
        m = getattr(analysis, name)
        assert m.shape == shape and m.dtype == np.float32, name
        assert 0.0 <= m.min() and m.max() <= 1.0, name
    assert set(NetAnalyzer().predict(rgb)) == set(OUTPUTS)


def test_net_analyzer_rejects_bad_input():
    with pytest.raises(ValueError):
        NetAnalyzer().analyse(np.zeros((10, 10), np.float32))


def test_shipped_network_finds_the_piece_in_fresh_renders():
    """Six held-out seeds rendered now (never seen in training): the median matte IoU is high.

    (Thin tennis bracelets are the known weak case, see models/MODEL_CARD.md; the median keeps
    one such sample from deciding the test.)"""
    from models.synth.dataset import HELDOUT_SEED_BASE, SynthConfig, make_sample
    from models.synth.degrade import srgb_decode

    net = NetAnalyzer()
    ious = []
    for seed in range(HELDOUT_SEED_BASE + 500, HELDOUT_SEED_BASE + 506):
        s = make_sample(seed, SynthConfig(128, 32))
        rgb = srgb_decode(s["shot"] / 255.0).astype(np.float32)
        matte = net.analyse(rgb).matte > 0.5
        truth = s["piece"] > 127
        ious.append((matte & truth).sum() / max((matte | truth).sum(), 1))
    assert np.median(ious) > 0.7, ious


def test_pipeline_runs_with_the_network():
    import models
    from models.analyzers import default_analyzer
    from models.api import ImageData, RetouchOptions
    from models.net.hybrid import HybridAnalyzer

    assert isinstance(default_analyzer(), HybridAnalyzer)
    rng = np.random.default_rng(1)
    pixels = np.full((120, 160, 3), 215, np.uint8)
    yy, xx = np.mgrid[0:120, 0:160]
    ring = np.abs(np.hypot(yy - 60, xx - 80) - 30) < 6
    pixels[ring] = (200, 160, 60)  # a gold-coloured ring on a light backdrop
    pixels = np.clip(pixels + rng.normal(0, 2, pixels.shape), 0, 255).astype(np.uint8)
    original = pixels.copy()
    result = models.load().retouch(ImageData(pixels), RetouchOptions(), layers=True)
    assert result.image.pixels.shape == pixels.shape
    assert result.image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, original)  # the input is never modified
    assert result.info.get("analyzer") == "hybrid"


class Oracle:
    """An analyzer that answers each sample's own ground truth (inverted: its opposite)."""

    def __init__(self, paths, inverted=False):
        from models.synth.dataset import load_sample

        self.samples = [load_sample(p) for p in paths]
        self.inverted = inverted

    def analyse(self, rgb):
        s = self.samples.pop(0)
        assert s["shot"].shape[:2] == rgb.shape[:2]

        def plane(name, threshold):
            truth = (s[name] > threshold).astype(np.float32)
            return 1.0 - truth if self.inverted else truth

        kind = s["meta"]["metal_kind"]
        wrong = "silver" if kind != "silver" else "platinum"
        return Analysis(
            plane("piece", 127),
            plane("metal", 127),
            plane("gem", 127),
            plane("defects", 63),
            plane("shadow", 38),
            wrong if self.inverted else kind,
        )


def test_metrics_score_the_truth_perfectly_and_its_opposite_at_zero(tiny_dataset):
    from models.net.metrics import evaluate

    paths = sorted(tiny_dataset.glob("*.npz"))
    best = evaluate(Oracle(paths), paths)
    assert best["samples"] == 3
    assert best["iou"]["matte"] == 1.0  # every sample has a piece: never None
    for key in ("metal", "gem"):
        assert best["iou"][key] in (1.0, None), key  # None only when no sample has any
    assert best["metal_kind_accuracy"] in (1.0, None)
    assert best["fp_edges"] == 0.0 and best["fp_detail"] in (0.0, None)
    assert best["defect_pixel_recall"] in (1.0, None)
    worst = evaluate(Oracle(paths, inverted=True), paths)
    assert worst["iou"]["matte"] == 0.0
    assert worst["iou"]["metal"] in (0.0, None) and worst["iou"]["gem"] in (0.0, None)
    assert worst["metal_kind_accuracy"] in (0.0, None)
    assert worst["fp_edges"] == 1.0


def test_metrics_of_the_shipped_network_on_tiny_samples(tiny_dataset):
    from models.net.metrics import evaluate

    out = evaluate(NetAnalyzer(), sorted(tiny_dataset.glob("*.npz")))
    assert out["samples"] == 3
    assert 0.0 <= out["iou"]["matte"] <= 1.0  # a number: the samples all hold a piece
    assert out["seconds_per_image"] > 0
    for k in ("metal", "gem"):
        assert out["iou"][k] is None or 0.0 <= out["iou"][k] <= 1.0
    for k in ("fp_detail", "fp_edges", "defect_pixel_recall"):
        assert out[k] is None or 0.0 <= out[k] <= 1.0


def test_cli_train_renders_trains_and_writes_weights(tmp_path, capsys):
    from server.cli import main

    weights = tmp_path / "w.pt"
    args = [
        "train",
        "--data",
        str(tmp_path / "train"),
        "--heldout-dir",
        str(tmp_path / "held"),
        "--count",
        "2",
        "--heldout",
        "1",
        "--steps",
        "2",
        "--batch",
        "2",
        "--resolution",
        "32",
        "--spp",
        "2",
        "--workers",
        "1",
        "--weights",
        str(weights),
    ]
    assert main(args) == 0
    assert len(list((tmp_path / "train").glob("*.npz"))) == 2
    assert len(list((tmp_path / "held").glob("1*.npz"))) == 1
    model, meta = load_weights(weights)
    assert meta["train_seeds"] == [0, 2] and meta["train"]["config"]["steps"] == 2
    assert meta["synth"]["variant"] == "llvm_ad_rgb"
    assert '"sha256"' in capsys.readouterr().out
    # a second run (the samples are on disk now) reproduces the weights bit for bit
    again = tmp_path / "again.pt"
    assert main([*args[:-1], str(again), "--compare", str(weights)]) == 0
    assert "identical to" in capsys.readouterr().out
    assert load_weights(again)[1]["tensor_sha256"] == meta["tensor_sha256"]
    # a different training seed does not, and the exit status says so
    other = tmp_path / "other.pt"
    assert main([*args[:-1], str(other), "--seed", "5", "--compare", str(weights)]) == 1
    assert "DIFFERENT from" in capsys.readouterr().out


def test_guided_upsampling_puts_mask_edges_on_image_edges():
    from torch.nn import functional as F

    from models.net.guided import guided_upsample

    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    truth = (np.hypot(yy - 48, xx - 48) < 30).astype(np.float32)
    guide = np.where(truth > 0, 0.8, 0.2).astype(np.float32)

    def area(a):
        return F.interpolate(torch.from_numpy(a)[None, None], size=(24, 24), mode="area")[0]

    low = area(truth).numpy()
    blurry = F.interpolate(torch.from_numpy(low)[None], size=(h, w), mode="bilinear")[0]
    sharp = guided_upsample(low, area(guide)[0].numpy(), guide)
    assert sharp.shape == (1, h, w) and 0 <= sharp.min() and sharp.max() <= 1
    err_blurry = np.abs(blurry[0].numpy() - truth).mean()
    err_sharp = np.abs(sharp[0] - truth).mean()
    assert err_sharp < 0.3 * err_blurry, (err_sharp, err_blurry)
