"""The real-photo evaluation (models/eval/real.py) on photos the test makes itself."""

from __future__ import annotations

import csv

import numpy as np
from PIL import Image

from models.eval.real import evaluate_folder, figures


def test_it_writes_pairs_sheets_and_figures_and_survives_a_corrupt_file(tmp_path, scenes):
    photos = tmp_path / "photos"
    photos.mkdir()
    ring = scenes.ring_scene(h=360, w=480)
    Image.fromarray(ring.codes()).save(photos / "ring.png")
    rng = np.random.default_rng(0)
    busy = np.where(ring.piece[..., None], ring.codes(), rng.integers(0, 255, ring.codes().shape))
    Image.fromarray(busy.astype(np.uint8)).save(photos / "busy.jpg", quality=90)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    rows = evaluate_folder(photos, out)
    assert [r["photo"] for r in rows] == ["busy.jpg", "ring.png"]
    for name in ("ring.jpg", "ring_pair.png", "busy_pair.png", "sheet_01.png", "figures.md"):
        assert (out / name).exists(), name
    with open(out / "figures.csv") as handle:
        table = {row["photo"]: row for row in csv.DictReader(handle)}
    assert float(table["ring.png"]["border255"]) == 1.0  # a clean sweep comes out white
    assert table["ring.png"]["warnings"] == "low_resolution"  # 480 px: under 500 px
    assert "background_kept" in table["busy.jpg"]["warnings"]  # noise is not a backdrop
    assert float(table["busy.jpg"]["border255"]) < 0.5


def test_figures_measure_the_piece_and_the_islands():
    h, w = 60, 80
    photo = np.full((h, w, 3), 200, np.uint8)
    piece = np.zeros((h, w), bool)
    piece[20:40, 20:40] = True
    photo[piece] = 100
    out = np.full((h, w, 3), 255, np.uint8)
    out[piece] = 120  # brighter piece
    out[5:8, 60:63] = 180  # a grey island away from the piece
    row = figures(photo, out, piece, piece)
    assert row["lum"] > 1.05 and row["border255"] == 1.0
    assert abs(row["islands"] - 9 / (h * w)) < 1e-4
    assert row["clip_in"] == 0.0 and row["clip_out"] == 0.0


def test_the_command_refuses_v2_weights_for_an_analyzer_without_v2(tmp_path, capsys):
    import pytest

    from models.eval.real import main

    weights = tmp_path / "candidate.pt"
    weights.write_bytes(b"")  # never read: the pairing is refused first
    for analyzer, words in (("hybrid_v1", "does not use"), ("v2", "not found")):
        path = weights if analyzer == "hybrid_v1" else tmp_path / "missing.pt"
        with pytest.raises(SystemExit) as exc:
            main([str(tmp_path), "--out", str(tmp_path / "out"), "--analyzer", analyzer,
                  "--v2-weights", str(path)])
        assert exc.value.code == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # no work done
