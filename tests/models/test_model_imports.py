"""The package's light parts import without the heavy numeric stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_options_schema_and_value_types_do_not_import_torch():
    loaded = _modules_after("import models\nmodels.options_schema()\nmodels.RetouchOptions()")
    assert "models" in loaded and "torch" not in loaded and "models.pipeline" not in loaded


def test_load_is_still_reachable_from_the_package():
    loaded = _modules_after("import models\nassert callable(models.load)\nmodels.Retoucher")
    assert "models.pipeline" in loaded


def test_the_analysis_package_does_not_import_the_network():
    """models/analysis is the seam; models/net implements it. Importing the seam and the
    image-analysis method must not load the network (no import cycle between them)."""
    loaded = _modules_after(
        "import models.analysis, models.analysis.classical, models.analysis.confidence"
    )
    assert "models.analysis.classical" in loaded
    assert not [m for m in loaded if m.startswith("models.net")]
