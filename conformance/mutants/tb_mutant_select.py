"""A pytest plugin for the mutant runner: keep only the checks a run asks for.

Loaded with ``-p tb_mutant_select`` (``run.py`` puts this folder on PYTHONPATH). It
reads two environment variables, both comma-separated check names:

* ``TB_MUTANT_CHECKS``: keep only the tests whose check matches one of them;
* ``TB_MUTANT_SKIP``: drop the tests whose check matches one of them (checks the honest
  reference already fails, which therefore prove nothing about a mutant).

It also loads the Hypothesis profile ``tb-mutants``: the suite's own profile (``ci``
unless ``TB_HYPOTHESIS_PROFILE`` says otherwise) without the shrink phase. A mutant
only needs one failing example, and shrinking it would cost dozens of process runs.

A name matches a check when it is equal to it (``seed-budget-one-below``,
``br-18-split-utf8-openai@bytewise``, ``prop-stream:openai``, ``smoke``), or when it
is a property name without a provider (``prop-stream``), which matches every provider.
Check ids come from the suite's own ``conftest.node_check``, so they cannot drift from
what the reports say.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

NodeCheck = Callable[[pytest.Item], tuple[str, str]]


def pytest_configure(config: pytest.Config) -> None:
    # The conftest registered and loaded the suite's profile when pytest imported it,
    # which happens before any plugin's pytest_configure.
    from hypothesis import Phase, settings

    base = os.environ.get("TB_HYPOTHESIS_PROFILE", "ci")
    settings.register_profile(
        "tb-mutants",
        parent=settings.get_profile(base),
        phases=(Phase.explicit, Phase.generate),
    )
    settings.load_profile("tb-mutants")


def _names(variable: str) -> list[str]:
    raw = os.environ.get(variable, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def matches(check: str, names: list[str]) -> bool:
    """True when one of ``names`` selects ``check`` (see the module docstring)."""
    for name in names:
        if check == name:
            return True
        if ":" not in name and "@" not in name and check.split(":", 1)[0] == name:
            return True
    return False


def _node_check() -> NodeCheck:
    # The suite's conftest is imported as a plain module; find it by what it defines.
    for module in list(sys.modules.values()):
        found = getattr(module, "node_check", None)
        if callable(found) and hasattr(module, "SUITE"):
            return found  # type: ignore[no-any-return]
    raise pytest.UsageError(
        "tb_mutant_select: the conformance conftest (node_check) is not loaded; run "
        "pytest from the conformance folder on conformance/tests"
    )


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    wanted = _names("TB_MUTANT_CHECKS")
    unwanted = _names("TB_MUTANT_SKIP")
    if not wanted and not unwanted:
        return

    node_check = _node_check()
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        check = node_check(item)[0]
        # The smoke test is cheap and runs anyway (every test needs it): keep it.
        smoke = item.name.startswith("test_smoke")
        chosen = not wanted or smoke or matches(check, wanted)
        if chosen and not matches(check, unwanted):
            keep.append(item)
        else:
            drop.append(item)

    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
