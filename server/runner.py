"""Run the HTTP server and the WebSocket channel together in one process.

`RunningServer.start(config)` starts both (port 0 picks free ports) and returns once they
listen; `stop()` shuts both down and cancels the queued jobs. `jewel-retouch serve` and
`server.testing.run_server` both go through here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace

from server.app import AppState, build_state, create_app
from server.config import ServerConfig, check_bind
from server.engine import Engine
from server.http_server import AccessLog, HttpServer

log = logging.getLogger("jewel_retouch")


class RunningServer:
    """Both listeners of one server process, sharing one AppState (model, queue, token)."""

    def __init__(self, state: AppState, http_server, ws_thread: threading.Thread, ws_stop) -> None:
        self.state = state
        self.http_server = http_server
        self._ws_thread = ws_thread
        self._ws_stop = ws_stop
        self._http_thread: threading.Thread | None = None
        self.channel = None  # the WebSocket JobChannel (its live connections, for tests)

    @property
    def config(self) -> ServerConfig:
        return self.state.config

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.config.host)}:{self.config.port}"

    @property
    def ws_url(self) -> str:
        return self.config.ws_url()

    @classmethod
    def start(
        cls, config: ServerConfig, engine: Engine | None = None, verbose: bool = False
    ) -> RunningServer:
        check_bind(config)
        # The HTTP socket first, so that port 0 resolves before the app learns its origin.
        http_server = HttpServer(
            config.host,
            config.port,
            threads=config.http_threads,
            connection_limit=config.connection_limit,
            idle_timeout=config.upload_timeout,
            max_body_bytes=config.max_body_bytes,
        )
        config = replace(config, port=http_server.port)
        try:
            state = build_state(config, engine)
        except BaseException:
            http_server.shutdown()
            raise
        ws_ready = threading.Event()
        ws_info: dict = {}
        loop_holder: dict = {}

        from server.ws import JobChannel, serve_channel

        channel = JobChannel(state)

        def ws_main() -> None:
            async def run() -> None:
                stop = asyncio.Event()
                loop_holder["loop"] = asyncio.get_running_loop()
                loop_holder["stop"] = stop
                try:
                    async with serve_channel(state, config.host, config.ws_port, channel) as server:
                        sockets = list(server.sockets)
                        ws_info["port"] = sockets[0].getsockname()[1]
                        ws_ready.set()
                        await stop.wait()
                except OSError as exc:
                    ws_info["error"] = exc
                    ws_ready.set()

            asyncio.run(run())

        ws_thread = threading.Thread(target=ws_main, name="websocket", daemon=True)
        ws_thread.start()
        ws_ready.wait(30)
        if "error" in ws_info or "port" not in ws_info:
            http_server.shutdown()
            state.queue.stop()
            raise OSError(f"cannot listen for WebSockets: {ws_info.get('error', 'timeout')}")
        state.config = replace(config, ws_port=ws_info["port"])
        http_server.set_app(AccessLog(create_app(state=state), verbose))

        def stop_ws() -> None:
            loop, stop = loop_holder.get("loop"), loop_holder.get("stop")
            if loop is not None and stop is not None:
                try:
                    loop.call_soon_threadsafe(stop.set)
                except RuntimeError:
                    pass

        running = cls(state, http_server, ws_thread, stop_ws)
        running.channel = channel
        running._http_thread = threading.Thread(
            target=http_server.serve_forever, name="http", daemon=True
        )
        running._http_thread.start()
        return running

    def stop(self) -> None:
        self.state.queue.stop(timeout=5)
        self._ws_stop()
        self.http_server.shutdown()
        self._ws_thread.join(10)
        if self._http_thread is not None:
            self._http_thread.join(10)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
