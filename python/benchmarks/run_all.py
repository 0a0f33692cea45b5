"""Run every benchmark in turn with its default settings.

python benchmarks/run_all.py          (from python/, with the venv's python)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_overhead.py", "bench_exact.py", "bench_help.py"]


def main() -> int:
    for name in BENCHMARKS:
        print(f"\n== {name}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / name)], cwd=HERE, check=False)
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
