"""The WebSocket job channel: a thin shell that moves bytes for `server.protocol.JobSession`.

The session decides everything (what to answer, when a job starts, when to close); this
module receives frames, sends what the session puts out through one queue and one sender task
(so progress, result frames and `done` keep their order), and carries out its commands: decode
and queue a job, cancel it, close. A client that leaves its result unread for
`result_timeout` seconds is dropped, and a closed connection lets go of everything at once
(no reference cycles left for the garbage collector).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from server import __version__
from server.app import AppState
from server.engine import result_parts
from server.imageio import read_image
from server.job_input import parse_options, raw_image, run_info, run_warnings
from server.jobs import Job
from server.protocol import (
    MAX_HELLO_BYTES,
    CancelJob,
    Close,
    JobHeader,
    JobSession,
    ProtocolError,
    SessionPolicy,
    SessionState,
    StartJob,
    encode_message,
)
from server.security import check_host, check_origin, token_matches
from server.sizing import check_job_size

log = logging.getLogger("jewel_retouch.ws")

HELLO_TIMEOUT = 30.0
PROGRESS_INTERVAL = 0.05  # seconds between progress messages of the same stage
_CLOSE = object()



def _forget_cancellation(task: asyncio.Task) -> None:
    """Drops the CancelledError a task cancelled before its first step keeps: its traceback
    holds the coroutine's frame (and so its connection) in a cycle only the garbage
    collector would free. (Reading it takes it off the task.)"""
    if task.cancelled():
        try:
            task.result()
        except asyncio.CancelledError as exc:
            exc.__traceback__ = None

class ServerPolicy(SessionPolicy):
    """The session's questions answered from the server's state (token, queue, budget)."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def authenticate(self, token: str | None) -> bool:
        return token_matches(token, self.state.token)

    def admit(self, header: JobHeader) -> tuple[Any, int]:
        options = parse_options(header.options)
        if header.layout is not None:
            check_job_size(
                self.state.limits, header.layout.width, header.layout.height, options, header.layers
            )
        queue = self.state.queue
        stats = queue.stats()
        busy = stats["pending"] + stats["running"]
        if busy >= queue.capacity:
            raise ProtocolError(
                "queue_full", "the server is busy; try again shortly", queue.retry_after()
            )
        reservation = self.state.uploads.reserve(header.bytes, queue.retry_after())
        return (reservation, options), max(0, busy - queue.workers + 1)

    def release(self, ticket: Any) -> None:
        ticket[0].release()


class Connection:
    """One client: its session, its outbox and sender, and the job it runs."""

    def __init__(self, channel: JobChannel, ws: ServerConnection) -> None:
        self.state = channel.state
        self.ws = ws
        self.session = JobSession(ServerPolicy(channel.state), channel.state.limits, __version__)
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.job: Job | None = None
        self.job_task: asyncio.Task | None = None
        self.cancel_requested = False
        self.close: Close | None = None

    # -- outputs ---------------------------------------------------------------------------

    def dispatch(self, outputs: list) -> None:
        """Carry out what the session put out: messages and frames go to the sender."""
        for item in outputs:
            if isinstance(item, StartJob):
                self.cancel_requested = False
                self.job_task = asyncio.create_task(self.run_job(item))
                self.job_task.add_done_callback(_forget_cancellation)
            elif isinstance(item, CancelJob):
                self.cancel_job()
            elif isinstance(item, Close):
                self.close = item
                self.outbox.put_nowait(_CLOSE)
            else:
                self.outbox.put_nowait(item)
        # Before authentication, frames are limited to a hello's size.
        self.ws.protocol.max_message_size = self.session.max_frame

    async def sender(self, result_timeout: float) -> None:
        while True:
            item = await self.outbox.get()
            if item is _CLOSE:
                return
            data = encode_message(item) if isinstance(item, dict) else item
            try:
                await asyncio.wait_for(self.ws.send(data), result_timeout)
            except ConnectionClosed as closed:
                closed.__traceback__ = None  # see JobChannel.handler: no cycle through it
                return
            except asyncio.TimeoutError:
                # The client does not read: drop it rather than hold its result for ever.
                log.info("dropping a client that left its result unread for %g s", result_timeout)
                self.ws.transport.abort()
                return

    # -- the job ---------------------------------------------------------------------------

    def cancel_job(self) -> None:
        if self.job is not None:
            self.state.queue.cancel(self.job)  # the job task reports `cancelled`
        else:
            self.cancel_requested = True  # still decoding: the task stops before queueing

    async def run_job(self, start: StartJob) -> None:
        header = start.header
        job_id = header.id
        options = start.ticket[1]
        session = self.session
        try:
            image, info = await asyncio.to_thread(self._decode, header, start.buffer, options)
            del start
            if self.cancel_requested:
                self.dispatch(session.job_cancelled(job_id))
                return
            done = self.loop.create_future()
            job = Job(
                image,
                options,
                layers=header.layers,
                on_progress=self._progress_forwarder(job_id),
                on_done=lambda j, loop=self.loop: _resolve(loop, done, j),
                label=f"ws:{job_id}",
            )
            del image
            self.state.queue.submit(job)
            self.job = job
            await done
            if job.cancelled:
                self.dispatch(session.job_cancelled(job_id))
                return
            if job.error is not None:
                raise job.error
            result, job.result = job.result, None
            parts = await asyncio.to_thread(result_parts, result, header.format, info)
            outputs = session.job_succeeded(
                job_id, header.format, parts, run_info(result.info), run_warnings(result.info)
            )
            del result, parts
            self.dispatch(outputs)
        except asyncio.CancelledError as exc:
            # asyncio keeps this error (on the task and on the awaited future); its traceback
            # holds this frame, and so this connection, in a cycle only the garbage
            # collector would free.
            exc.__traceback__ = None
            if self.job is not None:
                self.state.queue.cancel(self.job)
        except ProtocolError as exc:
            self.dispatch(session.job_failed(job_id, exc))
        except MemoryError:
            error = ProtocolError("too_large", "not enough memory for this job")
            self.dispatch(session.job_failed(job_id, error))
        except Exception as exc:  # noqa: BLE001 - report, keep the connection and server alive
            log.exception("job failed")
            error = ProtocolError("internal", type(exc).__name__)
            self.dispatch(session.job_failed(job_id, error))
        finally:
            self._forget_job()

    def _decode(self, header: JobHeader, buffer: bytearray, options):
        if header.layout is not None:
            return raw_image(buffer, header.layout), None
        image, info = read_image(buffer, self.state.limits, expected_format=header.format)
        check_job_size(self.state.limits, image.width, image.height, options, header.layers)
        return image, info

    def _progress_forwarder(self, job_id: str):
        last = {"stage": None, "at": 0.0}
        lock = threading.Lock()
        # A weak reference: a job's callback must not keep a closed connection alive.
        this = weakref.ref(self)

        def forward(stage: str, fraction: float) -> None:
            now = time.monotonic()
            with lock:
                if stage == last["stage"] and now - last["at"] < PROGRESS_INTERVAL and fraction < 1:
                    return
                last["stage"], last["at"] = stage, now
            connection = this()
            if connection is not None:
                connection.loop.call_soon_threadsafe(connection._progress, job_id, stage, fraction)

        return forward

    def _progress(self, job_id: str, stage: str, fraction: float) -> None:
        self.dispatch(self.session.job_progress(job_id, stage, fraction))

    def _forget_job(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.on_progress = job.on_done = None
            job.result = None
        self.job_task = None
        self.cancel_requested = False

    def disconnected(self) -> None:
        """Cancel the job and let go of every buffer, queued frame and callback."""
        self.dispatch(self.session.disconnected())
        if self.job_task is not None:
            self.job_task.cancel()
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(_CLOSE)


def _resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future, job: Job) -> None:
    def set_result() -> None:
        if not future.done():
            future.set_result(job)

    try:
        loop.call_soon_threadsafe(set_result)
    except RuntimeError:  # loop closed: the server is stopping
        pass


class JobChannel:
    """The WebSocket server: security checks at the handshake, then one Connection per client."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.connections: weakref.WeakSet[Connection] = weakref.WeakSet()  # live ones (tests)

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
        connection = Connection(self, ws)
        self.connections.add(connection)
        session = connection.session
        config = self.state.config
        sender = asyncio.create_task(connection.sender(config.result_timeout))
        try:
            while not sender.done() and session.state is not SessionState.CLOSED:
                if session.state is SessionState.AWAITING_HELLO:
                    timeout: float | None = HELLO_TIMEOUT
                elif session.state is SessionState.RECEIVING:
                    timeout = config.upload_timeout  # a stalled upload must not hold its buffer
                else:
                    timeout = None
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout)
                except asyncio.TimeoutError:
                    if session.state is SessionState.AWAITING_HELLO:
                        connection.dispatch(session.hello_timed_out())
                    else:
                        connection.dispatch(session.upload_stalled(config.upload_timeout))
                    continue
                if isinstance(message, str):
                    connection.dispatch(session.receive_text(message))
                else:
                    connection.dispatch(session.receive_binary(message))
        except ConnectionClosed as closed:
            # websockets keeps this exception on the connection; its traceback would hold this
            # frame, and so the Connection and its buffers, in a cycle only the GC can break.
            closed.__traceback__ = None
        finally:
            close = connection.close
            if close is not None:
                await _finish_sending(sender)
                await ws.close(close.code, close.reason)
            connection.disconnected()
            await _finish_sending(sender)
            del connection, session, sender
            _break_protocol_cycles(ws)


def _break_protocol_cycles(ws: ServerConnection) -> None:
    """websockets keeps the exception that ended its parser (a dropped client's EOFError),
    whose traceback holds the parser's frame and so the protocol, the transport and the
    unsent frames in a cycle: cut it, so a dropped client's memory is freed at once."""
    protocol = ws.protocol
    for exc in (getattr(protocol, "parser_exc", None), getattr(protocol, "close_exc", None)):
        while exc is not None:
            exc.__traceback__ = None
            exc = exc.__cause__ or exc.__context__


async def _finish_sending(sender: asyncio.Task) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(sender), 5)
    except (asyncio.TimeoutError, ConnectionClosed, asyncio.CancelledError):
        sender.cancel()
    except Exception:  # noqa: BLE001 - the connection is going away anyway
        pass


def serve_channel(state: AppState, host: str, port: int, channel: JobChannel | None = None):
    """An awaitable websockets server for `state` (use as `async with`)."""
    channel = channel or JobChannel(state)
    return serve(
        channel.handler,
        host,
        port,
        process_request=channel.process_request,
        max_size=MAX_HELLO_BYTES,  # raised by the session once the client is authenticated
        max_queue=4,
        compression=None,
        write_limit=4 << 20,
        ping_interval=20,
        ping_timeout=60,
    )
