"""Fixtures for the server tests: apps on a known token, test models, real image files."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image, ImageCms

from models.api import ImageData, Result
from server.app import AppState, build_state, create_app
from server.config import ServerConfig
from server.engine import Engine
from server.testing import SlowRetoucher, stand_in_variants

TOKEN = "test-token-0123456789"


class IdentityRetoucher:
    """Returns the pixels unchanged: lets tests check the bridge moves every byte faithfully."""

    name = "identity"
    version = "0"

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def retouch(self, image, options=None, progress=None, layers=False):
        self.calls.append({"shape": image.pixels.shape, "options": options, "layers": layers})
        if progress:
            progress("analyse", 0.0)
            progress("done", 1.0)
        out = Result(ImageData(np.array(image.pixels, copy=True), image.icc_profile))
        if layers:
            h, w = image.pixels.shape[:2]
            top = 255 if image.pixels.dtype == np.uint8 else 65535
            tone = np.zeros((h, w, 4), image.pixels.dtype)
            tone[..., 3] = top // 2
            out.layers = {"tone": ImageData(tone, image.icc_profile)}
            out.masks = {"piece": np.tile(np.arange(w, dtype=np.uint8), (h, 1))}
        out.variants = stand_in_variants(image, options)
        return out


@pytest.fixture
def make_app(tmp_path):
    """make_app(retoucher=None, **config) -> (flask app, AppState); queues stopped afterwards."""
    states: list[AppState] = []

    def factory(retoucher=None, **config_values):
        config_values.setdefault("token", TOKEN)
        config_values.setdefault("config_dir", tmp_path / "config")
        config = ServerConfig(**config_values)
        engine = Engine(retoucher if retoucher is not None else IdentityRetoucher())
        state = build_state(config, engine)
        states.append(state)
        return create_app(state=state), state

    yield factory
    for state in states:
        state.queue.stop(timeout=5)


@pytest.fixture
def client(make_app):
    app, _ = make_app()
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def slow_retoucher() -> Callable[..., SlowRetoucher]:
    return SlowRetoucher


class GatedRetoucher:
    """An identity model that runs until the test opens its gate (`release.set()`), reporting
    progress all the while (so a cancel or a timeout still stops it). Lets a test hold a job
    "running" for exactly as long as it needs, however busy the machine is."""

    name = "gated"
    version = "0"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def retouch(self, image, options=None, progress=None, layers=False):
        progress = progress or (lambda stage, fraction: None)
        self.started.set()
        while not self.release.wait(0.01):
            progress("work", 0.0)
        progress("done", 1.0)
        return Result(ImageData(np.array(image.pixels, copy=True), image.icc_profile))


@pytest.fixture
def gated_retoucher() -> Iterator[GatedRetoucher]:
    model = GatedRetoucher()
    yield model
    model.release.set()  # never leave a worker waiting


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.lru_cache(maxsize=1)
def other_profile() -> bytes:
    """A second real RGB ICC profile (Display P3), different bytes from sRGB."""
    try:
        from models.icc import display_p3_profile
    except ImportError:  # the model package's profile builder moved: any other real profile
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("XYZ")).tobytes()
    return display_p3_profile()


def pixels(h: int, w: int, c: int, depth: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = 256 if depth == 8 else 65536
    dtype = np.uint8 if depth == 8 else np.uint16
    return rng.integers(0, top, (h, w, c)).astype(dtype)


def pil_encode(px: np.ndarray, fmt: str, icc: bytes | None = None, **params) -> bytes:
    """Encode 8-bit pixels (or 16-bit grey) with Pillow: an encoder independent of the server."""
    c = px.shape[2]
    if px.dtype == np.uint16:
        assert c == 1
        im = Image.fromarray(px[:, :, 0], mode="I;16")
    else:
        im = Image.fromarray(
            px[:, :, 0] if c == 1 else px, mode={1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
        )
    out = io.BytesIO()
    if icc:
        params["icc_profile"] = icc
    im.save(out, fmt, **params)
    return out.getvalue()


def tiff_encode(px: np.ndarray, icc: bytes | None = None, compression=None) -> bytes:
    """Encode with tifffile (independent of the server's writer's settings)."""
    import tifffile

    c = px.shape[2]
    out = io.BytesIO()
    extratags = [(34675, 7, len(icc), icc, True)] if icc else []
    tifffile.imwrite(
        out,
        px[:, :, 0] if c == 1 else px,
        photometric="minisblack" if c in (1, 2) else "rgb",
        extrasamples=(2,) if c in (2, 4) else None,
        compression=compression,
        extratags=extratags,
    )
    return out.getvalue()


def cv2_png16(px: np.ndarray) -> bytes:
    """A 16-bit PNG written by OpenCV/libpng (RGB order converted to OpenCV's BGR)."""
    import cv2

    arr = px
    if px.shape[2] in (3, 4):
        arr = px[:, :, [2, 1, 0] + ([3] if px.shape[2] == 4 else [])]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    assert ok
    return buf.tobytes()


def raw_headers(w: int, h: int, c: int, depth: int, **extra) -> dict[str, str]:
    headers = {
        "Content-Type": "application/octet-stream",
        "X-Width": str(w),
        "X-Height": str(h),
        "X-Channels": str(c),
        "X-Depth": str(depth),
    }
    headers.update(extra)
    return headers


@pytest.fixture
def img():
    """Helpers to make real image files with encoders independent of the server."""
    from types import SimpleNamespace

    return SimpleNamespace(
        pixels=pixels,
        pil_encode=pil_encode,
        tiff_encode=tiff_encode,
        cv2_png16=cv2_png16,
        srgb=srgb_profile,
        other=other_profile,
        raw_headers=raw_headers,
    )
