"""`jewel-retouch install photoshop` / `make photoshop`: the panel's .ccx without Node."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.commands import install

REPO = Path(__file__).resolve().parents[2]
UXP = REPO / "photoshop_uxp"


def read_ccx(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def source_files() -> set[str]:
    """Every file under the panel's packaged entries, found independently of the packer."""
    found = set()
    for entry in ("manifest.json", "index.html", "index.js", "styles.css", "src", "icons"):
        path = UXP / entry
        if path.is_file():
            found.add(entry)
        else:
            found.update(p.relative_to(UXP).as_posix() for p in path.rglob("*") if p.is_file())
    return found


def test_the_ccx_holds_the_panel_byte_for_byte_and_its_manifest(tmp_path):
    target, domains = install.build_ccx(tmp_path)
    assert target == tmp_path / "jewel-retouch-photoshop-0.1.0.ccx"
    files = read_ccx(target)
    assert set(files) == source_files()
    assert not any(name.startswith(("test/", "node_modules/", "scripts/")) for name in files)
    for name, data in files.items():
        if name != "manifest.json":
            assert data == (UXP / name).read_bytes(), name
    manifest = json.loads(files["manifest.json"])
    source = json.loads((UXP / "manifest.json").read_text())
    assert manifest == source  # without extra ports, the manifest is the source's own
    assert domains == ["http://127.0.0.1:8765", "ws://127.0.0.1:8766"]


def test_extra_ports_join_the_network_permission(tmp_path):
    target, domains = install.build_ccx(tmp_path, [9000, 8765], [9001])
    manifest = json.loads(read_ccx(target)["manifest.json"])
    assert (
        manifest["requiredPermissions"]["network"]["domains"]
        == domains
        == [
            "http://127.0.0.1:8765",
            "http://127.0.0.1:9000",
            "ws://127.0.0.1:8766",
            "ws://127.0.0.1:9001",
        ]
    )
    # Everything else in the manifest is untouched.
    source = json.loads((UXP / "manifest.json").read_text())
    del manifest["requiredPermissions"], source["requiredPermissions"]
    assert manifest == source


def test_the_same_sources_give_the_same_bytes(tmp_path):
    first, _ = install.build_ccx(tmp_path / "a")
    second, _ = install.build_ccx(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_the_packed_list_is_the_node_packers_list():
    script = (UXP / "scripts" / "package.mjs").read_text()
    match = re.search(r"const PACKAGE_ENTRIES = \[(.*?)\];", script)
    assert match, "PACKAGE_ENTRIES not found in package.mjs"
    assert tuple(re.findall(r'"([^"]+)"', match.group(1))) == install.UXP_ENTRIES


def test_standard_library_only_and_says_how_to_install(tmp_path):
    # -S: no site-packages (no numpy, no torch): what `make photoshop` runs on a fresh clone.
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-m",
            "server.commands.install",
            "photoshop",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "jewel-retouch-photoshop-0.1.0.ccx").is_file()
    assert "double-click" in done.stdout and "jewel-retouch token" in done.stdout
    assert "http://127.0.0.1:8765" in done.stdout


def test_the_cli_and_make_target_write_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "server", "install", "photoshop", "--out", str(tmp_path)]
        + ["--port", "9010", "--ws-port", "9011"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads(read_ccx(tmp_path / "jewel-retouch-photoshop-0.1.0.ccx")["manifest.json"])
    assert "ws://127.0.0.1:9011" in manifest["requiredPermissions"]["network"]["domains"]
    make = subprocess.run(
        ["make", "-n", "photoshop", "SERVER_PORT=9010", "SERVER_WS_PORT=9011"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert make.returncode == 0, make.stderr
    assert "-m server.commands.install photoshop --port 9010 --ws-port 9011" in make.stdout


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_is_refused(tmp_path, port):
    done = subprocess.run(
        [sys.executable, "-S", "-m", "server.commands.install", "photoshop"]
        + ["--out", str(tmp_path), "--port", port],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "1 to 65535" in done.stderr
    assert not list(tmp_path.iterdir())


def test_missing_or_broken_sources_say_what_is_wrong(tmp_path):
    with pytest.raises(install.PackageError, match="clone of the jewel-retouch repository"):
        install.build_ccx(tmp_path / "out", root=tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"manifestVersion": 4, "main": "x.html"}))
    with pytest.raises(install.PackageError, match="manifestVersion must be 5.*x.html"):
        install.build_ccx(tmp_path / "out", root=broken)
    assert not (tmp_path / "out").exists()


def test_dry_run_writes_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-S", "-m", "server.commands.install", "photoshop"]
        + ["--out", str(tmp_path / "out"), "--port", "9000", "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "would write" in done.stdout and "http://127.0.0.1:9000" in done.stdout
    assert not (tmp_path / "out").exists()
