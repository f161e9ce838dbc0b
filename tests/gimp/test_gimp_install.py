"""`jewel-retouch install gimp`: profile locations per OS, run bits, dry runs, both versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.commands import install

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server", "install", "gimp", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "gimp, platform, environ, expected",
    [
        ("3", "linux", {}, ["/h/.config/GIMP/3.0", "/h/.var/app/org.gimp.GIMP/config/GIMP/3.0"]),
        (
            "3",
            "linux",
            {"XDG_CONFIG_HOME": "/x"},
            ["/x/GIMP/3.0", "/h/.var/app/org.gimp.GIMP/config/GIMP/3.0"],
        ),
        (
            "2.10",
            "linux",
            {},
            ["/h/.config/GIMP/2.10", "/h/.var/app/org.gimp.GIMP/config/GIMP/2.10"],
        ),
        ("3", "darwin", {}, ["/h/Library/Application Support/GIMP/3.0"]),
        ("2.10", "win32", {"APPDATA": "/ad"}, ["/ad/GIMP/2.10"]),
        ("3", "win32", {}, ["/h/AppData/Roaming/GIMP/3.0"]),
    ],
)
def test_candidate_profiles(gimp, platform, environ, expected):
    found = install.candidate_profiles(gimp, platform=platform, environ=environ, home=Path("/h"))
    assert [str(path) for path in found] == expected


def test_default_targets_every_existing_profile(tmp_path):
    flatpak = tmp_path / ".var/app/org.gimp.GIMP/config/GIMP/3.0"
    flatpak.mkdir(parents=True)
    where = {"platform": "linux", "environ": {}, "home": tmp_path}
    assert install.target_profiles("3", None, **where) == [flatpak]
    native = tmp_path / ".config/GIMP/3.0"
    native.mkdir(parents=True)
    assert install.target_profiles("3", None, **where) == [native, flatpak]
    # Nothing there yet: the usual native folder (GIMP fills in the rest on its next start).
    assert install.target_profiles("2.10", None, **where) == [tmp_path / ".config/GIMP/2.10"]


def test_install_gimp3_sets_the_run_bit(tmp_path):
    done = cli("--profile", str(tmp_path))
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "plug-ins" / "jewel-retouch"
    plugin = folder / "jewel-retouch.py"
    assert plugin.stat().st_mode & 0o777 == 0o755
    assert (folder / "jewel_retouch_client.py").stat().st_mode & 0o777 == 0o644
    assert plugin.read_bytes() == (REPO / "gimp_plugin/gimp3/jewel-retouch.py").read_bytes()
    assert "Filters > Jewelry > Retouch" in done.stdout
    # Idempotent: a second install (an upgrade) just replaces the files.
    plugin.chmod(0o644)
    assert cli("--profile", str(tmp_path)).returncode == 0
    assert plugin.stat().st_mode & 0o777 == 0o755


def test_install_gimp210(tmp_path):
    done = cli("--gimp", "2.10", "--profile", str(tmp_path))
    assert done.returncode == 0, done.stderr
    plugin = tmp_path / "plug-ins" / "jewel_retouch_gimp2.py"
    assert plugin.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "plug-ins" / "jewel_retouch_client.py").is_file()
    assert not (tmp_path / "plug-ins" / "jewel-retouch").exists()


def test_dry_run_copies_nothing(tmp_path):
    done = cli("--dry-run", "--profile", str(tmp_path / "profile"))
    assert done.returncode == 0, done.stderr
    assert "would copy jewel-retouch.py" in done.stdout
    assert not (tmp_path / "profile").exists()


def test_default_profile_from_the_environment(tmp_path):
    done = cli("--dry-run", env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "c" / "GIMP" / "3.0" / "plug-ins" / "jewel-retouch") in done.stdout


def test_bad_profile_is_a_clear_error(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    done = cli("--profile", str(not_a_folder))
    assert done.returncode == 2 and "not a folder" in done.stderr
    bad_version = cli("--gimp", "2.8")
    assert bad_version.returncode == 2 and "invalid choice" in bad_version.stderr
