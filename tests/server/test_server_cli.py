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
from server.testing import cli_in_process as in_process

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


def write_token(folder: Path) -> str:
    from server.config import ensure_token

    return ensure_token(folder)


def test_token_never_makes_a_token_and_says_where_it_looked(tmp_path, capsys, monkeypatch):
    config = tmp_path / "cfg"
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(config))
    run = in_process(capsys, "token")
    assert run.returncode == 1 and run.stdout == ""
    assert str(config / "token") in run.stderr and "jewel-retouch serve" in run.stderr
    assert not config.exists()  # nothing made: not the token, not its folder
    other = tmp_path / "other"
    run = in_process(capsys, "token", "--config-dir", str(other))
    assert run.returncode == 1 and str(other / "token") in run.stderr
    assert f"jewel-retouch serve --config-dir {other}" in run.stderr
    assert not other.exists()
    assert in_process(capsys, "token", "--path").stdout.strip() == str(config / "token")


def test_token_prints_the_token_a_server_made_with_private_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(tmp_path / "cfg"))
    token = write_token(tmp_path / "cfg")  # what `serve` does on its first start
    run = in_process(capsys, "token")
    assert run.returncode == 0 and run.stdout == token + "\n"
    assert "no server is running" in run.stderr  # where it came from goes to stderr only
    token_file = tmp_path / "cfg" / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token_file.chmod(0o644)
    run = in_process(capsys, "token")
    assert run.returncode == 2 and f"chmod 600 {token_file}" in run.stderr and not run.stdout


def test_token_follows_a_running_server_started_with_another_config_dir(
    tmp_path, capsys, monkeypatch
):
    """A server started with --config-dir records its token file; a plain `token` prints that
    server's token and does not make a second one in the default folder."""
    from server.config import record_running_server, remove_running_record, running_servers

    default, elsewhere = tmp_path / "default", tmp_path / "elsewhere"
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(default))
    token = write_token(elsewhere)
    url = "http://127.0.0.1:18765"
    record = record_running_server(os.getpid(), url, "ws://x", elsewhere / "token", 1.0)
    run = in_process(capsys, "token")
    assert run.returncode == 0 and run.stdout.strip() == token
    assert url in run.stderr
    assert not (default / "token").exists()
    assert in_process(capsys, "token", "--path").stdout.strip() == str(elsewhere / "token")
    assert in_process(capsys, "token", "--link").stdout.strip() == f"{url}/#token={token}"
    # A record whose process is gone is stale: removed, and the default folder is used again.
    remove_running_record(record, os.getpid())
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    record_running_server(int(gone.stdout), url, "ws://x", elsewhere / "token", 2.0)
    assert running_servers() == []
    assert not list((default / "running").glob("*.json"))
    run = in_process(capsys, "token")
    assert run.returncode == 1 and str(default / "token") in run.stderr


@pytest.mark.live
def test_serve_with_config_dir_and_token_agree_on_one_token(tmp_path):
    """The real commands: `serve --config-dir X` in one shell, `token` in another."""
    default, elsewhere = tmp_path / "default", tmp_path / "elsewhere"
    env = {**os.environ, "JEWEL_RETOUCH_CONFIG_DIR": str(default)}
    command = [sys.executable, "-m", "server", "serve", "--port", "0", "--ws-port", "0"]
    command += ["--config-dir", str(elsewhere), "--model", "server.testing:identity_model"]
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        ready = None
        for line in server.stdout:  # ends when the server exits; pytest-timeout bounds it
            if line.startswith("jewel-retouch ready "):
                ready = json.loads(line.split(" ", 2)[2])
                break
        assert ready, "the server did not start"
        token = (elsewhere / "token").read_text().strip()
        printed = run_cli("token", env={"JEWEL_RETOUCH_CONFIG_DIR": str(default)})
        assert printed.returncode == 0 and printed.stdout.strip() == token, printed.stderr
        assert not (default / "token").exists()
        link = run_cli("token", "--link", env={"JEWEL_RETOUCH_CONFIG_DIR": str(default)})
        assert link.stdout.strip() == f"{ready['http']}/#token={token}"
    finally:
        server.terminate()
        server.wait(30)
    assert not list((default / "running").glob("*.json"))  # the server removed its record


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
    out = run_cli("retouch", str(fake), "-o", str(tmp_path / "out") + "/")
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


def test_retouch_writes_each_metal_variant_beside_the_result(tmp_path, img):
    px = img.pixels(8, 10, 3, 8)
    source = tmp_path / "ring.png"
    source.write_bytes(img.pil_encode(px, "PNG"))
    target = tmp_path / "out" / "ring_white.png"
    args = ("retouch", str(source), "-o", str(target), "--variants", "white_gold,silver",
            "--model", "server.testing:identity_model")
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    for metal in ("white_gold", "silver"):
        path = tmp_path / "out" / f"ring_white_{metal}.png"
        assert str(path) in out.stderr  # said where it went
        assert np.array_equal(np.asarray(Image.open(path)), 255 - px)  # the stand-in's answer
    assert np.array_equal(np.asarray(Image.open(target)), px)
    again = run_cli(*args)  # never overwrites a variant without --overwrite
    assert again.returncode == 2 and "exists" in again.stderr


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


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the command loads the model (inputs must be checked before it)."""
    import server.commands.serve

    loads = []

    def refuse(spec=None):
        loads.append(spec)
        raise AssertionError("the model was loaded although the inputs are bad")

    monkeypatch.setattr(server.commands.serve, "load_engine", refuse)
    return loads


def test_retouch_on_a_folder_names_the_batch_command_without_loading_the_model(
    tmp_path, capsys, no_model, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shots").mkdir()
    run = in_process(
        capsys, "retouch", "shots", "-o", "done.png", "--strength", "0.5", "--no-cleanup"
    )
    assert run.returncode == 2 and no_model == []
    assert "'shots' is a folder" in run.stderr
    # The exact command, with the same options and the output format -o asked for.
    command = "jewel-retouch batch shots done --strength 0.5 --no-cleanup --format png"
    assert command in run.stderr.splitlines()[-1]
    suggested = build_parser().parse_args(command.split()[1:])  # and it parses
    assert (suggested.command, suggested.in_dir, suggested.format) == (
        "batch",
        Path("shots"),
        "png",
    )
    run = in_process(capsys, "retouch", "shots", "-o", "retouched/")
    assert "jewel-retouch batch shots retouched\n" in run.stderr + "\n"


def test_retouch_lists_every_bad_input_before_loading_the_model(tmp_path, capsys, no_model):
    (tmp_path / "notes.txt").write_text("not an image")
    good = tmp_path / "ring.png"
    good.write_bytes(b"any bytes: the content is read after the model loads")
    run = in_process(
        capsys,
        "retouch",
        str(good),
        str(tmp_path / "missing.jpg"),
        str(tmp_path / "notes.txt"),
        str(tmp_path / "*.webp"),
        "-o",
        str(tmp_path / "out"),
    )
    assert run.returncode == 2 and no_model == []
    assert f"'{tmp_path / 'missing.jpg'}' does not exist" in run.stderr
    assert "notes.txt' is not an image file" in run.stderr and "PNG, JPEG" in run.stderr
    assert "*.webp' matches nothing" in run.stderr
    assert "ring.png" not in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_retouch_expands_a_pattern_the_shell_left_alone(tmp_path, capsys, img):
    """'*.png' in quotes (or any pattern in Windows' cmd and PowerShell) reaches the command
    unexpanded: it is expanded to the image files, and -o is their folder."""
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a.png", "b.png"):
        (shots / name).write_bytes(img.pil_encode(img.pixels(8, 8, 3, 8), "PNG"))
    (shots / "c.jpg").write_bytes(img.pil_encode(img.pixels(8, 8, 3, 8), "JPEG"))
    (shots / "folder.png").mkdir()  # matches the pattern but is no file
    model = ["--model", "server.testing:identity_model", "--quiet"]
    run = in_process(capsys, "retouch", str(shots / "*.png"), "-o", str(tmp_path / "out"), *model)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    # One match is still a folder output: the pattern said "these files".
    run = in_process(capsys, "retouch", str(shots / "*.jpg"), "-o", str(tmp_path / "one"), *model)
    assert run.returncode == 0, run.stderr
    assert Image.open(tmp_path / "one" / "c.jpg").format == "JPEG"


def test_option_flags_survive_a_list_option_and_an_unknown_type(monkeypatch, capsys):
    """Options added later (a `list` type among them) still give every command its parser,
    and an option type the CLI does not know gets no flag."""
    from models import api

    extra = (
        api.OptionSpec(
            "extra_looks", "list", (), "Also make these looks.", choices=("matte", "glossy")
        ),
        api.OptionSpec("mood", "colour", "blue", "A type no version knows."),
    )
    monkeypatch.setattr(api, "OPTION_SPECS", api.OPTION_SPECS + extra)
    parser = build_parser()
    args = parser.parse_args(["retouch", "a.png", "-o", "b.png", "--extra-looks", "matte,glossy"])
    assert args.extra_looks == ["matte", "glossy"]
    batch = parser.parse_args(["batch", "in", "out", "--extra-looks", "glossy"])
    assert batch.opt_extra_looks == ["glossy"]
    with pytest.raises(SystemExit):
        parser.parse_args(["retouch", "a.png", "-o", "b.png", "--extra-looks", "shiny"])
    assert "shiny not allowed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["retouch", "a.png", "-o", "b.png", "--mood", "red"])
    # The real list option, with its short alias.
    variants = parser.parse_args(["retouch", "a.png", "-o", "b.png", "--variants", "silver"])
    assert variants.metal_variants == ["silver"]
    from server.commands.info import options_markdown

    table = options_markdown()
    assert "`--extra-looks A,B`" in table and "| Mood |" in table
