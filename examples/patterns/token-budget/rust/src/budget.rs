//! The budget loop: count each chunk as it arrives, stop at the crossing
//! chunk, and close the upstream connection before anything else is read.

use std::sync::Arc;

use futures::StreamExt;

use crate::error::{ConfigError, Error, ErrorKind, StreamError};
use crate::estimate::{code_points, ratio_estimate, DEFAULT_CHARS_PER_TOKEN};
use crate::observe::{Observer, TraceEvent};
use crate::provider::{Chunk, ChunkStream, Provider, ProviderKind, Request};
use crate::usage::{Cost, Usage};

/// How a stream ended (SPEC §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The terminal marker arrived before the budget was reached.
    Complete,
    /// The budget was reached; the connection was closed at that chunk.
    Budget,
    /// The body ended cleanly without the terminal marker.
    Truncated,
    /// A provider or transport error, before or during the stream.
    Error,
}

impl End {
    /// The name used in the result.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Budget => "budget",
            Self::Truncated => "truncated",
            Self::Error => "error",
        }
    }

    /// `complete` and `budget` are successes; the other two lose the tail.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Complete | Self::Budget)
    }
}

/// Everything a run produced, including the partial answer of a failed one.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetResult {
    /// The provider family (never the `claude` alias).
    pub provider: ProviderKind,
    /// The model sent.
    pub model: String,
    /// Visible text of every chunk processed, in order.
    pub content: String,
    /// Code points of all visible and hidden text processed.
    pub counted_chars: u64,
    /// The ratio estimate of `counted_chars`.
    pub estimated_tokens: u64,
    /// The budget in force.
    pub budget: u32,
    /// True exactly when `end` is [`End::Budget`].
    pub budget_reached: bool,
    /// The last finish reason processed, normalized.
    pub finish_reason: Option<String>,
    /// How the stream ended.
    pub end: End,
    /// What the provider reported, if anything.
    pub usage: Option<Usage>,
    /// Chunks that added at least one counted character.
    pub chunks: u64,
    /// Counts for billing and where they come from.
    pub cost: Cost,
    /// Set exactly when `end` is `Error` or `Truncated`.
    pub error: Option<StreamError>,
}

/// A configured budget: the limit, the estimator ratio and an optional observer.
#[derive(Clone)]
pub struct TokenBudget {
    budget: u32,
    chars_per_token: f64,
    observer: Option<Arc<dyn Observer>>,
}

impl std::fmt::Debug for TokenBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBudget")
            .field("budget", &self.budget)
            .field("chars_per_token", &self.chars_per_token)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl TokenBudget {
    /// A budget of `budget` estimated tokens, at least 1.
    pub fn new(budget: u32) -> Result<Self, ConfigError> {
        if budget == 0 {
            return Err(ConfigError::new("the budget must be at least 1 token"));
        }

        Ok(Self {
            budget,
            chars_per_token: DEFAULT_CHARS_PER_TOKEN,
            observer: None,
        })
    }

    /// Sets the estimator's divisor; it must be finite and greater than 0.
    pub fn with_chars_per_token(mut self, chars_per_token: f64) -> Result<Self, ConfigError> {
        if !(chars_per_token.is_finite() && chars_per_token > 0.0) {
            return Err(ConfigError::new(format!(
                "chars-per-token must be a finite number greater than 0, got {chars_per_token}"
            )));
        }

        self.chars_per_token = chars_per_token;
        Ok(self)
    }

    /// Reports every step of the run to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs one request under the budget. Never fails: errors are part of
    /// the result, next to the partial content.
    pub async fn run(&self, provider: &Provider, request: &Request) -> BudgetResult {
        let max_tokens = request.max_tokens.unwrap_or(self.budget);
        let mut tally = Tally::new(self);

        let outcome = match provider
            .stream(request, max_tokens, self.observer.clone())
            .await
        {
            Ok(stream) => {
                let outcome = self.consume(stream, &mut tally).await;
                let_connection_close().await;
                outcome
            }
            Err(error) => {
                // Rejected by status or never reached: nothing was generated.
                let rejected = error.status.is_some()
                    || matches!(error.kind, ErrorKind::Connection | ErrorKind::Timeout);
                Outcome {
                    end: End::Error,
                    error: Some(error),
                    rejected,
                }
            }
        };

        // The stream is dropped by now, so the connection is already closed.
        if let Some(observer) = &self.observer {
            observer.on_event(&TraceEvent::Finished { end: outcome.end });
        }
        tally.into_result(provider.kind(), request, outcome)
    }

    /// Reads chunks until the budget, the terminal marker or an error. The
    /// stream is owned here and dropped on return: that drop is the cancel.
    async fn consume(&self, mut stream: ChunkStream, tally: &mut Tally) -> Outcome {
        while let Some(item) = stream.next().await {
            let chunk = match item {
                Ok(chunk) => chunk,
                Err(error) => return Outcome::failed(error),
            };

            // The budget is checked before the marker: a crossing chunk wins
            // even when it is also the last one (SPEC §4.2).
            if tally.add(&chunk) {
                log::debug!(
                    "budget reached after {} chunks; closing the stream",
                    tally.chunks
                );
                return Outcome::ended(End::Budget);
            }
            if chunk.terminal {
                return Outcome::ended(End::Complete);
            }
        }

        // Providers report a missing marker as an error; this is a fallback
        // for streams that end quietly anyway.
        Outcome::failed(StreamError::new(
            ErrorKind::Truncated,
            "the stream ended without its terminal marker",
        ))
    }
}

/// Lets the HTTP connection task close the socket before anything else runs.
///
/// Dropping the response only wakes hyper's connection task, which then shuts
/// the socket down; on a single-threaded runtime it gets to run only when this
/// task yields. SPEC §4.3 wants the connection closed before the result is
/// written, so yield a few times here instead of leaving it to the next await.
async fn let_connection_close() {
    for _ in 0..CLOSE_YIELDS {
        tokio::task::yield_now().await;
    }
}

/// Enough turns for the connection task to notice the dropped body and shut
/// the socket down; checked with strace: shutdown and close come before the
/// write of the result.
const CLOSE_YIELDS: usize = 4;

/// Runs `request` under a budget of `budget` estimated tokens.
///
/// `Ok` when the answer completed or the budget cut it; an error carries the
/// partial result, so no content is lost.
pub async fn stream_with_budget(
    provider: &Provider,
    request: &Request,
    budget: u32,
) -> Result<BudgetResult, Error> {
    let result = TokenBudget::new(budget)?.run(provider, request).await;

    if result.end.is_success() {
        Ok(result)
    } else {
        Err(Error::Stream(Box::new(result)))
    }
}

struct Outcome {
    end: End,
    error: Option<StreamError>,
    rejected: bool,
}

impl Outcome {
    fn ended(end: End) -> Self {
        Self {
            end,
            error: None,
            rejected: false,
        }
    }

    fn failed(error: StreamError) -> Self {
        let end = if error.kind == ErrorKind::Truncated {
            End::Truncated
        } else {
            End::Error
        };

        Self {
            end,
            error: Some(error),
            rejected: false,
        }
    }
}

/// The running counts of one run.
struct Tally {
    budget: u32,
    chars_per_token: f64,
    observer: Option<Arc<dyn Observer>>,
    content: String,
    counted_chars: u64,
    estimated_tokens: u64,
    chunks: u64,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl Tally {
    fn new(settings: &TokenBudget) -> Self {
        Self {
            budget: settings.budget,
            chars_per_token: settings.chars_per_token,
            observer: settings.observer.clone(),
            content: String::new(),
            counted_chars: 0,
            estimated_tokens: 0,
            chunks: 0,
            finish_reason: None,
            usage: None,
        }
    }

    /// Processes one chunk as a whole; true when the budget is reached at it.
    fn add(&mut self, chunk: &Chunk) -> bool {
        if let Some(update) = &chunk.usage {
            self.usage = Usage::apply(self.usage, update);
        }
        if let Some(reason) = &chunk.finish_reason {
            self.finish_reason = Some(reason.clone());
        }

        let added = code_points(&chunk.text) + chunk.hidden_chars;
        self.content.push_str(&chunk.text);

        // A chunk without text never triggers the comparison (SPEC §3).
        if added == 0 {
            return false;
        }

        self.counted_chars += added;
        self.chunks += 1;
        self.estimated_tokens = ratio_estimate(self.counted_chars, self.chars_per_token);

        if let Some(observer) = &self.observer {
            observer.on_event(&TraceEvent::BudgetCheck {
                text: &chunk.text,
                counted_chars: self.counted_chars,
                estimated_tokens: self.estimated_tokens,
                budget: u64::from(self.budget),
            });
        }

        self.estimated_tokens >= u64::from(self.budget)
    }

    fn into_result(
        self,
        provider: ProviderKind,
        request: &Request,
        outcome: Outcome,
    ) -> BudgetResult {
        let cost = if outcome.rejected {
            Cost::rejected()
        } else {
            let prompt_estimate =
                ratio_estimate(code_points(&request.prompt), self.chars_per_token);
            Cost::from_counts(self.usage.as_ref(), prompt_estimate, self.estimated_tokens)
        };

        BudgetResult {
            provider,
            model: request.model.clone(),
            content: self.content,
            counted_chars: self.counted_chars,
            estimated_tokens: self.estimated_tokens,
            budget: self.budget,
            budget_reached: outcome.end == End::Budget,
            finish_reason: self.finish_reason,
            end: outcome.end,
            usage: self.usage,
            chunks: self.chunks,
            cost,
            error: outcome.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::stream;

    use super::*;
    use crate::usage::CostBasis;

    fn text(piece: &str) -> Result<Chunk, StreamError> {
        Ok(Chunk {
            text: piece.to_owned(),
            ..Chunk::default()
        })
    }

    async fn run(budget: u32, items: Vec<Result<Chunk, StreamError>>) -> (Outcome, Tally) {
        let settings = TokenBudget::new(budget).unwrap();
        let mut tally = Tally::new(&settings);
        let outcome = settings
            .consume(Box::pin(stream::iter(items)), &mut tally)
            .await;
        (outcome, tally)
    }

    #[tokio::test]
    async fn stops_at_the_crossing_chunk_and_keeps_it_whole() {
        let items = vec![
            text("abcd"),
            text("efghij"),
            text("never read"),
            Ok(Chunk::terminal()),
        ];
        let (outcome, tally) = run(2, items).await;

        assert_eq!(outcome.end, End::Budget);
        assert_eq!(tally.content, "abcdefghij");
        assert_eq!(
            (tally.counted_chars, tally.estimated_tokens, tally.chunks),
            (10, 3, 2)
        );
    }

    #[tokio::test]
    async fn empty_chunks_never_trigger_the_check() {
        let items = vec![text(""), text(""), Ok(Chunk::terminal())];
        let (outcome, tally) = run(1, items).await;

        assert_eq!(outcome.end, End::Complete);
        assert_eq!(tally.chunks, 0);
    }

    #[tokio::test]
    async fn the_budget_wins_over_a_terminal_chunk_with_text() {
        let last = Chunk {
            text: "abcdefgh".to_owned(),
            terminal: true,
            ..Chunk::default()
        };
        let (outcome, _) = run(2, vec![Ok(last)]).await;

        assert_eq!(outcome.end, End::Budget);
    }

    #[tokio::test]
    async fn hidden_text_counts_toward_the_budget() {
        let thinking = Chunk {
            hidden_chars: 8,
            ..Chunk::default()
        };
        let (outcome, tally) = run(2, vec![Ok(thinking), text("late")]).await;

        assert_eq!(outcome.end, End::Budget);
        assert_eq!(tally.content, "");
    }

    #[tokio::test]
    async fn an_error_keeps_the_partial_content() {
        let broken = StreamError::new(ErrorKind::Connection, "reset");
        let (outcome, tally) = run(100, vec![text("Half"), Err(broken)]).await;

        assert_eq!(outcome.end, End::Error);
        assert_eq!(tally.content, "Half");
        assert_eq!(outcome.error.unwrap().kind, ErrorKind::Connection);
    }

    #[tokio::test]
    async fn a_truncation_error_ends_as_truncated() {
        let missing = StreamError::new(ErrorKind::Truncated, "no marker");
        let (outcome, _) = run(100, vec![text("x"), Err(missing)]).await;

        assert_eq!(outcome.end, End::Truncated);
    }

    #[tokio::test]
    async fn the_loopback_completes_or_stops_at_the_budget() {
        let provider = Provider::loopback();
        let request = Request::new("loopback-1", "why?").with_max_tokens(10_000);

        let complete = stream_with_budget(&provider, &request, 10_000)
            .await
            .unwrap();
        assert_eq!(complete.end, End::Complete);
        assert_eq!(complete.cost.basis, CostBasis::Provider);

        let cut = stream_with_budget(&provider, &request, 10).await.unwrap();
        assert!(cut.budget_reached);
        assert!(cut.estimated_tokens >= 10);
        assert!(complete.content.starts_with(&cut.content));
        assert_eq!(cut.cost.basis, CostBasis::Estimate);
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(TokenBudget::new(0).is_err());
        assert!(TokenBudget::new(1)
            .unwrap()
            .with_chars_per_token(0.0)
            .is_err());
        assert!(TokenBudget::new(1)
            .unwrap()
            .with_chars_per_token(f64::NAN)
            .is_err());
    }
}
