"""`jewel-retouch train`: reproduce the shipped network weights (wrapper over models.net)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from models.net.reproduce import add_arguments

    p = subparsers.add_parser(
        "train",
        help="render the synthetic training set and train the network from a seed",
        description="Renders the training and held-out samples (skipping those already on "
        "disk), trains JewelNet from --seed and writes the weights. The defaults reproduce "
        "models/weights/jewelnet.pt (see models/MODEL_CARD.md for the exact command).",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.net.reproduce import reproduce

    meta = reproduce(args)
    return 1 if meta.get("reproduced") is False else 0
