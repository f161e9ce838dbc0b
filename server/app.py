"""Flask app factory: `create_app(config)` wires configuration, model, job queue, security
checks, blueprints and error handlers (registered once, here)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from server.config import ServerConfig, ensure_token
from server.engine import Engine
from server.jobs import ByteBudget, JobQueue
from server.protocol import ProtocolError
from server.security import check_bearer, check_host, check_origin, normalise_origin

log = logging.getLogger("jewel_retouch.http")

# Paths under /v1 that need no token.
PUBLIC_API_PATHS = ("/v1/health",)
DRAIN_LIMIT = 64 << 20  # read (and drop) an unread body up to this size before an error reply

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_format",
    422: "invalid_options",
    503: "unavailable",
}


@dataclass
class AppState:
    """What the HTTP API and the WebSocket channel share (one per server)."""

    config: ServerConfig
    engine: Engine
    queue: JobQueue
    token: str
    uploads: ByteBudget | None = None

    def __post_init__(self) -> None:
        if self.uploads is None:
            budget = self.config.upload_budget or 2 * self.config.max_body_bytes
            self.uploads = ByteBudget(budget)

    @property
    def limits(self):
        from server.protocol import Limits

        return Limits(self.config.max_pixels, self.config.max_dimension, self.config.max_body_bytes)


def build_state(config: ServerConfig, engine: Engine | None = None) -> AppState:
    """Load the model, read/create the token, start the job workers."""
    token = config.token or ensure_token(config.resolved_config_dir())
    engine = engine or Engine()
    queue = JobQueue(engine, config.workers, config.queue_size, config.job_timeout).start()
    return AppState(config, engine, queue, token)


def create_app(config: ServerConfig | None = None, state: AppState | None = None) -> Flask:
    """The Flask application. Pass `state` to share a queue with a WebSocket server."""
    config = config or (state.config if state else ServerConfig())
    state = state or build_state(config)
    app = Flask("server")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    app.extensions["jewel_retouch"] = state

    app.before_request(_security_checks)
    app.after_request(_cors_headers)
    app.after_request(_json_redirect)
    app.register_error_handler(ProtocolError, _protocol_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    from server.http_api import bp as api_bp

    app.register_blueprint(api_bp)

    # --- other blueprints -------------------------------------------------------------------
    # The web page (server/web, owned by the web-page engineer) is served at "/".
    try:
        from server.web import bp as web_bp
    except ImportError:
        web_bp = None
    if web_bp is not None:
        app.register_blueprint(web_bp)
    # -----------------------------------------------------------------------------------------
    return app


def _state() -> AppState:
    from flask import current_app

    return current_app.extensions["jewel_retouch"]


def _security_checks() -> Response | None:
    state = _state()
    check_host(request.headers.get("Host"), state.config)
    origin = request.headers.get("Origin")
    check_origin(origin, state.config)
    if request.method == "OPTIONS" and origin is not None and state.config.cors:
        return _preflight()
    path = request.path
    if path.startswith("/v1/") and path not in PUBLIC_API_PATHS:
        check_bearer(request.headers.get("Authorization"), state.token)
    return None


def _preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = (
        "Authorization, Content-Type, X-Options, X-Layers, X-Width, X-Height, X-Channels, "
        "X-Depth, X-Color-Profile"
    )
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _json_redirect(response: Response) -> Response:
    """Werkzeug's redirects (slash merging, strict slashes) come with an HTML body: JSON here,
    like every other reply, naming where to go."""
    if 300 <= response.status_code < 400 and response.mimetype == "text/html":
        location = response.headers.get("Location", "")
        body = {"error": {"code": "moved", "message": f"this resource is at {location}"}}
        response.set_data(json.dumps(body))
        response.mimetype = "application/json"
    return response


def _cors_headers(response: Response) -> Response:
    origin = request.headers.get("Origin")
    state = _state()
    if origin is not None and state.config.cors:
        response.headers["Access-Control-Allow-Origin"] = normalise_origin(origin)
        response.headers["Access-Control-Expose-Headers"] = (
            "X-Width, X-Height, X-Channels, X-Depth, X-Color-Profile, X-Retouch-Warnings, "
            "Retry-After"
        )
        response.headers["Vary"] = "Origin"
    return response


def _drain_body() -> None:
    """Read an unread request body (if small) so the client sees our reply, not a reset."""
    try:
        length = request.content_length
        if length and length <= DRAIN_LIMIT and not request.stream.exhausted:  # type: ignore
            while request.stream.read(1 << 20):
                pass
    except Exception:
        pass


def error_response(error: ProtocolError) -> Response:
    _drain_body()
    response = jsonify(error.to_json())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="jewel-retouch"'
    return _cors_headers(response)


def _protocol_error(error: ProtocolError) -> Response:
    return error_response(error)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, "internal" if status >= 500 else "bad_request")
    message = error.description or error.name
    if status == 413:
        message = f"request body too large (limit {_state().config.max_body_bytes} bytes)"
    response = error_response(ProtocolError(code, message))
    response.status_code = status
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _unexpected_error(error: Exception) -> Response:
    if isinstance(error, MemoryError):
        return error_response(ProtocolError("too_large", "not enough memory for this request"))
    log.exception("unexpected error")
    return error_response(ProtocolError("internal", f"internal error: {type(error).__name__}"))
