"""Cut-outs on a dark backdrop: black or navy velvet, dark fabric, a dark display.

A dark backdrop is no studio sweep to the backdrop model: its folds and the velvet's pile
make the light field anything but smooth (its texture scale tau reaches the cap), so image
analysis cannot tell piece from velvet and the photo would keep its background. But on a
dark backdrop the piece is the easy part of the frame: metal and stones are brighter than
the velvet or of another colour. JewelNet v2, trained with black and navy velvet among its
backdrops, gives the piece's outline; its matte is soft over dark stones (an emerald reads
half velvet) and leaves a faint skirt of velvet around the piece (a grey halo on white). The
velvet's own colour, measured where v2 sees backdrop, settles both: a pixel that is clearly
not velvet inside v2's piece is piece, a velvet-coloured pixel at v2's soft edge is backdrop.

Everything here works at the working resolution on linear RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from models.analysis.confidence import border_mask
from models.colour import LUMA
from models.ops.regions import region_median

# The frame's open border is dark: its luminance (linear) at the 95th percentile under
# DARK_BORDER_HIGH, its median under DARK_BORDER_MEDIAN. Black and navy velvet measure
# 0.002 to 0.03 at the 95th percentile; a grey sweep 0.1 or more; a dark scene with a lit
# object at the edge (a plate, a rock) far more.
DARK_BORDER_HIGH = 0.06
DARK_BORDER_MEDIAN = 0.025
# v2's matte above this at the frame's border is piece running off it, not backdrop.
OPEN_MATTE = 0.1
# At least this share of v2's sure piece (matte over SURE_PIECE) must be unlike the velvet
# (0.8 to 0.97 on the 14 dark development photos).
SURE_PIECE, SEPARATES = 0.9, 0.5
# px kept between v2's piece and the velvet sampled for its colour
SAMPLE_GAP = 3
# A pixel is not velvet when it is brighter than the velvet's VELVET_QUANTILE luminance by
# BRIGHTER, or when its chromaticity (rgb / sum) differs from the velvet's by TINT (largest
# channel difference) and it is bright enough for its colour to mean something (NOISE_LUM,
# or NOISE_FACTOR times the velvet's median, whichever is more).
VELVET_QUANTILE = 0.995
BRIGHTER = 1.5
TINT = 0.15
NOISE_LUM, NOISE_FACTOR = 0.004, 2.0
# v2's matte from which a not-velvet pixel is whole piece (the soft middle of a dark stone),
# and from which a velvet-coloured pixel inside the piece's outline is piece.
SOLID_FROM = 0.25
SKIRT_UNDER = 0.5
# Inside the piece's outline the colour test also runs on the mean over this window, down to
# this multiple of the velvet's median luminance (a deep stone's black heart).
DARK_COLOUR_WINDOW, DARK_COLOUR_LUM = 5, 0.5
# Velvet-coloured and enclosed by the piece over this share of the frame: the velvet itself.
HOLE_LARGE = 0.003
# A velvet whose chromaticity spreads over this (largest minus smallest channel) is coloured.
COLOURED_VELVET = 0.2
# A part of v2's soft matte (> PART_MATTE) without any pixel at or over PART_CORE is a ghost
# of velvet, not a piece.
PART_MATTE, PART_CORE = 0.1, 0.5
# Velvet seen through openwork (`_velvet_through`): a dark region of the piece whose pooled
# chromaticity departs from neutral along the velvet's own hue, by THROUGH_HUE_MIN to
# THROUGH_HUE_MAX of the velvet's departure, and off that line by under THROUGH_OFF_HUE
# (largest channel), at least THROUGH_MIN_AREA px. The velvet in the shade of openwork
# measures 0.1 to 0.6 of the velvet's hue on the dev photos (the gold's bounce light greys
# it); a shaded white-metal wall or a black stone is neutral (under 0.1); a gold or a
# coloured stone's shade lies off the line (0.2 and more).
THROUGH_HUE_MIN, THROUGH_HUE_MAX, THROUGH_OFF_HUE = 0.1, 0.5, 0.08
THROUGH_MIN_AREA = 4
# At the velvet's own level (median luminance under THROUGH_DARK x the velvet's median) the
# region is the velvet itself, greyed or not, up to THROUGH_HUE_DARK of its hue (d058's
# shade between a chain's strands: 0.50 of the hue at 1.3 x the velvet's median; the
# openwork measures 2 to 3.5 x, d055's unlit sapphire 3.0 x at 0.57 of the hue).
THROUGH_DARK, THROUGH_HUE_DARK = 2.0, 1.5
# Parts of the piece of at most this many px left standing inside such velvet (specks of
# noise brighter than it) go with it.
THROUGH_SPECK = 6
# A hole in the piece under STONE_HOLE of the frame (about 29 px at 600 x 480) whose pooled
# colour holds more of the velvet's hue than greyed velvet (over THROUGH_HUE_MAX, within
# THROUGH_OFF_HUE of the line) at THROUGH_DARK x the velvet's median luminance or more is
# filled (`_stone_holes`): a dark stone of that hue (d055's sapphire, d047's) or lit velvet in
# a tiny gap, and cut out it is a soft white blob at full size (16 such holes on the dev
# photos, 1 to 22 px).
STONE_HOLE = 0.0001


@dataclass(frozen=True)
class DarkBackdrop:
    """The velvet's measured colour. chromaticity: float32 (3,) rgb / sum; lum_high: its
    VELVET_QUANTILE luminance; lum_median: its median luminance; border_high, border_median:
    the open border's luminance at the 95th percentile and median (the test's inputs)."""

    chromaticity: np.ndarray
    lum_high: float
    lum_median: float
    border_high: float
    border_median: float

    def facts(self) -> dict:
        return {
            "border_lum_p95": round(self.border_high, 4),
            "border_lum_median": round(self.border_median, 4),
            "velvet_lum_high": round(self.lum_high, 4),
        }


def measure(rgb: np.ndarray, v2_matte: np.ndarray) -> DarkBackdrop | None:
    """The dark backdrop of a photo, or None when its backdrop is not dark.

    rgb: float32 (h, w, 3) linear 0..1; v2_matte: float32 (h, w) 0..1, JewelNet v2's matte.
    The open border (the outermost 2 % where v2 sees no piece) must be dark (DARK_BORDER_HIGH,
    DARK_BORDER_MEDIAN) and cover at least half of the border; the velvet's colour is then
    measured on every pixel at least SAMPLE_GAP px outside v2's piece and its holes, and it
    must tell most of v2's sure piece from the velvet (SEPARATES).
    """
    lum = np.maximum(rgb, 0.0) @ LUMA
    border = border_mask(lum.shape)
    open_border = border & (v2_matte <= OPEN_MATTE)
    if open_border.sum() < 0.5 * border.sum():
        return None
    border_high = float(np.quantile(lum[open_border], 0.95))
    border_median = float(np.median(lum[open_border]))
    if border_high > DARK_BORDER_HIGH or border_median > DARK_BORDER_MEDIAN:
        return None
    # (outside v2's filled outline: a stone v2 reads as a hole is no velvet)
    outline = ndimage.binary_fill_holes(v2_matte > OPEN_MATTE)
    velvet = ~ndimage.binary_dilation(outline, iterations=SAMPLE_GAP)
    if velvet.sum() < 0.25 * velvet.size:
        return None
    chroma = chromaticity(rgb)
    dark = DarkBackdrop(
        chromaticity=np.median(chroma[velvet], axis=0).astype(np.float32),
        lum_high=float(np.quantile(lum[velvet], VELVET_QUANTILE)),
        lum_median=float(np.median(lum[velvet])),
        border_high=border_high,
        border_median=border_median,
    )
    # The velvet's colour must tell the piece from the velvet: over most of what v2 is sure
    # of (a black piece on black velvet, or a frame all dark, is not this path's to judge).
    sure = v2_matte > SURE_PIECE
    if not sure.any() or float(np.logical_or(*not_velvet(rgb, dark))[sure].mean()) < SEPARATES:
        return None
    return dark


def chromaticity(rgb: np.ndarray) -> np.ndarray:
    """rgb / (r + g + b): (..., 3) of rgb's float dtype, each pixel's colour without its
    brightness. rgb: float (..., 3) linear (negative values count as 0)."""
    rgb = np.maximum(rgb, 0.0)
    return rgb / np.maximum(rgb.sum(axis=-1, keepdims=True), 1e-6)


def not_velvet(rgb: np.ndarray, dark: DarkBackdrop) -> tuple[np.ndarray, np.ndarray]:
    """Pixels that are clearly not the velvet, two ways: (brighter, coloured), bool (h, w)
    each. rgb: float32 (h, w, 3) linear. brighter: over BRIGHTER x the velvet's high
    luminance; coloured: another chromaticity than the velvet's (by TINT) and bright enough
    for it to mean something. A fold of velvet catching the light is only brighter; metal
    and stones on navy velvet are coloured too (on black velvet silver is only brighter)."""
    lum = np.maximum(rgb, 0.0) @ LUMA
    brighter = lum > BRIGHTER * dark.lum_high
    tint = np.abs(chromaticity(rgb) - dark.chromaticity).max(axis=-1)
    coloured = (tint > TINT) & (lum > max(NOISE_LUM, NOISE_FACTOR * dark.lum_median))
    return brighter, coloured


def cutout_matte(rgb: np.ndarray, v2_matte: np.ndarray, dark: DarkBackdrop) -> np.ndarray:
    """The piece's matte on a dark backdrop: float32 (h, w) 0 or 1.

    rgb: float32 (h, w, 3) linear 0..1; v2_matte: float32 (h, w) 0..1 (JewelNet v2's);
    dark: `measure`'s result.

    - Parts of v2's matte without a solid core go (ghosts of lit velvet).
    - In what stays, a pixel that is not velvet (`not_velvet`) and that v2 gives SOLID_FROM
      or more is piece: a dark emerald that v2 left half transparent is whole.
    - Coloured regions touching that piece are piece whatever v2 says (v2 can read a ruby
      as a hole in the piece).
    - Velvet-coloured pixels outside the piece's outline are backdrop, whatever v2 says (its
      soft skirt and the dark velvet in the piece's shadow: a grey halo on white).
    - Inside the outline, coloured pixels are piece; the others (a dark sapphire, or velvet
      seen through openwork: their colours can be alike) are v2's to decide, at SKIRT_UNDER
      (a stricter limit, 0.8, took parts of d047's sapphires and left the velvet seen
      through d053's openwork as it was); such a region over HOLE_LARGE of the frame is
      the velvet itself (a chain's loop, d058).
    - Dark regions whose pooled colour is the velvet's hue, where v2 is under SKIRT_UNDER,
      are the velvet seen through openwork (`_velvet_through`): their pixels passed the
      colour test on noise and on the metal's bounce light.
    - Separate parts of the velvet's own colour are lit folds (`_lit_velvet`).
    - Small holes of the velvet's hue brighter than the velvet lies are a dark stone of that
      hue, filled (`_stone_holes`).

    The outline is binary at the working size; the pipeline's guided upsampling gives it
    its soft edge at full resolution, following the photo.
    """
    labels, count = ndimage.label(v2_matte > PART_MATTE)
    if count == 0:
        return np.zeros_like(v2_matte, dtype=np.float32)
    cored = np.zeros(count + 1, bool)
    cored[np.unique(labels[v2_matte >= PART_CORE])] = True
    cored[0] = False
    brighter, coloured = not_velvet(rgb, dark)
    piece = cored[labels] & (brighter | coloured) & (v2_matte >= SOLID_FROM)
    touching, count = ndimage.label(coloured & ~piece)
    if count:
        near = np.unique(touching[ndimage.binary_dilation(piece) & (touching > 0)])
        piece |= np.isin(touching, near)
    enclosed = ndimage.binary_fill_holes(piece) & ~piece
    coloured |= _dark_colour(rgb, dark)  # inside the outline, a deep stone's heart counts
    velvet_holes = large_parts(enclosed & ~coloured)
    solid = piece | (enclosed & ~velvet_holes & (coloured | (v2_matte >= SKIRT_UNDER)))
    solid &= ~_velvet_through(rgb, v2_matte, solid, dark)
    solid = (solid & ~_lit_velvet(rgb, solid, dark)) | _stone_holes(rgb, solid, dark)
    return solid.astype(np.float32)


def large_parts(mask: np.ndarray, share: float = HOLE_LARGE) -> np.ndarray:
    """The connected parts of `mask` (bool (h, w)) covering at least `share` of the frame:
    bool (h, w). A stone is small; velvet of the velvet's colour enclosed by the piece over a
    larger area is the velvet (the loop between a chain's two strands, which v2 can fill)."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    areas = np.bincount(labels.ravel())
    large = areas >= share * mask.size
    large[0] = False
    return large[labels]


def _dark_colour(rgb: np.ndarray, dark: DarkBackdrop) -> np.ndarray:
    """Pixels too dark for `not_velvet`'s colour test whose neighbourhood has another colour
    than the velvet: bool (h, w). The black heart of a deep emerald is as dark as the velvet;
    its own pixels' chromaticity is noise, but averaged over DARK_COLOUR_WINDOW px it is
    still green. Asked only inside the piece's outline."""
    mean = ndimage.uniform_filter(np.maximum(rgb, 0.0), size=(DARK_COLOUR_WINDOW,) * 2 + (1,))
    tint = np.abs(chromaticity(mean) - dark.chromaticity).max(axis=-1)
    return (tint > TINT) & (mean @ LUMA > DARK_COLOUR_LUM * dark.lum_median)


def _velvet_through(
    rgb: np.ndarray, v2_matte: np.ndarray, solid: np.ndarray, dark: DarkBackdrop
) -> np.ndarray:
    """The velvet seen through the piece's openwork: bool (h, w), within `solid`.

    rgb: float32 (h, w, 3) linear; v2_matte: float32 (h, w) 0..1; solid: bool (h, w), the
    piece so far. In the shade of openwork the velvet is as dark as the velvet outside (not
    `not_velvet`'s brighter), and at that level each pixel's chromaticity is mostly noise
    and the metal's bounce light, so many pass its colour test. Pooled over a connected
    dark region (8-connected, inside the piece's filled outline) the colour is measured:
    the velvet's hue greyed (THROUGH_HUE_MIN to THROUGH_HUE_MAX of the velvet's departure
    from neutral, within THROUGH_OFF_HUE of that line). Such a region goes where v2, trained
    on velvet, gives it a median matte under SKIRT_UNDER; where v2 is sure (a dark
    sapphire is the velvet's hue too) it stays. A dark stone of the velvet's hue that v2
    doubts keeps more of that hue than the greyed velvet (d055's unlit sapphire: 0.57), so
    THROUGH_HUE_MAX stays low, but at the velvet's own level (under THROUGH_DARK x its
    median luminance) a region is the velvet up to THROUGH_HUE_DARK of its hue. Specks of
    the piece of THROUGH_SPECK px or fewer touching the velvet found go with it. Only on a
    coloured velvet: on black velvet the hue is undefined and a shaded white-metal wall is
    as neutral as the velvet.
    """
    if float(np.ptp(dark.chromaticity)) < COLOURED_VELVET:
        return np.zeros_like(solid)
    brighter, _ = not_velvet(rgb, dark)
    dark_parts = ndimage.binary_fill_holes(solid) & ~brighter
    labels, count = ndimage.label(dark_parts, structure=np.ones((3, 3), bool))
    if count == 0:
        return np.zeros_like(solid)
    along, off_hue, level = _pooled_hue(rgb, labels, count, dark)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    doubted = region_median(v2_matte, labels, count) < SKIRT_UNDER
    hue_max = np.where(level < THROUGH_DARK * dark.lum_median, THROUGH_HUE_DARK, THROUGH_HUE_MAX)
    through = ((along >= THROUGH_HUE_MIN) & (along <= hue_max)
               & (off_hue < THROUGH_OFF_HUE) & (areas >= THROUGH_MIN_AREA) & doubted)
    found = np.concatenate([[False], through])[labels] & solid
    if not found.any():
        return found
    # Specks of noise left standing in it (brighter than the velvet by chance) go with it.
    eight = np.ones((3, 3), bool)
    rest, rest_count = ndimage.label(solid & ~found, structure=eight)
    sizes = np.bincount(rest.ravel(), minlength=rest_count + 1)
    touching = np.zeros(rest_count + 1, bool)
    touching[np.unique(rest[ndimage.binary_dilation(found, structure=eight)])] = True
    specks = touching & (sizes <= THROUGH_SPECK)
    specks[0] = False
    return found | specks[rest]


def _stone_holes(rgb: np.ndarray, solid: np.ndarray, dark: DarkBackdrop) -> np.ndarray:
    """Small holes in the piece that are a stone of the velvet's hue: bool (h, w).

    rgb: float32 (h, w, 3) linear; solid: bool (h, w), the piece. A hole (enclosed by the
    piece, 8-connected) under STONE_HOLE of the frame is filled when its pooled chromaticity
    departs from neutral along the velvet's hue by more than THROUGH_HUE_MAX of the velvet's
    departure (within THROUGH_OFF_HUE of that line: a sapphire on navy velvet) and its median
    luminance is THROUGH_DARK x the velvet's median or more (the velvet seen through a chain's
    link lies at the velvet's own level and stays a hole). Only on a coloured velvet.
    """
    if float(np.ptp(dark.chromaticity)) < COLOURED_VELVET:
        return np.zeros_like(solid)
    holes = ndimage.binary_fill_holes(solid) & ~solid
    labels, count = ndimage.label(holes, structure=np.ones((3, 3), bool))
    if count == 0:
        return holes
    along, off_hue, level = _pooled_hue(rgb, labels, count, dark)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    stone = ((areas < STONE_HOLE * solid.size) & (along > THROUGH_HUE_MAX)
             & (off_hue < THROUGH_OFF_HUE) & (level >= THROUGH_DARK * dark.lum_median))
    return np.concatenate([[False], stone])[labels]


def _pooled_hue(
    rgb: np.ndarray, labels: np.ndarray, count: int, dark: DarkBackdrop
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per labelled region, its pooled colour against the velvet's hue: (along, off_hue,
    level), each float (count,). along: how far the region's chromaticity (of its summed
    linear rgb) lies from neutral towards the velvet's, in units of the velvet's departure;
    off_hue: its distance from that line (largest channel); level: the region's median
    linear luminance. rgb: float32 (h, w, 3) linear; labels: int (h, w), regions 1..count."""
    linear = np.maximum(rgb, 0.0)
    flat = labels.ravel()
    sums = np.stack([np.bincount(flat, linear[..., c].ravel(), minlength=count + 1)[1:]
                     for c in range(3)], axis=-1)
    pooled = chromaticity(sums)
    neutral = np.full(3, 1.0 / 3.0)
    hue = dark.chromaticity - neutral
    along = (pooled - neutral) @ hue / float(hue @ hue)
    off_hue = np.abs(pooled - neutral - along[:, None] * hue[None]).max(axis=-1)
    level = region_median(linear @ LUMA, labels, count)
    return along, off_hue, level.astype(np.float64)


def _lit_velvet(rgb: np.ndarray, solid: np.ndarray, dark: DarkBackdrop) -> np.ndarray:
    """Separate parts of `solid` (not the largest) of the velvet's own colour: bool (h, w).

    A fold of velvet catching the light is brighter than the velvet around it, so it passes
    as "not velvet", but it keeps the velvet's chromaticity (median tint under TINT). Only on
    a coloured velvet (navy, burgundy: chromaticity spread over COLOURED_VELVET): on black
    velvet silver and diamonds are as neutral as the velvet.
    """
    if float(np.ptp(dark.chromaticity)) < COLOURED_VELVET:
        return np.zeros_like(solid)
    labels, count = ndimage.label(solid)
    if count < 2:
        return np.zeros_like(solid)
    index = np.arange(1, count + 1)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    tint = np.abs(chromaticity(rgb) - dark.chromaticity).max(axis=-1)
    typical = region_median(tint, labels, count)
    lit = (typical < TINT) & (index != index[np.argmax(areas)])
    return np.concatenate([[False], lit])[labels]


__all__ = ["DarkBackdrop", "chromaticity", "cutout_matte", "large_parts", "measure", "not_velvet"]
