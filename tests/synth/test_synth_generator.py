"""The renderer's determinism, the exactness of its masks, the degradations and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.synth import geometry as g
from models.synth.dataset import MASK_KEYS, SynthConfig, load_sample, make_sample
from models.synth.degrade import degrade, srgb_decode, srgb_encode
from models.synth.jewelry import PIECE_KINDS, Design, design
from models.synth.optics import METALS
from models.synth.render import render_passes
from models.synth.studio import Camera, Light, Studio, backdrop_texture

REPO = Path(__file__).resolve().parents[2]


def _sample_in_a_new_process(seed: int, config: SynthConfig, out: Path) -> dict:
    """make_sample(seed, config) run by a fresh Python interpreter, read back from `out`."""
    code = (
        "import sys, numpy as np\n"
        "from models.synth.dataset import SynthConfig, make_sample\n"
        "s = make_sample(int(sys.argv[1]), SynthConfig(int(sys.argv[2]), int(sys.argv[3])))\n"
        "np.savez(sys.argv[4], **s)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [str(seed), str(config.resolution), str(config.spp), str(out)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def test_same_seed_gives_the_same_sample_and_other_seed_differs(tmp_path):
    """Every array, the path-traced clean and shot images included, is a bit-exact function
    of the seed: twice in this process and once more in a new one."""
    config = SynthConfig(32, 32)
    a = make_sample(7, config)
    b = make_sample(7, config)
    fresh = _sample_in_a_new_process(7, config, tmp_path / "seed7.npz")
    c = make_sample(8, config)
    keys = ("clean", "shot", *MASK_KEYS)
    for other, where in ((b, "same process"), (fresh, "new process")):
        assert str(a["meta"]) == str(other["meta"]), where
        for key in keys:
            assert a[key].dtype == other[key].dtype, (where, key)
            np.testing.assert_array_equal(a[key], other[key], err_msg=f"{where}: {key}")
    assert str(a["meta"]) != str(c["meta"])
    mean_diff = np.abs(a["clean"].astype(float) - c["clean"].astype(float)).mean() / 65535
    assert mean_diff > 0.1


def test_sample_layout(tiny_dataset):
    s = load_sample(tiny_dataset / "0000000.npz")
    assert s["shot"].shape == (32, 32, 3) and s["shot"].dtype == np.uint8
    assert s["clean"].shape == (32, 32, 3) and s["clean"].dtype == np.uint16
    for key in MASK_KEYS:
        assert s[key].shape == (32, 32) and s[key].dtype == np.uint8, key
    # piece = metal + gem (flat-colour classes are exclusive per pixel, up to rounding)
    total = s["metal"].astype(int) + s["gem"].astype(int)
    assert np.abs(np.minimum(total, 255) - s["piece"].astype(int)).max() <= 1
    assert s["piece"].max() == 255, "the piece must be in frame"
    assert s["meta"]["seed"] == 0 and s["meta"]["kind"] in PIECE_KINDS


def _studio_looking_down(distance: float, fov: float) -> Studio:
    tex = backdrop_texture("white", np.random.default_rng(0), size=16)
    light = Light("rectangle", np.array([0.0, 2.0, 8.0]), 6.0, (3.0, 3.0, 3.0))
    cam = Camera(np.array([0.0, 0.0, distance]), np.zeros(3), fov)
    return Studio("white", tex, "softboxes", [light], [], 0.2, cam)


def test_masks_cover_exactly_the_projected_parts():
    """A metal ball and a separate cabochon stone seen from straight above: the mask areas
    must match the analytic projected discs, with fractional coverage on the outlines."""
    d = Design("test", "yellow_gold")
    d.add(g.sphere((-0.5, 0.0, 0.3), 0.3, 24, 48))
    d.add(g.sphere((0.5, 0.0, 0.25), 0.25, 24, 48), "onyx")
    distance, fov, res = 10.0, 12.0, 64
    passes = render_passes(d, _studio_looking_down(distance, fov), (res, res), 8, 0)
    masks = passes["masks"]
    px_per_unit = res / 2 / np.tan(np.radians(fov / 2))

    def disc_area(radius, height=0.0):
        ang = np.arcsin(radius / (distance - height))
        return np.pi * (np.tan(ang) * px_per_unit) ** 2

    metal_area, gem_area = masks[:, :, 0].sum(), masks[:, :, 1].sum()
    assert metal_area == pytest.approx(disc_area(0.3, 0.3), rel=0.06)
    assert gem_area == pytest.approx(disc_area(0.25, 0.25), rel=0.06)
    # metal on the left half, gem on the right half, no detail flag on either
    half = res // 2
    assert masks[:, half:, 0].sum() < 1e-3 and masks[:, :half, 1].sum() < 1e-3
    assert masks[:, :, 2].max() == 0
    soft = (masks[:, :, 0] > 0.05) & (masks[:, :, 0] < 0.95)
    assert soft.sum() > 10, "outline pixels should get fractional coverage"
    # the beauty pass sees the gold ball: warmer (R > B) than the white backdrop around it
    beauty = passes["beauty"]
    ball = masks[:, :, 0] > 0.99
    assert beauty[ball][:, 0].mean() > 1.3 * beauty[ball][:, 2].mean()


def test_every_piece_kind_builds_closed_meshes():
    rng = np.random.default_rng(3)
    for kind in PIECE_KINDS:
        d = design(kind, "platinum", rng)
        assert d.parts, kind
        for part in d.parts:
            assert part.mesh.faces.max() < len(part.mesh.vertices)
            assert np.isfinite(part.mesh.vertices).all()
        lo, hi = d.bounds()
        assert lo[2] >= -0.05, f"{kind} sinks into the backdrop"
    with pytest.raises(ValueError):
        design("tiara", "platinum", rng)
    with pytest.raises(ValueError):
        design("solitaire", "tin", rng)


def test_alloys_have_the_right_hue():
    gold, rose, silver = METALS["yellow_gold"], METALS["rose_gold"], METALS["silver"]
    # low n and high k in red, high n in blue: gold reflects red more than blue
    assert gold.eta[0] < gold.eta[2] and gold.k[0] > gold.k[2]
    assert rose.eta[1] > gold.eta[1]  # copper lowers green reflectance
    assert max(silver.eta) < 0.2


def test_degrade_marks_what_it_changed():
    rng = np.random.default_rng(5)
    clean = np.full((64, 64, 3), 0.8, np.float32)
    metal = np.zeros((64, 64), np.float32)
    metal[16:48, 16:48] = 1.0
    shot, defects, facts = degrade(clean, metal, rng)
    assert shot.shape == (64, 64, 3) and shot.dtype == np.uint8
    assert defects.shape == (64, 64) and 0 <= defects.min() and defects.max() <= 1
    assert facts["dust"] + facts["lint"] + facts["scratches"] + facts["fingerprints"] > 0
    assert (defects > 0.5).any()
    # defect pixels deviate from the uniform backdrop far more than clean ones do
    lum = srgb_decode(shot / 255.0).mean(axis=2)
    spread = np.median(lum[defects == 0])
    dev_clean = np.abs(lum[defects == 0] - spread).mean()
    dev_defect = np.abs(lum[defects > 0.5] - spread).mean()
    assert dev_defect > 3 * dev_clean
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(srgb_decode(srgb_encode(x)), x, atol=1e-6)


def test_cli_synth_is_resumable(tmp_path):
    from server.cli import main

    args = [
        "synth",
        "--count",
        "2",
        "--out",
        str(tmp_path),
        "--resolution",
        "24",
        "--spp",
        "2",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    files = sorted(tmp_path.glob("*.npz"))
    assert [f.name for f in files] == ["0000000.npz", "0000001.npz"]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert main(args[:2] + ["3"] + args[3:]) == 0  # one more sample; the first two are kept
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert len(list(tmp_path.glob("*.npz"))) == 3
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files left behind"
    assert load_sample(tmp_path / "0000002.npz")["shot"].shape == (24, 24, 3)


def test_cli_synth_rejects_bad_arguments(tmp_path, capsys):
    from server.cli import main

    assert main(["synth", "--count", "-1", "--out", str(tmp_path)]) == 2
    assert "--count" in capsys.readouterr().out
