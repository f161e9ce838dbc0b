"""The catalog finish, the shadow styles and the mirror reflection (models/ops/finish.py,
models/ops/shadows.py), on constructed photos."""

from __future__ import annotations

import numpy as np
import pytest

from models import ImageData, RetouchOptions
from models.ops.lab import linear_srgb_to_lab


def _lab(scenes, codes):
    return linear_srgb_to_lab(scenes.from_codes(codes).astype(np.float32))


def _metal_stats(scenes, codes, mask):
    lab = _lab(scenes, codes[mask])
    hue = np.degrees(np.arctan2(lab[:, 2].mean(), lab[:, 1].mean()))
    return lab[:, 0].mean(), lab[:, 0].std(), hue


def _inner(mask, by=3):
    from scipy import ndimage

    return ndimage.binary_erosion(mask, iterations=by)


def test_catalog_finish_crisps_the_metal_without_changing_its_hue_or_clipping(
    retoucher, scenes
):
    scene = scenes.ring_scene()
    photo = ImageData(scene.codes())
    natural = retoucher.retouch(photo, RetouchOptions(finish="natural")).image.pixels
    catalog = retoucher.retouch(photo, RetouchOptions(finish="catalog")).image.pixels
    metal = _inner(scene.masks["metal"])
    l_nat, s_nat, h_nat = _metal_stats(scenes, natural, metal)
    l_cat, s_cat, h_cat = _metal_stats(scenes, catalog, metal)
    assert 1.1 < s_cat / s_nat < 1.7  # crisper: the spread of L* grows
    assert l_nat - 1 < l_cat < l_nat + 15  # brighter or as bright, never darker
    assert abs(h_cat - h_nat) < 3  # same metal hue
    clipped = (catalog[metal] == 255).all(axis=-1).mean()
    assert clipped <= (natural[metal] == 255).all(axis=-1).mean() + 0.002  # nothing new clips
    # The backdrop is not touched by the finish.
    assert (catalog[~scene.piece] == natural[~scene.piece]).mean() > 0.99


def test_catalog_finish_leaves_protected_gems_bit_identical(product, scenes):
    scene = scenes.gem_scene()
    photo = scene.codes()
    out = product.retouch(ImageData(photo), RetouchOptions(protect_gems=True)).image.pixels
    stone = _inner(scene.masks["gem"], 4)
    assert np.array_equal(out[stone], photo[stone])


@pytest.mark.parametrize("style", ["soft", "contact"])
def test_soft_and_contact_shadows_sit_under_the_piece_and_are_neutral(
    retoucher, ring_photo, style
):
    scene = ring_photo
    out = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(shadow=style))
    px = out.image.pixels.astype(int)
    rows = np.flatnonzero(scene.piece.any(axis=1))
    cols = np.flatnonzero(scene.piece.any(axis=0))
    ring_x = int(np.flatnonzero(scene.masks["ring"][rows[-1]]).mean())
    below = px[rows[-1] + 1 : rows[-1] + 4, ring_x - 10 : ring_x + 10]
    above = px[max(rows[0] - 30, 0) : rows[0] - 20, cols[0] : cols[-1]]
    assert below.mean() < 250  # a grey shadow just below
    assert (above == 255).all()  # nothing above
    assert np.abs(below[..., 0] - below[..., 2]).max() <= 2  # a shadow, not a colour
    none = retoucher.retouch(ImageData(scene.codes()), RetouchOptions(shadow="none"))
    assert (none.image.pixels[rows[-1] + 1 : rows[-1] + 4, ring_x - 10 : ring_x + 10] == 255).all()


def test_soft_shadow_reaches_further_than_contact_and_scales_with_the_piece(product, scenes):
    def reach(scene, style):
        out = product.retouch(ImageData(scene.codes()), RetouchOptions(shadow=style))
        px = out.image.pixels
        bottom = int(np.flatnonzero(scene.piece.any(axis=1))[-1])
        grey = (px[bottom + 1 :] < 253).any(axis=-1).any(axis=1)
        return int(np.flatnonzero(grey)[-1]) + 1 if grey.any() else 0

    small, large = scenes.ring_scene(300, 400), scenes.ring_scene(600, 800)
    assert reach(small, "soft") > reach(small, "contact")
    # Twice the piece, about twice the shadow: a catalog shot at different sizes looks alike.
    ratio = reach(large, "soft") / max(reach(small, "soft"), 1)
    assert 1.5 < ratio < 2.6


def test_reflection_mirrors_the_piece_below_it_and_fades(retoucher, ring_photo):
    scene = ring_photo
    photo = ImageData(scene.codes())
    plain = retoucher.retouch(photo, RetouchOptions()).image.pixels
    res = retoucher.retouch(photo, RetouchOptions(reflection=True), layers=True)
    px = res.image.pixels
    rows = np.flatnonzero(scene.masks["ring"].any(axis=1))
    bottom = int(rows[-1])
    ring_cols = np.flatnonzero(scene.masks["ring"][bottom - 1])
    near = px[bottom + 2 : bottom + 6, ring_cols].astype(int)
    far = px[bottom + 14 : bottom + 18, ring_cols].astype(int)
    assert near.mean() < 245  # the reflection is there, right under the ring
    assert far.mean() > near.mean() + 3  # and fades out further down
    assert near[..., 0].mean() > near[..., 2].mean() + 3  # it is the gold's colour, mirrored
    # Never over the piece, never above it.
    assert np.array_equal(px[: bottom + 1][scene.piece[: bottom + 1]],
                          plain[: bottom + 1][scene.piece[: bottom + 1]])
    assert np.array_equal(px[: rows[0]], plain[: rows[0]])
    layer = res.layers["reflection"].pixels
    ring_span = slice(int(ring_cols[0]) - 20, int(ring_cols[-1]) + 20)
    assert layer[: bottom + 1, ring_span, 3].max() == 0
    assert layer[bottom + 2 : bottom + 6, ring_cols, 3].min() > 0


def test_reflection_has_room_in_a_framed_canvas_and_on_transparency(product, ring_photo):
    photo = ImageData(ring_photo.codes())
    framed = product.retouch(photo, RetouchOptions(framing="square", reflection=True))
    px = framed.image.pixels
    piece_rows = np.flatnonzero((px < 200).any(axis=-1).any(axis=1))
    reflected = np.flatnonzero(((px < 253) & (px >= 200)).any(axis=-1).any(axis=1))
    assert reflected.max() > piece_rows.max() + 5  # the canvas kept room below the piece
    assert (px[-3:] == 255).all()  # and the reflection faded before its edge
    clear = product.retouch(photo, RetouchOptions(background="transparent", reflection=True))
    alpha = clear.image.pixels[..., 3]
    bottom = int(np.flatnonzero(ring_photo.piece.any(axis=1))[-1])
    band = alpha[bottom + 2 : bottom + 6]
    assert 0 < band.max() < 128  # a faint, partly transparent reflection
    assert alpha[:5].max() == 0  # the rest stays transparent


def test_shadow_is_its_own_layer(product, ring_photo):
    res = product.retouch(ImageData(ring_photo.codes()), RetouchOptions(shadow="soft"),
                          layers=True)
    bottom = int(np.flatnonzero(ring_photo.piece.any(axis=1))[-1])
    shadow = res.layers["shadow"].pixels
    assert shadow[bottom + 1 : bottom + 4, :, 3].max() > 0  # the shadow's opacity
    assert (shadow[..., :3] == 0).all()  # black at that opacity
    background = res.layers["background"].pixels
    assert (background[bottom + 1 : bottom + 4, :, :3] == 255).all()  # the backdrop alone


def _grain(values):
    """Sensor-scale detail: the standard deviation of a pixel minus its 3x3 neighbours' mean."""
    from scipy import ndimage

    return float(np.std(values - ndimage.uniform_filter(values, 3)))


def test_catalog_finish_smooths_grain_on_polished_metal_and_keeps_engraving(product, scenes):
    scene = scenes.fingerprint_scene()
    # The same bar with more sensor noise, as from a phone: grain on the flat metal.
    noisy = scenes.photograph(scene.clean, cast=(1.0, 1.0, 1.0), noise=0.006, seed=9,
                              piece=scene.piece)
    photo = ImageData(scenes.to_codes(noisy))
    runs = {f: product.retouch(photo, RetouchOptions(finish=f)) for f in ("natural", "catalog")}
    assert all(run.info["background"] == "white" for run in runs.values())  # a real cut-out
    out = {f: run.image.pixels for f, run in runs.items()}
    lum = {f: scenes.from_codes(px) @ np.array([0.2126, 0.7152, 0.0722]) for f, px in out.items()}
    flat = (slice(200, 240), slice(60, 160))  # plain polished metal, away from every detail
    assert _grain(lum["catalog"][flat]) < 0.7 * _grain(lum["natural"][flat])
    for region in ("engraving", "milgrain", "pave"):
        box = scene.masks[region]
        ys, xs = np.nonzero(box)
        sl = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        kept = _grain(lum["catalog"][sl]) / _grain(lum["natural"][sl])
        assert kept > 0.85, (region, kept)  # the real detail stays (contrast may even grow)


def test_catalog_finish_gives_stones_more_of_their_own_facet_contrast(retoucher, scenes):
    from scipy import ndimage

    scene = scenes.gem_scene()
    photo = ImageData(scene.codes())
    stone = ndimage.binary_erosion(scene.masks["gem"], iterations=3)
    luma = np.array([0.2126, 0.7152, 0.0722])
    lum = {}
    for finish in ("natural", "catalog"):
        px = retoucher.retouch(photo, RetouchOptions(finish=finish)).image.pixels
        lum[finish] = np.sqrt(scenes.from_codes(px) @ luma)
    detail = {f: v - ndimage.gaussian_filter(v, 1.5) for f, v in lum.items()}
    ratio = detail["catalog"][stone].std() / detail["natural"][stone].std()
    assert 1.05 < ratio < 1.6
    # The stone's own level and colour are kept: brilliance, not a new stone.
    assert abs(lum["catalog"][stone].mean() / lum["natural"][stone].mean() - 1) < 0.03


def test_clean_whites_takes_a_clear_stones_tint_and_nothing_else():
    from models.ops.gems import WHITE_KEEP, clean_whites

    luma = np.array([0.2126, 0.7152, 0.0722], np.float32)
    rgb = np.zeros((3, 4, 3), np.float32)
    rgb[0] = [0.66, 0.72, 0.80]  # a colourless stone mirroring a blue-grey sweep (sat 0.175)
    rgb[1] = [0.02, 0.05, 0.60]  # a sapphire's facet (sat 0.97)
    rgb[2] = [0.75, 0.70, 0.62]  # warm metal next to the stone (sat 0.17, but not gem)
    gem = np.array([[1, 1, 1, 0.5], [1, 1, 1, 1], [0, 0, 0, 0]], np.float32)
    out = clean_whites(rgb, gem)
    np.testing.assert_allclose(out @ luma, rgb @ luma, atol=1e-6)  # no brightening
    spread = lambda x: x.max(-1) - x.min(-1)  # noqa: E731
    tint_left = spread(out[0, 0]) / spread(rgb[0, 0])
    assert WHITE_KEEP < tint_left < 0.7  # most of the tint gone (smoothly, by saturation)
    assert spread(out[0, 3]) > spread(out[0, 0])  # half coverage: half the effect
    np.testing.assert_array_equal(out[1], rgb[1])  # a coloured stone is its colour
    np.testing.assert_array_equal(out[2], rgb[2])  # not a stone: untouched
    assert clean_whites(rgb, gem, keep=1.0) is rgb


def test_catalog_finish_cleans_a_clear_stones_tint_but_not_a_sapphire(product, scenes):
    from scipy import ndimage

    scene = scenes.gem_scene()
    stone = scene.masks["gem"]
    tinted = scene.clean.copy()
    # The same facets in a clear stone that mirrors a cool sweep.
    tinted[stone] = scene.clean[stone].mean(axis=-1, keepdims=True) * np.array(
        [0.95, 1.0, 1.12]) * 1.6
    photo = scenes.photograph(tinted, noise=0.003)
    inner = ndimage.binary_erosion(stone, iterations=3)

    def chroma(px):
        lab = linear_srgb_to_lab(scenes.from_codes(px[inner]))
        return float(np.median(np.hypot(lab[:, 1], lab[:, 2])))

    out = {f: product.retouch(ImageData(scenes.to_codes(photo)), RetouchOptions(finish=f))
           for f in ("natural", "catalog")}
    assert chroma(out["catalog"].image.pixels) < 0.6 * chroma(out["natural"].image.pixels)
    protected = product.retouch(ImageData(scenes.to_codes(photo)),
                                RetouchOptions(finish="catalog", protect_gems=True))
    assert chroma(protected.image.pixels) > 0.8 * chroma(out["natural"].image.pixels)
    # The blue stone keeps its colour under the catalog finish.
    blue = {f: product.retouch(ImageData(scene.codes()), RetouchOptions(finish=f)).image.pixels
            for f in ("natural", "catalog")}
    assert abs(chroma(blue["catalog"]) / chroma(blue["natural"]) - 1) < 0.05
