"""Presets: the built-in settings sets say what the issue promises; user files extend them."""

from __future__ import annotations

import pytest

from models.api import RetouchOptions
from server.presets import PresetError, get_preset, load_presets, parse_preset


def test_builtin_presets_encode_the_marketplace_facts():
    presets, problems = load_presets()
    assert problems == []
    white = presets["marketplace-white"].retouch_options()
    assert white.background == "white" and white.framing == "square"
    assert 1 - 2 * white.margin == pytest.approx(0.85)  # piece fills about 85% of the frame
    assert white.canvas_size >= 1000  # long side for marketplace zoom
    assert presets["natural-shadow"].retouch_options().shadow == "natural"
    cutout = presets["transparent-cutout"]
    assert cutout.retouch_options().background == "transparent"
    assert cutout.format in ("png", "tiff", "webp")  # a format that holds alpha
    for preset in presets.values():
        assert preset.title and len(preset.description) > 30


def test_overrides_win_over_preset_options():
    preset = get_preset("marketplace-white")
    options = preset.retouch_options({"canvas_size": 1500, "strength": 0.5})
    assert options.canvas_size == 1500 and options.strength == 0.5
    assert options.framing == "square"
    assert preset.retouch_options() != RetouchOptions()


def test_user_preset_overrides_builtin_of_same_name(tmp_path):
    (tmp_path / "natural-shadow.toml").write_text(
        'title = "Our shadow"\n[options]\nshadow = "natural"\nstrength = 0.6\n'
    )
    preset = get_preset("natural-shadow", tmp_path)
    assert preset.title == "Our shadow" and not preset.builtin
    assert preset.retouch_options().strength == 0.6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[options]\nstrength = 2.0\n", "strength"),
        ("[options]\nsparkle = true\n", "unknown option"),
        ('format = "gif"\n', "format must be one of"),
        ("colour = 1\n", "unknown key"),
        ("[options\n", "preset file"),
        ("options = 3\n", "must be a table"),
    ],
)
def test_bad_preset_files_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PresetError, match=message):
        parse_preset(path)


def test_unknown_preset_lists_known_names():
    with pytest.raises(PresetError, match="marketplace-white"):
        get_preset("does-not-exist")
