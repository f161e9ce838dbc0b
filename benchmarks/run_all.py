"""Run every benchmark script (benchmarks/bench_*.py, and the UXP panel's node benchmark).

Each script prints its own figures; this runner only sequences them and reports failures.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    failed = []
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.call([sys.executable, str(script)], cwd=ROOT) != 0:
            failed.append(script.name)
    uxp_bench = ROOT / "photoshop_uxp" / "bench" / "bench.mjs"
    if uxp_bench.exists() and shutil.which("node"):
        print("\n=== photoshop_uxp/bench/bench.mjs ===", flush=True)
        if subprocess.call(["node", str(uxp_bench)], cwd=ROOT / "photoshop_uxp") != 0:
            failed.append("photoshop_uxp bench")
    if failed:
        print(f"\nbenchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
