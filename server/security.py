"""Who may talk to the server: access token, Host header (DNS rebinding) and browser Origin.

Pure functions over header values, shared by the HTTP API and the WebSocket channel.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from server.config import ServerConfig, is_loopback_host
from server.protocol import ProtocolError


def split_host(host_header: str) -> str:
    """The host name of a `Host` header value, without port or IPv6 brackets."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def check_host(host_header: str | None, config: ServerConfig) -> None:
    """Refuse a Host that does not name a loopback host (unless remote access was enabled).

    Two Host headers arrive joined by a comma, which no host name holds: refused as well.
    """
    if config.allow_remote:
        return
    if host_header is not None and "," in host_header:
        raise ProtocolError("forbidden", "exactly one Host header is allowed")
    if not host_header or not is_loopback_host(split_host(host_header)):
        raise ProtocolError(
            "forbidden",
            f"Host {host_header!r} is not a loopback host; the server only answers "
            "requests addressed to 127.0.0.1, localhost or [::1]",
        )


def own_origins(config: ServerConfig) -> set[str]:
    """The origins of the server's own web page (always allowed)."""
    origins = set()
    for host in ("127.0.0.1", "localhost", "[::1]"):
        origins.add(f"http://{host}:{config.port}")
    if not is_loopback_host(config.host) and config.host not in ("0.0.0.0", "::"):
        origins.add(f"http://{config.host}:{config.port}")
    return origins


def normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return origin.strip().lower()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


# Origins a web page can have, in a browser or in an app's web view (which can load remote
# pages). Any other scheme (e.g. a host application's plug-in runtime such as Photoshop UXP)
# cannot be produced by a web page, so it is no threat.
WEB_SCHEMES = frozenset(
    {"http", "https", "file", "data", "blob", "ws", "wss", "ftp"}
    | {"chrome-extension", "moz-extension", "safari-web-extension", "ms-browser-extension"}
    | {"isolated-app", "tauri", "capacitor", "vscode-webview"}
)


def origin_allowed(origin: str | None, config: ServerConfig) -> bool:
    """No Origin (not a browser) is fine, nor a non-web scheme (plug-in runtimes); a web
    origin must be the server's own page or listed with --allow-origin; "null" never is."""
    if origin is None:
        return True
    scheme = urlsplit(origin.strip()).scheme.lower()
    if origin.strip().lower() != "null" and scheme and scheme not in WEB_SCHEMES:
        return True
    allowed = own_origins(config) | {normalise_origin(o) for o in config.allowed_origins}
    return normalise_origin(origin) in allowed


def check_origin(origin: str | None, config: ServerConfig) -> None:
    if not origin_allowed(origin, config):
        raise ProtocolError(
            "forbidden",
            f"requests from the web origin {origin!r} are not allowed "
            "(start the server with --allow-origin to allow it)",
        )


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the server's."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def check_bearer(authorization: str | None, expected: str) -> None:
    """Validate an `Authorization: Bearer TOKEN` header."""
    if not authorization:
        raise ProtocolError(
            "unauthorized",
            "missing access token: send 'Authorization: Bearer TOKEN' "
            "(`jewel-retouch token` prints it)",
        )
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token_matches(value.strip(), expected):
        raise ProtocolError("unauthorized", "wrong access token")
