"""The command line: --help everywhere, retouch in-process, info, token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server.cli import build_parser, main
from server.imageio import read_image

REPO = Path(__file__).resolve().parents[2]
MY_COMMANDS = ["serve", "retouch", "info", "token"]


@pytest.mark.parametrize("command", MY_COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"jewel-retouch {command}" in out


def test_serve_help_lists_the_documented_flags(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--ws-port",
        "--workers",
        "--max-megapixels",
        "--allow-remote",
        "--allow-origin",
        "--cors",
        "--job-timeout",
        "--queue-size",
    ):
        assert flag in out


def test_retouch_options_mirror_the_api():
    import models

    parser = build_parser()
    args = parser.parse_args(
        [
            "retouch",
            "a.png",
            "-o",
            "b.png",
            "--background",
            "transparent",
            "--strength",
            "0.5",
            "--no-cleanup",
        ]
    )
    from server.commands.retouch import options_from_args

    options = options_from_args(args)
    assert (options.background, options.strength, options.cleanup) == ("transparent", 0.5, False)
    assert options.metal == models.RetouchOptions().metal


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_retouch_one_file_output_format_from_extension(tmp_path, img):
    source = tmp_path / "ring.png"
    icc = img.srgb()
    original = img.pil_encode(img.pixels(24, 32, 4, 8), "PNG", icc=icc)
    source.write_bytes(original)
    out = run_cli("retouch", str(source), "-o", str(tmp_path / "out.tif"), "--strength", "0.5")
    assert out.returncode == 0, out.stderr
    image, info = read_image(tmp_path / "out.tif")
    assert (info.format, info.width, info.height, info.channels) == ("tiff", 32, 24, 4)
    assert image.icc_profile == icc
    assert source.read_bytes() == original  # the input file is never modified


def test_retouch_several_files_into_a_folder_keeping_formats(tmp_path, img):
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    a.write_bytes(img.pil_encode(img.pixels(16, 16, 3, 8), "PNG"))
    b.write_bytes(img.pil_encode(img.pixels(16, 16, 3, 8), "JPEG"))
    out = run_cli("retouch", str(a), str(b), "-o", str(tmp_path / "done"))
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "done" / "a.png").format == "PNG"
    assert Image.open(tmp_path / "done" / "b.jpg").format == "JPEG"
    again = run_cli("retouch", str(a), str(b), "-o", str(tmp_path / "done"))
    assert again.returncode == 2 and "exists" in again.stderr


def test_retouch_16bit_rgba_to_jpeg_is_converted_with_a_note(tmp_path, img):
    from models.api import ImageData
    from server.imageio import save_image

    source = save_image(ImageData(img.pixels(8, 8, 4, 16)), tmp_path / "deep.tif")
    out = run_cli("retouch", str(source), "-o", str(tmp_path / "flat.jpg"))
    assert out.returncode == 0, out.stderr
    assert "converted" in out.stderr
    assert Image.open(tmp_path / "flat.jpg").mode == "RGB"


def test_retouch_reports_bad_input_clearly(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = run_cli("retouch", str(broken), "-o", str(tmp_path / "x.png"))
    assert out.returncode == 1 and "broken.png" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("retouch", str(broken), "-o", str(tmp_path / "x.gif"))
    assert out.returncode == 2 and "format" in out.stderr
    out = run_cli("retouch", str(broken), "-o", str(tmp_path / "x.png"), "--strength", "7")
    assert out.returncode == 2 and "strength" in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_info_json_and_text(tmp_path):
    out = run_cli("info", "--json", env={"JEWEL_RETOUCH_CONFIG_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["token_file"] == str(tmp_path / "token")
    assert {o["name"] for o in info["options"]} >= {"background", "strength", "metal"}
    text = run_cli("info", env={"JEWEL_RETOUCH_CONFIG_DIR": str(tmp_path)})
    assert "background" in text.stdout and "8765" in text.stdout


def test_token_is_created_once_with_private_mode(tmp_path):
    env = {"JEWEL_RETOUCH_CONFIG_DIR": str(tmp_path / "cfg")}
    first = run_cli("token", env=env)
    second = run_cli("token", env=env)
    assert first.returncode == 0 and first.stdout == second.stdout
    token_file = tmp_path / "cfg" / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == first.stdout.strip()
    assert run_cli("token", "--path", env=env).stdout.strip() == str(token_file)


def test_config_dir_follows_the_os_rules(monkeypatch, tmp_path):
    from server import config

    monkeypatch.delenv("JEWEL_RETOUCH_CONFIG_DIR", raising=False)
    monkeypatch.setattr(config.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.user_config_dir() == tmp_path / "xdg" / "jewel-retouch"
    monkeypatch.setattr(config.sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert config.user_config_dir() == tmp_path / "roaming" / "jewel-retouch"
    monkeypatch.setattr(config.sys, "platform", "darwin")
    monkeypatch.setattr(config.Path, "home", lambda: tmp_path / "home")
    assert config.user_config_dir() == tmp_path / "home/Library/Application Support/jewel-retouch"
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(tmp_path / "override"))
    assert config.user_config_dir() == tmp_path / "override"


def test_serve_on_a_busy_port_says_so(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flags in (
            ["--port", str(port), "--ws-port", "0"],
            ["--port", "0", "--ws-port", str(port)],
        ):
            out = run_cli("serve", *flags, env={"JEWEL_RETOUCH_CONFIG_DIR": str(tmp_path)})
            assert out.returncode == 1, out.stderr
            assert "in use" in out.stderr and "Traceback" not in out.stderr


def test_retouch_routes_camera_raw_to_the_raw_decoder(tmp_path):
    fake = tmp_path / "shot.dng"
    fake.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF-like header, but no RAW inside
    out = run_cli("retouch", str(fake), str(tmp_path / "b.dng"), "-o", str(tmp_path / "out"))
    assert out.returncode == 1
    assert "shot.dng" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out" / "shot.tif").exists()


def test_retouch_prints_each_warning_to_stderr(tmp_path, img):
    source = tmp_path / "ring.png"
    source.write_bytes(img.pil_encode(img.pixels(8, 8, 3, 8), "PNG"))
    out = run_cli(
        "retouch",
        str(source),
        "-o",
        str(tmp_path / "out.png"),
        "--quiet",
        "--model",
        "server.testing:warning_model",
    )
    assert out.returncode == 0, out.stderr
    assert "warning: background_kept: Background kept" in out.stderr


def test_retouch_refuses_a_framing_canvas_over_the_limits_before_work(tmp_path, img):
    source = tmp_path / "tall.png"
    source.write_bytes(img.pil_encode(np.zeros((7000, 4, 3), np.uint8), "PNG"))
    out = run_cli(
        "retouch",
        str(source),
        "-o",
        str(tmp_path / "out.png"),
        "--framing",
        "square",
        "--margin",
        "0.45",
        "--model",
        "server.testing:warning_model",
    )
    assert out.returncode == 1 and "framing" in out.stderr
    assert not (tmp_path / "out.png").exists()
