"""`jewel-retouch install gimp|photoshop`: install a plug-in for its host application.

gimp: GIMP 3 wants `<profile>/plug-ins/jewel-retouch/jewel-retouch.py` (executable, in a folder
of the same name); GIMP 2.10 wants `<profile>/plug-ins/jewel_retouch_gimp2.py` (executable). The
shared client module goes beside the plug-in file either way.

photoshop: writes the UXP panel's installable `.ccx` (a zip of the plug-in folder: manifest,
HTML, scripts, icons), standard library only, so no Node or build step is needed. Creative Cloud
desktop installs a `.ccx` on double-click. `--port` / `--ws-port` add a server's ports to the
manifest's network permission (UXP lets a plug-in reach only the origins listed there).

Also runs without the rest of the package (`python3 -m server.commands.install photoshop`,
what `make photoshop` does), so the panel can be packaged before the venv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import zipfile
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


# ---------------------------------------------------------------------------------------
# Photoshop: the UXP panel's .ccx
# ---------------------------------------------------------------------------------------

UXP_SOURCE = Path(__file__).resolve().parents[2] / "photoshop_uxp"
# What goes into the package (the same list as photoshop_uxp/scripts/package.mjs; a test
# compares them): the panel, nothing of its tests or tooling.
UXP_ENTRIES = ("manifest.json", "index.html", "index.js", "styles.css", "src", "icons")
DEFAULT_HTTP_PORT = 8765
DEFAULT_WS_PORT = 8766
LOOPBACK_HOST = "127.0.0.1"
# 1980-01-01 00:00, zip's earliest date: the same sources always give the same .ccx bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return port


class PackageError(Exception):
    """The panel cannot be packaged; the message says why and what to do."""


def network_domains(http_ports: list[int], ws_ports: list[int]) -> list[str]:
    """The manifest's network permission for servers on these ports (defaults first): exact
    origins, as UXP matches them; the panel refuses a URL whose origin is not listed."""
    domains: list[str] = []
    for scheme, ports, default in (
        ("http", http_ports, DEFAULT_HTTP_PORT),
        ("ws", ws_ports, DEFAULT_WS_PORT),
    ):
        for port in [default, *ports]:
            origin = f"{scheme}://{LOOPBACK_HOST}:{port}"
            if origin not in domains:
                domains.append(origin)
    return domains


def manifest_problems(manifest: dict, root: Path) -> list[str]:
    """What stops this manifest from giving a working panel (empty when none)."""
    problems = []
    if manifest.get("manifestVersion") != 5:
        problems.append("manifestVersion must be 5")
    for key in ("id", "name", "version", "main"):
        if not manifest.get(key):
            problems.append(f"{key} is missing")
    if manifest.get("main") and not (root / manifest["main"]).is_file():
        problems.append(f"main file {manifest['main']} does not exist")
    domains = (manifest.get("requiredPermissions") or {}).get("network", {}).get("domains")
    if not isinstance(domains, list) or not domains:
        problems.append("requiredPermissions.network.domains must list the server's origins")
    return problems


def package_files(root: Path) -> list[str]:
    """The packaged files, relative with forward slashes, sorted within each entry."""
    files = []
    for entry in UXP_ENTRIES:
        path = root / entry
        if path.is_dir():
            files.extend(
                sorted(
                    item.relative_to(root).as_posix() for item in path.rglob("*") if item.is_file()
                )
            )
        elif path.is_file():
            files.append(entry)
        else:
            raise PackageError(f"{path} is missing: the Photoshop panel's files are incomplete")
    return files


def build_ccx(
    out_dir: Path,
    http_ports: list[int] | None = None,
    ws_ports: list[int] | None = None,
    root: Path = UXP_SOURCE,
) -> tuple[Path, list[str]]:
    """Write the .ccx into out_dir; returns its path and the manifest's network domains."""
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise PackageError(
            f"the Photoshop panel's sources are not here ({root}): `install photoshop` runs "
            "from a clone of the jewel-retouch repository (git clone, then make photoshop)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise PackageError(f"{manifest_path} is not valid JSON: {error}") from error
    problems = manifest_problems(manifest, root)
    if problems:
        raise PackageError(f"{manifest_path} is not valid: " + "; ".join(problems))
    domains = network_domains(http_ports or [], ws_ports or [])
    manifest.setdefault("requiredPermissions", {}).setdefault("network", {})["domains"] = domains
    files = package_files(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"jewel-retouch-photoshop-{manifest['version']}.ccx"
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            if name == "manifest.json":
                data = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
            else:
                data = (root / name).read_bytes()
            archive.writestr(info, data)
    os.replace(partial, target)  # a half-written .ccx never carries the final name
    return target, domains


def run_photoshop(args: argparse.Namespace) -> int:
    out_dir = Path(args.out).expanduser() if args.out else UXP_SOURCE / "dist"
    if args.dry_run:
        domains = network_domains(args.port or [], args.ws_port or [])
        print(f"would write a .ccx into {out_dir}, allowing {', '.join(domains)}")
        return 0
    try:
        target, domains = build_ccx(out_dir, args.port or [], args.ws_port or [])
    except (PackageError, OSError) as error:
        print(f"error: cannot write the Photoshop panel: {error}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    print(f"the panel may connect to: {', '.join(domains)}")
    print(
        "Install it: double-click the .ccx (Creative Cloud desktop installs it into Photoshop), "
        "then open Plugins > Jewel Retouch in Photoshop. Start the server with "
        "`jewel-retouch serve` and paste the output of `jewel-retouch token` into the panel."
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.target == "photoshop":
        return run_photoshop(args)
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
        help="install a plug-in for a host application (GIMP, Photoshop)",
        description="gimp: copy the plug-in into GIMP's user profile. photoshop: write the "
        "panel's .ccx (double-click it to install it with Creative Cloud desktop).",
    )
    parser.add_argument("target", choices=["gimp", "photoshop"], help="the host application")
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
    photoshop = parser.add_argument_group("photoshop")
    photoshop.add_argument(
        "--out",
        metavar="DIR",
        help="folder to write the .ccx into (default: photoshop_uxp/dist)",
    )
    photoshop.add_argument(
        "--port",
        type=port_number,
        action="append",
        metavar="PORT",
        help=f"also let the panel reach a server's HTTP port (besides {DEFAULT_HTTP_PORT}); "
        "repeatable",
    )
    photoshop.add_argument(
        "--ws-port",
        type=port_number,
        action="append",
        metavar="PORT",
        help=f"also let the panel reach a server's WebSocket port (besides {DEFAULT_WS_PORT}); "
        "repeatable",
    )
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python3 -m server.commands.install ...`: this command alone, standard library only."""
    parser = argparse.ArgumentParser(prog="python3 -m server.commands.install")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["install", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
