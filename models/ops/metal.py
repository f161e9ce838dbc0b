"""Metal colour: recognising the metal from its chromaticity and toning it true."""

from __future__ import annotations

import numpy as np

from models.ops.lab import lab_to_linear_srgb, linear_srgb_to_lab

# Mid-tone target chromaticity (a*, b*) per metal, and for auto mode the band of hue angle
# (degrees) and chroma a photo of that metal may have without correction.
TARGETS: dict[str, tuple[float, float]] = {
    "yellow_gold": (4.0, 32.0),
    "rose_gold": (13.0, 17.0),
    "white_gold": (0.5, 4.0),
    "silver": (0.0, 0.0),
    "platinum": (0.3, 1.5),
}
HUE_BANDS: dict[str, tuple[float, float, float, float]] = {
    # hue min, hue max, chroma min, chroma max
    "yellow_gold": (70.0, 90.0, 20.0, 48.0),
    "rose_gold": (42.0, 66.0, 14.0, 32.0),
    "white_gold": (0.0, 360.0, 0.0, 6.0),
    "silver": (0.0, 360.0, 0.0, 1.5),
    "platinum": (0.0, 360.0, 0.0, 2.5),
}


AUTO_MAX_SHIFT = 8.0  # largest a*b* correction auto makes; beyond it the detection is doubtful
HUE_RELIABLE = 10.0  # chroma (a*b* units) above which a metal's hue is worth correcting


def classify_metal(a: float, b: float) -> str:
    """The metal whose colour a mid-tone chromaticity (a*, b*) most likely shows."""
    chroma = float(np.hypot(a, b))
    hue = float(np.degrees(np.arctan2(b, a)) % 360)
    if chroma < 5.0:
        return "white_gold" if b > 2.5 else "silver"
    if 15.0 <= hue < 66.0 and a > 6.0:
        return "rose_gold"
    if 60.0 <= hue <= 125.0:
        return "white_gold" if chroma < 9.0 else "yellow_gold"
    return "silver"


def wanted_chroma(kind: str, a: float, b: float, auto: bool) -> tuple[float, float]:
    """The (a*, b*) the metal should have.

    A chosen metal is toned to its canonical colour. Auto mode never retints: it only takes
    back what lies outside the detected metal's plausible band (a brassy or green gold's hue,
    a silver's or white gold's excess colour, an over-saturated gold), and leaves a colour
    that is too weak for the band as it is (a pale metal may be a white one, and pushing it
    towards the band would turn white gold pink or yellow). Colours whose hue is unreliable
    (chroma under HUE_RELIABLE) keep their hue.
    """
    if not auto:
        return TARGETS[kind]
    hue_min, hue_max, _, c_max = HUE_BANDS[kind]
    chroma = float(np.hypot(a, b))
    hue = float(np.degrees(np.arctan2(b, a)) % 360)
    if hue_max - hue_min < 360 and chroma >= HUE_RELIABLE:
        # Only the hue that no gold has goes: a green or brassy yellow gold (above its band),
        # a rose gold too red (below its band). Between the two bands a warm gold may be
        # either (a rose gold read as yellow), and rotating it would retint the piece.
        if kind == "yellow_gold":
            hue = min(hue, hue_max)
        elif kind == "rose_gold":
            hue = max(hue, hue_min)
        else:
            hue = min(max(hue, hue_min), hue_max)
    chroma = min(chroma, c_max)
    rad = np.radians(hue)
    target = chroma * float(np.cos(rad)), chroma * float(np.sin(rad))
    if np.hypot(target[0] - a, target[1] - b) > AUTO_MAX_SHIFT:
        # Far outside the detected metal's band: the detection is doubtful (a gold piece
        # read as silver through its shadows), and toning it would retint the piece.
        return a, b
    return target


def metal_gains(mean_rgb: np.ndarray, target_ab: tuple[float, float]) -> np.ndarray:
    """Per-channel gains (3,) float32 that move linear RGB `mean_rgb` to chromaticity
    `target_ab` at the same lightness L*."""
    lab = linear_srgb_to_lab(np.asarray(mean_rgb, dtype=np.float64))
    target = lab_to_linear_srgb(np.array([lab[0], target_ab[0], target_ab[1]]))
    target = np.maximum(target, 1e-4)
    gains = target / np.maximum(np.asarray(mean_rgb, dtype=np.float64), 1e-4)
    return np.clip(gains, 0.25, 4.0).astype(np.float32)
