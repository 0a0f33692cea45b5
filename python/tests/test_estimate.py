"""Estimators: the ratio rule against the oracle, the exact count against tiktoken."""

from __future__ import annotations

import math

import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from token_budget import UsageError
from token_budget.estimate import (
    ExactEstimator,
    RatioEstimator,
    load_cl100k,
    ratio_estimate,
    validate_chars_per_token,
)

_RATIOS = st.floats(
    min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False
)


@given(st.integers(0, 10**12), _RATIOS)
def test_ratio_estimate_matches_the_oracle(chars: int, ratio: float) -> None:
    assert ratio_estimate(chars, ratio) == oracle.ratio_estimate(chars, ratio)


@given(st.lists(st.text(max_size=30), max_size=30), _RATIOS)
def test_running_ratio_estimate_counts_code_points(
    pieces: list[str], ratio: float
) -> None:
    estimator = RatioEstimator(ratio)
    total = 0
    for piece in pieces:
        total = estimator.add(piece)

    joined = "".join(pieces)
    assert total == oracle.ratio_estimate(oracle.code_points(joined), ratio)


def test_ratio_estimate_is_one_double_division() -> None:
    # 21 / 0.7 is 30.000000000000004 in doubles, so ceil gives 31, while the
    # decimal arithmetic a human would do gives 30. The contract wants the double.
    assert ratio_estimate(21, 0.7) == 31
    assert ratio_estimate(1, 1e9) == 1
    assert ratio_estimate(0, 4.0) == 0


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "4", True])
def test_bad_chars_per_token_is_a_usage_error(bad: object) -> None:
    with pytest.raises(UsageError):
        validate_chars_per_token(bad)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cl100k() -> object:
    return load_cl100k()


def test_exact_counts_hello_world_as_two_tokens(cl100k: object) -> None:
    # BR-34: three pieces of "Hello world" are still two tokens, not three.
    estimator = ExactEstimator(cl100k)
    for piece in ("Hel", "lo", " world"):
        total = estimator.add(piece)

    assert total == 2


_TEXT_PIECES = st.lists(
    st.text(
        alphabet=st.sampled_from(
            [*list("ab xy'sllve 123456\n\r\t.,!?-"), "é", "你", "🙂", "\xa0", "́"]
        ),
        max_size=12,
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_TEXT_PIECES)
def test_incremental_exact_count_equals_full_encoding(
    cl100k: object, pieces: list[str]
) -> None:
    estimator = ExactEstimator(cl100k)
    seen = ""
    for piece in pieces:
        seen += piece
        running = estimator.add(piece)
        assert running == len(cl100k.encode_ordinary(seen))  # type: ignore[attr-defined]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=20))
def test_incremental_exact_count_on_arbitrary_unicode(
    cl100k: object, pieces: list[str]
) -> None:
    estimator = ExactEstimator(cl100k)
    total = 0
    for piece in pieces:
        total = estimator.add(piece)

    expected = ExactEstimator(cl100k).count("".join(pieces))
    assert total == expected


def test_exact_count_of_a_long_text_fed_in_small_pieces(cl100k: object) -> None:
    text = "The quick brown fox's 12345 jumps   over\n\nthe lazy dog! " * 200
    estimator = ExactEstimator(cl100k)
    for start in range(0, len(text), 7):
        total = estimator.add(text[start : start + 7])

    assert total == len(cl100k.encode_ordinary(text))  # type: ignore[attr-defined]


def test_a_bpe_file_with_the_wrong_hash_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from token_budget import MissingDependencyError, estimate

    monkeypatch.setattr(estimate, "CL100K_SHA256", "0" * 64)

    with pytest.raises(MissingDependencyError, match="SHA-256"):
        estimate.load_cl100k()
