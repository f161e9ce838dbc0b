"""jewel-retouch server: HTTP API, WebSocket job channel, job queue, image I/O, CLI."""

__version__ = "0.1.0"
