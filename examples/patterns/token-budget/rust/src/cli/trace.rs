//! The binary's observer: human-mode text, the live meter, `--verbose`
//! traces and `--step` explanations, all rendered here and never in the
//! library.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use token_budget::{End, Observer, TraceEvent};

use super::render::redact;

/// Exit code when the user quits a step-by-step run (like SIGINT, SPEC §9).
const QUIT_EXIT_CODE: i32 = 130;

pub(crate) struct CliObserver {
    stream_text: bool,
    meter: bool,
    verbose: bool,
    step: bool,
    pause: bool,
    secrets: Vec<String>,
    /// Whether the meter left a line on stderr that needs clearing.
    meter_shown: Mutex<bool>,
}

impl CliObserver {
    pub(crate) fn new(json: bool, verbose: bool, step: bool, secrets: Vec<String>) -> Self {
        let stderr_is_terminal = io::stderr().is_terminal();

        Self {
            stream_text: !json,
            // The meter would garble a terminal that also shows the text.
            meter: !json && !verbose && !step && stderr_is_terminal && !io::stdout().is_terminal(),
            verbose,
            step,
            pause: step && io::stdin().is_terminal(),
            secrets,
            meter_shown: Mutex::new(false),
        }
    }

    /// Removes the live meter before the summary is written.
    pub(crate) fn clear_meter(&self) {
        let mut shown = self
            .meter_shown
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if *shown {
            let _ = write!(io::stderr(), "\r\x1b[K");
            *shown = false;
        }
    }

    fn trace(&self, direction: char, text: &str) {
        let line = redact(text, &self.secrets);
        let _ = writeln!(io::stderr().lock(), "{} {direction} {line}", timestamp());
    }

    fn explain(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "step: {}", redact(text, &self.secrets));
        if self.pause {
            wait_for_enter();
        }
    }

    fn on_request(&self, url: &str, headers: &[(String, String)], body: &str, method: &str) {
        if self.verbose {
            self.trace('>', &format!("{method} {url}"));
            for (name, value) in headers {
                self.trace('>', &format!("{name}: {value}"));
            }
            self.trace('>', body);
        }

        if self.step {
            self.explain(&format!(
                "build request: {method} {url} with a {}-byte JSON body asking for a stream",
                body.len()
            ));
            self.explain("send: exactly one request goes out; there is never a retry");
        }
    }

    fn on_response(&self, status: u16, headers: &[(String, String)]) {
        if self.verbose {
            self.trace('<', &format!("HTTP {status}"));
            for (name, value) in headers {
                self.trace('<', &format!("{name}: {value}"));
            }
        }

        if self.step {
            self.explain(&format!(
                "stream: the provider answered HTTP {status}; reading the body as it arrives"
            ));
        }
    }

    fn on_check(&self, text: &str, counted_chars: u64, estimated_tokens: u64, budget: u64) {
        if self.stream_text && !text.is_empty() {
            let mut stdout = io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }

        if self.meter {
            let _ = write!(io::stderr(), "\r\x1b[K[{estimated_tokens}/{budget} tokens]");
            *self
                .meter_shown
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) = true;
        }

        if self.step {
            let verdict = if estimated_tokens >= budget {
                "the budget is reached at this delta"
            } else {
                "still under the budget, reading on"
            };
            self.explain(&format!(
                "budget check: {counted_chars} counted chars make {estimated_tokens} of \
                 {budget} tokens; {verdict}"
            ));
        }
    }

    fn on_finish(&self, end: End) {
        if !self.step {
            return;
        }

        let stop = match end {
            End::Budget => "stop: the upstream connection was closed at the crossing delta",
            End::Complete => "stop: the provider sent its end marker before the budget ran out",
            End::Truncated => "stop: the body ended without the provider's end marker",
            End::Error => "stop: the request or the stream failed",
        };
        self.explain(stop);
        self.explain("result: writing the result; the partial answer is kept in every case");
    }
}

impl Observer for CliObserver {
    fn on_event(&self, event: &TraceEvent<'_>) {
        match *event {
            TraceEvent::RequestBuilt {
                method,
                url,
                headers,
                body,
            } => self.on_request(url, headers, body, method),
            TraceEvent::ResponseStarted { status, headers } => self.on_response(status, headers),
            TraceEvent::RawLine(line) => {
                if self.verbose {
                    self.trace('<', line);
                }
            }
            TraceEvent::BudgetCheck {
                text,
                counted_chars,
                estimated_tokens,
                budget,
            } => self.on_check(text, counted_chars, estimated_tokens, budget),
            TraceEvent::Finished { end } => self.on_finish(end),
        }
    }
}

/// Waits for Enter; `q` quits the run (SPEC §9).
fn wait_for_enter() {
    let _ = write!(io::stderr(), "  [Enter to go on, q to quit] ");
    let mut answer = String::new();
    let read = io::stdin().lock().read_line(&mut answer);

    if matches!(read, Ok(0)) || answer.trim().eq_ignore_ascii_case("q") {
        let _ = writeln!(io::stderr(), "token-budget: stopped at the user's request");
        std::process::exit(QUIT_EXIT_CODE);
    }
}

/// UTC wall-clock time with milliseconds, e.g. `2025-01-01T12:00:00.123Z`.
fn timestamp() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let clock = seconds % 86_400;

    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        clock / 3600,
        clock / 60 % 60,
        clock % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);

    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_089), (2025, 1, 1));
    }
}
