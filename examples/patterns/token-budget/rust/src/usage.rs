//! Provider usage, normalized (SPEC §6.1), and the cost object (SPEC §6.3).

use serde::Serialize;

/// The counts a provider reported, normalized to one shape.
///
/// `None` means "not reported"; zero is only ever a count the provider sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt (input) tokens, cache reads and writes included.
    pub prompt_tokens: Option<u64>,
    /// Completion (output) tokens, reasoning included.
    pub completion_tokens: Option<u64>,
    /// `prompt_tokens + completion_tokens` when both are known.
    pub total_tokens: Option<u64>,
}

impl Usage {
    fn new(prompt_tokens: Option<u64>, completion_tokens: Option<u64>) -> Self {
        let total_tokens = match (prompt_tokens, completion_tokens) {
            (Some(prompt), Some(completion)) => prompt.checked_add(completion),
            _ => None,
        };

        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens,
        }
    }

    /// Applies a snapshot on top of the usage known so far.
    ///
    /// Providers send cumulative counts, so a field in the update replaces
    /// the old value and is never added to it (BR-03, BR-06).
    pub fn apply(current: Option<Usage>, update: &UsageUpdate) -> Option<Usage> {
        if update.is_empty() {
            return current;
        }

        let base = current.unwrap_or_default();
        let prompt = update.prompt_tokens.unwrap_or(base.prompt_tokens);
        let completion = update.completion_tokens.unwrap_or(base.completion_tokens);

        Some(Self::new(prompt, completion))
    }
}

/// A usage snapshot from one event: the outer `None` leaves a field as it
/// was, `Some(None)` records that the provider sent no usable number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageUpdate {
    /// The new prompt count, if this event carries one.
    pub prompt_tokens: Option<Option<u64>>,
    /// The new completion count, if this event carries one.
    pub completion_tokens: Option<Option<u64>>,
}

impl UsageUpdate {
    /// True when the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.prompt_tokens.is_none() && self.completion_tokens.is_none()
    }
}

/// Where the two counts of the cost come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// Both counts were reported by the provider.
    Provider,
    /// One count was reported, the other is the local estimate.
    Partial,
    /// Neither was reported; both are local estimates.
    Estimate,
    /// The request was rejected or never reached the provider: nothing generated.
    None,
}

/// The cost object of the result. This implementation has no price table, so
/// `usd` is always `None` and `note` says so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Where the counts come from.
    pub basis: CostBasis,
    /// The reported prompt count, else the estimate of the prompt.
    pub prompt_tokens: u64,
    /// The reported completion count, else `estimated_tokens`.
    pub completion_tokens: u64,
    /// The price in US dollars; `None` without a price table.
    pub usd: Option<f64>,
    /// Why `usd` is `None`.
    pub note: Option<String>,
}

const NO_PRICE_NOTE: &str = "the Rust implementation has no price table, so no price is computed";

impl Cost {
    /// The cost of a request that the provider rejected before any stream began.
    pub(crate) fn rejected() -> Self {
        Self {
            basis: CostBasis::None,
            prompt_tokens: 0,
            completion_tokens: 0,
            usd: None,
            note: Some(NO_PRICE_NOTE.to_owned()),
        }
    }

    /// The cost from the reported usage, falling back to local estimates.
    pub(crate) fn from_counts(usage: Option<&Usage>, prompt_estimate: u64, estimated: u64) -> Self {
        let prompt = usage.and_then(|u| u.prompt_tokens);
        let completion = usage.and_then(|u| u.completion_tokens);

        let basis = match (prompt, completion) {
            (Some(_), Some(_)) => CostBasis::Provider,
            (None, None) => CostBasis::Estimate,
            _ => CostBasis::Partial,
        };

        Self {
            basis,
            prompt_tokens: prompt.unwrap_or(prompt_estimate),
            completion_tokens: completion.unwrap_or(estimated),
            usd: None,
            note: Some(NO_PRICE_NOTE.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(prompt: Option<Option<u64>>, completion: Option<Option<u64>>) -> UsageUpdate {
        UsageUpdate {
            prompt_tokens: prompt,
            completion_tokens: completion,
        }
    }

    #[test]
    fn snapshots_replace_and_are_never_added() {
        let first = Usage::apply(None, &update(Some(Some(5)), Some(Some(1))));
        let second = Usage::apply(first, &update(Some(Some(5)), Some(Some(2))));

        assert_eq!(second, Some(Usage::new(Some(5), Some(2))));
        assert_eq!(second.and_then(|u| u.total_tokens), Some(7));
    }

    #[test]
    fn absent_fields_keep_their_value() {
        let start = Usage::apply(None, &update(Some(Some(20)), None));
        let after = Usage::apply(start, &update(None, Some(Some(4))));

        assert_eq!(after, Some(Usage::new(Some(20), Some(4))));
    }

    #[test]
    fn an_empty_update_reports_nothing() {
        assert_eq!(Usage::apply(None, &UsageUpdate::default()), None);
    }

    #[test]
    fn total_needs_both_counts() {
        let usage = Usage::apply(None, &update(Some(Some(3)), Some(None)));
        assert_eq!(usage.and_then(|u| u.total_tokens), None);
    }

    #[test]
    fn basis_follows_what_was_reported() {
        let both = Usage::new(Some(9), Some(2));
        let one = Usage::new(Some(9), None);

        assert_eq!(
            Cost::from_counts(Some(&both), 3, 4).basis,
            CostBasis::Provider
        );
        assert_eq!(
            Cost::from_counts(Some(&one), 3, 4).basis,
            CostBasis::Partial
        );
        assert_eq!(Cost::from_counts(None, 3, 4).basis, CostBasis::Estimate);

        let partial = Cost::from_counts(Some(&one), 3, 4);
        assert_eq!((partial.prompt_tokens, partial.completion_tokens), (9, 4));
    }
}
