"""Optical constants of jewelry metals and gemstones used by the synthetic renderer.

Metals are smooth or rough conductors described by their complex index of refraction
n + ik, sampled at three wavelengths that stand for the sRGB primaries (about 630, 532 and
465 nm). Sources:

* gold (Au), silver (Ag), copper (Cu): P. B. Johnson and R. W. Christy, "Optical constants of
  the noble metals", Phys. Rev. B 6, 4370 (1972); values as tabulated on refractiveindex.info.
* platinum (Pt): W. S. M. Werner, K. Glantschnig, C. Ambrosch-Draxl, "Optical constants and
  inelastic electron-scattering data for 17 elemental metals", J. Phys. Chem. Ref. Data 38,
  1013 (2009).
* rhodium (Rh): J. H. Weaver, C. Krafka, D. W. Lynch, E. E. Koch, "Optical properties of
  metals", Physics Data 18-1 (Fachinformationszentrum Karlsruhe, 1981).

Jewelry alloys have no single measured table in these sources; they are approximated by
mixing the complex indices of their main constituents by mass fraction (an effective-medium
shortcut that gets the hue right, which is what the retoucher's metal-tone step cares about):
18k yellow gold = 75% Au + 12.5% Ag + 12.5% Cu, 18k rose gold = 75% Au + 22.5% Cu + 2.5% Ag,
unplated white gold = 75% Au + 25% Pt-group (palladium is close to platinum in the visible).
Most white gold is sold rhodium plated; "rhodium" below is that plating.

Gem refractive indices (sodium D line) are the standard gemmological values (GIA Gem
Reference Guide); the absorption colours are the body colours of typical stones, used as the
transmittance tint of the dielectric interface.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class MetalOptics:
    """Complex refractive index n + ik of a metal at the R, G, B sample wavelengths."""

    name: str
    eta: RGB
    k: RGB


_PURE: dict[str, MetalOptics] = {
    "Au": MetalOptics("Au", (0.1431, 0.3749, 1.4425), (3.9832, 2.3857, 1.6032)),
    "Ag": MetalOptics("Ag", (0.1553, 0.1167, 0.1383), (4.8283, 3.1222, 2.1470)),
    "Cu": MetalOptics("Cu", (0.2004, 0.9240, 1.1022), (3.9129, 2.4528, 2.1422)),
    "Pt": MetalOptics("Pt", (2.3757, 2.0847, 1.8453), (4.2655, 3.7153, 3.1365)),
    "Rh": MetalOptics("Rh", (2.1600, 1.9200, 1.6600), (5.6500, 5.1300, 4.5700)),
}


def _mix(name: str, parts: dict[str, float]) -> MetalOptics:
    total = sum(parts.values())
    eta = tuple(sum(_PURE[m].eta[c] * w for m, w in parts.items()) / total for c in range(3))
    k = tuple(sum(_PURE[m].k[c] * w for m, w in parts.items()) / total for c in range(3))
    return MetalOptics(name, eta, k)  # type: ignore[arg-type]


METALS: dict[str, MetalOptics] = {
    "yellow_gold": _mix("yellow_gold", {"Au": 0.75, "Ag": 0.125, "Cu": 0.125}),
    "rose_gold": _mix("rose_gold", {"Au": 0.75, "Cu": 0.225, "Ag": 0.025}),
    "white_gold": _mix("white_gold", {"Au": 0.75, "Pt": 0.25}),
    "silver": _PURE["Ag"],
    "platinum": _PURE["Pt"],
    "rhodium": _PURE["Rh"],
}
"""Metal name -> optics. Keys other than "rhodium" match `models.api.METALS`."""

# What the retoucher should call each rendered metal (rhodium plating reads as white gold).
METAL_KIND: dict[str, str] = {
    "yellow_gold": "yellow_gold",
    "rose_gold": "rose_gold",
    "white_gold": "white_gold",
    "silver": "silver",
    "platinum": "platinum",
    "rhodium": "white_gold",
}


@dataclass(frozen=True)
class GemOptics:
    """A transparent stone: refractive index and body colour (transmittance tint per bounce)."""

    name: str
    ior: float
    colour: RGB


GEMS: dict[str, GemOptics] = {
    "diamond": GemOptics("diamond", 2.417, (0.99, 0.99, 0.99)),
    "sapphire": GemOptics("sapphire", 1.770, (0.18, 0.32, 0.85)),
    "ruby": GemOptics("ruby", 1.770, (0.85, 0.10, 0.18)),
    "emerald": GemOptics("emerald", 1.580, (0.15, 0.72, 0.35)),
    "amethyst": GemOptics("amethyst", 1.544, (0.58, 0.30, 0.80)),
    "cubic_zirconia": GemOptics("cubic_zirconia", 2.170, (0.98, 0.98, 0.98)),
}


@dataclass(frozen=True)
class OpaqueStone:
    """An opaque cabochon or pearl: diffuse body under a smooth dielectric coat."""

    name: str
    colour: RGB
    ior: float
    roughness: float  # GGX alpha of the coat; 0 means a perfectly smooth coat


OPAQUE: dict[str, OpaqueStone] = {
    "turquoise": OpaqueStone("turquoise", (0.18, 0.62, 0.62), 1.62, 0.08),
    "onyx": OpaqueStone("onyx", (0.015, 0.015, 0.018), 1.54, 0.02),
    "lapis": OpaqueStone("lapis", (0.06, 0.10, 0.45), 1.50, 0.10),
    "coral": OpaqueStone("coral", (0.80, 0.28, 0.22), 1.49, 0.10),
    "pearl_white": OpaqueStone("pearl_white", (0.86, 0.84, 0.80), 1.53, 0.0),
    "pearl_cream": OpaqueStone("pearl_cream", (0.88, 0.80, 0.66), 1.53, 0.0),
    "pearl_black": OpaqueStone("pearl_black", (0.07, 0.07, 0.08), 1.53, 0.0),
    # The second catalog's textured stones (models.synth.stones draws their albedo maps; the
    # colour here is the map's mean, for a render without the map).
    "opal": OpaqueStone("opal", (0.74, 0.74, 0.72), 1.45, 0.0),
    "moonstone": OpaqueStone("moonstone", (0.70, 0.72, 0.76), 1.52, 0.0),
    "jade": OpaqueStone("jade", (0.22, 0.45, 0.25), 1.66, 0.04),
    "jade_pale": OpaqueStone("jade_pale", (0.55, 0.66, 0.50), 1.66, 0.04),
    "turquoise_matrix": OpaqueStone("turquoise_matrix", (0.20, 0.52, 0.50), 1.62, 0.12),
    "howlite": OpaqueStone("howlite", (0.80, 0.80, 0.78), 1.59, 0.15),
    "agate": OpaqueStone("agate", (0.45, 0.42, 0.40), 1.54, 0.02),
    "mother_of_pearl": OpaqueStone("mother_of_pearl", (0.82, 0.81, 0.80), 1.53, 0.03),
}


@dataclass(frozen=True)
class PropMaterial:
    """A studio prop's surface: diffuse felt, foam, card or wax, or clear acrylic."""

    name: str
    colour: RGB  # diffuse albedo, or the transmittance tint of a clear prop
    clear: bool = False  # a smooth dielectric (acrylic, ior 1.49) instead of a diffuse body


PROPS: dict[str, PropMaterial] = {
    "felt_black": PropMaterial("felt_black", (0.025, 0.025, 0.028)),
    "felt_grey": PropMaterial("felt_grey", (0.22, 0.22, 0.23)),
    "felt_navy": PropMaterial("felt_navy", (0.03, 0.04, 0.12)),
    "felt_burgundy": PropMaterial("felt_burgundy", (0.16, 0.03, 0.05)),
    "foam_white": PropMaterial("foam_white", (0.78, 0.78, 0.76)),
    "foam_grey": PropMaterial("foam_grey", (0.42, 0.42, 0.42)),
    "card_tan": PropMaterial("card_tan", (0.55, 0.44, 0.30)),
    "wax": PropMaterial("wax", (0.80, 0.72, 0.55)),
    "acrylic": PropMaterial("acrylic", (0.96, 0.97, 0.97), clear=True),
}
"""Supports a retoucher removes: felt and foam pads, card stands, museum wax, acrylic clips."""
