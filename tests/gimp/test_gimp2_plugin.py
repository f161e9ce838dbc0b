"""The GIMP 2.10 Python-Fu plug-in, run under Python 3 against the stand-in gimpfu
(tests/gimp/gimp2_standin) and a real `jewel-retouch serve`.

The plug-in is installed by `jewel-retouch install gimp --gimp 2.10` into a temporary profile
and imported from there, so the installed layout is what is tested. Expected pixels are the
server's own answer for the same region.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Seconds a `jewel-retouch serve` may take to start: generous, for a busy machine.
SERVER_START_S = 300

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "gimp2_standin"
PROC = "python-fu-jewel-retouch"
RNG = np.random.default_rng(210)


def not_model_warnings(messages):
    """The plug-in's messages less the model's warnings about the image (these test layers
    are a few dozen pixels: the model says they are small, models.api.WARNINGS)."""
    from models.api import WARNINGS

    return [m for m in messages if not any(text in m for text in WARNINGS.values())]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from server.testing import run_server

    with run_server(
        tmp_path_factory.mktemp("gimp2-server"), max_megapixels=0.05, startup_timeout=SERVER_START_S
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def gimp2(tmp_path_factory):
    """(gimp, gimpfu, plug-in module) with the plug-in imported from an installed profile."""
    profile = tmp_path_factory.mktemp("gimp2-profile")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "install",
            "gimp",
            "--gimp",
            "2.10",
            "--profile",
            str(profile),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    plugin_path = profile / "plug-ins" / "jewel_retouch_gimp2.py"
    assert plugin_path.stat().st_mode & 0o111, "the plug-in lacks its run bit"
    saved_path = list(sys.path)
    saved_modules = {
        name: sys.modules.get(name) for name in ("gimp", "gimpfu", "jewel_retouch_client")
    }
    sys.path.insert(0, str(STANDIN))
    try:
        import gimp
        import gimpfu

        spec = importlib.util.spec_from_file_location("jewel_retouch_gimp2", plugin_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        client_file = Path(sys.modules["jewel_retouch_client"].__file__)
        assert client_file.parent == plugin_path.parent  # the installed copy, not the repo's
        yield gimp, gimpfu, module
    finally:
        sys.path[:] = saved_path
        for name, old in saved_modules.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


@pytest.fixture
def token_env(server, monkeypatch):
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(server.config_dir))


def make_image(gimp, pixels, layer_type, offsets=(0, 0), size=(64, 48), base=None, precision=None):
    image = gimp.Image(
        size[0], size[1], gimp.RGB if base is None else base, precision or gimp.PRECISION_U8_GAMMA
    )
    bottom = gimp.Layer(image, "bottom", 8, 8, layer_type, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, bottom, None, 0)
    height, width = pixels.shape[:2]
    source = gimp.Layer(image, "source", width, height, layer_type, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, source, None, 0)
    source.set_offsets(*offsets)
    source.pixels[:] = pixels
    top = gimp.Layer(image, "top", 8, 8, layer_type, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, top, None, 0)
    return image, source


def run(gimp2, image, source, **arguments):
    gimp, gimpfu, _ = gimp2
    del gimp.messages[:]
    del gimp.progress[:]
    del gimp.progress_texts[:]
    before = source.pixels.copy()
    gimpfu.run_procedure(PROC, image, source, **arguments)
    np.testing.assert_array_equal(source.pixels, before)  # the original is never modified
    assert image.undo_depth == 0, "unbalanced undo group"
    return list(gimp.messages)


def new_item(image):
    names = [layer.name for layer in image.layers]
    assert names[0] == "top" and names[2:] == ["source", "bottom"], names
    return image.layers[1]


def answer(server, pixels, layers=False):
    import io
    import json
    import zipfile

    import requests

    height, width, channels = pixels.shape
    headers = dict(server.auth_headers)
    headers.update(
        {
            "Content-Type": "application/octet-stream",
            "X-Width": str(width),
            "X-Height": str(height),
            "X-Channels": str(channels),
            "X-Depth": "8",
        }
    )
    if layers:
        headers["X-Layers"] = "1"
    response = requests.post(
        server.http_url + "/v1/retouch", data=pixels.tobytes(), headers=headers, timeout=60
    )
    assert response.status_code == 200, response.text
    if not layers:
        return np.frombuffer(response.content, np.uint8).reshape(height, width, channels)
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    return {
        part["name"]: (
            part,
            np.frombuffer(archive.read(part["file"]), np.uint8).reshape(
                height, width, part["channels"]
            ),
        )
        for part in manifest["parts"]
    }


def rgba(height, width):
    pixels = RNG.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3] |= 1
    return pixels


def test_registration(gimp2):
    gimp, gimpfu, module = gimp2
    procedure = gimpfu.procedures[PROC]
    assert procedure["menu"] == "<Image>/Filters/Jewelry"
    assert procedure["label"] == "Retouch..."
    names = [param[1] for param in procedure["params"]]
    options = [spec["name"] for spec in module.jrc.BUILTIN_OPTIONS]
    assert names == ["image", "drawable", *options, "output", "server_url", "timeout"]


def test_rectangular_selection(gimp2, server, token_env):
    gimp, _, _ = gimp2
    pixels = rgba(48, 64)
    image, source = make_image(gimp, pixels, gimp.RGBA_IMAGE)
    gimp.pdb.gimp_image_select_rectangle(image, gimp.CHANNEL_OP_REPLACE, 10, 6, 30, 20)
    messages = run(gimp2, image, source, server_url=server.http_url)
    assert not_model_warnings(messages) == []
    new = new_item(image)
    assert new.name == "Jewel retouch" and new.offsets == (10, 6)
    assert (new.width, new.height) == (30, 20)
    np.testing.assert_array_equal(new.pixels, answer(server, pixels[6:26, 10:40].copy()))
    assert image.undo_groups == 1
    assert gimp.progress == sorted(gimp.progress) and gimp.progress[-1] == pytest.approx(1.0)
    texts = gimp.progress_texts
    assert texts[0] == "Jewel retouch: sending the pixels...", texts
    assert "Jewel retouch: waiting for the server..." in texts, texts
    assert texts[-1] == "Jewel retouch: receiving the result...", texts


def test_elliptical_selection_is_masked(gimp2, server, token_env):
    gimp, _, _ = gimp2
    pixels = rgba(48, 64)
    image, source = make_image(gimp, pixels, gimp.RGBA_IMAGE)
    gimp.pdb.gimp_image_select_ellipse(image, gimp.CHANNEL_OP_REPLACE, 8, 4, 40, 30)
    run(gimp2, image, source, server_url=server.http_url)
    new = new_item(image)
    assert new.offsets == (8, 4) and (new.width, new.height) == (40, 30)
    expected = answer(server, pixels[4:34, 8:48].copy())
    selection = image.selection.pixels[4:34, 8:48, 0]
    inside, outside = selection == 255, selection == 0
    assert inside.sum() > 100 and outside.sum() > 10
    np.testing.assert_array_equal(new.pixels[inside], expected[inside])
    assert np.all(new.pixels[outside][:, 3] == 0)
    edge = ~inside & ~outside
    want = (expected[edge][:, 3].astype(int) * selection[edge] + 127) // 255
    np.testing.assert_array_equal(new.pixels[edge][:, 3], want)


def test_layer_without_alpha_and_with_offsets(gimp2, server, token_env):
    gimp, _, _ = gimp2
    pixels = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    image, source = make_image(gimp, pixels, gimp.RGB_IMAGE, offsets=(15, 10))
    gimp.pdb.gimp_image_select_rectangle(image, gimp.CHANNEL_OP_REPLACE, 5, 5, 30, 20)
    run(gimp2, image, source, server_url=server.http_url)
    new = new_item(image)
    assert new.offsets == (15, 10) and (new.width, new.height) == (20, 15)
    assert new.bpp == 4
    np.testing.assert_array_equal(new.pixels[..., :3], answer(server, pixels[0:15, 0:20].copy()))
    assert np.all(new.pixels[..., 3] == 255)


def test_output_layers(gimp2, server, token_env):
    gimp, _, _ = gimp2
    pixels = rgba(48, 64)
    image, source = make_image(gimp, pixels, gimp.RGBA_IMAGE)
    gimp.pdb.gimp_image_select_rectangle(image, gimp.CHANNEL_OP_REPLACE, 4, 8, 36, 24)
    run(gimp2, image, source, server_url=server.http_url, output=1)
    group = new_item(image)
    assert group.children is not None and group.name == "Jewel retouch (layers)"
    parts = answer(server, pixels[8:32, 4:40].copy(), layers=True)
    children = {child.name: child for child in group.children}
    layer_names = [name for name, (part, _) in parts.items() if part["kind"] == "layer"]
    for name in layer_names or ["image"]:
        child = children[name.capitalize() if name != "image" else "Retouched"]
        assert child.offsets == (4, 8)
        np.testing.assert_array_equal(child.pixels, parts[name][1])
    channels = {channel.name: channel for channel in image.channels}
    for name, (part, data) in parts.items():
        if part["kind"] == "mask":
            channel = channels[f"Jewel retouch: {name} mask"]
            np.testing.assert_array_equal(channel.pixels[8:32, 4:40], data)


def test_options_arrive_as_gimp_hands_them_over(gimp2, server, token_env):
    gimp, _, module = gimp2
    # gimpfu passes PF_OPTION as an index and PF_TOGGLE as an int.
    values = module.option_values([1, 1, 2, 0.5, 0, 1, 0.25, 1, 4, 0.1, 1, 1600])
    options = module.jrc.options_from_values(module.jrc.BUILTIN_OPTIONS, values)
    assert options["background"] == "transparent" and options["shadow"] == "natural"
    assert options["metal"] == "rose_gold" and options["cleanup"] is False
    assert options["protect_gems"] is True and options["framing"] == "ebay"
    assert options["force_cutout"] is True and options["canvas_size"] == 1600
    pixels = rgba(16, 16)
    image, source = make_image(gimp, pixels, gimp.RGBA_IMAGE, size=(16, 16))
    messages = run(
        gimp2, image, source, server_url=server.http_url, metal=2, cleanup=0, strength=0.3
    )
    # The server accepted the options (it refuses bad ones with 422).
    assert not_model_warnings(messages) == []
    new_item(image)


@pytest.mark.parametrize(
    "base, layer_type", [("INDEXED", "INDEXED_IMAGE"), ("GRAY", "GRAYA_IMAGE")]
)
def test_indexed_and_grey_are_refused(gimp2, server, token_env, base, layer_type):
    gimp, _, _ = gimp2
    kind = getattr(gimp, layer_type)
    image = gimp.Image(20, 20, getattr(gimp, base))
    source = gimp.Layer(image, "source", 20, 20, kind, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, source, None, 0)
    source.pixels[:] = RNG.integers(0, 256, (20, 20, gimp.BPP[kind]), dtype=np.uint8)
    messages = run(gimp2, image, source, server_url=server.http_url)
    assert len(messages) == 1 and "Image > Mode > RGB" in messages[0]
    assert [layer.name for layer in image.layers] == ["source"]


def test_16bit_image_is_retouched_at_8_bits_with_a_note(gimp2, server, token_env):
    gimp, _, _ = gimp2
    pixels = rgba(20, 20)
    image, source = make_image(
        gimp, pixels, gimp.RGBA_IMAGE, size=(20, 20), precision=gimp.PRECISION_U16_GAMMA
    )
    messages = run(gimp2, image, source, server_url=server.http_url)
    np.testing.assert_array_equal(new_item(image).pixels, answer(server, pixels))
    messages = not_model_warnings(messages)
    assert len(messages) == 1 and "8 bits" in messages[0] and "GIMP 3" in messages[0]


def test_server_down(gimp2, token_env):
    import socket

    gimp, _, _ = gimp2
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    image, source = make_image(gimp, rgba(48, 64), gimp.RGBA_IMAGE)
    messages = run(gimp2, image, source, server_url=f"http://127.0.0.1:{port}")
    assert len(messages) == 1
    assert "not running" in messages[0] and "jewel-retouch serve" in messages[0]
    assert [layer.name for layer in image.layers] == ["top", "source", "bottom"]


def test_wrong_token(gimp2, server, tmp_path, monkeypatch):
    gimp, _, _ = gimp2
    (tmp_path / "token").write_text("a-token-from-another-server-" + "y" * 15)
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(tmp_path))
    image, source = make_image(gimp, rgba(48, 64), gimp.RGBA_IMAGE)
    messages = run(gimp2, image, source, server_url=server.http_url)
    assert len(messages) == 1 and "refused the access token" in messages[0]
    assert str(tmp_path / "token") in messages[0]
    assert [layer.name for layer in image.layers] == ["top", "source", "bottom"]


def test_missing_token_file(gimp2, server, tmp_path, monkeypatch):
    gimp, _, _ = gimp2
    monkeypatch.setenv("JEWEL_RETOUCH_CONFIG_DIR", str(tmp_path / "nowhere"))
    image, source = make_image(gimp, rgba(48, 64), gimp.RGBA_IMAGE)
    messages = run(gimp2, image, source, server_url=server.http_url)
    assert len(messages) == 1 and "jewel-retouch serve" in messages[0]
    assert "token" in messages[0]
    assert [layer.name for layer in image.layers] == ["top", "source", "bottom"]


def test_over_the_limit(gimp2, server, token_env):
    gimp, _, _ = gimp2
    image, source = make_image(gimp, rgba(200, 300), gimp.RGBA_IMAGE, size=(300, 200))
    messages = run(gimp2, image, source, server_url=server.http_url)
    assert len(messages) == 1 and "too large" in messages[0]
    assert [layer.name for layer in image.layers] == ["top", "source", "bottom"]


def make_grouped_image(gimp, pixels):
    """bottom, then a group "holder" holding "sibling" above "source"."""
    image = gimp.Image(64, 48)
    bottom = gimp.Layer(image, "bottom", 8, 8, gimp.RGBA_IMAGE, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, bottom, None, 0)
    holder = gimp.pdb.gimp_layer_group_new(image)
    holder.name = "holder"
    gimp.pdb.gimp_image_insert_layer(image, holder, None, 0)
    height, width = pixels.shape[:2]
    source = gimp.Layer(image, "source", width, height, gimp.RGBA_IMAGE, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, source, holder, 0)
    source.pixels[:] = pixels
    sibling = gimp.Layer(image, "sibling", 8, 8, gimp.RGBA_IMAGE, 100.0, gimp.NORMAL_MODE)
    gimp.pdb.gimp_image_insert_layer(image, sibling, holder, 0)
    return image, holder, source


def test_warnings_are_shown_after_the_paste(gimp2, fake_server, token_env):
    gimp, _, _ = gimp2
    pixels = rgba(48, 64)
    image, holder, source = make_grouped_image(gimp, pixels)
    messages = run(gimp2, image, source, server_url=fake_server.url)
    assert [layer.name for layer in holder.children] == ["sibling", "Jewel retouch", "source"]
    np.testing.assert_array_equal(holder.children[1].pixels, pixels)  # the fake echoes
    assert len(messages) == 1, messages
    assert "finished with 2 warnings" in messages[0]
    for warning in fake_server.warnings:
        assert messages[0].count(warning["message"]) == 1


def test_a_failure_in_the_middle_of_the_insert_leaves_nothing_behind(gimp2, fake_server, token_env):
    gimp, _, _ = gimp2
    fake_server.broken_mask = "metal"  # the "piece" channel is in when "metal" fails
    image, holder, source = make_grouped_image(gimp, rgba(48, 64))
    gimp.pdb.gimp_image_select_ellipse(image, gimp.CHANNEL_OP_REPLACE, 4, 4, 30, 20)
    messages = run(gimp2, image, source, server_url=fake_server.url, output=1)
    assert [layer.name for layer in holder.children] == ["sibling", "source"]
    assert [layer.name for layer in image.layers] == ["holder", "bottom"]
    assert image.channels == []
    assert len(messages) == 1 and "damaged" in messages[0], messages
