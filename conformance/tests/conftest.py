"""Session set-up of the conformance suite.

Options: ``--impl NAME`` (repeatable; or env ``TB_IMPLS=python,go``) picks the
implementations, ``--build`` builds requested ones that are missing. Hypothesis
profiles: ``ci`` (default) and ``deep`` (env ``TB_HYPOTHESIS_PROFILE=deep``).
Every run writes ``conformance/reports/<timestamp>.jsonl`` and ``latest.jsonl``.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

CONFORMANCE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CONFORMANCE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import support
from harness import registry
from harness.cases import check_id, load_cases
from harness.judge import UNEXPECTED, Finding, Outcome
from harness.reports import ReportWriter, run_record, summary_line
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from oracle import CONTRACT_VERSION

# Every example starts real processes: no deadline, and being slow is expected.
_COMMON: dict[str, Any] = {
    "deadline": None,
    "derandomize": False,
    "print_blob": True,
    "database": DirectoryBasedExampleDatabase(str(CONFORMANCE / ".hypothesis")),
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
}
settings.register_profile("ci", max_examples=15, **_COMMON)
settings.register_profile("deep", max_examples=300, **_COMMON)
PROFILE = os.environ.get("TB_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

SUITE: support.Suite | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="NAME",
        help="implementation to run (repeatable); default: TB_IMPLS or all present",
    )
    group.addoption(
        "--build",
        action="store_true",
        help="build requested implementations whose command is missing",
    )


def _requested(config: pytest.Config) -> list[str]:
    names: list[str] = list(config.getoption("--impl"))
    if not names and os.environ.get("TB_IMPLS"):
        names = [n.strip() for n in os.environ["TB_IMPLS"].split(",") if n.strip()]
    return names


def _session_seed(config: pytest.Config) -> int:
    """One printed seed per session; --hypothesis-seed wins when given."""
    given = config.getoption("--hypothesis-seed", default=None)
    if given is not None:
        return int(given)
    return random.SystemRandom().randrange(2**32)


def pytest_configure(config: pytest.Config) -> None:
    global SUITE
    if hasattr(config, "workerinput"):
        return

    impls = registry.load_registry()
    requested = _requested(config)
    if config.getoption("--build"):
        _build_missing(impls, requested)
    selected = registry.select(impls, requested)
    everyone = {i.name: registry.resolve(i) for i in impls}

    cases = load_cases()
    writer = ReportWriter()
    seed = _session_seed(config)
    support.SEED = seed
    SUITE = support.build_suite(selected, cases, writer, seed, PROFILE)
    writer.open(_header(SUITE, everyone, cases.problems))


def _build_missing(impls: list[registry.Implementation], requested: list[str]) -> None:
    for impl in impls:
        if requested and impl.name not in requested:
            continue
        if registry.resolve(impl).available or impl.build is None:
            continue
        ok, tail = registry.build(impl)
        sys.stderr.write(
            f"build {impl.name}: {'ok' if ok else 'FAILED'}\n{tail if not ok else ''}"
        )


def _header(
    suite: support.Suite, everyone: dict[str, registry.Resolved], problems: list[str]
) -> dict[str, Any]:
    impls: dict[str, Any] = {}
    for name, resolved in everyone.items():
        state = suite.impls.get(name)
        impls[name] = {
            "available": resolved.available,
            "reason": resolved.reason,
            "argv": list(resolved.argv) if resolved.argv else None,
            "describe": state.describe if state else None,
            "selected": state is not None,
        }
    return {
        "contract_version": CONTRACT_VERSION,
        "cases_sha256": suite.cases.sha256,
        "case_problems": problems,
        "implementations": impls,
        "hypothesis": {"seed": suite.seed, "profile": suite.profile},
    }


@pytest.fixture(scope="session")
def suite() -> support.Suite:
    assert SUITE is not None, "the conformance conftest did not configure the suite"
    return SUITE


def _impl_names() -> list[str]:
    return list(SUITE.impls) if SUITE else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if SUITE is None:
        return
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", _impl_names())
    if "provider" in metafunc.fixturenames:
        metafunc.parametrize("provider", ["openai", "anthropic", "ollama"])
    if "case_check" in metafunc.fixturenames:
        allowed = os.environ.get("TB_VARIANTS")
        only = [v.strip() for v in allowed.split(",")] if allowed else None
        params = [(c, v) for c in SUITE.cases.cases for v in c.variants(only)]
        metafunc.parametrize(
            "case_check", params, ids=[check_id(c.id, v) for c, v in params]
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Smoke first, so a broken wrapper shows up before its cases."""
    items.sort(
        key=lambda item: (
            0 if item.nodeid.split("::")[0].endswith("test_smoke.py") else 1
        )
    )


def node_check(node: pytest.Item) -> tuple[str, str]:
    """(check id, kind) of a test item, as expected-failure files name it."""
    params = getattr(node, "callspec", None)
    values = params.params if params else {}
    if "case_check" in values:
        case, variant = values["case_check"]
        return check_id(case.id, variant), "case"
    marker = node.get_closest_marker("check")
    if marker is not None:
        name = str(marker.args[0])
        kind = "differential" if name.startswith("differential") else "property"
        provider = values.get("provider")
        return (f"{name}:{provider}" if provider else name), kind
    return node.name, "case"


@pytest.fixture
def ready(
    request: pytest.FixtureRequest, suite: support.Suite, impl: str
) -> support.ImplState:
    """The implementation after its smoke tier; unavailable or broken ones stop here."""
    check, kind = node_check(request.node)
    return suite.ready(impl, check, kind)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SUITE is None or SUITE.writer.path is None:
        return
    _flag_unknown_entries(SUITE)
    SUITE.writer.close(stopped_early=session.shouldfail or session.shouldstop)
    unexpected = sum(SUITE.writer.counts[o.value] for o in UNEXPECTED)
    if unexpected and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _flag_unknown_entries(suite: support.Suite) -> None:
    """Expected-failure entries that name no check at all are typos: report them."""
    known = {"smoke"}
    for case in suite.cases.cases:
        known.add(case.id)
        known.update(check_id(case.id, v) for v in ("bytewise", "random", "single"))
    for state in suite.impls.values():
        for key in state.expectations.entries:
            base = key.split(":", 1)[0]
            if key in known or base in support.PROPERTY_IDS:
                continue
            finding = Finding(
                "stale",
                f"conformance/expected/{state.name}.json lists "
                f"{key!r}, which names no case or property",
            )
            suite.writer.add(
                run_record(
                    impl=state.name,
                    check_id=key,
                    kind="expectations",
                    outcome=Outcome.FAIL,
                    findings=[finding],
                )
            )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUITE is None:
        return
    write = terminalreporter.write_line
    write("")
    write("conformance: " + summary_line(SUITE.writer.counts))
    for name, state in SUITE.impls.items():
        if not state.resolved.available:
            write(f"  {name}: unavailable: {state.resolved.reason}")
    if SUITE.cases.problems:
        write("  case files with problems: " + "; ".join(SUITE.cases.problems))
    write(
        f"  hypothesis profile {SUITE.profile}, seed {SUITE.seed} "
        f"(rerun with --hypothesis-seed={SUITE.seed})"
    )
    if SUITE.writer.path:
        write(
            f"  report: {SUITE.writer.path} (render: python conformance/report.py latest --markdown)"
        )
