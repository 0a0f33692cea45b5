"""Turn what a run produced into findings, and findings into one outcome.

A finding has a *kind* that decides the outcome it leads to:

* behaviour (``expectation``, ``disconnect``, ``requests``, ``oracle``): ``fail``;
* contract (``invalid-json``, ``schema``, ``cross-talk``, ``exit-code``, ``stderr``,
  ``traceback``): ``error``, the implementation broke the CLI contract itself;
* ``timeout``: ``timeout``; ``referee``: ``harness-error`` (the referee broke, or its
  self-check says the scripted frames are wrong, so nothing can be concluded).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

import jsonschema

from .registry import SCHEMA_DIR
from .runner import RunResult

log = logging.getLogger("harness.judge")

TRACEBACK_MARKERS = (
    "Traceback (most recent call last)",
    "panic:",
    "thread 'main' panicked",
)
ERROR_PREFIX = "token-budget: "

# How long after the crossing write the client may take to hang up. Wide on purpose:
# two busy cores, process start-up noise (lesson 10).
DISCONNECT_BAND_S = 2.0


class Outcome(str, Enum):
    """The outcome taxonomy of the suite (lesson 6 of the conformance anchors)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"
    EXPECTED_FAIL = "expected-fail"
    NOT_APPLICABLE = "not-applicable"
    HARNESS_ERROR = "harness-error"
    UNAVAILABLE = "unavailable"


UNEXPECTED = frozenset(
    {Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.HARNESS_ERROR}
)

_CONTRACT_KINDS = frozenset(
    {
        "invalid-json",
        "schema",
        "cross-talk",
        "exit-code",
        "stderr",
        "traceback",
        "smoke",
    }
)


@dataclass(frozen=True)
class Finding:
    """One thing that is wrong, with the kind that classifies it."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


def outcome_of(findings: list[Finding]) -> Outcome:
    """The most severe outcome the findings call for."""
    kinds = {f.kind for f in findings}
    if "referee" in kinds:
        return Outcome.HARNESS_ERROR
    if "timeout" in kinds:
        return Outcome.TIMEOUT
    if kinds & _CONTRACT_KINDS:
        return Outcome.ERROR
    if kinds:
        return Outcome.FAIL
    return Outcome.PASS


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def schema_errors(instance: Any, schema_name: str) -> list[str]:
    """Schema violations as short readable lines (path: message)."""
    errors = sorted(_validator(schema_name).iter_errors(instance), key=lambda e: e.path)
    return [
        f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors[:5]
    ]


def check_contract(
    run: RunResult, case_id: str, usage_error: bool = False
) -> list[Finding]:
    """What every run must satisfy whatever the case (SPEC 6, 8)."""
    if run.referee_crash is not None:
        return [Finding("referee", f"the referee crashed: {run.referee_crash}")]
    if run.timed_out:
        return [
            Finding(
                "timeout", f"still running after the {run.limit_s:.1f} s limit; killed"
            )
        ]

    findings = _check_streams(run)
    if usage_error:
        if run.stdout:
            findings.append(
                Finding("invalid-json", "a usage error must print nothing on stdout")
            )
        return findings

    if run.json_error is not None:
        findings.append(Finding("invalid-json", run.json_error))
    if run.result is None:
        return findings

    for line in schema_errors(run.result, "result.schema.json"):
        findings.append(Finding("schema", line))
    echoed = run.result.get("case_id")
    if echoed != case_id:
        findings.append(
            Finding("cross-talk", f"case_id {echoed!r} echoed, sent {case_id!r}")
        )
    findings.extend(_check_exit_code(run))
    return findings


def _check_streams(run: RunResult) -> list[Finding]:
    findings = []
    stderr = run.stderr.decode("utf-8", errors="replace")
    stdout = run.stdout.decode("utf-8", errors="replace")
    for marker in TRACEBACK_MARKERS:
        if marker in stderr or marker in stdout:
            findings.append(Finding("traceback", f"{marker!r} in the output"))

    if run.exit_code not in (0, None):
        prefixed = [ln for ln in stderr.splitlines() if ln.startswith(ERROR_PREFIX)]
        if len(prefixed) != 1:
            findings.append(
                Finding(
                    "stderr",
                    f"exit {run.exit_code} needs exactly one {ERROR_PREFIX!r} line on "
                    f"stderr, found {len(prefixed)}: {_tail(stderr)!r}",
                )
            )
    return findings


def _check_exit_code(run: RunResult) -> list[Finding]:
    """SPEC 8: 0 for complete/budget, 1 for error/truncated."""
    assert run.result is not None
    end = run.result.get("end")
    wanted = {"complete": 0, "budget": 0, "error": 1, "truncated": 1}.get(str(end))
    if wanted is not None and run.exit_code != wanted:
        return [
            Finding(
                "exit-code", f"end {end!r} needs exit {wanted}, got {run.exit_code}"
            )
        ]
    return []


def _tail(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


# --- a case's expect section ---------------------------------------------------------

_RESULT_KEYS = (
    "end",
    "budget_reached",
    "content",
    "finish_reason",
    "usage",
    "counted_chars",
    "estimated_tokens",
    "chunks",
    "provider",
    "model",
    "budget",
    "estimator",
)
_ERROR_KEYS = {
    "error_kind": "kind",
    "error_status": "status",
    "retry_after": "retry_after",
}
_COST_KEYS = {
    "cost_basis": "basis",
    "cost_prompt_tokens": "prompt_tokens",
    "cost_completion_tokens": "completion_tokens",
    "cost_usd": "usd",
}
KNOWN_EXPECT_KEYS = frozenset(
    {*_RESULT_KEYS, *_ERROR_KEYS, *_COST_KEYS}
    | {"exit_code", "error_message_contains", "requests", "disconnect", "stdout_empty"}
)


def check_expect(
    run: RunResult,
    expect: Mapping[str, Any],
    crossing_write: int | None = None,
    linger_ms: int = 0,
) -> list[Finding]:
    """Compare the keys a case's ``expect`` section has with what was observed."""
    unknown = sorted(set(expect) - KNOWN_EXPECT_KEYS)
    if unknown:
        return [Finding("referee", f"the case expects unknown key(s) {unknown}")]

    findings: list[Finding] = []
    if "exit_code" in expect and run.exit_code != expect["exit_code"]:
        findings.append(_mismatch("exit_code", expect["exit_code"], run.exit_code))
    findings.extend(_check_result_keys(run.result, expect))
    findings.extend(_check_wire(run, expect, crossing_write, linger_ms))
    return findings


def _mismatch(key: str, wanted: Any, got: Any) -> Finding:
    return Finding("expectation", f"{key}: expected {wanted!r}, got {got!r}")


def _check_result_keys(
    result: dict[str, Any] | None, expect: Mapping[str, Any]
) -> list[Finding]:
    wanted_keys = [
        k for k in expect if k in _RESULT_KEYS or k in _ERROR_KEYS or k in _COST_KEYS
    ]
    wanted_keys += (
        ["error_message_contains"] if "error_message_contains" in expect else []
    )
    if result is None:
        if wanted_keys:
            return [Finding("expectation", f"no result to compare {wanted_keys} with")]
        return []

    findings = []
    error: dict[str, Any] = _object(result.get("error"))
    cost: dict[str, Any] = _object(result.get("cost"))
    for key in expect:
        if key in _RESULT_KEYS:
            got = result.get(key)
        elif key in _ERROR_KEYS:
            got = error.get(_ERROR_KEYS[key]) if error else None
        elif key in _COST_KEYS:
            got = cost.get(_COST_KEYS[key])
        else:
            continue
        differs = got != expect[key] or type(got) is not type(expect[key])
        if differs and not _same_number(got, expect[key]):
            findings.append(_mismatch(key, expect[key], got))

    needle = expect.get("error_message_contains")
    if needle is not None:
        message = str(error.get("message", "")) if error else ""
        if str(needle).lower() not in message.lower():
            findings.append(
                Finding("expectation", f"error.message {message!r} lacks {needle!r}")
            )
    return findings


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _same_number(got: Any, wanted: Any) -> bool:
    """1 and 1.0 are the same number (retry_after); True is not 1."""
    numbers = (int, float)
    if isinstance(got, bool) or isinstance(wanted, bool):
        return False
    return isinstance(got, numbers) and isinstance(wanted, numbers) and got == wanted


def _check_wire(
    run: RunResult,
    expect: Mapping[str, Any],
    crossing_write: int | None,
    linger_ms: int,
) -> list[Finding]:
    record = run.record
    if record is None:
        return []

    findings = []
    if "requests" in expect and record.requests != expect["requests"]:
        findings.append(
            Finding(
                "requests",
                f"expected {expect['requests']} request(s), got {record.requests}",
            )
        )
    if "disconnect" in expect and record.connections:
        conn = record.connections[-1]
        if expect["disconnect"] == "early":
            findings.extend(_check_early(run, conn, crossing_write, linger_ms))
        elif expect["disconnect"] == "none" and not conn.finished:
            findings.append(
                Finding(
                    "disconnect",
                    f"the client hung up after {conn.writes_ok} of {len(conn.writes)} "
                    "writes; it must read the stream to the end",
                )
            )
    return findings


def _check_early(
    run: RunResult, conn: Any, crossing: int | None, linger_ms: int
) -> list[Finding]:
    """The client closed the stream itself, soon after the crossing write."""
    if conn.finished or conn.disconnected_at is None:
        return [
            Finding("disconnect", "the client never hung up before the stream finished")
        ]

    findings = []
    if crossing is not None and crossing < len(conn.writes):
        late = conn.disconnected_at - conn.writes[crossing].t
        if late > DISCONNECT_BAND_S:
            findings.append(
                Finding(
                    "disconnect",
                    f"hung up {late:.2f} s after the crossing write {crossing} "
                    f"(band {DISCONNECT_BAND_S} s)",
                )
            )
    if linger_ms > 0:
        # SPEC 4.3: the connection is closed before the lingering process exits.
        margin = run.t_exit - conn.disconnected_at
        if margin < linger_ms / 2000.0:
            findings.append(
                Finding(
                    "disconnect",
                    f"hung up only {margin:.2f} s before the process exited with "
                    f"--linger-ms {linger_ms}: the exit closed the connection, not the client",
                )
            )
    return findings
