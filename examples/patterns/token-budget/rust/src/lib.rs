//! Stream an LLM answer under a token budget.
//!
//! The crate estimates tokens while the answer streams in and, the moment the
//! estimate reaches the budget, drops the upstream HTTP response so the
//! connection closes at once. The partial answer comes back together with the
//! estimate and a `budget_reached` flag.
//!
//! ```no_run
//! use token_budget::{stream_with_budget, Provider, Request};
//!
//! # async fn demo() -> Result<(), token_budget::Error> {
//! let provider = Provider::loopback();
//! let request = Request::new("loopback-1", "Why do streams need a budget?");
//! let result = stream_with_budget(&provider, &request, 100).await?;
//! println!("{} ({} tokens, cut: {})", result.content, result.estimated_tokens, result.budget_reached);
//! # Ok(())
//! # }
//! ```
//!
//! The behaviour follows the token-budget contract, version 1
//! (`conformance/SPEC.md` in the repository): counting code points, the
//! one-division rounding rule, the stop rule and the classification of how a
//! stream ends.

mod budget;
pub mod decode;
mod error;
mod estimate;
mod observe;
mod provider;
mod usage;

pub use budget::{stream_with_budget, BudgetResult, End, TokenBudget};
pub use error::{ConfigError, Error, ErrorKind, StreamError};
pub use estimate::{code_points, ratio_estimate, DEFAULT_CHARS_PER_TOKEN, ESTIMATE_CAP};
pub use observe::{Observer, TraceEvent};
pub use provider::{Chunk, ChunkStream, Provider, ProviderKind, Request};
pub use usage::{Cost, CostBasis, Usage, UsageUpdate};

/// The version of the contract this crate implements (SPEC.md, `contract_version`).
pub const CONTRACT_VERSION: u32 = 1;
