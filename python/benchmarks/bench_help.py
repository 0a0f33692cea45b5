"""Wall time of `token-budget --help` against a bare interpreter start.

The CLI must answer --help in under 150 ms, so it imports httpx and asyncio only
when a request starts. Prints the median of several runs and the ratio to
`python -c pass` measured in the same run.

    python benchmarks/bench_help.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    bare = wall([sys.executable, "-c", "pass"], args.runs)
    help_time = wall([sys.executable, "-m", "token_budget", "--help"], args.runs)
    verdict = "ok" if help_time < 0.150 else "OVER the 150 ms goal"
    print(f"python -c pass:           {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"token-budget --help:      {help_time * 1000:7.1f} ms  {verdict}")
    print(f"ratio to a bare start:    {help_time / bare:7.2f}x")


if __name__ == "__main__":
    main()
