"""The WebSocket job channel (docs/protocol.md), a thin asyncio shell around server.protocol.

One connection runs one job at a time. Uploads stream into one preallocated buffer
(`PayloadBuffer`); all outgoing messages go through one queue and one sender task, so progress,
result frames and `done` keep their order. Closing the connection cancels its job.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from models.api import ImageData, OptionsError, RetouchOptions
from server import __version__
from server.app import AppState
from server.engine import profile_for_name, result_parts
from server.imageio import read_image
from server.jobs import Job
from server.protocol import (
    CLOSE_PROTOCOL,
    CLOSE_UNAUTHORIZED,
    MAX_CLIENT_FRAME,
    JobHeader,
    PayloadBuffer,
    ProtocolError,
    accepted_message,
    cancelled_message,
    decode_message,
    done_message,
    encode_message,
    error_message,
    iter_frames,
    progress_message,
    ready_message,
    result_message,
)
from server.security import check_host, check_origin, token_matches

log = logging.getLogger("jewel_retouch.ws")

HELLO_TIMEOUT = 30.0
PROGRESS_INTERVAL = 0.05  # seconds between progress messages of the same stage
_CLOSE = object()


class Session:
    """State of one authenticated connection."""

    def __init__(self, channel: JobChannel, ws: ServerConnection) -> None:
        self.channel = channel
        self.state = channel.state
        self.ws = ws
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.header: JobHeader | None = None
        self.options: RetouchOptions | None = None
        self.payload: PayloadBuffer | None = None
        self.job: Job | None = None
        self.job_id: str | None = None
        self.job_task: asyncio.Task | None = None
        self.discarding = False  # binary frames of a refused job are dropped silently
        self.cancel_requested = False
        self.reservation = None

    def send(self, item: Any) -> None:
        """Queue a message (dict -> JSON text) or a binary frame for the sender task."""
        self.outbox.put_nowait(item)

    def send_error(self, job_id: str | None, error: ProtocolError) -> None:
        self.send(error_message(job_id, error))

    async def sender(self) -> None:
        while True:
            item = await self.outbox.get()
            if item is _CLOSE:
                return
            if isinstance(item, dict):
                await self.ws.send(encode_message(item))
            else:
                await self.ws.send(item)

    @property
    def busy(self) -> bool:
        return self.job_id is not None

    # -- incoming -----------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        try:
            message = decode_message(text, ("job", "cancel", "hello"))
        except ProtocolError as exc:
            self.send_error(None, exc)
            return
        kind = message["type"]
        self.discarding = False
        if kind == "hello":
            self.send_error(None, ProtocolError("bad_request", "already authenticated"))
        elif kind == "cancel":
            self.on_cancel(message.get("id"))
        else:
            self.on_job(message)

    def on_job(self, message: dict) -> None:
        job_id = message.get("id") if isinstance(message.get("id"), str) else None
        if self.busy:
            self.discarding = True
            self.send_error(
                job_id,
                ProtocolError(
                    "bad_request", f"job {self.job_id!r} is still running; one job at a time"
                ),
            )
            return
        try:
            header = JobHeader.parse(message, self.state.limits)
            try:
                options = RetouchOptions.from_mapping(header.options)
            except OptionsError as exc:
                raise ProtocolError("invalid_options", str(exc)) from None
            queue = self.state.queue
            stats = queue.stats()
            if stats["pending"] + stats["running"] >= queue.capacity:
                raise ProtocolError(
                    "queue_full", "the server is busy; try again shortly", queue.retry_after()
                )
            reservation = self.state.uploads.reserve(header.bytes, queue.retry_after())
            try:
                payload = PayloadBuffer(header.bytes)
            except BaseException:
                reservation.release()
                raise
        except ProtocolError as exc:
            self.discarding = True
            self.send_error(job_id, exc)
            return
        except MemoryError:
            self.discarding = True
            self.send_error(job_id, ProtocolError("too_large", "not enough memory for this job"))
            return
        self.header, self.options, self.payload, self.job_id = header, options, payload, header.id
        self.reservation = reservation
        stats = self.state.queue.stats()
        position = max(0, stats["pending"] + stats["running"] - self.state.queue.workers + 1)
        self.send(accepted_message(header.id, position))

    def on_binary(self, frame: bytes) -> None:
        if self.payload is None:
            if not self.discarding:
                self.discarding = True
                self.send_error(
                    None, ProtocolError("bad_request", "binary data without a job header")
                )
            return
        try:
            complete = self.payload.feed(frame)
        except ProtocolError as exc:
            self.send_error(self.job_id, exc)
            self.reset()
            self.discarding = True
            return
        if complete:
            header, options, buffer = self.header, self.options, self.payload.buffer
            self.payload = None
            self.job_task = asyncio.create_task(self.run_job(header, options, buffer))

    def on_cancel(self, job_id: Any) -> None:
        if job_id is None or job_id != self.job_id:
            return  # nothing to cancel (already finished, or never started): not an error
        if self.payload is not None:
            self.reset()
            self.discarding = True
            self.send(cancelled_message(job_id))
        elif self.job is not None:
            self.state.queue.cancel(self.job)  # the job task reports `cancelled`
        else:
            self.cancel_requested = True  # still decoding: the job task stops before queueing

    def reset(self) -> None:
        if self.reservation is not None:
            self.reservation.release()
            self.reservation = None
        self.header = self.options = self.payload = self.job = self.job_id = None
        self.job_task = None
        self.cancel_requested = False

    def on_disconnect(self) -> None:
        if self.job is not None:
            self.state.queue.cancel(self.job)
        if self.job_task is not None:
            self.job_task.cancel()
        self.reset()  # frees the upload reservation even if the task never got to run

    # -- one job ------------------------------------------------------------------------------

    async def run_job(self, header: JobHeader, options: RetouchOptions, buffer: bytearray) -> None:
        job_id = header.id
        try:
            image, info = await asyncio.to_thread(self._decode, header, buffer)
            del buffer
            if self.cancel_requested:
                self.send(cancelled_message(job_id))
                return
            done = self.loop.create_future()
            job = Job(
                image,
                options,
                layers=header.layers,
                on_progress=self._progress_forwarder(job_id),
                on_done=lambda j: self._resolve(done, j),
                label=f"ws:{job_id}",
            )
            del image
            self.state.queue.submit(job)
            self.job = job
            await done
            if job.cancelled:
                self.send(cancelled_message(job_id))
                return
            if job.error is not None:
                raise job.error
            result = job.result
            job.result = None
            parts = await asyncio.to_thread(result_parts, result, header.format, info)
            self.send(result_message(job_id, header.format, parts))
            for part in parts:
                for frame in iter_frames(part.data):
                    self.send(frame)
            self.send(done_message(job_id, _json_safe(result.info)))
        except asyncio.CancelledError:
            if self.job is not None:
                self.state.queue.cancel(self.job)
            self.send(cancelled_message(job_id))
        except ProtocolError as exc:
            self.send_error(job_id, exc)
        except MemoryError:
            self.send_error(job_id, ProtocolError("too_large", "not enough memory for this job"))
        except Exception as exc:  # noqa: BLE001 - report, keep the connection and server alive
            log.exception("job %s failed", job_id)
            self.send_error(job_id, ProtocolError("internal", f"{type(exc).__name__}"))
        finally:
            if self.job_id == job_id:
                self.reset()

    def _decode(self, header: JobHeader, buffer: bytearray):
        if header.format == "raw":
            layout = header.layout
            dtype = np.uint8 if layout.depth == 8 else np.dtype("<u2")
            pixels = np.frombuffer(buffer, dtype).reshape(
                layout.height, layout.width, layout.channels
            )
            return ImageData(pixels, profile_for_name(layout.color_profile)), None
        return read_image(buffer, self.state.limits, expected_format=header.format)

    def _resolve(self, future: asyncio.Future, job: Job) -> None:
        def set_result() -> None:
            if not future.done():
                future.set_result(job)

        try:
            self.loop.call_soon_threadsafe(set_result)
        except RuntimeError:  # loop closed: the server is stopping
            pass

    def _progress_forwarder(self, job_id: str):
        last = {"stage": None, "at": 0.0}
        lock = threading.Lock()

        def forward(stage: str, fraction: float) -> None:
            now = time.monotonic()
            with lock:
                if stage == last["stage"] and now - last["at"] < PROGRESS_INTERVAL and fraction < 1:
                    return
                last["stage"], last["at"] = stage, now
            self.loop.call_soon_threadsafe(self.send, progress_message(job_id, stage, fraction))

        return forward


def _json_safe(value: Any) -> dict:
    import json

    try:
        json.dumps(value, allow_nan=False)
        return dict(value)
    except (TypeError, ValueError):
        return {"note": "run info not JSON-serialisable"}


class JobChannel:
    """The WebSocket server: security checks at the handshake, then one Session per client."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            hosts = request.headers.get_all("Host")
            origins = request.headers.get_all("Origin")
            if len(hosts) != 1 or len(origins) > 1:
                raise ProtocolError("forbidden", "exactly one Host and at most one Origin header")
            check_host(hosts[0], self.state.config)
            check_origin(origins[0] if origins else None, self.state.config)
        except ProtocolError as exc:
            body = encode_message(exc.to_json()).encode()
            headers = Headers([("Content-Type", "application/json")])
            return Response(403, "Forbidden", headers, body)
        return None

    async def handler(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionClosed):
            await ws.close(CLOSE_PROTOCOL, "no hello")
            return
        try:
            if not isinstance(first, str):
                raise ProtocolError("bad_request", "the first message must be a JSON hello")
            hello = decode_message(first, ("hello",))
        except ProtocolError as exc:
            await ws.send(encode_message(error_message(None, exc)))
            await ws.close(CLOSE_PROTOCOL, exc.code)
            return
        if not token_matches(
            hello.get("token") if isinstance(hello.get("token"), str) else None, self.state.token
        ):
            error = ProtocolError("unauthorized", "wrong or missing access token")
            await ws.send(encode_message(error_message(None, error)))
            await ws.close(CLOSE_UNAUTHORIZED, "unauthorized")
            return
        await ws.send(encode_message(ready_message(__version__, self.state.limits)))
        session = Session(self, ws)
        sender = asyncio.create_task(session.sender())
        stall_limit = self.state.config.upload_timeout
        try:
            while not sender.done():
                uploading = session.payload is not None
                try:
                    message = await asyncio.wait_for(ws.recv(), stall_limit if uploading else None)
                except asyncio.TimeoutError:
                    # A stalled upload must not hold its buffer (and budget) forever.
                    error = ProtocolError(
                        "bad_request", f"no data for {stall_limit:g} s: upload dropped"
                    )
                    session.send_error(session.job_id, error)
                    session.reset()
                    session.discarding = True
                    continue
                if isinstance(message, str):
                    session.on_text(message)
                else:
                    session.on_binary(message)
        except ConnectionClosed:
            pass
        finally:
            session.on_disconnect()
            session.send(_CLOSE)
            try:
                await asyncio.wait_for(sender, 5)
            except (asyncio.TimeoutError, ConnectionClosed, asyncio.CancelledError):
                sender.cancel()
            except Exception:
                pass


def serve_channel(state: AppState, host: str, port: int):
    """An awaitable websockets server for `state` (use as `async with`)."""
    channel = JobChannel(state)
    return serve(
        channel.handler,
        host,
        port,
        process_request=channel.process_request,
        max_size=MAX_CLIENT_FRAME,
        max_queue=4,
        compression=None,
        write_limit=4 << 20,
        ping_interval=20,
        ping_timeout=60,
    )
