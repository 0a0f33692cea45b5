"""``python -m referee`` as a user runs it: a real process, a real client, stderr to read."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

CONFORMANCE = Path(__file__).resolve().parents[2]


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(CONFORMANCE)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "referee", "--port", "0", *args],
        cwd=CONFORMANCE,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise AssertionError("the referee did not announce its URL within 10 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    return err


def test_persona_logs_request_writes_and_the_disconnect() -> None:
    proc, url = _start("--persona", "openai", "--frames", "50", "--pace-ms", "20")
    try:
        with httpx.stream(
            "POST",
            url + "/v1/chat/completions",
            json={"model": "m"},
            headers={"Authorization": "Bearer sk-secret-123"},
        ) as response:
            received = b""
            for piece in response.iter_raw():
                received += piece
                if received.count(b"\n\n") >= 3:
                    break
        time.sleep(0.3)
    finally:
        err = _stop(proc)

    assert proc.returncode == 0
    assert "POST /v1/chat/completions" in err
    assert "sk-secret-123" not in err
    assert "[REDACTED]" in err
    assert re.search(r"write 2, \d+ bytes, ok", err)
    assert "the client closed the connection" in err


def test_case_mode_serves_a_case_file(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(
        '{"id": "x", "provider": "ollama", "server": {"status": 418, '
        '"headers": [["Content-Type", "application/json"]], '
        '"writes": [{"text": "{\\"error\\":\\"teapot\\"}"}]}}'
    )
    proc, url = _start("--case", str(case))
    try:
        response = httpx.post(url + "/api/chat", json={})
    finally:
        _stop(proc)

    assert response.status_code == 418
    assert response.json() == {"error": "teapot"}


def test_a_missing_case_file_is_a_one_line_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "referee", "--port", "0", "--case", "/nonexistent.json"],
        cwd=CONFORMANCE,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(CONFORMANCE)},
    )

    assert result.returncode == 2
    assert result.stderr.startswith("referee: ")
    assert len(result.stderr.strip().splitlines()) == 1
