"""Many real processes against one ledger: the quota holds and no token is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from token_budget.ledger import Ledger, open_store

from .ledger_support import child_env

WORKER = str(Path(__file__).with_name("ledger_worker.py"))
PROCESSES = 8
REQUESTS = 200
MAX_BUDGET = 40
MAX_OVERSHOOT = 6
QUOTA = 12_000  # about half of what the workers will ask for


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("redis_url"))


def test_concurrent_processes_never_overspend_nor_lose_a_settlement(
    shared_url: str, tmp_path: Path
) -> None:
    with Ledger(open_store(shared_url)) as ledger:
        ledger.set_quota("team", f"{QUOTA}/month")

    go = tmp_path / "go"
    outputs = [tmp_path / f"worker-{n}.json" for n in range(PROCESSES)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                WORKER,
                "load",
                shared_url,
                "team",
                str(REQUESTS),
                str(seed),
                str(MAX_BUDGET),
                str(MAX_OVERSHOOT),
                str(go),
                str(out),
            ],
            env=child_env(),
        )
        for seed, out in enumerate(outputs)
    ]
    go.touch()
    codes = [worker.wait(timeout=120) for worker in workers]

    assert codes == [0] * PROCESSES
    reports = [json.loads(out.read_text()) for out in outputs]
    with Ledger(open_store(shared_url)) as ledger:
        (standing,) = ledger.usage("team")

    granted = sum(r["granted"] for r in reports)
    prompt = sum(r["prompt"] for r in reports)
    completion = sum(r["completion"] for r in reports)
    # Every settlement landed, to the token, and no hold is left behind.
    assert standing.requests == granted
    assert (standing.prompt_tokens, standing.completion_tokens) == (prompt, completion)
    assert standing.used_tokens == prompt + completion
    assert standing.reserved_tokens == 0
    # The quota was really contended: a refusal means that the use plus the holds of
    # the (at most PROCESSES) requests then in flight had reached it.
    assert sum(r["refused"] for r in reports) > 0
    assert standing.used_tokens >= QUOTA - PROCESSES * (MAX_BUDGET + 5)
    # Only the crossing deltas of requests in flight, one each, may pass the quota.
    assert standing.used_tokens <= QUOTA + PROCESSES * MAX_OVERSHOOT
