//! OpenAI Chat Completions (and compatible servers): SSE with `data:` only,
//! ended by `data: [DONE]`.

use serde_json::{json, Value};

use super::http::{self, Exchange};
use super::json::{chars_at, count_at, parse_object, str_at, truthy};
use super::{Chunk, Request};
use crate::decode::SseEvent;
use crate::error::{ErrorKind, StreamError};
use crate::usage::UsageUpdate;

/// The official API wants `max_completion_tokens`; compatible servers
/// (Ollama's `/v1`, vLLM) honour only `max_tokens` (SPEC §5).
const OFFICIAL_HOST: &str = "api.openai.com";

pub(crate) fn exchange(
    base_url: &str,
    key: Option<&str>,
    request: &Request,
    max_tokens: u32,
) -> Exchange {
    let mut body = json!({
        "model": request.model,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    body[limit_field(base_url)] = json!(max_tokens);

    let mut headers = vec![("accept".to_owned(), "text/event-stream".to_owned())];
    if let Some(key) = key {
        headers.push(("authorization".to_owned(), format!("Bearer {key}")));
    }

    Exchange {
        url: format!("{base_url}/chat/completions"),
        headers,
        body,
        expects_sse: true,
    }
}

fn limit_field(base_url: &str) -> &'static str {
    let host = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));

    if host.as_deref() == Some(OFFICIAL_HOST) {
        "max_completion_tokens"
    } else {
        "max_tokens"
    }
}

/// Reads chat-completion chunks; remembers whether a finish reason was seen,
/// because a clean end after one counts as complete (SPEC §4.1).
#[derive(Debug, Default)]
pub(crate) struct Dialect {
    saw_finish_reason: bool,
}

impl http::Dialect<SseEvent> for Dialect {
    fn on_frame(&mut self, event: SseEvent) -> Result<Option<Chunk>, StreamError> {
        // The sentinel is checked before any JSON parsing (BR-26).
        if event.data == "[DONE]" {
            return Ok(Some(Chunk::terminal()));
        }

        let object = parse_object(&event.data, "an OpenAI event")?;
        if let Some(error) = object.get("error").filter(|error| truthy(error)) {
            return Err(stream_error(error));
        }

        let mut chunk = Chunk::default();
        let choices = object.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            self.read_choice(choice, &mut chunk);
        }

        // The usage-only chunk has `choices: []` and still counts (BR-01).
        if let Some(usage) = object.get("usage").filter(|usage| usage.is_object()) {
            chunk.usage = Some(UsageUpdate {
                prompt_tokens: Some(count_at(Some(usage), "prompt_tokens")),
                completion_tokens: Some(count_at(Some(usage), "completion_tokens")),
            });
        }

        Ok(Some(chunk))
    }

    fn on_eof(&mut self) -> Result<Chunk, StreamError> {
        if self.saw_finish_reason {
            return Ok(Chunk::terminal());
        }

        Err(StreamError::new(
            ErrorKind::Truncated,
            "the stream ended without data: [DONE] and without a finish_reason",
        ))
    }
}

impl Dialect {
    /// SPEC §2 order: reasoning, then content, then tool-call arguments.
    fn read_choice(&mut self, choice: &Value, chunk: &mut Chunk) {
        let delta = choice.get("delta");
        chunk.hidden_chars += chars_at(delta, "reasoning_content") + chars_at(delta, "reasoning");

        if let Some(text) = str_at(delta, "content") {
            chunk.text.push_str(text);
        }

        let calls = delta
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            chunk.hidden_chars += chars_at(call.get("function"), "arguments");
        }

        if let Some(reason) = str_at(Some(choice), "finish_reason") {
            chunk.finish_reason = Some(reason.to_owned());
            self.saw_finish_reason = true;
        }
    }
}

/// A data object with a truthy `error` member (SPEC §8, mid-stream column).
fn stream_error(error: &Value) -> StreamError {
    let message = match error.as_str() {
        Some(text) => text.to_owned(),
        None => str_at(Some(error), "message").map_or_else(|| error.to_string(), str::to_owned),
    };

    let error_type = str_at(Some(error), "type");
    let code = str_at(Some(error), "code");
    let kind = match (error_type, code) {
        (Some("authentication_error"), _) => ErrorKind::Auth,
        (Some("rate_limit_error"), _) | (_, Some("rate_limit_exceeded")) => ErrorKind::RateLimit,
        (Some("invalid_request_error"), _) => ErrorKind::BadRequest,
        _ => ErrorKind::Server,
    };

    StreamError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::http::Dialect as _;
    use super::*;

    fn frame(data: &str) -> SseEvent {
        SseEvent {
            event: "message".to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn the_official_host_gets_max_completion_tokens() {
        let request = Request::new("m", "hi");
        let official = exchange("https://api.openai.com/v1", Some("k"), &request, 7);
        let local = exchange("http://127.0.0.1:8080/v1", None, &request, 7);

        assert_eq!(official.body["max_completion_tokens"], 7);
        assert!(official.body.get("max_tokens").is_none());
        assert_eq!(local.body["max_tokens"], 7);
        assert_eq!(local.url, "http://127.0.0.1:8080/v1/chat/completions");
        assert!(local
            .headers
            .iter()
            .all(|(name, _)| name != "authorization"));
    }

    #[test]
    fn reasoning_content_and_tool_arguments_all_count() {
        let mut dialect = Dialect::default();
        let data = r#"{"choices":[{"index":0,"delta":{"reasoning_content":"ab","reasoning":"c",
            "content":"Hé","tool_calls":[{"index":0,"function":{"arguments":"{\"x\""}}]},
            "finish_reason":"length"}]}"#;

        let chunk = dialect.on_frame(frame(data)).unwrap().unwrap();
        assert_eq!(chunk.text, "Hé");
        assert_eq!(chunk.hidden_chars, 3 + 4);
        assert_eq!(chunk.finish_reason.as_deref(), Some("length"));
        assert!(dialect.on_eof().unwrap().terminal);
    }

    #[test]
    fn the_usage_chunk_with_empty_choices_is_read() {
        let mut dialect = Dialect::default();
        let data = r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;

        let chunk = dialect.on_frame(frame(data)).unwrap().unwrap();
        let usage = chunk.usage.unwrap();
        assert_eq!(usage.prompt_tokens, Some(Some(5)));
        assert_eq!(usage.completion_tokens, Some(Some(1)));
    }

    #[test]
    fn done_is_terminal_and_eof_without_finish_is_truncated() {
        let mut dialect = Dialect::default();
        assert!(dialect.on_frame(frame("[DONE]")).unwrap().unwrap().terminal);
        assert_eq!(dialect.on_eof().unwrap_err().kind, ErrorKind::Truncated);
    }

    #[test]
    fn error_members_are_classified() {
        let mut dialect = Dialect::default();
        let rate = r#"{"error":{"message":"slow down","type":"x","code":"rate_limit_exceeded"}}"#;
        let error = dialect.on_frame(frame(rate)).unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::RateLimit, "slow down")
        );

        let plain = dialect.on_frame(frame(r#"{"error":"boom"}"#)).unwrap_err();
        assert_eq!(
            (plain.kind, plain.message.as_str()),
            (ErrorKind::Server, "boom")
        );

        // A falsy error member is no error.
        assert!(dialect
            .on_frame(frame(r#"{"error":null,"choices":[]}"#))
            .is_ok());
    }

    #[test]
    fn non_object_data_is_a_protocol_error() {
        let mut dialect = Dialect::default();
        assert_eq!(
            dialect.on_frame(frame("hello")).unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            dialect.on_frame(frame("")).unwrap_err().kind,
            ErrorKind::Protocol
        );
    }
}
