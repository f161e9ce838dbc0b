"""JewelNet v2 (in progress): a compact matting network for a 512 px working size.

v1 (`models.net.model`) is a plain U-Net run at 192 px: a prong, a chain link or the bright
rim of a band is a pixel or less there. v2 sees the photo at a long side of 512 px and stays
within the CPU budget (0.4 s per forward pass on the 2-core machine, benchmarks/bench_net_v2.py)
by spending its work at low resolution:

* encoder: a stride-2 stem, then MobileNetV2-style inverted residual blocks (1x1 expand,
  3x3 depthwise, 1x1 project) down to 1/32, the deepest stage with dilated depthwise
  convolutions for a wide view (a whole necklace, the sweep around it);
* decoder: FPN-style, upsample + skip + a depthwise-separable block per level, up to 1/2;
* a full-resolution refinement: the 1/2-scale logits upsampled, concatenated with the photo,
  through two small 3x3 convolutions, so edges land on the photo's own edges at 512 px;
* a metal-kind head: features pooled over the predicted metal (and globally), so the kind is
  judged on the metal itself, not the backdrop.

forward(x): x (N, 3, H, W) float32, sRGB-encoded 0..1, H and W multiples of 32. Returns
(maps, kind): maps (N, len(OUTPUTS), H, W) logits of 0..1 maps (the matte is a soft alpha
trained against fractional coverage), kind (N, len(METAL_KINDS)) logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OUTPUTS = ("piece", "metal", "gem", "defects", "shadow", "prop")
"""Map channels, in order (the same names as v1 and the sample files; "prop" is a support
under or around the piece, a felt pad, wax or a clip, that goes with the backdrop)."""

METAL_KINDS = ("yellow_gold", "rose_gold", "white_gold", "silver", "platinum")
"""Metal-kind classes, in order (models.api.METALS without "auto")."""

WORKING_SIDE = 512
"""The long side the network is run at."""

STAGES = ((24, 2, 1), (48, 3, 1), (80, 3, 1), (128, 3, 2))
"""Encoder stages after the stem: (width, blocks, dilation of the later blocks)."""

STEM = 16
DECODER = (80, 56, 40, 24)
"""Decoder widths at 1/16, 1/8, 1/4 and 1/2."""


def _cbr(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, dilation: int = 1):
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise (stride, dilation), 1x1 linear projection; residual when the
    shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4, dilation: int = 1):
        super().__init__()
        mid = cin * expand
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            _cbr(cin, mid),
            _cbr(mid, mid, 3, stride, groups=mid, dilation=dilation),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class SeparableBlock(nn.Module):
    """3x3 depthwise + 1x1 pointwise, twice (the decoder's unit)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            _cbr(cin, cin, 3, groups=cin),
            _cbr(cin, cout),
            _cbr(cout, cout, 3, groups=cout),
            _cbr(cout, cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class JewelNetV2(nn.Module):
    def __init__(
        self,
        stem: int = STEM,
        stages: tuple[tuple[int, int, int], ...] = STAGES,
        decoder: tuple[int, ...] = DECODER,
    ) -> None:
        super().__init__()
        self.config = {"stem": stem, "stages": [list(s) for s in stages], "decoder": list(decoder)}
        self.stem = _cbr(3, stem, 3, 2)  # 1/2
        blocks = []
        cin = stem
        for width, count, dilation in stages:
            layers = [InvertedResidual(cin, width, 2)]
            layers += [
                InvertedResidual(width, width, 1, dilation=dilation) for _ in range(count - 1)
            ]
            blocks.append(nn.Sequential(*layers))
            cin = width
        self.stages = nn.ModuleList(blocks)  # 1/4, 1/8, 1/16, 1/32
        skips = [stages[i][0] for i in range(len(stages) - 2, -1, -1)] + [stem]
        self.lateral = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for skip, width in zip(skips, decoder, strict=True):
            self.lateral.append(_cbr(cin, width))
            self.fuse.append(SeparableBlock(width + skip, width))
            cin = width
        n = len(OUTPUTS)
        self.coarse = nn.Conv2d(cin, n, 1)  # logits at 1/2
        # Full resolution: upsampled logits + the photo -> corrected logits.
        self.refine = nn.Sequential(
            nn.Conv2d(n + 3, 12, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(12, n, 3, padding=1),
        )
        deep = stages[-1][0]
        self.kind = nn.Sequential(
            nn.Linear(deep + 2 * decoder[-2], 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, len(METAL_KINDS)),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"JewelNetV2 needs H and W multiples of 32, got {tuple(x.shape)}")
        feats = [self.stem(x)]
        h = feats[0]
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        deep = h
        quarter = None
        for i, (lateral, fuse) in enumerate(zip(self.lateral, self.fuse, strict=True)):
            skip = feats[-(i + 2)]
            h = F.interpolate(
                lateral(h), size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            h = fuse(torch.cat([h, skip], 1))
            if i == len(self.fuse) - 2:
                quarter = h  # 1/4-scale decoder features, for the metal-kind head
        coarse = self.coarse(h)
        up = F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)
        maps = up + self.refine(torch.cat([up, x], 1))
        # Metal kind: features averaged over the (predicted) metal, and over the whole frame.
        assert quarter is not None
        metal = torch.sigmoid(
            F.interpolate(
                coarse[:, 1:2], size=quarter.shape[-2:], mode="bilinear", align_corners=False
            )
        )
        weight = metal / (metal.sum(dim=(2, 3), keepdim=True) + 1e-3)
        on_metal = (quarter * weight).sum(dim=(2, 3))
        pooled = torch.cat([deep.mean(dim=(2, 3)), on_metal, quarter.mean(dim=(2, 3))], 1)
        return maps, self.kind(pooled)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def working_size(h: int, w: int, side: int = WORKING_SIDE) -> tuple[int, int]:
    """(H, W) for a photo of h x w: long side `side` (never upscaled past it), multiples of 32."""
    scale = side / max(h, w)
    return max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)


@torch.inference_mode()
def predict(model: JewelNetV2, encoded: torch.Tensor, side: int = WORKING_SIDE) -> dict:
    """Runs the network on one photo at the working size; maps come back at the input size.

    encoded: (3, h, w) float32 sRGB-encoded 0..1. Returns {name: (h, w) float32 0..1 tensor}
    for OUTPUTS, plus "metal_kind" (a name) and "metal_kind_p" (probabilities, METAL_KINDS).
    """
    h, w = encoded.shape[-2:]
    sh, sw = working_size(h, w, side)
    x = F.interpolate(encoded[None].float(), size=(sh, sw), mode="bilinear", antialias=True)
    maps, kind = model(x)
    maps = torch.sigmoid(F.interpolate(maps, size=(h, w), mode="bilinear", align_corners=False))
    probs = torch.softmax(kind, 1)[0]
    out = {name: maps[0, i] for i, name in enumerate(OUTPUTS)}
    out["metal_kind"] = METAL_KINDS[int(probs.argmax())]
    out["metal_kind_p"] = probs
    return out
