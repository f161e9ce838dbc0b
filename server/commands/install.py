"""`jewel-retouch install gimp`: put the GIMP plug-in into the user's GIMP profile.

GIMP 3 wants `<profile>/plug-ins/jewel-retouch/jewel-retouch.py` (executable, in a folder of the
same name); GIMP 2.10 wants `<profile>/plug-ins/jewel_retouch_gimp2.py` (executable). The shared
client module goes beside the plug-in file either way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path


def plugin_source() -> Path:
    """Folder of the plug-in sources: the installed `gimp_plugin` package data, or the
    repository's gimp_plugin/ (an editable install made before it became a package)."""
    try:
        import gimp_plugin

        return Path(gimp_plugin.__file__).resolve().parent
    except ImportError:
        return Path(__file__).resolve().parents[2] / "gimp_plugin"


PLUGIN_SOURCE = plugin_source()
CLIENT_FILE = "jewel_retouch_client.py"
GIMP_VERSIONS = ("3", "2.10")
FLATPAK_ID = "org.gimp.GIMP"


@dataclass(frozen=True)
class PlannedCopy:
    """One file to copy: source, destination, and whether GIMP must be able to run it."""

    source: Path
    destination: Path
    executable: bool


def profile_folder_name(gimp: str) -> str:
    return "3.0" if gimp == "3" else "2.10"


def candidate_profiles(
    gimp: str,
    platform: str | None = None,
    environ: dict[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """GIMP profile folders for this OS, most usual first (native install, then Flatpak)."""
    platform = sys.platform if platform is None else platform
    environ = dict(os.environ) if environ is None else environ
    home = Path.home() if home is None else home
    version = profile_folder_name(gimp)
    if platform == "win32":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [base / "GIMP" / version]
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "GIMP" / version]
    xdg = environ.get("XDG_CONFIG_HOME")
    native = (Path(xdg) if xdg else home / ".config") / "GIMP" / version
    flatpak = home / ".var" / "app" / FLATPAK_ID / "config" / "GIMP" / version
    return [native, flatpak]


def target_profiles(gimp: str, profile: Path | None, **where) -> list[Path]:
    """The profile(s) to install into: the one given, else every existing candidate, else the
    usual one (GIMP creates the rest of the profile on its next start)."""
    if profile is not None:
        return [profile]
    candidates = candidate_profiles(gimp, **where)
    existing = [path for path in candidates if path.is_dir()]
    return existing or candidates[:1]


def plan(gimp: str, profile: Path) -> list[PlannedCopy]:
    """The files to copy for one GIMP version into one profile."""
    plug_ins = profile / "plug-ins"
    if gimp == "3":
        folder = plug_ins / "jewel-retouch"
        return [
            PlannedCopy(
                PLUGIN_SOURCE / "gimp3" / "jewel-retouch.py", folder / "jewel-retouch.py", True
            ),
            PlannedCopy(PLUGIN_SOURCE / CLIENT_FILE, folder / CLIENT_FILE, False),
        ]
    return [
        PlannedCopy(
            PLUGIN_SOURCE / "gimp2" / "jewel_retouch_gimp2.py",
            plug_ins / "jewel_retouch_gimp2.py",
            True,
        ),
        PlannedCopy(PLUGIN_SOURCE / CLIENT_FILE, plug_ins / CLIENT_FILE, False),
    ]


def apply(copies: list[PlannedCopy]) -> None:
    """Copy the files, with the run bit on the plug-in (GIMP skips it silently otherwise)."""
    for copy in copies:
        copy.destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copy.source, copy.destination)
        mode = 0o755 if copy.executable else 0o644
        os.chmod(copy.destination, mode)
        if copy.executable and not os.stat(copy.destination).st_mode & stat.S_IXUSR:
            raise OSError(f"could not make {copy.destination} executable")


def run(args: argparse.Namespace) -> int:
    if args.target != "gimp":  # argparse restricts choices; kept for clarity
        print(f"unknown target {args.target}", file=sys.stderr)
        return 2
    profile = Path(args.profile).expanduser() if args.profile else None
    if profile is not None and profile.exists() and not profile.is_dir():
        print(f"error: --profile {profile} is not a folder", file=sys.stderr)
        return 2
    for destination in target_profiles(args.gimp, profile):
        copies = plan(args.gimp, destination)
        missing = [str(copy.source) for copy in copies if not copy.source.is_file()]
        if missing:
            print(f"error: plug-in files missing from this install: {missing}", file=sys.stderr)
            return 1
        for copy in copies:
            mode = "755" if copy.executable else "644"
            verb = "would copy" if args.dry_run else "copy"
            print(f"{verb} {copy.source.name} -> {copy.destination} (mode {mode})")
        if not args.dry_run:
            try:
                apply(copies)
            except OSError as error:
                print(f"error: cannot install into {destination}: {error}", file=sys.stderr)
                return 1
    if not args.dry_run:
        print(
            f"Installed the GIMP {args.gimp} plug-in. Restart GIMP, start the server with "
            "`jewel-retouch serve`, then use Filters > Jewelry > Retouch..."
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install",
        help="install a plug-in into a host application (GIMP)",
        description="Install the jewel-retouch plug-in into GIMP's user profile.",
    )
    parser.add_argument("target", choices=["gimp"], help="the host application")
    parser.add_argument(
        "--gimp", choices=GIMP_VERSIONS, default="3", help="GIMP version (default: 3)"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="GIMP profile folder (holds plug-ins/); default: the usual one for this OS "
        "(every existing one on Linux: native and Flatpak)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be copied, copy nothing"
    )
    parser.set_defaults(func=run)
