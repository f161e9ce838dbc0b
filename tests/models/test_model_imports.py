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
