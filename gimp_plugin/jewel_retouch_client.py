# -*- coding: ascii -*-
"""jewel-retouch client shared by the GIMP 3 and GIMP 2.10 plug-ins.

Standard library only, ASCII only, and written in the common subset of Python 2.7 and 3
(GIMP 2.10 runs Python-Fu on 2.7; GIMP 3 on Python 3). It knows the wire protocol
(docs/protocol.md) and nothing about GIMP:

- where the server's token file is (same rules as the server, on Linux, macOS and Windows);
- `Client.info()` / `Client.health()` over HTTP;
- `Client.retouch(RetouchRequest(...))`: one job over the WebSocket channel (progress, cancel)
  with a minimal RFC 6455 client, falling back to one HTTP POST when the server publishes no
  WebSocket URL; the run's warnings come back in `RetouchResult.warnings`;
- the paste plan: which layers, group, masks and channels a result becomes, in what order and
  at which offsets (docs/protocol.json "paste"), executed by each plug-in's thin host adapter;
- `RetouchError` carrying a message that tells the user what to do.

Cancelling: the progress callback may return False (or raise `Cancelled`); the client then
sends a `cancel` message and closes the connection. Closing the connection also cancels the
job on the server, so a plug-in killed by GIMP's cancel button leaves no work running.
"""

from __future__ import absolute_import, division, print_function

import base64
import errno
import hashlib
import io
import json
import os
import select
import socket
import struct
import sys
import time
import zipfile

try:  # Python 3
    from http.client import HTTPConnection, HTTPException  # novermin
    from urllib.parse import urlsplit  # novermin
except ImportError:  # Python 2.7
    from httplib import HTTPConnection, HTTPException  # noqa: F401  # novermin
    from urlparse import urlsplit  # noqa: F401  # novermin

CLIENT_VERSION = "0.1.0"
DEFAULT_SERVER_URL = "http://127.0.0.1:8765"
CONFIG_DIR_ENV = "JEWEL_RETOUCH_CONFIG_DIR"
WS_CHUNK = 1024 * 1024  # client binary frames (protocol: any size up to 16 MiB)
MAX_TEXT_MESSAGE = 64 * 1024

# The options as the model publishes them in /v1/info (models/api.py OPTION_SPECS). The
# plug-ins register one procedure argument per entry, so the PDB signature does not depend on
# whether the server was running when GIMP started; the dialog follows the live schema.
BUILTIN_OPTIONS = [
    {
        "name": "background",
        "label": "Background",
        "type": "enum",
        "default": "white",
        "choices": ["white", "transparent", "keep"],
        "description": "Backdrop: pure white, transparent, or kept as shot.",
    },
    {
        "name": "shadow",
        "label": "Shadow",
        "type": "enum",
        "default": "none",
        "choices": ["none", "natural", "soft", "contact"],
        "description": "Shadow on the new backdrop: none; soft (a short graded drop shadow); "
        "contact (a thin shadow where the piece rests); natural (the photo's own, cleaned).",
    },
    {
        "name": "metal",
        "label": "Metal",
        "type": "enum",
        "default": "auto",
        "choices": ["auto", "yellow_gold", "rose_gold", "white_gold", "silver", "platinum"],
        "description": "Metal to tone toward; auto detects it.",
    },
    {
        "name": "strength",
        "label": "Strength",
        "type": "number",
        "default": 1.0,
        "minimum": 0.0,
        "maximum": 1.0,
        "description": "Overall strength of the retouch (0 = unchanged).",
    },
    {
        "name": "cleanup",
        "label": "Cleanup",
        "type": "boolean",
        "default": True,
        "description": "Remove dust, lint, fingerprints and micro-scratches.",
    },
    {
        "name": "hotspots",
        "label": "Hotspots",
        "type": "boolean",
        "default": True,
        "description": "Tame blown specular highlights (to about 90%, 97% with the catalog "
        "finish) while keeping reflections.",
    },
    {
        "name": "gem_contrast",
        "label": "Gem contrast",
        "type": "number",
        "default": 0.5,
        "minimum": 0.0,
        "maximum": 1.0,
        "description": "Local micro-contrast inside gemstones (0 = none).",
    },
    {
        "name": "protect_gems",
        "label": "Protect gems",
        "type": "boolean",
        "default": False,
        "description": "Leave gemstone pixels bit-for-bit untouched.",
    },
    {
        "name": "framing",
        "label": "Framing",
        "type": "enum",
        "default": "none",
        "choices": ["none", "square", "amazon", "etsy", "ebay", "shopify"],
        "description": "Centre the piece on a square canvas with the given margin; a "
        "marketplace name also sets the canvas size.",
    },
    {
        "name": "margin",
        "label": "Margin",
        "type": "number",
        "default": 0.075,
        "minimum": 0.0,
        "maximum": 0.45,
        "description": "Framing margin as a fraction of the canvas side.",
    },
    {
        "name": "force_cutout",
        "label": "Force cutout",
        "type": "boolean",
        "default": False,
        "description": "Cut the piece out even when the photo is not a clean studio backdrop "
        "(otherwise such a photo keeps its background and gets only the piece-safe fixes, "
        "with a warning).",
    },
    {
        "name": "canvas_size",
        "label": "Canvas size",
        "type": "integer",
        "default": 0,
        "minimum": 0,
        "maximum": 10000,
        "description": "Framing canvas side in pixels (0 = keep the piece's own resolution).",
    },
    # Newer options go last: GIMP 2.10 passes the options by position.
    {
        "name": "finish",
        "label": "Finish",
        "type": "enum",
        "default": "catalog",
        "choices": ["catalog", "natural"],
        "description": "catalog: the retoucher's look (crisper metal, brilliant stones); "
        "natural: faithful, exposure and contrast as shot.",
    },
    {
        "name": "reflection",
        "label": "Reflection",
        "type": "boolean",
        "default": False,
        "description": "Add a mirror reflection of the piece below it that fades out.",
    },
    {
        "name": "metal_variants",
        "label": "Metal variants",
        "type": "list",
        "default": [],
        "choices": ["yellow_gold", "rose_gold", "white_gold", "silver", "platinum"],
        "description": "Also deliver the piece in these metals (one extra layer each).",
    },
]

START_COMMAND = "jewel-retouch serve"
START_SERVER_HINT = "Start the server with `%s` and try again." % START_COMMAND
# While the server works without a word (the model on a big region), the client still calls
# the progress callback this often, so the plug-in can show that it is waiting and for how long.
WAIT_TICK_S = 1.0
# The option types a plug-in knows how to show; others (from a newer server) are left out of
# the dialog and sent as the server's default.
KNOWN_OPTION_TYPES = ("enum", "boolean", "number", "integer", "list")


class RetouchError(Exception):
    """A failure the user can act on. `message` says what happened and what to do."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


class Cancelled(Exception):
    """The user cancelled the job."""


# ---------------------------------------------------------------------------------------
# Token file (same rules as server/config.py and docs/protocol.md)
# ---------------------------------------------------------------------------------------


def config_dir(environ=None, platform=None, home=None):
    """The per-user jewel-retouch folder holding the server's token file."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    override = environ.get(CONFIG_DIR_ENV)
    if override:
        return override
    if home is None:
        home = os.path.expanduser("~")
    if platform == "win32":
        appdata = environ.get("APPDATA")
        base = appdata if appdata else os.path.join(home, "AppData", "Roaming")
        return os.path.join(base, "jewel-retouch")
    if platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "jewel-retouch")
    xdg = environ.get("XDG_CONFIG_HOME")
    return os.path.join(xdg if xdg else os.path.join(home, ".config"), "jewel-retouch")


def token_path(environ=None, platform=None, home=None):
    return os.path.join(config_dir(environ, platform, home), "token")


def read_token(path=None):
    """The server's access token, or a RetouchError saying how to get one."""
    path = path or token_path()
    try:
        with open(path, "rb") as handle:
            token = handle.read().decode("ascii", "replace").strip()
    except (IOError, OSError):
        raise RetouchError(
            "no_token",
            "No jewel-retouch access token at %s. Start the server once with "
            "`jewel-retouch serve` (it writes the token there), then try again." % path,
        )
    if not token:
        raise RetouchError(
            "no_token", "The token file %s is empty. Restart `jewel-retouch serve`." % path
        )
    return token


# ---------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------


def coerce_option(spec, value):
    """`value` converted to the JSON type of `spec` (GIMP hands over ints for booleans etc.)."""
    kind = spec.get("type")
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "enum":
        value = str(value)
        choices = spec.get("choices") or []
        if value not in choices:
            raise RetouchError(
                "invalid_options",
                "Option %s must be one of %s, not %r." % (spec["name"], ", ".join(choices), value),
            )
        return value
    if kind == "list":  # names from `choices` (metal_variants): the plug-ins take them as a
        # comma-separated text ("rose_gold, silver"); a JSON array text works too
        if isinstance(value, (bytes, type(b"".decode("ascii")))):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError:
                value = [item.strip() for item in value.split(",") if item.strip()]
        return [str(item) for item in value]
    return value


def number_display(spec):
    """(decimal digits, entry width in characters) that show a number option's default and
    range exactly: 0.075 needs 3 digits, and "0.075" needs 5 characters plus room for the
    cursor. GIMP's own estimate for a 0..0.45 range is 4 digits in a 5-character entry, which
    cuts "0.0750" off."""
    digits = 2
    for key in ("default", "minimum", "maximum"):
        value = spec.get(key)
        if isinstance(value, float):
            text = ("%.6f" % value).rstrip("0")
            digits = max(digits, len(text.split(".")[1]) if "." in text else 0)
    digits = min(digits, 6)
    widest = 1
    for key in ("minimum", "maximum", "default"):
        value = spec.get(key)
        if isinstance(value, (int, float)):
            widest = max(widest, len("%.*f" % (digits, value)))
    return digits, widest + 1


STAGE_TEXTS = {
    "upload": "sending the pixels",
    "waiting": "waiting for the server",
    "queued": "waiting in the server's queue",
    "download": "receiving the result",
}


def progress_text(stage, seconds=0.0):
    """The progress bar text for a job stage, with the seconds spent in it once it lasts."""
    label = STAGE_TEXTS.get(stage) or str(stage).replace("_", " ")
    text = "Jewel retouch: %s" % label
    if seconds >= 1.0:
        text += " (%d s)" % int(seconds)
    return text + "..."


def unreachable_note(error, server_url):
    """What the options dialog says on top when the server could not be asked for its
    options: the URL tried, why, the command that starts the server, and that the options
    shown are the plug-in's own."""
    if error.code == "bad_url":
        first = error.message
    elif error.code in ("server_down", "timeout"):
        first = "No jewel-retouch server answered at %s." % server_url
    else:
        first = error.message
    return (
        "%s Start the server in a terminal with `%s`, or correct the Server URL below. "
        "The options shown are the plug-in's built-in ones; OK tries the server again."
        % (first, START_COMMAND)
    )


def options_from_values(schema, values):
    """The options JSON object for `values` (a name -> value mapping), following `schema`.

    Names the schema does not know are dropped (an older server); names missing from
    `values` are left out so the server applies its default.
    """
    options = {}
    for spec in schema:
        name = spec["name"]
        if name in values and values[name] is not None:
            options[name] = coerce_option(spec, values[name])
    return options


# ---------------------------------------------------------------------------------------
# Minimal RFC 6455 WebSocket client (text + binary frames, client-side masking)
# ---------------------------------------------------------------------------------------

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def mask_payload(data, key):
    """`data` XOR the 4-byte `key` repeated (RFC 6455 section 5.3), fast for megabytes.

    Each of the four byte lanes is XORed by one `translate` over an extended slice: C-speed
    on Python 2 and 3 (about 3 ms per MiB, some 50x faster than a loop over bytes).
    """
    out = bytearray(data)
    for lane in range(4):
        value = key[lane] if isinstance(key[lane], int) else ord(key[lane])
        table = bytes(bytearray(byte ^ value for byte in range(256)))
        out[lane::4] = out[lane::4].translate(table)
    return out


def frame_header(opcode, length, key):
    """Header of one final, masked client frame carrying `length` payload bytes."""
    head = struct.pack("!B", 0x80 | opcode)
    if length < 126:
        head += struct.pack("!B", 0x80 | length)
    elif length < 65536:
        head += struct.pack("!BH", 0x80 | 126, length)
    else:
        head += struct.pack("!BQ", 0x80 | 127, length)
    return head + key


def encode_frame(opcode, payload, key=None):
    """One final, masked client frame as bytes (small frames; big ones go out in two parts)."""
    key = os.urandom(4) if key is None else key
    return frame_header(opcode, len(payload), key) + bytes(mask_payload(payload, key))


class WebSocket(object):
    """A blocking WebSocket connection over a plain TCP socket (ws:// only: loopback)."""

    def __init__(self, url, timeout):
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise RetouchError("bad_url", "Only ws:// WebSocket URLs are supported, not %s" % url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self.sock = socket.create_connection((self.host, self.port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        self._handshake(path, parts.netloc)

    def _handshake(self, path, netloc):
        key = base64.b64encode(os.urandom(16))
        request = (
            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (path, netloc, key.decode("ascii"))
        )
        self.sock.sendall(request.encode("ascii"))
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RetouchError("bad_response", "The WebSocket server closed the handshake.")
            self._buffer += chunk
            if len(self._buffer) > 65536:
                raise RetouchError("bad_response", "The WebSocket handshake answer is too long.")
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise RetouchError(
                "bad_response", "The WebSocket server refused the connection: %s" % lines[0]
            )
        expected = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode("ascii")
        accept = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-accept":
                accept = value.strip()
        if accept != expected:
            raise RetouchError("bad_response", "The WebSocket handshake answer is not valid.")

    def settimeout(self, timeout):
        self.sock.settimeout(timeout)

    def wait_readable(self, timeout, tick, on_tick):
        """Block until a message starts to arrive, calling on_tick() every `tick` seconds
        meanwhile; socket.timeout after `timeout` seconds of silence. Reading whole frames
        only after this keeps a tick from ever landing in the middle of a frame."""
        if self._buffer:
            return
        deadline = time.time() + timeout
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise socket.timeout("no message within %s s" % timeout)
            readable, _, _ = select.select([self.sock], [], [], min(tick, remaining))
            if readable:
                return
            on_tick()

    def send_text(self, text):
        self.sock.sendall(encode_frame(OP_TEXT, text.encode("utf-8")))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_binary(self, data):
        key = os.urandom(4)
        self.sock.sendall(frame_header(OP_BINARY, len(data), key))
        self.sock.sendall(mask_payload(data, key))  # no copy into one big frame string

    def _read_exact(self, count):
        if len(self._buffer) >= count:
            data, self._buffer = self._buffer[:count], self._buffer[count:]
            return data
        # Large payloads land straight in one buffer (no list of small chunks to join).
        out = bytearray(count)
        have = len(self._buffer)
        out[:have] = self._buffer
        self._buffer = b""
        view = memoryview(out)
        while have < count:
            got = self.sock.recv_into(view[have:], min(count - have, 4 * 1024 * 1024))
            if not got:
                raise RetouchError("connection_lost", "The server closed the connection.")
            have += got
        return bytes(out)

    def _read_frame(self):
        first, second = struct.unpack("!BB", self._read_exact(2))
        opcode = first & 0x0F
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exact(8))[0]
        key = self._read_exact(4) if second & 0x80 else None
        payload = self._read_exact(length)
        if key is not None:
            payload = mask_payload(payload, key)
        return bool(first & 0x80), opcode, payload

    def receive(self):
        """The next message as (kind, payload): ("text", str) or ("binary", bytes).

        Pings are answered; a close frame raises RetouchError with the close code.
        """
        parts = []
        message_opcode = None
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == OP_PING:
                self.sock.sendall(encode_frame(OP_PONG, payload))
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                try:
                    self.sock.sendall(encode_frame(OP_CLOSE, payload[:2]))
                except (IOError, OSError):
                    pass
                error = RetouchError(
                    "closed", "The server closed the connection (%d %s)." % (code, reason)
                )
                error.close_code = code
                raise error
            if opcode != OP_CONT:
                message_opcode = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if message_opcode == OP_TEXT:
                    return "text", data.decode("utf-8")
                return "binary", data

    def close(self):
        try:
            self.sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))
        except (IOError, OSError):
            pass
        try:
            self.sock.close()
        except (IOError, OSError):
            pass


# ---------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------


class RetouchResult(object):
    """The answer to one job: `parts` is a list of (descriptor dict, bytes), the image first.

    Each descriptor has name, kind ("image" | "layer" | "mask"), width, height, channels,
    depth. `timings` holds the client's own phase times in seconds.
    """

    def __init__(self, header, parts, info, timings, warnings=None):
        self.header = header
        self.parts = parts
        self.info = info
        self.timings = timings
        self.warnings = warnings or []  # [{"code", "message"}], see collect_warnings

    def part(self, kind, name=None):
        for descriptor, data in self.parts:
            if descriptor.get("kind") == kind and (name is None or descriptor["name"] == name):
                return descriptor, data
        return None, None


class RetouchRequest(object):
    """Everything one retouch job needs, handed to `Client.retouch` as one object.

    pixels: bytes (or ChunkedPixels), width x height x channels x depth/8 long, 16-bit
        samples little-endian.
    options: the options JSON object (see options_from_values).
    layers: ask for the separable layers and masks.
    progress(stage, fraction): called as the job advances; returning False cancels.
    info: the server's /v1/info answer when the caller already has it.
    part_sink(descriptor): returns an object with write(bytes), finish() -> value and
        discard(), or None to keep that part's bytes; the value takes the bytes' place in
        RetouchResult.parts. Lets a plug-in write the answer into a layer as it arrives.
    """

    def __init__(
        self,
        pixels,
        width,
        height,
        channels,
        depth,
        options=None,
        layers=False,
        color_profile="srgb",
        progress=None,
        info=None,
        part_sink=None,
    ):
        self.pixels = pixels
        self.width, self.height = int(width), int(height)
        self.channels, self.depth = int(channels), int(depth)
        self.options = dict(options or {})
        self.layers = bool(layers)
        self.color_profile = color_profile
        self.progress = progress
        self.info = info
        self.part_sink = part_sink

    @property
    def byte_count(self):
        return _byte_count(self.pixels)

    def report(self, stage, fraction):
        """Pass progress on; raises Cancelled when the callback says stop."""
        if self.progress is not None and self.progress(stage, fraction) is False:
            raise Cancelled()

    def sink_for(self, descriptor):
        sink = self.part_sink(descriptor) if self.part_sink is not None else None
        return sink if sink is not None else CollectBytes(descriptor)


class ChunkedPixels(object):
    """Pixels handed over piece by piece: `chunks` yields bytes adding up to `byte_count`.

    Lets a plug-in read the layer strip by strip while the server already receives earlier
    strips, instead of holding the whole region in memory before sending.
    """

    def __init__(self, byte_count, chunks):
        self.byte_count = byte_count
        self.chunks = chunks


class CollectBytes(object):
    """The default part sink: keeps a part's bytes in memory."""

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self._chunks = []

    def write(self, data):
        self._chunks.append(data)

    def finish(self):
        return b"".join(self._chunks)

    def discard(self):
        self._chunks = []


def _byte_count(pixels):
    return pixels.byte_count if isinstance(pixels, ChunkedPixels) else len(pixels)


def _chunks_of(pixels):
    """Frames of at most WS_CHUNK bytes from bytes or ChunkedPixels."""
    pieces = pixels.chunks if isinstance(pixels, ChunkedPixels) else [pixels]
    for piece in pieces:
        view = memoryview(piece)
        for offset in range(0, len(view), WS_CHUNK):
            yield view[offset : offset + WS_CHUNK]


# The user-facing advice per server error code: docs/protocol.json "errors" (tests compare the
# two). Each entry: (summary, advice); the message shown is summary, server message, advice.
ERROR_ADVICE = {
    "bad_request": (
        "The server could not read the request",
        "Check the image (it may be damaged) and try again; if it keeps failing, see the "
        "`jewel-retouch serve` window.",
    ),
    "unauthorized": (
        "The server refused the access token",
        "The plug-in reads the token file that `jewel-retouch serve` writes: restart "
        "`jewel-retouch serve` as the same user, or check JEWEL_RETOUCH_CONFIG_DIR.",
    ),
    "forbidden": (
        "The server refused this request (its Host or Origin check)",
        "Connect to the server at http://127.0.0.1, or start it with --allow-origin for this page.",
    ),
    "moved": (
        "The server moved this address",
        "Use the address the server names; update the plug-in if it asks for an old one.",
    ),
    "not_found": (
        "The server does not know this request",
        "Use the same version of the server and the plug-in.",
    ),
    "method_not_allowed": (
        "The server does not allow this request",
        "Use the same version of the server and the plug-in.",
    ),
    "too_large": (
        "The image is too large for the server",
        "Select a smaller region, or start the server with a larger pixel limit "
        "(--max-megapixels).",
    ),
    "unsupported_format": (
        "The server cannot read this image format",
        "Use PNG, TIFF, JPEG or WebP images, 8 or 16 bits, RGB or greyscale.",
    ),
    "invalid_options": (
        "The server refused the options",
        "Check the option values (`jewel-retouch info` lists every option and its range).",
    ),
    "invalid_pixels": (
        "The server could not read the pixels",
        "Use the plug-in that came with this server version.",
    ),
    "queue_full": ("The server is busy with other images", "Try again in a moment."),
    "unavailable": (
        "The server is shutting down",
        "Start it again with `jewel-retouch serve`, then try again.",
    ),
    "timeout": (
        "The server gave up on the retouch (it ran past its time limit)",
        "Try a smaller region, or start the server with a longer job timeout (--job-timeout).",
    ),
    "internal": (
        "The server failed while retouching",
        "See the `jewel-retouch serve` window for details.",
    ),
}


def _error_message(code, message, server_url, token_file):
    """A message for the user that says what to do about a server error code."""
    message = (message or "").strip()
    if code not in ERROR_ADVICE:
        return "The server refused the retouch (%s): %s" % (code, message)
    summary, advice = ERROR_ADVICE[code]
    if code == "unauthorized":
        summary = "%s read from %s (server %s)" % (summary, token_file, server_url)
    if message and message[-1] not in ".!?":
        message += "."
    return "%s: %s %s" % (summary, message, advice) if message else "%s. %s" % (summary, advice)


# ---------------------------------------------------------------------------------------
# Warnings (docs/protocol.json "warnings"): the model's notes about a run, e.g. "background
# kept". Found in the HTTP header X-Retouch-Warnings, the layers manifest's info.warnings,
# the WebSocket result's warnings and done.info.warnings.
# ---------------------------------------------------------------------------------------

WARNINGS_HEADER = "X-Retouch-Warnings"


def collect_warnings(*sources):
    """The warnings of one run, each {"code", "message"} once, in the order first seen.

    Each source is a list of warnings (or a JSON text of one, as in the HTTP header), or None.
    Malformed entries are skipped: a warning never makes a retouch fail.
    """
    seen, out = set(), []
    for source in sources:
        if isinstance(source, (bytes, type(b"".decode("ascii")))):
            try:
                source = json.loads(source)
            except ValueError:
                continue
        if not isinstance(source, list):
            continue
        for item in source:
            if not isinstance(item, dict):
                continue
            code, message = item.get("code"), item.get("message")
            if not code or not message or code in seen:
                continue
            seen.add(code)
            out.append({"code": str(code), "message": str(message)})
    return out


def warnings_text(warnings):
    """One message for the user listing the run's warnings, or "" when there are none."""
    if not warnings:
        return ""
    count = "a warning" if len(warnings) == 1 else "%d warnings" % len(warnings)
    lines = ["Jewel retouch finished with %s:" % count]
    lines.extend("- " + item["message"] for item in warnings)
    return "\n".join(lines)


class Client(object):
    """Talks to one jewel-retouch server. `timeout` bounds every wait, in seconds."""

    def __init__(self, server_url=None, token=None, token_file=None, timeout=600.0):
        self.server_url = (server_url or DEFAULT_SERVER_URL).rstrip("/")
        parts = urlsplit(self.server_url)
        if parts.scheme != "http" or not parts.hostname:
            raise RetouchError(
                "bad_url",
                "The server URL must look like http://127.0.0.1:8765, not %r." % self.server_url,
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = float(timeout)
        self.token_file = token_file or token_path()
        self._token = token

    @property
    def token(self):
        if self._token is None:
            self._token = read_token(self.token_file)
        return self._token

    # -- HTTP ---------------------------------------------------------------------------

    def _not_running(self, error):
        return RetouchError(
            "server_down",
            "The jewel-retouch server is not running at %s (%s). %s"
            % (self.server_url, error, START_SERVER_HINT),
        )

    def _timed_out(self, what):
        return RetouchError(
            "timeout",
            "The jewel-retouch server at %s did not answer %s within %d s. Check that "
            "`jewel-retouch serve` is still running, or try a smaller region."
            % (self.server_url, what, self.timeout),
        )

    def _request(self, method, path, body=None, headers=None, auth=True, timeout=None):
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        connection = HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except socket.timeout:
                raise self._timed_out(path)
            except (IOError, OSError, HTTPException) as error:
                if isinstance(error, socket.error) and getattr(error, "errno", None) in (
                    errno.ETIMEDOUT,
                ):
                    raise self._timed_out(path)
                raise self._not_running(error)
        finally:
            connection.close()
        if response.status >= 400:
            raise self._http_error(response.status, data)
        return response, data

    def _http_error(self, status, data):
        code, message = "http_%d" % status, ""
        try:
            error = json.loads(data.decode("utf-8"))["error"]
            code, message = error.get("code", code), error.get("message", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            message = data[:200].decode("utf-8", "replace")
        if status == 401:
            code = "unauthorized"
        return RetouchError(code, _error_message(code, message, self.server_url, self.token_file))

    def health(self):
        return json.loads(self._request("GET", "/v1/health", auth=False)[1].decode("utf-8"))

    def info(self, timeout=None):
        return json.loads(self._request("GET", "/v1/info", timeout=timeout)[1].decode("utf-8"))

    # -- one retouch --------------------------------------------------------------------

    def retouch(self, request):
        """Run one RetouchRequest; returns a RetouchResult (raises RetouchError, Cancelled)."""
        width, height = request.width, request.height
        expected = width * height * request.channels * request.depth // 8
        if request.byte_count != expected:
            raise RetouchError(
                "invalid_pixels",
                "Internal error: %d bytes of pixels for a %dx%d %d-channel "
                "%d-bit region (expected %d)."
                % (request.byte_count, width, height, request.channels, request.depth, expected),
            )
        info = request.info if request.info is not None else self.info()
        limits = info.get("limits") or {}
        max_pixels = limits.get("max_pixels")
        if max_pixels and width * height > max_pixels:
            raise RetouchError(
                "too_large",
                _error_message(
                    "too_large",
                    "%dx%d is %.1f MP, over its limit of %.1f MP."
                    % (width, height, width * height / 1e6, max_pixels / 1e6),
                    self.server_url,
                    self.token_file,
                ),
            )
        ws_url = (info.get("websocket") or {}).get("url")
        if ws_url:
            return self._retouch_ws(ws_url, request)
        return self._retouch_http(request)

    def _retouch_http(self, request):
        timings = {}
        pixels = request.pixels
        if isinstance(pixels, ChunkedPixels):
            pixels = b"".join(bytes(chunk) for chunk in pixels.chunks)
        request.report("upload", 0.0)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Width": str(request.width),
            "X-Height": str(request.height),
            "X-Channels": str(request.channels),
            "X-Depth": str(request.depth),
            "X-Color-Profile": request.color_profile,
            "X-Options": json.dumps(request.options),
        }
        if request.layers:
            headers["X-Layers"] = "1"
        start = time.time()
        response, data = self._request("POST", "/v1/retouch", body=pixels, headers=headers)
        timings["round_trip"] = time.time() - start
        header_warnings = response.getheader(WARNINGS_HEADER)
        # Layers, or metal variants (even without layers), come back as the archive.
        archive = (response.getheader("Content-Type") or "").startswith("application/zip")
        if request.layers or archive:
            result = self._parse_zip(data, timings)
            result.warnings = collect_warnings(header_warnings, result.info.get("warnings"))
            return self._sink_parts(result, request.part_sink)
        descriptor = {
            "name": "image",
            "kind": "image",
            "width": int(response.getheader("X-Width", request.width)),
            "height": int(response.getheader("X-Height", request.height)),
            "channels": int(response.getheader("X-Channels", request.channels)),
            "depth": int(response.getheader("X-Depth", request.depth)),
        }
        result = RetouchResult(descriptor, [(descriptor, data)], {}, timings)
        result.warnings = collect_warnings(header_warnings)
        return self._sink_parts(result, request.part_sink)

    @staticmethod
    def _sink_parts(result, part_sink):
        if part_sink is None:
            return result
        parts = []
        for descriptor, data in result.parts:
            sink = part_sink(descriptor)
            if sink is not None:
                sink.write(data)
                data = sink.finish()
            parts.append((descriptor, data))
        result.parts = parts
        return result

    def _parse_zip(self, data, timings):
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(archive.read("manifest.json").decode("utf-8"))
        parts = []
        for part in manifest["parts"]:
            descriptor = dict(part)
            descriptor.setdefault("width", manifest["width"])
            descriptor.setdefault("height", manifest["height"])
            parts.append((descriptor, archive.read(part["file"])))
        parts.sort(key=lambda item: item[0].get("kind") != "image")
        return RetouchResult(manifest, parts, manifest.get("info") or {}, timings)

    def _retouch_ws(self, ws_url, request):
        timings = {}
        job_id = "gimp-%d-%d" % (os.getpid(), int(time.time() * 1000))
        try:
            ws = WebSocket(ws_url, self.timeout)
        except socket.timeout:
            raise self._timed_out("the WebSocket connection")
        except (IOError, OSError) as error:
            raise self._not_running(error)
        try:
            try:
                return self._run_job(ws, job_id, request, timings)
            except socket.timeout:
                raise self._timed_out("the retouch")
            except Cancelled:
                try:
                    ws.send_json({"type": "cancel", "id": job_id})
                except (IOError, OSError):
                    pass
                raise
            except RetouchError as error:
                if getattr(error, "close_code", None) == 4401:
                    raise RetouchError(
                        "unauthorized",
                        _error_message("unauthorized", "", self.server_url, self.token_file),
                    )
                raise
            except (IOError, OSError) as error:
                raise RetouchError(
                    "connection_lost",
                    "The connection to the jewel-retouch server broke (%s). Check the "
                    "`jewel-retouch serve` window; %s" % (error, START_SERVER_HINT),
                )
        finally:
            ws.close()

    def _receive_json(self, ws, job_id):
        kind, payload = ws.receive()
        if kind != "text":
            raise RetouchError("bad_response", "The server sent pixels when a message was due.")
        message = json.loads(payload)
        if message.get("type") == "error" and message.get("id") in (None, job_id):
            code = message.get("code", "internal")
            raise RetouchError(
                code,
                _error_message(code, message.get("message", ""), self.server_url, self.token_file),
            )
        return message

    def _run_job(self, ws, job_id, request, timings):
        report = request.report
        ws.send_json({"type": "hello", "token": self.token, "client": "gimp/" + CLIENT_VERSION})
        message = self._receive_json(ws, job_id)
        if message.get("type") != "ready":
            raise RetouchError("bad_response", "Unexpected server answer: %r" % message)
        total = request.byte_count
        ws.send_json(
            {
                "type": "job",
                "id": job_id,
                "format": "raw",
                "width": request.width,
                "height": request.height,
                "channels": request.channels,
                "depth": request.depth,
                "color_profile": request.color_profile,
                "bytes": total,
                "options": request.options,
                "layers": bool(request.layers),
            }
        )
        start = time.time()
        sent = 0
        for frame in _chunks_of(request.pixels):
            ws.send_binary(frame)
            sent += len(frame)
            # Upload is shown as the first 10% of the bar.
            report("upload", 0.1 * sent / total)
        if sent != total:
            raise RetouchError(
                "invalid_pixels",
                "Internal error: %d bytes of pixels read, %d announced." % (sent, total),
            )
        timings["upload"] = time.time() - start
        wait_start = time.time()
        header = None
        # The last stage the server named and the bar's position: repeated on each tick of
        # silence, so the plug-in's text can count the seconds.
        state = {"stage": "waiting", "fraction": 0.1}
        report(state["stage"], state["fraction"])

        def tick():
            report(state["stage"], state["fraction"])

        while header is None:
            ws.wait_readable(self.timeout, WAIT_TICK_S, tick)
            message = self._receive_json(ws, job_id)
            kind = message.get("type")
            if kind == "progress":
                state["stage"] = message.get("stage", "work")
                state["fraction"] = 0.1 + 0.8 * float(message.get("fraction", 0))
                report(state["stage"], state["fraction"])
            elif kind == "result":
                header = message
            elif kind == "cancelled":
                raise Cancelled()
        timings["server"] = time.time() - wait_start
        start = time.time()
        parts = []
        descriptors = header.get("parts") or []
        received_total = sum(int(part["bytes"]) for part in descriptors) or 1
        received = 0
        sinks = []
        try:
            for descriptor in descriptors:
                descriptor = dict(descriptor)
                descriptor.setdefault("width", header.get("width"))
                descriptor.setdefault("height", header.get("height"))
                sink = request.sink_for(descriptor)
                sinks.append(sink)
                received += self._receive_part(
                    ws, descriptor, sink, received, received_total, report
                )
                parts.append((descriptor, sink.finish()))
        except BaseException:
            for sink in sinks:
                sink.discard()
            raise
        timings["download"] = time.time() - start
        done_info = {}
        while True:
            message = self._receive_json(ws, job_id)
            if message.get("type") == "done":
                done_info = message.get("info") or {}
                break
        result = RetouchResult(header, parts, done_info, timings)
        result.warnings = collect_warnings(header.get("warnings"), done_info.get("warnings"))
        return result

    def _receive_part(self, ws, descriptor, sink, received, received_total, report):
        """Feed one part's binary frames to `sink`; returns the byte count."""
        want, have = int(descriptor["bytes"]), 0
        while have < want:
            kind, payload = ws.receive()
            if kind != "binary":
                message = json.loads(payload)
                if message.get("type") == "error":
                    code = message.get("code", "internal")
                    raise RetouchError(
                        code,
                        _error_message(
                            code, message.get("message", ""), self.server_url, self.token_file
                        ),
                    )
                continue
            sink.write(payload)
            have += len(payload)
            report("download", 0.9 + 0.1 * (received + have) / received_total)
        if have != want:
            raise RetouchError(
                "bad_response",
                "The server sent %d bytes for part %s, not %d."
                % (have, descriptor.get("name"), want),
            )
        return have


# ---------------------------------------------------------------------------------------
# Paste plan (docs/protocol.json "paste"), shared by the GIMP 3 and GIMP 2.10 plug-ins
# ---------------------------------------------------------------------------------------

RESULT_LAYER_NAME = "Jewel retouch"
GROUP_NAME = RESULT_LAYER_NAME + " (layers)"
LAYER_TITLES = {
    "background": "Background",
    "shadow": "Shadow",
    "reflection": "Reflection",
    "cleanup": "Cleanup",
    "tone": "Tone",
}
NO_LAYERS_TITLE = "Retouched"
VARIANT_LAYER_NAME = RESULT_LAYER_NAME + " (%s)"  # % the metal, e.g. "white gold"
GEMS_LAYER_NAME = "Gems (retouched)"
MASK_CHANNEL_NAME = RESULT_LAYER_NAME + ": %s mask"

# Steps that add an item to the image (the rest change an item added before).
ADDING_STEPS = ("layer", "group", "channel")


class PasteStep(object):
    """One step of a paste plan.

    op: "layer" (a new layer of `part`'s pixels), "group" (a new layer group), "channel" (an
        image-sized hidden channel with `part`'s mask written at x, y), "layer_mask" (`part`
        as the layer mask of item `target`), "selection_to_alpha" (the selection applied to
        item `target`'s alpha) or "selection_mask" (the selection as item `target`'s mask).
    key: the name later steps use for the item this step adds.
    parent: for layers and groups, the key of the group to put it on top of, or None for
        "directly above the source layer, in the source's parent"; channels go on top of the
        image's channels.
    part: (descriptor, data) of the server's answer; x, y: the image offsets of its top-left.
    """

    def __init__(self, op, key=None, name=None, part=None, parent=None, target=None, x=0, y=0):
        self.op, self.key, self.name, self.part = op, key, name, part
        self.parent, self.target, self.x, self.y = parent, target, x, y

    def __repr__(self):
        return "PasteStep(%s %s)" % (self.op, self.key or self.target)


def layer_title(name):
    return LAYER_TITLES.get(name) or name.replace("_", " ").capitalize()


def paste_plan(result, output, x, y, rectangular):
    """The steps that put `result` back into the image, in order (pure: no GIMP calls).

    output: "layer" (one layer named RESULT_LAYER_NAME) or "layers" (a group holding the
    separable layers bottom to top, a gems layer masked by the gem mask, then every mask as a
    channel). x, y: where the retouched region's top-left lies in the image. rectangular:
    whether the selection is a plain box covering the region (else its shape masks the result).
    """
    image = result.part("image")
    if image[0] is None:
        raise RetouchError("bad_response", "The server's answer has no image.")
    if output == "layer":
        steps = [PasteStep("layer", "top", RESULT_LAYER_NAME, image, x=x, y=y)]
        if not rectangular:
            steps.append(PasteStep("selection_to_alpha", target="top"))
        return steps + _variant_steps(result, x, y, rectangular)
    steps = [PasteStep("group", "top", GROUP_NAME, x=x, y=y)]
    layers = [part for part in result.parts if part[0].get("kind") == "layer"]
    for descriptor, data in layers:
        name = descriptor["name"]
        steps.append(
            PasteStep(
                "layer", "layer:" + name, layer_title(name), (descriptor, data), "top", x=x, y=y
            )
        )
    if not layers:  # a model without separable output: keep the whole retouch in the group
        steps.append(PasteStep("layer", "layer:image", NO_LAYERS_TITLE, image, "top", x=x, y=y))
    gem = result.part("mask", "gem")
    if gem[0] is not None:
        steps.append(PasteStep("layer", "gems", GEMS_LAYER_NAME, image, "top", x=x, y=y))
        steps.append(PasteStep("layer_mask", part=gem, target="gems"))
    for descriptor, data in result.parts:
        if descriptor.get("kind") == "mask":
            name = descriptor["name"]
            steps.append(
                PasteStep(
                    "channel",
                    "channel:" + name,
                    MASK_CHANNEL_NAME % name,
                    (descriptor, data),
                    x=x,
                    y=y,
                )
            )
    if not rectangular:
        steps.append(PasteStep("selection_mask", target="top"))
    return steps + _variant_steps(result, x, y, rectangular)


def _variant_steps(result, x, y, rectangular):
    """Each metal variant as a layer of its own, directly above the source layer (so under the
    main result, which stays on top): "Jewel retouch (white gold)"."""
    steps = []
    for descriptor, data in result.parts:
        if descriptor.get("kind") != "variant":
            continue
        key = "variant:" + descriptor["name"]
        title = VARIANT_LAYER_NAME % descriptor["name"].replace("_", " ")
        steps.append(PasteStep("layer", key, title, (descriptor, data), x=x, y=y))
        if not rectangular:
            steps.append(PasteStep("selection_to_alpha", target=key))
    return steps


def run_paste_plan(steps, host):
    """Execute `steps` through a host adapter inside one undo group; returns the "top" item.

    The host has undo_start(), undo_end(), create(step) -> item (not yet in the image),
    insert(step, item, parent_item), fill(step, item), change(step, target_item) and
    remove(item) (take it out of the image, or delete it when it never got in). When any step
    fails, every item added so far is removed again (items inside an added group go with it),
    so a failure leaves the image as it was.
    """
    items, added = {}, []
    host.undo_start()
    try:
        for step in steps:
            if step.op not in ADDING_STEPS:
                host.change(step, items[step.target])
                continue
            item = host.create(step)
            try:
                host.insert(step, item, items[step.parent] if step.parent is not None else None)
            except Exception:
                host.remove(item)
                raise
            if step.parent is None:
                added.append(item)
            if step.key:
                items[step.key] = item
            host.fill(step, item)
    except Exception:
        for item in reversed(added):
            host.remove(item)
        host.undo_end()
        raise
    host.undo_end()
    return items["top"]


def check_part_size(descriptor, data, channels=None):
    """RetouchError unless `data` holds exactly the pixels `descriptor` announces."""
    channels = int(descriptor["channels"]) if channels is None else channels
    depth = int(descriptor.get("depth") or 8)
    want = int(descriptor["width"]) * int(descriptor["height"]) * channels * depth // 8
    if len(data) != want:
        raise RetouchError(
            "bad_response",
            "The server's %s part has %d bytes, not %d: the answer is damaged. Try again, and "
            "update the server and the plug-in to the same version if it happens again."
            % (descriptor.get("name"), len(data), want),
        )


def main(argv=None):
    """Tiny command line for checking a setup: `python jewel_retouch_client.py [URL]`."""
    argv = sys.argv[1:] if argv is None else argv
    client = Client(argv[0] if argv else None, timeout=5)
    try:
        print(json.dumps(client.info(), indent=2, sort_keys=True))
    except RetouchError as error:
        print(error.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
