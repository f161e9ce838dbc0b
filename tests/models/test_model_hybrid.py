"""The hybrid analyzer (models/net/hybrid.py): which method each map comes from, and the
repairs it makes on a clean studio sweep. Small constructed maps, no renders, no network run."""

from __future__ import annotations

import numpy as np

from models.analysis import Analysis, Backdrop


class Constant:
    """An analyzer whose every map is `value` everywhere (no supports)."""

    def __init__(self, value):
        self.value = value

    def analyse(self, rgb):
        m = np.full(rgb.shape[:2], self.value, np.float32)
        return Analysis(m, m.copy(), m.copy(), m.copy(), m.copy(), "silver", extras={"k": 1},
                        props=np.zeros_like(m))


class MatteOnly:
    """An analyzer with a fixed matte (also its metal map unless one is given), an optional
    gem map and backdrop model, and no defects or shadow."""

    def __init__(self, matte, backdrop=None, gem=None, metal=None):
        self.matte, self.backdrop, self.gem, self.metal = matte, backdrop, gem, metal

    def analyse(self, rgb):
        zero = np.zeros_like(self.matte)
        gem = zero if self.gem is None else self.gem
        metal = self.matte.copy() if self.metal is None else self.metal
        return Analysis(self.matte, metal, gem, zero, zero.copy(), None, self.backdrop)


def _light_sweep(h, w, seed):
    """A light studio sweep (linear 0.8 everywhere) with faint sensor noise: (yy, xx, light,
    photo), the pixel grid, the backdrop's light (h, w, 3) and the photo of the bare sweep."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    light = np.full((h, w, 3), 0.8, np.float32)
    photo = light * rng.normal(1.0, 0.004, (h, w, 1)).astype(np.float32)
    return yy, xx, light, photo


def test_hybrid_takes_each_map_from_the_method_that_won_it():
    from models.net.hybrid import HybridAnalyzer

    # (both call the whole frame piece, so neither repair nor the border check applies)
    merged = HybridAnalyzer(Constant(0.6), Constant(0.75), extend=False).analyse(
        np.zeros((4, 5, 3), np.float32)
    )
    for name in ("matte", "metal", "gem", "shadow"):  # (no backdrop model: the network's stand)
        assert np.all(getattr(merged, name) == np.float32(0.75)), name
    assert np.all(merged.defects == np.float32(0.6))  # image analysis keeps the defect map
    assert merged.metal_kind == "silver" and merged.extras["k"] == 1
    assert merged.extras["analyzer"] == "hybrid"


def test_hybrid_fills_a_blown_highlight_hole_but_keeps_a_real_ring_hole():
    from models.net.hybrid import HybridAnalyzer

    h = w = 40
    yy, xx = np.mgrid[0:h, 0:w]
    net_matte = ((np.abs(yy - 20) < 15) & (np.abs(xx - 20) < 15)).astype(np.float32)
    net_matte[8:12, 8:12] = 0.0  # a white highlight the network left out
    net_matte[18:24, 18:24] = 0.0  # a real see-through hole
    classical_matte = net_matte.copy()
    classical_matte[8:12, 8:12] = 1.0  # image analysis calls the highlight piece

    class Fixed:
        def __init__(self, matte):
            self.matte = matte

        def analyse(self, rgb):
            z = np.zeros((h, w), np.float32)
            return Analysis(self.matte, self.matte.copy(), z, z.copy(), z.copy(), None)

    merged = HybridAnalyzer(Fixed(classical_matte), Fixed(net_matte)).analyse(
        np.zeros((h, w, 3), np.float32)
    )
    assert (merged.matte[8:12, 8:12] == 1).all() and (merged.metal[8:12, 8:12] == 1).all()
    assert (merged.matte[18:24, 18:24] == 0).all()
    assert merged.extras["filled_from_classical"] == 16


def test_the_shaded_floor_seen_through_a_bangle_is_not_filled_in():
    """The network leaves the floor seen through a bangle out of its piece; image analysis
    calls the part of it in the bangle's shadow piece (darker than the sweep). That region,
    smooth and of the sweep's colour taken whole, is the shadow, not a part the network
    missed (e11): it is backdrop with its darkening in the shadow map. A dark stone the
    network missed in the same hole (textured), and smooth neutral metal it left a hole in
    (enclosed by the piece), are still taken in."""
    from models.net.hybrid import HybridAnalyzer

    h = w = 64
    yy, xx, light, photo = _light_sweep(h, w, seed=9)
    r = np.hypot(yy - 32, xx - 32)
    ring = (r >= 18) & (r < 26)
    shading = 0.5 + 0.4 * np.cos(xx / 1.5) ** 2
    photo[ring] = (shading[..., None] * np.array([0.9, 0.65, 0.3]))[ring]
    # The bangle's shadow on the floor inside it: 25 % darker at the rim, fading downwards,
    # and warm under the rim (the rim's light: up to 0.08 off the sweep's colour, over a
    # shadow's 0.06, in its darkest strip), so that the attached-shadow rule, which judges
    # pixel by pixel, finds the neutral part running on smoothly into the warm one and keeps
    # both (e11).
    floor = (r < 18) & (yy < 30)
    darkening = np.where(floor, 0.25 * np.clip((30 - yy) / 16.0, 0.0, 1.0), 0.0)
    photo *= (1.0 - darkening)[..., None].astype(np.float32)
    photo[floor] *= np.exp(0.32 * darkening[floor, None] * np.array([1.0, 0.0, -1.0]))
    shaded = floor & (darkening > 0.06)
    stone = (np.abs(yy - 38) < 3) & (np.abs(xx - 32) < 5)
    photo[stone] = (0.15 + 0.1 * (xx % 2))[stone, None]  # faceted: a stripe per pixel
    # Polished white metal in the bangle's lower rim, as smooth, neutral and dark as the
    # shadow, which the network left a hole in: enclosed by the piece, it is filled in.
    mirror = (r > 20) & (r < 24) & (yy > 50) & (np.abs(xx - 32) < 6)
    photo[mirror] = (light * (0.7 + 0.01 * (xx - 32) / 6.0)[..., None])[mirror]
    net = (ring & ~mirror).astype(np.float32)
    base = (ring | shaded | stone).astype(np.float32)
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    merged = HybridAnalyzer(MatteOnly(base, sweep), MatteOnly(net), extend=False).analyse(
        photo.astype(np.float32)
    )
    assert (merged.matte[shaded] == 0).all()
    assert merged.extras["hole_shadow_cleared"] >= shaded.sum()
    assert np.abs(merged.shadow[shaded] - darkening[shaded]).max() < 0.05
    assert (merged.matte[stone] == 1).all() and (merged.matte[ring] == 1).all()
    # Without a backdrop model there is no sweep to call it a shadow on: it is filled in.
    kept = HybridAnalyzer(MatteOnly(base), MatteOnly(net), extend=False).analyse(photo)
    assert (kept.matte[shaded] == 1).all()


def test_hybrid_clears_the_network_spill_only_where_the_backdrop_model_is_sure():
    from models.net.hybrid import HybridAnalyzer

    h, w = 6, 8
    net = np.full((h, w), 0.3, np.float32)  # a soft spill of the network's matte
    net[:, :2] = 0.9  # the piece
    classical = np.zeros((h, w), np.float32)  # fits the backdrop model...
    classical[:, 6:] = 0.4  # ...except here, where image analysis is unsure

    class Fixed:
        def __init__(self, matte, shadow=None, backdrop=None):
            self.matte, self.shadow, self.backdrop = matte, shadow, backdrop

        def analyse(self, rgb):
            m = self.matte
            shadow = np.zeros_like(m) if self.shadow is None else self.shadow
            return Analysis(m, m.copy(), m.copy(), m.copy(), shadow, None, self.backdrop)

    black = np.zeros((h, w, 3), np.float32)
    merged = HybridAnalyzer(Fixed(classical), Fixed(net)).analyse(black)
    for name in ("matte", "metal", "gem"):
        values = getattr(merged, name)
        assert np.all(values[:, :2] == 0.9), name  # the piece keeps the network's maps
        assert np.all(values[:, 2:6] == 0.0), name  # sure backdrop: no spill, exact white later
        assert np.all(values[:, 6:] == np.float32(0.3)), name  # unsure: the network decides
    # Where the network itself sees the piece's cast shadow under its soft matte, the soft
    # matte is that shadow, not the piece (a grey blob on the white otherwise).
    shadow = np.zeros((h, w), np.float32)
    shadow[:, 6:] = 0.2
    # (On a clean sweep: a backdrop model that fits well, though not precisely enough for the
    # backdrop veto.)
    sweep = Backdrop(np.full((h, w, 3), 0.8, np.float32), np.zeros((h, w), np.float32), 0.2)
    merged = HybridAnalyzer(Fixed(classical, backdrop=sweep), Fixed(net, shadow)).analyse(black)
    assert np.all(merged.matte[:, 6:] == 0.0) and np.all(merged.matte[:, :2] == 0.9)
    # On a loose fit the network's shadow map is no such evidence.
    loose = Backdrop(sweep.light, sweep.residual, 0.4)
    merged = HybridAnalyzer(Fixed(classical, backdrop=loose), Fixed(net, shadow)).analyse(black)
    assert np.all(merged.matte[:, 6:] == np.float32(0.3))


def test_hybrid_takes_in_fine_parts_the_network_missed_but_not_the_pieces_shadow():
    from models.net.hybrid import HybridAnalyzer

    h, w = 40, 60
    net_matte = np.zeros((h, w), np.float32)
    net_matte[10:30, 10:30] = 1.0  # the pendant the network found
    net_shadow = np.zeros((h, w), np.float32)
    net_shadow[30:36, 10:30] = 0.6  # ...and its contact shadow below it
    classical = net_matte.copy()
    classical[19:21, 30:55] = 1.0  # a thin chain, attached to the pendant, missed by the net
    classical[30:36, 10:30] = 1.0  # image analysis keeps the shadow attached
    classical[5:8, 50:58] = 1.0  # a separate blob, touching nothing: not taken in

    class Fixed:
        def __init__(self, matte, shadow):
            self.matte, self.shadow = matte, shadow

        def analyse(self, rgb):
            z = np.zeros((h, w), np.float32)
            return Analysis(self.matte, self.matte.copy(), z, z.copy(), self.shadow, None)

    zero = np.zeros((h, w), np.float32)
    rgb = np.zeros((h, w, 3), np.float32)
    merged = HybridAnalyzer(Fixed(classical, zero), Fixed(net_matte, net_shadow)).analyse(rgb)
    assert (merged.matte[19:21, 30:55] == 1).all() and (merged.metal[19:21, 30:55] == 1).all()
    assert (merged.shadow[19:21, 30:55] == 0).all()
    assert (merged.matte[30:36, 10:30] == 0).all()  # the shadow stays backdrop
    assert (merged.matte[5:8, 50:58] == 0).all()
    assert merged.extras["extended_from_classical"] == 2 * 25

    plain = HybridAnalyzer(Fixed(classical, zero), Fixed(net_matte, net_shadow), extend=False)
    assert (plain.analyse(rgb).matte[19:21, 30:55] == 0).all()


def test_hybrid_shadow_only_darkens_and_keeps_image_analysis_shadows():
    from models.net.hybrid import HybridAnalyzer

    h, w = 4, 6
    rgb = np.full((h, w, 3), 0.8, np.float32)
    rgb[:, 2:4] *= 0.7  # 30% darker than the backdrop model: a real shadow
    zero = np.zeros((h, w), np.float32)
    net_shadow = np.full((h, w), 0.5, np.float32)  # the network sees shadow everywhere
    found = zero.copy()
    found[:, 5] = 0.2  # a shadow only image analysis found

    class Fixed:
        def __init__(self, shadow, backdrop=None):
            self.shadow, self.backdrop = shadow, backdrop

        def analyse(self, image):
            return Analysis(zero, zero, zero, zero, self.shadow, None, self.backdrop)

    backdrop = np.full((h, w, 3), 0.8, np.float32)
    clean_sweep = Backdrop(backdrop, zero, 0.05)
    merged = HybridAnalyzer(Fixed(found, clean_sweep), Fixed(net_shadow)).analyse(rgb)
    assert merged.extras["precise_backdrop"]
    np.testing.assert_allclose(merged.shadow[:, :2], 0.0, atol=1e-6)  # as bright as the model
    np.testing.assert_allclose(merged.shadow[:, 2:4], 0.3, atol=1e-5)  # capped by the darkening
    np.testing.assert_allclose(merged.shadow[:, 5], 0.2, atol=1e-6)  # image analysis's own
    # On a textured backdrop (a loose fit) the backdrop model is no evidence: the network's
    # shadow stands.
    textured = Backdrop(backdrop, zero, 0.4)
    merged = HybridAnalyzer(Fixed(found, textured), Fixed(net_shadow)).analyse(rgb)
    assert not merged.extras["precise_backdrop"]
    np.testing.assert_allclose(merged.shadow, 0.5)


def test_hybrid_falls_back_to_image_analysis_when_the_network_takes_the_backdrop():
    from models.net.hybrid import HybridAnalyzer

    h, w = 30, 40
    piece = np.zeros((h, w), np.float32)
    piece[10:20, 12:28] = 1.0
    everything = np.ones((h, w), np.float32)  # the network calls the whole frame piece

    class Fixed:
        def __init__(self, matte, name):
            self.matte, self.name = matte, name

        def analyse(self, rgb):
            z = np.zeros((h, w), np.float32)
            return Analysis(self.matte, self.matte.copy(), z, z.copy(), z.copy(), None)

    rgb = np.zeros((h, w, 3), np.float32)
    merged = HybridAnalyzer(Fixed(piece, "c"), Fixed(everything, "n")).analyse(rgb)
    assert merged.extras["net_rejected"] and np.array_equal(merged.matte, piece)
    # a piece that runs off one edge is still the network's
    cropped = piece.copy()
    cropped[10:20, 12:] = 1.0
    net = cropped.copy()
    net[5:25, 30:] = 1.0
    merged = HybridAnalyzer(Fixed(cropped, "c"), Fixed(net, "n")).analyse(rgb)
    assert "net_rejected" not in merged.extras and merged.matte[6, 35] == 1.0


def test_hybrid_drops_a_network_only_blob_at_the_frame_edge_on_a_clean_sweep():
    """The network reads a sweep's far edge (where it meets the table) as a soft piece at the
    frame's edge, even one bigger than the ring; image analysis fits it to the backdrop. On a
    clean sweep that blob goes; a second piece image analysis sees (a necklace running off the
    frame) and a network-only blob away from the edge (a pale pearl) stay."""
    from models.net.hybrid import HybridAnalyzer

    h, w = 60, 90
    ring = np.zeros((h, w), np.float32)
    ring[20:40, 20:35] = 1.0
    edge_blob = np.zeros((h, w), np.float32)
    edge_blob[25:50, 60:90] = 0.7  # bigger than the ring, running into the right edge
    necklace = np.zeros((h, w), np.float32)
    necklace[52:60, 30:50] = 1.0  # runs off the bottom edge; image analysis sees it too
    pearl = np.zeros((h, w), np.float32)
    pearl[5:12, 45:52] = 0.9  # only the network sees it, away from the edge

    sweep = Backdrop(np.full((h, w, 3), 0.8, np.float32), np.zeros((h, w), np.float32), 0.2)
    classical = np.maximum(ring, necklace)
    net = np.maximum.reduce([ring, edge_blob, necklace, pearl])
    # The photo: a plain sweep, the pearl's shading (lustre: bright top-left, darker rim) and,
    # on a loose fit, a textured backdrop (linen, wood), so neither reads as flat sweep.
    yy, xx = np.mgrid[0:h, 0:w]
    photo = np.full((h, w, 3), 0.8, np.float32)
    lustre = 0.9 - 0.06 * np.hypot(yy - 6.0, xx - 46.0)
    photo[pearl > 0] = lustre[pearl > 0, None]
    merged = HybridAnalyzer(MatteOnly(classical, sweep), MatteOnly(net),
                            extend=False).analyse(photo)
    assert (merged.matte[25:50, 60:90] == 0).all()  # the sweep's edge is backdrop
    assert (merged.matte[20:40, 20:35] == 1).all()  # the ring
    assert (merged.matte[52:60, 30:50] == 1).all()  # the necklace off the frame
    assert (merged.matte[5:12, 45:52] > 0.5).all()  # the pearl
    # On a loose fit (a textured backdrop) the backdrop model is no such evidence.
    loose = Backdrop(sweep.light, sweep.residual, 0.4)
    texture = np.random.default_rng(3).uniform(0.6, 1.0, (h, w, 1)).astype(np.float32)
    merged = HybridAnalyzer(MatteOnly(classical, loose), MatteOnly(net), extend=False).analyse(
        photo * texture
    )
    assert (merged.matte[25:50, 60:90] > 0.5).all()


def test_hybrid_removes_a_support_only_the_v2_network_knows():
    """A ring standing in a felt pad: image analysis and v1 call ring and pad one piece (the
    pad is not the backdrop). The v2 network's prop map says the pad is a support: it goes
    with the backdrop, is not grown back from image analysis, and is counted for the warning.
    Without v2 (no props_net) the pad stays, as before; a prop map over what v2 itself calls
    piece, and specks under PROP_MIN_AREA, remove nothing."""
    from models.net.hybrid import PROP_MIN_AREA, HybridAnalyzer

    h, w = 60, 80
    ring = np.zeros((h, w), np.float32)
    ring[10:40, 25:55] = 1.0
    ring[18:32, 33:47] = 0.0  # the ring's hole
    pad = np.zeros((h, w), np.float32)
    pad[34:50, 10:70] = 1.0
    pad[34:40, 25:55] = np.maximum(pad[34:40, 25:55] - ring[34:40, 25:55], 0)
    both = np.maximum(ring, pad)

    class Fixed:
        def __init__(self, matte, props=None, backdrop=None):
            self.matte, self.props, self.backdrop = matte, props, backdrop

        def analyse(self, rgb):
            z = np.zeros((h, w), np.float32)
            return Analysis(self.matte, self.matte.copy(), z, z.copy(), z.copy(), None,
                            self.backdrop, props=self.props)

    sweep = Backdrop(np.full((h, w, 3), 0.8, np.float32), np.zeros((h, w), np.float32), 0.2)
    rgb = np.zeros((h, w, 3), np.float32)
    speck = np.zeros((h, w), np.float32)
    speck[2, 2:4] = 1.0  # 2 px: under PROP_MIN_AREA of the frame
    assert speck.sum() < PROP_MIN_AREA * h * w
    v2 = Fixed(ring, props=np.maximum(pad, speck))
    # v1 leaves the pad out (as on the renders); image analysis calls ring and pad one piece.
    merged = HybridAnalyzer(Fixed(both, backdrop=sweep), Fixed(ring), props_net=v2).analyse(rgb)
    assert (merged.matte[pad == 1] == 0).all() and (merged.metal[pad == 1] == 0).all()
    assert (merged.matte[ring == 1] == 1).all()
    assert merged.extras["props_removed"] == int((pad == 1).sum())
    assert merged.props is not None and (merged.props[pad == 1] == 1).all()
    assert (merged.props[speck == 1] == 0).all()  # a speck is not a support
    # Without v2 nothing is taken for a support: image analysis's pad is grown back in.
    kept = HybridAnalyzer(Fixed(both), Fixed(ring)).analyse(rgb)
    assert (kept.matte[pad == 1] == 1).all() and "props_removed" not in kept.extras
    assert kept.props is None
    # v2 calling the same pixels piece as well as prop: not sure, nothing removed.
    unsure = Fixed(both, props=pad)
    merged = HybridAnalyzer(Fixed(both), Fixed(ring), props_net=unsure).analyse(rgb)
    assert (merged.matte[pad == 1] == 1).all() and merged.extras["props_removed"] == 0
    # v1 calling the pad piece: v2 alone is not enough to cut it away.
    merged = HybridAnalyzer(Fixed(both), Fixed(both), props_net=v2).analyse(rgb)
    assert (merged.matte[pad == 1] == 1).all() and merged.extras["props_removed"] == 0


def test_hybrid_takes_the_maps_it_is_told_from_the_v2_network():
    import pytest

    from models.net.hybrid import HybridAnalyzer

    rgb = np.zeros((4, 5, 3), np.float32)
    merged = HybridAnalyzer(
        Constant(0.6), Constant(0.75), extend=False, props_net=Constant(0.9),
        props_net_maps=("matte", "metal"),
    ).analyse(rgb)
    assert np.all(merged.matte == np.float32(0.9)) and np.all(merged.metal == np.float32(0.9))
    assert np.all(merged.gem == np.float32(0.75)) and np.all(merged.shadow == np.float32(0.75))
    assert merged.extras["v2_maps"] == ["matte", "metal"]
    with pytest.raises(ValueError):
        HybridAnalyzer(Constant(0.6), Constant(0.75), props_net_maps=("matte",))
    with pytest.raises(ValueError):
        HybridAnalyzer(Constant(0.6), Constant(0.75), props_net=Constant(0.9),
                       props_net_maps=("defects",))


def test_a_prop_map_inside_the_piece_removes_nothing():
    """A matte cabochon (jasper, malachite) can look like felt to the v2 network: its prop map
    fires on a patch of the stone and its matte drops there. The patch is enclosed by the
    piece, not standing on the backdrop: it stays piece."""
    from models.net.hybrid import HybridAnalyzer

    h, w = 60, 80
    piece = np.zeros((h, w), np.float32)
    piece[10:50, 20:60] = 1.0
    patch = np.zeros((h, w), np.float32)
    patch[25:38, 30:48] = 1.0

    class Fixed:
        def __init__(self, matte, props=None):
            self.matte, self.props = matte, props

        def analyse(self, rgb):
            z = np.zeros((h, w), np.float32)
            return Analysis(self.matte, z, self.matte.copy(), z.copy(), z.copy(), None,
                            props=self.props)

    v2 = Fixed(piece * (1 - patch), props=patch)
    merged = HybridAnalyzer(Fixed(piece), Fixed(piece), props_net=v2).analyse(
        np.zeros((h, w, 3), np.float32)
    )
    assert (merged.matte[patch == 1] == 1).all() and merged.extras["props_removed"] == 0


def test_hybrid_clears_the_flat_sweep_only_the_network_calls_piece():
    """The 192-px network spreads its matte over the sweep seen through a ring (e08) and
    over the haze beside fine parts (d009, d079). Where image analysis fits that region to
    the backdrop model and the photo is flat there, it is backdrop, on a loose fit too; a
    textured part only the network sees (chain links), a thin flat one (a fine chain on white),
    a flat band with a fine chain through it (d078) and a flat one it calls a stone stay."""
    from models.net.hybrid import HybridAnalyzer

    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w]
    radius = np.hypot(yy - 32.0, xx - 30.0)
    ring = ((radius >= 12) & (radius <= 20)).astype(np.float32)
    hole = radius < 12
    chain = np.zeros((h, w), np.float32)
    chain[28:36, 60:90] = 1.0  # links image analysis did not resolve
    stone = np.zeros((h, w), np.float32)
    stone[4:12, 60:72] = 1.0  # a pale cabochon, flat, that the network calls a stone
    fine = np.zeros((h, w), np.float32)
    fine[56:59, 10:50] = 1.0  # a fine chain on white: as flat as the sweep here, but thin
    band = np.zeros((h, w), np.float32)
    band[44:54, 55:95] = 1.0  # the network's broad band round a fine chain (d078)...
    strand = np.zeros((h, w), bool)
    strand[48:50, 55:95] = (xx[48:50, 55:95] // 2) % 2 == 0  # ...which runs through it
    # The photo: a vertical sweep gradient with sensor noise; the ring's polished shading;
    # the chain's alternating links; the stone a shade off the sweep.
    rng = np.random.default_rng(5)
    light = np.repeat((0.55 + 0.25 * yy / (h - 1))[..., None], 3, -1).astype(np.float32)
    photo = light * rng.normal(1.0, 0.004, (h, w, 1)).astype(np.float32)
    photo[ring > 0] = (0.3 + 0.5 * np.cos(xx / 3.0) ** 2)[ring > 0, None]
    links = 0.25 + 0.6 * ((xx // 2 + yy // 2) % 2)
    photo[chain > 0] = links[chain > 0, None]
    photo[stone > 0] *= 0.97
    photo[fine > 0] *= 0.98
    photo[strand] *= 0.7

    net = np.maximum.reduce([ring, hole.astype(np.float32), chain, stone, fine, band])
    for tau in (0.2, 0.4):  # a clean sweep, and a loose fit (a phone shot's vignetting)
        sweep = Backdrop(light, np.zeros((h, w), np.float32), tau)
        merged = HybridAnalyzer(MatteOnly(ring, backdrop=sweep), MatteOnly(net, gem=stone),
                                extend=False).analyse(photo)
        assert (merged.matte[hole] == 0).all(), tau  # the sweep through the ring
        assert (merged.matte[ring > 0] == 1).all(), tau
        assert (merged.matte[chain > 0] == 1).all(), tau  # textured: the network's word
        assert (merged.matte[stone > 0] == 1).all(), tau  # a stone: the network's word
        assert (merged.matte[fine > 0] == 1).all(), tau  # thin: the network's word
        assert (merged.matte[band > 0] == 1).all(), tau  # a chain through it: the same
    # Without a backdrop model (image analysis found no sweep) nothing is cleared.
    merged = HybridAnalyzer(MatteOnly(ring), MatteOnly(net, gem=stone), extend=False).analyse(photo)
    assert (merged.matte[hole] == 1).all()


def test_the_confidence_still_sees_the_network_spread_over_a_flat_tray():
    """A white tray running off the frame: the network calls it piece, image analysis fits
    it to the backdrop. The hybrid clears that flat region, but the network's spread over the
    scene is doubt the confidence must still see (d090), or a cut-out of a tray shot would
    look safe."""
    import dataclasses

    from models.analysis.confidence import assess
    from models.net.hybrid import HybridAnalyzer

    h, w = 60, 80
    yy, xx = np.mgrid[0:h, 0:w]
    piece = np.zeros((h, w), np.float32)
    piece[12:42, 20:50] = 1.0
    tray = np.zeros((h, w), np.float32)
    tray[57:, :] = 1.0  # the tray's rim, through the bottom and right edges
    tray[30:, 77:] = 1.0
    photo = np.full((h, w, 3), 0.8, np.float32)
    photo[piece > 0] = (0.3 + 0.5 * np.cos(xx / 2.0) ** 2)[piece > 0, None]

    sweep = Backdrop(photo.copy(), np.zeros((h, w), np.float32), 0.3)
    merged = HybridAnalyzer(MatteOnly(piece, sweep), MatteOnly(np.maximum(piece, tray)),
                            extend=False).analyse(photo)
    assert (merged.matte[tray > 0] == 0).all() and (merged.matte[piece > 0] == 1).all()
    assert merged.extras["network_border_piece"] > 0.35
    assert assess(merged, photo).matte_certainty == 0.0
    trimmed = {k: v for k, v in merged.extras.items() if k != "network_border_piece"}
    unguarded = dataclasses.replace(merged, extras=trimmed)
    assert assess(unguarded, photo).matte_certainty > 0.5  # what the guard is for


def test_hybrid_clears_a_cast_shadow_both_methods_call_piece_but_keeps_dark_white_metal():
    """A soft cast shadow that darkens the sweep steeply beside the piece: image analysis
    attaches it to the piece and the network's matte spreads over it (d003, d074, d104). It
    is backdrop, its darkening goes to the shadow map, and the piece stays whole; a polished
    white-metal bar as dark and neutral as the shadow, as smooth, but with a sharp
    silhouette, stays piece, and so does a shank that mirrors the sweep (soft outline, no
    fade away from the piece)."""
    from models.net.hybrid import HybridAnalyzer

    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(7)
    light = np.repeat((0.6 + 0.2 * yy / (h - 1))[..., None], 3, -1).astype(np.float32)
    photo = light * rng.normal(1.0, 0.004, (h, w, 1)).astype(np.float32)
    gold = np.zeros((h, w), bool)
    gold[16:48, 10:30] = True
    # The shadow falls to the right of the gold bar: 45 % darker at its foot, fading over
    # about 5 px; both methods call it piece out to where it is 8 % darker.
    distance = np.where((yy >= 16) & (yy < 48), xx - 29.0, 99.0)
    darkening = np.where(distance > 0, 0.45 * np.exp(-distance / 5.0), 0.0)
    photo *= (1.0 - darkening)[..., None].astype(np.float32)
    cast = (darkening > 0.08) & ~gold
    shading = (0.5 + 0.4 * np.cos(yy / 2.0) ** 2)[..., None]
    photo[gold] = (shading * np.array([0.9, 0.65, 0.3]))[gold]
    # Polished white metal beside its highlight, darkest there and lighter away from it
    # like a shadow, but with a sharp silhouette against the sweep.
    glint = np.zeros((h, w), bool)
    glint[20:44, 58:60] = True
    bar = np.zeros((h, w), bool)
    bar[20:44, 60:80] = True
    photo[glint] = 0.98
    photo[bar] = (light * (0.55 + 0.25 * (xx - 60) / 19.0)[..., None])[bar]
    # The floor under a warm rim (e11): a neutral shaded patch that runs on without a step
    # into the part of the same shade that the rim's light turns warm; not cut in the ramp.
    rim = np.zeros((h, w), bool)
    rim[0:3, 40:90] = True
    warm = np.zeros((h, w), bool)
    warm[3:7, 40:90] = True
    floor = np.zeros((h, w), bool)
    floor[7:12, 40:90] = True  # and fading beyond
    shade = np.where(yy < 7, 0.65, np.minimum(0.65 + 0.025 * (yy - 7), 1.0))
    fading = (yy >= 3) & (yy < 16) & (xx >= 40) & (xx < 90)
    photo[fading] = (light * shade[..., None])[fading]
    photo[warm] *= np.array([1.15, 1.0, 0.87], np.float32)
    photo[rim] = (shading * np.array([0.9, 0.65, 0.3]))[rim]

    # A ring's shank mirroring a grey sweep (e03): as dark as the shadow, neutral, beside
    # the shank's bright highlight, its outline lost in its own contact shadow below (no
    # step there); it is as dark next to the highlight as away from it, where a shadow fades.
    highlight = np.zeros((h, w), bool)
    highlight[46:49, 50:90] = True
    shank = np.zeros((h, w), bool)
    shank[49:56, 50:90] = True
    below = np.where((yy >= 56) & (xx >= 50) & (xx < 90), 0.27 * np.exp(-(yy - 56.0) / 3), 0.0)
    photo *= (1.0 - below)[..., None].astype(np.float32)
    photo[shank] = light[shank] * 0.74
    photo[highlight] = 0.98
    piece = (gold | cast | glint | bar | shank | highlight | rim | warm | floor).astype(np.float32)
    # The network's soft spill beyond, over the shadow's faint tail, and a sliver of its
    # piece past that, too faint to look like a shadow by itself (d074).
    spill = (darkening > 0.045) & ~cast & ~gold
    tail = (darkening > 0.02) & ~spill & ~cast & ~gold
    piece = np.maximum(piece, tail)
    net = np.where(spill, 0.4, piece).astype(np.float32)
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    attached = np.maximum(piece, spill).astype(np.float32)  # image analysis: all piece
    merged = HybridAnalyzer(MatteOnly(attached, sweep), MatteOnly(net), extend=False).analyse(
        photo
    )
    assert (merged.matte[gold] == 1).all() and (merged.matte[bar] == 1).all()
    assert (merged.matte[shank] == 1).all() and (merged.matte[floor] == 1).all()
    assert (merged.matte[cast | spill | tail] == 0).all()
    assert merged.extras["attached_shadow_cleared"] == int((cast | spill | tail).sum())
    # The shadow map has it, as measured (for shadow=natural).
    assert np.abs(merged.shadow[cast] - darkening[cast]).max() < 0.05
    # Without a backdrop model there is no sweep to call it a shadow on: it stays.
    kept = HybridAnalyzer(MatteOnly(attached), MatteOnly(net), extend=False).analyse(photo)
    assert (kept.matte[cast] == 1).all()
    # On a mid-grey sweep white metal mirroring it looks the same as a shadow: it stays.
    grey = Backdrop(light * 0.6, np.zeros((h, w), np.float32), 0.2)
    kept = HybridAnalyzer(MatteOnly(attached, grey), MatteOnly(net), extend=False).analyse(
        photo * 0.6
    )
    assert (kept.matte[cast] == 1).all()


def _gold_bar_and_its_shadow(light_level, tint_towards, reach=5.0, tint_reach=None):
    """A yellow-gold bar on a sweep of linear `light_level` with its soft cast shadow to the
    right (45 % darker at its foot, fading over about `reach` px), the shadow's colour departing
    from the sweep's by 0.12 (log) in the direction `tint_towards` (3,), less only in its
    faint tail, or (`tint_reach`) only up to that many px from the bar: (photo, light, gold,
    cast)."""
    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(5)
    light = np.repeat((light_level + 0.05 * yy / (h - 1))[..., None], 3, -1).astype(np.float32)
    photo = light * rng.normal(1.0, 0.004, (h, w, 1)).astype(np.float32)
    gold = np.zeros((h, w), bool)
    gold[16:48, 10:30] = True
    distance = np.where((yy >= 16) & (yy < 48), xx - 29.0, 99.0)
    darkening = np.where(distance > 0, 0.45 * np.exp(-distance / reach), 0.0)
    direction = np.asarray(tint_towards, np.float64)
    direction = direction - direction.mean()
    direction /= max(float(np.abs(direction).max()), 1e-9)  # (all equal: a neutral shadow)
    strength = np.clip(darkening / 0.08, 0.0, 1.0)
    if tint_reach is not None:
        strength = np.where(distance <= tint_reach, strength, 0.0)
    tint = np.exp(0.12 * strength[..., None] * direction)
    photo *= ((1.0 - darkening)[..., None] * tint).astype(np.float32)
    shading = (0.5 + 0.4 * np.cos(yy / 2.0) ** 2)[..., None]
    photo[gold] = (shading * np.array([0.9, 0.65, 0.3]) * light_level / 0.8)[gold]
    cast = (darkening > 0.08) & ~gold
    return photo.astype(np.float32), light, gold, cast


def test_on_a_grey_sweep_a_gold_pieces_own_bounce_lit_shadow_is_backdrop():
    """On a mid-grey sweep the attached-shadow rule runs only beside a coloured metal, and
    there a shadow tinted towards the metal's colour (its bounce light, e04) is a shadow;
    one tinted another way, or beside a piece whose metal is neutral, stays piece."""
    from models.net.hybrid import HybridAnalyzer

    gold_colour = np.log([0.9, 0.65, 0.3])
    photo, light, gold, cast = _gold_bar_and_its_shadow(0.42, gold_colour)
    piece = (gold | cast).astype(np.float32)
    sweep = Backdrop(light, np.zeros(light.shape[:2], np.float32), 0.2)
    metal = gold.astype(np.float32)

    def analyse(image, metal_map):
        return HybridAnalyzer(
            MatteOnly(piece, sweep), MatteOnly(piece, metal=metal_map), extend=False
        ).analyse(image)

    merged = analyse(photo, metal)
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[gold] == 1).all()
    assert merged.extras["attached_shadow_cleared"] >= cast.sum()
    # Tinted away from the gold (blue): not the gold's bounce, and too coloured for a
    # shadow on the sweep.
    blue, *_ = _gold_bar_and_its_shadow(0.42, [0.2, 0.5, 1.0])
    assert (analyse(blue, metal).matte[cast] == 1).all()
    # The same piece with no metal map of its own (nothing coloured to bounce): on a grey
    # sweep the rule does not run at all.
    assert (analyse(photo, np.zeros_like(metal)).matte[cast] == 1).all()


def test_on_a_light_sweep_a_shadow_whose_foot_the_gold_tints_is_backdrop(monkeypatch):
    """On a light sweep a coloured metal's bounce light tints the foot of its cast shadow
    (d021, e11, d072: a grey-gold band left along the piece). Such a shadow goes; a tinted
    part farther than BOUNCE_REACH from the metal of that colour stays (a crystal in a
    silver coil far from a gold coin takes on no bounce light of the coin's: d010)."""
    from models.net import hybrid
    from models.net.hybrid import HybridAnalyzer

    gold_colour = np.log([0.9, 0.65, 0.3])
    photo, light, gold, cast = _gold_bar_and_its_shadow(0.8, gold_colour, reach=6.0,
                                                        tint_reach=4.0)
    piece = (gold | cast).astype(np.float32)
    sweep = Backdrop(light, np.zeros(light.shape[:2], np.float32), 0.2)

    def analyse(image, metal_map):
        return HybridAnalyzer(
            MatteOnly(piece, sweep), MatteOnly(piece, metal=metal_map), extend=False
        ).analyse(image)

    metal = gold.astype(np.float32)
    merged = analyse(photo, metal)
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[gold] == 1).all()
    # The rule is what clears it: without bounce light on light sweeps the tinted foot is
    # too coloured for a shadow and the shadow stays.
    with monkeypatch.context() as patch:
        patch.setattr(hybrid, "ATTACHED_LIGHT_BOUNCE", False)
        assert (analyse(photo, metal).matte[cast] == 1).all()
    # Only the bar's far end is gold (the rest neutral metal): the tinted foot is out of
    # the gold's reach.
    far = np.zeros_like(metal)
    far[:, :12] = metal[:, :12]
    photo_far = photo.copy()
    photo_far[gold & (np.arange(photo.shape[1]) >= 12)] = 0.97  # bright silver
    assert (analyse(photo_far, far).matte[cast] == 1).all()
    with monkeypatch.context() as patch:
        patch.setattr(hybrid, "BOUNCE_REACH", 40)
        assert (analyse(photo_far, far).matte[cast] == 0).all()
    # A region must be open to the sweep on BOUNCE_OPEN_SHARE of its outline (a crystal
    # wrapped in its coil is not, d010): over this shadow's own share, it stays.
    with monkeypatch.context() as patch:
        patch.setattr(hybrid, "BOUNCE_OPEN_SHARE", 0.99)
        assert (analyse(photo, metal).matte[cast] == 1).all()


def test_on_a_light_sweep_a_bounce_lit_shadow_takes_its_part_beside_a_second_branch(
    monkeypatch,
):
    """The network's matte cuts a gold bar's bounce-lit shadow in two, and its outer part
    runs up to a second, bright branch without fading from it (d072, d073: the shadow
    between two branches). Linked to the shadow found, on the sweep's side, it goes too;
    without BOUNCE_JOIN_ANY the rule would leave it, as it does beside a piece it meets."""
    from models.net import hybrid
    from models.net.hybrid import HybridAnalyzer

    gold_colour = np.log([0.9, 0.65, 0.3])
    photo, light, gold, cast = _gold_bar_and_its_shadow(0.8, gold_colour, reach=9.0,
                                                        tint_reach=4.0)
    columns = np.arange(photo.shape[1])
    branch = np.zeros_like(gold)
    branch[16:48, 42:48] = True
    photo[branch] = 0.97
    cast &= ~branch & (columns < 42)
    piece = (gold | cast | branch).astype(np.float32)
    net = np.where(cast & (columns >= 36) & (columns < 38), 0.45, piece).astype(np.float32)
    outer = cast & (columns >= 38)
    assert outer.sum() > 100
    sweep = Backdrop(light, np.zeros(light.shape[:2], np.float32), 0.2)

    def analyse():
        return HybridAnalyzer(MatteOnly(piece, sweep), MatteOnly(net, metal=gold.astype(
            np.float32)), extend=False).analyse(photo)

    merged = analyse()
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[gold] == 1).all() and (merged.matte[branch] == 1).all()
    with monkeypatch.context() as patch:
        patch.setattr(hybrid, "BOUNCE_JOIN_ANY", False)
        kept = analyse()
        assert (kept.matte[outer] == 1).all() and (kept.matte[cast & (columns < 36)] == 0).all()


def test_the_cast_shadow_rule_follows_a_shadow_the_matte_cuts_in_two():
    """The network's soft matte dips to 0.5 across a cast shadow, cutting off its outer part
    (e04): that part, smooth, open to the sweep and linked to the shadow by pixels that look
    like the sweep in shadow, goes with it; the gold stays."""
    from models.net.hybrid import HybridAnalyzer

    photo, light, gold, cast = _gold_bar_and_its_shadow(0.8, [1.0, 1.0, 1.0], reach=9.0)
    piece = (gold | cast).astype(np.float32)
    cut = np.zeros_like(gold)
    cut[:, 36:38] = True
    outer = cast & (np.arange(photo.shape[1]) >= 38)
    assert outer.sum() > 50  # (the constructed shadow reaches past the cut)
    net = np.where(cut & cast, 0.45, piece).astype(np.float32)
    sweep = Backdrop(light, np.zeros(light.shape[:2], np.float32), 0.2)
    merged = HybridAnalyzer(MatteOnly(piece, sweep), MatteOnly(net), extend=False).analyse(
        photo
    )
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[gold] == 1).all()


def test_the_cast_shadow_rule_keeps_neutral_metal_inside_the_piece():
    """A silver stem on a petal, as dark and neutral as the sweep in shadow and joined to
    the petal's cast shadow by a thin silver line (d071): the shadow outside the petal is
    backdrop, the stem inside stays piece."""
    from models.net.hybrid import HybridAnalyzer

    h, w = 64, 80
    yy, xx, light, photo = _light_sweep(h, w, seed=11)
    petal = np.zeros((h, w), bool)
    petal[8:40, 20:60] = True
    distance = np.where((xx >= 20) & (xx < 60), yy - 39.0, 99.0)
    darkening = np.where(distance > 0, 0.45 * np.exp(-distance / 5.0), 0.0)
    photo *= (1.0 - darkening)[..., None].astype(np.float32)
    cast = (darkening > 0.08) & ~petal
    shading = (0.5 + 0.4 * np.cos(xx / 2.0) ** 2)[..., None]
    photo[petal] = (shading * np.array([0.9, 0.65, 0.3]))[petal]
    stem = np.zeros((h, w), bool)
    stem[14:32, 36:44] = True
    line = np.zeros((h, w), bool)
    line[32:40, 39] = True  # a silver outline from the stem to the petal's edge
    photo[stem | line] = 0.8 * 0.7

    piece = (petal | cast).astype(np.float32)
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    merged = HybridAnalyzer(MatteOnly(piece, sweep), MatteOnly(piece), extend=False).analyse(
        photo
    )
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[petal] == 1).all()


def test_the_networks_faint_matte_over_the_pieces_cast_shadow_is_backdrop():
    """A soft cast shadow that image analysis attaches to the piece while the network's matte
    over it stays faint (0.25: it is unsure, e10): a translucent grey patch on the white
    unless it is cleared. It goes, with its darkening in the shadow map, except in the
    piece's soft edge and a thin line along its outline; the network's faint matte over what
    does not look like the sweep in shadow (a fine, bright, warm chain it only half sees)
    stays."""
    from models.net.hybrid import EXTEND_SOFT_EDGE, HybridAnalyzer

    h, w = 64, 96
    yy, xx, light, photo = _light_sweep(h, w, seed=11)
    ring = np.zeros((h, w), bool)
    ring[10:30, 20:50] = True
    photo[ring] = (0.9, 0.65, 0.3)
    # The shadow below the ring, down to the frame's edge: 30 % darker, neutral, smooth.
    shadow = (yy >= 30) & (xx >= 24) & (xx < 46)
    photo[shadow] *= 0.7
    # A fine warm chain running from the ring, brighter than the sweep.
    chain = (yy >= 18) & (yy < 20) & (xx >= 50) & (xx < 90)
    photo[chain] = (0.95, 0.75, 0.4)
    # The ring's left side fades into the sweep over 6 px, past its soft edge a thin smooth
    # line of shade (a rim, e01).
    ramp = (yy >= 10) & (yy < 30) & (xx >= 14) & (xx < 20)
    photo[ramp] *= (1.0 - 0.03 * (xx[ramp] - 13))[:, None]
    rim = ramp & (xx >= 16) & (xx < 18)
    classical = (ring | shadow | chain | ramp).astype(np.float32)
    net = np.where(ring, 1.0, np.where(shadow | chain | ramp, 0.25, 0.0)).astype(np.float32)
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    merged = HybridAnalyzer(MatteOnly(classical, sweep), MatteOnly(net)).analyse(photo)
    edge = np.zeros((h, w), bool)
    edge[30 : 30 + EXTEND_SOFT_EDGE] = True
    away = shadow & ~edge
    assert (merged.matte[ring] == 1).all()
    assert (merged.matte[away] == 0).all()
    assert merged.extras["faint_shadow_cleared"] == int(away.sum())
    assert np.abs(merged.shadow[away] - 0.3).max() < 0.05  # its darkening, as measured
    assert (merged.matte[chain & (xx > 55)] > 0).all()  # not shadow-like: the network's word
    assert (merged.matte[rim] > 0).all()  # a thin line along the outline is the piece's edge
    # Without a backdrop model there is no sweep to call it a shadow on: it stays.
    kept = HybridAnalyzer(MatteOnly(classical), MatteOnly(net)).analyse(photo)
    assert (kept.matte[away] > 0).all()


def test_the_networks_soft_matte_deep_inside_the_piece_is_whole_coverage():
    """The network half-sure (0.6) of a patch deep inside a stone that image analysis is sure
    of, and seeing a faint shadow there (a pale spot on malachite, d013; the faint shadow
    keeps image analysis's word from it): guided to full size such a patch turns the spot
    into a white hole. It is whole piece; the same softness near a hole in the piece (the
    outline's coverage there), without image analysis's word, or off a clean sweep, stays. A
    soft band reaching in from the outline is filled only INTERIOR_DEEP px or more inside
    (nearer, it may be a cast shadow image analysis attached to the piece)."""
    import dataclasses

    from models.net.hybrid import INTERIOR_DEEP, INTERIOR_MARGIN, HybridAnalyzer

    class ShadowedNet(MatteOnly):
        def analyse(self, rgb):
            shadow = np.zeros_like(self.matte)
            shadow[20:50, 10:75] = 0.1
            return dataclasses.replace(super().analyse(rgb), shadow=shadow)

    h, w = 64, 96
    yy, xx, light, photo = _light_sweep(h, w, seed=5)
    stone = (yy >= 10) & (yy < 54) & (xx >= 10) & (xx < 80)
    photo[stone] = (0.1, 0.35, 0.2)
    photo[26:30, 40:46] = (0.5, 0.7, 0.6)  # the pale spot
    hole = (yy >= 40) & (yy < 44) & (xx >= 60) & (xx < 64)  # the sweep seen through a setting
    photo[hole] = light[hole]
    classical = (stone & ~hole).astype(np.float32)
    net = classical.copy()
    net[24:32, 38:48] = 0.6  # unsure of the pale spot, deep inside
    net[40:44, 64:67] = 0.6  # soft beside the hole
    net[34:38, 10:36] = 0.7  # a soft band from the stone's left outline (column 10) inwards
    # A clean sweep, not a precise one (there the network's shadow map counts).
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    merged = HybridAnalyzer(MatteOnly(classical, sweep), ShadowedNet(net)).analyse(photo)
    assert (merged.matte[24:32, 38:48] == 1).all()
    deep = 10 + INTERIOR_DEEP  # the first column further than INTERIOR_DEEP from open sweep
    assert (merged.matte[34:38, 10:deep] < 1).all()
    assert (merged.matte[34:38, deep:36] == 1).all()
    assert merged.extras["soft_interior_filled"] == 80 + 4 * (36 - deep)
    assert (merged.matte[40:44, 64:67] < 1).all()  # within INTERIOR_MARGIN of the hole
    assert 66 - 63 <= INTERIOR_MARGIN
    # Image analysis unsure of the patch (it calls it backdrop): the network's doubt stays.
    doubt = classical.copy()
    doubt[24:32, 38:48] = 0.0
    kept = HybridAnalyzer(MatteOnly(doubt, sweep), ShadowedNet(net)).analyse(photo)
    assert (kept.matte[27:29, 42:44] < 1).all()
    # On a loose backdrop fit (not a clean sweep) image analysis's word is not sure enough.
    loose = Backdrop(light, np.zeros((h, w), np.float32), 0.5)
    kept = HybridAnalyzer(MatteOnly(classical, loose), ShadowedNet(net)).analyse(photo)
    assert "soft_interior_filled" not in kept.extras


def test_a_pinhole_only_the_network_sees_does_not_open_a_soft_patch():
    """A few pixels of the network's matte at 0 inside a soft patch image analysis calls piece
    (between a wrap's wires, d021) would keep the patch "near open
    backdrop" and leave both as white flecks: such pinholes (up to INTERIOR_PINHOLE px) fill
    with the patch. A larger hole is an opening: it and the soft pixels beside it stay."""
    from models.net.hybrid import INTERIOR_MARGIN, INTERIOR_PINHOLE, HybridAnalyzer

    base = np.zeros((40, 80), np.float32)
    base[5:35, 5:75] = 1.0
    matte = base.copy()
    matte[10:20, 10:20] = 0.7  # a soft patch with a 2-px pinhole
    matte[14, 14:16] = 0.0
    matte[10:20, 50:60] = 0.7  # a soft patch with a hole larger than a pinhole
    matte[14:17, 54:56] = 0.0
    assert 2 <= INTERIOR_PINHOLE < 6
    filled = HybridAnalyzer._soft_interior(matte, base)
    assert filled[10:20, 10:20].all()
    assert not filled[10:20, 50:60].any()  # the whole patch lies within the margin of it
    assert 60 - 56 >= INTERIOR_MARGIN  # (so the patch is near the hole everywhere)
    # The same pinhole where image analysis also sees backdrop is a real hole.
    open_base = base.copy()
    open_base[14, 14:16] = 0.0
    opened = HybridAnalyzer._soft_interior(matte, open_base)
    assert not opened[12:17, 12:18].any()  # the hole and the soft pixels beside it stay


def test_a_deep_contact_shadow_whose_matte_ends_steeply_is_backdrop(monkeypatch):
    """A deep contact shadow (75 % darker at the piece's foot) that both methods call piece out
    to where it is still 30 % darker: its outer edge is steeper than a soft shadow's, but it
    fades from its foot so strongly that it is a shadow (d007, d041); a polished white-metal
    bar that also lightens away from its glint by as much, but with a sharp silhouette, stays
    piece. Without the contact rule the shadow would stay a grey band."""
    import models.net.hybrid as hybrid
    from models.net.hybrid import HybridAnalyzer

    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(5)
    light = np.repeat((0.8 + 0.05 * yy / (h - 1))[..., None], 3, -1).astype(np.float32)
    distance = np.where((yy >= 16) & (yy < 48), xx - 29.0, 99.0)
    darkening = np.where(distance > 0, 0.75 * np.exp(-distance / 6.0), 0.0)
    photo = light * rng.normal(1.0, 0.004, (h, w, 1)) * (1.0 - darkening)[..., None]
    gold = np.zeros((h, w), bool)
    gold[16:48, 10:30] = True
    shading = (0.5 + 0.4 * np.cos(yy / 2.0) ** 2)[..., None]
    photo[gold] = (shading * np.array([0.9, 0.65, 0.3]))[gold]
    cast = (darkening > 0.3) & ~gold
    glint = np.zeros((h, w), bool)
    glint[20:44, 68:70] = True
    bar = np.zeros((h, w), bool)
    bar[20:44, 70:90] = True
    photo[glint] = 0.98
    photo[bar] = (light * (0.55 + 0.25 * (xx - 70) / 19.0)[..., None])[bar]
    photo = photo.astype(np.float32)
    piece = (gold | cast | glint | bar).astype(np.float32)
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)

    def analyse():
        return HybridAnalyzer(MatteOnly(piece, sweep), MatteOnly(piece), extend=False).analyse(
            photo
        )

    merged = analyse()
    assert (merged.matte[cast] == 0).all()
    assert (merged.matte[gold] == 1).all() and (merged.matte[bar] == 1).all()
    assert np.abs(merged.shadow[cast] - darkening[cast]).max() < 0.05
    monkeypatch.setattr(hybrid, "ATTACHED_CONTACT_FADE", np.inf)  # the rule off
    assert (analyse().matte[cast] == 1).all()
