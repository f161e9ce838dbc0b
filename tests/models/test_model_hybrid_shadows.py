"""The hybrid analyzer on a clean sweep keeps the piece's cast shadow out of the piece, and
still takes in the fine parts the network misses (models/net/hybrid.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from models.analysis import Analysis, Backdrop


class _Fixed:
    def __init__(self, matte, backdrop=None):
        self.matte, self.backdrop = matte, backdrop

    def analyse(self, rgb):
        zero = np.zeros_like(self.matte)
        return Analysis(self.matte, self.matte.copy(), zero, zero, zero, None, self.backdrop)


def _scene():
    h, w = 60, 90
    light = np.full((h, w, 3), 0.8, np.float32)
    rgb = light.copy()
    net = np.zeros((h, w), np.float32)
    net[20:40, 10:30] = 1.0  # the piece the network found
    rgb[20:40, 10:30] = (0.6, 0.45, 0.2)  # gold
    yy, xx = np.mgrid[0:h, 0:w]
    soft = ndimage.gaussian_filter(((yy > 20) & (yy < 40) & (xx >= 30) & (xx < 45)) * 1.0, 3)
    rgb *= (1 - 0.3 * soft * (net < 0.5))[..., None]  # its smooth cast shadow to the right
    chain = (yy == 30) & (xx >= 0) & (xx < 10)  # a fine silver chain to the left
    rgb[chain | ((yy == 31) & (xx < 10) & (xx % 2 == 0))] = 0.35  # links: sharp, neutral
    classical = net.copy()
    classical[soft > 0.2] = 1.0  # image analysis attaches the shadow...
    classical[29:33, 0:10] = 1.0  # ...and sees the chain
    return rgb, light, net, classical, soft


def test_the_cast_shadow_stays_out_and_the_chain_comes_in():
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, soft = _scene()
    h, w = net.shape
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)  # clean, not precise
    merged = HybridAnalyzer(_Fixed(classical, sweep), _Fixed(net)).analyse(rgb)
    shadow_core = (soft > 0.5) & (net < 0.5)
    assert merged.matte[shadow_core].max() == 0.0
    assert (merged.matte[30, 1:9] == 1.0).all()
    # On a loose fit the colour test is not trusted, and image analysis's piece is taken in.
    loose = Backdrop(light, np.zeros((h, w), np.float32), 0.4)
    merged = HybridAnalyzer(_Fixed(classical, loose), _Fixed(net)).analyse(rgb)
    assert merged.matte[shadow_core].min() == 1.0


class _V2:
    """Stands in for JewelNet v2: a matte and a calibrated cast-shadow map."""

    def __init__(self, matte, shadow):
        self.matte, self.shadow = matte, shadow

    def analyse(self, rgb):
        zero = np.zeros_like(self.matte)
        return Analysis(self.matte, self.matte.copy(), zero, zero, self.shadow, None,
                        props=zero.copy())


def test_v2s_calibrated_shadow_keeps_the_shadow_out_on_a_loose_fit():
    """With v2's shadow map (hybrid_v2shadow's split) the shadow rules hold on a backdrop fit
    that is not clean (tau 0.4): the v1-only hybrid takes the attached shadow in there."""
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, soft = _scene()
    h, w = net.shape
    loose = Backdrop(light, np.zeros((h, w), np.float32), 0.4)
    shadow = (0.3 * soft * (net < 0.5)).astype(np.float32)
    merged = HybridAnalyzer(_Fixed(classical, loose), _Fixed(net),
                            props_net=_V2(net, shadow), props_net_maps=("shadow",),
                            find_props=False).analyse(rgb)
    # All of what image analysis attached, its faint fringe too (strength 0.06-0.15, under
    # the threshold a loose fit asks of v1's map).
    attached = (classical > 0.5) & (net < 0.5) & (soft > 0.2)
    assert merged.matte[attached].max() == 0.0
    assert (merged.matte[30, 1:9] == 1.0).all()  # the chain still comes in


def test_a_flat_patch_only_v2_calls_piece_is_backdrop():
    """v2's matte alone (v1 and image analysis: backdrop) on a flat patch is backdrop; on a
    textured one (a piece both others missed) it stays."""
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, soft = _scene()
    h, w = net.shape
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.2)
    v2 = net.copy()
    v2[45:55, 50:60] = 1.0  # a flat paper patch: the photo is plain backdrop there
    v2[45:55, 70:80] = 1.0  # and a textured one
    rng = np.random.default_rng(0)
    rgb = rgb.copy()
    rgb[45:55, 70:80] *= rng.uniform(0.5, 1.0, (10, 10, 1)).astype(np.float32)
    zero = np.zeros((h, w), np.float32)
    merged = HybridAnalyzer(_Fixed(classical, sweep), _Fixed(net),
                            props_net=_V2(v2, zero), props_net_maps=("matte", "shadow"),
                            find_props=False).analyse(rgb)
    assert merged.matte[46:54, 51:59].max() == 0.0
    assert merged.matte[46:54, 71:79].min() == 1.0
    assert merged.matte[22:38, 12:28].min() == 1.0  # the piece itself untouched


def test_the_confidence_still_sees_a_piece_run_off_the_frame_when_v2s_shadow_trims_it():
    """On a scene that is no sweep, image analysis's piece (grown from the network's) runs off
    the frame; v2's shadow map can trim that growth away, and the cut-out would look safe.
    The hybrid reports the untrimmed piece's border share and the confidence reads it."""
    from models.analysis.confidence import assess
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, soft = _scene()
    h, w = net.shape
    classical = net.copy()
    classical[29:32, 30:] = 1.0  # image analysis: a strip from the piece to the frame's edge
    classical[-2:, :] = 1.0  # and on along the bottom and right edges (a table's edge)
    classical[:, -2:] = 1.0
    shadow = np.where(classical > net, 0.5, 0.0).astype(np.float32)  # v2: all of it shadow
    loose = Backdrop(light, np.zeros((h, w), np.float32), 0.4)
    v1_only = HybridAnalyzer(_Fixed(classical, loose), _Fixed(net)).analyse(rgb)
    with_v2 = HybridAnalyzer(_Fixed(classical, loose), _Fixed(net),
                             props_net=_V2(net, shadow), props_net_maps=("shadow",),
                             find_props=False).analyse(rgb)
    assert with_v2.matte[:, 45:].max() == 0.0  # v2's shadow trimmed the growth...
    assert v1_only.matte[-1, :].min() == 1.0  # ...which v1's hybrid took in
    assert with_v2.extras["attached_border_piece"] > 0.35
    assert "attached_border_piece" not in v1_only.extras
    assert assess(with_v2, rgb).matte_certainty == 0.0
    assert assess(v1_only, rgb).matte_certainty == 0.0
    trimmed = {k: v for k, v in with_v2.extras.items() if k != "attached_border_piece"}
    unguarded = dataclasses.replace(with_v2, extras=trimmed)
    assert assess(unguarded, rgb).matte_certainty > 0.5  # what the guard is for


def _stone_scene():
    """A pale stone (beige on grey paper) set in a metal frame: the network's matte holes its
    face, image analysis has it whole, and a faint network shadow lies over the hole and
    over the real cast shadow beside the piece."""
    h, w = 70, 100
    light = np.full((h, w, 3), 0.8, np.float32)
    rgb = light.copy()
    yy, xx = np.mgrid[0:h, 0:w]
    disc = np.hypot(yy - 35, xx - 40) < 22
    frame = disc & ~(np.hypot(yy - 35, xx - 40) < 18)
    face = disc & ~frame
    rgb[disc] = (0.62, 0.55, 0.38)  # the stone: darker and far warmer than the paper
    rgb[frame] = (0.7, 0.7, 0.72)
    cast = (np.hypot(yy - 38, xx - 66) < 6) & ~disc  # a small cast shadow beside it
    rgb[cast] *= 0.75
    net = np.zeros((h, w), np.float32)
    net[frame] = 1.0
    hole = face & (np.hypot(yy - 35, xx - 40) < 12)  # the network misses the face's middle
    net[face & ~hole] = 1.0
    net[disc & (np.abs(xx - 40) <= 1) & (yy < 35)] = 0.0  # ...through a gap to the paper
    classical = disc.astype(np.float32)
    classical[cast] = 1.0
    classical[(yy == 38) & (xx >= 62) & (xx < 66)] = 1.0  # the shadow touches the piece
    shadow = np.zeros((h, w), np.float32)
    shadow[hole] = 0.1  # the network's shadow fires faintly over the pale face
    shadow[cast] = 0.4
    return rgb, light, net, classical, shadow, hole, cast


def test_a_shadow_the_piece_surrounds_is_the_piece_not_its_shadow():
    """The network's shadow map over a pale stone's face (d016) must not hole it: a region
    surrounded by the piece is inside it. The real cast shadow beside the piece stays out."""
    from models.net import hybrid
    from models.net.hybrid import HybridAnalyzer

    rgb, light, net, classical, shadow, hole, cast = _stone_scene()
    h, w = net.shape
    sweep = Backdrop(light, np.zeros((h, w), np.float32), 0.3)  # clean for v2's shadow

    def run():
        return HybridAnalyzer(_Fixed(classical, sweep), _Fixed(net),
                              props_net=_V2(net, shadow), props_net_maps=("shadow",),
                              find_props=False).analyse(rgb)

    merged = run()
    assert merged.matte[hole].min() == 1.0  # the face is whole
    assert merged.matte[cast].max() == 0.0  # the cast shadow is not piece
    # The floor seen through a ring, in its shadow, looks like a shadow: it stays out.
    grey = rgb.copy()
    grey[hole] = light[hole] * 0.8
    enclosed = HybridAnalyzer._enclosed(
        hole, classical, hybrid._shadow_like(grey, light, net > 0.5) & ~(net > 0.5)
    )
    assert not enclosed.any()
    assert HybridAnalyzer._enclosed(hole, classical, np.zeros_like(hole))[hole].all()
    assert not HybridAnalyzer._enclosed(cast, classical, np.zeros_like(cast)).any()


def test_a_shadow_region_without_an_outline_is_not_enclosed(recwarn):
    """A region that fills the frame has no outline ring: it counts as open (no piece around
    it), and judging it raises no warning."""
    from models.net.hybrid import HybridAnalyzer

    everything = np.ones((20, 30), bool)
    out = HybridAnalyzer._enclosed(everything, np.ones((20, 30), np.float32), ~everything)
    assert not out.any()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
