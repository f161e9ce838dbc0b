"""The catalog batch runner on real files: structure, resume, atomic writes, errors, manifest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.api import ImageData, RetouchOptions
from server.batch import BatchSettings, PlanError, SettingsMismatch, plan_batch, run_batch
from server.batch.plan import confined
from server.batch.store import write_atomic
from server.raw import srgb_icc_profile

GOOD = ["earrings/studs.png", "hero.png", "rings/band.jpg", "rings/gold/eternity.png"]
GOOD += ["rings/solitaire.png"]


def digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def output_files(out: Path) -> list[str]:
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and ".jewel-retouch" not in p.parts
    )


def test_batch_keeps_structure_and_never_touches_inputs(tmp_path, catalog):
    in_dir, _ = catalog
    before = digest_tree(in_dir)
    out = tmp_path / "out"
    manifest = run_batch(in_dir, out, BatchSettings())
    assert digest_tree(in_dir) == before
    assert output_files(out) == sorted(GOOD)
    for rel in GOOD:
        with Image.open(in_dir / rel) as src, Image.open(out / rel) as dst:
            assert dst.size == src.size and dst.mode == src.mode
            assert dst.format == src.format
    summary = manifest.summary()
    assert summary == {
        "total": 6,
        "ok": 5,
        "skipped": 0,
        "failed": 1,
        "interrupted": 0,
        "pending": 0,
    }


def test_bad_file_is_reported_in_the_manifest_and_the_rest_continue(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    manifest = run_batch(in_dir, out, BatchSettings())
    saved = json.loads(manifest.path.read_text())
    by_input = {f["input"]: f for f in saved["files"]}
    assert by_input["rings/broken.png"]["status"] == "failed"
    assert "corrupt" in by_input["rings/broken.png"]["error"]
    for rel in GOOD:
        assert by_input[rel]["status"] == "ok"
        assert by_input[rel]["error"] is None
        assert by_input[rel]["seconds"] >= 0
        assert by_input[rel]["bytes"] == (out / rel).stat().st_size
    assert saved["finished"] is not None
    assert saved["settings"]["options"] == RetouchOptions().to_dict()


def test_rerun_skips_finished_outputs_and_redoes_missing_ones(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    run_batch(in_dir, out, BatchSettings())
    kept = out / "hero.png"
    stamp = kept.stat().st_mtime_ns
    (out / "rings" / "band.jpg").unlink()
    second = run_batch(in_dir, out, BatchSettings())
    statuses = {r.input: r.status for r in second.records.values()}
    assert statuses["rings/band.jpg"] == "ok"
    assert statuses["hero.png"] == "skipped"
    assert sum(s == "skipped" for s in statuses.values()) == 4
    assert kept.stat().st_mtime_ns == stamp
    assert (out / "rings" / "band.jpg").is_file()
    assert len(list((out / ".jewel-retouch").glob("manifest-*.json"))) == 2


def test_resume_with_other_settings_is_refused_unless_overwrite(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    run_batch(in_dir, out, BatchSettings())
    other = BatchSettings(RetouchOptions(strength=0.5))
    with pytest.raises(SettingsMismatch, match="other settings"):
        run_batch(in_dir, out, other)
    redone = run_batch(in_dir, out, other, overwrite=True)
    assert redone.summary()["ok"] == 5


def test_two_jobs_give_the_same_bytes_as_one(tmp_path, catalog):
    in_dir, _ = catalog
    run_batch(in_dir, tmp_path / "one", BatchSettings())
    run_batch(in_dir, tmp_path / "two", BatchSettings(), jobs=2)
    one = {k: v for k, v in digest_tree(tmp_path / "one").items() if ".jewel" not in k}
    two = {k: v for k, v in digest_tree(tmp_path / "two").items() if ".jewel" not in k}
    assert one == two and len(one) == 5


def test_output_format_conversion(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    run_batch(in_dir, out, BatchSettings(format="jpg"))  # the old name still means jpeg
    names = output_files(out)
    assert "rings/gold/eternity.jpg" in names and "hero.jpg" in names
    with Image.open(out / "rings/gold/eternity.jpg") as img:  # RGBA input, flattened on white
        assert img.format == "JPEG" and img.mode == "RGB"


def test_transparent_background_with_jpeg_is_refused_before_any_work(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    settings = BatchSettings(RetouchOptions(background="transparent"), format="jpg")
    with pytest.raises(PlanError, match="alpha"):
        run_batch(in_dir, out, settings)
    assert not out.exists()


def test_same_output_name_from_two_inputs_is_kept_apart(tmp_path):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    pixels = np.full((8, 8, 3), 200, np.uint8)
    Image.fromarray(pixels).save(in_dir / "ring.png")
    Image.fromarray(pixels).save(in_dir / "ring.jpg")
    items = plan_batch(in_dir, tmp_path / "out", "png")
    assert sorted(i.target for i in items) == ["ring.png", "ring.png.png"]


def test_outputs_are_confined_to_out_dir(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PlanError, match="leave the output folder"):
        confined(out, "../escape.png")
    with pytest.raises(PlanError, match="leave the output folder"):
        confined(out, "/etc/passwd")
    assert confined(out, "a/b.png") == (out / "a" / "b.png").resolve()


def test_links_out_of_the_input_folder_are_ignored(tmp_path):
    in_dir = tmp_path / "in"
    (in_dir / "sub").mkdir(parents=True)
    outside = tmp_path / "private.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(outside)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(in_dir / "sub" / "a.png")
    os.symlink(outside, in_dir / "link.png")
    out = tmp_path / "retouched"
    run_batch(in_dir, out, BatchSettings())
    assert output_files(out) == ["sub/a.png"]


def _digests(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("overwrite", [False, True])
def test_out_dir_containing_or_inside_in_dir_is_refused_and_no_input_is_written(
    tmp_path, catalog, overwrite
):
    """Defect 4: OUT a parent of IN counted inputs as finished outputs (and --overwrite
    wrote over an input); OUT inside IN, or reached through a link, is refused as well."""
    in_dir, _ = catalog
    before = _digests(in_dir)
    os.symlink(in_dir, tmp_path / "link-to-in")
    for out in (in_dir.parent, in_dir / "retouched", tmp_path / "link-to-in" / "out"):
        with pytest.raises(PlanError, match="must not contain or lie inside"):
            run_batch(in_dir, out, BatchSettings(), overwrite=overwrite)
    with pytest.raises(PlanError):
        run_batch(tmp_path / "link-to-in", in_dir, BatchSettings(), overwrite=overwrite)
    assert _digests(in_dir) == before


def test_same_folder_for_input_and_output_is_refused(tmp_path, catalog):
    in_dir, _ = catalog
    with pytest.raises(PlanError, match="must differ"):
        run_batch(in_dir, in_dir, BatchSettings())
    with pytest.raises(PlanError, match="does not exist"):
        run_batch(tmp_path / "nope", tmp_path / "out", BatchSettings())


def test_atomic_write_leaves_old_file_or_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "result.png"
    write_atomic(target, b"complete old result")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"half" * 1000)
    assert target.read_bytes() == b"complete old result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_write_failure_is_reported_per_file(tmp_path, catalog, monkeypatch):
    in_dir, _ = catalog
    out = tmp_path / "out"
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("hero.png"):
            raise OSError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    manifest = run_batch(in_dir, out, BatchSettings())
    hero = manifest.records["hero.png"]
    assert hero.status == "failed" and "Permission denied" in hero.error
    assert not (out / "hero.png").exists()
    assert manifest.records["rings/solitaire.png"].status == "ok"
    assert not list(out.rglob(".*jr-partial*"))


def test_raw_files_become_16_bit_tiff(tmp_path, make_dng, make_scene):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    make_dng(in_dir / "ring.dng", make_scene())
    out = tmp_path / "out"
    manifest = run_batch(in_dir, out, BatchSettings())
    assert manifest.records["ring.dng"].status == "ok"
    from server.imageio import read_image

    image, info = read_image((out / "ring.tif").read_bytes())
    assert image.pixels.dtype == np.uint16 and image.pixels.shape == (96, 128, 3)
    assert image.icc_profile == srgb_icc_profile()


def test_leftovers_of_a_killed_run_are_removed(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    (out / "rings").mkdir(parents=True)
    leftover = out / "rings" / ".solitaire.png.jr-partial-4242"
    leftover.write_bytes(b"half an image")
    run_batch(in_dir, out, BatchSettings())
    assert not leftover.exists()
    assert (out / "rings" / "solitaire.png").is_file()


def test_16_bit_files_stay_16_bit_with_their_profile(tmp_path):
    from server.imageio import read_image, write_image

    in_dir = tmp_path / "in"
    in_dir.mkdir()
    rng = np.random.default_rng(3)
    pixels = rng.integers(1000, 64000, (32, 48, 3), dtype=np.uint16)
    source = ImageData(pixels, srgb_icc_profile())
    (in_dir / "deep.png").write_bytes(write_image(source, "png"))
    (in_dir / "deep.tif").write_bytes(write_image(source, "tiff"))
    out = tmp_path / "out"
    manifest = run_batch(in_dir, out, BatchSettings())
    assert manifest.summary()["ok"] == 2
    for name in ("deep.png", "deep.tif"):
        image, _ = read_image((out / name).read_bytes())
        assert image.pixels.dtype == np.uint16 and image.pixels.shape == (32, 48, 3)
        assert image.icc_profile == srgb_icc_profile()
