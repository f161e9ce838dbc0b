"""Reading catalog files into ImageData and encoding results, for the batch runner.

Camera RAW goes through `server.raw`; other files through the server's image I/O
(`server.imageio`), so that a batch run and the HTTP/WebSocket API read and write
byte-identical files. Format names are the server's: png, jpeg, tiff, webp.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.api import ImageData
from server import imageio
from server.imageio import FileInfo
from server.raw import RawError, decode_raw, is_raw_path


class DecodeError(ValueError):
    """The file cannot be read, or its result cannot be written in the asked format (reported
    per file; the batch goes on)."""


@dataclass(frozen=True)
class ReadSettings:
    """How camera RAW files are developed (other formats are read as they are)."""

    raw_bits: int = 16
    raw_highlights: str = "blend"


def read_image(
    name: str, data: bytes, settings: ReadSettings = ReadSettings()
) -> tuple[ImageData, FileInfo | None]:
    """Decode a file's bytes; `name` (the file name) tells RAW files apart by extension.

    Returns the pixels and the file facts the writer keeps (resolution), or None for RAW.
    """
    if is_raw_path(name):
        try:
            image = decode_raw(data, bits=settings.raw_bits, highlights=settings.raw_highlights)
        except RawError as exc:
            raise DecodeError(str(exc)) from exc
        return image, None
    try:
        return imageio.read_image(data)
    except imageio.ImageFileError as exc:
        raise DecodeError(f"cannot read {name}: {exc}") from exc


def encode_image(image: ImageData, fmt: str, info: FileInfo | None = None) -> bytes:
    """Encode `image` as `fmt` (png | jpeg | tiff | webp), keeping its ICC profile.

    JPEG and WebP hold 8 bits and JPEG no alpha: 16-bit pixels are scaled to 8 bits and, for
    JPEG, alpha is composited onto white (refuse transparent backgrounds with JPEG first).
    `info`: the input's file facts from `read_image` (keeps its resolution), or None.
    """
    try:
        return imageio.write_image(imageio.fit_for_format(image, fmt), fmt, info)
    except imageio.ImageFileError as exc:
        raise DecodeError(f"cannot write the result as {fmt}: {exc}") from exc
