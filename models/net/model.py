"""JewelNet: a compact U-Net (about 0.5 M parameters, 2 MB of float32 weights)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OUTPUTS = ("piece", "metal", "gem", "defects", "shadow")
"""Output channels, in order: each a logit of a 0..1 map."""

WIDTHS = (16, 32, 48, 64, 96)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class JewelNet(nn.Module):
    """U-Net with 4 down/up levels.

    forward(x): x float32 (N, 3, H, W), sRGB-encoded photo in 0..1, H and W multiples of 16.
    Returns logits (N, len(OUTPUTS), H, W); apply sigmoid for 0..1 maps.
    """

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.down = nn.ModuleList()
        cin = 3
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        for w_skip in reversed(widths[:-1]):
            self.up.append(_block(cin + w_skip, w_skip))
            cin = w_skip
        # The full-resolution input is fed again to the head so 1-2 px specks stay visible.
        self.head = nn.Sequential(
            nn.Conv2d(cin + 3, 16, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(16, 5, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for i, block in enumerate(self.down):
            h = block(h)
            if i < len(self.down) - 1:
                skips.append(h)
                h = F.max_pool2d(h, 2)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = block(torch.cat([h, skip], dim=1))
        return self.head(torch.cat([h, x], dim=1))
