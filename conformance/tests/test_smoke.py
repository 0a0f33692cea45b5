"""The smoke tier: --describe is schema-valid and one trivial exchange passes.

When it fails the implementation's other tests are reported as errors (not judged),
because a broken wrapper says nothing about the behaviour behind it.
"""

from __future__ import annotations

import pytest
import support


def test_smoke(suite: support.Suite, impl: str) -> None:
    state = suite.state(impl)
    if not state.resolved.available:
        suite.conclude(
            impl,
            support.SMOKE_ID,
            "smoke",
            [],
            outcome=support.Outcome.UNAVAILABLE,
            note=state.resolved.reason,
        )
    support.ensure_smoke(suite, state)

    if state.smoke_findings:
        pytest.fail(
            "smoke tier failed:\n" + "\n".join(f"  {f}" for f in state.smoke_findings),
            pytrace=False,
        )
