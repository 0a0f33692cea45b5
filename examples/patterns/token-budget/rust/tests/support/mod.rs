//! A scripted HTTP/1.1 server on 127.0.0.1 for the integration tests: it
//! answers one request with scripted chunked writes and records what the
//! client did, above all when it hung up.

#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the response ends after the scripted writes.
#[derive(Debug, Clone, Copy)]
pub enum End {
    /// The final zero-length chunk, then close: a clean end of body.
    Close,
    /// Close without the final chunk: the body is cut off.
    Cut,
    /// Send nothing more and wait (at most this long) for the client to leave.
    Hold(Duration),
}

/// One response: status line, headers, body writes with delays before each.
pub struct Script {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub writes: Vec<(Duration, Vec<u8>)>,
    pub end: End,
}

impl Script {
    pub fn new(content_type: &str, writes: Vec<Vec<u8>>, end: End) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            writes: writes.into_iter().map(|w| (Duration::ZERO, w)).collect(),
            end,
        }
    }

    pub fn sse(frames: &[&str], end: End) -> Self {
        Self::new(
            "text/event-stream",
            frames.iter().map(|f| f.as_bytes().to_vec()).collect(),
            end,
        )
    }

    pub fn paced(mut self, delay: Duration) -> Self {
        for write in &mut self.writes {
            write.0 = delay;
        }
        self
    }
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Record {
    pub requests: usize,
    pub request_head: String,
    pub request_body: String,
    /// When each scripted write went out successfully.
    pub writes_ok: Vec<Instant>,
    /// When the client closed or reset the connection, if it did.
    pub disconnected_at: Option<Instant>,
}

pub struct Server {
    pub url: String,
    handle: JoinHandle<Record>,
}

impl Server {
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let handle = thread::spawn(move || serve(&listener, &script));

        Self { url, handle }
    }

    pub fn record(self) -> Record {
        self.handle.join().expect("the test server thread panicked")
    }
}

fn serve(listener: &TcpListener, script: &Script) -> Record {
    let mut record = Record::default();
    listener.set_nonblocking(false).expect("blocking listener");
    let (mut stream, _) = listener.accept().expect("accept");
    stream.set_nodelay(true).expect("nodelay");

    let (head, body) = read_request(&mut stream);
    record.requests = 1;
    record.request_head = head;
    record.request_body = body;

    let mut response = format!("HTTP/1.1 {} Scripted\r\n", script.status);
    for (name, value) in &script.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    if stream.write_all(response.as_bytes()).is_err() {
        record.disconnected_at = Some(Instant::now());
        return record;
    }

    for (delay, data) in &script.writes {
        thread::sleep(*delay);
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        if stream
            .write_all(&chunk)
            .and_then(|()| stream.flush())
            .is_err()
        {
            record.disconnected_at = Some(Instant::now());
            return record;
        }
        record.writes_ok.push(Instant::now());
    }

    match script.end {
        End::Close => {
            let _ = stream.write_all(b"0\r\n\r\n");
            let _ = stream.shutdown(Shutdown::Write);
            record.disconnected_at = wait_for_eof(&mut stream, Duration::from_secs(5));
        }
        End::Cut => {
            let _ = stream.shutdown(Shutdown::Both);
        }
        End::Hold(limit) => record.disconnected_at = wait_for_eof(&mut stream, limit),
    }
    record
}

fn read_request(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    let mut buffer = [0_u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");

    loop {
        if let Some(end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
            let length = content_length(&head);
            while bytes.len() < end + 4 + length {
                let n = stream.read(&mut buffer).expect("read the request body");
                assert!(n > 0, "the client closed before sending its body");
                bytes.extend_from_slice(&buffer[..n]);
            }
            let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]).into_owned();
            return (head, body);
        }
        let n = stream.read(&mut buffer).expect("read the request head");
        assert!(n > 0, "the client closed before sending a request");
        bytes.extend_from_slice(&buffer[..n]);
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Blocks until the client closes or resets, up to `limit`.
fn wait_for_eof(stream: &mut TcpStream, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    let mut buffer = [0_u8; 1024];

    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .ok()?;
        match stream.read(&mut buffer) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(Instant::now()),
        }
    }
    None
}

/// Runs the binary with a clean environment and the given variables.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_token-budget"));
    command.args(args).env_clear().stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run token-budget")
}

/// Parses stdout as the one JSON result line.
pub fn result_of(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "stdout: {text:?}"
    );
    serde_json::from_str(&text).expect("stdout is JSON")
}

/// The lines of stderr that start with the failure prefix.
pub fn failure_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.starts_with("token-budget: "))
        .map(str::to_owned)
        .collect()
}

/// One OpenAI chunk event with visible text.
pub fn openai_text(text: &str) -> String {
    let chunk = serde_json::json!({
        "id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
    });
    format!("data: {chunk}\n\n")
}

pub const OPENAI_FINISH: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
pub const OPENAI_DONE: &str = "data: [DONE]\n\n";
