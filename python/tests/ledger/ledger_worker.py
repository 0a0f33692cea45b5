"""A child process for the load and fault tests; run as a script, not collected.

  ledger_worker.py load URL USER N SEED MAX_BUDGET MAX_OVERSHOOT GO_FILE OUT_FILE
  ledger_worker.py hold URL USER BUDGET TTL

``load`` runs N requests against the ledger (reserve, simulate a result, settle) and
writes what it asked, was granted and was charged to OUT_FILE as JSON. ``hold``
reserves once, prints the reservation as JSON and waits to be killed.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from token_budget.ledger import Charge, Ledger, QuotaExceeded, open_store


def load(argv: list[str]) -> None:
    url, user, count, seed, max_budget, max_overshoot, go_file, out_file = argv
    rng = random.Random(int(seed))
    report = {"granted": 0, "refused": 0, "prompt": 0, "completion": 0, "overshoot": 0}

    with Ledger(open_store(url)) as ledger:
        # Start together with the other workers, so that they really contend.
        while not Path(go_file).exists():
            time.sleep(0.002)

        for _ in range(int(count)):
            asked = rng.randint(1, int(max_budget))
            prompt = rng.randint(0, 5)
            try:
                reservation = ledger.reserve(user, asked, prompt_tokens=prompt)
            except QuotaExceeded:
                report["refused"] += 1
                continue

            # The stream either stops below its budget, or reaches it on one crossing
            # delta that may pass it by up to MAX_OVERSHOOT tokens (SPEC section 3).
            granted = reservation.tokens
            if rng.random() < 0.5:
                overshoot = rng.randint(0, int(max_overshoot))
                completion = granted + overshoot
                report["overshoot"] = max(report["overshoot"], overshoot)
            else:
                completion = rng.randint(0, granted - 1)

            ledger.settle(reservation, Charge(prompt, completion, "provider"))
            report["granted"] += 1
            report["prompt"] += prompt
            report["completion"] += completion

    Path(out_file).write_text(json.dumps(report))


def hold(argv: list[str]) -> None:
    url, user, budget, ttl = argv
    ledger = Ledger(open_store(url), ttl=float(ttl))
    reservation = ledger.reserve(user, int(budget), prompt_tokens=3)
    print(json.dumps({"id": reservation.id, "held": reservation.held}), flush=True)
    time.sleep(600)  # the test kills us long before this


if __name__ == "__main__":
    {"load": load, "hold": hold}[sys.argv[1]](sys.argv[2:])
