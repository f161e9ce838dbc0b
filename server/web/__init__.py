"""The web page: a catalog front end served by the server itself at `/`.

The page (static/index.html, app.js and its ES modules) talks to the same API as the plug-ins:
it reads the options schema from `GET /v1/info` and runs each image as a WebSocket job (encoded
files, live progress), with the same access token (asked once, kept in the browser's
localStorage, or taken from a `#token=` URL fragment). This blueprint only serves the files
and the preset list.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory

STATIC_DIR = Path(__file__).resolve().parent / "static"

bp = Blueprint("web", __name__, static_folder=None)

_NO_STORE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
# The page's own types, not the OS's guess: Windows' registry may map .js to text/plain, and
# with nosniff a browser then refuses the page's ES modules.
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".json": "application/json",
}


@bp.get("/")
def index() -> Response:
    response = send_from_directory(STATIC_DIR, "index.html")
    response.headers.update(_NO_STORE)
    # The page loads only its own scripts and talks only to this server (HTTP and WebSocket).
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    return response


@bp.get("/web/<path:name>")
def static_file(name: str) -> Response:
    response = send_from_directory(STATIC_DIR, name, mimetype=_TYPES.get(Path(name).suffix))
    response.headers.update(_NO_STORE)
    return response


@bp.get("/web/presets.json")
def presets() -> Response:
    """The presets (built-in and the user's), behind the same token as the API."""
    from server.presets import load_presets, user_dir

    _check_token()
    state = current_app.extensions["jewel_retouch"]
    found, problems = load_presets(user_dir(state.config.resolved_config_dir()))
    return jsonify({"presets": [p.to_json() for p in found.values()], "problems": problems})


def _check_token() -> None:
    from server.security import check_bearer

    state = current_app.extensions["jewel_retouch"]
    check_bearer(request.headers.get("Authorization"), state.token)
