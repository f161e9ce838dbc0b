"""Image files in and out: real PNG/TIFF/JPEG/WebP at 8 and 16 bit, alpha, grey, ICC kept."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from models.api import ImageData
from server.imageio import (
    ImageFileError,
    fit_for_format,
    format_from_path,
    read_image,
    save_image,
    write_image,
)
from server.protocol import Limits


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_8bit_png_from_pillow_reads_exactly_with_icc(img, channels):
    px = img.pixels(7, 11, channels, 8)
    data = img.pil_encode(px, "PNG", icc=img.other())
    image, info = read_image(data)
    assert image.pixels.dtype == np.uint8 and image.pixels.shape == (7, 11, channels)
    np.testing.assert_array_equal(image.pixels, px)
    assert image.icc_profile == img.other() and info.icc_profile == img.other()
    assert (info.format, info.depth, info.channels) == ("png", 8, channels)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_from_libpng_reads_exactly(img, channels):
    px = img.pixels(5, 9, channels, 16, seed=3)
    image, info = read_image(img.cv2_png16(px))
    assert image.pixels.dtype == np.uint16 and info.depth == 16
    np.testing.assert_array_equal(image.pixels, px)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_from_tifffile_reads_exactly_with_icc(img, channels, depth, compression):
    px = img.pixels(6, 10, channels, depth, seed=channels)
    data = img.tiff_encode(px, icc=img.srgb(), compression=compression)
    image, info = read_image(data)
    np.testing.assert_array_equal(image.pixels, px)
    assert image.icc_profile == img.srgb()
    assert (info.format, info.depth, info.channels) == ("tiff", depth, channels)


def test_lzw_tiff_from_pillow_reads(img):
    px = img.pixels(8, 8, 3, 8)
    image, _ = read_image(img.pil_encode(px, "TIFF", compression="tiff_lzw"))
    np.testing.assert_array_equal(image.pixels, px)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_written_png_and_tiff_decode_identically_with_other_decoders(img, channels, depth, fmt):
    """Our writer's files, read back by libpng/OpenCV, tifffile and Pillow, not by us."""
    import cv2
    import tifffile

    px = img.pixels(9, 13, channels, depth, seed=11)
    data = write_image(ImageData(px, img.other()), fmt)
    if fmt == "tiff":
        np.testing.assert_array_equal(tifffile.imread(io.BytesIO(data)).reshape(px.shape), px)
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            assert bytes(tif.pages[0].tags[34675].value) == img.other()
        return
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if channels == 2:
        decoded = decoded[:, :, [0, 3]]  # OpenCV widens grey+alpha to BGRA
    elif channels >= 3:
        decoded = decoded[:, :, [2, 1, 0] + ([3] if channels == 4 else [])]
    np.testing.assert_array_equal(decoded.reshape(px.shape), px)
    assert decoded.dtype == px.dtype
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == img.other()


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_round_trip_keeps_layout_and_icc(img, channels):
    px = np.full((16, 16, channels), 128, np.uint8)
    image, info = read_image(img.pil_encode(px, "JPEG", icc=img.srgb(), quality=95))
    assert image.pixels.shape == (16, 16, channels) and info.format == "jpeg"
    out = write_image(image, "jpeg", info)
    back = Image.open(io.BytesIO(out))
    assert back.mode == ("L" if channels == 1 else "RGB")
    assert back.info["icc_profile"] == img.srgb()
    assert np.abs(np.asarray(back).astype(int) - 128).max() <= 2


def test_webp_with_alpha_round_trip(img):
    px = img.pixels(12, 12, 4, 8)
    px[..., 3] = 200
    image, info = read_image(img.pil_encode(px, "WEBP", icc=img.srgb(), lossless=True))
    np.testing.assert_array_equal(image.pixels, px)
    assert image.icc_profile == img.srgb() and info.format == "webp"
    back = Image.open(io.BytesIO(write_image(image, "webp", info)))
    assert back.mode == "RGBA" and back.info.get("icc_profile") == img.srgb()


def test_palette_png_is_expanded(img):
    im = Image.fromarray(img.pixels(4, 4, 3, 8)).convert("P")
    out = io.BytesIO()
    im.save(out, "PNG")
    image, info = read_image(out.getvalue())
    assert image.pixels.shape == (4, 4, 3)
    np.testing.assert_array_equal(image.pixels, np.asarray(im.convert("RGB")))


def test_path_input_and_save_by_extension(tmp_path, img):
    px = img.pixels(5, 6, 4, 16)
    path = save_image(ImageData(px, img.srgb()), tmp_path / "x.tif")
    image, info = read_image(path)
    np.testing.assert_array_equal(image.pixels, px)
    assert format_from_path("a.JPEG") == "jpeg"
    with pytest.raises(ImageFileError):
        format_from_path("a.gif")
    with pytest.raises(ImageFileError) as err:
        read_image(tmp_path / "missing.png")
    assert err.value.code == "bad_request"


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    # 50000 x 50000 claimed in a tiny file: refused from the header alone.
    data = _png_header(50000, 50000)
    with pytest.raises(ImageFileError) as err:
        read_image(
            data, Limits(max_pixels=100_000_000, max_dimension=65535, max_body_bytes=1 << 30)
        )
    assert err.value.code == "too_large"


def test_zlib_bomb_png_over_the_pixel_limit_is_refused(img):
    """A real 4000 x 4000 black PNG (tiny compressed) against a 1 MP limit."""
    data = img.pil_encode(np.zeros((4000, 4000, 1), np.uint8), "PNG")
    assert len(data) < 100_000
    with pytest.raises(ImageFileError) as err:
        read_image(data, Limits(1_000_000, 65535, 1 << 30))
    assert err.value.code == "too_large"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
def test_truncated_files_give_bad_request(img, fmt):
    data = img.pil_encode(img.pixels(64, 64, 3, 8), fmt)
    with pytest.raises(ImageFileError) as err:
        read_image(data[: len(data) // 2])
    assert err.value.code in ("bad_request",)


def test_truncated_16bit_png_and_tiff(img):
    px = img.pixels(64, 64, 4, 16)
    for data in (img.cv2_png16(px), img.tiff_encode(px, compression="zlib")):
        with pytest.raises(ImageFileError) as err:
            read_image(data[: len(data) // 2])
        assert err.value.code == "bad_request"


def test_unknown_content_and_cmyk_are_unsupported(img):
    with pytest.raises(ImageFileError) as err:
        read_image(b"GIF89a" + b"\x00" * 64)
    assert err.value.code == "unsupported_format"
    out = io.BytesIO()
    Image.new("CMYK", (4, 4)).save(out, "JPEG")
    with pytest.raises(ImageFileError) as err:
        read_image(out.getvalue())
    assert err.value.code == "unsupported_format" and "CMYK" in err.value.message
    with pytest.raises(ImageFileError) as err:
        read_image(img.pil_encode(img.pixels(4, 4, 3, 8), "PNG"), expected_format="jpeg")
    assert err.value.code == "unsupported_format"


def test_formats_that_cannot_hold_a_layout_refuse_and_fit_for_format_converts(img):
    rgba16 = ImageData(img.pixels(4, 4, 4, 16))
    with pytest.raises(ImageFileError):
        write_image(rgba16, "jpeg")
    fitted = fit_for_format(rgba16, "jpeg")
    assert fitted.pixels.shape == (4, 4, 3) and fitted.pixels.dtype == np.uint8
    opaque = np.zeros((2, 2, 4), np.uint16)
    opaque[..., 3] = 65535
    opaque[..., 0] = 65535
    fitted = fit_for_format(ImageData(opaque), "jpeg")
    assert fitted.pixels[0, 0].tolist() == [255, 0, 0]
    transparent = np.zeros((2, 2, 4), np.uint8)
    assert fit_for_format(ImageData(transparent), "jpeg").pixels[0, 0].tolist() == [255, 255, 255]
