"""Cut-outs on a backdrop of one strong colour (models/net/coloured_backdrop.py and the
hybrid's coloured path).

The scene is constructed: magenta tissue paper with folds (its brightness varies 0.6x to
1.4x, which no studio-sweep model fits), a gold piece that the stand-in for JewelNet v2 reads
as full of holes (as v2 reads gold filigree on magenta paper), a red ruby at the rim that v2
misses, a purple stone of the paper's very colour only darker, a large opening and a small one
through which the paper shows, the piece's shade on the paper beside it (darker and redder,
as a phone renders it, still without green), a grey-blue prop that v2 calls backdrop, and a
tiny pale highlight of the paper's lit colour.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models.api import ImageData, RetouchOptions
from models.colour import srgb_encode

H, W = 220, 260
MAGENTA = np.array([0.30, 0.02, 0.32], np.float32)


def _box(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _scene(paper_colour=MAGENTA, piece_colour=(0.5, 0.3, 0.06)):
    rng = np.random.default_rng(5)
    folds = ndimage.gaussian_filter(rng.standard_normal((H, W)), 10)
    folds = 1.0 + 0.4 * folds / np.abs(folds).max()  # 0.6x to 1.4x: the crumpled paper
    paper = paper_colour[None, None, :] * folds[..., None]
    rgb = paper * (1 + 0.03 * rng.standard_normal((H, W, 3)))  # sensor noise, per channel
    parts = {
        "piece": _box(60, 160, 70, 170),
        "ruby": _box(50, 72, 128, 152),  # on the rim, half outside the metal
        "purple": _box(80, 92, 90, 100),  # the paper's colour at a third of its light
        "opening": _box(115, 145, 110, 150),  # large: the paper seen through the piece
        "window": _box(80, 88, 140, 148),  # small, but as bright as the open paper
        "shade": _box(70, 150, 170, 174),  # the piece's shade, on the paper to its right
        "prop": _box(180, 200, 20, 80),
        "glint": _box(130, 133, 90, 93),  # a pale highlight of lit-paper colour, 9 px
    }
    gold = np.array(piece_colour, np.float32) * (1 + 0.2 * rng.standard_normal((H, W, 1)))
    rgb = np.where(parts["piece"][..., None], gold, rgb)
    rgb[parts["ruby"]] = (0.25, 0.01, 0.03)
    rgb[parts["purple"]] = MAGENTA * 0.35
    for name in ("opening", "window"):
        rgb[parts[name]] = paper[parts[name]]
    rgb[parts["shade"]] = paper[parts["shade"]] * 0.3 * np.array([1.3, 1.0, 0.6], np.float32)
    rgb[parts["prop"]] = (0.2, 0.2, 0.25)
    rgb[parts["glint"]] = MAGENTA * 1.1
    rgb = np.clip(rgb, 0, 1).astype(np.float32)

    v2 = np.zeros((H, W), np.float32)
    v2[parts["piece"]] = 0.95
    holes = np.zeros((H, W), bool)
    holes[64:156:8, 74:166] = True  # filigree read as holes: rows of them
    v2[holes & parts["piece"]] = 0.1
    v2[parts["ruby"]] = 0.0  # missed
    v2[parts["purple"]] = 0.2
    v2[parts["opening"]] = 0.05
    v2[parts["window"]] = 0.3
    v2[parts["shade"]] = 0.3  # v2's skirt over the shade
    return rgb, v2, parts


def test_magenta_paper_is_found_and_a_grey_sweep_or_a_mixed_border_is_not():
    from models.net.coloured_backdrop import measure

    rgb, v2, _ = _scene()
    paper = measure(rgb, v2)
    assert paper is not None
    assert paper.chromaticity[1] < 0.1  # magenta: without green
    grey = np.full((H, W, 3), 0.2, np.float32)
    assert measure(grey, np.zeros((H, W), np.float32)) is None
    mixed = rgb.copy()
    mixed[:, :90] = (0.3, 0.2, 0.1)  # a wooden table along one side: not one colour
    assert measure(mixed, v2) is None
    navy = rgb * np.array([0.01, 0.3, 0.08], np.float32) / 8  # navy velvet: the dark path's
    assert measure(navy, v2) is None
    tan = _scene(paper_colour=np.array([0.30, 0.22, 0.14], np.float32))[0]
    assert measure(tan, v2) is None  # wood, tan leather, skin: too close to gold, a scene


def test_a_piece_of_the_papers_colour_is_not_this_paths_to_judge():
    """A piece the paper's colour cannot tell apart (here: of the paper's own colour) makes
    the path step aside; the ordinary analysis and its confidence decide."""
    from models.net.coloured_backdrop import measure

    rgb, v2, parts = _scene()
    rgb[parts["piece"]] = MAGENTA * 1.2
    assert measure(rgb, v2) is None


def test_the_cutout_follows_the_papers_colour_not_the_networks_holes():
    from models.net.coloured_backdrop import cutout_matte, measure

    rgb, v2, parts = _scene()
    matte = cutout_matte(rgb, v2, measure(rgb, v2))
    inner = {k: ndimage.binary_erosion(m, iterations=2) for k, m in parts.items()}
    gold = inner["piece"] & ~ndimage.binary_dilation(
        parts["purple"] | parts["opening"] | parts["window"] | parts["glint"], iterations=2
    )
    assert matte[gold].min() == 1.0  # v2's holes over the gold are filled by its colour
    assert matte[inner["ruby"]].min() == 1.0  # v2 missed it: unlike the paper
    assert matte[inner["purple"]].min() == 1.0  # the paper's colour, but dark and enclosed
    assert matte[parts["glint"]].min() == 1.0  # lit-paper coloured, but too small for paper
    assert matte[inner["opening"]].max() == 0.0  # large: the paper seen through
    assert matte[inner["window"]].max() == 0.0  # small, but lit paper
    assert matte[parts["shade"]].max() == 0.0  # the paper in the piece's shade
    assert matte[parts["prop"]].max() == 0.0  # unlike the paper, but no piece to v2
    # v2's own matte would have holed the gold and kept nothing of the ruby.
    assert v2[gold].min() < 0.5 and v2[inner["ruby"]].max() == 0.0


def test_the_hybrid_takes_the_coloured_path_and_the_confidence_allows_the_cutout(keyed_hybrid):
    from models.analysis.confidence import assess

    rgb, v2, parts = _scene()
    analysis = keyed_hybrid(rgb, v2).analyse(rgb)
    assert analysis.backdrop is None and "coloured_backdrop" in analysis.extras
    assert "dark_backdrop" not in analysis.extras
    assert analysis.shadow.max() == 0.0
    assert analysis.matte[ndimage.binary_erosion(parts["ruby"], iterations=2)].min() == 1
    assert assess(analysis, rgb).cutout_ok
    # Without the coloured path the same photo is no clean sweep: the background is kept.
    plain = keyed_hybrid(rgb, v2, coloured_backdrops=False).analyse(rgb)
    assert plain.backdrop is not None and not assess(plain, rgb).cutout_ok


def test_a_hand_holding_the_piece_off_the_frame_keeps_the_background(keyed_hybrid):
    """Fingers (unlike the paper, and v2 takes them for piece) reaching the frame's edge: on
    a coloured backdrop the matte follows colour exactly, so a piece that runs off the frame
    is a hand or a prop, and no cut-out is promised."""
    from models.analysis.confidence import assess

    rgb, v2, parts = _scene()
    hand = _box(90, 135, 0, 72)
    rgb[hand] = (0.45, 0.25, 0.15)
    v2[hand] = 0.8
    analysis = keyed_hybrid(rgb, v2).analyse(rgb)
    assert "coloured_backdrop" in analysis.extras
    assert analysis.matte[hand].mean() > 0.9  # the hand is in the matte ...
    assert not assess(analysis, rgb).cutout_ok  # ... so the cut-out is not done


@pytest.fixture(scope="module")
def retouched(keyed_hybrid):
    from models.pipeline import Retoucher

    rgb, v2, parts = _scene()
    codes = np.round(srgb_encode(rgb) * 255).astype(np.uint8)
    image = ImageData(codes)
    options = RetouchOptions(background="white", finish="natural")
    result = Retoucher(analyzer=keyed_hybrid(rgb, v2)).retouch(image, options)
    return result, parts, image, codes


def test_the_retouch_cuts_the_piece_out_onto_clean_white(retouched):
    result, parts, image, codes = retouched
    codes_out = [w["code"] for w in result.warnings]
    assert "background_kept" not in codes_out and "unsure_cutout" not in codes_out
    out = result.image.pixels.astype(int)
    paper = ~ndimage.binary_dilation(parts["piece"] | parts["ruby"], iterations=6)
    assert float((out[paper] == 255).all(axis=-1).mean()) > 0.99
    assert (out[ndimage.binary_erosion(parts["opening"], iterations=3)] >= 250).all()
    ruby = out[ndimage.binary_erosion(parts["ruby"], iterations=3)]
    assert (ruby[:, 0] > ruby[:, 1] + 60).all()
    purple = out[ndimage.binary_erosion(parts["purple"], iterations=2)]
    assert (purple.max(axis=-1) < 200).all()  # the dark stone kept, not whitened
    assert np.array_equal(image.pixels, codes)  # the original is untouched


def _soft_edged_scene():
    """The scene with an anti-aliased left edge: gold and magenta mixed over 2 to 3 px."""
    rgb, v2, parts = _scene()
    coverage = ndimage.gaussian_filter(parts["piece"].astype(np.float32), 1.5)
    band = np.zeros((H, W), bool)
    band[80:140, 62:78] = True  # the piece's left edge (no stone there)
    edge = band & (coverage > 0.02) & (coverage < 0.98)
    gold = rgb[90, 74].copy()
    paper = rgb[edge]
    rgb[edge] = coverage[edge][:, None] * gold + (1 - coverage[edge][:, None]) * paper
    return rgb, v2, edge, coverage


def _fringe(rgb, v2, edge, make):
    """The retouched edge's magenta: the mean excess of blue over green (codes) over the
    edge pixels that are not plain white (gold over white has less blue than green)."""
    from models.pipeline import Retoucher

    codes = np.round(srgb_encode(rgb) * 255).astype(np.uint8)
    result = Retoucher(analyzer=make(rgb, v2)).retouch(
        ImageData(codes), RetouchOptions(background="white", finish="natural")
    )
    out = result.image.pixels.astype(int)[edge]
    shown = out.min(axis=-1) < 250
    assert shown.sum() >= 60
    return float(np.maximum(out[shown, 2] - out[shown, 1], 0).mean())


def test_the_pieces_soft_edge_leaves_less_fringe_of_the_papers_colour(monkeypatch, keyed_hybrid):
    """An anti-aliased edge mixes gold and magenta; composited onto white as it is, it keeps
    a lilac rim. The edge's colour is unmixed from the paper's (models/ops/unmix.py)."""
    import models.pipeline as pipeline

    rgb, v2, edge, coverage = _soft_edged_scene()
    codes = np.round(srgb_encode(rgb) * 255).astype(int)[edge & (coverage < 0.5)]
    assert (codes[:, 2] - codes[:, 1] > 15).all()  # the photo's edge: magenta in it
    unmixed = _fringe(rgb, v2, edge, keyed_hybrid)
    monkeypatch.setattr(pipeline, "unmix", lambda rgb, alpha, backdrop: rgb)
    kept = _fringe(rgb, v2, edge, keyed_hybrid)
    assert kept > 2.0  # without the unmixing the rim is lilac ...
    assert unmixed < 0.5 * kept  # ... with it, far less so


def _sheet_on_a_table():
    """The scene's tissue as a sheet laid on a newspaper: the printed paper (grey, with lines
    of dark type) shows along the frame's left edge and part of its bottom, so the frame's
    border is no one colour. The stand-in for v2 takes a patch of the newspaper at the edge
    for piece."""
    rgb, v2, parts = _scene()
    table = np.zeros((H, W), bool)
    table[:, :30] = True
    table[196:, :120] = True  # (a third of the frame's border: most of it is the tissue)
    news = np.full((H, W, 3), (0.36, 0.35, 0.31), np.float32)
    news[::5] *= 0.15  # lines of type
    rgb[table] = news[table]
    v2[table] = 0.0
    patch = _box(100, 130, 0, 26)
    v2[patch] = 0.6  # v2 unsure over the newspaper: part of it taken for piece
    return rgb, v2, parts, table, patch


def test_a_sheet_of_paper_that_does_not_fill_the_frame_is_judged_around_the_piece():
    from models.net.coloured_backdrop import cutout_matte, measure

    rgb, v2, parts, table, patch = _sheet_on_a_table()
    paper = measure(rgb, v2)
    assert paper is not None and paper.sampled == "surround"
    assert paper.facts()["sampled"] == "surround"
    assert paper.chromaticity[1] < 0.1  # the tissue's magenta, not the newspaper's grey
    matte = cutout_matte(rgb, v2, paper)
    inner = {k: ndimage.binary_erosion(m, iterations=2) for k, m in parts.items()}
    assert matte[inner["ruby"]].min() == 1.0 and matte[inner["purple"]].min() == 1.0
    assert matte[inner["opening"]].max() == 0.0
    assert matte[table].max() == 0.0  # the newspaper beyond the sheet goes, v2's patch too
    # A paper that fills the frame is still judged on the frame's border.
    assert measure(*_scene()[:2]).sampled == "border"


def test_a_table_that_reaches_the_piece_is_still_no_coloured_backdrop():
    """The band around the piece must itself be one colour: a piece lying half on the
    table, half on the paper, is a scene."""
    from models.net.coloured_backdrop import measure

    rgb, v2, parts, table, patch = _sheet_on_a_table()
    wood = np.zeros((H, W), bool)
    wood[:, :75] = True  # the table reaches under the piece's left side
    rgb[wood & ~parts["piece"]] = (0.3, 0.2, 0.1)
    assert measure(rgb, v2) is None


def test_a_piece_that_v2_is_sure_of_is_kept_where_it_runs_off_the_sheet():
    """A chain that leaves the frame across the paper is no table: where v2 is sure of a part
    (median over V2_SURE), it stays, whether or not the paper encloses it."""
    from models.net.coloured_backdrop import cutout_matte, measure

    rgb, v2, parts, table, patch = _sheet_on_a_table()
    chain = _box(20, 26, 100, W)  # gold, from the piece's top-right towards the right edge
    chain |= _box(20, 62, 140, 146)
    rgb[chain] = (0.5, 0.3, 0.06)
    v2[chain] = 0.97
    matte = cutout_matte(rgb, v2, measure(rgb, v2))
    assert matte[ndimage.binary_erosion(chain, iterations=1)].min() == 1.0
    assert matte[table].max() == 0.0


def test_the_sheet_on_a_table_is_cut_out_with_the_confidence_to_do_it(keyed_hybrid):
    from models.analysis.confidence import assess

    rgb, v2, parts, table, patch = _sheet_on_a_table()
    analysis = keyed_hybrid(rgb, v2).analyse(rgb)
    found = analysis.extras["coloured_backdrop"]
    assert found["sampled"] == "surround"
    assert found["v2_decisive"] == 1.0  # judged over the band around the piece
    assert analysis.matte[table].max() == 0.0
    assert assess(analysis, rgb).cutout_ok


def test_the_paper_between_two_strands_goes_however_dark_and_a_dark_stone_stays(monkeypatch):
    """Two strands of gold joined at their ends enclose a long strip of paper in their shade
    (the paper's colour at 40 % of its light, which v2 fills in): a strip that thin and long
    is paper, while the purple stone of the paper's colour, as dark but compact, is piece."""
    import models.net.coloured_backdrop as coloured

    rgb, v2, parts = _scene()
    strands = _box(20, 40, 92, 148)
    between = _box(28, 32, 100, 140)  # 160 px: under HOLE_LARGE (171 px here)
    rgb[strands & ~between] = (0.5, 0.3, 0.06)
    rgb[between] = MAGENTA * 0.4
    v2[strands] = 0.95
    v2[between] = 0.7
    matte = coloured.cutout_matte(rgb, v2, coloured.measure(rgb, v2))
    assert matte[ndimage.binary_erosion(strands & ~between)].min() == 1.0
    assert matte[between].max() == 0.0
    assert matte[ndimage.binary_erosion(parts["purple"], iterations=2)].min() == 1.0
    monkeypatch.setattr(coloured, "STRIP", np.inf)  # without the strip rule it stays
    kept = coloured.cutout_matte(rgb, v2, coloured.measure(rgb, v2))
    assert kept[between].min() == 1.0


def test_sheets_of_every_size_and_place_give_a_clean_answer_or_none():
    """Bad input never crashes the coloured path: tissue frames from 4 px up, a grey strip
    along any side, a piece anywhere (touching the frame or filling it), v2 unsure over the
    strip or not. Each gives None or a binary matte of the frame's shape, with no warning."""
    import warnings

    from models.net.coloured_backdrop import cutout_matte, measure

    rng = np.random.default_rng(2)
    sampled = set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(80):
            h, w = (int(v) for v in rng.integers(4, 90, 2))
            rgb = MAGENTA * rng.normal(1, 0.03, (h, w, 1)).astype(np.float32)
            k = max(1, int(rng.integers(1, max(2, min(h, w) // 3))))
            strip = [np.s_[:k], np.s_[-k:], np.s_[:, :k], np.s_[:, -k:], np.s_[:0]]
            rgb[strip[int(rng.integers(0, 5))]] = 0.3
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            y1 = min(h, y0 + int(rng.integers(1, h + 1)))
            x1 = min(w, x0 + int(rng.integers(1, w + 1)))
            rgb[y0:y1, x0:x1] = (0.5, 0.3, 0.06)
            v2 = np.zeros((h, w), np.float32)
            v2[y0:y1, x0:x1] = 0.95
            if rng.random() < 0.3:
                v2[:k] = np.maximum(v2[:k], 0.6)
            found = measure(rgb.astype(np.float32), v2)
            if found is None:
                continue
            sampled.add(found.sampled)
            matte = cutout_matte(rgb.astype(np.float32), v2, found)
            assert matte.shape == (h, w) and matte.dtype == np.float32
            assert set(np.unique(matte)) <= {0.0, 1.0}
    assert sampled == {"border", "surround"}  # both ways were exercised
