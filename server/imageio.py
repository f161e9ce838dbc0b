"""Read and write image files (PNG, TIFF, JPEG, WebP) at 8 and 16 bit, keeping the ICC profile.

Two calls:

- `read_image(source, limits=...) -> (ImageData, FileInfo)`: `source` is a path or the file's
  bytes. The pixel count is checked from the header before any pixel is decoded, so a
  decompression bomb costs nothing. Pixels come back as (H, W, C) uint8 or uint16 with C the
  file's own channel count (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
- `write_image(image, fmt, info=None) -> bytes`: encodes `ImageData` in `fmt`, embedding the
  image's ICC profile (and, from `info`, the resolution). `save_image(image, path)` picks the
  format from the file extension.

Failures raise `ImageFileError` (a `ProtocolError`): code `unsupported_format` for formats or
layouts we cannot handle, `bad_request` for truncated or corrupt files, `too_large` for
oversized images. Pillow decodes 8-bit files; 16-bit colour files (which Pillow cannot hold)
go through OpenCV (PNG, TIFF) or tifffile (TIFF), and 16-bit PNGs are written by a small
encoder here so that the iCCP chunk is kept.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.api import ImageData
from server.config import DEFAULT_MAX_DIMENSION, DEFAULT_MAX_PIXELS
from server.protocol import ENCODED_FORMATS, Limits, ProtocolError

MIME_TYPES = {
    "png": "image/png",
    "tiff": "image/tiff",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
FORMAT_BY_MIME = {mime: fmt for fmt, mime in MIME_TYPES.items()} | {"image/jpg": "jpeg"}
EXTENSIONS = {
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}
# Formats that can hold each layout (JPEG and WebP are 8-bit only; JPEG has no alpha).
EIGHT_BIT_ONLY = ("jpeg", "webp")

DEFAULT_LIMITS = Limits(DEFAULT_MAX_PIXELS, DEFAULT_MAX_DIMENSION, 1 << 62)
_ICC_TAG = 34675


class ImageFileError(ProtocolError):
    """An image file that cannot be read or written; `.code` says why (see module doc)."""


@dataclass(frozen=True)
class FileInfo:
    """What the file said about itself, beyond the pixels (kept for writing the answer)."""

    format: str  # one of ENCODED_FORMATS
    width: int
    height: int
    channels: int
    depth: int
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    lossless: bool = True  # False for JPEG and lossy WebP: the answer is written the same way

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]


def sniff_format(data: bytes | bytearray | memoryview) -> str | None:
    """The format named by the file's magic bytes, or None."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def format_from_path(path: str | Path) -> str:
    """The format for a file name's extension (ImageFileError when unknown)."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise ImageFileError(
            "unsupported_format", f"cannot tell the format of '{path}': use one of {known}"
        )
    return EXTENSIONS[suffix]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_image(
    source: str | Path | bytes | bytearray | memoryview,
    limits: Limits = DEFAULT_LIMITS,
    expected_format: str | None = None,
) -> tuple[ImageData, FileInfo]:
    """Decode a PNG/TIFF/JPEG/WebP file (path or bytes) into `ImageData` and `FileInfo`.

    expected_format: when given (e.g. from a Content-Type), the file must be of that format.
    """
    if isinstance(source, (str, Path)):
        try:
            data: bytes | bytearray | memoryview = Path(source).read_bytes()
        except OSError as exc:
            raise ImageFileError("bad_request", f"cannot read '{source}': {exc.strerror}") from None
    else:
        data = source
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageFileError(
            "unsupported_format", "not a PNG, TIFF, JPEG or WebP file (unrecognised content)"
        )
    if expected_format is not None and fmt != expected_format:
        raise ImageFileError(
            "unsupported_format", f"the body is a {fmt.upper()} file, not {expected_format.upper()}"
        )
    with warnings.catch_warnings():
        # Our own pixel limit applies; Pillow's bomb warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return _read(data, fmt, limits)
        except ImageFileError:
            raise
        except ProtocolError as exc:  # the size limits
            raise ImageFileError(exc.code, exc.message) from None
        except Image.DecompressionBombError as exc:
            raise ImageFileError("too_large", f"image is too large to decode: {exc}") from None
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error) as exc:
            raise ImageFileError(
                "bad_request", f"the {fmt.upper()} file is truncated or corrupt ({exc})"
            ) from None
        except (UnidentifiedImageError, KeyError, IndexError, TypeError) as exc:
            raise ImageFileError(
                "bad_request", f"the {fmt.upper()} file is corrupt ({type(exc).__name__})"
            ) from None


def _read(data, fmt: str, limits: Limits) -> tuple[ImageData, FileInfo]:
    if fmt == "tiff":
        return _read_tiff(data, limits)
    buffer = io.BytesIO(data)
    im = Image.open(buffer, formats=[fmt.upper()])
    width, height = im.size
    limits.check_size(width, height)
    icc = im.info.get("icc_profile") or None
    dpi = _dpi(im)
    depth = _file_depth(im, data, fmt)
    if depth == 16 and fmt == "png" and im.mode not in _PIL_GREY16:
        pixels = _read_png16_colour(data)
    else:
        pixels = _pil_pixels(im)
    if pixels.shape[0] != height or pixels.shape[1] != width:
        raise ImageFileError("bad_request", "decoded size does not match the file header")
    lossless = fmt == "png" or (fmt == "webp" and _webp_is_lossless(data))
    info = FileInfo(fmt, width, height, pixels.shape[2], _depth_of(pixels), icc, dpi, lossless)
    return ImageData(pixels, icc), info


def _webp_is_lossless(data) -> bool:
    """True when the WebP's image chunk is VP8L (lossless) rather than VP8 (lossy)."""
    head = bytes(data[:4096])
    return b"VP8L" in head and b"VP8 " not in head


_PIL_GREY16 = ("I;16", "I;16B", "I;16L", "I;16N")


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    dpi = im.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            return float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
    return None


def _depth_of(pixels: np.ndarray) -> int:
    return 16 if pixels.dtype == np.uint16 else 8


def _file_depth(im: Image.Image, data, fmt: str) -> int:
    """Bits per sample as stored (Pillow reports 16-bit colour files as 8-bit modes)."""
    if fmt == "png":
        return int(bytes(data[24:25])[0]) if len(data) > 25 else 8
    return 8


def _pil_pixels(im: Image.Image) -> np.ndarray:
    """Pixels of an image Pillow can hold, as (H, W, C) uint8/uint16 in the file's channels."""
    mode = im.mode
    if mode in ("CMYK", "LAB", "HSV", "F"):
        raise ImageFileError(
            "unsupported_format",
            f"{mode} images are not supported: convert to RGB (8 or 16 bit) first",
        )
    im.load()
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode in ("RGBa", "RGBX", "YCbCr"):
        im = im.convert("RGBA" if mode == "RGBa" else "RGB")
    elif mode == "I":
        # Some decoders hand 16-bit grey over as 32-bit int; values are still 0..65535.
        arr = np.asarray(im)
        return np.clip(arr, 0, 65535).astype(np.uint16)[:, :, None]
    if im.mode in _PIL_GREY16:
        arr = np.asarray(im).astype(np.uint16)
        return arr[:, :, None]
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        raise ImageFileError("unsupported_format", f"image mode {im.mode} is not supported")
    arr = np.asarray(im)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr)


def _read_png16_colour(data) -> np.ndarray:
    """16-bit grey+alpha / RGB / RGBA PNG pixels (Pillow cannot hold them; OpenCV can)."""
    arr = _cv2_decode(data)
    colour_type = int(bytes(data[25:26])[0])
    if arr.ndim == 3 and arr.shape[2] == 4 and colour_type == 4:
        arr = arr[:, :, [0, 3]]  # grey + alpha expanded to BGRA by OpenCV
    elif arr.ndim == 3:
        arr = _swap_red_blue(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype != np.uint16:
        raise ImageFileError("unsupported_format", f"unsupported 16-bit sample type {arr.dtype}")
    return np.ascontiguousarray(arr)


def _read_tiff(data, limits: Limits) -> tuple[ImageData, FileInfo]:
    """First page of a TIFF: header facts from tifffile, pixels from tifffile (or, for
    compressions it lacks without imagecodecs, Pillow for 8 bit and OpenCV/libtiff for 16)."""
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if not tif.pages:
            raise ImageFileError("bad_request", "the TIFF file has no image")
        page = tif.pages[0]
        width, height = int(page.imagewidth), int(page.imagelength)
        limits.check_size(width, height)
        bits = int(page.bitspersample)
        samples = int(page.samplesperpixel)
        photometric = int(page.photometric)
        if bits not in (1, 8, 16) or page.sampleformat not in (1, None):
            raise ImageFileError(
                "unsupported_format", f"TIFF with {bits}-bit samples is not supported (use 8/16)"
            )
        if photometric not in (0, 1, 2, 3) or samples > 4:
            raise ImageFileError(
                "unsupported_format",
                "only grey, RGB and palette TIFFs are supported (not CMYK, Lab or YCbCr)",
            )
        tag = page.tags.get(_ICC_TAG)
        icc = bytes(tag.value) if tag is not None else None
        dpi = _tiff_dpi(page)
        try:
            arr = page.asarray()
        except ValueError as exc:
            if "imagecodecs" not in str(exc):
                raise
            arr = None
    if arr is None or photometric in (0, 3) or bits == 1:
        if bits == 16 and photometric not in (0, 3):
            arr = _cv2_decode(data)
        else:
            arr = _pil_pixels(Image.open(io.BytesIO(data), formats=["TIFF"]))
    if arr.ndim == 3 and samples > 1 and arr.shape[0] == samples and arr.shape[2] != samples:
        arr = np.moveaxis(arr, 0, -1)  # planar configuration
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype not in (np.uint8, np.uint16) or arr.ndim != 3:
        raise ImageFileError("unsupported_format", f"unsupported TIFF layout {arr.shape}")
    pixels = np.ascontiguousarray(arr)
    if pixels.shape[0] != height or pixels.shape[1] != width:
        raise ImageFileError("bad_request", "decoded size does not match the file header")
    info = FileInfo("tiff", width, height, pixels.shape[2], _depth_of(pixels), icc, dpi)
    return ImageData(pixels, icc), info


def _tiff_dpi(page) -> tuple[float, float] | None:
    try:
        xres, yres = page.tags.get(282), page.tags.get(283)
        unit = page.tags.get(296)
        if xres is None or yres is None or (unit is not None and int(unit.value) != 2):
            return None
        return float(xres.value[0]) / xres.value[1], float(yres.value[0]) / yres.value[1]
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None


def _cv2_decode(data) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageFileError("bad_request", "the file is truncated or corrupt")
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and sniff_format(data) == "tiff":
        arr = _swap_red_blue(arr)
    return arr


def _swap_red_blue(arr: np.ndarray) -> np.ndarray:
    out = arr.copy()
    out[:, :, 0], out[:, :, 2] = arr[:, :, 2], arr[:, :, 0]
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_image(
    image: ImageData,
    fmt: str,
    info: FileInfo | None = None,
    quality: int = 95,
) -> bytes:
    """Encode `image` as `fmt` ("png", "tiff", "jpeg", "webp"), embedding its ICC profile.

    The layout is kept exactly: JPEG and WebP only hold 8 bit, JPEG no alpha, WebP no grey
    (grey is written as RGB); anything a format cannot hold raises ImageFileError
    (`fit_for_format` converts first when losing information is acceptable).
    """
    if fmt not in ENCODED_FORMATS:
        raise ImageFileError("unsupported_format", f"cannot write format {fmt!r}")
    pixels = image.pixels
    channels, depth = pixels.shape[2], _depth_of(pixels)
    if fmt in EIGHT_BIT_ONLY and depth != 8:
        raise ImageFileError("unsupported_format", f"{fmt.upper()} holds only 8-bit images")
    if fmt == "jpeg" and channels in (2, 4):
        raise ImageFileError("unsupported_format", "JPEG cannot hold an alpha channel")
    dpi = info.dpi if info is not None else None
    icc = image.icc_profile
    if fmt == "png" and depth == 16:
        return encode_png16(pixels, icc, dpi)
    if fmt == "tiff":
        return _encode_tiff(pixels, icc, dpi)
    im = _to_pil(pixels)
    if fmt == "webp" and channels in (1, 2):
        im = im.convert("RGBA" if channels == 2 else "RGB")
    out = io.BytesIO()
    params: dict = {}
    if icc:
        params["icc_profile"] = icc
    if dpi:
        params["dpi"] = dpi
    if fmt == "png":
        im.save(out, "PNG", compress_level=4, **params)
    elif fmt == "jpeg":
        im.save(out, "JPEG", quality=quality, subsampling=0, **params)
    else:
        params.pop("dpi", None)
        lossless = info is not None and info.lossless
        im.save(out, "WEBP", quality=quality, method=4, exact=True, lossless=lossless, **params)
    return out.getvalue()


def save_image(image: ImageData, path: str | Path, info: FileInfo | None = None) -> Path:
    """Write `image` to `path`, the format taken from the extension."""
    path = Path(path)
    data = write_image(image, format_from_path(path), info)
    path.write_bytes(data)
    return path


def fit_for_format(image: ImageData, fmt: str) -> ImageData:
    """Convert `image` so that `fmt` can hold it: 16 -> 8 bit for JPEG/WebP, alpha composited
    onto white for JPEG. Returns `image` itself when nothing needs changing."""
    pixels = image.pixels
    if fmt in EIGHT_BIT_ONLY and pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if fmt == "jpeg" and pixels.shape[2] in (2, 4):
        colour = pixels[:, :, :-1].astype(np.float32)
        alpha = pixels[:, :, -1:].astype(np.float32) / 255.0
        pixels = np.round(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if pixels is image.pixels:
        return image
    return ImageData(np.ascontiguousarray(pixels), image.icc_profile)


def _to_pil(pixels: np.ndarray) -> Image.Image:
    channels = pixels.shape[2]
    if pixels.dtype == np.uint16:
        if channels != 1:  # pragma: no cover - callers route 16-bit colour elsewhere
            raise ImageFileError("unsupported_format", "16-bit colour needs PNG or TIFF")
        return Image.fromarray(pixels[:, :, 0].astype("<u2"), mode="I;16")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    return Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode=mode)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def encode_png16(
    pixels: np.ndarray, icc_profile: bytes | None = None, dpi: tuple[float, float] | None = None
) -> bytes:
    """A 16-bit PNG of (H, W, C) uint16 pixels, C in 1..4, with an iCCP chunk when given.

    Rows use the "Up" filter (vectorised; good on photos) and zlib level 4.
    """
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = pixels.astype(">u2", copy=False).reshape(height, width * channels).view(np.uint8)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # "Up": each byte minus the byte above (mod 256)
    filtered[0, 0] = 0
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    chunks = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", ihdr)]
    if icc_profile:
        chunks.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        ppm = [max(1, round(d / 0.0254)) for d in dpi]
        chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    compressor = zlib.compressobj(4)
    body = compressor.compress(filtered.data) + compressor.flush()
    chunks += [_png_chunk(b"IDAT", body), _png_chunk(b"IEND", b"")]
    return b"".join(chunks)


def _encode_tiff(
    pixels: np.ndarray, icc_profile: bytes | None, dpi: tuple[float, float] | None
) -> bytes:
    import tifffile

    channels = pixels.shape[2]
    photometric = "minisblack" if channels in (1, 2) else "rgb"
    extratags = []
    if icc_profile:
        extratags.append((_ICC_TAG, 7, len(icc_profile), icc_profile, True))
    kwargs: dict = {}
    if dpi:
        kwargs.update(resolution=(dpi[0], dpi[1]), resolutionunit="INCH")
    out = io.BytesIO()
    tifffile.imwrite(
        out,
        pixels[:, :, 0] if channels == 1 else pixels,
        photometric=photometric,
        planarconfig="contig" if channels > 1 else None,
        extrasamples=(2,) if channels in (2, 4) else None,  # 2 = unassociated alpha
        compression="zlib",
        compressionargs={"level": 4},
        extratags=extratags,
        metadata=None,
        **kwargs,
    )
    return out.getvalue()
