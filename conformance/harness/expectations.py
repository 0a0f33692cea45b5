"""Per-implementation expected-failure files: ``conformance/expected/<impl>.json``.

Each file is one JSON object ``{check_id: reason}``. A check id is a case id (all its
variants), a case id with ``@variant`` (one replay), ``smoke``, or a property id such
as ``prop-stream:openai``. The rules (lesson 7 of the conformance anchors):

* listed and fails: ``expected-fail``;
* not listed and fails: a real failure;
* listed and passes: a failure too, as STALE, so fixed bugs get their entry removed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ExpectationFileError
from .judge import Finding, Outcome
from .registry import CONFORMANCE_DIR

log = logging.getLogger("harness.expectations")

EXPECTED_DIR = CONFORMANCE_DIR / "expected"

# Outcomes an entry may turn into expected-fail. A harness error says nothing about the
# implementation, so it is never excused by its expected-failure file.
_EXCUSABLE = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT})


@dataclass
class Expectations:
    """The entries of one implementation, and which of them were used in this run."""

    impl: str
    entries: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def reason_for(self, check_id: str) -> tuple[str, str] | None:
        """The entry that covers ``check_id``: an exact id first, then its case id."""
        base = check_id.split("@", 1)[0]
        for key in (check_id, base):
            if key in self.entries:
                return key, self.entries[key]
        return None

    def settle(self, check_id: str, outcome: Outcome) -> tuple[Outcome, list[Finding]]:
        """Apply the file to one check's outcome; returns the final outcome."""
        entry = self.reason_for(check_id)
        if entry is None:
            return outcome, []

        key, reason = entry
        self.used.add(key)
        if outcome in _EXCUSABLE:
            return Outcome.EXPECTED_FAIL, []
        if outcome is Outcome.PASS:
            stale = Finding(
                "stale",
                f"{check_id} passes but conformance/expected/{self.impl}.json lists "
                f"{key!r} ({reason}); remove the entry",
            )
            return Outcome.FAIL, [stale]
        return outcome, []

    def unused(self, ran: set[str]) -> list[str]:
        """Entries that match no check that ran in a complete run (likely typos)."""
        return sorted(k for k in self.entries if k not in self.used and k not in ran)


def load_expectations(impl: str, folder: Path = EXPECTED_DIR) -> Expectations:
    """Read ``<folder>/<impl>.json``; a missing file means nothing is expected to fail."""
    path = folder / f"{impl}.json"
    if not path.exists():
        return Expectations(impl)

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExpectationFileError(f"{path}: not readable JSON: {exc}") from exc

    if not isinstance(data, dict):
        raise ExpectationFileError(f"{path}: must be an object {{check_id: reason}}")
    bad = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ExpectationFileError(
            f"{path}: entries {bad} need a non-empty reason string saying why they fail"
        )
    return Expectations(impl, dict(data))
