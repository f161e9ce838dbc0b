"""Cut-outs on a coloured backdrop: tissue or card paper, felt or a sweep of one strong colour.

Sellers shoot on coloured paper (magenta tissue is a classic under gold) as often as on a
sweep. Crumpled paper is no smooth light field to the backdrop model (its texture scale tau
reaches the cap), so image analysis cannot separate piece and paper and the photo would keep
its background; JewelNet v2 finds the piece's outline but, never having seen such paper,
reads gold filigree and stones on it as holes. The paper's colour settles it: its folds and
shading change its brightness, hardly its chromaticity, while gold, silver and most stones
lie far from it. The backdrop's chromaticities are measured where v2 sees paper; a pixel is
piece when it lies far outside their spread (a Mahalanobis distance, so the paper's own
spread along its shading direction is allowed for).

Everything here works at the working resolution on linear RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from models.analysis.confidence import border_mask
from models.colour import LUMA
from models.net.dark_backdrop import chromaticity, large_parts
from models.ops.regions import region_median

# v2's matte above this at the frame's border is piece running off it, not backdrop.
OPEN_MATTE = 0.1
# The open border's median chromaticity (rgb / sum) spreads over at least this (largest minus
# smallest channel): a strongly coloured backdrop. Magenta tissue measures 0.45 to 0.6, navy
# paper 0.5; white, grey and cream sweeps and linen under 0.1; wood, tan leather and skin
# 0.2 to 0.3 (a table or a hand: a scene more often than a backdrop, and too close to gold).
COLOURED = 0.3
# ... and is one colour: 90 % of the open border within this of its median (largest channel
# difference). Magenta tissue measures 0.04 to 0.06; a card on a wooden table or paper that
# leaves the frame 0.2 or more.
# (models/analysis/confidence.py ramps its backdrop fit down to 0 at this spread)
UNIFORM_HIGH = 0.08
# ... and lit: the open border's median luminance (linear) at least this. A dark backdrop's
# colour is mostly noise, and velvet is models/net/dark_backdrop.py's (navy velvet 0.002 to
# 0.02; magenta tissue 0.1 to 0.16).
LIT_MEDIAN = 0.04
# px kept between v2's piece and the paper sampled for its colour
SAMPLE_GAP = 3
# A sheet of paper that does not fill the frame (tissue laid on a newspaper or a table, the
# table showing at some of the frame's edges; the border lit and coloured at its median, so
# most of it is the paper): the paper is then judged on the band around v2's piece, this
# share of the working image's long side wide beyond SAMPLE_GAP, by the same tests (lit,
# coloured, one colour), and sampled there. What lies beyond the paper goes with it; the
# confidence still asks that the cut-out piece stay off the frame's edge.
SURROUND = 0.05
# The spread of the paper's chromaticity is taken as at least this (standard deviation), so
# that a very even paper does not make camera noise look like piece.
CHROMA_NOISE = 0.01
# A pixel is piece when its chromaticity is over UNLIKE standard deviations (Mahalanobis)
# from the paper's and differs from its median by TINT_MIN (largest channel), and it is bright
# enough for its colour to mean something (over DARK_FACTOR x the paper's median luminance:
# the gaps of a chain are as dark as a shadow).
UNLIKE, TINT_MIN, DARK_FACTOR = 8.0, 0.06, 0.15
# Enclosed by the piece, a region is the paper seen through openwork or between a chain's
# strands when it covers HOLE_LARGE of the frame or more, or when its median colour is lit
# paper (`_paper_like`) and it is not in shade (SHADE), or when it is a strip (STRIP, below);
# every other enclosed region is piece:
# a stone can be the paper's very colour, only darker (a purple ruby on magenta paper, d042),
# and the dark inside of openwork is kept dark rather than cut into.
# Regions up to TINY px are piece whatever their colour: a stone's pale highlight can be
# lit-paper coloured (a ruby's on magenta, d042), and paper seen through an opening that small
# is a speck either way.
HOLE_LARGE, TINY = 0.003, 12
# An enclosed region of the paper's colour (median Mahalanobis distance under UNLIKE) that is a
# long thin strip, its area at least STRIP x the square of its widest inscribed radius, is the
# paper seen between two strands of a chain, in their shade however dark: a stone, even a
# 4:1 baguette (16), is more compact (d042's stones of the paper's colour measure 4 to 13;
# d040's paper between two strands of its coiled chain 57).
STRIP = 20.0
# A mix of paper and piece (an edge pixel, paper lit by the gold's bounce light) lies within
# OFF_MIX of the line between their chromaticities; nearer the paper than MOSTLY_PAPER along
# it, the pixel is paper, except where v2 is sure of the piece (V2_SURE: gold mirroring the
# paper). Paper seen through d039's chain measures 0.02 to 0.1 off the line, 0.05 to 0.3
# along.
OFF_MIX, MOSTLY_PAPER, V2_SURE = 0.15, 0.35, 0.9
# The paper in the piece's shade: darker than SHADE x its median luminance and up to
# SHADE_ALONG along that line (d039's and d031's shade between a chain's strands: 0.17 to
# 0.4 x, 0.45 to 0.55 along; a ruby there: 0.6 x or brighter).
SHADE, SHADE_ALONG = 0.5, 0.7
# (d031's shade: green share 0.03 on paper of 0.06; d039's 0.09 to 0.12 on 0.0, its rubies
# 0.17; gold 0.35 or more)
WEAK_MARGIN = 0.12
# px from the plain paper over which its shade reaches (d031's shade bands are 3 to 5 px
# wide; at 10 the shade between two strands of d031's and d039's chains goes too, at 5 it
# stayed)
SHADE_REACH = 10
# At least this share of v2's sure piece (matte over SURE_PIECE) must be unlike the paper:
# a ruby brooch on red paper is not this path's to judge.
SURE_PIECE, SEPARATES = 0.9, 0.5
# A part of the piece-coloured mask must hold some of v2's core (over PART_CORE) to be kept:
# what v2 calls backdrop and is unlike the paper is a prop, a hand or a reflection of one.
PART_CORE = 0.5


@dataclass(frozen=True)
class ColouredBackdrop:
    """The paper's measured colour: chromaticity: float32 (3,) median rgb / sum;
    mean: float32 (2,) and inverse covariance float32 (2, 2) of its (r, g) chromaticity;
    lum_median: its median luminance (linear); border_spread: the 90th percentile distance
    from its median colour over the frame's open border, or over the band around the piece
    when the paper does not fill the frame (the uniformity test's input); surround: bool
    (h, w), that band (`SURROUND`), or None when the border was used."""

    chromaticity: np.ndarray
    mean: np.ndarray
    inverse_cov: np.ndarray
    lum_median: float
    border_spread: float
    surround: np.ndarray | None = None

    @property
    def sampled(self) -> str:
        """Where the paper was judged and sampled: "border" or "surround"."""
        return "border" if self.surround is None else "surround"

    def facts(self) -> dict:
        return {
            "chromaticity": [round(float(c), 3) for c in self.chromaticity],
            "border_spread": round(self.border_spread, 4),
            "sampled": self.sampled,
        }


def measure(rgb: np.ndarray, v2_matte: np.ndarray) -> ColouredBackdrop | None:
    """The coloured backdrop of a photo, or None when its backdrop is not one strong colour.

    rgb: float32 (h, w, 3) linear 0..1; v2_matte: float32 (h, w) 0..1, JewelNet v2's matte.
    The open border (the outermost 2 % where v2 sees no piece) must cover half the border,
    be lit (LIT_MEDIAN), coloured (COLOURED) and of one colour (UNIFORM_HIGH); the paper is
    then sampled on every pixel SAMPLE_GAP px outside v2's filled outline. When the border
    fails, the band around v2's piece (`SURROUND`; around its parts that stay inside the
    frame, when there are any) is judged by the same tests, and the paper sampled there: a
    sheet of tissue on a table (tried only when the border is lit and coloured at its
    median: most of it is the paper). Either way it must tell most of v2's sure piece from
    the paper (SEPARATES).
    """
    border = border_mask(v2_matte.shape)
    open_border = border & (v2_matte <= OPEN_MATTE)
    if open_border.sum() < 0.5 * border.sum():
        return None
    lum = np.maximum(rgb, 0.0) @ LUMA
    chroma = chromaticity(rgb)
    centre = _lit_colour(chroma, lum, open_border)
    if centre is None:  # (most photos: a white or grey sweep, velvet; decided in a few ms)
        return None
    spread = _spread(chroma, open_border, centre)
    outline = ndimage.binary_fill_holes(v2_matte > OPEN_MATTE)
    paper = ~ndimage.binary_dilation(outline, iterations=SAMPLE_GAP)
    if paper.sum() < 0.25 * paper.size:
        return None
    surround = None
    if spread > UNIFORM_HIGH:
        # Most of the border is of one strong colour, not all of it: a sheet of paper on a
        # table. (Around the parts of v2's piece inside the frame: what v2 takes for piece
        # at the frame's edge is as likely the table as the piece.)
        labels, _ = ndimage.label(outline)
        inside = outline & ~np.isin(labels, np.unique(labels[border & outline]))
        seed = inside if inside.any() else outline
        reach = max(1, round(SURROUND * max(v2_matte.shape)))
        paper &= ndimage.binary_dilation(seed, iterations=SAMPLE_GAP + reach)
        if paper.sum() < 0.5 * border.sum():  # (also when v2 sees no piece at all)
            return None
        surround = paper
        centre = _lit_colour(chroma, lum, paper)
        if centre is None:
            return None
        spread = _spread(chroma, paper, centre)
        if spread > UNIFORM_HIGH:
            return None
    # (the spread of the paper alone: a hand or a prop outside v2's outline is no paper)
    samples = chroma[paper]
    middle = np.median(samples, axis=0)
    samples = samples[np.abs(samples - middle).max(axis=-1) <= UNIFORM_HIGH]
    if len(samples) < 0.1 * (paper.size if surround is None else paper.sum()):
        return None
    rg = samples[:, :2].astype(np.float64)
    cov = np.cov(rg.T) + np.eye(2) * CHROMA_NOISE**2
    backdrop = ColouredBackdrop(
        chromaticity=middle.astype(np.float32),
        mean=rg.mean(axis=0).astype(np.float32),
        inverse_cov=np.linalg.inv(cov).astype(np.float32),
        lum_median=float(np.median(lum[paper])),
        border_spread=spread,
        surround=surround,
    )
    sure = v2_matte > SURE_PIECE
    if not sure.any() or float(_unlike(chroma, lum, backdrop)[sure].mean()) < SEPARATES:
        return None
    return backdrop


def _lit_colour(chroma: np.ndarray, lum: np.ndarray, where: np.ndarray) -> np.ndarray | None:
    """The median chromaticity (3,) of the pixels `where` (bool (h, w)) when they are lit
    (LIT_MEDIAN) and of a strong colour (COLOURED), else None. chroma: (h, w, 3)
    chromaticity; lum: (h, w) linear luminance."""
    if float(np.median(lum[where])) < LIT_MEDIAN:
        return None
    centre = np.median(chroma[where], axis=0)
    return centre if float(np.ptp(centre)) >= COLOURED else None


def _spread(chroma: np.ndarray, where: np.ndarray, centre: np.ndarray) -> float:
    """How far the pixels `where` stray from the colour `centre`: the 90th percentile of the
    largest channel difference of their chromaticity (one colour: UNIFORM_HIGH or less)."""
    return float(np.quantile(np.abs(chroma[where] - centre).max(axis=-1), 0.9))


def distance(rgb: np.ndarray, backdrop: ColouredBackdrop) -> np.ndarray:
    """Mahalanobis distance of each pixel's chromaticity from the paper's: float32 (h, w),
    >= 0 (the paper itself mostly under 3). rgb: float32 (h, w, 3) linear."""
    return _mahalanobis(chromaticity(rgb)[..., :2], backdrop)


def _mahalanobis(rg: np.ndarray, backdrop: ColouredBackdrop) -> np.ndarray:
    offset = rg - backdrop.mean
    squared = np.einsum("...i,ij,...j->...", offset, backdrop.inverse_cov, offset)
    return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)


def unlike(rgb: np.ndarray, backdrop: ColouredBackdrop) -> np.ndarray:
    """bool (h, w): pixels clearly not the paper (UNLIKE, TINT_MIN, DARK_FACTOR).
    rgb: float32 (h, w, 3) linear 0..1."""
    return _unlike(chromaticity(rgb), np.maximum(rgb, 0.0) @ LUMA, backdrop)


def _unlike(chroma: np.ndarray, lum: np.ndarray, backdrop: ColouredBackdrop) -> np.ndarray:
    """`unlike` from the photo's chromaticity (h, w, 3) and luminance (h, w)."""
    tint = np.abs(chroma - backdrop.chromaticity).max(axis=-1)
    return (
        (_mahalanobis(chroma[..., :2], backdrop) > UNLIKE)
        & (tint > TINT_MIN)
        & (lum > DARK_FACTOR * backdrop.lum_median)
    )


def cutout_matte(rgb: np.ndarray, v2_matte: np.ndarray, backdrop: ColouredBackdrop) -> np.ndarray:
    """The piece's matte on a coloured backdrop: float32 (h, w) 0 or 1.

    rgb: float32 (h, w, 3) linear 0..1; v2_matte: float32 (h, w) 0..1 (JewelNet v2's);
    backdrop: `measure`'s result.

    - The piece is what is unlike the paper (`unlike`), in parts that hold some of v2's core
      (PART_CORE): v2 gives the where, the paper's colour the exact outline (v2 reads gold
      filigree on magenta paper as holes).
    - Unlike pixels that are the paper changed by the piece (`_paper_like`) are paper when
      they meet the open paper (its parts of HOLE_LARGE or more): lit paper where it
      touches it, the paper's shade within SHADE_REACH px of it.
    - Enclosed regions are paper when large, lit-paper coloured and bright, or a long thin
      strip of the paper's colour (STRIP: the paper between two strands), and over TINY px;
      all others are piece (a stone can be of the paper's colour, only darker; the dark
      inside of openwork stays dark rather than being cut into).
    - No shadow is kept: on coloured paper the piece's shadow is darker paper.
    - On a sheet that does not fill the frame (backdrop.surround set), what lies
      beyond the sheet goes with it (`_beyond_paper`).

    The outline is binary at the working size; the pipeline's guided upsampling gives it
    its soft edge at full resolution, following the photo.
    """
    chroma = chromaticity(rgb)
    lum = np.maximum(rgb, 0.0) @ LUMA
    unlike_paper = _unlike(chroma, lum, backdrop)
    candidate = unlike_paper.copy()  # (trimmed below; the sheet test wants it whole)
    core = candidate & (v2_matte >= PART_CORE)
    if not core.any():
        return np.zeros(v2_matte.shape, np.float32)
    mix = (backdrop.chromaticity, np.median(chroma[core], axis=0))
    lit, shade = _paper_like(chroma.reshape(-1, 3), lum.ravel(), mix, backdrop.lum_median)
    unsure = candidate & (v2_matte < V2_SURE)
    lit, shade = lit.reshape(lum.shape) & unsure, shade.reshape(lum.shape) & unsure
    # Only from the plain paper: lit paper where it meets it, the paper's shade within
    # SHADE_REACH px of it (a ruby inside its gold setting can be as dark and as red as a
    # magenta paper's shade).
    plain = large_parts(~candidate & (lum >= DARK_FACTOR * backdrop.lum_median), HOLE_LARGE)
    paper = np.zeros_like(candidate)
    parts, count = ndimage.label(lit)
    if count:
        meets = np.zeros(count + 1, bool)
        meets[np.unique(parts[ndimage.binary_dilation(plain) & lit])] = True
        meets[0] = False
        paper |= meets[parts]
    if shade.any():
        paper |= shade & ndimage.binary_dilation(plain, iterations=SHADE_REACH, mask=plain | shade)
    candidate &= ~paper
    labels, count = ndimage.label(candidate)
    keep = np.zeros(count + 1, bool)
    keep[np.unique(labels[candidate & (v2_matte >= PART_CORE)])] = True
    keep[0] = False
    piece = keep[labels]
    holes, count = ndimage.label(ndimage.binary_fill_holes(piece) & ~piece)
    if count:
        index = np.arange(1, count + 1)
        median_lum = region_median(lum, holes, count)
        colours = np.stack(
            [region_median(chroma[..., c], holes, count) for c in range(3)], -1
        )
        areas = np.bincount(holes.ravel(), minlength=count + 1)[1:]
        found = np.asarray(ndimage.mean(paper, holes, index)) >= 0.5
        lit_paper = _paper_like(colours, median_lum, mix, backdrop.lum_median)[0]
        bright = median_lum >= SHADE * backdrop.lum_median
        inside = holes > 0
        radius = np.asarray(ndimage.maximum(ndimage.distance_transform_edt(inside), holes, index))
        # (most of its pixels within UNLIKE of the paper's colour: its median is)
        near = _mahalanobis(chroma[inside][:, :2], backdrop) < UNLIKE
        papers_colour = np.bincount(holes[inside], weights=near, minlength=count + 1)[1:] > (
            0.5 * areas)
        strip = papers_colour & (areas >= STRIP * radius**2)
        seen_through = (
            found | (areas >= HOLE_LARGE * lum.size) | (lit_paper & bright) | strip
        ) & (areas > TINY)
        piece |= np.concatenate([[False], ~seen_through])[holes]
    if backdrop.surround is not None:
        piece &= ~_beyond_paper(piece, ~unlike_paper, v2_matte)
    return piece.astype(np.float32)


def _beyond_paper(piece: np.ndarray, paper: np.ndarray, v2_matte: np.ndarray) -> np.ndarray:
    """The parts of `piece` that lie beyond a sheet of paper that does not fill the frame:
    bool (h, w).

    piece, paper: bool (h, w), the cut-out and the pixels of the paper's colour; v2_matte:
    float32 (h, w) 0..1. The piece lies on the sheet, inside its filled outline; a part that
    runs off the frame's edge with most of its pixels outside that outline is the table or
    the newspaper under the sheet (unlike the paper, and v2 may take it for piece), unless v2
    is sure of it (median over V2_SURE: a chain that runs off the frame across the paper).
    """
    labels, count = ndimage.label(piece)
    if count == 0:
        return np.zeros_like(piece)
    index = np.arange(1, count + 1)
    on_sheet = np.asarray(ndimage.mean(ndimage.binary_fill_holes(paper), labels, index))
    sure = region_median(v2_matte, labels, count) >= V2_SURE
    at_edge = np.zeros(count + 1, bool)
    at_edge[np.unique(labels[border_mask(piece.shape) & piece])] = True
    beyond = (on_sheet < 0.5) & ~sure & at_edge[1:]
    return np.concatenate([[False], beyond])[labels]


def _paper_like(colours: np.ndarray, lum: np.ndarray, mix: tuple, paper_lum: float):
    """(lit, shade), bool (n,) each: chromaticities `colours` (n, 3) of luminance `lum`
    (n,) that may be the paper's, changed by the piece.

    lit: on the line from the paper's colour to the piece's (`mix`), nearer the paper
    (MOSTLY_PAPER): paper lit by the piece, or an edge pixel mostly paper. shade: darker
    than SHADE x the paper's median luminance `paper_lum`, and either up to SHADE_ALONG
    along that line or lacking what the paper lacks (its weakest channel's share within
    WEAK_MARGIN of the paper's: a camera turns magenta paper's shade red, off the line, but
    it stays without green, which gold has plenty of).
    """
    paper = mix[0]
    along, off = _along_mix(colours, *mix)
    on_line = off < OFF_MIX
    lit = on_line & (along < MOSTLY_PAPER)
    weakest = int(np.argmin(paper))
    keeps_weak = colours[:, weakest] < paper[weakest] + WEAK_MARGIN
    shade = (lum < SHADE * paper_lum) & ((on_line & (along < SHADE_ALONG)) | keeps_weak)
    return lit, shade & ~lit


def _along_mix(colours: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Where chromaticities `colours` (n, 3) lie against the line from `a` to `b` (3,): the
    position along it (0 at a, 1 at b) and the Euclidean distance off it, float (n,) each. A
    mix of two colours lies on the line between them, nearer the one it holds more of."""
    direction = b - a
    length = float(direction @ direction)
    offset = colours - a
    if length < 1e-9:
        return np.zeros(len(colours)), np.linalg.norm(offset, axis=-1)
    along = (offset @ direction) / length
    return along, np.linalg.norm(offset - along[:, None] * direction, axis=-1)


__all__ = ["ColouredBackdrop", "cutout_matte", "distance", "measure", "unlike"]
