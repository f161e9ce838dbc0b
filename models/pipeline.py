"""The retouch pipeline behind `models.load()`.

Two passes over the full-resolution image, tile by tile (rows), so memory stays a few bytes
per pixel above the input and output however large the photo:

1. decode each tile to linear sRGB float32 and area-average it to the working image
   (long side <= 768 px); measure sensor noise on sampled rows.
2. the `Analyzer` (models.analyzers.default_analyzer) maps the working image; its confidence
   (models/analysis/confidence.py) decides the background really used and the warnings;
   `_plan` turns the analysis and the options into working-resolution maps and constants.
3. decode each tile again and apply: cleanup (isolated specks, scratches), tone (the piece's
   one cast x exposure gain, models/ops/tone.py; metal toning inside the metal mask;
   highlight shoulder), gem micro-contrast, background composite (white / transparent / keep,
   optional shadow), strength blend, encode. Masks are guided-upsampled from the working
   resolution so their edges follow the full-resolution pixels, then, on a clean sweep, the
   outline's alpha is re-estimated from the known backdrop (models/ops/matting.py). With
   protect_gems, gem pixels are copied from the input.
4. optional framing (square canvas, margin, marketplace size), then the result goes back in
   the input's ICC profile, bit depth and channel layout.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from models import colour
from models.analysis import (
    GEM_SURE,
    MATTE_SNAP,
    SOLID,
    Analysis,
    Analyzer,
)
from models.analysis.confidence import Confidence, assess
from models.analyzers import default_analyzer
from models.api import (
    MODEL_NAME,
    MODEL_VERSION,
    ImageData,
    ImageError,
    OptionsError,
    ProgressCallback,
    Result,
    RetouchOptions,
    no_progress,
    warning,
)
from models.colour import LUMA, Codec
from models.ops import framing, resample, tone
from models.ops.channels import channel_max, channel_min
from models.ops.finish import (
    CATALOG_CEILING,
    CATALOG_GEM_BOOST,
    CATALOG_SLOPE,
    contrast_curve,
    lift_gain,
    smooth_grain,
)
from models.ops.finish import pivot as contrast_pivot
from models.ops.gems import clean_whites, micro_contrast
from models.ops.highlights import HOTSPOT_CEILING, KNEE, reserve_top, shoulder
from models.ops.lab import linear_srgb_to_lab
from models.ops.matting import MAX_WINDOW as MATTING_WINDOW_MAX
from models.ops.matting import edge_alpha
from models.ops.metal import metal_gains, wanted_chroma
from models.ops.shadows import REFLECTION_DEPTH, add_reflection, shadow_style
from models.ops.smudges import find_smudges, smooth_smudges
from models.ops.specks import find_specks, inpaint
from models.ops.unmix import backdrop_colour, unmix
from models.ops.variants import MetalPixels

MAX_PIXELS = 100_000_000
TILE_ROWS = 256
HALO = 16
WORKING_LONG_SIDE = 768
# Context around the matte's box in which specks are judged (> find_specks' max_length 24
# plus its isolation window's radius 12 and the inpainting blur's reach, so cropping changes
# no decision and no fill inside the box).
SPECK_CONTEXT = 64
# Edge alpha from the known backdrop only on backdrops this clean (tau of the backdrop model),
# and never for residuals under MATTING_MIN_FLOOR (JPEG noise and sweep texture).
MATTING_MAX_TAU = 0.25
MATTING_MIN_FLOOR = 0.04
# A photo (or selection) whose long side is under this many pixels shows prongs and chain
# links a pixel or two wide: the cut-out cannot resolve them.
LOW_RESOLUTION = 500
PROPS_WARN_SHARE = 0.002
"""Share of the working image a removed support must have covered for the props warning."""


@dataclass
class _Plan:
    """Everything the full-resolution pass needs, computed once at working resolution."""

    factor: int
    guided: np.ndarray  # (h, w, 4): guided-filter slope, offset of matte and metal
    guided_gem: np.ndarray  # (h, w, 2): guided-filter slope, offset of the gem mask
    tone_gain: np.ndarray  # (3,): the piece's tone gain RGB (cast x exposure, one for all)
    shadow: np.ndarray  # (h, w, 1): shadow opacity on the backdrop (often all zero)
    cleanup_maps: np.ndarray  # (h, w, 2): analyzer defects, gem-protect (often all zero)
    active: np.ndarray  # (h, w) bool: where the retouch can differ from plain backdrop fill
    metal_gains: np.ndarray  # (3,)
    contrast_mid: float  # the catalog finish's pivot (cube-root luminance), models/ops/finish
    contrast_slope: float  # its slope at the pivot (1: natural finish, no curve)
    hotspot_ceiling: float  # where the highlight shoulder puts clipped speculars (linear)
    backdrop_gain: np.ndarray  # (3,): tone of a kept backdrop (ones: as shot)
    matting: np.ndarray | None  # (h, w, 4): backdrop light RGB + cast shadow, for edge alpha
    matting_floor: float  # residual under which an edge pixel is backdrop
    unmix: np.ndarray | None  # (h, w, 3): a coloured backdrop's colour, unmixed from the edge
    speck_threshold: float
    noise: float  # sensor noise of sqrt-luminance (smudge detection)


def _check_image(image: ImageData) -> None:
    if not isinstance(image, ImageData):
        raise ImageError("image must be an ImageData")
    if image.width * image.height > MAX_PIXELS:
        raise ImageError(
            f"image has {image.width * image.height} pixels; the limit is {MAX_PIXELS}"
        )


class Retoucher:
    """A loaded model. Thread-safe: one instance may serve several workers."""

    name = MODEL_NAME
    version = MODEL_VERSION

    def __init__(self, analyzer: Analyzer | None = None, workers: int | None = None) -> None:
        # Built once (a network analyzer loads its weights here), shared by every call.
        self._analyzer = analyzer if analyzer is not None else default_analyzer()
        self._workers = workers or min(2, os.cpu_count() or 1)

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def retouch(
        self,
        image: ImageData,
        options: RetouchOptions | None = None,
        progress: ProgressCallback = no_progress,
        layers: bool = False,
    ) -> Result:
        """Retouch `image` with `options`; `layers=True` also returns separable layers/masks."""
        if options is None or isinstance(options, Mapping):
            options = RetouchOptions.from_mapping(options)  # validates; bad values raise
        elif not isinstance(options, RetouchOptions):
            raise OptionsError("options must be RetouchOptions or a mapping of option values")
        _check_image(image)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        cms_profile = image.icc_profile if colour.needs_cms(image.icc_profile) else None
        source = colour.cms_convert(image, True, cms_profile) if cms_profile else image
        fmt = source.format
        colour_channels = 1 if fmt.channels in (1, 2) else 3
        codec = Codec.for_profile(source.icc_profile, colour_channels, fmt.depth)

        progress("analyse", 0.0)
        factor = resample.working_factor(image.height, image.width, WORKING_LONG_SIDE)
        small, noise = self._reduce(source, codec, factor, progress)
        analyzer = self.analyzer
        analysis = analyzer.analyse(small)
        timings["analyse"] = time.perf_counter() - started
        progress("analyse", 0.25)

        confidence = assess(analysis, small)
        options, warnings = _decide(
            options, confidence, small, analysis, (image.height, image.width)
        )
        # A kept background the user did not ask for (the fallback) takes the piece's global
        # tone too, so that a doubtful matte leaves no seam between toned and untoned parts.
        fallback = any(w["code"] in ("background_kept", "no_piece") for w in warnings)
        plan, kind, tone_facts = _plan(
            analysis, small, options, noise, factor, confidence.already_white, fallback
        )
        run = _Run(source, codec, options, plan, layers, self._workers)
        run.execute(progress)
        timings["retouch"] = time.perf_counter() - started - timings["analyse"]

        out_pixels = run.output
        if options.strength == 0:
            out_pixels = np.array(source.pixels, copy=True)
        result_layers = run.layers
        result_masks = run.masks
        frame_info = None
        reflect = options.reflection and options.strength > 0
        result_masks = {**result_masks, "piece": run.piece}
        if options.framing != "none" and options.strength > 0:
            progress("frame", 0.96)
            # The masks travel with the frame (the reflection and the variants need their new
            # place), and the canvas keeps room below the piece for the reflection.
            out_pixels, result_layers, result_masks, frame_info = framing.apply(
                out_pixels, run.piece, options, codec, result_layers, result_masks,
                extend_below=REFLECTION_DEPTH if reflect else 0.0,
            )
        variants: dict[str, np.ndarray] = {}
        if options.metal_variants and options.strength > 0:
            progress("variants", 0.97)
            variants = _metal_variants(out_pixels, result_masks, codec, options.metal_variants,
                                       self._workers)
        if reflect:
            piece_mask = result_masks["piece"]
            out_pixels, placed = add_reflection(out_pixels, piece_mask, codec)
            if placed and layers:
                result_layers["reflection"] = _reflection_layer(out_pixels, placed, codec,
                                                                source.icc_profile)
            variants = {k: add_reflection(v, piece_mask, codec)[0] for k, v in variants.items()}
        result_image = ImageData(np.ascontiguousarray(out_pixels), source.icc_profile)
        result_variants = {k: ImageData(v, source.icc_profile) for k, v in variants.items()}
        if cms_profile:
            result_image = colour.cms_convert(result_image, False, cms_profile)
            result_variants = {
                k: colour.cms_convert(v, False, cms_profile) for k, v in result_variants.items()
            }
            result_layers = {
                k: colour.cms_convert(v, False, cms_profile) for k, v in result_layers.items()
            }
        progress("done", 1.0)
        timings["total"] = time.perf_counter() - started
        info = {
            "analyzer": getattr(analyzer, "name", type(analyzer).__name__),
            "detected_metal": analysis.metal_kind,
            "metal": kind,
            "working_size": [int(small.shape[1]), int(small.shape[0])],
            "noise": round(float(noise), 5),
            "defects_removed": int(run.defect_pixels),
            "colour_profile": codec.description,
            "timings": {k: round(v, 3) for k, v in timings.items()},
            "warnings": warnings,
            "confidence": confidence.to_json(),
            "background": options.background,
            "already_white": confidence.already_white,
            "tone": tone_facts,
        }
        if frame_info:
            info["framing"] = frame_info
        if result_variants:
            info["variants"] = list(result_variants)
        if not layers:
            result_layers, result_masks = {}, {}
        return Result(image=result_image, layers=result_layers, masks=result_masks, info=info,
                      variants=result_variants)

    def _reduce(self, image: ImageData, codec: Codec, factor: int, progress: ProgressCallback):
        """Pass 1: the working-resolution linear image (backdrop-white under transparency) and
        the sensor noise in sqrt-luminance units, measured on every 8th row.

        Row bands are reduced by the worker threads (numpy releases the GIL) and joined in
        order, so the result does not depend on the number of workers."""
        pixels = image.pixels
        height = image.height
        step = max(factor, (TILE_ROWS // factor) * factor)

        def reduce_band(y0: int) -> tuple[np.ndarray, np.ndarray | None]:
            y1 = min(y0 + step, height)
            rgb, alpha = _decode(pixels[y0:y1], codec)
            if alpha is not None:
                rgb = rgb * alpha[..., None] + (1 - alpha[..., None])
            rows = np.arange(y0 + (-y0 % 8), y1, 8) - y0
            diffs = None
            if rows.size:
                p = np.sqrt(np.maximum(rgb[rows] @ LUMA, 0))
                diffs = np.abs(np.diff(p[:, ::2], axis=1)).ravel()
            return resample.area_reduce(rgb, factor), diffs

        starts = list(range(0, height, step))
        parts, samples = [], []
        with closing(_in_order(reduce_band, starts, self._workers)) as bands:
            for start, (reduced, diffs) in zip(starts, bands, strict=True):
                parts.append(reduced)
                if diffs is not None:
                    samples.append(diffs)
                progress("analyse", 0.2 * min(start + step, height) / height)
        small = np.concatenate(parts, axis=0)
        diffs = np.concatenate(samples) if samples else np.zeros(0, np.float32)
        if diffs.size == 0:  # an image one or two pixels wide has no neighbours to compare
            diffs = np.zeros(1, np.float32)
        noise = float(np.median(diffs)) * 1.4826 / np.sqrt(2)
        return small, noise


def _decide(
    options: RetouchOptions,
    confidence: Confidence,
    small: np.ndarray,
    analysis: Analysis,
    size: tuple[int, int],
):
    """The options the run really uses, and the warnings for the user.

    - a photo already on white keeps its own backdrop (its deliberate shadow or reflection);
    - a white or transparent cut-out the analysis cannot promise (confidence.cutout_ok false)
      keeps the photo's background, with the piece-only fixes, unless force_cutout;
    - no piece: nothing to cut out, the photo is only cleaned.
    """
    warnings: list[dict] = []
    cutout = options.background in ("white", "transparent")
    if not confidence.piece_found:
        warnings.append(warning("no_piece"))
        if cutout:
            options = dataclasses.replace(options, background="keep", shadow="none",
                                          reflection=False)
    elif confidence.already_white and options.background == "white":
        # Already a finished catalog shot: its backdrop, shadow and reflection are kept, and
        # so are its finished highlights and stones (the shoulder and the micro-contrast
        # would flatten a deliberate reflection and sharpen sharpened stones again).
        options = dataclasses.replace(
            options, background="keep", shadow="none", reflection=False, hotspots=False,
            gem_contrast=0.0, finish="natural",
        )
    elif cutout and not confidence.cutout_ok:
        if options.force_cutout:
            warnings.append(warning("unsure_cutout"))
        else:
            warnings.append(warning("background_kept"))
            options = dataclasses.replace(options, background="keep", shadow="none",
                                          reflection=False)
    if confidence.at_edge and options.background != "keep":
        warnings.append(warning("piece_at_edge"))
    removed = int(analysis.extras.get("props_removed", 0))
    if options.background != "keep" and removed >= PROPS_WARN_SHARE * analysis.matte.size:
        warnings.append(warning("props_removed"))
    lum = small @ LUMA
    piece = analysis.matte > 0.5
    if piece.sum() >= 16 and float((small[piece].max(axis=-1) >= 0.995).mean()) > 0.3:
        warnings.append(warning("overexposed"))
    if float(np.quantile(lum, 0.99)) < 0.05:
        warnings.append(warning("underexposed"))
    if max(size) < LOW_RESOLUTION:
        warnings.append(warning("low_resolution"))
    return options, warnings


def _in_order(work, items: list, workers: int):
    """Yields work(item) for each item, in order, computed by `workers` threads.

    At most 2 x workers items are in flight (memory stays a few tiles); when the consumer
    stops (an exception such as Cancelled from a progress callback), the waiting items are
    cancelled and the running ones finish before the pool closes.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list = []
        next_item = 0
        try:
            for _ in range(len(items)):
                while next_item < len(items) and len(pending) < workers * 2:
                    pending.append(pool.submit(work, items[next_item]))
                    next_item += 1
                yield pending.pop(0).result()
        finally:
            for future in pending:
                future.cancel()


def _decode(block: np.ndarray, codec: Codec):
    """Pixels (h, w, C) -> (linear sRGB (h, w, 3) float32, alpha (h, w) float32 or None)."""
    channels = block.shape[2]
    colour_part = block[..., :1] if channels in (1, 2) else block[..., :3]
    alpha = codec.decode_alpha(block[..., -1]) if channels in (2, 4) else None
    return codec.decode(colour_part), alpha


def _tone_gain(analysis: Analysis, small: np.ndarray, already_white: bool):
    """The piece's tone gain (3,) float32 (cast removal x exposure, models/ops/tone.py) and
    JSON-ready facts. A photo already on white is left as it was shot."""
    matte = np.clip(analysis.matte, 0, 1)
    if already_white or analysis.backdrop is None:
        return np.ones(3, np.float32), {"cast_removed": 0.0, "exposure_gain": 1.0}
    light = analysis.backdrop.light
    fits = analysis.backdrop.fits
    backdrop_rgb = np.median((light[fits] if fits.sum() >= 16 else light.reshape(-1, 3)), axis=0)
    highlights = tone.highlight_colour(small, np.clip(analysis.metal, 0, 1) * (matte > 0.5))
    cast, facts = tone.cast_gains(backdrop_rgb, highlights)
    piece = matte > 0.5
    exposure = tone.exposure_gain(small[piece] * cast) if piece.any() else 1.0
    facts = {"cast_removed": facts["removed"], "exposure_gain": round(exposure, 3)}
    return (cast * np.float32(exposure)).astype(np.float32), facts


def _plan(analysis: Analysis, small: np.ndarray, options: RetouchOptions, noise, factor,
          already_white: bool = False, tone_backdrop: bool = False):
    tone_rgb, tone_facts = _tone_gain(analysis, small, already_white)
    metal = np.clip(analysis.metal, 0, 1)
    matte = np.clip(analysis.matte, 0, 1)
    gem = np.clip(analysis.gem, 0, 1)

    kind = analysis.metal_kind if options.metal == "auto" else options.metal
    gains_m = np.ones(3, dtype=np.float32)
    if (already_white or tone_backdrop) and options.metal == "auto":
        # A finished shot's metal colour is the retoucher's choice; on a photo the analysis
        # is unsure of (the fallback) the metal mask and kind are too: remove the cast only.
        kind = None
    flat = small * tone_rgb
    mid = (metal > SOLID) & (flat @ LUMA > 0.05) & (flat @ LUMA < 0.85)
    if kind is not None and mid.sum() >= 8:
        mean_rgb = np.median(flat[mid], axis=0)
        lab = linear_srgb_to_lab(mean_rgb)
        target = wanted_chroma(kind, float(lab[1]), float(lab[2]), options.metal == "auto")
        gains_m = metal_gains(mean_rgb, target)

    # The catalog finish's contrast pivots on the metal's own median tone. Not on a finished
    # shot (already a retoucher's) nor on the fallback (its metal mask is doubtful).
    slope, mid = 1.0, 0.5
    if options.finish == "catalog" and not (already_white or tone_backdrop):
        sure = (metal > SOLID) & (matte > 0.5)
        if sure.sum() >= 16:
            # The metal's exposure lift joins its metal gains (one gain per pixel, as before).
            lift = lift_gain(flat[sure] * gains_m)
            gains_m = (gains_m * np.float32(lift)).astype(np.float32)
            slope, mid = CATALOG_SLOPE, contrast_pivot(flat[sure] * gains_m @ LUMA)
    shadow = shadow_style(options.shadow, matte, analysis.shadow)
    if options.background == "keep":
        shadow = shadow * np.float32(0.65)  # a kept backdrop has its own light already
    protect = ndimage.binary_dilation(gem > SOLID, iterations=2).astype(np.float32)
    defects = np.clip(analysis.defects, 0, 1) * (1 - protect)
    guide = np.sqrt(np.maximum(small @ LUMA, 0)).astype(np.float32)
    guided = resample.guided_coefficients(
        guide, np.stack([matte, metal, gem], axis=-1).astype(np.float32), radius=1, eps=1e-4
    )
    cleanup_maps = np.stack([defects, protect], axis=-1).astype(np.float32)
    # Outside `active` the white/transparent result is the plain fill, bit for bit: the matte's
    # guided coefficients are below 1e-3 there (the 0.04 snap zeroes them), the shadow < 1e-6.
    coeff_matte = np.abs(guided[..., 0]) + np.abs(guided[..., 3])
    active = (coeff_matte > 1e-3) | (shadow > 1e-6)
    active = ndimage.binary_dilation(active, iterations=2)
    threshold = max(0.05, 5.0 * noise)
    # Edge alpha from the known backdrop (models/ops/matting.py), where the backdrop model is
    # a clean sweep's and the backdrop is replaced.
    matting, matting_floor = None, 0.0
    model = analysis.backdrop
    if (
        model is not None
        and model.tau <= MATTING_MAX_TAU
        and options.background in ("white", "transparent")
        and not already_white
    ):
        cast_shadow = np.clip(analysis.shadow, 0, 1)[..., None]
        matting = np.concatenate([model.light, cast_shadow], axis=-1).astype(np.float32)
        matting_floor = max(MATTING_MIN_FLOOR, 0.5 * model.tau, 8.0 * noise)
    # On a backdrop of one strong colour the edge's colour is unmixed from it
    # (models/ops/unmix.py): magenta paper would leave a lilac fringe on the white.
    unmix_backdrop = None
    if (
        "coloured_backdrop" in analysis.extras
        and options.background in ("white", "transparent")
        and not already_white
    ):
        unmix_backdrop = backdrop_colour(small, matte)
    plan = _Plan(
        factor,
        np.ascontiguousarray(guided[..., [0, 1, 3, 4]]),
        np.ascontiguousarray(guided[..., [2, 5]]),
        tone_rgb,
        np.ascontiguousarray(shadow[..., None], dtype=np.float32),
        cleanup_maps,
        active,
        gains_m,
        mid,
        slope,
        CATALOG_CEILING if slope != 1 else HOTSPOT_CEILING,
        tone_rgb if tone_backdrop else np.ones(3, np.float32),
        matting,
        matting_floor,
        unmix_backdrop,
        threshold,
        float(noise),
    )
    return plan, kind, tone_facts


class _Run:
    """Pass 2 over full-resolution tiles; fills the output, layers and masks."""

    def __init__(self, image, codec, options, plan, want_layers, workers):
        self.image, self.codec, self.options, self.plan = image, codec, options, plan
        self.want_layers = want_layers
        self.workers = workers
        # Only the matte's pixels of the photo reach the output (the rest is plain backdrop).
        self.matte_only = (
            options.background in ("white", "transparent")
            and not want_layers
            and options.strength == 1
        )
        h, w, c = image.pixels.shape
        out_channels = c
        if options.background == "transparent" and c in (1, 3):
            out_channels = c + 1  # transparency needs an alpha channel
        self.output = np.empty((h, w, out_channels), dtype=image.pixels.dtype)
        self.piece = np.empty((h, w), dtype=np.uint8)
        self.layers: dict[str, ImageData] = {}
        self.masks: dict[str, np.ndarray] = {}
        self._layer_px: dict[str, np.ndarray] = {}
        if want_layers:
            names = ["background", "cleanup", "tone"]
            if plan.shadow.any():
                names.append("shadow")  # the new shadow is a layer of its own
            for name in names:
                self._layer_px[name] = np.zeros((h, w, 4), dtype=image.pixels.dtype)
            self.masks = {"piece": self.piece}
        if want_layers or options.metal_variants:
            # Zeros: the fast path never visits plain-backdrop columns. Metal variants need
            # the metal and gem masks even without layers.
            self.masks["metal"] = np.zeros((h, w), dtype=np.uint8)
            self.masks["gem"] = np.zeros((h, w), dtype=np.uint8)
        self.defect_pixels = 0

    def execute(self, progress: ProgressCallback) -> None:
        height = self.image.height
        bands = [(y, min(y + TILE_ROWS, height)) for y in range(0, height, TILE_ROWS)]
        # closing(): a progress callback that raises (Cancelled) stops the pool at once.
        with closing(_in_order(lambda band: self._tile(*band), bands, self.workers)) as tiles:
            for done, defects in enumerate(tiles, start=1):
                self.defect_pixels += defects
                progress("retouch", 0.25 + 0.7 * done / len(bands))
        if self.want_layers:
            self.layers = {
                name: ImageData(px, self.image.icc_profile) for name, px in self._layer_px.items()
            }

    def _active_columns(self, ya: int, yb: int) -> tuple[int, int]:
        """Full-resolution column range of rows ya..yb that needs the full retouch."""
        plan, width = self.plan, self.image.width
        opts = self.options
        fast = (
            opts.background in ("white", "transparent")
            and not self.want_layers
            and opts.strength == 1
        )
        if not fast:
            return 0, width
        f, h = plan.factor, plan.active.shape[0]
        r0 = min(max(int(np.floor((ya + 0.5) / f - 0.5)), 0), h - 1)
        r1 = min(int(np.floor((yb - 0.5) / f - 0.5)) + 2, h)
        cols = np.flatnonzero(plan.active[r0:r1].any(axis=0))
        if cols.size == 0:
            return 0, 0
        return max(0, (int(cols[0]) - 1) * f), min(width, (int(cols[-1]) + 2) * f)

    def _fill(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Plain backdrop where nothing else happens: white, or fully transparent."""
        out = self.output[y0:y1, x0:x1]
        if self.options.background == "transparent":
            out[...] = 0
        else:
            out[...] = self.codec.maximum
            src = self.image.pixels
            if out.shape[2] in (2, 4) and src.shape[2] == out.shape[2]:
                out[..., -1] = src[y0:y1, x0:x1, -1]
        self.piece[y0:y1, x0:x1] = 0

    def _tile(self, y0: int, y1: int) -> int:
        """Retouches rows y0..y1 (with a HALO of context) into the output; the number of
        defect pixels cleaned. The stages are the functions below, in order."""
        height = self.image.height
        ya, yb = max(0, y0 - HALO), min(height, y1 + HALO)
        x0, x1 = self._active_columns(ya, yb)
        if x0 > 0:
            self._fill(y0, y1, 0, x0)
        if x1 < self.image.width:
            self._fill(y0, y1, x1, self.image.width)
        if x1 <= x0:
            return 0
        block = self.image.pixels[ya:yb, x0:x1]
        rgb_in, alpha = _decode(block, self.codec)
        tile = _Tile(self.plan, ya, yb, x0, x1, rgb_in, alpha)
        masks = _sample_masks(tile, self.plan)
        cleaned, defect_mask, protect = _clean_up(tile, masks, self.plan, self.options,
                                                  self.matte_only)
        if self.plan.unmix is not None and masks.box[0].stop > masks.box[0].start:
            cleaned = cleaned.copy() if cleaned is rgb_in else cleaned
            box = masks.box
            cleaned[box] = unmix(cleaned[box], masks.matte[box], tile.sample(self.plan.unmix, box))
        toned_box = _tone_piece(tile, masks, cleaned, self.plan, self.options, self.codec)
        result, out_alpha, backdrop_rgb = _composite(tile, masks, cleaned, toned_box,
                                                     self.plan, self.options)
        core = slice(y0 - ya, y0 - ya + (y1 - y0))
        self._write(y0, y1, x0, x1, core, block, result, out_alpha, masks, tile)
        if self.want_layers:
            self._write_layers(y0, y1, core, masks, cleaned, toned_box, backdrop_rgb,
                               defect_mask)
        return int(defect_mask[core].sum())

    def _write(self, y0, y1, x0, x1, core, block, result, out_alpha, masks, tile) -> None:
        """Strength blend, encode, protect-gems copy and the piece mask for rows y0..y1."""
        opts, codec = self.options, self.codec
        s = np.float32(opts.strength)
        alpha = tile.alpha
        if s < 1:
            result = tile.rgb_in + s * (result - tile.rgb_in)
            if out_alpha is not None and alpha is not None:
                out_alpha = alpha + s * (out_alpha - alpha)
            elif out_alpha is not None:
                out_alpha = 1 + s * (out_alpha - 1)
        if not np.isfinite(result).all():  # never a mangled image: no NaN reaches the codes
            result = np.nan_to_num(result, nan=0.0, posinf=1.0, neginf=0.0)
        out = self.output[y0:y1, x0:x1]
        channels = out.shape[2]
        colour_channels = 1 if channels in (1, 2) else 3
        out[..., :colour_channels] = codec.encode(result[core])
        if channels in (2, 4):
            out[..., -1] = codec.encode_alpha(out_alpha[core])
        if opts.protect_gems:
            keep = (masks.gem[core] > GEM_SURE) | (masks.gem_raw[core] > GEM_SURE)
            src = block[core]
            out[keep, : src.shape[2]] = src[keep]
        self.piece[y0:y1, x0:x1] = _to_u8(masks.matte[core])
        cols = masks.box[1]
        if "metal" in self.masks and cols.stop > cols.start:
            # Metal and gem are zero outside the matte's box (the masks start as zeros).
            span = slice(x0 + cols.start, x0 + cols.stop)
            self.masks["metal"][y0:y1, span] = _to_u8(masks.metal[core, cols])
            self.masks["gem"][y0:y1, span] = _to_u8(masks.gem[core, cols])

    def _write_layers(self, y0, y1, core, masks, cleaned, toned_box, backdrop_rgb,
                      defect_mask) -> None:
        """The separable layers and the metal/gem masks for rows y0..y1."""
        opts, codec = self.options, self.codec
        maximum = codec.maximum
        matte, shadow = masks.matte, masks.shadow
        cleanup_layer = self._layer_px["cleanup"][y0:y1]
        cleanup_layer[..., :3] = _rgb_codes(codec, cleaned[core])
        cleanup_layer[..., 3] = np.where(defect_mask[core], maximum, 0)
        tone_layer = self._layer_px["tone"][y0:y1]
        toned = cleaned.copy()
        toned[masks.box] = toned_box
        tone_layer[..., :3] = _rgb_codes(codec, toned[core])
        if opts.background == "keep":
            tone_layer[..., 3] = codec.encode_alpha(matte[core])
        else:
            tone_layer[..., 3] = np.where(matte[core] > 0, maximum, 0)
        # The background layer is the new backdrop without the shadow; the shadow, when there
        # is one, is its own layer above it (black at the shadow's opacity), so that
        # background x shadow gives the result's backdrop.
        unshadowed = np.maximum(1 - shadow[core], 1e-6)[..., None]
        bg_layer = self._layer_px["background"][y0:y1]
        bg_layer[..., :3] = _rgb_codes(codec, backdrop_rgb[core] / unshadowed)
        if opts.background == "transparent":
            bg_layer[..., 3] = 0
        else:
            bg_layer[..., 3] = codec.encode_alpha(1 - matte[core])
        if "shadow" in self._layer_px:
            shadow_layer = self._layer_px["shadow"][y0:y1]
            shadow_layer[..., 3] = codec.encode_alpha((1 - matte[core]) * shadow[core])


@dataclass
class _Tile:
    """One block of full-resolution rows ya..yb, columns x0..x1, and where it lies in the
    working-resolution maps (rows r0..r1, columns c0..c1)."""

    plan: _Plan
    ya: int
    yb: int
    x0: int
    x1: int
    rgb_in: np.ndarray  # (h, w, 3) float32 linear
    alpha: np.ndarray | None  # (h, w) float32 or None

    def __post_init__(self) -> None:
        f = self.plan.factor
        self.guide = np.sqrt(np.maximum(self.rgb_in @ LUMA, 0))
        self.r0, self.r1 = _low_res_span(self.ya, self.yb, f, self.plan.guided.shape[0])
        self.c0, self.c1 = _low_res_span(self.x0, self.x1, f, self.plan.guided.shape[1])

    def any(self, low: np.ndarray) -> bool:
        """Whether a working-resolution map is non-zero anywhere this tile samples."""
        return bool(low[self.r0 : self.r1, self.c0 : self.c1].any())

    def sample(self, low: np.ndarray, box: tuple[slice, slice] | None = None) -> np.ndarray:
        """Bilinear full-resolution samples of `low` (h, w, c) for the tile (or a box of it)."""
        f = self.plan.factor
        if box is None:
            return resample.upsample_rows(low, f, self.ya, self.yb, self.x1, self.x0)
        by, bx = box
        return resample.upsample_rows(
            low, f, self.ya + by.start, self.ya + by.stop, self.x0 + bx.stop, self.x0 + bx.start
        )


@dataclass
class _Masks:
    """A tile's full-resolution masks: matte, metal, gem (0..1, (h, w) float32), the raw gem
    mask (before the matte), the backdrop shadow, and `box`, where the matte is non-zero
    (padded)."""

    matte: np.ndarray
    metal: np.ndarray
    gem: np.ndarray
    gem_raw: np.ndarray
    shadow: np.ndarray
    box: tuple[slice, slice]


def _sample_masks(tile: _Tile, plan: _Plan) -> _Masks:
    """Stage 1: the masks at full resolution (guided upsampling, then the edge alpha)."""
    guide, rgb_in = tile.guide, tile.rgb_in
    zeros = np.zeros(guide.shape, dtype=np.float32)
    matte = np.clip(resample.apply_guided(tile.sample(plan.guided[..., 0::2]), guide)[..., 0], 0, 1)
    matte = np.clip((matte - MATTE_SNAP) / (1 - 2 * MATTE_SNAP), 0, 1)
    if plan.matting is not None:
        edge = _support_box((matte > 0) & (matte < 1), pad=MATTING_WINDOW_MAX)
        if edge[0].stop > edge[0].start:
            maps = tile.sample(plan.matting, edge)
            matte[edge] = edge_alpha(
                rgb_in[edge], np.maximum(maps[..., :3], 1e-4), maps[..., 3], matte[edge],
                plan.matting_floor, 2 * plan.factor + 1,
            )
    # Metal and gem matter only where the matte is non-zero: sample them in that box (plus
    # the gem contrast's blur context) and nowhere else.
    box = _support_box(matte, pad=8)
    metal, gem_raw = zeros.copy(), zeros.copy()
    if box[0].stop > box[0].start:
        metal_coeffs = tile.sample(plan.guided[..., 1::2], box)
        metal[box] = np.clip(resample.apply_guided(metal_coeffs, guide[box])[..., 0], 0, 1)
        if tile.any(plan.guided_gem):
            gem_coeffs = tile.sample(plan.guided_gem, box)
            gem_raw[box] = np.clip(resample.apply_guided(gem_coeffs, guide[box])[..., 0], 0, 1)
    shadow = tile.sample(plan.shadow)[..., 0] if tile.any(plan.shadow) else zeros
    return _Masks(matte, metal * matte, gem_raw * matte, gem_raw, shadow, box)


def _clean_up(tile: _Tile, masks: _Masks, plan: _Plan, opts: RetouchOptions, matte_only: bool):
    """Stage 2: isolated specks and short scratches, the analysis's larger defects, and
    fingerprints/smudges on the metal. Returns (cleaned rgb, defect mask, protect map)."""
    guide, rgb_in, box = tile.guide, tile.rgb_in, masks.box
    zeros = np.zeros(guide.shape, dtype=np.float32)
    # With a white or transparent backdrop at full strength and no layers, the photo reaches
    # the output only where the matte is non-zero: specks are looked for in its box plus
    # SPECK_CONTEXT pixels, which decides every speck that touches the box exactly as the
    # whole tile would (size limit and isolation window are smaller).
    if matte_only:
        region = _grow_box(box, SPECK_CONTEXT, guide.shape) if box[0].stop > 0 else box
    else:
        region = (slice(0, guide.shape[0]), slice(0, guide.shape[1]))
    defects_low, protect = zeros, zeros
    ry, _ = region
    if ry.stop > ry.start and tile.any(plan.cleanup_maps):
        maps = tile.sample(plan.cleanup_maps, region)
        defects_low, protect = zeros.copy(), zeros.copy()
        defects_low[region], protect[region] = maps[..., 0], maps[..., 1]
    defect_mask = np.zeros(guide.shape, dtype=bool)
    if opts.cleanup and ry.stop > ry.start:
        defect_mask[region] = find_specks(
            guide[region], plan.speck_threshold, protect=protect[region] > 0.01
        )
        defect_mask |= defects_low > SOLID
        defect_mask &= ~(masks.gem > GEM_SURE)
    cleaned = inpaint(rgb_in, defect_mask) if defect_mask.any() else rgb_in
    metal = masks.metal
    if opts.cleanup and box[0].stop > box[0].start and metal[box].max() > SOLID:
        keep_sharp = (masks.gem_raw[box] > 0.1) | (protect[box] > 0.01)
        smudge = find_smudges(guide[box], metal[box], plan.noise, keep_sharp)
        if smudge.any():
            cleaned = cleaned.copy() if cleaned is rgb_in else cleaned
            cleaned[box] = smooth_smudges(cleaned[box], smudge)
            defect_mask = defect_mask.copy()
            defect_mask[box] |= smudge > SOLID
    return cleaned, defect_mask, protect


def _tone_piece(tile, masks: _Masks, cleaned, plan: _Plan, opts: RetouchOptions, codec: Codec):
    """Stage 3: the piece's tone in the matte's box (cast and exposure gain, metal toning,
    highlight shoulder, gem micro-contrast): (bh, bw, 3) float32 linear."""
    box, matte, metal = masks.box, masks.matte, masks.metal
    gain_box = plan.tone_gain * (1 + metal[box][..., None] * (plan.metal_gains - 1))
    source_box = cleaned[box]
    if plan.contrast_slope != 1:
        # The catalog finish's polished metal: sensor grain fades (not on stones).
        source_box = smooth_grain(source_box, metal[box] * (1 - masks.gem_raw[box]), plan.noise)
    toned_box = source_box * gain_box
    top_code = np.float32(1 - 1.2 / codec.maximum)  # every channel at the input's top code
    if plan.contrast_slope != 1:
        # The catalog contrast; clipped input keeps its level (it is the shoulder's to place,
        # and a clipped patch must land on one code).
        curved = contrast_curve(toned_box, metal[box], plan.contrast_mid, plan.contrast_slope)
        clipped_in = channel_min(cleaned[box]) >= top_code
        toned_box = np.where(clipped_in[..., None], toned_box, curved)
    if opts.hotspots:
        # Each pixel's own "clipped input" level: the gains vary across a hotspot (the
        # metal mask is soft), and one scalar level would push near-white neighbours of a
        # clipped patch onto the top code. With the pixel's own level a clipped input
        # lands exactly on the ceiling and everything else below it.
        peak = channel_max(toned_box)
        ceiling = plan.hotspot_ceiling
        high = peak > np.float32(KNEE * ceiling)  # the curves are identity below
        # Where the matte is 0 the toned pixel is never seen (the backdrop replaces it, and
        # the tone layer's alpha is 0 there): a bright backdrop in the box costs nothing.
        high &= matte[box] > 0
        if high.any():
            peak = peak[high]
            white_px = channel_max(gain_box[high])
            scale = shoulder(peak, white_px, ceiling)
            # The top output code belongs to clipped input alone: everything else ends at
            # least 1.5 output codes (at a gamma of about 2.4) under the ceiling, so a 254
            # next to a 255 cannot round onto the clipped patch's code.
            margin = ceiling * 1.5 * 2.4 / (0.95 * codec.maximum)
            clipped = channel_min(cleaned[box][high]) >= top_code
            scale = np.where(clipped, scale, scale * reserve_top(peak * scale, margin, ceiling))
            toned = toned_box[high] * scale[..., None]
            # A clipped patch recorded no colour: the light's, which the cast removal made
            # neutral. Tinting it with the per-channel gains would turn white-metal
            # speculars warm or pink; it sits, neutral, on the ceiling (exactly: where the
            # gains are below the shoulder's top, peak x scale would fall short of it).
            on_ceiling = np.maximum(peak * scale, np.float32(ceiling))[..., None]
            toned_box[high] = np.where(clipped[..., None], on_ceiling, toned)
    if opts.gem_contrast > 0 and not opts.protect_gems:
        # Clipped pixels carry no detail to raise, and must stay on the ceiling.
        flat_top = channel_min(cleaned[box]) >= top_code
        # The catalog finish gives stones more brilliance: their own facets' contrast, raised
        # further (nothing is drawn that the photo does not show).
        amount = opts.gem_contrast * (CATALOG_GEM_BOOST if plan.contrast_slope != 1 else 1.0)
        contrasted = micro_contrast(toned_box, masks.gem[box], amount)
        toned_box = np.where(flat_top[..., None], toned_box, contrasted)
    if plan.contrast_slope != 1 and not opts.protect_gems:
        # The catalog finish's clean whites: a colourless stone's faint tint (a mirrored
        # sweep) goes; coloured stones and their fire are left as they are.
        toned_box = clean_whites(toned_box, masks.gem[box])
    return toned_box


def _composite(tile, masks: _Masks, cleaned, toned_box, plan: _Plan, opts: RetouchOptions):
    """Stage 4: the toned piece over the new backdrop (white + shadow, transparent, or the
    photo's own). Returns (result rgb, output alpha or None, backdrop rgb)."""
    box, matte, shadow, alpha = masks.box, masks.matte, masks.shadow, tile.alpha
    m = matte[box][..., None]
    out_alpha = alpha
    if opts.background == "white":
        backdrop_rgb = np.broadcast_to((1 - shadow)[..., None], cleaned.shape)
        result = np.array(backdrop_rgb, dtype=np.float32)
        result[box] = toned_box * m + backdrop_rgb[box] * (1 - m)
    elif opts.background == "transparent":
        a_in = alpha if alpha is not None else np.ones_like(matte)
        cover = matte + (1 - matte) * shadow
        out_alpha = a_in * cover
        result = np.zeros_like(cleaned)
        result[box] = toned_box * (matte[box] / np.maximum(cover[box], 1e-6))[..., None]
        backdrop_rgb = np.zeros_like(cleaned)
    else:
        backdrop_rgb = cleaned * (plan.backdrop_gain * (1 - shadow)[..., None])
        result = backdrop_rgb.copy()
        result[box] = toned_box * m + backdrop_rgb[box] * (1 - m)
    return result, out_alpha, backdrop_rgb


def _support_box(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """The bounding box of mask > 0, grown by `pad` pixels (empty slices when none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(int(rows[0]) - pad, 0), min(int(rows[-1]) + pad + 1, h)),
        slice(max(int(cols[0]) - pad, 0), min(int(cols[-1]) + pad + 1, w)),
    )


def _grow_box(box: tuple[slice, slice], pad: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """`box` grown by `pad` pixels on every side, clipped to an array of `shape`."""
    return (
        slice(max(box[0].start - pad, 0), min(box[0].stop + pad, shape[0])),
        slice(max(box[1].start - pad, 0), min(box[1].stop + pad, shape[1])),
    )


def _low_res_span(start: int, stop: int, factor: int, size: int) -> tuple[int, int]:
    """Working-resolution indices [lo, hi) that bilinear sampling of full-res start..stop uses."""
    lo = min(max(int(np.floor((start + 0.5) / factor - 0.5)), 0), size - 1)
    hi = min(int(np.floor((stop - 0.5) / factor - 0.5)) + 2, size)
    return lo, hi


def _to_u8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0, 1) * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def _rgb_codes(codec: Codec, rgb: np.ndarray) -> np.ndarray:
    codes = codec.encode(rgb)
    return np.repeat(codes, 3, axis=-1) if codes.shape[-1] == 1 else codes


def _metal_variants(pixels: np.ndarray, masks: dict, codec: Codec, kinds, workers: int) -> dict:
    """{metal: the result's pixels with its metal in that metal} (models/ops/variants.py).
    The metal pixels are decoded and their colour curve measured once, for every variant."""
    metal = MetalPixels(pixels, masks["metal"], masks["piece"], masks["gem"], codec)
    return {kind: metal.variant(kind, workers) for kind in kinds}


def _reflection_layer(pixels: np.ndarray, placed, codec: Codec, icc) -> ImageData:
    """The reflections as an RGBA layer of the result's geometry: the reflected colours at
    their opacity, transparent elsewhere."""
    h, w = pixels.shape[:2]
    layer = np.zeros((h, w, 4), dtype=pixels.dtype)
    colour_n = 1 if pixels.shape[2] in (1, 2) else 3
    for row0, col0, alpha, reflected in placed:
        rows, cols = slice(row0, row0 + alpha.shape[0]), slice(col0, col0 + alpha.shape[1])
        codes = reflected[..., :colour_n]
        layer[rows, cols, :3] = np.repeat(codes, 3, axis=-1) if colour_n == 1 else codes
        layer[rows, cols, 3] = np.maximum(layer[rows, cols, 3], codec.encode_alpha(alpha))
    return ImageData(layer, icc)


def load() -> Retoucher:
    """Load the bundled model (weights shipped in the package; nothing is downloaded)."""
    return Retoucher()
