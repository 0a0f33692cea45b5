"""The command line as a real subprocess: options, exit codes, errors, output modes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import clean_env, load_schema, run_cli
from referee import Referee
from referee_helpers import JSON, NDJSON, oai, oll, script

KEY = "sk-test-SECRET-0123456789"

OK_OPENAI = script(
    [
        oai(
            b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}'
        ),
        oai(
            b'"choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}]}'
        ),
        oai(
            b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
        ),
        b"data: [DONE]\n\n",
    ]
)


def assert_one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("token-budget: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- usage errors: exit 2, nothing on stdout, one line on stderr -------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--budget", "0"],
        ["--budget", "-1"],
        ["--budget", "abc"],
        ["--budget", " 4"],
        ["--budget", "2147483648"],
        ["--max-tokens", "0"],
        ["--chars-per-token", "nan"],
        ["--chars-per-token", "inf"],
        ["--chars-per-token", "0"],
        ["--chars-per-token", "1_0"],
        ["--timeout", "-1"],
        ["--linger-ms", "600001"],
        ["--provider", "gemini"],
        ["--estimator", "words"],
        ["--no-such-flag"],
        ["a", "b"],
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str]) -> None:
    done = run_cli("--json", *args)

    assert done.code == 2 and done.stdout == ""
    assert_one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("claude", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_key_names_its_variable(provider: str, variable: str) -> None:
    done = run_cli("--json", "--provider", provider)

    assert done.code == 2 and done.stdout == ""
    assert variable in assert_one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("name", "value"),
    [("TOKEN_BUDGET_MAX", "0"), ("NXUSKIT_VERBOSE", "maybe"), ("NXUSKIT_STEP", "2")],
)
def test_bad_environment_values_are_usage_errors(name: str, value: str) -> None:
    done = run_cli("--json", env=clean_env(**{name: value}))

    assert done.code == 2 and done.stdout == ""
    assert name in assert_one_error_line(done.stderr)


def test_environment_budget_applies_only_without_the_option() -> None:
    env = clean_env(TOKEN_BUDGET_MAX="7")
    assert run_cli("--json", env=env).json["budget"] == 7
    assert run_cli("--json", "--budget", "9", env=env).json["budget"] == 9
    assert run_cli("--json", env=clean_env(TOKEN_BUDGET_MAX="")).json["budget"] == 100


# --- describe and result schemas -----------------------------------------------


def test_describe_is_valid_and_names_python() -> None:
    import jsonschema

    done = run_cli("--describe")
    data = done.json

    assert done.code == 0
    jsonschema.validate(data, load_schema("describe.schema.json"))
    assert data["name"] == "python" and "loopback" in data["providers"]
    assert {"linger", "verbose", "step", "prices"} <= set(data["capabilities"])


def test_loopback_json_result_is_valid_and_reaches_the_budget(
    result_validator: Any,
) -> None:
    done = run_cli("--json", "--budget", "12", "--case-id", "c-1")
    data = done.json

    assert done.code == 0
    result_validator.validate(data)
    assert (data["end"], data["budget_reached"], data["case_id"]) == (
        "budget",
        True,
        "c-1",
    )
    assert data["estimated_tokens"] == 12 and data["provider"] == "loopback"
    assert done.stdout.count("\n") == 1


def test_claude_alias_reports_anthropic(result_validator: Any) -> None:
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    with Referee(script([stop])) as ref:
        done = run_cli("--json", "--provider", "claude", "--base-url", ref.url)
    result_validator.validate(done.json)
    assert done.json["provider"] == "anthropic" and done.code == 0


# --- requests on the wire (SPEC section 5) ---------------------------------------


def test_openai_request_shape_and_key_redaction_in_verbose_mode() -> None:
    env = clean_env(OPENAI_API_KEY=KEY)
    with Referee(OK_OPENAI) as ref:
        done = run_cli(
            "--json",
            "--verbose",
            "--provider",
            "openai",
            "--base-url",
            ref.url + "/v1/",
            "--budget",
            "50",
            "--max-tokens",
            "33",
            "hello",
            env=env,
        )
    request = ref.record.connections[0]

    assert done.code == 0 and done.json["content"] == "Hi there"
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.header("authorization") == f"Bearer {KEY}"
    assert request.json == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 33,
    }
    # The key is sent upstream, but never shown.
    assert KEY not in done.stdout and KEY not in done.stderr
    assert "[REDACTED]" in done.stderr
    assert "data: [DONE]" in done.stderr and "POST" in done.stderr


def test_anthropic_and_ollama_request_shapes() -> None:
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    with Referee(script([stop])) as ref:
        run_cli(
            "--json",
            "--provider",
            "anthropic",
            "--base-url",
            ref.url,
            "--model",
            "m1",
            "x",
            env=clean_env(ANTHROPIC_API_KEY=KEY),
        )
    request = ref.record.connections[0]
    assert request.path == "/v1/messages"
    assert request.header("x-api-key") == KEY
    assert request.header("anthropic-version") == "2023-06-01"
    assert request.json == {
        "model": "m1",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }

    done_line = oll(b'"message":{"role":"assistant","content":""},"done":true}')
    with Referee(script([done_line], headers=NDJSON)) as ref:
        host = ref.url.removeprefix("http://")
        run_cli(
            "--json",
            "--provider",
            "ollama",
            "--budget",
            "8",
            "y",
            env=clean_env(OLLAMA_HOST=host),
        )
    request = ref.record.connections[0]
    assert request.path == "/api/chat" and request.header("authorization") is None
    assert request.json == {
        "model": "llama3.2",
        "stream": True,
        "options": {"num_predict": 8},
        "messages": [{"role": "user", "content": "y"}],
    }


def test_prompt_from_stdin_loses_one_trailing_newline() -> None:
    with Referee(OK_OPENAI) as ref:
        run_cli(
            "--json",
            "--provider",
            "openai",
            "--base-url",
            ref.url,
            input=b"line one\nline two\n\n",
        )
    assert (
        ref.record.connections[0].json["messages"][0]["content"]
        == "line one\nline two\n"
    )


def test_prompt_after_double_dash_may_start_with_a_dash() -> None:
    with Referee(OK_OPENAI) as ref:
        run_cli(
            "--json", "--provider", "openai", "--base-url", ref.url, "--", "--budget 3"
        )
    assert ref.record.connections[0].json["messages"][0]["content"] == "--budget 3"


# --- provider and transport errors: exit 1, result with partial content ----------


def run_against(s: Any, *extra: str, provider: str = "openai") -> tuple[Any, Any]:
    with Referee(s) as ref:
        done = run_cli("--json", "--provider", provider, "--base-url", ref.url, *extra)
        ref.wait_closed(timeout=5.0)
    return done, ref.record


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            401,
            b'{"error":{"message":"Incorrect API key","type":"invalid_request_error"}}',
            "auth",
            "Incorrect API key",
        ),
        (
            429,
            b'{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}',
            "rate_limit",
            "Rate limit reached",
        ),
        (
            500,
            b'{"error":{"message":"The server had an error","type":"server_error"}}',
            "server",
            "The server had an error",
        ),
        (404, b"not here\n", "bad_request", "not here"),
    ],
)
def test_http_error_statuses(
    status: int, body: bytes, kind: str, message: str, result_validator: Any
) -> None:
    done, record = run_against(script([body], status=status, headers=JSON))
    data = done.json

    assert done.code == 1
    result_validator.validate(data)
    assert data["error"]["kind"] == kind and data["error"]["status"] == status
    assert data["error"]["message"] == message
    assert data["cost"]["basis"] == "none" and record.requests == 1
    assert message in assert_one_error_line(done.stderr)


def test_unreachable_server_names_its_url(result_validator: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = run_cli("--json", "--provider", "openai", "--base-url", url)

    assert done.code == 1
    result_validator.validate(done.json)
    assert done.json["error"]["kind"] == "connection"
    assert url in done.json["error"]["message"]
    assert url in assert_one_error_line(done.stderr)


def test_malformed_frame_is_a_protocol_error(result_validator: Any) -> None:
    s = script(
        [oai(b'"choices":[{"index":0,"delta":{"content":"ok"}}]}'), b"data: {oops\n\n"]
    )
    done, _ = run_against(s)

    assert done.code == 1
    result_validator.validate(done.json)
    assert done.json["error"]["kind"] == "protocol" and done.json["content"] == "ok"


def test_wrong_content_type_is_a_protocol_error() -> None:
    done, _ = run_against(script([b'{"choices":[]}'], headers=JSON))

    assert done.code == 1 and done.json["error"]["kind"] == "protocol"


def test_cut_stream_keeps_partial_content(result_validator: Any) -> None:
    s = script(
        [oai(b'"choices":[{"index":0,"delta":{"content":"Half"}}]}')], end="reset"
    )
    done, _ = run_against(s)

    assert done.code == 1
    result_validator.validate(done.json)
    assert done.json["error"]["kind"] == "connection" and done.json["content"] == "Half"


def test_silent_server_hits_the_read_timeout(result_validator: Any) -> None:
    s = script(
        [oai(b'"choices":[{"index":0,"delta":{"content":"early"}}]}')], end="hold"
    )
    started = time.monotonic()
    done, _ = run_against(s, "--timeout", "0.5")

    assert done.code == 1
    result_validator.validate(done.json)
    assert done.json["error"]["kind"] == "timeout" and done.json["content"] == "early"
    assert time.monotonic() - started < 10


def test_truncated_stream_exits_1_with_error_object(result_validator: Any) -> None:
    done, _ = run_against(
        script([oai(b'"choices":[{"index":0,"delta":{"content":"cut"}}]}')])
    )

    assert done.code == 1
    result_validator.validate(done.json)
    assert (done.json["end"], done.json["error"]["kind"]) == ("truncated", "truncated")


# --- human mode, step mode, linger, interrupt ------------------------------------


def test_human_mode_stdout_is_exactly_the_content() -> None:
    _done, _ = run_against(OK_OPENAI)
    with Referee(OK_OPENAI) as ref:
        human = run_cli("--provider", "openai", "--base-url", ref.url)

    assert human.code == 0 and human.stdout == "Hi there"
    summary = human.stderr.strip().splitlines()[-1]
    assert "budget not reached" in summary and "prompt 3" in summary


def test_human_mode_error_still_prints_partial_text() -> None:
    s = script(
        [oai(b'"choices":[{"index":0,"delta":{"content":"Half"}}]}')], end="reset"
    )
    with Referee(s) as ref:
        done = run_cli("--provider", "openai", "--base-url", ref.url)

    assert done.code == 1 and done.stdout == "Half"
    assert "connection" in assert_one_error_line(done.stderr)


def test_step_mode_without_a_terminal_explains_and_does_not_wait() -> None:
    done = run_cli("--step", "--json", "--budget", "5")

    assert done.code == 0 and done.json["end"] == "budget"
    for step in ("build", "send", "stream", "budget check", "stop", "result"):
        assert f": {step}]" in done.stderr


def test_verbose_loopback_traces_chunks() -> None:
    done = run_cli("--json", "--budget", "3", env=clean_env(NXUSKIT_VERBOSE="true"))

    assert done.code == 0 and "loopback" in done.stderr and '{"text":' in done.stderr


def test_linger_keeps_the_process_alive_after_the_disconnect() -> None:
    body = b'"choices":[{"index":0,"delta":{"content":" w"},"finish_reason":null}]}'
    s = script([(oai(body), 0.02) for _ in range(300)], end="hold")
    with Referee(s) as ref:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "token_budget",
                "--json",
                "--provider",
                "openai",
                "--base-url",
                ref.url,
                "--budget",
                "3",
                "--linger-ms",
                "2000",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        printed = time.monotonic()
        assert ref.wait_closed(timeout=1.0)
        still_running = process.poll() is None
        _out, _err = process.communicate(timeout=10)

    assert json.loads(line)["end"] == "budget"
    assert still_running, "the process exited instead of lingering"
    connection = ref.record.connections[0]
    assert connection.disconnected_at is not None
    assert connection.disconnected_at <= printed + 0.2
    assert process.returncode == 0 and ref.record.requests == 1


def test_interrupt_exits_130_without_a_traceback() -> None:
    env = clean_env(TOKEN_BUDGET_LOOPBACK_DELAY_MS="200")
    process = subprocess.Popen(
        [sys.executable, "-m", "token_budget", "--budget", "1000"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    process.stdout.read(8)  # it is streaming now
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)

    assert process.returncode == 130
    assert b"Traceback" not in err
    # SPEC 9: exactly one line says why there is no result.
    assert err.count(b"token-budget: ") == 1


def test_help_and_console_script() -> None:
    done = run_cli("--help")
    assert done.code == 0 and "--budget" in done.stdout

    script_path = os.path.join(os.path.dirname(sys.executable), "token-budget")
    if not os.path.exists(script_path):
        pytest.skip("the console script is only there when the package is installed")
    out = subprocess.run([script_path, "--describe"], capture_output=True, check=True)
    assert json.loads(out.stdout)["name"] == "python"


def test_step_mode_on_a_terminal_waits_for_enter_and_q_quits() -> None:
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with a terminal on stdin
        os.environ.update(clean_env())
        os.execv(sys.executable, [sys.executable, "-m", "token_budget", "--step"])

    seen = b""

    def read_for(seconds: float) -> None:
        nonlocal seen
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    return

    read_for(3.0)
    assert b"[step 1: build]" in seen and b"[step 2:" not in seen
    os.write(fd, b"\n")
    read_for(1.0)
    assert b"[step 2: send]" in seen and b"[step 3:" not in seen
    os.write(fd, b"q\n")
    read_for(1.0)
    _, status = os.waitpid(pid, 0)
    os.close(fd)

    assert os.waitstatus_to_exitcode(status) == 130
    assert b"Traceback" not in seen
    assert seen.count(b"token-budget: ") == 1


def test_exact_estimator_from_the_command_line(result_validator: Any) -> None:
    done = run_cli("--json", "--estimator", "exact", "--budget", "5")

    assert done.code == 0
    result_validator.validate(done.json)
    assert done.json["estimator"] == "exact" and done.json["end"] == "budget"


def test_missing_exact_extra_is_a_one_line_usage_error() -> None:
    code = (
        "import sys; sys.modules['tiktoken'] = None; "
        "from token_budget.cli import main; "
        "sys.exit(main(['--json', '--estimator', 'exact']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=clean_env(), check=False
    )

    assert done.returncode == 2 and done.stdout == b""
    line = assert_one_error_line(done.stderr.decode())
    assert "pip install 'token-budget[exact]'" in line
