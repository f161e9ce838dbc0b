"""Fixtures for the synthetic-data and network tests: tiny real Mitsuba renders."""

from __future__ import annotations

import os

import pytest

# The fast CPU variant (libLLVM comes from scripts/system-deps.sh); fail loudly without it.
os.environ["JEWEL_SYNTH_VARIANT"] = "llvm_ad_rgb"

TINY = {"resolution": 32, "spp": 4}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Three tiny samples (32 px, 4 spp) written by the real generator."""
    from models.synth.dataset import SynthConfig, generate

    folder = tmp_path_factory.mktemp("synth_tiny")
    paths = generate(folder, [0, 1, 2], SynthConfig(**TINY), workers=1)
    assert len(paths) == 3
    return folder
