"""Server configuration as data, and the per-user config folder with its access token.

The token file location follows docs/protocol.md: `JEWEL_RETOUCH_CONFIG_DIR` wins on every
OS; otherwise the OS's usual per-user config folder.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_DIR_ENV = "JEWEL_RETOUCH_CONFIG_DIR"
TOKEN_FILE_NAME = "token"
# One small JSON file per running `jewel-retouch serve`, in the per-user config folder, saying
# which token file it uses: `jewel-retouch token` finds a server started with --config-dir.
RUNNING_DIR_NAME = "running"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_WS_PORT = 8766
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_DIMENSION = 65_535
# 100 MP of 16-bit RGBA is 800 MB; the body limit leaves room for that plus encoded overhead.
DEFAULT_MAX_BODY_BYTES = 1 << 30


@dataclass
class ServerConfig:
    """Everything `create_app` and the WebSocket server need to know, as plain data.

    allow_remote: a non-loopback `host` is only accepted when this is set (explicit flag);
        it also lifts the loopback-only Host header check.
    allowed_origins: browser origins allowed in addition to the server's own page.
    cors: send CORS headers to allowed origins (off by default).
    token: the access token; None means "read or create it in config_dir".
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    ws_port: int = DEFAULT_WS_PORT
    workers: int = 1
    queue_size: int = 4
    job_timeout: float = 600.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_dimension: int = DEFAULT_MAX_DIMENSION
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    upload_timeout: float = 120.0  # seconds an upload may stall before it is dropped
    upload_budget: int | None = None  # bytes of uploads held at once; None: 2 x max_body_bytes
    queue_timeout: float = 600.0  # seconds an HTTP job may wait in the queue before it starts
    result_timeout: float = 60.0  # seconds a WebSocket client may leave its result unread
    http_threads: int = 8  # HTTP requests handled at once (the rest wait on their connection)
    connection_limit: int = 64  # open HTTP connections at once
    allow_remote: bool = False
    allowed_origins: tuple[str, ...] = ()
    cors: bool = False
    config_dir: Path | None = None
    token: str | None = None
    public_ws_url: str | None = None
    extra: dict = field(default_factory=dict)

    def resolved_config_dir(self) -> Path:
        return self.config_dir if self.config_dir is not None else user_config_dir()

    def ws_url(self) -> str:
        if self.public_ws_url:
            return self.public_ws_url
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.ws_port}"


class ConfigError(ValueError):
    """The configuration cannot be used (e.g. a non-loopback bind without the explicit flag)."""


def is_loopback_host(host: str) -> bool:
    """True for a loopback address literal (127.0.0.0/8, ::1) and the name `localhost` only:
    `127.evil.example` is a DNS name anyone can point anywhere."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(config: ServerConfig) -> None:
    """Refuse a non-loopback bind unless `allow_remote` was given explicitly."""
    if not is_loopback_host(config.host) and not config.allow_remote:
        raise ConfigError(
            f"refusing to listen on {config.host}: any device on the network could use the "
            "server. Pass --allow-remote to do it anyway."
        )


def user_config_dir() -> Path:
    """The per-user folder holding the token file (see docs/protocol.md)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return (
            Path(appdata) / "jewel-retouch" if appdata else home / "AppData/Roaming/jewel-retouch"
        )
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "jewel-retouch"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "jewel-retouch"


def token_path(config_dir: Path | None = None) -> Path:
    """The token file: in `config_dir` when given (serve/token --config-dir), else in the
    per-user config folder. `serve`, `token` and `info` all resolve it here."""
    return (config_dir if config_dir is not None else user_config_dir()) / TOKEN_FILE_NAME


MIN_TOKEN_LENGTH = 32
MIN_TOKEN_SYMBOLS = 10  # distinct characters: "aaaa..." or "0123..." repeated is no secret


def check_token_file(path: Path, token: str) -> None:
    """Refuse a token file others can read, or a token too weak to keep anyone out."""
    if sys.platform != "win32":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"the token file {path} can be read by other users (mode {mode:04o}); "
                f"make it private with: chmod 600 {path}"
            )
    printable = token.isascii() and token.isprintable() and " " not in token
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_TOKEN_SYMBOLS or not printable:
        raise ConfigError(
            f"the token in {path} is too weak ({len(token)} characters, {len(set(token))} "
            f"different): delete the file and start the server again to get a new random "
            f"token, or write at least {MIN_TOKEN_LENGTH} random letters and digits into it"
        )


def read_token(config_dir: Path | None = None) -> str | None:
    """The stored token, or None when there is none yet."""
    try:
        token = token_path(config_dir).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_token(config_dir: Path | None = None, check: bool = True) -> str:
    """Return the stored token, creating it (random, 43 url-safe chars, mode 0600) if missing.

    check: refuse (ConfigError) a stored token file that others can read or that is weak.
    """
    existing = read_token(config_dir)
    if existing:
        if check:
            check_token_file(token_path(config_dir), existing)
        return existing
    path = token_path(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    try:
        # O_EXCL: two servers starting at once must not overwrite each other's token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = read_token(config_dir)
        if existing:
            return existing
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    if sys.platform != "win32":
        os.chmod(path, 0o600)
    return token


@dataclass(frozen=True)
class RunningServer:
    """What a running `jewel-retouch serve` recorded about itself (no secret: a path)."""

    pid: int
    http: str
    ws: str
    token_file: Path
    started: float
    record: Path


def running_dir() -> Path:
    return user_config_dir() / RUNNING_DIR_NAME


def record_running_server(pid: int, http: str, ws: str, token_file: Path, started: float) -> Path:
    """Write this server's record (replaced atomically); returns its path for removal."""
    folder = running_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{pid}.json"
    data = {"pid": pid, "http": http, "ws": ws, "token_file": str(token_file), "started": started}
    partial = path.with_name(f".{pid}.json.partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    os.replace(partial, path)
    return path


def remove_running_record(path: Path, pid: int) -> None:
    """Remove the record if it is still this process's (a newer server may reuse the pid)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (never signals it: os.kill(pid, 0) on Windows
    would terminate it, so Windows asks the kernel instead)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def running_servers() -> list[RunningServer]:
    """The servers whose record is here and whose process still runs, newest first.
    Records of servers that died without cleaning up are removed on the way."""
    found: list[RunningServer] = []
    try:
        paths = sorted(running_dir().glob("*.json"))
    except OSError:
        return []
    for path in paths:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            server = RunningServer(
                pid=int(data["pid"]),
                http=str(data["http"]),
                ws=str(data["ws"]),
                token_file=Path(data["token_file"]),
                started=float(data.get("started", 0.0)),
                record=path,
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable or half-written: not a record to trust
        if pid_alive(server.pid):
            found.append(server)
        else:
            try:
                path.unlink()
            except OSError:
                pass
    return sorted(found, key=lambda s: s.started, reverse=True)
