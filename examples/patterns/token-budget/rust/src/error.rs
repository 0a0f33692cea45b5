//! The error tree: configuration problems found before anything is sent, and
//! stream errors that end a run (SPEC §8).

use std::fmt;

use serde::Serialize;

use crate::budget::BudgetResult;

/// The longest error message the result may carry, in code points.
const MAX_MESSAGE_CHARS: usize = 500;

/// What went wrong with a request or a stream, in the words of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The key was refused (401, 403, or an authentication error event).
    Auth,
    /// A rate limit was hit (429, or a rate-limit error event).
    RateLimit,
    /// The provider rejected the request as malformed (other 4xx).
    BadRequest,
    /// The provider is overloaded (503, 529, or an overload event).
    Overloaded,
    /// Any other provider failure, before or during the stream.
    Server,
    /// No byte arrived within the timeout, while connecting or reading.
    Timeout,
    /// The server could not be reached, or the connection broke mid-body.
    Connection,
    /// The bytes were not the SSE or NDJSON the provider should send.
    Protocol,
    /// The body ended cleanly without the provider's terminal marker.
    Truncated,
}

impl ErrorKind {
    /// The kind of a pre-stream HTTP error status (SPEC §8, first column).
    pub fn from_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Auth,
            429 => Self::RateLimit,
            503 | 529 => Self::Overloaded,
            400..=499 => Self::BadRequest,
            _ => Self::Server,
        }
    }

    /// The snake_case name used in the result.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::RateLimit => "rate_limit",
            Self::BadRequest => "bad_request",
            Self::Overloaded => "overloaded",
            Self::Server => "server",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::Protocol => "protocol",
            Self::Truncated => "truncated",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that ended a stream, shaped like the result's `error` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamError {
    /// The classification of SPEC §8.
    pub kind: ErrorKind,
    /// One line, at most 500 code points, never empty.
    pub message: String,
    /// The HTTP status of an error response; `None` for everything else.
    pub status: Option<u16>,
    /// The `Retry-After` header in seconds, when it was a non-negative integer.
    pub retry_after: Option<u64>,
}

impl StreamError {
    /// Builds an error, folding the message onto one bounded line.
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            message: one_line(message.as_ref(), kind),
            status: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_status(mut self, status: u16, retry_after: Option<u64>) -> Self {
        self.status = Some(status);
        self.retry_after = retry_after;
        self
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} error (HTTP {status}): {}", self.kind, self.message),
            None => write!(f, "{} error: {}", self.kind, self.message),
        }
    }
}

impl std::error::Error for StreamError {}

/// Settings that cannot work; nothing was sent to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What is wrong and how to fix it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The error of [`crate::stream_with_budget`].
#[derive(Debug)]
pub enum Error {
    /// The settings are unusable; nothing was sent.
    Config(ConfigError),
    /// The stream failed or ended without its terminal marker. The partial
    /// result (content, counts, usage) is kept: partial content is never lost.
    Stream(Box<BudgetResult>),
}

impl Error {
    /// The stream error, when the failure happened on the wire.
    pub fn stream_error(&self) -> Option<&StreamError> {
        match self {
            Self::Config(_) => None,
            Self::Stream(result) => result.error.as_ref(),
        }
    }

    /// The partial result, when the failure happened on the wire.
    pub fn partial(&self) -> Option<&BudgetResult> {
        match self {
            Self::Config(_) => None,
            Self::Stream(result) => Some(result),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(error) => error.fmt(f),
            Self::Stream(result) => match &result.error {
                Some(error) => error.fmt(f),
                None => write!(f, "the stream ended as {}", result.end.as_str()),
            },
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

/// Folds a message onto one line of at most 500 code points (SPEC §8).
fn one_line(message: &str, kind: ErrorKind) -> String {
    let flat = message.replace("\r\n", " ").replace(['\r', '\n'], " ");
    let trimmed = flat.trim();

    // The schema wants a non-empty message; an empty provider message still
    // has to tell the user something.
    if trimmed.is_empty() {
        return format!("{kind} error without a message from the provider");
    }

    trimmed.chars().take(MAX_MESSAGE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_kinds_follow_the_spec_table() {
        assert_eq!(ErrorKind::from_status(401), ErrorKind::Auth);
        assert_eq!(ErrorKind::from_status(403), ErrorKind::Auth);
        assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimit);
        assert_eq!(ErrorKind::from_status(404), ErrorKind::BadRequest);
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Overloaded);
        assert_eq!(ErrorKind::from_status(529), ErrorKind::Overloaded);
        assert_eq!(ErrorKind::from_status(500), ErrorKind::Server);
        assert_eq!(ErrorKind::from_status(302), ErrorKind::Server);
    }

    #[test]
    fn messages_become_one_bounded_line() {
        let error = StreamError::new(ErrorKind::Server, "first\r\nsecond\nthird\rfourth");
        assert_eq!(error.message, "first second third fourth");

        let long = "é".repeat(700);
        let error = StreamError::new(ErrorKind::Server, long);
        assert_eq!(error.message.chars().count(), 500);
    }

    #[test]
    fn an_empty_message_is_replaced() {
        let error = StreamError::new(ErrorKind::Protocol, " \n ");
        assert!(error.message.starts_with("protocol error"));
    }
}
