"""Hypothesis properties, for every implementation and every provider dialect.

Numbers refer to the brief's list: (1) content is the visible text up to the stop,
(2) budget_reached exactly when the oracle says so, (3) the stop is at the first
crossing delta, (4) counts to the token under any chars_per_token, (5) paced
cancellation as the server sees it, (6) usage normalization, (7) typed errors with the
partial content kept, (8) re-chunking changes nothing, (9) the request is right and
the API key never leaks. Every example runs the real implementation against the real
referee; the examples per property come from the Hypothesis profile (``ci``/``deep``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import oracle
import pytest
import streams
import support
from harness import judge, runner
from harness.judge import Finding
from hypothesis import given, seed, settings
from hypothesis import strategies as st

# Fewer examples for the expensive properties, relative to the profile's count.
_PROFILE_EXAMPLES = settings().max_examples


def _examples(share: float) -> int:
    return max(2, round(_PROFILE_EXAMPLES * share))


class PropertyFailed(AssertionError):
    """An example broke a property; the findings say which."""


class _Last:
    """The most recent failing example (after shrinking: the minimal one)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.run: runner.RunResult | None = None
        self.spec: runner.RunSpec | None = None
        self.examples = 0


def _drive(
    suite: support.Suite,
    state: support.ImplState,
    check: str,
    prop: Callable[[], None],
    last: _Last,
) -> None:
    """Run a Hypothesis property and conclude the check with its minimal failure."""
    failure: list[Finding] | None = None
    try:
        prop()
    except PropertyFailed:
        failure = last.findings
    except Exception as exc:  # noqa: BLE001 - Hypothesis' own errors (flaky, unsatisfiable)
        failure = [Finding("referee", f"{type(exc).__name__}: {exc}")]
    # Concluded outside the except block so pytest shows the verdict, not a chain.
    suite.conclude(
        state.name,
        check,
        "property",
        failure or [],
        run=last.run if failure else None,
        spec=last.spec if failure else None,
        extra={"examples": last.examples},
    )


def _fail(
    last: _Last, run: runner.RunResult, spec: runner.RunSpec, findings: list[Finding]
) -> None:
    last.run, last.spec, last.findings = run, spec, findings
    raise PropertyFailed("\n".join(str(f) for f in findings))


# --- comparing a result with the oracle ----------------------------------------------


def compare_with_oracle(
    result: dict[str, Any], expected: oracle.Expectation, plan: streams.Plan
) -> list[Finding]:
    """Which numbered properties the result breaks."""
    checks = [
        ("(1) content", result.get("content"), expected.content),
        ("(2) budget_reached", result.get("budget_reached"), expected.budget_reached),
        ("(2) end", result.get("end"), expected.end),
        ("(3) chunks", result.get("chunks"), expected.chunks),
        ("(4) counted_chars", result.get("counted_chars"), expected.counted_chars),
        (
            "(4) estimated_tokens",
            result.get("estimated_tokens"),
            expected.estimated_tokens,
        ),
        ("(6) usage", result.get("usage"), expected.usage),
        ("finish_reason", result.get("finish_reason"), expected.finish_reason),
        ("budget", result.get("budget"), plan.budget),
        ("provider", result.get("provider"), plan.provider),
    ]
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    checks.append(
        ("(7) error.kind", error.get("kind") if error else None, expected.error_kind)
    )
    cost = result.get("cost") if isinstance(result.get("cost"), dict) else {}
    checks += [
        ("cost.basis", cost.get("basis"), expected.cost_basis),
        ("cost.prompt_tokens", cost.get("prompt_tokens"), expected.cost_prompt_tokens),
        (
            "cost.completion_tokens",
            cost.get("completion_tokens"),
            expected.cost_completion_tokens,
        ),
    ]
    return [
        Finding("oracle", f"{name}: expected {want!r}, got {got!r}")
        for name, got, want in checks
        if got != want or type(got) is not type(want)
    ]


def _wire_findings(
    run: runner.RunResult, expected: oracle.Expectation
) -> list[Finding]:
    """SPEC 4.3: one request; on complete the client read every write."""
    record = run.record
    if record is None:
        return []
    findings = []
    if record.requests != 1:
        findings.append(Finding("requests", f"{record.requests} requests, expected 1"))
    if expected.end == "complete" and record.connections:
        conn = record.connections[-1]
        failed = [w.index for w in conn.writes if not w.ok]
        if failed or conn.disconnected_at is not None and not conn.finished:
            findings.append(
                Finding(
                    "disconnect",
                    "the client hung up before the stream "
                    f"finished (failed writes {failed[:5]})",
                )
            )
    return findings


def run_plan(
    state: support.ImplState, plan: streams.Plan, check: str, **client: Any
) -> tuple[runner.RunResult, runner.RunSpec, list[Finding]]:
    """Run one plan and collect every finding (contract, oracle, wire, referee)."""
    body_frames = streams.frames(plan)
    disagreement = streams.parser_agrees(plan, b"".join(body_frames))
    spec = streams.spec_for(
        plan, f"{check}-{state.name}", streams.script_for(plan, body_frames), **client
    )
    run = runner.run(state.argv, spec)
    findings = judge.check_contract(run, spec.case_id)
    if disagreement is not None:
        findings.append(Finding("referee", f"oracle parser vs plan: {disagreement}"))
    if run.record is not None and run.record.errors:
        findings += [Finding("referee", e) for e in run.record.errors]
    if run.result is not None and not findings:
        expected = streams.expectation(plan)
        findings += compare_with_oracle(run.result, expected, plan)
        findings += _wire_findings(run, expected)
    return run, spec, findings


# --- (1)-(4), (6): generated streams against the oracle ------------------------------


@pytest.mark.check("prop-stream")
def test_stream_matches_oracle(
    suite: support.Suite, ready: support.ImplState, provider: str
) -> None:
    check = f"prop-stream:{provider}"
    suite.applies(ready, check, "property", provider)
    last = _Last()

    @seed(support.SEED)
    @settings(max_examples=_examples(1.0))
    @given(plan=streams.plans(provider))
    def prop(plan: streams.Plan) -> None:
        last.examples += 1
        run, spec, findings = run_plan(ready, plan, "prop-stream")
        if findings:
            _fail(last, run, spec, findings)

    _drive(suite, ready, check, prop, last)


# --- (8): any re-chunking of the same bytes gives the same result --------------------


@pytest.mark.check("prop-rechunk")
def test_rechunking_changes_nothing(
    suite: support.Suite, ready: support.ImplState, provider: str
) -> None:
    check = f"prop-rechunk:{provider}"
    suite.applies(ready, check, "property", provider)
    last = _Last()

    @seed(support.SEED)
    @settings(max_examples=_examples(0.4))
    @given(
        plan=streams.plans(provider),
        split=st.sampled_from(["bytewise", "random", "single"]),
    )
    def prop(plan: streams.Plan, split: str) -> None:
        last.examples += 1
        first, _, findings = run_plan(
            ready, replace(plan, split="frames"), "prop-rechunk"
        )
        other = replace(plan, split=split)
        second, spec, more = run_plan(ready, other, "prop-rechunk")
        findings += more
        if not findings and first.result != second.result:
            diff = sorted(
                k
                for k in (first.result or {})
                if (first.result or {}).get(k) != (second.result or {}).get(k)
            )
            findings.append(
                Finding("oracle", f"(8) {split} split changed fields {diff}")
            )
        if findings:
            _fail(last, second, spec, findings)

    _drive(suite, ready, check, prop, last)


# --- (7): errors before and during the stream ----------------------------------------

_STATUSES = [400, 401, 403, 404, 408, 422, 429, 500, 502, 503, 529]


@st.composite
def _pre_stream(draw: st.DrawFn, provider: str) -> tuple[int, str | None, str]:
    status = draw(st.sampled_from(_STATUSES))
    retry = draw(
        st.none() | st.integers(0, 120).map(str) | st.sampled_from(["soon", "1.5"])
    )
    message = draw(
        st.text(
            st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40
        ).filter(str.strip)
    )
    return status, retry, message


@pytest.mark.check("prop-errors")
def test_errors_are_typed_and_keep_partial_content(
    suite: support.Suite, ready: support.ImplState, provider: str
) -> None:
    check = f"prop-errors:{provider}"
    suite.applies(ready, check, "property", provider)
    last = _Last()

    @seed(support.SEED)
    @settings(max_examples=_examples(0.7))
    @given(
        plan=streams.plans(provider, errors=True), pre=st.none() | _pre_stream(provider)
    )
    def prop(plan: streams.Plan, pre: tuple[int, str | None, str] | None) -> None:
        last.examples += 1
        if pre is None:
            run, spec, findings = run_plan(ready, plan, "prop-errors")
        else:
            run, spec, findings = _run_pre_stream(ready, plan, pre)
        if findings:
            _fail(last, run, spec, findings)

    _drive(suite, ready, check, prop, last)


def _run_pre_stream(
    state: support.ImplState, plan: streams.Plan, pre: tuple[int, str | None, str]
) -> tuple[runner.RunResult, runner.RunSpec, list[Finding]]:
    from referee import Script, Write, dialects

    status, retry, message = pre
    headers = [("Content-Type", "application/json")]
    if retry is not None:
        headers.append(("Retry-After", retry))
    body = dialects.error_body(provider := plan.provider, message)
    script = Script(status=status, headers=headers, writes=[Write(body)], raw=True)
    spec = streams.spec_for(plan, f"prop-errors-{state.name}", script)
    run = runner.run(state.argv, spec)
    findings = judge.check_contract(run, spec.case_id)
    result = run.result
    if result is None or findings:
        return run, spec, findings

    error = result.get("error") or {}
    wanted_retry = int(retry) if retry is not None and retry.isdigit() else None
    checks = [
        ("error.kind", error.get("kind"), oracle.status_error_kind(status)),
        ("error.status", error.get("status"), status),
        ("error.retry_after", error.get("retry_after"), wanted_retry),
        ("end", result.get("end"), "error"),
        ("content", result.get("content"), ""),
        ("usage", result.get("usage"), None),
        ("cost.basis", (result.get("cost") or {}).get("basis"), "none"),
        ("cost.prompt_tokens", (result.get("cost") or {}).get("prompt_tokens"), 0),
        (
            "cost.completion_tokens",
            (result.get("cost") or {}).get("completion_tokens"),
            0,
        ),
    ]
    findings += [
        Finding(
            "oracle", f"(7) {status} {provider}: {name}: expected {want!r}, got {got!r}"
        )
        for name, got, want in checks
        if got != want
    ]
    text = " ".join(message.split())
    if text[:40] not in str(error.get("message", "")):
        findings.append(
            Finding(
                "oracle",
                f"(7) error.message {error.get('message')!r} "
                f"is not the provider's message {text!r}",
            )
        )
    if run.record is not None and run.record.requests != 1:
        findings.append(
            Finding(
                "requests",
                f"{run.record.requests} requests after {status}: "
                "SPEC 4.3 forbids retries",
            )
        )
    return run, spec, findings


# --- (9): the request and the key ----------------------------------------------------

PROMPTS = st.one_of(
    st.sampled_from(streams.AWKWARD_PROMPTS),
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        min_size=1,
        max_size=30,
    ),
)
_PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "ollama": "/api/chat",
}


@pytest.mark.check("prop-request")
def test_request_is_right_and_the_key_never_leaks(
    suite: support.Suite, ready: support.ImplState, provider: str
) -> None:
    check = f"prop-request:{provider}"
    suite.applies(ready, check, "property", provider)
    verbose = "verbose" in ready.capabilities
    last = _Last()

    @seed(support.SEED)
    @settings(max_examples=_examples(0.7))
    @given(
        prompt=PROMPTS,
        max_tokens=st.none() | st.integers(1, 2**31 - 1),
        budget=st.integers(1, 60),
    )
    def prop(prompt: str, max_tokens: int | None, budget: int) -> None:
        last.examples += 1
        key = f"sk-tbleak-{secrets.token_hex(12)}"
        plan = streams.Plan(
            provider=provider,
            pieces=[streams.Piece("ok")],
            budget=budget,
            ratio=4.0,
            usage=(3, 1),
            prompt=prompt,
            extra_env={f"{provider.upper()}_API_KEY": key},
        )
        run, spec, findings = run_plan(
            ready, plan, "prop-request", max_tokens=max_tokens, verbose=verbose
        )
        findings += _request_findings(run, provider, prompt, max_tokens or budget, key)
        if findings:
            _fail(last, run, spec, findings)

    _drive(suite, ready, check, prop, last)


def _request_findings(
    run: runner.RunResult, provider: str, prompt: str, n: int, key: str
) -> list[Finding]:
    findings = []
    for name, stream in (("stdout", run.stdout), ("stderr", run.stderr)):
        if key.encode() in stream:
            findings.append(Finding("oracle", f"(9) the API key appears on {name}"))
    if run.record is None or not run.record.connections:
        return findings + [Finding("requests", "(9) the referee saw no request")]

    conn = run.record.connections[0]
    body = conn.json if isinstance(conn.json, dict) else {}
    media = (conn.header("content-type") or "").split(";")[0].strip().lower()
    wanted: list[tuple[str, Any, Any]] = [
        ("method", conn.method, "POST"),
        ("path", conn.path, _PATHS[provider]),
        ("Content-Type", media, "application/json"),
        ("messages", body.get("messages"), [{"role": "user", "content": prompt}]),
        ("stream", body.get("stream"), True),
    ]
    accept = conn.header("accept") or ""
    if provider == "openai":
        wanted += [
            ("Authorization", conn.header("authorization"), f"Bearer {key}"),
            (
                "stream_options.include_usage",
                (body.get("stream_options") or {}).get("include_usage"),
                True,
            ),
            ("max_tokens", body.get("max_tokens"), n),
            (
                "max_completion_tokens (not for a local host)",
                body.get("max_completion_tokens"),
                None,
            ),
            ("Accept has text/event-stream", "text/event-stream" in accept, True),
        ]
    elif provider == "anthropic":
        wanted += [
            ("x-api-key", conn.header("x-api-key"), key),
            ("anthropic-version", conn.header("anthropic-version"), "2023-06-01"),
            ("max_tokens", body.get("max_tokens"), n),
            ("Accept has text/event-stream", "text/event-stream" in accept, True),
        ]
    else:
        wanted += [
            ("Authorization", conn.header("authorization"), f"Bearer {key}"),
            ("options.num_predict", (body.get("options") or {}).get("num_predict"), n),
        ]
    findings += [
        Finding("oracle", f"(9) {name}: expected {want!r}, got {got!r}")
        for name, got, want in wanted
        if got != want
    ]
    return findings
