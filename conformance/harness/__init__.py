"""The conformance harness: run token-budget implementations against the referee.

Modules, each doing one thing:

* :mod:`harness.registry`: which implementations exist, how to run and build them.
* :mod:`harness.cases`: the case files and their re-chunked variants.
* :mod:`harness.runner`: one implementation x one case, a real subprocess against a
  real referee, with a hard wall-clock limit.
* :mod:`harness.judge`: turn what was observed into findings and an outcome.
* :mod:`harness.expectations`: per-implementation expected-failure files.
* :mod:`harness.reports`: JSON Lines reports, Markdown and JUnit renderings.
"""

from __future__ import annotations

HARNESS_VERSION = "1.0.0"
