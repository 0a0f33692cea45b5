//! The HTTP side shared by the networked providers: one POST, status and
//! content-type checks, and a body read under a silence timeout that is
//! decoded into chunks lazily.
//!
//! Cancellation is drop: the chunk stream owns the response, and dropping an
//! unfinished response makes hyper close the connection. The client keeps no
//! idle connections, so nothing can go back to a pool (SPEC §4.3).

use std::sync::Arc;
use std::time::Duration;

use futures::stream;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect::Policy;
use serde_json::Value;

use super::json::str_at;
use super::{Chunk, ChunkStream, ProviderKind};
use crate::decode::{NdjsonDecoder, NdjsonLine, SseDecoder, SseEvent};
use crate::error::{ErrorKind, StreamError};
use crate::observe::{redact_header, Observer, TraceEvent};

/// How much of an error body is read to find the provider's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One request, ready to send.
pub(crate) struct Exchange {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
    /// SSE providers must answer `text/event-stream` (SPEC §4.4).
    pub(crate) expects_sse: bool,
}

/// A response with a 2xx status whose body has not been read yet.
pub(crate) struct Opened {
    body: Body,
    observer: Option<Arc<dyn Observer>>,
}

/// Sends the request once and checks the status and content type.
pub(crate) async fn open(
    exchange: Exchange,
    kind: ProviderKind,
    timeout: Duration,
    observer: Option<Arc<dyn Observer>>,
) -> Result<Opened, StreamError> {
    let client = build_client(&exchange.url, timeout)?;
    let body = exchange.body.to_string();
    trace_request(observer.as_deref(), &exchange, &body);

    let mut builder = client
        .post(&exchange.url)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in &exchange.headers {
        builder = builder.header(name, value);
    }

    // The silence timeout also covers connecting and waiting for the headers.
    let response = match tokio::time::timeout(timeout, builder.send()).await {
        Err(_) => return Err(silence_error(&exchange.url, timeout, "an answer")),
        Ok(Err(error)) => return Err(send_error(&error, &exchange.url, timeout)),
        Ok(Ok(response)) => response,
    };

    let status = response.status().as_u16();
    log::debug!("POST {} answered HTTP {status}", exchange.url);
    let headers = header_pairs(response.headers());
    if let Some(observer) = observer.as_deref() {
        observer.on_event(&TraceEvent::ResponseStarted {
            status,
            headers: &headers,
        });
    }

    let mut body = Body {
        response,
        url: exchange.url.clone(),
        timeout,
    };
    if !(200..300).contains(&status) {
        return Err(status_error(kind, status, &mut body, observer.as_deref()).await);
    }

    if exchange.expects_sse {
        check_event_stream(body.response.headers())?;
    }

    Ok(Opened { body, observer })
}

fn build_client(url: &str, timeout: Duration) -> Result<reqwest::Client, StreamError> {
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(Policy::none())
        .connect_timeout(timeout);

    // A proxy from the environment must not stand between us and a local
    // server: the budget stop has to close the socket the server sees.
    if is_loopback(url) {
        builder = builder.no_proxy();
    }

    builder.build().map_err(|error| {
        StreamError::new(
            ErrorKind::Connection,
            format!("could not set up the HTTP client: {}", root_cause(&error)),
        )
    })
}

fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');

    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn trace_request(observer: Option<&dyn Observer>, exchange: &Exchange, body: &str) {
    let Some(observer) = observer else {
        return;
    };

    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    for (name, value) in &exchange.headers {
        headers.push((name.clone(), redact_header(name, value)));
    }

    observer.on_event(&TraceEvent::RequestBuilt {
        method: "POST",
        url: &exchange.url,
        headers: &headers,
        body,
    });
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            (
                name.as_str().to_owned(),
                redact_header(name.as_str(), &value),
            )
        })
        .collect()
}

fn check_event_stream(headers: &HeaderMap) -> Result<(), StreamError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();

    if media_type.eq_ignore_ascii_case("text/event-stream") {
        return Ok(());
    }

    let shown = if content_type.is_empty() {
        "none"
    } else {
        &content_type
    };
    Err(StreamError::new(
        ErrorKind::Protocol,
        format!("expected a text/event-stream response, got Content-Type {shown}"),
    ))
}

/// The body of a response, read one network chunk at a time.
struct Body {
    response: reqwest::Response,
    url: String,
    timeout: Duration,
}

impl Body {
    /// The next bytes; `None` at a clean end of the HTTP message.
    async fn next_bytes(&mut self) -> Result<Option<bytes::Bytes>, StreamError> {
        match tokio::time::timeout(self.timeout, self.response.chunk()).await {
            Err(_) => Err(silence_error(&self.url, self.timeout, "more data")),
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(error)) => Err(StreamError::new(
                ErrorKind::Connection,
                format!(
                    "the connection to {} broke before the body ended: {}",
                    self.url,
                    root_cause(&error)
                ),
            )),
        }
    }
}

fn silence_error(url: &str, timeout: Duration, waiting_for: &str) -> StreamError {
    StreamError::new(
        ErrorKind::Timeout,
        format!(
            "waited {} s for {waiting_for} from {url}; raise --timeout if the provider is slow",
            timeout.as_secs_f64()
        ),
    )
}

fn send_error(error: &reqwest::Error, url: &str, timeout: Duration) -> StreamError {
    if error.is_timeout() {
        return silence_error(url, timeout, "a connection");
    }

    let message = if error.is_connect() {
        format!("could not reach {url}: {}", root_cause(error))
    } else {
        format!("the request to {url} failed: {}", root_cause(error))
    };
    StreamError::new(ErrorKind::Connection, message)
}

/// The innermost cause says what happened ("Connection refused"); the
/// wrappers around it only say where.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

async fn status_error(
    kind: ProviderKind,
    status: u16,
    body: &mut Body,
    observer: Option<&dyn Observer>,
) -> StreamError {
    let retry_after = retry_after(body.response.headers());

    // A broken or slow error body must not hide the status: keep what arrived.
    let mut bytes = Vec::new();
    while bytes.len() < MAX_ERROR_BODY {
        match body.next_bytes().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }

    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        trace_line(observer, line);
    }

    let message = provider_message(kind, &text).unwrap_or_else(|| first_line(&text, status));
    StreamError::new(ErrorKind::from_status(status), message).with_status(status, retry_after)
}

/// `error.message` (OpenAI, Anthropic) or a string `error` (Ollama).
fn provider_message(kind: ProviderKind, text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let error = value.get("error");

    let message = match kind {
        ProviderKind::Ollama => error?.as_str(),
        _ => str_at(error, "message"),
    };
    message.filter(|m| !m.trim().is_empty()).map(str::to_owned)
}

fn first_line(text: &str, status: u16) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        line.to_owned()
    }
}

/// `Retry-After` in seconds, only when it is a plain non-negative integer.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Splits body bytes into frames.
pub(crate) trait FrameDecoder: Send + 'static {
    type Frame;

    fn feed(&mut self, bytes: &[u8]);
    fn next_frame(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<Self::Frame>;
    /// The frame left at a clean end of body, if the format keeps one.
    fn finish(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<Self::Frame>;
}

impl FrameDecoder for SseDecoder {
    type Frame = SseEvent;

    fn feed(&mut self, bytes: &[u8]) {
        SseDecoder::feed(self, bytes);
    }

    fn next_frame(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<SseEvent> {
        self.next_event(on_line)
    }

    fn finish(&mut self, _on_line: &mut dyn FnMut(&str)) -> Option<SseEvent> {
        SseDecoder::finish(self);
        None
    }
}

impl FrameDecoder for NdjsonDecoder {
    type Frame = NdjsonLine;

    fn feed(&mut self, bytes: &[u8]) {
        NdjsonDecoder::feed(self, bytes);
    }

    fn next_frame(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<NdjsonLine> {
        self.next_line(on_line)
    }

    fn finish(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<NdjsonLine> {
        NdjsonDecoder::finish(self, on_line)
    }
}

/// Maps one provider's frames to chunks.
pub(crate) trait Dialect<F>: Send + 'static {
    /// A chunk, nothing (an ignored frame), or the error the frame reports.
    fn on_frame(&mut self, frame: F) -> Result<Option<Chunk>, StreamError>;
    /// A clean end of body: a terminal chunk if the stream counts as
    /// complete, else a `truncated` error naming the missing marker.
    fn on_eof(&mut self) -> Result<Chunk, StreamError>;
}

pub(crate) fn sse_stream<L: Dialect<SseEvent>>(opened: Opened, dialect: L) -> ChunkStream {
    frame_stream(opened, SseDecoder::new(), dialect)
}

pub(crate) fn ndjson_stream<L: Dialect<NdjsonLine>>(opened: Opened, dialect: L) -> ChunkStream {
    frame_stream(opened, NdjsonDecoder::new(), dialect)
}

fn frame_stream<D, L>(opened: Opened, decoder: D, dialect: L) -> ChunkStream
where
    D: FrameDecoder,
    L: Dialect<D::Frame>,
{
    let state = FrameStream {
        body: Some(opened.body),
        observer: opened.observer,
        decoder,
        dialect,
        phase: Phase::Reading,
    };

    Box::pin(stream::unfold(state, |mut state| async move {
        let item = state.next_chunk().await?;
        Some((item, state))
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    /// The body ended cleanly; the dialect still has to judge it.
    BodyEnded,
    Done,
}

struct FrameStream<D, L> {
    /// `None` once the stream is over, which drops (closes) the connection.
    body: Option<Body>,
    observer: Option<Arc<dyn Observer>>,
    decoder: D,
    dialect: L,
    phase: Phase,
}

impl<D, L> FrameStream<D, L>
where
    D: FrameDecoder,
    L: Dialect<D::Frame>,
{
    /// Decodes frames from what was already read before reading more, so a
    /// stop between two frames of one read never reads past the crossing one.
    async fn next_chunk(&mut self) -> Option<Result<Chunk, StreamError>> {
        loop {
            match self.phase {
                Phase::Done => return None,
                Phase::BodyEnded => {
                    let verdict = self.dialect.on_eof();
                    return Some(self.end(verdict));
                }
                Phase::Reading => {}
            }

            if let Some(frame) = self.buffered_frame() {
                if let Some(item) = self.map_frame(frame) {
                    return Some(item);
                }
                continue;
            }

            let body = self.body.as_mut()?;
            match body.next_bytes().await {
                Ok(Some(bytes)) => self.decoder.feed(&bytes),
                Ok(None) => {
                    self.phase = Phase::BodyEnded;
                    if let Some(frame) = self.final_frame() {
                        if let Some(item) = self.map_frame(frame) {
                            return Some(item);
                        }
                    }
                }
                Err(error) => return Some(self.end(Err(error))),
            }
        }
    }

    fn buffered_frame(&mut self) -> Option<D::Frame> {
        let observer = self.observer.as_deref();
        self.decoder
            .next_frame(&mut |line| trace_line(observer, line))
    }

    fn final_frame(&mut self) -> Option<D::Frame> {
        let observer = self.observer.as_deref();
        self.decoder.finish(&mut |line| trace_line(observer, line))
    }

    fn map_frame(&mut self, frame: D::Frame) -> Option<Result<Chunk, StreamError>> {
        match self.dialect.on_frame(frame) {
            Ok(None) => None,
            Ok(Some(chunk)) if chunk.terminal => Some(self.end(Ok(chunk))),
            Ok(Some(chunk)) => Some(Ok(chunk)),
            Err(error) => Some(self.end(Err(error))),
        }
    }

    /// The last item: after it the connection is closed and nothing is read.
    fn end(&mut self, item: Result<Chunk, StreamError>) -> Result<Chunk, StreamError> {
        self.phase = Phase::Done;
        self.body = None;
        item
    }
}

fn trace_line(observer: Option<&dyn Observer>, line: &str) {
    if let Some(observer) = observer {
        observer.on_event(&TraceEvent::RawLine(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_a_plain_integer_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(2));

        headers.insert(RETRY_AFTER, "1.5".parse().unwrap());
        assert_eq!(retry_after(&headers), None);

        headers.insert(RETRY_AFTER, "-1".parse().unwrap());
        assert_eq!(retry_after(&headers), None);

        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn provider_messages_follow_each_error_shape() {
        let openai = r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#;
        let anthropic = r#"{"type":"error","error":{"type":"x","message":"Overloaded"}}"#;
        let ollama = r#"{"error":"model not found"}"#;

        assert_eq!(
            provider_message(ProviderKind::OpenAi, openai).as_deref(),
            Some("Rate limit reached")
        );
        assert_eq!(
            provider_message(ProviderKind::Anthropic, anthropic).as_deref(),
            Some("Overloaded")
        );
        assert_eq!(
            provider_message(ProviderKind::Ollama, ollama).as_deref(),
            Some("model not found")
        );
        assert_eq!(provider_message(ProviderKind::OpenAi, ollama), None);
    }

    #[test]
    fn other_bodies_give_their_first_line() {
        assert_eq!(
            first_line("internal failure\nmore", 500),
            "internal failure"
        );
        assert_eq!(first_line("", 502), "HTTP 502 with an empty body");
    }

    #[test]
    fn only_event_stream_passes_the_content_type_check() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "Text/Event-Stream; charset=utf-8".parse().unwrap(),
        );
        assert!(check_event_stream(&headers).is_ok());

        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            check_event_stream(&headers).unwrap_err().kind,
            ErrorKind::Protocol
        );

        assert!(check_event_stream(&HeaderMap::new()).is_err());
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:9/v1"));
        assert!(is_loopback("http://localhost:9"));
        assert!(is_loopback("http://[::1]:9"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }
}
