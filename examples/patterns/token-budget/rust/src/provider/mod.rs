//! Providers: where the answer comes from, and how its wire format maps to
//! [`Chunk`]s. They know nothing about budgets.

mod anthropic;
mod http;
mod json;
mod loopback;
mod ollama;
mod openai;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;

use crate::error::{ConfigError, StreamError};
use crate::observe::Observer;
use crate::usage::UsageUpdate;

/// The default connect and read-silence timeout (SPEC §1, `--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The provider families of SPEC §1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// In-process and deterministic; no network.
    Loopback,
    /// OpenAI Chat Completions and compatible servers.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
}

impl ProviderKind {
    /// Every provider, in the order `--describe` lists them.
    pub const ALL: [ProviderKind; 4] =
        [Self::Loopback, Self::OpenAi, Self::Anthropic, Self::Ollama];

    /// Parses a provider name; `claude` is an alias of `anthropic`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "loopback" => Some(Self::Loopback),
            "openai" => Some(Self::OpenAi),
            "anthropic" | "claude" => Some(Self::Anthropic),
            "ollama" => Some(Self::Ollama),
            _ => None,
        }
    }

    /// The canonical name used in results (never `claude`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
        }
    }

    /// The model sent when none is given.
    pub fn default_model(self) -> &'static str {
        match self {
            Self::Loopback => "loopback-1",
            Self::OpenAi => "gpt-4o-mini",
            Self::Anthropic => "claude-sonnet-4-5",
            Self::Ollama => "llama3.2",
        }
    }

    /// The base URL used when neither the option nor the variable gives one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Loopback => None,
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Ollama => Some("http://127.0.0.1:11434"),
        }
    }

    /// The environment variable that overrides the base URL.
    pub fn base_url_variable(self) -> Option<&'static str> {
        match self {
            Self::Loopback => None,
            Self::OpenAi => Some("OPENAI_BASE_URL"),
            Self::Anthropic => Some("ANTHROPIC_BASE_URL"),
            Self::Ollama => Some("OLLAMA_HOST"),
        }
    }

    /// The environment variable that holds the API key.
    pub fn key_variable(self) -> Option<&'static str> {
        match self {
            Self::Loopback => None,
            Self::OpenAi => Some("OPENAI_API_KEY"),
            Self::Anthropic => Some("ANTHROPIC_API_KEY"),
            Self::Ollama => Some("OLLAMA_API_KEY"),
        }
    }

    /// Whether the default base URL needs a key (hosted APIs do).
    fn key_required_by_default(self) -> bool {
        matches!(self, Self::OpenAi | Self::Anthropic)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to ask: the model, the prompt and the provider's output limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The model name sent upstream.
    pub model: String,
    /// The user message.
    pub prompt: String,
    /// The provider's max-output-tokens field; `None` means "the budget".
    pub max_tokens: Option<u32>,
}

impl Request {
    /// A request whose output limit defaults to the budget.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            prompt: prompt.into(),
            max_tokens: None,
        }
    }

    /// Sets the provider's max-output-tokens field.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }
}

/// One provider event, processed as a whole (SPEC §2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Visible text, in arrival order.
    pub text: String,
    /// Code points of billed-but-hidden text (reasoning, tool arguments).
    pub hidden_chars: u64,
    /// The provider's finish reason, normalized (SPEC §6.2).
    pub finish_reason: Option<String>,
    /// A usage snapshot carried by this event.
    pub usage: Option<UsageUpdate>,
    /// This event is the provider's terminal marker (SPEC §4.1).
    pub terminal: bool,
}

impl Chunk {
    /// An event that only marks the end of the stream.
    pub(crate) fn terminal() -> Self {
        Self {
            terminal: true,
            ..Self::default()
        }
    }
}

/// Chunks as they arrive. A clean end of body without the terminal marker
/// is reported as an error of kind `truncated`, never as a quiet end.
/// Dropping the stream closes the upstream connection.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, StreamError>> + Send>>;

/// A configured provider: where it listens and which key it sends.
#[derive(Clone)]
pub struct Provider {
    kind: ProviderKind,
    base_url: Option<String>,
    api_key: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key, not even in debug output.
        f.debug_struct("Provider")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &self.api_key.as_ref().map(|_| crate::observe::REDACTED),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Provider {
    /// The in-process provider: deterministic, no network.
    pub fn loopback() -> Self {
        Self {
            kind: ProviderKind::Loopback,
            base_url: None,
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A provider with explicit settings. `base_url` falls back to the
    /// provider's default; the key is required for the hosted default URLs.
    pub fn new(
        kind: ProviderKind,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Self, ConfigError> {
        if kind == ProviderKind::Loopback {
            return Ok(Self::loopback());
        }

        let default_url = kind.default_base_url().unwrap_or_default();
        let base_url = normalize_base_url(base_url.unwrap_or(default_url))?;
        let api_key = api_key.filter(|key| !key.is_empty()).map(str::to_owned);

        if kind.key_required_by_default() && base_url == default_url && api_key.is_none() {
            let variable = kind.key_variable().unwrap_or("the API key variable");
            return Err(ConfigError::new(format!(
                "{variable} is not set: export your {kind} API key as {variable}, \
                 or point --base-url at a local server that needs none"
            )));
        }

        Ok(Self {
            kind,
            base_url: Some(base_url),
            api_key,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A provider configured from the environment variables of SPEC §1.3;
    /// `base_url` (the `--base-url` option) wins over the variable. Empty
    /// variables count as absent.
    pub fn from_env(kind: ProviderKind, base_url: Option<&str>) -> Result<Self, ConfigError> {
        let env_url = kind.base_url_variable().and_then(non_empty_env);
        let key = kind.key_variable().and_then(non_empty_env);

        Self::new(kind, base_url.or(env_url.as_deref()), key.as_deref())
    }

    /// Sets the connect timeout, which is also the longest silence allowed
    /// between two reads of the body.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The provider family.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The normalized base URL; `None` for loopback.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// The connect and read-silence timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends the request and returns the answer as a stream of chunks.
    ///
    /// Exactly one HTTP request is sent; there is no retry. An error here
    /// happened before the stream began.
    pub async fn stream(
        &self,
        request: &Request,
        max_tokens: u32,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<ChunkStream, StreamError> {
        let base_url = self.base_url.as_deref().unwrap_or_default();
        let key = self.api_key.as_deref();

        match self.kind {
            ProviderKind::Loopback => Ok(loopback::stream(request, max_tokens)),
            ProviderKind::OpenAi => {
                let exchange = openai::exchange(base_url, key, request, max_tokens);
                let opened = http::open(exchange, self.kind, self.timeout, observer).await?;
                Ok(http::sse_stream(opened, openai::Dialect::default()))
            }
            ProviderKind::Anthropic => {
                let exchange = anthropic::exchange(base_url, key, request, max_tokens);
                let opened = http::open(exchange, self.kind, self.timeout, observer).await?;
                Ok(http::sse_stream(opened, anthropic::Dialect::default()))
            }
            ProviderKind::Ollama => {
                let exchange = ollama::exchange(base_url, key, request, max_tokens);
                let opened = http::open(exchange, self.kind, self.timeout, observer).await?;
                Ok(http::ndjson_stream(opened, ollama::Dialect))
            }
        }
    }
}

/// Reads a variable; empty counts as absent (SPEC §1).
fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Adds `http://` to a URL without a scheme and removes a trailing `/`.
fn normalize_base_url(raw: &str) -> Result<String, ConfigError> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let trimmed = with_scheme.trim_end_matches('/').to_owned();

    match reqwest::Url::parse(&trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(trimmed),
        _ => Err(ConfigError::new(format!(
            "the base URL {raw:?} is not an http(s) URL; give one such as http://127.0.0.1:8080"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_is_an_alias_of_anthropic() {
        assert_eq!(ProviderKind::parse("claude"), Some(ProviderKind::Anthropic));
        assert_eq!(ProviderKind::parse("Claude"), None);
    }

    #[test]
    fn base_urls_get_a_scheme_and_lose_the_trailing_slash() {
        assert_eq!(
            normalize_base_url("127.0.0.1:11434/").unwrap(),
            "http://127.0.0.1:11434"
        );
        assert_eq!(
            normalize_base_url("https://x.test/v1/").unwrap(),
            "https://x.test/v1"
        );
        assert!(normalize_base_url("ftp://x.test").is_err());
    }

    #[test]
    fn the_hosted_default_needs_a_key() {
        let error = Provider::new(ProviderKind::OpenAi, None, None).unwrap_err();
        assert!(error.message().contains("OPENAI_API_KEY"));

        let error = Provider::new(
            ProviderKind::Anthropic,
            Some("https://api.anthropic.com/"),
            None,
        )
        .unwrap_err();
        assert!(error.message().contains("ANTHROPIC_API_KEY"));
    }

    #[test]
    fn other_base_urls_make_the_key_optional() {
        let provider = Provider::new(ProviderKind::OpenAi, Some("127.0.0.1:9"), None).unwrap();
        assert_eq!(provider.base_url(), Some("http://127.0.0.1:9"));

        assert!(Provider::new(ProviderKind::Ollama, None, None).is_ok());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let provider = Provider::new(ProviderKind::OpenAi, None, Some("sk-secret")).unwrap();
        assert!(!format!("{provider:?}").contains("sk-secret"));
    }
}
