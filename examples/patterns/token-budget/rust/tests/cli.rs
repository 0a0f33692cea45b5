//! The binary against a scripted server on 127.0.0.1, as a real subprocess.

mod support;

use std::time::{Duration, Instant};

use support::{failure_lines, openai_text, result_of, run, End, Script, Server};
use support::{OPENAI_DONE, OPENAI_FINISH};

fn openai_args<'a>(base: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--json", "--provider", "openai", "--base-url", base];
    args.extend_from_slice(extra);
    args
}

#[test]
fn an_error_mid_stream_exits_1_and_keeps_the_partial_content() {
    let error =
        "data: {\"error\":{\"message\":\"upstream fell over\",\"type\":\"server_error\"}}\n\n";
    let frames = [
        openai_text("Hel").as_str(),
        openai_text("lo").as_str(),
        error,
        OPENAI_DONE,
    ]
    .map(str::to_owned);
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "hi"]), &[]);
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(result["end"], "error");
    assert_eq!(result["content"], "Hello");
    assert_eq!(result["counted_chars"], 5);
    assert_eq!(result["error"]["kind"], "server");
    assert_eq!(result["error"]["message"], "upstream fell over");
    assert_eq!(failure_lines(&output).len(), 1);
    assert_eq!(server.record().requests, 1);
}

#[test]
fn the_budget_stop_closes_the_connection_while_the_process_lingers() {
    let words: Vec<String> = (0..200).map(|i| openai_text(&format!(" w{i}"))).collect();
    let frames: Vec<&str> = words.iter().map(String::as_str).collect();
    let script =
        Script::sse(&frames, End::Hold(Duration::from_secs(20))).paced(Duration::from_millis(20));
    let server = Server::start(script);
    let base = format!("{}/v1", server.url);

    let args = openai_args(&base, &["--budget", "3", "--linger-ms", "1500", "--", "x"]);
    let output = run(&args, &[]);
    let exited = Instant::now();
    let result = result_of(&output);
    let record = server.record();

    // " w0 w1" is 6 chars, ceil(1.5) = 2 tokens; " w0 w1 w2" is 9 chars,
    // ceil(2.25) = 3 tokens: the third delta crosses the budget.
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(result["end"], "budget");
    assert_eq!(result["budget_reached"], true);
    assert_eq!(result["content"], " w0 w1 w2");

    let hung_up = record.disconnected_at.expect("the client never hung up");
    assert!(
        exited.duration_since(hung_up) > Duration::from_millis(1000),
        "the connection closed only when the process exited"
    );
    assert!(
        record.writes_ok.len() < 20,
        "{} writes went out",
        record.writes_ok.len()
    );
}

#[test]
fn a_body_cut_off_mid_stream_is_a_connection_error() {
    let frames = [openai_text("Half"), openai_text(" an ans")];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Cut,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "q"]), &[]);
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(result["error"]["kind"], "connection");
    assert_eq!(result["content"], "Half an ans");
}

#[test]
fn a_clean_end_without_a_marker_is_truncated() {
    let frames = [openai_text("The answer is")];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "q"]), &[]);
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(result["end"], "truncated");
    assert_eq!(result["error"]["kind"], "truncated");
    assert!(result["error"]["message"]
        .as_str()
        .unwrap()
        .contains("[DONE]"));
    assert_eq!(result["content"], "The answer is");
}

#[test]
fn a_finish_reason_then_a_clean_end_is_complete() {
    let frames = [openai_text("Hi"), OPENAI_FINISH.to_owned()];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "q"]), &[]);
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(result["end"], "complete");
    assert_eq!(result["finish_reason"], "stop");
}

#[test]
fn a_429_is_a_rate_limit_with_retry_after_and_nothing_generated() {
    let body = br#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#.to_vec();
    let mut script = Script::new("application/json", vec![body], End::Close);
    script.status = 429;
    script
        .headers
        .push(("Retry-After".to_owned(), "2".to_owned()));
    let server = Server::start(script);
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "q"]), &[]);
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(result["error"]["kind"], "rate_limit");
    assert_eq!(result["error"]["status"], 429);
    assert_eq!(result["error"]["retry_after"], 2);
    assert_eq!(result["error"]["message"], "Rate limit reached");
    assert_eq!(result["cost"]["basis"], "none");
    assert_eq!(result["cost"]["prompt_tokens"], 0);
    assert_eq!(server.record().requests, 1);
}

#[test]
fn a_wrong_content_type_is_a_protocol_error() {
    let script = Script::new("application/json", vec![b"{}".to_vec()], End::Close);
    let server = Server::start(script);
    let base = format!("{}/v1", server.url);

    let output = run(&openai_args(&base, &["--", "q"]), &[]);

    assert_eq!(result_of(&output)["error"]["kind"], "protocol");
}

#[test]
fn silence_longer_than_the_timeout_is_a_timeout() {
    let frames = [openai_text("slow")];
    let script = Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Hold(Duration::from_secs(5)),
    );
    let server = Server::start(script);
    let base = format!("{}/v1", server.url);

    let started = Instant::now();
    let output = run(&openai_args(&base, &["--timeout", "0.3", "--", "q"]), &[]);
    let result = result_of(&output);

    assert_eq!(result["error"]["kind"], "timeout");
    assert_eq!(result["content"], "slow");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn an_unreachable_server_is_a_connection_error_naming_the_url() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v1");

    let output = run(
        &[
            "--json",
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--",
            "q",
        ],
        &[],
    );
    let result = result_of(&output);

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(result["error"]["kind"], "connection");
    assert!(result["error"]["message"].as_str().unwrap().contains(&base));
    assert_eq!(result["cost"]["basis"], "none");
}

#[test]
fn verbose_traces_the_exchange_and_never_shows_the_key() {
    let key = "sk-test-do-not-print-7f3a";
    let frames = [
        openai_text("ok"),
        OPENAI_FINISH.to_owned(),
        OPENAI_DONE.to_owned(),
    ];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(
        &openai_args(&base, &["--verbose", "--", "q"]),
        &[("OPENAI_API_KEY", key)],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let record = server.record();

    assert!(
        record.request_head.contains(&format!("Bearer {key}")),
        "the key must be sent"
    );
    assert!(!stderr.contains(key) && !String::from_utf8_lossy(&output.stdout).contains(key));
    assert!(stderr.contains("authorization: [REDACTED]"));
    assert!(stderr.contains("POST ") && stderr.contains("data: [DONE]"));
}

#[test]
fn the_request_follows_the_spec() {
    let frames = [openai_text("ok"), OPENAI_DONE.to_owned()];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    run(
        &openai_args(&base, &["--budget", "9", "--model", "tiny", "--", "-x"]),
        &[],
    );
    let record = server.record();
    let body: serde_json::Value = serde_json::from_str(&record.request_body).unwrap();

    assert!(record
        .request_head
        .starts_with("POST /v1/chat/completions HTTP/1.1"));
    assert_eq!(body["model"], "tiny");
    assert_eq!(body["max_tokens"], 9);
    assert_eq!(body["messages"][0]["content"], "-x");
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[test]
fn ollama_joins_split_lines_and_parses_a_final_line_without_newline() {
    let writes = vec![
        b"{\"message\":{\"content\":\"caf\xc3".to_vec(),
        b"\xa9\"},\"done\":false}\n{\"message\":{\"con".to_vec(),
        b"tent\":\"!\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":4,\"eval_count\":2}".to_vec(),
    ];
    let server = Server::start(Script::new("application/x-ndjson", writes, End::Close));

    let output = run(
        &[
            "--json",
            "--provider",
            "ollama",
            "--base-url",
            &server.url,
            "--",
            "q",
        ],
        &[],
    );
    let result = result_of(&output);

    assert_eq!(result["end"], "complete");
    assert_eq!(result["content"], "café!");
    assert_eq!(result["counted_chars"], 5);
    assert_eq!(result["usage"]["total_tokens"], 6);
}

#[test]
fn anthropic_usage_is_replaced_not_added() {
    let frames = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi there\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ];
    let server = Server::start(Script::sse(&frames, End::Close));

    let args = [
        "--json",
        "--provider",
        "claude",
        "--base-url",
        &server.url,
        "--",
        "q",
    ];
    let result = result_of(&run(&args, &[]));

    assert_eq!(result["provider"], "anthropic");
    assert_eq!(result["finish_reason"], "stop");
    assert_eq!(
        result["usage"],
        serde_json::json!({"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24})
    );
    assert_eq!(result["cost"]["basis"], "provider");
}

#[test]
fn human_mode_prints_exactly_the_content_on_stdout() {
    let frames = [
        openai_text("Hel"),
        openai_text("lo"),
        OPENAI_DONE.to_owned(),
    ];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let base = format!("{}/v1", server.url);

    let output = run(
        &["--provider", "openai", "--base-url", &base, "--", "q"],
        &[],
    );

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello");
    assert!(String::from_utf8_lossy(&output.stderr).contains("summary:"));
}

/// Arguments and environment of one command line that must be refused.
type UsageCase = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn usage_errors_exit_2_with_one_line_and_nothing_on_stdout() {
    let cases: [UsageCase; 8] = [
        (&["--budget", "0"], &[]),
        (&["--budget", "-1"], &[]),
        (&["--chars-per-token", "nan"], &[]),
        (&["--timeout", " 4"], &[]),
        (&["--provider", "gemini"], &[]),
        (&["--provider", "openai"], &[]),
        (&["--estimator", "exact"], &[]),
        (&[], &[("NXUSKIT_VERBOSE", "yes")]),
    ];

    for (args, env) in cases {
        let output = run(args, env);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert_eq!(failure_lines(&output).len(), 1, "{args:?}");
    }
}

#[test]
fn the_budget_comes_from_the_environment_when_the_option_is_absent() {
    let output = run(&["--json", "--", "q"], &[("TOKEN_BUDGET_MAX", "7")]);
    assert_eq!(result_of(&output)["budget"], 7);

    let output = run(
        &["--json", "--budget", "9", "--", "q"],
        &[("TOKEN_BUDGET_MAX", "7")],
    );
    assert_eq!(result_of(&output)["budget"], 9);

    let output = run(&["--json", "--", "q"], &[("TOKEN_BUDGET_MAX", "")]);
    assert_eq!(result_of(&output)["budget"], 100);
}

#[test]
fn describe_prints_the_description() {
    let output = run(&["--describe"], &[]);
    let describe: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(describe["name"], "rust");
    assert_eq!(
        describe["capabilities"],
        serde_json::json!(["linger", "verbose", "step"])
    );
}

#[test]
fn an_interrupt_prints_no_result_and_exits_130() {
    let frames = [openai_text("slow")];
    let script = Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Hold(Duration::from_secs(10)),
    );
    let server = Server::start(script);
    let base = format!("{}/v1", server.url);

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_token-budget"))
        .args(openai_args(&base, &["--", "q"]))
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start token-budget");

    // Give it time to connect and read the first delta, then press Ctrl-C.
    std::thread::sleep(Duration::from_millis(400));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let output = child.wait_with_output().expect("wait for token-budget");

    assert_eq!(output.status.code(), Some(130));
    assert!(output.stdout.is_empty());
    assert_eq!(failure_lines(&output).len(), 1);
    assert!(server.record().disconnected_at.is_some());
}
