//! Small, forgiving readers for provider JSON: a field of the wrong type
//! counts as absent instead of failing the stream.

use serde_json::{Map, Value};

use crate::error::{ErrorKind, StreamError};

pub(crate) type Object = Map<String, Value>;

/// Parses JSON the way the contract reads it: a `\uD800`-style escape
/// without its other half becomes U+FFFD (SPEC §2), where serde_json would
/// refuse the whole document.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(error) => match replace_lone_surrogates(text) {
            Some(repaired) => serde_json::from_str(&repaired),
            None => Err(error),
        },
    }
}

/// The text with every unpaired surrogate escape replaced by `\ufffd`, or
/// `None` when there is none (so the first parse error stands).
fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut repaired = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut at = 0;

    while at < bytes.len() {
        if bytes[at] != b'\\' {
            repaired.push(bytes[at]);
            at += 1;
            continue;
        }

        match unicode_escape(bytes, at) {
            // A high surrogate followed by a low one is a valid pair.
            Some(0xD800..=0xDBFF)
                if matches!(unicode_escape(bytes, at + 6), Some(0xDC00..=0xDFFF)) =>
            {
                repaired.extend_from_slice(&bytes[at..at + 12]);
                at += 12;
            }
            Some(0xD800..=0xDFFF) => {
                repaired.extend_from_slice(b"\\ufffd");
                changed = true;
                at += 6;
            }
            // Any other escape is copied whole, so `\\u` is never misread.
            _ => {
                let end = (at + 2).min(bytes.len());
                repaired.extend_from_slice(&bytes[at..end]);
                at = end;
            }
        }
    }

    // Only ASCII escapes were replaced, so the bytes are still UTF-8.
    changed.then(|| String::from_utf8(repaired).ok()).flatten()
}

/// The code unit of a `\uXXXX` escape starting at `at`, if there is one.
fn unicode_escape(bytes: &[u8], at: usize) -> Option<u32> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }

    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

/// Parses a frame that must be a JSON object, else a `protocol` error.
pub(crate) fn parse_object(text: &str, what: &str) -> Result<Object, StreamError> {
    match parse(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(protocol(what, "is JSON but not an object", text)),
        Err(_) => Err(protocol(what, "is not valid JSON", text)),
    }
}

/// Parses a frame that must be JSON of any shape, else a `protocol` error.
pub(crate) fn parse_any(text: &str, what: &str) -> Result<Value, StreamError> {
    parse(text).map_err(|_| protocol(what, "is not valid JSON", text))
}

fn protocol(what: &str, problem: &str, text: &str) -> StreamError {
    let preview: String = text.chars().take(120).collect();
    StreamError::new(ErrorKind::Protocol, format!("{what} {problem}: {preview}"))
}

/// A string field, if it is one.
pub(crate) fn str_at<'a>(value: Option<&'a Value>, key: &str) -> Option<&'a str> {
    value?.get(key)?.as_str()
}

/// A non-negative integer field, if it is one.
pub(crate) fn count_at(value: Option<&Value>, key: &str) -> Option<u64> {
    value?.get(key)?.as_u64()
}

/// Whether the field is there at all, whatever its value.
pub(crate) fn has(value: Option<&Value>, key: &str) -> bool {
    value.and_then(|v| v.get(key)).is_some()
}

/// JSON truthiness as the providers' own SDKs judge an `error` member.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64() != Some(0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// Code points of a string field, `0` when absent or not a string.
pub(crate) fn chars_at(value: Option<&Value>, key: &str) -> u64 {
    str_at(value, key).map_or(0, crate::estimate::code_points)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truthiness_matches_python() {
        assert!(!truthy(&json!(null)));
        assert!(!truthy(&json!({})));
        assert!(!truthy(&json!("")));
        assert!(!truthy(&json!(0)));
        assert!(truthy(&json!({"message": "x"})));
        assert!(truthy(&json!("boom")));
    }

    #[test]
    fn wrong_types_count_as_absent() {
        let value = json!({"n": "5", "m": -1, "k": 2.5, "ok": 7, "s": 3});
        assert_eq!(count_at(Some(&value), "n"), None);
        assert_eq!(count_at(Some(&value), "m"), None);
        assert_eq!(count_at(Some(&value), "k"), None);
        assert_eq!(count_at(Some(&value), "ok"), Some(7));
        assert_eq!(str_at(Some(&value), "s"), None);
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let parsed = parse(r#"["\ud800", "\udc00x", "\ud83d\ude00", "\ud800\u0041", "\\ud800"]"#);
        let expected = json!(["\u{FFFD}", "\u{FFFD}x", "😀", "\u{FFFD}A", "\\ud800"]);

        assert_eq!(parsed.unwrap(), expected);
    }

    #[test]
    fn broken_json_stays_broken() {
        assert!(parse(r#"{"a": "\ud800"#).is_err());
        assert!(parse("{").is_err());
    }

    #[test]
    fn frames_must_be_objects() {
        assert_eq!(
            parse_object("[1]", "x").unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            parse_object("{", "x").unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert!(parse_object("{\"a\": 1}", "x").is_ok());
    }
}
