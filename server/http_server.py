"""The production HTTP server underneath the Flask app: waitress, bounded and quiet.

Waitress reads each request completely on its I/O thread before a worker thread sees it, so a
client that trickles bytes holds a connection (capped by `connection_limit`), never a thread.
On top of waitress's own limits we add:

- a header deadline: a request whose header has not arrived after `HEADER_TIMEOUT` seconds is
  dropped (a trickle of one byte every few seconds would otherwise keep it open forever);
- JSON bodies for waitress's own error replies (400, 413, 431, 500), like every other reply;
- an access log (verbose mode, and always for errors) without query strings, so a token that
  a client put in a URL never reaches a log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from server.protocol import ProtocolError

log = logging.getLogger("jewel_retouch.http")

HEADER_TIMEOUT = 30.0  # seconds a request's header may take to arrive
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_THREADS = 8
DEFAULT_CONNECTION_LIMIT = 64
RECV_BYTES = 1 << 20  # per read from a socket (waitress reads 8 KiB: slow for 100 MB uploads)

# Waitress's own error statuses -> our error codes (see server.protocol.ERROR_STATUS).
WAITRESS_CODES = {400: "bad_request", 413: "too_large", 431: "bad_request", 500: "internal"}
WAITRESS_MESSAGES = {
    400: "malformed HTTP request",
    413: "request body too large",
    431: "request header fields too large",
    500: "internal error",
}

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def json_error_body(status: int) -> bytes:
    code = WAITRESS_CODES.get(status, "bad_request" if status < 500 else "internal")
    message = WAITRESS_MESSAGES.get(status, "the request could not be handled")
    return json.dumps(ProtocolError(code, message).to_json()).encode()


class JsonErrorTask(ErrorTask):
    """Waitress's error reply with a JSON body (`{"error": {"code", "message"}}`)."""

    def execute(self) -> None:
        status = int(self.request.error.code)
        body = json_error_body(status)
        self.status = f"{status} {self.request.error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _TimedParser(HTTPRequestParser):
    """A request parser that remembers when its first byte arrived."""

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.began = time.monotonic()


class _Channel(HTTPChannel):
    error_task_class = JsonErrorTask
    parser_class = _TimedParser


def _maintenance(server: BaseWSGIServer, now: float) -> None:
    """Waitress's idle-channel sweep, plus the header deadline and a JSON reply to a stalled
    upload (waitress would drop it without a word)."""
    BaseWSGIServer.maintenance(server, now)
    header_cutoff = time.monotonic() - HEADER_TIMEOUT
    idle_cutoff = now - server.adj.channel_timeout
    for channel in list(server.active_channels.values()):
        request = getattr(channel, "request", None)
        if request is None or request.completed or channel.requests:
            continue
        if not request.headers_finished and request.began < header_cutoff:
            channel.will_close = True
        elif request.headers_finished and channel.last_activity < idle_cutoff:
            _reply_and_close(channel, 400, STALLED_MESSAGE)


STALLED_MESSAGE = "the upload stalled: no data for too long, so it was dropped"


def _reply_and_close(channel: HTTPChannel, status: int, message: str) -> None:
    """Queue a JSON error reply on `channel` (on the I/O thread) and close once it is sent."""
    code = WAITRESS_CODES.get(status, "bad_request")
    body = json.dumps(ProtocolError(code, message).to_json()).encode()
    head = (
        f"HTTP/1.1 {status} Bad Request\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    channel.request = None  # the rest of this request will never be read
    channel.will_close = False
    try:
        channel.write_soon(head + body)
    except Exception:  # noqa: BLE001 - the client is gone already
        channel.will_close = True
        return
    channel.close_when_flushed = True


class AccessLog:
    """WSGI middleware: one log line per reply (errors always, all when verbose), path only."""

    def __init__(self, app: WsgiApp, verbose: bool) -> None:
        self.app = app
        self.verbose = verbose

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def logging_start_response(status: str, headers, exc_info=None):
            failed = status.startswith(("4", "5"))
            if self.verbose or failed:
                level = logging.WARNING if failed else logging.INFO
                method, target = environ.get("REQUEST_METHOD"), redacted_target(environ)
                log.log(level, "%s %s -> %s", method, target, status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, logging_start_response)


def redacted_target(environ: dict[str, Any]) -> str:
    """The request path with any query string replaced by `?...` (it may hold a token)."""
    path = environ.get("PATH_INFO", "") or "/"
    return path + ("?..." if environ.get("QUERY_STRING") else "")


class LateApp:
    """A WSGI app set after the socket is bound (port 0 resolves before the app exists)."""

    def __init__(self) -> None:
        self.app: WsgiApp | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.app is None:
            body = json_error_body(503)
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        return self.app(environ, start_response)


class HttpServer:
    """A started-on-demand waitress server: `port`, `serve_forever()`, `shutdown()`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        threads: int = DEFAULT_THREADS,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        idle_timeout: float = 120.0,
        max_body_bytes: int = 1 << 30,
    ) -> None:
        self.app = LateApp()
        self._server = create_server(
            self.app,
            host=host,
            port=port,
            threads=threads,
            connection_limit=connection_limit,
            channel_timeout=max(1, int(idle_timeout)),
            cleanup_interval=1,
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=max_body_bytes,
            # Lets a request handler see that its client hung up (waitress.client_disconnected).
            channel_request_lookahead=1,
            recv_bytes=RECV_BYTES,
            ident="jewel-retouch",
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
        )
        self._listeners = [
            d for d in self._map.values() if isinstance(d, BaseWSGIServer)
        ]
        for listener in self._listeners:
            listener.channel_class = _Channel
            listener.maintenance = lambda now, s=listener: _maintenance(s, now)
        self._stopped = threading.Event()

    @property
    def _map(self) -> dict:
        return getattr(self._server, "map", None) or self._server._map

    @property
    def port(self) -> int:
        return int(self._listeners[0].effective_port)

    def set_app(self, app: WsgiApp) -> None:
        self.app.app = app

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):  # the map was closed under us by shutdown()
            if not self._stopped.is_set():
                raise

    def shutdown(self) -> None:
        self._stopped.set()
        self._listeners[0].task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        wasyncore.close_all(self._map)
