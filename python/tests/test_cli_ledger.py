"""The main command metered by the ledger: --user, `quota`, `usage`, exit code 3."""

from __future__ import annotations

from pathlib import Path

from conftest import clean_env, run_cli
from referee import Referee
from referee_helpers import oai, script


def _env(tmp_path: Path) -> dict[str, str]:
    return clean_env(TOKEN_BUDGET_LEDGER=f"sqlite://{tmp_path / 'ledger.db'}")


def _long_openai_stream() -> list[bytes]:
    words = [oai(b'"choices":[{"index":0,"delta":{"content":" word"}}]}')] * 60
    return [*words, b"data: [DONE]\n\n"]


def test_user_budget_is_capped_by_what_is_left(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert run_cli("quota", "set", "ann", "30/day", env=env).code == 0

    first = run_cli("--user", "ann", "--budget", "100", "--json", "hi", env=env)

    # The prompt "hi" is one estimated token, so 29 remain for the answer.
    assert first.code == 0, first.stderr
    assert first.json["budget"] == 29
    assert first.json["end"] == "budget"
    assert first.json["estimated_tokens"] >= 29


def test_exhausted_quota_refuses_before_anything_is_sent(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_cli("quota", "set", "bob", "12/day", env=env)
    with Referee(script(_long_openai_stream())) as ref:
        spent = run_cli(
            "--user", "bob", "--provider", "openai", "--base-url", ref.url + "/v1",
            "--budget", "50", "--json", "hi", env=env,
        )  # fmt: skip
        refused = run_cli(
            "--user", "bob", "--provider", "openai", "--base-url", ref.url + "/v1",
            "--budget", "50", "--json", "hi", env=env,
        )  # fmt: skip
        ref.wait_closed(timeout=5.0)

    assert spent.code == 0, spent.stderr
    assert refused.code == 3
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("token-budget: ")
    assert "bob" in refused.stderr
    # The refused request never reached the server.
    assert ref.record.requests == 1


def test_usage_reports_what_requests_spent(tmp_path: Path) -> None:
    env = _env(tmp_path)
    run_cli("quota", "set", "cy", "1000/month", env=env)
    answer = run_cli("--user", "cy", "--budget", "7", "--json", "hello", env=env).json

    usage = run_cli("usage", "--json", env=env)

    assert usage.code == 0, usage.stderr
    (row,) = [u for u in usage.json["users"] if u["user"] == "cy"]
    assert row["requests"] == 1
    assert row["reserved_tokens"] == 0
    # Loopback stopped by the budget reports no usage, so the estimates are charged.
    cost = answer["cost"]
    assert row["used_tokens"] == cost["prompt_tokens"] + cost["completion_tokens"]


def test_bad_quota_is_a_usage_error(tmp_path: Path) -> None:
    bad = run_cli("quota", "set", "dee", "-5/day", env=_env(tmp_path))

    assert bad.code == 2
    assert bad.stderr.startswith("token-budget: ")
    assert bad.stderr.count("\n") == 1


def test_quota_errors_say_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path)

    negative = run_cli("quota", "set", "dee", "-5/day", env=env)
    empty_user = run_cli("quota", "set", "", "10/day", env=env)
    both_formats = run_cli("usage", "--json", "--csv", env=env)

    assert "whole number of tokens" in negative.stderr
    assert empty_user.code == 2
    assert "non-empty" in empty_user.stderr
    assert both_formats.code == 2
    for run in (negative, empty_user, both_formats):
        assert run.stderr.count("token-budget:") == 1, run.stderr
        assert run.stderr.count("\n") == 1


def test_mistyped_ledger_folder_is_refused_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "no-such-folder" / "ledger.db"

    run = run_cli(
        "--user", "eve", "--ledger", f"sqlite://{typo}", "--json", "hi",
        env=clean_env(),
    )  # fmt: skip

    assert run.code == 2
    assert run.stdout == ""
    assert "does not exist" in run.stderr
    assert not typo.parent.exists()


def test_quitting_before_the_request_is_sent_gives_the_hold_back(
    tmp_path: Path,
) -> None:
    import os
    import pty
    import select
    import sys
    import time

    env = _env(tmp_path)
    run_cli("quota", "set", "fay", "500/day", env=env)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a metered run in step mode, with a terminal on stdin
        os.environ.clear()
        os.environ.update(env)
        argv = [sys.executable, "-m", "token_budget", "--step", "--user", "fay"]
        os.execv(sys.executable, argv)

    seen = b""
    deadline = time.monotonic() + 10
    while b"[step 1:" not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            seen += os.read(fd, 4096)
    os.write(fd, b"q\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)

    usage = run_cli("usage", "--json", env=env).json
    (row,) = [u for u in usage["users"] if u["user"] == "fay"]
    assert os.waitstatus_to_exitcode(status) == 130
    assert row["reserved_tokens"] == 0
    assert row["used_tokens"] == 0
