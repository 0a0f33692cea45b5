"""Run one implementation for one scripted exchange and collect what happened.

The runner starts a referee on 127.0.0.1 with the scripts, runs the implementation as
a real subprocess in its own session (so the whole process group can be killed), with a
scrubbed environment, stdin from /dev/null, a temporary working directory and a hard
wall-clock limit. It does not judge: :mod:`harness.judge` does.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("harness.runner")

# Variables that could point an implementation at a real provider or change its
# behaviour behind the case's back (SPEC 1.2 and 1: env only counts when the option is
# absent, so a leftover TOKEN_BUDGET_MAX would change a case's budget).
_SCRUBBED_SUFFIXES = ("_API_KEY", "_BASE_URL")
_SCRUBBED_PREFIXES = ("TOKEN_BUDGET_", "NXUSKIT_")
_SCRUBBED_NAMES = frozenset({"OLLAMA_HOST"})
# Where an implementation lives, not how it behaves: the bash wrapper finds the SDK
# tree through it, so it survives the NXUSKIT_ scrub.
_KEPT_NAMES = frozenset({"NXUSKIT_SDK_DIR"})

DEFAULT_LIMIT_S = 20.0
MAX_LIMIT_S = 180.0
REPRO_PORT = 8080


class Server(Protocol):
    """What the runner needs from a referee (the real one, or a stub in self-tests)."""

    @property
    def url(self) -> str: ...

    def wait_closed(self, timeout: float = 5.0) -> bool: ...


ServerFactory = Callable[[Sequence[Any]], AbstractContextManager[Any]]


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to run one exchange: who, against what, with which flags."""

    case_id: str
    provider: str
    client: Mapping[str, Any]
    scripts: Sequence[Any]
    variant: str = "original"
    case_path: Path | None = None
    limit_s: float | None = None
    extra_args: tuple[str, ...] = ()


@dataclass
class RunResult:
    """What one run produced, before any judgement."""

    argv: list[str]
    env_set: dict[str, str]
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    limit_s: float
    t_start: float
    t_exit: float
    t_first_stdout: float | None
    base_url: str
    record: Any = None
    referee_crash: str | None = None
    repro: str = ""
    result: dict[str, Any] | None = None
    json_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.t_exit - self.t_start


def scrubbed_env(parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent environment without credentials, provider URLs or contract knobs."""
    parent = os.environ if parent is None else parent
    env = {
        k: v
        for k, v in parent.items()
        if k in _KEPT_NAMES
        or (
            not k.endswith(_SCRUBBED_SUFFIXES)
            and not k.startswith(_SCRUBBED_PREFIXES)
            and k not in _SCRUBBED_NAMES
        )
    }
    env["LC_ALL"] = "C.UTF-8"
    env["TZ"] = "UTC"
    # A Python implementation must not buffer its result away from a lingering process.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _number(value: Any) -> str:
    """A CLI number as text: strings are passed as written, floats with repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def build_argv(
    command: Sequence[str], spec: RunSpec, base_url: str | None
) -> list[str]:
    """SPEC 1: the case's client section as flags, the prompt after ``--``."""
    client = spec.client
    argv = [*command, "--json", "--case-id", spec.case_id, "--provider", spec.provider]
    if base_url is not None:
        argv += ["--base-url", base_url]

    flags = (
        ("model", "--model"),
        ("budget", "--budget"),
        ("max_tokens", "--max-tokens"),
        ("chars_per_token", "--chars-per-token"),
        ("estimator", "--estimator"),
        ("timeout", "--timeout"),
        ("linger_ms", "--linger-ms"),
    )
    for key, flag in flags:
        if client.get(key) is not None:
            argv += [flag, _number(client[key])]
    if client.get("verbose"):
        argv.append("--verbose")
    argv += [str(a) for a in client.get("args", [])]
    argv += list(spec.extra_args)

    if client.get("prompt") is not None:
        argv += ["--", str(client["prompt"])]
    return argv


def base_url_for(spec: RunSpec, server_url: str) -> str | None:
    """``referee`` (the default) means the referee's URL, plus ``/v1`` for openai."""
    wanted = spec.client.get("base_url", "referee")
    if wanted is None:
        return None
    if wanted != "referee":
        return str(wanted)
    return server_url + "/v1" if spec.provider == "openai" else server_url


def wall_limit(spec: RunSpec) -> float:
    """A generous hard limit: scripted delays, the client's own timeout, the linger."""
    if spec.limit_s is not None:
        return spec.limit_s

    delays = 0.0
    holds = False
    for script in spec.scripts:
        delays += sum(getattr(w, "delay_s", 0.0) for w in getattr(script, "writes", ()))
        holds = holds or getattr(script, "end", "close") == "hold"
    client_timeout = float(spec.client.get("timeout") or 60) if holds else 0.0
    linger = float(spec.client.get("linger_ms") or 0) / 1000.0
    return min(MAX_LIMIT_S, DEFAULT_LIMIT_S + delays + client_timeout + linger)


def default_server_factory(scripts: Sequence[Any]) -> AbstractContextManager[Any]:
    from referee import Referee  # imported late: the referee is optional for fakes

    return Referee(list(scripts))


def run(
    command: Sequence[str],
    spec: RunSpec,
    server_factory: ServerFactory = default_server_factory,
) -> RunResult:
    """Run ``command`` for ``spec`` against a fresh referee; never raises for the impl."""
    try:
        with server_factory(spec.scripts) as server:
            base_url = base_url_for(spec, server.url)
            result = _run_process(command, spec, base_url)
            # The referee records the disconnect asynchronously; give it a moment.
            server.wait_closed(timeout=3.0)
        result.record = getattr(server, "record", None)
    except Exception as exc:
        log.exception("referee failed for %s", spec.case_id)
        now = time.monotonic()
        return RunResult(
            argv=list(command),
            env_set={},
            exit_code=None,
            stdout=b"",
            stderr=b"",
            timed_out=False,
            limit_s=0.0,
            t_start=now,
            t_exit=now,
            t_first_stdout=None,
            base_url="",
            referee_crash=f"{type(exc).__name__}: {exc}",
        )

    result.repro = repro_command(result, spec, getattr(server, "url", ""))
    _parse_stdout(result)
    return result


def _run_process(
    command: Sequence[str], spec: RunSpec, base_url: str | None
) -> RunResult:
    argv = build_argv(command, spec, base_url)
    env_set = {"LC_ALL": "C.UTF-8", "TZ": "UTC"}
    env_set.update({str(k): str(v) for k, v in spec.client.get("env", {}).items()})
    env = scrubbed_env()
    env.update(env_set)
    limit = wall_limit(spec)

    with tempfile.TemporaryDirectory(prefix="tb-case-") as cwd:
        t_start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        out, err = _Reader(proc.stdout), _Reader(proc.stderr)
        timed_out = not _wait_unreaped(proc.pid, t_start + limit)
        t_exit = time.monotonic()
        # Kill the whole group either way: a wrapper may have left children behind.
        _kill_group(proc)
        out.join()
        err.join()

    return RunResult(
        argv=argv,
        env_set=env_set,
        exit_code=None if timed_out else proc.returncode,
        stdout=out.data(),
        stderr=err.data(),
        timed_out=timed_out,
        limit_s=limit,
        t_start=t_start,
        t_exit=t_exit,
        t_first_stdout=out.first_at,
        base_url=base_url or "",
    )


class _Reader:
    """Drain one pipe in a thread, remembering when the first byte arrived."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._chunks: list[bytes] = []
        self.first_at: float | None = None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            chunk = self._pipe.read1(65536)
            if not chunk:
                break
            if self.first_at is None:
                self.first_at = time.monotonic()
            self._chunks.append(chunk)
        self._pipe.close()

    def join(self) -> None:
        self._thread.join(timeout=5.0)

    def data(self) -> bytes:
        return b"".join(self._chunks)


def _wait_unreaped(pid: int, deadline: float) -> bool:
    """Wait for the process to exit without reaping it; False at the deadline.

    Leaving the zombie in place keeps its pid (and so its process group id) from
    being reused before we kill the group, so the kill can only hit our own processes.
    """
    while True:
        state = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if state is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _parse_stdout(result: RunResult) -> None:
    """SPEC 6: exactly one JSON object followed by one newline."""
    text = result.stdout.decode("utf-8", errors="replace")
    if text == "":
        result.json_error = "stdout is empty"
        return
    if not text.endswith("\n") or "\n" in text[:-1]:
        result.json_error = "stdout is not exactly one line ending in a newline"
    try:
        value = json.loads(text)
    except ValueError as exc:
        result.json_error = f"stdout is not JSON: {exc}"
        return
    if not isinstance(value, dict):
        result.json_error = f"stdout is JSON but not an object: {type(value).__name__}"
        return
    result.result = value


def repro_command(result: RunResult, spec: RunSpec, server_url: str) -> str:
    """One line to rerun the exchange with the standalone referee on a fixed port.

    Re-chunked and generated exchanges have no case file of their own: the harness
    writes one (:func:`repro_case`) under ``conformance/reports/repro/`` when they fail.
    """
    case = spec.case_path or Path(f"conformance/reports/repro/{safe_name(spec)}.json")
    fixed = f"http://127.0.0.1:{REPRO_PORT}"
    argv = [a.replace(server_url, fixed) if server_url else a for a in result.argv]
    referee = [sys.executable, "-m", "referee", "--case", str(Path(case).resolve())]
    referee += ["--port", str(REPRO_PORT)]
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in result.env_set.items())
    return (
        f"(cd conformance && {shlex.join(referee)} &) ; sleep 1; "
        f"env {env} {shlex.join(argv)}"
    )


def safe_name(spec: RunSpec) -> str:
    name = (
        spec.case_id if spec.variant == "original" else f"{spec.case_id}@{spec.variant}"
    )
    return "".join(c if c.isalnum() or c in "-_@." else "_" for c in name)


def repro_case(spec: RunSpec) -> dict[str, Any]:
    """The exact scripts of a run as a case file the standalone referee can serve."""
    servers = []
    for script in spec.scripts:
        servers.append(
            {
                "status": script.status,
                "headers": [list(h) for h in script.headers],
                "writes": [
                    {"hex": w.data.hex(), "delay_ms": round(w.delay_s * 1000.0, 3)}
                    for w in script.writes
                ],
                "end": script.end,
                "hold_ms": round(script.hold_s * 1000.0),
                "raw": bool(getattr(script, "raw", False)),
                "content_length": bool(getattr(script, "content_length", False)),
            }
        )
    return {
        "id": safe_name(spec),
        "title": f"replay of {spec.case_id} ({spec.variant})",
        "source": "harness",
        "provider": spec.provider,
        "client": dict(spec.client),
        "server": servers,
    }


def write_repro_case(spec: RunSpec, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_name(spec)}.json"
    path.write_text(json.dumps(repro_case(spec), indent=1, ensure_ascii=False) + "\n")
    return path
