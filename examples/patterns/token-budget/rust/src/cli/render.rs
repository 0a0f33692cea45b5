//! What the binary prints: the `--json` result (SPEC §6), the human summary
//! (SPEC §10), the `--describe` object (SPEC §7) and the failure line (SPEC §8).

use serde::Serialize;
use token_budget::{
    BudgetResult, Cost, CostBasis, ProviderKind, StreamError, Usage, CONTRACT_VERSION,
};

/// The name in `--describe` and in every result.
pub(crate) const IMPLEMENTATION: &str = "rust";

#[derive(Serialize)]
struct Describe {
    contract_version: u32,
    name: &'static str,
    language: &'static str,
    version: &'static str,
    providers: Vec<&'static str>,
    capabilities: [&'static str; 3],
}

pub(crate) fn describe_json() -> String {
    let describe = Describe {
        contract_version: CONTRACT_VERSION,
        name: IMPLEMENTATION,
        language: "rust",
        version: env!("CARGO_PKG_VERSION"),
        providers: ProviderKind::ALL.iter().map(|kind| kind.name()).collect(),
        capabilities: ["linger", "verbose", "step"],
    };

    serde_json::to_string(&describe).unwrap_or_default()
}

/// The result object, fields in the schema's order.
#[derive(Serialize)]
struct JsonResult<'a> {
    contract_version: u32,
    case_id: Option<&'a str>,
    implementation: &'static str,
    provider: &'static str,
    model: &'a str,
    content: &'a str,
    counted_chars: u64,
    estimated_tokens: u64,
    estimator: &'static str,
    budget: u32,
    budget_reached: bool,
    finish_reason: Option<&'a str>,
    end: &'static str,
    usage: Option<&'a Usage>,
    chunks: u64,
    cost: &'a Cost,
    error: Option<StreamError>,
}

pub(crate) fn result_json(
    result: &BudgetResult,
    case_id: Option<&str>,
    secrets: &[String],
) -> String {
    let error = result.error.clone().map(|mut error| {
        error.message = redact(&error.message, secrets);
        error
    });

    let json = JsonResult {
        contract_version: CONTRACT_VERSION,
        case_id,
        implementation: IMPLEMENTATION,
        provider: result.provider.name(),
        model: &result.model,
        // The provider's text is never altered, not even to hide a key it
        // echoed back (SPEC §9); everything this program writes is redacted.
        content: &result.content,
        counted_chars: result.counted_chars,
        estimated_tokens: result.estimated_tokens,
        estimator: "ratio",
        budget: result.budget,
        budget_reached: result.budget_reached,
        finish_reason: result.finish_reason.as_deref(),
        end: result.end.as_str(),
        usage: result.usage.as_ref(),
        chunks: result.chunks,
        cost: &result.cost,
        error,
    };

    serde_json::to_string(&json).unwrap_or_default()
}

/// The one line of SPEC §10: estimate, budget, cut or not, usage, cost.
pub(crate) fn summary(result: &BudgetResult) -> String {
    let verdict = if result.budget_reached {
        "budget reached, answer cut".to_owned()
    } else {
        format!("ended {}", result.end.as_str())
    };

    let usage = match &result.usage {
        Some(usage) => format!(
            "provider usage: prompt {}, completion {}",
            count_text(usage.prompt_tokens),
            count_text(usage.completion_tokens)
        ),
        None => "provider usage: not reported".to_owned(),
    };

    let cost = &result.cost;
    format!(
        "summary: {} of {} estimated tokens ({} chars, {} chunks), {verdict}; {usage}; \
         cost: {} prompt + {} completion tokens ({}), no USD price",
        result.estimated_tokens,
        result.budget,
        result.counted_chars,
        result.chunks,
        cost.prompt_tokens,
        cost.completion_tokens,
        basis_text(cost.basis),
    )
}

fn count_text(count: Option<u64>) -> String {
    count.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

fn basis_text(basis: CostBasis) -> &'static str {
    match basis {
        CostBasis::Provider => "reported by the provider",
        CostBasis::Partial => "partly estimated",
        CostBasis::Estimate => "estimated",
        CostBasis::None => "nothing generated",
    }
}

/// The single `token-budget: ` line for a run that did not succeed.
pub(crate) fn failure_line(result: &BudgetResult, secrets: &[String]) -> Option<String> {
    let error = result.error.as_ref()?;
    let status = error
        .status
        .map(|s| format!(" (HTTP {s})"))
        .unwrap_or_default();
    let hint = match error.kind {
        token_budget::ErrorKind::Truncated => "; the answer may be incomplete",
        token_budget::ErrorKind::Timeout => "",
        _ if !result.content.is_empty() => "; the partial answer was kept",
        _ => "",
    };

    let line = format!(
        "token-budget: {} {} error{status}: {}{hint}",
        result.provider.name(),
        error.kind,
        error.message
    );
    Some(redact(&line, secrets))
}

/// Replaces every configured key by `[REDACTED]` (SPEC §9).
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[REDACTED]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_every_occurrence() {
        let secrets = vec!["sk-123".to_owned()];
        assert_eq!(
            redact("a sk-123 b sk-123", &secrets),
            "a [REDACTED] b [REDACTED]"
        );
        assert_eq!(redact("nothing here", &secrets), "nothing here");
    }

    #[test]
    fn describe_names_the_rust_implementation() {
        let value: serde_json::Value = serde_json::from_str(&describe_json()).unwrap();
        assert_eq!(value["name"], "rust");
        assert_eq!(value["contract_version"], 1);
        assert_eq!(value["providers"].as_array().map(Vec::len), Some(4));
    }
}
