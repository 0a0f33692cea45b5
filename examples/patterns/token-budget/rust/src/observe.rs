//! A hook to watch a run without the library printing anything.
//!
//! The binary uses it for human mode (text as it arrives), `--verbose` (the
//! raw HTTP exchange) and `--step` (an explanation per step). Credentials are
//! already replaced by `[REDACTED]` in every header the hook sees.

use crate::budget::End;

/// The placeholder that replaces every credential value in traces.
pub const REDACTED: &str = "[REDACTED]";

/// One thing that happened during a run, in order.
#[derive(Debug, Clone, Copy)]
pub enum TraceEvent<'a> {
    /// The request is ready to send. Credential headers are redacted.
    RequestBuilt {
        /// Always `POST`.
        method: &'a str,
        /// The full URL.
        url: &'a str,
        /// The headers this crate sets, in order.
        headers: &'a [(String, String)],
        /// The JSON body.
        body: &'a str,
    },
    /// The response headers arrived.
    ResponseStarted {
        /// The HTTP status code.
        status: u16,
        /// Every response header.
        headers: &'a [(String, String)],
    },
    /// One raw line of the response body, as the decoder split it.
    RawLine(&'a str),
    /// A delta that added counted characters was processed and compared
    /// with the budget.
    BudgetCheck {
        /// The visible text of this delta.
        text: &'a str,
        /// The counted characters so far.
        counted_chars: u64,
        /// The estimate so far.
        estimated_tokens: u64,
        /// The budget in force.
        budget: u64,
    },
    /// The run is over; the upstream connection is already closed.
    Finished {
        /// How the stream ended.
        end: End,
    },
}

/// Receives [`TraceEvent`]s while a run progresses.
pub trait Observer: Send + Sync {
    /// Called synchronously, in order; keep it quick.
    fn on_event(&self, event: &TraceEvent<'_>);
}

/// Replaces the value of headers that carry credentials.
pub(crate) fn redact_header(name: &str, value: &str) -> String {
    const SECRET_HEADERS: [&str; 3] = ["authorization", "x-api-key", "api-key"];

    if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        REDACTED.to_owned()
    } else {
        value.to_owned()
    }
}
