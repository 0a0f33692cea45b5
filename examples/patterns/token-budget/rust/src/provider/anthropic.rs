//! Anthropic Messages: SSE with `event:` names, ended by `message_stop`.

use serde_json::{json, Value};

use super::http::{self, Exchange};
use super::json::{chars_at, count_at, has, parse_any, parse_object, str_at, Object};
use super::{Chunk, Request};
use crate::decode::SseEvent;
use crate::error::{ErrorKind, StreamError};
use crate::usage::UsageUpdate;

const API_VERSION: &str = "2023-06-01";

pub(crate) fn exchange(
    base_url: &str,
    key: Option<&str>,
    request: &Request,
    max_tokens: u32,
) -> Exchange {
    let body = json!({
        "model": request.model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": true,
    });

    let mut headers = vec![
        ("anthropic-version".to_owned(), API_VERSION.to_owned()),
        ("accept".to_owned(), "text/event-stream".to_owned()),
    ];
    if let Some(key) = key {
        headers.push(("x-api-key".to_owned(), key.to_owned()));
    }

    Exchange {
        url: format!("{base_url}/v1/messages"),
        headers,
        body,
        expects_sse: true,
    }
}

/// Dispatches on the SSE event name, as Anthropic's own SDK does.
///
/// It remembers the prompt's three cumulative parts (input, cache creation,
/// cache read): each usage report replaces the parts it carries and keeps the
/// others (SPEC §6.1, BR-06).
#[derive(Debug, Default)]
pub(crate) struct Dialect {
    parts: [Option<u64>; 3],
}

impl http::Dialect<SseEvent> for Dialect {
    fn on_frame(&mut self, event: SseEvent) -> Result<Option<Chunk>, StreamError> {
        let what = "an Anthropic event";

        match event.event.as_str() {
            "message_start" => Ok(self.message_start(&parse_object(&event.data, what)?)),
            "content_block_delta" => Ok(content_block_delta(&parse_object(&event.data, what)?)),
            "message_delta" => Ok(self.message_delta(&parse_object(&event.data, what)?)),
            "message_stop" => {
                parse_object(&event.data, what)?;
                Ok(Some(Chunk::terminal()))
            }
            "error" => Err(stream_error(&parse_object(&event.data, what)?)),
            // ping, content_block_start/stop and unknown names carry nothing,
            // but their data must still be JSON (SPEC §4.4).
            _ => {
                parse_any(&event.data, what)?;
                Ok(None)
            }
        }
    }

    fn on_eof(&mut self) -> Result<Chunk, StreamError> {
        Err(StreamError::new(
            ErrorKind::Truncated,
            "the stream ended without a message_stop event",
        ))
    }
}

fn content_block_delta(object: &Object) -> Option<Chunk> {
    let delta = object.get("delta");
    let mut chunk = Chunk::default();

    match str_at(delta, "type") {
        Some("text_delta") => chunk.text = str_at(delta, "text").unwrap_or_default().to_owned(),
        Some("thinking_delta") => chunk.hidden_chars = chars_at(delta, "thinking"),
        Some("input_json_delta") => chunk.hidden_chars = chars_at(delta, "partial_json"),
        _ => return None,
    }

    Some(chunk)
}

const PROMPT_PARTS: [&str; 3] = [
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
];

impl Dialect {
    fn message_start(&mut self, object: &Object) -> Option<Chunk> {
        let usage = object
            .get("message")
            .and_then(|message| message.get("usage"));

        // Its output_tokens is a placeholder and is ignored (SPEC §6.1).
        let prompt = self.prompt_tokens(usage)?;
        Some(Chunk {
            usage: Some(UsageUpdate {
                prompt_tokens: Some(Some(prompt)),
                completion_tokens: None,
            }),
            ..Chunk::default()
        })
    }

    fn message_delta(&mut self, object: &Object) -> Option<Chunk> {
        let usage = object.get("usage");
        // A field that is present replaces, even when it is not a number (then
        // it reads as unknown); an absent field keeps the earlier value (BR-06).
        let completion = has(usage, "output_tokens").then(|| count_at(usage, "output_tokens"));
        let update = UsageUpdate {
            prompt_tokens: self.prompt_tokens(usage).map(Some),
            completion_tokens: completion,
        };
        let finish_reason = str_at(object.get("delta"), "stop_reason").map(normalize_stop_reason);

        Some(Chunk {
            finish_reason,
            usage: Some(update).filter(|update| !update.is_empty()),
            ..Chunk::default()
        })
    }

    /// Replaces the prompt parts `usage` carries as integers; returns their sum
    /// once `input_tokens` has been seen, or `None` when this report carried no
    /// part (then the earlier prompt count stands).
    fn prompt_tokens(&mut self, usage: Option<&Value>) -> Option<u64> {
        let mut carried = false;
        for (slot, name) in self.parts.iter_mut().zip(PROMPT_PARTS) {
            if let Some(count) = count_at(usage, name) {
                *slot = Some(count);
                carried = true;
            }
        }
        let input = self.parts[0].filter(|_| carried)?;
        let cached = self.parts[1..].iter().flatten();
        Some(cached.fold(input, |sum, part| sum.saturating_add(*part)))
    }
}

/// SPEC §6.2: Anthropic stop reasons in OpenAI's words.
fn normalize_stop_reason(reason: &str) -> String {
    let normalized = match reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    };
    normalized.to_owned()
}

fn stream_error(object: &Object) -> StreamError {
    let error = object.get("error");
    let kind = match str_at(error, "type") {
        Some("authentication_error" | "permission_error") => ErrorKind::Auth,
        Some("rate_limit_error") => ErrorKind::RateLimit,
        Some("invalid_request_error" | "not_found_error" | "request_too_large") => {
            ErrorKind::BadRequest
        }
        Some("overloaded_error") => ErrorKind::Overloaded,
        _ => ErrorKind::Server,
    };
    let message = str_at(error, "message")
        .map_or_else(|| Value::Object(object.clone()).to_string(), str::to_owned);

    StreamError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::http::Dialect as _;
    use super::*;

    fn frame(event: &str, data: &str) -> Result<Option<Chunk>, StreamError> {
        Dialect::default().on_frame(SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
        })
    }

    #[test]
    fn message_start_sets_the_prompt_with_cache_counts() {
        let data = r#"{"message":{"usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}"#;
        let usage = frame("message_start", data)
            .unwrap()
            .unwrap()
            .usage
            .unwrap();

        assert_eq!(usage.prompt_tokens, Some(Some(25)));
        assert_eq!(usage.completion_tokens, None);
    }

    #[test]
    fn a_prompt_without_an_integer_input_count_stays_unknown() {
        // SPEC §6.1: P is the sum only once input_tokens was seen as an integer.
        let data = r#"{"message":{"usage":{"input_tokens":null,"cache_read_input_tokens":5}}}"#;
        assert_eq!(frame("message_start", data).unwrap(), None);

        let data = r#"{"message":{"usage":{"output_tokens":1}}}"#;
        assert_eq!(frame("message_start", data).unwrap(), None);
    }

    #[test]
    fn a_present_but_odd_output_count_reads_as_unknown() {
        let data = r#"{"delta":{},"usage":{"output_tokens":"4"}}"#;
        let usage = frame("message_delta", data)
            .unwrap()
            .unwrap()
            .usage
            .unwrap();
        assert_eq!(usage.completion_tokens, Some(None));
    }

    #[test]
    fn message_delta_replaces_output_and_maps_the_stop_reason() {
        let data = r#"{"delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":4}}"#;
        let chunk = frame("message_delta", data).unwrap().unwrap();

        assert_eq!(chunk.finish_reason.as_deref(), Some("length"));
        assert_eq!(chunk.usage.unwrap().completion_tokens, Some(Some(4)));
        assert_eq!(chunk.usage.unwrap().prompt_tokens, None);
    }

    #[test]
    fn text_thinking_and_tool_json_count_signatures_do_not() {
        let text = frame(
            "content_block_delta",
            r#"{"delta":{"type":"text_delta","text":"Hi"}}"#,
        );
        let think = frame(
            "content_block_delta",
            r#"{"delta":{"type":"thinking_delta","thinking":"abc"}}"#,
        );
        let tool = frame(
            "content_block_delta",
            r#"{"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
        );
        let sign = frame(
            "content_block_delta",
            r#"{"delta":{"type":"signature_delta","signature":"zz"}}"#,
        );

        assert_eq!(text.unwrap().unwrap().text, "Hi");
        assert_eq!(think.unwrap().unwrap().hidden_chars, 3);
        assert_eq!(tool.unwrap().unwrap().hidden_chars, 2);
        assert_eq!(sign.unwrap(), None);
    }

    #[test]
    fn other_events_are_ignored_but_must_be_json() {
        assert_eq!(frame("ping", r#"{"type": "ping"}"#).unwrap(), None);
        assert_eq!(frame("brand_new", "[1, 2]").unwrap(), None);
        assert_eq!(frame("ping", "nope").unwrap_err().kind, ErrorKind::Protocol);
    }

    #[test]
    fn error_events_are_classified_by_type() {
        let data = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let error = frame("error", data).unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Overloaded, "Overloaded")
        );

        let data = r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#;
        assert_eq!(frame("error", data).unwrap_err().kind, ErrorKind::Server);
    }

    #[test]
    fn message_stop_ends_and_eof_is_truncated() {
        assert!(
            frame("message_stop", r#"{"type":"message_stop"   }"#)
                .unwrap()
                .unwrap()
                .terminal
        );
        assert_eq!(
            Dialect::default().on_eof().unwrap_err().kind,
            ErrorKind::Truncated
        );
    }

    #[test]
    fn message_delta_replaces_only_the_prompt_parts_it_carries() {
        let mut dialect = Dialect::default();
        let start = r#"{"message":{"usage":{"input_tokens":13,"cache_creation_input_tokens":211,"cache_read_input_tokens":1009}}}"#;
        let delta = r#"{"delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":29,"output_tokens":17}}"#;
        let event = |name: &str, data: &str| SseEvent {
            event: name.to_owned(),
            data: data.to_owned(),
        };

        dialect.on_frame(event("message_start", start)).unwrap();
        let chunk = dialect
            .on_frame(event("message_delta", delta))
            .unwrap()
            .unwrap();

        // 29 replaces 13; the cache parts stay: 29 + 211 + 1009.
        let usage = chunk.usage.unwrap();
        assert_eq!(usage.prompt_tokens, Some(Some(1249)));
        assert_eq!(usage.completion_tokens, Some(Some(17)));
    }
}
