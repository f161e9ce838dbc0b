"""`jewel-retouch batch` and `jewel-retouch presets` as a user runs them (real subprocesses)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from server.testing import cli_in_process as in_process

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_batch_cli_reports_bad_file_and_exits_1(tmp_path, catalog):
    in_dir, _ = catalog
    out = tmp_path / "out"
    run = cli("batch", str(in_dir), str(out), "--strength", "0.8", "--no-cleanup")
    assert run.returncode == 1, run.stderr
    assert "5 retouched, 0 skipped (already done), 1 failed, of 6" in run.stdout
    assert "rings/broken.png" in run.stderr
    settings = json.loads((out / ".jewel-retouch" / "settings.json").read_text())
    assert settings["options"]["strength"] == 0.8
    assert settings["options"]["cleanup"] is False
    again = cli("batch", str(in_dir), str(out), "--strength", "0.8", "--no-cleanup", "--quiet")
    assert "0 retouched, 5 skipped" in again.stdout


def test_batch_cli_clear_errors(tmp_path, catalog, capsys):
    in_dir, _ = catalog
    cli = functools.partial(in_process, capsys)
    helped = cli("batch", "--help")
    assert helped.returncode == 0 and "--preset" in helped.stdout and "85%" in helped.stdout
    run = cli("batch", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert run.returncode == 2 and "does not exist" in run.stderr
    run = cli("batch", str(in_dir), str(tmp_path / "out"), "--preset", "nope")
    assert run.returncode == 2 and "unknown preset 'nope'" in run.stderr
    assert "marketplace-white" in run.stderr
    run = cli("batch", str(in_dir), str(tmp_path / "out"), "--strength", "3")
    assert run.returncode == 2 and "strength" in run.stderr
    run = cli(
        "batch",
        str(in_dir),
        str(tmp_path / "o"),
        "--preset",
        "transparent-cutout",
        "--format",
        "jpg",
    )
    assert run.returncode == 2 and "alpha" in run.stderr


def test_ctrl_c_leaves_only_complete_files_and_the_run_resumes(tmp_path):
    COUNT = 10
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    rng = np.random.default_rng(7)
    for i in range(COUNT):  # each takes the model a good fraction of a second
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(
            in_dir / f"piece{i:02}.png"
        )
    out = tmp_path / "out"
    # A run started in the background by a shell inherits SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: restore the default so Ctrl-C means Ctrl-C.
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "batch", str(in_dir), str(out), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("piece*.png")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in stdout
    done = sorted(out.glob("piece*.png"))
    assert 1 <= len(done) < COUNT
    for path in done:  # every file that exists is complete
        with Image.open(path) as img:
            img.load()
            assert img.size == (400, 300)
    assert not list(out.rglob(".*jr-partial*"))
    (manifest_path,) = (out / ".jewel-retouch").glob("manifest-*.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["summary"]["interrupted"] >= 1
    assert manifest["summary"]["ok"] == len(done)
    resumed = cli("batch", str(in_dir), str(out), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{COUNT - len(done)} retouched, {len(done)} skipped" in resumed.stdout
    assert len(list(out.glob("piece*.png"))) == COUNT


def test_presets_command_lists_builtin_and_user_presets(tmp_path, capsys, monkeypatch):
    user = tmp_path / "config" / "presets"
    user.mkdir(parents=True)
    (user / "etsy-square.toml").write_text(
        'title = "Etsy square"\ndescription = "Square 2000 px on white"\nformat = "jpg"\n'
        '[options]\nframing = "square"\ncanvas_size = 2000\nmargin = 0.1\n'
    )
    (user / "typo.toml").write_text('[options]\nbackground = "purple"\n')
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "160")
    cli = functools.partial(in_process, capsys)
    run = cli("presets", "--json")
    assert run.returncode == 0
    presets = {p["name"]: p for p in json.loads(run.stdout)}
    assert {"marketplace-white", "natural-shadow", "transparent-cutout", "etsy-square"} <= set(
        presets
    )
    assert presets["etsy-square"]["builtin"] is False
    assert presets["etsy-square"]["options"]["margin"] == 0.1
    assert "typo.toml" in run.stderr and "background" in run.stderr
    table = cli("presets")
    assert "Marketplace white" in table.stdout and "Etsy square" in table.stdout
    assert str(user) in table.stdout.replace("\n", "")


def test_batch_with_preset_and_override(tmp_path, catalog, capsys):
    in_dir, _ = catalog
    cli = functools.partial(in_process, capsys)
    out = tmp_path / "out"
    run = cli(
        "batch",
        str(in_dir),
        str(out),
        "--preset",
        "marketplace-white",
        "--canvas-size",
        "1200",
        "--quiet",
    )
    assert run.returncode == 1  # the broken file
    settings = json.loads((out / ".jewel-retouch" / "settings.json").read_text())
    assert settings["format"] == "jpeg"  # one name everywhere (the preset may say jpg)
    opts = settings["options"]
    assert (opts["background"], opts["framing"], opts["margin"]) == ("white", "square", 0.075)
    assert opts["canvas_size"] == 1200
    assert (out / "rings" / "solitaire.jpg").is_file()


def test_batch_on_an_empty_or_imageless_folder_warns_and_exits_non_zero(tmp_path, capsys):
    cli = functools.partial(in_process, capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    run = cli("batch", str(empty), str(tmp_path / "out"))
    assert run.returncode == 1
    assert f"warning: no images in {empty}" in run.stderr and "it is empty" in run.stderr
    assert not (tmp_path / "out").exists()  # a wrong folder leaves nothing behind
    wrong = tmp_path / "documents"
    (wrong / ".thumbnails").mkdir(parents=True)
    (wrong / "a.gif").write_bytes(b"GIF89a")
    (wrong / "b.gif").write_bytes(b"GIF89a")
    (wrong / "notes.txt").write_text("x")
    (wrong / ".thumbnails" / "hidden.png").write_bytes(b"x")
    run = cli("batch", str(wrong), str(tmp_path / "out"))
    assert run.returncode == 1 and "2 .gif, 1 .txt" in run.stderr
    assert "1 hidden file(s) or folder(s)" in run.stderr and "PNG, JPEG" in run.stderr
    assert not (tmp_path / "out").exists()


def test_batch_on_a_mistyped_folder_suggests_the_close_one(tmp_path, capsys, catalog):
    in_dir, files = catalog
    cli = functools.partial(in_process, capsys)
    run = cli("batch", str(tmp_path / "inn"), str(tmp_path / "out"))
    assert run.returncode == 2 and "does not exist" in run.stderr
    assert f"did you mean {in_dir}?" in run.stderr
    run = cli("batch", str(files["hero.png"]), str(tmp_path / "out"))
    assert run.returncode == 2 and "is a file" in run.stderr
    assert f"jewel-retouch retouch {files['hero.png']} -o" in run.stderr
    assert not (tmp_path / "out").exists()


def test_batch_progress_is_plain_lines_when_not_a_terminal(tmp_path, catalog):
    in_dir, _ = catalog
    run = cli(
        "batch", str(in_dir), str(tmp_path / "out"), "--model", "server.testing:identity_model"
    )
    assert run.returncode == 1, run.stderr  # rings/broken.png fails
    assert "\x1b" not in run.stderr and "\r" not in run.stderr  # no control codes in a log
    lines = [line for line in run.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 6
    assert {line.split("] ", 1)[0] for line in lines} == {f"[{i}/6" for i in range(1, 7)}
    assert any(line.startswith("[") and " ok rings/solitaire.png (" in line for line in lines)
    assert any(" failed rings/broken.png" in line for line in lines)


def test_batch_writes_metal_variants_beside_each_result_and_lists_them(tmp_path, capsys):
    in_dir = tmp_path / "in"
    (in_dir / "rings").mkdir(parents=True)
    pixels = np.full((6, 8, 3), 40, np.uint8)
    Image.fromarray(pixels).save(in_dir / "rings" / "band.png")
    out = tmp_path / "out"
    run = in_process(capsys, "batch", str(in_dir), str(out), "--variants", "rose_gold",
                     "--model", "server.testing:identity_model", "--quiet")
    assert run.returncode == 0, run.stderr
    variant = out / "rings" / "band_rose_gold.png"
    assert np.array_equal(np.asarray(Image.open(variant)), 255 - pixels)
    manifest = json.loads(next((out / ".jewel-retouch").glob("manifest-*.json")).read_text())
    (record,) = manifest["files"]
    assert record["variants"] == ["rings/band_rose_gold.png"]
