"""JewelNet v2: shapes and ranges at the 512 px working size, its size limit, the training
step on a tiny batch, the augmentation, and the weights file round trip (no renders)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models.net import train_v2 as T
from models.net.v2 import METAL_KINDS, OUTPUTS, JewelNetV2, parameter_count, predict, working_size


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the 2-core machine is shared, and two threads wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> JewelNetV2:
    torch.manual_seed(0)
    return JewelNetV2().eval()


@pytest.mark.parametrize("shape", [(512, 512), (384, 512), (512, 320)])
def test_outputs_at_the_working_size(model, shape):
    x = torch.rand(1, 3, *shape)
    with torch.inference_mode():
        maps, kind = model(x)
    assert maps.shape == (1, len(OUTPUTS), *shape)
    assert kind.shape == (1, len(METAL_KINDS))
    assert torch.isfinite(maps).all() and torch.isfinite(kind).all()
    probs = torch.sigmoid(maps)
    assert probs.min() >= 0 and probs.max() <= 1


def test_predict_returns_maps_at_the_photo_size(model):
    photo = torch.rand(3, 600, 900)
    out = predict(model, photo)
    for name in OUTPUTS:
        assert out[name].shape == (600, 900)
        assert 0 <= float(out[name].min()) and float(out[name].max()) <= 1
    assert out["metal_kind"] in METAL_KINDS
    assert abs(float(out["metal_kind_p"].sum()) - 1) < 1e-5
    assert working_size(600, 900) == (352, 512)  # long side 512, multiples of 32


def test_sizes_that_are_not_multiples_of_32_are_refused(model):
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 3, 500, 512))


def test_weights_stay_small(model):
    assert parameter_count(model) * 4 <= 30e6
    assert parameter_count(model) < 2_000_000  # compact: the CPU budget is 0.4 s at 512 px


def _tiny_data(n: int = 4, size: int = 64):
    """Discs of 'metal' on a textured backdrop, with their soft alpha and a shadow beside."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    photos, targets = [], []
    for _ in range(n):
        cx, cy, r = rng.uniform(20, 44), rng.uniform(20, 44), rng.uniform(8, 16)
        alpha = np.clip(r - np.hypot(xx - cx, yy - cy), 0, 1)
        shadow = np.clip(0.6 - np.hypot(xx - cx - 5, yy - cy - 5) / (2 * r), 0, 1) * (1 - alpha)
        back = 0.4 + 0.2 * rng.random((size, size, 1))
        img = alpha[:, :, None] * np.array([0.9, 0.75, 0.3]) + (1 - alpha[:, :, None]) * back * (
            1 - shadow[:, :, None]
        )
        photos.append(np.transpose((img * 255).astype(np.uint8), (2, 0, 1)))
        maps = np.stack([alpha, alpha, 0 * alpha, 0 * alpha, shadow, 0 * alpha])
        targets.append((maps * 255 + 0.5).astype(np.uint8))
    kinds = torch.tensor([METAL_KINDS.index("yellow_gold")] * n)
    return torch.from_numpy(np.stack(photos)), torch.from_numpy(np.stack(targets)), kinds


def test_training_reduces_the_loss_on_a_tiny_batch():
    data = _tiny_data()
    config = T.TrainConfigV2(steps=40, batch=4, crop=64, zoom=(1.0, 1.0), lr=5e-3, threads=1)
    model, log = T.train_v2(data, config)
    assert log["final_loss"] < 0.7 * log["first_loss"], log["curve"]
    assert not model.training
    # Trained on gold discs: it now calls the disc pixels piece and the backdrop not.
    photos, targets, _ = data
    with torch.inference_mode():
        maps, kind = model(photos.float() / 255)
    alpha = targets[:, 0].float() / 255
    piece = torch.sigmoid(maps[:, 0])
    assert float(piece[alpha == 1].mean()) > float(piece[alpha == 0].mean()) + 0.3


def test_checkpoints_are_copies_taken_at_their_steps():
    data = _tiny_data(n=2)
    config = T.TrainConfigV2(steps=6, batch=2, crop=64, zoom=(1.0, 1.0), threads=1)
    seen: list[tuple[int, str]] = []
    model, _ = T.train_v2(
        data,
        config,
        on_checkpoint=lambda net, step: seen.append((step, T.tensor_digest(net))),
        checkpoint_every=3,
    )
    assert [step for step, _ in seen] == [3, 6]
    assert seen[0][1] != seen[1][1]  # the weights moved between the checkpoints
    assert seen[1][1] == T.tensor_digest(model)  # the last one is the final model


def test_loss_weights_the_unknown_band_and_ignores_missing_kinds():
    config = T.TrainConfigV2()
    target = torch.zeros(1, 5, 32, 32)
    target[:, 0, 8:24, 8:24] = 1.0
    target[:, 0, 8:24, 7] = 0.5  # a soft edge column
    maps = torch.zeros(1, 5, 32, 32)
    kind = torch.zeros(1, len(METAL_KINDS))
    loss, parts = T.loss_v2(maps, kind, target, torch.tensor([T.IGNORE]), config)
    assert parts["kind"] == 0.0 and torch.isfinite(loss)
    wrong_edge = maps.clone()
    wrong_edge[:, 0, 8:24, 7] = -8  # says backdrop on the soft edge
    wrong_inside = maps.clone()
    wrong_inside[:, 0, 15, 8:24] = -8  # as many pixels wrong, inside the piece
    _, edge = T.loss_v2(wrong_edge, kind, target, torch.tensor([T.IGNORE]), config)
    _, inside = T.loss_v2(wrong_inside, kind, target, torch.tensor([T.IGNORE]), config)
    # Both moves add 16 x 0.5 of absolute matte error (from 0.5 everywhere); unweighted they
    # would cost the same. The soft edge is in the unknown band (x4), the inside row mostly not.
    assert edge["matte_l1"] > inside["matte_l1"]


def _shadow_scene():
    """A 32 px target: a piece (matte 1) and its cast shadow of strength 0.6 beside it."""
    target = torch.zeros(1, len(OUTPUTS), 32, 32)
    target[:, 0, 8:24, 8:16] = 1.0
    target[:, OUTPUTS.index("shadow"), 8:24, 16:26] = 0.6
    return target


def test_shadow_term_asks_for_the_shadow_strength():
    """BCE alone barely tells a faint shadow (0.2, what the first run learned) from the true
    0.6; the fine-tune's L1 + Dice term does, and it is off in the first recipe's config."""
    target = _shadow_scene()
    sh = OUTPUTS.index("shadow")
    kind = torch.zeros(1, len(METAL_KINDS))
    faint, right = torch.zeros_like(target), torch.zeros_like(target)
    faint[:, sh, 8:24, 16:26] = math.log(0.2 / 0.8)
    right[:, sh, 8:24, 16:26] = math.log(0.6 / 0.4)
    faint[:, sh][target[:, sh] == 0] = right[:, sh][target[:, sh] == 0] = -6.0
    ignore = torch.tensor([T.IGNORE])
    plain = T.TrainConfigV2()
    _, parts = T.loss_v2(faint, kind, target, ignore, plain)
    assert parts["shadow"] == 0.0
    tuned = T.TrainConfigV2(shadow_weight=2.0)
    loss_faint, p_faint = T.loss_v2(faint, kind, target, ignore, tuned)
    loss_right, p_right = T.loss_v2(right, kind, target, ignore, tuned)
    assert p_faint["shadow"] > 2 * p_right["shadow"]
    gap_plain = float(T.loss_v2(faint, kind, target, ignore, plain)[0]
                      - T.loss_v2(right, kind, target, ignore, plain)[0])
    assert float(loss_faint - loss_right) > 5 * gap_plain


def test_shadow_matte_weight_makes_a_matte_over_the_shadow_costly():
    target = _shadow_scene()
    kind = torch.zeros(1, len(METAL_KINDS))
    ignore = torch.tensor([T.IGNORE])
    clean = torch.full_like(target, -6.0)
    clean[:, 0, 8:24, 8:16] = 6.0
    over_shadow, over_backdrop = clean.clone(), clean.clone()
    over_shadow[:, 0, 8:24, 20:22] = 0.0  # a half-opaque matte on the shadow
    over_backdrop[:, 0, 8:24, 28:30] = 0.0  # as much on the open backdrop
    for weight, expect_more in ((0.0, False), (4.0, True)):
        config = T.TrainConfigV2(shadow_matte_weight=weight)
        _, on_shadow = T.loss_v2(over_shadow, kind, target, ignore, config)
        _, on_backdrop = T.loss_v2(over_backdrop, kind, target, ignore, config)
        if expect_more:
            assert on_shadow["matte_l1"] > 3 * on_backdrop["matte_l1"]
        else:
            assert on_shadow["matte_l1"] == pytest.approx(on_backdrop["matte_l1"])


def test_fine_tune_starts_from_the_init_weights(tmp_path: Path):
    """--init: the run starts from the given file (not a fresh seeded network) and records it;
    a missing file is refused before any work."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    photos, targets, _ = _tiny_data(n=2)
    for i in range(2):
        maps = {k: targets[i, j].numpy() for j, k in enumerate(OUTPUTS)}
        np.savez(data_dir / f"{i:07d}.npz", shot=np.transpose(photos[i].numpy(), (1, 2, 0)),
                 meta=np.array(json.dumps({"metal_kind": "yellow_gold"})), **maps)
    torch.manual_seed(7)
    start = JewelNetV2()
    init = tmp_path / "init.pt"
    T.save_v2(start, init, {"digest": T.tensor_digest(start)})
    common = ["--data", str(data_dir), "--steps", "2", "--batch", "2", "--crop", "64",
              "--lr", "1e-6", "--threads", "1"]
    tuned, fresh = tmp_path / "tuned.pt", tmp_path / "fresh.pt"
    assert T.main([*common, "--init", str(init), "--shadow-weight", "2",
                   "--weights", str(tuned)]) == 0
    assert T.main([*common, "--weights", str(fresh)]) == 0
    model, meta = T.load_v2(tuned)
    assert meta["init"]["digest"] == T.tensor_digest(start)
    assert meta["log"]["config"]["shadow_weight"] == 2.0
    # At a tiny learning rate two steps stay next to the start, far from a fresh network.
    # (parameters only: batch-norm statistics follow the batch whatever the start)
    start_params = dict(start.named_parameters())

    def distance(other: JewelNetV2) -> float:
        return max(
            float((p.detach() - start_params[k].detach()).abs().max())
            for k, p in other.named_parameters()
        )

    near = distance(model)
    far = distance(T.load_v2(fresh)[0])
    assert near < 0.05 < far
    # A first stage is checked against the digest the fine-tuned file records.
    stage_one = [*common, "--seed", "5", "--weights", str(tmp_path / "stage1.pt")]
    assert T.main(stage_one) == 0
    assert T.main([*common, "--init", str(tmp_path / "stage1.pt"), "--weights", str(tuned)]) == 0
    assert T.main([*stage_one, "--compare", str(tuned)]) == 0
    assert T.main([*common, "--seed", "6", "--weights", str(tmp_path / "other.pt"),
                   "--compare", str(tuned)]) == 1
    assert T.main([*common, "--init", str(tmp_path / "missing.pt"),
                   "--weights", str(tmp_path / "x.pt")]) == 2


def test_augment_warps_photo_and_truth_alike():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3, 3, 96, 96)
    y = x[:, :1].clone()
    xw, yw = T.augment(x, y, 64, (0.8, 1.2), gen)
    assert xw.shape == (3, 3, 64, 64) and yw.shape == (3, 1, 64, 64)
    gain = xw[:, :1] / yw.clamp(min=1e-3)  # one exposure gain per sample, the same warp
    for i in range(3):
        ok = (yw[i] > 0.05) & (xw[i, :1] < 0.999)
        g = gain[i][ok]
        assert float(g.max() - g.min()) < 1e-3


def test_weights_round_trip(tmp_path: Path, model):
    path = tmp_path / "v2.pt"
    T.save_v2(model, path, {"note": "test"})
    again, meta = T.load_v2(path)
    x = torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        a, ka = model(x)
        b, kb = again(x)
    assert torch.equal(a, b) and torch.equal(ka, kb)
    assert meta == {"note": "test"} and T.tensor_digest(model) == T.tensor_digest(again)


def test_load_samples_reads_composite_files(tmp_path: Path):
    size = 32
    alpha = np.zeros((size, size), np.float32)
    alpha[8:20, 8:20] = 1
    alpha[8:20, 20] = 0.25
    sample = {
        "shot": np.zeros((size, size, 3), np.uint8),
        "alpha": (alpha * 65535 + 0.5).astype(np.uint16),
        "piece": (alpha * 255 + 0.5).astype(np.uint8),
        "metal": (alpha * 255 + 0.5).astype(np.uint8),
        "gem": np.zeros((size, size), np.uint8),
        "defects": np.zeros((size, size), np.uint8),
        "shadow": np.zeros((size, size), np.uint8),
        "meta": np.array(json.dumps({"metal_kind": "silver"})),
    }
    np.savez(tmp_path / "0000000.npz", **sample)
    np.savez(tmp_path / "0000001.npz", **{**sample, "metal": np.zeros((size, size), np.uint8)})
    prop = np.zeros((size, size), np.uint8)
    prop[22:30, 4:28] = 255  # a felt pad under the piece
    np.savez(tmp_path / "0000002.npz", **{**sample, "prop": prop})
    photos, targets, kinds = T.load_samples(tmp_path)
    assert photos.shape == (3, 3, size, size) and targets.shape == (3, 6, size, size)
    assert int(targets[0, 0, 10, 20]) == 64  # 0.25 of the 16-bit matte, in 8 bits
    p = OUTPUTS.index("prop")
    assert int(targets[0, p].max()) == 0  # a sample without a prop map: no prop
    assert (targets[2, p].numpy() == prop).all()
    silver = METAL_KINDS.index("silver")
    assert kinds.tolist() == [silver, T.IGNORE, silver]  # no metal: no kind
    with pytest.raises(FileNotFoundError):
        T.load_samples(tmp_path / "empty")


def test_training_on_several_data_folders_uses_them_all(tmp_path: Path, capsys):
    photos, targets, _ = _tiny_data(n=3)
    folders = [tmp_path / "first", tmp_path / "second"]
    for f, ids in zip(folders, ([0, 1], [2]), strict=True):
        f.mkdir()
        for i in ids:
            maps = {k: targets[i, j].numpy() for j, k in enumerate(OUTPUTS)}
            np.savez(f / f"{i:07d}.npz", shot=np.transpose(photos[i].numpy(), (1, 2, 0)),
                     meta=np.array(json.dumps({"metal_kind": "silver"})), **maps)
    common = ["--steps", "1", "--batch", "2", "--crop", "64", "--threads", "1"]
    both, one = tmp_path / "both.pt", tmp_path / "one.pt"
    assert T.main(["--data", *map(str, folders), *common, "--weights", str(both)]) == 0
    assert f"3 samples from {folders[0]} {folders[1]}" in capsys.readouterr().out
    assert T.main(["--data", str(folders[0]), *common, "--weights", str(one)]) == 0
    assert "2 samples from" in capsys.readouterr().out
    assert T.load_v2(both)[1]["data"] == f"{folders[0]} {folders[1]}"
    assert T.tensor_digest(T.load_v2(both)[0]) != T.tensor_digest(T.load_v2(one)[0])
    missing = tmp_path / "nowhere"
    rc = T.main(["--data", str(folders[0]), str(missing), *common, "--weights", str(one)])
    assert rc == 2 and "nowhere" in capsys.readouterr().err
