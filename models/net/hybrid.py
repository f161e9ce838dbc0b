"""The analyzer the pipeline uses by default: each map from whichever method won it.

Held-out results (models/MODEL_CARD.md) and the real photos decide the split: JewelNet v1
gives the piece matte and the metal and gem masks, JewelNet v2 the cast shadow (v1's when v2
is not loaded); the image-analysis method keeps the defect map (the
network finds far more defects but also flags some prong, pave and edge pixels, which the
retouch must never touch), the metal kind (no clear winner) and its backdrop model.

Two repairs on top, both from the image-analysis maps, which work at the full working size
(up to 768 px) where the network sees at most 192 px:

* holes: a blown-out highlight inside polished metal is backdrop-white, and the network can
  leave it out of the matte. Where the network's matte encloses a hole that the image-analysis
  method calls piece (it tells real see-through holes, which fit its backdrop model, from such
  patches), the hole is filled with the image-analysis maps.
* fine parts: chain links, thin wires and a white pearl on a white backdrop come out of the
  network soft or missing. Image-analysis piece components that touch the network's piece
  are united with it (the larger matte wins), except where the network sees the piece's own
  shadow: image analysis tends to keep a contact shadow attached. On the held-out renders this
  costs little (matte IoU 0.836 against 0.845 for the network alone) and on the procedural
  benchmark it removes most of the detail damage on chains and pearls (models/README.md).

Where the network's shadow map claims a part of image analysis's piece that the piece
surrounds (its outline meets the backdrop on under ENCLOSED_BACKDROP_SHARE) and that does
not look like a shadow on the sweep, it is piece (`_enclosed`): a cast shadow lies on the
floor beside the piece, and the map's faint response over a pale stone's face (d016's jade
donut, d010's coin) had holed it.

JewelNet v2 (`props_net`) can supply maps of its own (`props_net_maps`): the default takes its
cast shadow (fine-tuned, calibrated and about zero over the piece, so the shadow rules that
v1's noisy map kept to clean sweeps apply up to CLEAN_SWEEP_TAU_V2_SHADOW). Then the
confidence is also told how much of the frame's border image analysis's piece, grown from
the network's, would cover (`attached_border_piece`): v2's shadow can trim that growth on a
scene that is no sweep, and the smaller piece must not make a cut-out look safe. With v2's
matte (evaluation only) its maps replace v1's. On a sweep, a flat region that only the
network calls piece is backdrop (`_flat_net_only`), and so is a cast shadow both methods
took for piece, told from dark white metal by how it fades into the sweep
(`_attached_shadow`; its measured darkening goes to the shadow map).

Props (felt and foam pads, museum wax, acrylic clips: `_props`) come from JewelNet v2, the
only method trained on them (models/synth/props.py), when its weights are shipped: a support
it is sure of is backdrop, whatever image analysis or v1 call it, and image analysis's piece
is never extended or hole-filled into it; where it hid part of the piece that part stays
hidden. The pixels that were piece before are counted ("props_removed") for the warning.

On a dark backdrop (black or navy velvet: models/net/dark_backdrop.py) none of the above
applies: image analysis's backdrop model does not fit the velvet's folds, and the matte is
v2's outline settled by the velvet's measured colour (`_keyed`). On a backdrop of one
strong colour (magenta tissue, coloured card: models/net/coloured_backdrop.py) the same
holds, with the outline from the paper's measured colour and v2 saying where the piece is.

On a clean sweep (the backdrop model fits within VETO_MAX_TAU) image analysis is precise and
overrules the network on the backdrop (`_sure_backdrop`), adds its stones to the gem mask and
caps the network's shadow by the measured darkening (`_shadow`). A network that calls most of
the frame's border piece has mistaken the backdrop and is set aside (`_implausible`).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from models.analysis import Analysis
from models.analysis.classical import against_backdrop, colour_departure, log_gradient
from models.analysis.confidence import border_mask
from models.colour import LUMA
from models.net import coloured_backdrop, dark_backdrop
from models.net.analyzer import NetAnalyzer
from models.ops.channels import channel_max
from models.ops.regions import region_median, region_quantiles

NET_MAPS = ("matte", "metal", "gem", "shadow")
BACKDROP_SURE = 0.05  # image-analysis matte below this: the pixel fits the backdrop model
EXTEND_SOFT_EDGE = 2  # pixels around an image-analysis component that carry its soft edge
SHADOW_SURE = 0.15  # network shadow strength from which a pixel is the piece's shadow
SHADOW_SURE_CLEAN = 0.04  # the same on a clean sweep (tau <= CLEAN_SWEEP_TAU)
CLEAN_SWEEP_TAU = 0.25
# v2's shadow map is calibrated and ~0 over the piece (its fine-tune), so the shadow rules
# that v1's noisy map needed a clean sweep for apply up to this looser fit.
CLEAN_SWEEP_TAU_V2_SHADOW = 0.45
FLAT_SMOOTH = 0.02  # median log-gradient under which a network-only region is flat backdrop
FLAT_STEEP = 0.06  # ... and 90th-percentile log-gradient (a line of chain through it is over)
FLAT_MARGIN = 2  # px from image analysis's piece that its outline's gradient reaches
FLAT_MIN_RADIUS = 3  # px: the widest disc such a region must hold (a fine chain is thinner)
# A shadow on the sweep: darker than the backdrop model by this (log), within this of its
# colour, and with a gradient energy under this (models/analysis/classical.py's shadows).
SHADOW_LIKE_DARKER, SHADOW_LIKE_TINT, SHADOW_LIKE_SMOOTH = 0.05, 0.06, 0.05
# A cast shadow lies on the floor beside the piece: a region the network's shadow map claims
# whose outline ring is backdrop to image analysis on under this share is inside the piece
# (a pale stone's face, d016), not its shadow, unless it looks like a shadow on the sweep.
ENCLOSED_BACKDROP_SHARE = 0.1
ENCLOSED_RING = 3  # px of the outline ring around such a region
SHADOW_CLEAR = 0.15  # network shadow strength that clears a soft matte over it
INTERIOR_MARGIN = 3  # px from open backdrop within which a soft matte is the outline's coverage
INTERIOR_DEEP = 8  # ... and, for a soft region reaching the outline, may be an attached shadow
INTERIOR_PINHOLE = 4  # px: a network-only hole this small inside soft matte is no opening
# A cast shadow both methods call piece (attached to it, `_attached_shadow`): shadow-like
# (SHADOW_LIKE_DARKER / _TINT, not darker than this in log luminance: black is no shadow),
ATTACHED_DARKEST = 1.6
# fading into the sweep where it meets it (median log-gradient across that boundary under
# this; a metal silhouette stops there, 0.06 and more on the dev photos' white gold),
ATTACHED_EDGE = 0.05
# meeting the backdrop on at least this share of its outline (a cast shadow lies beside the
# piece), with this share of its pixels ATTACHED_MARGIN px or more from the rest of the
# piece (where its own smoothness can be measured) and a median |Laplacian| of log luminance
# there under ATTACHED_SMOOTH (a ramp, not texture), and at least ATTACHED_MIN_AREA px.
ATTACHED_OPEN_SHARE, ATTACHED_MEASURED_SHARE, ATTACHED_MARGIN = 0.1, 0.3, 2
ATTACHED_SMOOTH, ATTACHED_MIN_AREA = 0.1, 10
# Its median log luminance within ATTACHED_MARGIN px of the rest of the piece is at least this
# much darker than over its farther half (the shadows seen fade by 0.06 to 0.3; white metal
# mirroring a grey sweep by under 0.02 either way).
ATTACHED_FADE = 0.05
# A contact shadow, darkest at the piece's foot by ATTACHED_CONTACT_FADE or more, may end more
# steeply where the matte leaves it (median log-gradient under ATTACHED_CONTACT_EDGE).
ATTACHED_CONTACT_FADE, ATTACHED_CONTACT_EDGE = 0.3, 0.1
ATTACHED_TAIL = 8  # px: how far the shadow's faint tail is followed beyond it
# Only on a light sweep (median linear luminance of the backdrop model): polished white metal
# mirrors its surround, and on a mid-grey sweep it is as dark and neutral as a shadow on it,
# with no outline against it, and fades like one across a shank's curve (e03's white-gold
# ring on a 0.49 sweep lost half its shank). The dev photos' sweeps measure 0.43-0.50 (grey)
# and 0.64-0.95 (white paper, light tents).
ATTACHED_MIN_LIGHT = 0.6
# On a grey sweep the rule runs for a coloured metal only (a yellow or rose gold whose median
# log-colour departure from the light reaches BOUNCE_METAL_TINT; e04's yellow gold measures
# 0.42, e03's white gold 0.08), whose light bounces into its own cast shadow: there a shadow
# pixel may depart from the sweep's colour towards the metal's (cosine of the departures
# BOUNCE_COSINE or more) by up to BOUNCE_SHARE of the metal's own departure (e04's shadow
# beside the gold "A": 0.12 to 0.17, cosine 0.89 to 0.97). White metal that mirrors the sweep
# has no such gate to open.
BOUNCE_METAL_TINT, BOUNCE_SHARE, BOUNCE_COSINE = 0.15, 0.4, 0.8
BOUNCE_MIN_METAL = 50  # px of the piece's metal needed to measure its colour
# On a light sweep the rule runs a second time with a coloured metal's bounce light
# (ATTACHED_LIGHT_BOUNCE), which tints the shadow beside it there too (d021's gold wrap,
# e11's rose-gold wall, d072's brass stem: a grey-gold band left along the piece), but only
# for a region whose foot lies within BOUNCE_REACH px of the metal of that colour: a crystal
# in a silver coil far from a gold coin (d010) takes on none of the coin's light, and
# clearing it took half of it; and only for a region open to the sweep on BOUNCE_OPEN_SHARE
# of its outline (the crystal, wrapped in its coil: 0.11; the shadows cleared: 0.13 to 0.55,
# the large ones 0.2 or more). In that pass a sweep-side region linked to a shadow found goes
# with it even where it meets the piece's silhouette without fading from it
# (BOUNCE_JOIN_ANY: the shadow of a second branch running on from the first's, d072, d073).
ATTACHED_LIGHT_BOUNCE = True
BOUNCE_REACH = 8
BOUNCE_OPEN_SHARE = 0.2
BOUNCE_JOIN_ANY = True
SHADOW_SOFT_MATTE = 0.6  # a matte under this where the piece's shadow is seen is that shadow
VETO_RESIDUAL = 0.5  # backdrop-model residual, in units of its tau, of a sure backdrop pixel
VETO_MIN_AREA = 0.001  # share of the image a sure-backdrop region needs to overrule the net
BORDER_MAX = 0.5  # share of the frame's border the network's piece may cover
VETO_MAX_TAU = 0.15  # the backdrop model is trusted over the network only when this precise
MATTE_SPILL = 0.05  # matte above this: part of a blob of the network's matte
UNSUPPORTED_SHARE = 0.15  # a blob image analysis calls piece on less than this share of
PROP_SURE = 0.5  # the v2 network's prop probability from which a pixel is a support, not piece
PROP_NOT_PIECE = 0.3  # ... where its own matte, metal and gem maps stay under this
PROP_MIN_AREA = 0.0005  # share of the frame a prop region needs (smaller: noise)
PROP_OPEN_EDGE = 0.3  # share of a prop region's outline that must be backdrop to both methods
PROP_EDGE_WIDTH = 3  # px of the outline ring around a prop region
PROP_NET_AGREE = 0.5  # IoU of v2's and v1's pieces (outside the supports) for v2 to be trusted


def _adopt(merged: dict, base: Analysis, region: np.ndarray, new: np.ndarray) -> None:
    """Takes image analysis's piece into `merged` (in place): in `region` the larger matte wins
    and there is no shadow; in `new` (the pixels that were not the network's piece) the metal
    and gem maps are image analysis's. Maps float32 (h, w); region, new bool (h, w)."""
    if not region.any():
        return
    merged["matte"] = np.where(region, np.maximum(base.matte, merged["matte"]), merged["matte"])
    for name in ("metal", "gem"):
        merged[name] = np.where(new, getattr(base, name), merged[name]).astype(np.float32)
    merged["shadow"] = np.where(region, 0.0, merged["shadow"]).astype(np.float32)


def _border(values: np.ndarray) -> np.ndarray:
    """The frame's outermost pixels of an (h, w) map, each once: (2h + 2w - 4,)."""
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _shadow_like(rgb: np.ndarray, light: np.ndarray, piece: np.ndarray) -> np.ndarray:
    """Pixels that look like a shadow on the backdrop: bool (h, w).

    rgb, light: float32 (h, w, 3) linear photo and backdrop light field; piece: bool (h, w),
    the piece already known. Darker than the light by SHADOW_LIKE_DARKER or more (log
    luminance), within SHADOW_LIKE_TINT of its colour (log chromaticity), and smooth: the
    region's median local gradient energy, measured away from the known piece's own outline
    (which would make every shadow touching it look textured), under SHADOW_LIKE_SMOOTH. A
    fine silver chain is as neutral, but not smooth.
    """
    lum, tint = against_backdrop(rgb, light)
    grad = log_gradient(rgb)
    valid = (~ndimage.binary_dilation(piece, iterations=2)).astype(np.float32)
    energy = ndimage.uniform_filter(grad * valid, 5) / np.maximum(
        ndimage.uniform_filter(valid, 5), 1e-3
    )
    candidate = (lum < -SHADOW_LIKE_DARKER) & (tint < SHADOW_LIKE_TINT) & ~piece
    labels, count = ndimage.label(candidate)
    if count == 0:
        return candidate
    # Judged per region (its median), as image analysis judges its shadows: a shadow's soft
    # edge is locally steep, its body is not; a chain is steep throughout.
    typical = region_median(energy, labels, count)
    return np.concatenate([[False], typical < SHADOW_LIKE_SMOOTH])[labels]


def _metal_bounce(
    rgb: np.ndarray, light: np.ndarray, matte: np.ndarray, metal: np.ndarray, gem: np.ndarray
) -> np.ndarray | None:
    """A coloured metal's typical log-colour departure from the backdrop's light: float (3,),
    or None when the piece's metal is near-neutral (under BOUNCE_METAL_TINT) or too small to
    measure (under BOUNCE_MIN_METAL px). rgb, light: float32 (h, w, 3) linear photo and light
    field; matte, metal, gem: (h, w) 0..1 maps of the piece."""
    sure = (matte > 0.5) & (metal > 0.5) & (gem < 0.5)
    if int(sure.sum()) < BOUNCE_MIN_METAL:
        return None
    _, departure = colour_departure(rgb[sure], light[sure])
    typical = np.median(departure, axis=0)
    return typical if float(np.abs(typical).max()) >= BOUNCE_METAL_TINT else None


def _outline(regions: np.ndarray, labels: np.ndarray, count: int, open_to: np.ndarray):
    """Each labelled region's outline and how much of it lies on `open_to`.

    regions: bool (h, w), the labelled pixels; labels: int (h, w), 0 outside, 1..count;
    open_to: bool (h, w). Returns (ring: bool (h, w), the 1-px ring round the regions; near:
    int (h, w), a label each ring pixel borders; opening: bool (h, w), the ring on `open_to`;
    open_share: float (count,), each region's share of its ring on `open_to`)."""
    ring = ndimage.binary_dilation(regions, structure=np.ones((3, 3), dtype=bool)) & ~regions
    near = ndimage.grey_dilation(labels, size=3)
    opening = ring & open_to
    rings = np.bincount(near[ring], minlength=count + 1)[1:]
    opens = np.bincount(near[opening], minlength=count + 1)[1:]
    return ring, near, opening, opens / np.maximum(rings, 1)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


class HybridAnalyzer:
    """Runs both analyzers on the same working-resolution photo and merges their maps.

    analyse(rgb_linear): float32 (h, w, 3) linear 0..1 -> Analysis with (h, w) maps 0..1.
    """

    name = "hybrid"

    def __init__(
        self,
        classical,
        net: NetAnalyzer | None = None,
        extend: bool = True,
        props_net=None,
        props_net_maps: tuple[str, ...] = (),
        find_props: bool = True,
        dark_backdrops: bool = True,
        coloured_backdrops: bool = True,
    ) -> None:
        """props_net: an analyzer whose Analysis has `props` (JewelNet v2), or None for no
        prop removal. props_net_maps: the maps of NET_MAPS taken from props_net instead of
        `net` (each map from the network that won it on held-out renders). find_props: False
        uses props_net for its maps only and removes no supports. dark_backdrops: on a dark
        backdrop (models/net/dark_backdrop.py) the matte comes from props_net's matte and the
        velvet's colour (needs props_net). coloured_backdrops: the same on a backdrop of one
        strong colour (models/net/coloured_backdrop.py)."""
        if not set(props_net_maps) <= set(NET_MAPS) or (props_net_maps and props_net is None):
            raise ValueError(f"props_net_maps must name maps of {NET_MAPS} of a props_net")
        self.classical = classical
        self.net = net or NetAnalyzer()
        self.extend = extend
        self.props_net = props_net
        self.props_net_maps = tuple(props_net_maps)
        self.find_props = find_props
        self.dark_backdrops = dark_backdrops
        self.coloured_backdrops = coloured_backdrops

    def analyse(self, rgb_linear: np.ndarray) -> Analysis:
        # The analyses are independent; torch and numpy release the GIL, so the networks run
        # beside the image analysis (on a 2-core machine they cost little wall time).
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = pool.submit(self.net.analyse, rgb_linear)
            pending_props = (
                pool.submit(self.props_net.analyse, rgb_linear) if self.props_net else None
            )
            base = self.classical.analyse(rgb_linear)
            learned = pending.result()
            supports = pending_props.result() if pending_props else None
        net_matte = learned.matte
        if self.props_net_maps and supports is not None:
            learned = dataclasses.replace(
                learned, **{name: getattr(supports, name) for name in self.props_net_maps}
            )
        # A dark or a coloured backdrop: the matte from its measured colour (see _keyed).
        keyed = (("dark_backdrop", dark_backdrop, self.dark_backdrops),
                 ("coloured_backdrop", coloured_backdrop, self.coloured_backdrops))
        for key, module, enabled in keyed:
            if not enabled or supports is None:
                continue
            found = module.measure(rgb_linear, supports.matte)
            if found is not None:
                matte = module.cutout_matte(rgb_linear, supports.matte, found)
                return self._keyed(base, learned, supports, matte, key, found,
                                   2 * module.SAMPLE_GAP)
        finder = supports if self.find_props else None
        prop = self._props(finder, base.matte, net_matte)
        if self._implausible(learned.matte, base.matte):
            extras = {**base.extras, "analyzer": "hybrid", "net_rejected": True}
            return dataclasses.replace(base, extras=extras)
        # A clean sweep (the backdrop model fits to within VETO_MAX_TAU): image analysis at the
        # full working size is then precise, and its evidence overrules the 192-px network.
        model = base.backdrop
        precise = model is not None and model.tau <= VETO_MAX_TAU
        v2_shadow = "shadow" in self.props_net_maps and supports is not None
        clean_tau = CLEAN_SWEEP_TAU_V2_SHADOW if v2_shadow else CLEAN_SWEEP_TAU
        solid = learned.matte > 0.5
        base_solid = base.matte > 0.5
        clean = model is not None and model.tau <= clean_tau
        fill = ndimage.binary_fill_holes(solid) & ~solid & base_solid & ~prop
        hole_shadow = np.zeros_like(solid)
        if clean:
            # What image analysis calls piece in the network's holes and is, taken whole, the
            # sweep in shadow (the floor seen through a bangle, in the bangle's shadow: e11)
            # is neither filled in nor grown into below. Judged region by region: pixel by
            # pixel its warm part under the rim would stay as blotches on the white.
            hole_shadow = self._shadow_regions(fill, rgb_linear, model.light, base.matte)
            fill &= ~hole_shadow
        merged = {name: getattr(learned, name).astype(np.float32) for name in NET_MAPS}
        _adopt(merged, base, fill, fill)
        grown = np.zeros_like(solid)
        like = None  # what looks like the sweep in shadow beyond the network's piece
        reach = None  # image analysis's piece grown from the network's, before shadow trims
        if self.extend:
            # On a clean sweep image analysis separates shadows itself (its piece excludes them),
            # and the network's shadow map can cover the shaded side of a white pearl.
            not_shadow = np.zeros_like(learned.shadow) if precise else learned.shadow
            # A sweep that is clean but not precise (a soft light fall-off, a tinted sweep):
            # image analysis attaches the piece's shadow to it, and even a faint network
            # shadow is the better word. On a loose fit the network's shadow map is noisy
            # over the piece itself (a coin's engraving), and only a clear one counts.
            reach = self._reach(base_solid, solid)
            shaded = not_shadow >= (SHADOW_SURE_CLEAN if clean else SHADOW_SURE)
            grown = reach & ~shaded
            if clean:
                # What image analysis adds beyond the network's piece and looks like a shadow
                # on the sweep (darker than the backdrop model, its colour, smooth) is the
                # piece's cast shadow, not a part the network missed.
                like = _shadow_like(rgb_linear, model.light, solid) & ~solid
                grown |= self._enclosed(reach & shaded & ~solid, base.matte, like)
                grown &= ~like & ~hole_shadow
            grown &= ~prop
            _adopt(merged, base, grown, grown & ~solid)  # the network's piece keeps its maps
        # The network's matte is soft and spills a few pixels onto the backdrop; the backdrop
        # model is exact where a pixel fits it. Where both call a pixel backdrop, it is backdrop
        # (so it comes out at exactly 255, and maps of the piece do not bleed onto it).
        backdrop = (merged["matte"] < 0.5) & (base.matte < BACKDROP_SURE)
        # The network's soft matte spreads over the piece's own cast shadow; where it sees
        # that shadow and is not sure of the piece, the pixel is the backdrop's (a half-opaque
        # shadow over white is a grey blob with a hard edge).
        # (On a clean sweep only: on a loose fit its shadow map is noisy over the piece.)
        if model is not None and model.tau <= clean_tau:
            clear = (learned.shadow >= SHADOW_CLEAR) & (merged["matte"] < SHADOW_SOFT_MATTE)
            backdrop |= clear
        if model is not None:
            # The network's matte, alone against the backdrop model, on a flat patch of the
            # backdrop (the sweep seen through a ring, e08; the haze in a hook's loop, d009; a
            # soft shadow band beside a chain, d079; a paper disc inside a necklace, e09): no
            # piece is that smooth.
            flat = self._flat_net_only(rgb_linear, merged["matte"], base.matte, merged["gem"])
            backdrop |= flat
        else:
            flat = np.zeros_like(solid)
        attached = np.zeros_like(solid)
        bounce = None
        if model is not None and model.tau <= clean_tau:
            # The piece's cast shadow that both methods took for piece (a grey halo with a
            # jagged edge on the white otherwise: d003, d074, d104); on a grey sweep only
            # beside a coloured metal, whose bounce light tints it (e04); on a light sweep
            # also with that bounce light, near the metal (ATTACHED_LIGHT_BOUNCE).
            remaining = merged["matte"] * ~backdrop
            light_sweep = float(np.median(model.light @ LUMA)) >= ATTACHED_MIN_LIGHT
            bounce = _metal_bounce(rgb_linear, model.light, remaining, merged["metal"],
                                   merged["gem"])
            if light_sweep:
                attached = self._attached_shadow(rgb_linear, model.light, remaining,
                                                 merged["gem"])
                if bounce is not None and ATTACHED_LIGHT_BOUNCE:
                    # A coloured metal's bounce light tints its shadow on a light sweep
                    # too (d021, e11, d072), beside it.
                    attached |= self._attached_shadow(
                        rgb_linear, model.light, remaining, merged["gem"], bounce,
                        bounce_metal=merged["metal"],
                    )
            elif bounce is not None:
                attached = self._attached_shadow(
                    rgb_linear, model.light, remaining, merged["gem"], bounce
                )
        # The network's faint matte over a shadow image analysis attached to the piece (the
        # rule above leaves it: image analysis does not call it backdrop).
        faint = (self._faint_shadow(like & ~backdrop, merged["matte"]) if like is not None
                 else np.zeros_like(solid))
        # The shadow seen through the network's holes is the backdrop's too.
        cleared = attached | hole_shadow | faint
        backdrop |= cleared
        if cleared.any():
            # Its measured darkening is the shadow there (for shadow=natural, and so the edge
            # alpha at full size does not read the darker floor as the piece's coverage).
            lum, _ = against_backdrop(rgb_linear[cleared], model.light[cleared])
            darkening = np.clip(1.0 - np.exp(np.minimum(lum, 0.0)), 0.0, 1.0)
            merged["shadow"][cleared] = np.maximum(merged["shadow"][cleared], darkening)
        vetoed = np.zeros_like(solid)
        if precise:
            vetoed = self._sure_backdrop(base.matte, model.residual, model.tau)
            backdrop |= vetoed
        if model is not None and model.tau <= clean_tau:
            # On a clean sweep: what only the network calls piece, apart from the piece,
            # running into the frame's edge, is the sweep's own horizon or edge.
            backdrop |= self._unsupported_at_border(merged["matte"], base.matte)

        # A support (felt pad, wax, clip) is the backdrop's: it goes with it.
        # (counted where image analysis or the merge called the support piece: what the user
        # would otherwise have seen kept)
        props_removed = int((prop & (base_solid | (merged["matte"] > 0.5))).sum())
        backdrop |= prop
        for name in ("matte", "metal", "gem"):
            merged[name] = np.where(backdrop, 0.0, merged[name]).astype(np.float32)
        interior = np.zeros_like(solid)
        if clean:
            # The network's doubt deep inside the piece, where image analysis is sure of it:
            # no coverage (guided up to full size, a soft patch there follows the piece's own
            # pale spots and turns them into white holes: d013).
            interior = self._soft_interior(merged["matte"], base.matte)
            merged["matte"][interior] = 1.0
        if precise:
            # Stones the image-analysis method sees (by colour, or by facet sparkle at the full
            # working size) are stones too: protect-gems must never leave part of one behind.
            extra_gem = np.clip(base.gem, 0.0, 1.0) * (merged["matte"] > 0)
            merged["gem"] = np.maximum(merged["gem"], extra_gem)
            merged["metal"] = np.minimum(merged["metal"], 1.0 - extra_gem)
            merged["shadow"] = self._shadow(merged["shadow"], base, rgb_linear, merged["matte"])
        # How far the final piece strays from image analysis (0..1; confidence.py reads it).
        # The flat regions cleared above count as the network's piece here and at the border:
        # the network's matte spreading over a tray or a table (d090) is doubt about the
        # scene, which clearing the flat part of it must not hide.
        spread = (merged["matte"] > 0.5) | flat | attached
        agreement = _iou(spread, base_solid & ~prop)
        extras = {
            **base.extras,
            "analyzer": "hybrid",
            "net_maps": list(NET_MAPS),
            "v2_maps": list(self.props_net_maps),
            "filled_from_classical": int(fill.sum()),
            "extended_from_classical": int((grown & ~solid & base_solid).sum()),
            "vetoed_by_classical": int((vetoed & solid).sum()),
            "precise_backdrop": bool(precise),
            "net_classical_iou": round(agreement, 4),
        }
        if finder is not None:
            extras["props_removed"] = props_removed
        if attached.any():
            extras["attached_shadow_cleared"] = int(attached.sum())
        if hole_shadow.any():
            extras["hole_shadow_cleared"] = int(hole_shadow.sum())
        if faint.any():
            extras["faint_shadow_cleared"] = int(faint.sum())
        if interior.any():
            extras["soft_interior_filled"] = int(interior.sum())
        if flat.any():
            extras["flat_cleared"] = int(flat.sum())
            extras["network_border_piece"] = round(
                float(spread[border_mask(spread.shape)].mean()), 4
            )
        if v2_shadow and reach is not None:
            # v2's shadow trims image analysis's piece where v1's did not; the confidence
            # still asks how much of the frame's border that piece, grown from the network's,
            # would cover (on a scene that is no sweep it runs off the frame: d084).
            extras["attached_border_piece"] = round(
                float(reach[border_mask(reach.shape)].mean()), 4
            )
        maps = {name: value.astype(np.float32) for name, value in merged.items()}
        props = prop.astype(np.float32) if finder is not None else None
        return dataclasses.replace(base, extras=extras, props=props, **maps)

    @staticmethod
    def _keyed(
        base: Analysis,
        learned: Analysis,
        supports: Analysis,
        matte: np.ndarray,
        key: str,
        found: dark_backdrop.DarkBackdrop | coloured_backdrop.ColouredBackdrop,
        gap: int,
    ) -> Analysis:
        """The analysis of a photo on a dark backdrop (black or navy velvet:
        models/net/dark_backdrop.py) or on one of a strong colour (models/net/
        coloured_backdrop.py), whose `matte` came from the backdrop's measured colour.

        base, learned, supports: image analysis's, the network maps the hybrid uses (v1's,
        with v2's where asked) and v2's analyses. The metal and gem maps are `learned`'s
        within the matte; no cast shadow (on velvet or coloured paper a shadow is only darker
        backdrop, nothing a white cut-out keeps); no backdrop model (image analysis's does not
        fit velvet or crumpled paper: its cast, edge matting and confidence would be wrong).
        found: the backdrop `module.measure` found. extras[key] holds its `facts` and how
        decisive v2's own matte was over the backdrop `gap` px away from the piece (whose
        softness the backdrop's colour settled: soft ghosts of v2's matte there are backdrop
        it was unsure of), for the confidence; over the band around the piece where the
        paper does not fill the frame (found.surround).
        """
        inside = matte > 0
        away = ~ndimage.binary_dilation(inside, iterations=gap)
        surround = getattr(found, "surround", None)
        if surround is not None:
            # (paper that does not fill the frame: judged on the band around the piece; what
            # lies beyond the sheet is the table, whatever v2 makes of it)
            away &= surround
        v2 = supports.matte[away]
        decisive = float(((v2 < 0.1) | (v2 > 0.9)).mean()) if v2.size else 0.0
        extras = {
            **base.extras,
            "analyzer": "hybrid",
            key: {**found.facts(), "v2_decisive": round(decisive, 4)},
        }
        return dataclasses.replace(
            base,
            matte=matte,
            metal=np.where(inside, learned.metal, 0.0).astype(np.float32),
            gem=np.where(inside, learned.gem, 0.0).astype(np.float32),
            shadow=np.zeros_like(matte),
            backdrop=None,
            extras=extras,
        )

    @staticmethod
    def _props(
        supports: Analysis | None, base_matte: np.ndarray, net_matte: np.ndarray
    ) -> np.ndarray:
        """The supports to remove: bool (h, w).

        supports: the v2 network's analysis (or None: nothing is removed); base_matte, net_matte:
        image analysis's and the `net` analyzer's (v1's) mattes (h, w) 0..1. A pixel is a prop
        where the network's prop map is at least PROP_SURE, its own matte, metal and gem maps
        stay under PROP_NOT_PIECE and v1 does not call it piece either (matte <= 0.5: on the
        renders v1 already leaves most of a pad out, and what the hybrid kept of pads was
        image analysis's piece grown into them; on real photos v2 alone took the inside of a
        bangle, e11, and on constructed scenes flat silver, for felt), in
        connected regions of at least PROP_MIN_AREA of the frame (single pixels are noise)
        whose outline (a PROP_EDGE_WIDTH ring inside the frame) is backdrop to both methods
        over at least PROP_OPEN_EDGE of its length: a pad or a blob of wax stands on the
        backdrop; a patch enclosed by the piece (a matte cabochon, a jasper pendant's face)
        is part of the piece, whatever the network's prop map says. And only when v2 agrees
        with v1 on the rest of the piece (IoU >= PROP_NET_AGREE of their pieces outside the
        candidate supports): a v2 that misreads the whole photo (it took most of a
        constructed silver bar for felt) removes nothing.
        """
        if supports is None or supports.props is None:
            return np.zeros(base_matte.shape, bool)
        sure = (
            (supports.props >= PROP_SURE)
            & (net_matte <= 0.5)
            & (supports.matte < PROP_NOT_PIECE)
            & (supports.metal < PROP_NOT_PIECE)
            & (supports.gem < PROP_NOT_PIECE)
        )
        labels, count = ndimage.label(sure)
        if count == 0:
            return sure
        if _iou(supports.matte > 0.5, (net_matte > 0.5) & ~sure) < PROP_NET_AGREE:
            return np.zeros_like(sure)
        areas = np.bincount(labels.ravel())
        backdrop = (supports.matte < 0.5) & (base_matte < 0.5) & ~sure
        keep = np.zeros(count + 1, bool)
        slices = ndimage.find_objects(labels)
        pad = PROP_EDGE_WIDTH
        for k in np.flatnonzero(areas[1:] >= PROP_MIN_AREA * sure.size) + 1:
            ys, xs = slices[k - 1]
            window = (
                slice(max(ys.start - pad, 0), ys.stop + pad),
                slice(max(xs.start - pad, 0), xs.stop + pad),
            )
            region = labels[window] == k
            ring = ndimage.binary_dilation(region, iterations=pad) & ~region
            if ring.any() and float(backdrop[window][ring].mean()) >= PROP_OPEN_EDGE:
                keep[k] = True
        return keep[labels]

    @staticmethod
    def _flat_net_only(
        rgb: np.ndarray, matte: np.ndarray, base_matte: np.ndarray, gem: np.ndarray
    ) -> np.ndarray:
        """Regions only the network calls piece that are flat backdrop: bool (h, w).

        rgb: float32 (h, w, 3) linear photo; matte, gem: the merged matte and gem map;
        base_matte: image analysis's matte (all (h, w) 0..1). Connected regions where the
        merged matte is over 0.5 while image analysis calls the pixel backdrop (matte <
        BACKDROP_SURE: it fits the backdrop model), whose log-gradient has a median under
        FLAT_SMOOTH and a 90th percentile under FLAT_STEEP (no line of steep pixels: a fine
        chain through it), both measured FLAT_MARGIN px away from image analysis's piece
        (whose outline would make a flat patch beside it look textured), that hold a disc of
        FLAT_MIN_RADIUS px (a fine chain is thinner) and that the network does not call a
        stone (mean gem map under 0.5). Metal, stones and pearls have texture, highlights or
        noise above that; the sweep the 192-px network's matte spread over (the inside of a
        ring, a hook's loop, a soft shadow band beside a fine chain) does not. Image
        analysis's own piece is never in such a region, so a fine part it resolved stays.
        """
        only = (matte > 0.5) & (base_matte < BACKDROP_SURE)
        labels, count = ndimage.label(only)
        if count == 0:
            return only
        index = np.arange(1, count + 1)
        away = ~ndimage.binary_dilation(base_matte >= BACKDROP_SURE, iterations=FLAT_MARGIN)
        measured = np.where(away, labels, 0)
        grad = log_gradient(rgb)
        # A fine chain image analysis did not resolve runs through a broad band of the
        # network's matte as a line of steep pixels in a flat region (d078): that band stays.
        typical, steep = region_quantiles(grad, measured, count, (0.5, 0.9))
        stone = np.asarray(ndimage.mean(gem, labels, index), dtype=float) >= 0.5
        # A fine chain on white that image analysis cannot resolve is as flat as the sweep
        # at the working size, but thin (d078); the sweep the network spread over is broad.
        width = np.asarray(ndimage.maximum(ndimage.distance_transform_edt(only), labels, index))
        flat = ((typical < FLAT_SMOOTH) & (steep < FLAT_STEEP) & ~stone
                & (width >= FLAT_MIN_RADIUS))
        return np.concatenate([[False], flat])[labels]

    @staticmethod
    def _attached_shadow(
        rgb: np.ndarray, light: np.ndarray, matte: np.ndarray, gem: np.ndarray,
        bounce: np.ndarray | None = None, bounce_metal: np.ndarray | None = None,
    ) -> np.ndarray:
        """The piece's cast shadow inside the merged piece: bool (h, w).

        rgb, light: float32 (h, w, 3) linear photo and backdrop light field; matte, gem: the merged
        matte and gem map (h, w) 0..1; bounce: None, or a coloured metal's log-colour departure from
        the light (3,) (`_metal_bounce`), whose bounce light may tint its shadow: a pixel departing
        towards it (cosine BOUNCE_COSINE or more) by under BOUNCE_SHARE of its strength is as
        shadow-like as a neutral one; where bounce_metal (the metal map (h, w) 0..1) is given,
        only in a region whose foot lies within BOUNCE_REACH px of the piece's metal of that
        colour (departing towards `bounce`, cosine BOUNCE_COSINE or more, by at least half its
        strength) and that is open to the sweep on BOUNCE_OPEN_SHARE of its outline (and then,
        with BOUNCE_JOIN_ANY, any region linked to it on the sweep's side goes too).
        Image analysis attaches a soft cast shadow that darkens the
        sweep steeply next to the piece to the piece, and the network's matte spreads over it:
        neither clears it. Candidates are the piece's pixels that look like the sweep in shadow
        (darker than the light by SHADOW_LIKE_DARKER up to ATTACHED_DARKEST in log luminance, within
        SHADOW_LIKE_TINT of its colour, not a stone); a connected region of them is the shadow when
        it meets the backdrop on ATTACHED_OPEN_SHARE of its outline, fades into it there (median
        log-gradient across that boundary under ATTACHED_EDGE) and is a smooth ramp inside (median
        |Laplacian| of log luminance under ATTACHED_SMOOTH over its pixels ATTACHED_MARGIN px or
        more from the rest of the piece, which must be ATTACHED_MEASURED_SHARE of it); where it
        meets the rest of the piece the edge is steep (median log-gradient ATTACHED_EDGE or more:
        the piece's silhouette), and it is darkest there, lightening by ATTACHED_FADE or more
        towards its farther half. Polished white metal as dark and neutral as the shaded sweep is as
        smooth, but its silhouette stops sharply where it meets a light sweep, and on a grey sweep
        that it mirrors it does not fade away from the piece. Regions are judged without their thin
        parts (a 3 x 3 opening), so a thin line of neutral metal cannot join a shadow to a shadow-
        like part inside the piece; thin parts within ATTACHED_MARGIN px of a shadow go with it
        unless they also touch a region judged to be piece. The shadow's faint tail touching it goes
        too, up to ATTACHED_TAIL px: the network's soft matte (<= 0.5) over the sweep in shadow, and
        the piece's pixels less than SHADOW_LIKE_DARKER darker than the light.
        """
        # What it clears lies within ATTACHED_TAIL (+ ATTACHED_MARGIN) px of the piece: on the
        # piece's box with a wider margin (for the stencils and the links through the shaded
        # sweep) it gives the frame's answer at a fraction of the cost.
        solid = matte > 0.5
        present = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
        if present[0].size == 0:
            return np.zeros(matte.shape, dtype=bool)
        margin = 2 * ATTACHED_TAIL
        box = tuple(slice(max(int(p[0]) - margin, 0), min(int(p[-1]) + margin + 1, n))
                    for p, n in zip(present, matte.shape, strict=True))
        if any(b.start > 0 or b.stop < n for b, n in zip(box, matte.shape, strict=True)):
            found = np.zeros(matte.shape, dtype=bool)
            found[box] = HybridAnalyzer._attached_shadow(
                rgb[box], light[box], matte[box], gem[box], bounce,
                None if bounce_metal is None else bounce_metal[box],
            )
            return found
        eight = np.ones((3, 3), dtype=bool)
        lum, departure = colour_departure(rgb, light)
        tint = channel_max(np.abs(departure))
        sweep_tint = tint < SHADOW_LIKE_TINT
        if bounce is not None:
            strength = float(np.abs(bounce).max())
            along = departure @ (bounce / np.linalg.norm(bounce))
            cosine = along / np.maximum(np.linalg.norm(departure, axis=-1), 1e-6)
            sweep_tint |= (tint < BOUNCE_SHARE * strength) & (cosine >= BOUNCE_COSINE)
        piece = matte > 0.5
        near_metal = None
        if bounce is not None and bounce_metal is not None:
            # (the box's margin, 2 * ATTACHED_TAIL, is wider than BOUNCE_REACH: the same
            # answer as on the whole frame)
            source = (piece & (bounce_metal > 0.5) & (gem < 0.5) & (cosine >= BOUNCE_COSINE)
                      & (along >= 0.5 * float(np.linalg.norm(bounce))))
            near_metal = ndimage.binary_dilation(source, iterations=BOUNCE_REACH)
        candidate = (piece & (lum < -SHADOW_LIKE_DARKER) & (lum > -ATTACHED_DARKEST)
                     & sweep_tint & (gem < 0.5))
        rest = piece & ~candidate
        if not rest.any() or not candidate.any():
            return np.zeros_like(candidate)
        # Judged without its thin parts: a line of neutral metal (a silver wire's outline)
        # must not join the piece's shadow to a shadow-like part inside the piece (d071).
        thick = ndimage.binary_opening(candidate, structure=eight)
        labels, count = ndimage.label(thick, structure=eight)
        if count == 0:
            return np.zeros_like(candidate)
        thin = candidate & ~thick
        candidate = thick
        measured = candidate & ~ndimage.binary_dilation(rest, iterations=ATTACHED_MARGIN)
        log_lum = np.log(np.maximum(rgb @ LUMA, 0.0) + 0.01)
        curvature = np.abs(ndimage.laplace(log_lum))
        (ramp,) = region_quantiles(curvature, np.where(measured, labels, 0), count, (0.5,))
        # The outline ring, each pixel labelled with a region it borders.
        ring, near, opening, open_share = _outline(candidate, labels, count, ~piece)
        grad = log_gradient(rgb)
        (edge,) = region_quantiles(grad, np.where(opening, near, 0), count, (0.5,))
        # Where it meets the rest of the piece, a cast shadow meets the piece's silhouette, a
        # steep edge; a region that runs on smoothly into more of the piece (a shaded floor
        # that turns warm under a rose-gold rim, e11) is not cut there: that would leave a
        # step in a smooth ramp.
        inner = ring & rest
        (meet,) = region_quantiles(grad, np.where(inner, near, 0), count, (0.5,))
        # A cast shadow is darkest at its foot, next to the piece, and lightens away from it;
        # white metal mirroring the sweep (a ring's shank on grey, e03) has no such fade.
        distance = ndimage.distance_transform_edt(~rest)
        (typical_distance,) = region_quantiles(distance, labels, count, (0.5,))
        at_foot = candidate & (distance <= ATTACHED_MARGIN)
        away = candidate & (distance >= np.concatenate([[np.inf], typical_distance])[labels])
        (foot,) = region_quantiles(lum, np.where(at_foot, labels, 0), count, (0.5,))
        (tail,) = region_quantiles(lum, np.where(away, labels, 0), count, (0.5,))
        fade = tail - foot  # -inf where the region does not touch the rest of the piece
        areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        counted = np.bincount(labels[measured], minlength=count + 1)[1:]
        # On the sweep's side: open to it, fading into it, a smooth ramp, big enough.
        beside = ((open_share >= ATTACHED_OPEN_SHARE) & (counted >= ATTACHED_MEASURED_SHARE * areas)
                  & (ramp < ATTACHED_SMOOTH) & (areas >= ATTACHED_MIN_AREA))
        sweep_side = beside & (edge < ATTACHED_EDGE)
        contact = beside & (edge < ATTACHED_CONTACT_EDGE) & (fade >= ATTACHED_CONTACT_FADE)
        shadow = (sweep_side | contact) & (meet >= ATTACHED_EDGE) & (fade >= ATTACHED_FADE)
        if near_metal is not None:
            # Its foot must lie beside the metal whose light tints it.
            beside_metal = np.bincount(labels[at_foot & near_metal], minlength=count + 1)[1:]
            shadow &= (beside_metal > 0) & (open_share >= BOUNCE_OPEN_SHARE)
        # The shadow's outer parts cut off from it (by the opening, a thin part, or the
        # network's matte dipping to 0.5 across it): a region linked to one judged shadow
        # through pixels that look like the sweep in shadow, open to the sweep, fading into it
        # and smooth, that does not meet the piece's silhouette (a soft edge there, or no
        # contact), is the same shadow (e04's, beyond the gold "A").
        # (meet is inf where a region does not touch the rest of the piece; such a region
        # has no fade either, so it is never `shadow` itself)
        joinable = sweep_side & ((meet < ATTACHED_EDGE) | np.isinf(meet))
        if near_metal is not None and BOUNCE_JOIN_ANY:
            joinable = sweep_side
        if joinable.any() and shadow.any():
            shaded_sweep = ((lum < -SHADOW_LIKE_DARKER) & (lum > -ATTACHED_DARKEST) & sweep_tint
                            & (matte > 0) & ~piece)
            links, _ = ndimage.label(thick | thin | shaded_sweep, structure=eight)
            linked = np.zeros(links.max() + 1, dtype=bool)
            linked[np.unique(links[np.concatenate([[False], shadow])[labels]])] = True
            linked[0] = False
            region_link = np.zeros(count + 1, dtype=int)
            region_link[labels[thick]] = links[thick]
            shadow = shadow | (joinable & linked[region_link[1:]])
        found = np.concatenate([[False], shadow])[labels]
        # The thin parts of the shadow beside it (a band along a link's edge) go with it,
        # but not a thin line that also joins a region judged to be piece (the silver line).
        bridges, bridge_count = ndimage.label(thin, structure=eight)
        kept = ndimage.binary_dilation(thick & ~found, structure=eight)
        joins = np.zeros(bridge_count + 1, dtype=bool)
        joins[np.unique(bridges[kept & thin])] = True
        joins[0] = True
        found |= ndimage.binary_dilation(found, iterations=ATTACHED_MARGIN,
                                         mask=thin & ~joins[bridges])
        # The shadow's faint tail goes with it: the network's soft spill (matte up to 0.5)
        # over the sweep in shadow, and the piece's pixels less than SHADOW_LIKE_DARKER
        # darker than the light, or they stay a grey streak along the cleared region (d074).
        faint = (lum < 0.0) & sweep_tint & (matte > 0)
        spill = faint & (~piece | (lum >= -SHADOW_LIKE_DARKER))
        return ndimage.binary_dilation(found, iterations=ATTACHED_TAIL, mask=found | spill)

    @staticmethod
    def _soft_interior(matte: np.ndarray, base_matte: np.ndarray) -> np.ndarray:
        """Soft matte enclosed deep inside the piece: bool (h, w).

        matte: the merged matte (h, w) 0..1, backdrop already at 0; base_matte: image
        analysis's (binary) matte. Connected regions where the matte is over 0.5 and under 1
        of which no pixel lies within INTERIOR_MARGIN px of open backdrop to either method
        (matte <= 0.5, or image analysis's backdrop): softness walled in by the network's
        sure piece is not an outline's coverage. A soft region that reaches the outline is
        filled only INTERIOR_DEEP px or more from open backdrop: near the outline it may be
        the network's soft edge running on over a cast shadow image analysis attached to the
        piece (d041: within 7 px), which a whole matte would make a solid grey band, while
        the network's doubt over a stone under a wire wrap lies far deeper (d021). Pinholes
        (parts of at most INTERIOR_PINHOLE px that only the network calls backdrop) are no
        opening: they count as soft and fill with the patch around them."""
        network_only = (matte <= 0.5) & (base_matte > 0.5)
        holes, hole_count = ndimage.label(network_only, structure=np.ones((3, 3), bool))
        small = np.bincount(holes.ravel(), minlength=hole_count + 1) <= INTERIOR_PINHOLE
        small[0] = False
        pinholes = small[holes]
        soft = ((matte > 0.5) & (matte < 1)) | pinholes
        if not soft.any():
            return soft
        open_backdrop = ((matte <= 0.5) | (base_matte <= 0.5)) & ~pinholes
        near = ndimage.binary_dilation(open_backdrop, iterations=INTERIOR_MARGIN)
        labels, count = ndimage.label(soft, structure=np.ones((3, 3), bool))
        enclosed = np.ones(count + 1, bool)
        enclosed[np.unique(labels[soft & near])] = False
        enclosed[0] = False
        # (INTERIOR_DEEP iterations from open backdrop: the rest on top of `near`'s)
        deep = ~ndimage.binary_dilation(near, iterations=INTERIOR_DEEP - INTERIOR_MARGIN)
        return enclosed[labels] | (soft & deep)

    @staticmethod
    def _faint_shadow(like: np.ndarray, matte: np.ndarray) -> np.ndarray:
        """The network's faint matte over the sweep in shadow: bool (h, w).

        like: bool (h, w), pixels that look like the sweep in shadow beyond the network's
        piece (`_shadow_like`) and not yet backdrop; matte: the merged matte (h, w) 0..1.
        Where the matte is soft (0 < matte < 0.5: the network unsure) over such pixels,
        image analysis has attached the piece's cast shadow to it, and the pixels are
        backdrop: a translucent grey patch on the white otherwise (the shadow under e10's
        shank). The piece's own soft edge stays: within EXTEND_SOFT_EDGE px of the piece
        (matte > 0.5), and thin slivers along its outline (judged after a 3 x 3 opening, in
        parts of at least ATTACHED_MIN_AREA px: the shaded line of a ring's rim, e01).
        """
        near_piece = ndimage.binary_dilation(matte > 0.5, iterations=EXTEND_SOFT_EDGE)
        faint = like & (matte > 0) & (matte < 0.5) & ~near_piece
        faint = ndimage.binary_opening(faint, structure=np.ones((3, 3), dtype=bool))
        labels, count = ndimage.label(faint)
        if count == 0:
            return faint
        big = np.bincount(labels.ravel(), minlength=count + 1) >= ATTACHED_MIN_AREA
        big[0] = False
        return big[labels]

    @staticmethod
    def _shadow_regions(
        regions: np.ndarray, rgb: np.ndarray, light: np.ndarray, base_matte: np.ndarray
    ) -> np.ndarray:
        """The connected regions of `regions` that, taken whole, are the sweep in shadow:
        bool (h, w).

        regions: bool (h, w); rgb, light: float32 (h, w, 3) linear photo and backdrop light
        field; base_matte: (h, w) image analysis's matte. A region's median is darker than the
        light by SHADOW_LIKE_DARKER or more (log luminance), within SHADOW_LIKE_TINT of its
        colour, with a median log-gradient under SHADOW_LIKE_SMOOTH; and it lies on the
        sweep: ATTACHED_OPEN_SHARE or more of its outline is backdrop to image analysis, and
        it fades into it there (median log-gradient under ATTACHED_EDGE). Smooth neutral metal
        that the network left a hole in (a polished silver bar's dark side) is enclosed by
        the piece, or meets the sweep at its silhouette.
        """
        eight = np.ones((3, 3), dtype=bool)
        labels, count = ndimage.label(regions, structure=eight)
        if count == 0:
            return np.zeros_like(regions)
        lum, tint = against_backdrop(rgb, light)
        grad = log_gradient(rgb)
        (dark,) = region_quantiles(lum, labels, count, (0.5,))
        (tinted,) = region_quantiles(tint, labels, count, (0.5,))
        (steep,) = region_quantiles(grad, labels, count, (0.5,))
        _, near, opening, open_share = _outline(regions, labels, count,
                                                base_matte < BACKDROP_SURE)
        (edge,) = region_quantiles(grad, np.where(opening, near, 0), count, (0.5,))
        shadow = ((dark < -SHADOW_LIKE_DARKER) & (tinted < SHADOW_LIKE_TINT)
                  & (steep < SHADOW_LIKE_SMOOTH) & (edge < ATTACHED_EDGE)
                  & (open_share >= ATTACHED_OPEN_SHARE))
        return np.concatenate([[False], shadow])[labels]

    @staticmethod
    def _implausible(net_matte: np.ndarray, base_matte: np.ndarray) -> bool:
        """True when the network's piece fills most of the frame's border while image analysis
        finds the border mostly backdrop: a product shot shows its backdrop round the edges,
        so the network has taken the backdrop (an unfamiliar texture) for the piece, and the
        image-analysis maps are used alone."""
        border, base_border = _border(net_matte), _border(base_matte)
        return bool((border > 0.5).mean() > BORDER_MAX and (base_border > 0.5).mean() < 0.1)

    @staticmethod
    def _shadow(net_shadow: np.ndarray, base: Analysis, rgb: np.ndarray, matte: np.ndarray):
        """The cast shadow: float32 (h, w) 0..1.

        A shadow can only darken: the network's strength is capped by the darkening measured
        against the image-analysis backdrop model (1 - luminance / backdrop luminance), so it
        paints no faint shadow where the backdrop is as bright as its model; shadows the
        image-analysis method found itself (darker, same colour, smooth, on the backdrop)
        are kept too. Nothing under the piece.
        """
        shadow = net_shadow
        if base.backdrop is not None:
            lum = rgb @ LUMA
            darkening = 1.0 - lum / np.maximum(base.backdrop.light @ LUMA, 1e-4)
            shadow = np.minimum(shadow, np.clip(darkening, 0.0, 1.0))
        shadow = np.maximum(shadow, np.clip(base.shadow, 0.0, 1.0))
        return (shadow * (1.0 - np.clip(matte, 0.0, 1.0))).astype(np.float32)

    @staticmethod
    def _sure_backdrop(base_matte: np.ndarray, residual: np.ndarray, tau: float) -> np.ndarray:
        """Large regions that fit the backdrop model closely: bool (h, w).

        The network works at 192 px: its matte can close a ring's hole or spill a few working
        pixels past the outline. Where image analysis calls a pixel backdrop with a residual
        well under its threshold, in a connected region big enough to be open backdrop or a
        see-through hole (not a white glint inside the metal), the backdrop wins. The caller
        asks only when the backdrop model is precise (tau <= VETO_MAX_TAU: a clean sweep, as in
        a studio shot); on a textured or noisy backdrop "fits the backdrop" is weak evidence,
        and on the held-out renders (all with tau >= 0.25) the veto removed more true piece
        than spill (polished metal mirrors the backdrop).
        """
        sure = (base_matte < BACKDROP_SURE) & (residual < VETO_RESIDUAL * tau)
        labels, count = ndimage.label(sure)
        if count == 0:
            return sure
        areas = np.bincount(labels.ravel())
        big = areas >= VETO_MIN_AREA * sure.size
        big[0] = False
        region = big[labels]
        # Specks of noise just over the residual limit, surrounded by such a region and still
        # within the backdrop model's threshold, are that backdrop too.
        return ndimage.binary_fill_holes(region) & (region | (base_matte < BACKDROP_SURE))

    @staticmethod
    def _unsupported_at_border(matte: np.ndarray, base_matte: np.ndarray) -> np.ndarray:
        """Network-only blobs at the frame's edge: bool (h, w).

        matte: the merged matte; base_matte: image analysis's (both float (h, w) 0..1). The
        192-px network reads the line where a sweep meets a table, or the sweep's far edge,
        as a soft piece. A component of the matte (> MATTE_SPILL) that touches the frame's
        border, is not the piece (the component image analysis agrees with most), and that
        image analysis calls piece on less than UNSUPPORTED_SHARE of (the backdrop model fits
        nearly all of it) is that edge, not a piece. A second piece image analysis sees in
        good part, or one away from the border, is kept.
        """
        labels, count = ndimage.label(matte > MATTE_SPILL)
        if count < 2:
            return np.zeros(matte.shape, bool)
        areas = np.bincount(labels.ravel())
        support = np.bincount(labels[base_matte > 0.5], minlength=count + 1)
        support[0] = 0
        # The piece: the blob both methods agree on most (not the largest: a sweep's edge
        # read as piece can outsize a ring).
        piece = int(np.argmax(support))
        if support[piece] == 0:
            return np.zeros(matte.shape, bool)
        at_border = np.unique(_border(labels))
        drop = [
            int(k) for k in at_border
            if k not in (0, piece) and support[k] < UNSUPPORTED_SHARE * areas[k]
        ]
        return np.isin(labels, drop) if drop else np.zeros(matte.shape, bool)

    @staticmethod
    def _enclosed(shaded: np.ndarray, base_matte: np.ndarray, like: np.ndarray) -> np.ndarray:
        """The regions of `shaded` that are inside the piece, not its cast shadow: bool (h, w).

        shaded: bool (h, w), image analysis's piece that the network's shadow map claims;
        base_matte: float32 (h, w) image analysis's matte; like: bool (h, w), pixels that look
        like a shadow on the sweep. A cast shadow falls on the floor beside the piece, so its
        outline meets the backdrop; a region whose outline ring (ENCLOSED_RING px) is sure
        backdrop on under ENCLOSED_BACKDROP_SHARE is surrounded by the piece (the face of a pale
        stone, where the network's shadow fires: d016's jade donut), and it is piece unless
        most of it looks like a shadow (the floor seen through a ring, in the ring's shadow).
        """
        labels, count = ndimage.label(shaded)
        if count == 0:
            return np.zeros_like(shaded)
        index = np.arange(1, count + 1)
        ring = ndimage.grey_dilation(labels, size=2 * ENCLOSED_RING + 1) * ~shaded
        ring_px = np.asarray(ndimage.sum(np.ones_like(base_matte), ring, index), dtype=float)
        open_px = np.asarray(ndimage.sum(base_matte < BACKDROP_SURE, ring, index), dtype=float)
        # (a region without a ring of its own, e.g. filling the frame, counts as open)
        open_share = np.where(ring_px > 0, open_px / np.maximum(ring_px, 1), 1.0)
        like_share = np.asarray(ndimage.mean(like, labels, index), dtype=float)
        inside = (open_share < ENCLOSED_BACKDROP_SHARE) & (like_share < 0.5)
        return np.concatenate([[False], inside])[labels]

    @staticmethod
    def _reach(base_solid: np.ndarray, net_solid: np.ndarray) -> np.ndarray:
        """Image analysis's piece components that touch the network's piece, with their soft
        outline: bool (h, w); base_solid, net_solid: bool (h, w).

        The network works at 192 px and misses fine parts (chain links, a white pearl on a
        white backdrop); image analysis sees them at the full working size. The caller takes
        them in except where the network sees the piece's own shadow (image analysis tends to
        keep a contact shadow attached).
        """
        labels, count = ndimage.label(base_solid)
        if count == 0:
            return np.zeros_like(base_solid)
        touching = np.unique(labels[ndimage.binary_dilation(net_solid) & base_solid])
        keep = np.isin(labels, touching[touching > 0])
        return ndimage.binary_dilation(keep, iterations=EXTEND_SOFT_EDGE)  # its soft outline
