"""Shared pytest configuration. Area-specific fixtures live in each tests/<area>/conftest.py.

Tiers: every test that needs something heavy gets a marker here (registered in pyproject.toml),
from the fixtures it uses, its folder or its file, so `make test-fast` can leave them out:

- gimp: real GIMP 3 in its trixie chroot (root is needed once, to build it);
- browser: Debian's headless Chromium through Playwright;
- live: a real `jewel-retouch serve` process (or several);
- dask: a Dask LocalCluster of worker processes;
- synth: Mitsuba renders and network training.

`make test` runs every tier; nothing here skips a test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Fixtures that bring up the heavy thing, per tier.
TIER_FIXTURES = {
    "gimp": {"gimp3_root", "gimp_session"},
    "browser": {"browser", "page"},
    "live": {"server", "srv", "slow_srv", "gimp_server"},
}
# Whole folders and files.
TIER_PATHS = {
    "synth": ("synth",),
    "dask": ("batch/test_batch_dask.py", "batch/test_batch_consistency.py"),
    "live": ("server/test_server_live.py", "batch/test_batch_consistency.py"),
}
# Inside a heavy folder, but pure numpy/torch (no Mitsuba, no training run): the fast tier.
FAST_PATHS = ("synth/fast/",)


def tiers_of(item: pytest.Item) -> set[str]:
    """The heavy tiers one test belongs to."""
    found = {tier for tier, names in TIER_FIXTURES.items() if names & set(item.fixturenames)}
    try:
        relative = Path(str(item.path)).resolve().relative_to(TESTS).as_posix()
    except ValueError:  # a test outside tests/ (not collected by default)
        return found
    if any(relative.startswith(p) for p in FAST_PATHS):
        return found
    for tier, prefixes in TIER_PATHS.items():
        if any(relative == p or relative.startswith(p.rstrip("/") + "/") for p in prefixes):
            found.add(tier)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for tier in sorted(tiers_of(item)):
            item.add_marker(getattr(pytest.mark, tier))
