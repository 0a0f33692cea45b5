//! Ollama's native chat API: NDJSON, ended by a line with `"done": true`.

use serde_json::{json, Value};

use super::http::{self, Exchange};
use super::json::{chars_at, count_at, has, parse_object, str_at};
use super::{Chunk, Request};
use crate::decode::NdjsonLine;
use crate::error::{ErrorKind, StreamError};
use crate::usage::UsageUpdate;

pub(crate) fn exchange(
    base_url: &str,
    key: Option<&str>,
    request: &Request,
    max_tokens: u32,
) -> Exchange {
    let body = json!({
        "model": request.model,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": true,
        "options": {"num_predict": max_tokens},
    });

    let mut headers = Vec::new();
    if let Some(key) = key {
        headers.push(("authorization".to_owned(), format!("Bearer {key}")));
    }

    Exchange {
        url: format!("{base_url}/api/chat"),
        headers,
        body,
        expects_sse: false,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Dialect;

impl http::Dialect<NdjsonLine> for Dialect {
    fn on_frame(&mut self, line: NdjsonLine) -> Result<Option<Chunk>, StreamError> {
        let object = match parse_object(&line.text, "an Ollama line") {
            Ok(object) => object,
            // A fragment cut off by the end of the body is a truncation, not
            // a malformed line (SPEC §4.2).
            Err(_) if !line.terminated => {
                return Err(truncated("the body ended inside an unfinished line"))
            }
            Err(error) => return Err(error),
        };

        if let Some(error) = object.get("error").filter(|error| !error.is_null()) {
            return Err(stream_error(error));
        }

        let message = object.get("message");
        let mut chunk = Chunk {
            text: str_at(message, "content").unwrap_or_default().to_owned(),
            hidden_chars: chars_at(message, "thinking"),
            ..Chunk::default()
        };

        // The done line may still carry text; it counts like any other.
        if object.get("done") == Some(&Value::Bool(true)) {
            let line = Some(Value::Object(object));
            chunk.terminal = true;
            chunk.finish_reason = str_at(line.as_ref(), "done_reason").map(str::to_owned);
            chunk.usage = Some(UsageUpdate {
                prompt_tokens: Some(omitted_is_zero(line.as_ref(), "prompt_eval_count")),
                completion_tokens: Some(omitted_is_zero(line.as_ref(), "eval_count")),
            });
        }

        Ok(Some(chunk))
    }

    fn on_eof(&mut self) -> Result<Chunk, StreamError> {
        Err(truncated(
            "the stream ended without a line with \"done\": true",
        ))
    }
}

/// Ollama omits zero counts, so a missing field is a real 0; a field that is
/// there but not an integer is unknown.
fn omitted_is_zero(line: Option<&Value>, key: &str) -> Option<u64> {
    if has(line, key) {
        count_at(line, key)
    } else {
        Some(0)
    }
}

fn truncated(message: &str) -> StreamError {
    StreamError::new(ErrorKind::Truncated, message)
}

fn stream_error(error: &Value) -> StreamError {
    let message = match error.as_str() {
        Some(text) => text.to_owned(),
        None => str_at(Some(error), "message").map_or_else(|| error.to_string(), str::to_owned),
    };
    StreamError::new(ErrorKind::Server, message)
}

#[cfg(test)]
mod tests {
    use super::http::Dialect as _;
    use super::*;

    fn line(text: &str, terminated: bool) -> Result<Option<Chunk>, StreamError> {
        Dialect.on_frame(NdjsonLine {
            text: text.to_owned(),
            terminated,
        })
    }

    #[test]
    fn the_done_line_counts_text_and_reports_usage() {
        let text = r#"{"message":{"content":"!","thinking":"hm"},"done":true,"done_reason":"stop","eval_count":2}"#;
        let chunk = line(text, false).unwrap().unwrap();

        assert!(chunk.terminal);
        assert_eq!((chunk.text.as_str(), chunk.hidden_chars), ("!", 2));
        assert_eq!(chunk.finish_reason.as_deref(), Some("stop"));
        assert_eq!(chunk.usage.unwrap().prompt_tokens, Some(Some(0)));
        assert_eq!(chunk.usage.unwrap().completion_tokens, Some(Some(2)));
    }

    #[test]
    fn missing_counts_are_zero_but_odd_ones_are_unknown() {
        let text = r#"{"message":{"content":""},"done":true,"prompt_eval_count":"9"}"#;
        let usage = line(text, true).unwrap().unwrap().usage.unwrap();

        assert_eq!(usage.prompt_tokens, Some(None));
        assert_eq!(usage.completion_tokens, Some(Some(0)));
    }

    #[test]
    fn error_lines_are_server_errors() {
        let error = line(r#"{"error":"model runner stopped unexpectedly"}"#, true).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Server);
        assert_eq!(error.message, "model runner stopped unexpectedly");
    }

    #[test]
    fn a_bad_line_is_protocol_but_a_bad_final_fragment_is_truncated() {
        assert_eq!(line("{\"mess", true).unwrap_err().kind, ErrorKind::Protocol);
        assert_eq!(
            line("{\"mess", false).unwrap_err().kind,
            ErrorKind::Truncated
        );
    }
}
