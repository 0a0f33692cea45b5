//! The command line of SPEC §1: flags, environment fallbacks, the number
//! grammar and the prompt. Every problem becomes a [`UsageError`] (exit 2).

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::time::Duration;

use clap::Parser;
use token_budget::{Provider, ProviderKind, Request};

const DEFAULT_BUDGET: u32 = 100;
const DEFAULT_PROMPT: &str =
    "Explain in a few paragraphs why streaming answers need a token budget.";
const MAX_COUNT: u64 = 2_147_483_647;
const MAX_LINGER_MS: u64 = 600_000;
/// Longer timeouts are treated as this one; `Duration` cannot hold any double.
const MAX_TIMEOUT_S: f64 = 1.0e9;

/// Stream an LLM answer and cancel the request the moment the token budget is reached.
#[derive(Debug, Parser)]
#[command(name = "token-budget", version, about)]
struct Cli {
    /// loopback, openai, anthropic (alias claude) or ollama [default: loopback]
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,

    /// The model sent upstream [default: per provider]
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    model: Option<String>,

    /// Where the provider listens [default: per provider, or its environment variable]
    #[arg(long, value_name = "URL", allow_hyphen_values = true)]
    base_url: Option<String>,

    /// The token budget [default: $TOKEN_BUDGET_MAX, else 100]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    budget: Option<String>,

    /// The provider's max-output-tokens field [default: the budget]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    max_tokens: Option<String>,

    /// The ratio estimator's divisor [default: 4]
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    chars_per_token: Option<String>,

    /// Only `ratio` in this implementation
    #[arg(long, value_name = "NAME")]
    estimator: Option<String>,

    /// Connect timeout and longest silence between two reads, in seconds [default: 60]
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    timeout: Option<String>,

    /// Print exactly one result object on stdout
    #[arg(long)]
    json: bool,

    /// Trace the HTTP exchange on stderr, keys redacted [env: NXUSKIT_VERBOSE]
    #[arg(long)]
    verbose: bool,

    /// Explain each step on stderr and pause on a terminal [env: NXUSKIT_STEP]
    #[arg(long)]
    step: bool,

    /// Stay alive this many ms after printing the result
    #[arg(long, value_name = "MS", allow_hyphen_values = true)]
    linger_ms: Option<String>,

    /// Echoed as case_id in the result
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    case_id: Option<String>,

    /// Print the description object and exit
    #[arg(long)]
    describe: bool,

    /// The prompt; put it after `--` when it starts with `-` [default: stdin, else a built-in prompt]
    #[arg(value_name = "PROMPT")]
    prompt: Option<OsString>,
}

/// What the command line asks for.
pub(crate) enum Command {
    Describe,
    Run(Box<Settings>),
    /// `--help` or `--version`: print this on stdout and exit 0.
    Info(String),
}

/// A fully validated run.
pub(crate) struct Settings {
    pub(crate) provider: Provider,
    pub(crate) request: Request,
    pub(crate) budget: u32,
    pub(crate) chars_per_token: f64,
    pub(crate) json: bool,
    pub(crate) verbose: bool,
    pub(crate) step: bool,
    pub(crate) linger: Duration,
    pub(crate) case_id: Option<String>,
    /// Every configured key, so no output can ever show one.
    pub(crate) secrets: Vec<String>,
}

/// A bad option or value: one line for stderr, exit 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => return clap_outcome(&error),
    };

    if cli.describe {
        return Ok(Command::Describe);
    }

    settings(cli).map(|settings| Command::Run(Box::new(settings)))
}

fn clap_outcome(error: &clap::Error) -> Result<Command, UsageError> {
    use clap::error::ErrorKind;

    let text = error.to_string();
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return Ok(Command::Info(text));
    }

    let first = text.lines().next().unwrap_or("invalid command line");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    Err(UsageError(format!("{message} (see --help)")))
}

fn settings(cli: Cli) -> Result<Settings, UsageError> {
    let kind = provider_kind(cli.provider.as_deref())?;
    let budget = budget(cli.budget.as_deref())?;
    let max_tokens = match cli.max_tokens.as_deref() {
        Some(text) => count("--max-tokens", text)?,
        None => budget,
    };
    let chars_per_token = match cli.chars_per_token.as_deref() {
        Some(text) => decimal("--chars-per-token", text)?,
        None => token_budget::DEFAULT_CHARS_PER_TOKEN,
    };
    check_estimator(cli.estimator.as_deref())?;

    let timeout = match cli.timeout.as_deref() {
        Some(text) => Duration::from_secs_f64(decimal("--timeout", text)?.min(MAX_TIMEOUT_S)),
        None => Duration::from_secs(60),
    };
    let linger_ms = match cli.linger_ms.as_deref() {
        Some(text) => integer("--linger-ms", text, 0, MAX_LINGER_MS)?,
        None => 0,
    };
    let verbose = cli.verbose || env_switch("NXUSKIT_VERBOSE")?;
    let step = cli.step || env_switch("NXUSKIT_STEP")?;

    let provider = Provider::from_env(kind, cli.base_url.as_deref())
        .map_err(|error| UsageError(error.message().to_owned()))?
        .with_timeout(timeout);
    let model = cli.model.unwrap_or_else(|| kind.default_model().to_owned());
    let prompt = prompt(cli.prompt)?;

    Ok(Settings {
        provider,
        request: Request::new(model, prompt).with_max_tokens(max_tokens),
        budget,
        chars_per_token,
        json: cli.json,
        verbose,
        step,
        linger: Duration::from_millis(linger_ms),
        case_id: cli.case_id,
        secrets: secrets(),
    })
}

fn provider_kind(name: Option<&str>) -> Result<ProviderKind, UsageError> {
    let Some(name) = name else {
        return Ok(ProviderKind::Loopback);
    };

    ProviderKind::parse(name).ok_or_else(|| {
        UsageError(format!(
            "unknown provider {name:?}: use loopback, openai, anthropic (or claude) or ollama"
        ))
    })
}

/// `--budget`, else `TOKEN_BUDGET_MAX`, else 100.
fn budget(option: Option<&str>) -> Result<u32, UsageError> {
    if let Some(text) = option {
        return count("--budget", text);
    }

    match non_empty_env("TOKEN_BUDGET_MAX") {
        Some(text) => count("TOKEN_BUDGET_MAX", &text),
        None => Ok(DEFAULT_BUDGET),
    }
}

fn count(name: &str, text: &str) -> Result<u32, UsageError> {
    let value = integer(name, text, 1, MAX_COUNT)?;
    // The range check above keeps this within u32.
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

/// SPEC §1.2 integers: ASCII digits only, then a range check.
fn integer(name: &str, text: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!(
            "{name} wants a whole number written with the digits 0-9 only, got {text:?}"
        )));
    }

    match text.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(UsageError(format!(
            "{name} must be between {min} and {max}, got {text}"
        ))),
    }
}

/// SPEC §1.2 decimals: the grammar first (the standard parser also takes
/// `inf`, `nan` and signs), then a correctly rounded parse, finite and > 0.
fn decimal(name: &str, text: &str) -> Result<f64, UsageError> {
    let parsed = if is_decimal(text) {
        text.parse::<f64>().ok()
    } else {
        None
    };

    match parsed {
        Some(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(UsageError(format!(
            "{name} wants a decimal number greater than 0 such as 4, 2.5 or 1e-1, got {text:?}"
        ))),
    }
}

/// `^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`
pub(crate) fn is_decimal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |start: usize| {
        bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };

    let whole = digits_from(0);
    let mut at = whole;
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        fraction = digits_from(at + 1);
        at += 1 + fraction;
    }
    if whole == 0 && fraction == 0 {
        return false;
    }

    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits_from(at);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }

    at == bytes.len()
}

fn check_estimator(name: Option<&str>) -> Result<(), UsageError> {
    match name {
        None | Some("ratio") => Ok(()),
        Some("exact") => Err(UsageError(
            "--estimator exact needs a BPE tokenizer, which the Rust implementation does not \
             have; use --estimator ratio"
                .to_owned(),
        )),
        Some(other) => Err(UsageError(format!(
            "unknown estimator {other:?}: use ratio"
        ))),
    }
}

/// `1`/`true` enable, `0`/`false` disable, empty counts as absent.
fn env_switch(name: &str) -> Result<bool, UsageError> {
    let Some(value) = non_empty_env(name) else {
        return Ok(false);
    };

    match value.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(UsageError(format!(
            "{name} must be 1, true, 0 or false, got {value:?}"
        ))),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The positional prompt; else stdin when it is not a terminal; else the default.
fn prompt(positional: Option<OsString>) -> Result<String, UsageError> {
    if let Some(prompt) = positional {
        return Ok(prompt.to_string_lossy().into_owned());
    }

    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(DEFAULT_PROMPT.to_owned());
    }

    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|error| UsageError(format!("could not read the prompt from stdin: {error}")))?;

    let text = String::from_utf8_lossy(&bytes);
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);

    if text.is_empty() {
        Ok(DEFAULT_PROMPT.to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// The values of every key variable, whichever provider is in use.
fn secrets() -> Vec<String> {
    ProviderKind::ALL
        .iter()
        .filter_map(|kind| kind.key_variable())
        .filter_map(non_empty_env)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_the_grammar() {
        for good in ["4", "2.5", "5.", ".5", "1e3", "1E+3", "1e-1", "007"] {
            assert!(is_decimal(good), "{good} should parse");
        }
        for bad in [
            "", ".", "e1", "1e", "+1", "-1", " 4", "4 ", "1_0", "inf", "nan", "1.2.3", "0x10",
        ] {
            assert!(!is_decimal(bad), "{bad:?} should be refused");
        }
    }

    #[test]
    fn decimals_must_be_finite_and_positive() {
        assert_eq!(decimal("r", "2.5").unwrap(), 2.5);
        assert!(decimal("r", "0").is_err());
        assert!(decimal("r", "0.0e5").is_err());
        assert!(decimal("r", "1e400").is_err());
        assert!(decimal("r", "1e-400").is_err());
    }

    #[test]
    fn integers_are_plain_digits_in_range() {
        assert_eq!(
            integer("n", "2147483647", 1, MAX_COUNT).unwrap(),
            2_147_483_647
        );
        assert!(integer("n", "2147483648", 1, MAX_COUNT).is_err());
        assert!(integer("n", "0", 1, MAX_COUNT).is_err());
        assert!(integer("n", "+5", 1, MAX_COUNT).is_err());
        assert!(integer("n", "1_0", 1, MAX_COUNT).is_err());
        assert!(integer("n", "99999999999999999999999", 1, MAX_COUNT).is_err());
        assert_eq!(integer("n", "0", 0, MAX_LINGER_MS).unwrap(), 0);
    }

    #[test]
    fn a_dash_prompt_after_double_dash_is_the_prompt() {
        let args = ["token-budget", "--budget", "5", "--", "--budget 7"].map(OsString::from);
        let cli = Cli::try_parse_from(args).unwrap();

        assert_eq!(cli.budget.as_deref(), Some("5"));
        assert_eq!(cli.prompt, Some(OsString::from("--budget 7")));
    }

    #[test]
    fn two_dashes_can_be_the_prompt() {
        let args = ["token-budget", "--", "--"].map(OsString::from);
        let cli = Cli::try_parse_from(args).unwrap();

        assert_eq!(cli.prompt, Some(OsString::from("--")));
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let args = ["token-budget", "--bogus"].map(OsString::from);
        assert!(parse(args).is_err());
    }
}
