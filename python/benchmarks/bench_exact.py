"""The exact (cl100k) estimator stays linear: per-chunk cost does not grow with length.

Feeds the same English-like text in 4-character chunks to the incremental
ExactEstimator and, as the baseline, re-encodes the whole text after every chunk
(what a naive running count does). Prints microseconds per chunk at each length;
the incremental column should stay flat while the naive one grows with the text.

    python benchmarks/bench_exact.py [--counts 1000,10000,100000]
"""

from __future__ import annotations

import argparse

from common import paired_best

from token_budget.estimate import ExactEstimator, load_cl100k

WORDS = (
    "the budget stops a streamed answer when the estimate reaches its limit, "
    "so 12 tokens or 1234 tokens never turn into a surprise bill! "
)


def chunks(count: int) -> list[str]:
    text = (WORDS * (count * 4 // len(WORDS) + 1))[: count * 4]
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def incremental(encoding: object, pieces: list[str]) -> int:
    estimator = ExactEstimator(encoding)
    total = 0
    for piece in pieces:
        total = estimator.add(piece)
    return total


def naive(encoding: object, pieces: list[str]) -> int:
    text = ""
    total = 0
    for piece in pieces:
        text += piece
        total = len(encoding.encode_ordinary(text))  # type: ignore[attr-defined]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--naive-limit", type=int, default=10_000)
    args = parser.parse_args()

    encoding = load_cl100k()
    print(f"{'chunks':>8} {'incremental us/chunk':>21} {'naive us/chunk':>15}")
    for count in (int(c) for c in args.counts.split(",")):
        pieces = chunks(count)
        runs = {"incremental": lambda p=pieces: incremental(encoding, p)}
        if count <= args.naive_limit:
            runs["naive"] = lambda p=pieces: naive(encoding, p)
            assert incremental(encoding, pieces) == naive(encoding, pieces)
        best = paired_best(runs, 3)
        inc = best["incremental"] / count * 1e6
        slow = (
            f"{best['naive'] / count * 1e6:15.1f}"
            if "naive" in best
            else " " * 12 + "n/a"
        )
        print(f"{count:>8} {inc:>21.2f} {slow}")


if __name__ == "__main__":
    main()
