//! `token-budget`: the command-line face of the library (SPEC §1, §8-§10).

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;

use cli::args::{self, Command, Settings};
use cli::render;
use cli::trace::CliObserver;
use token_budget::TokenBudget;

const USAGE_EXIT: u8 = 2;
const FAILURE_EXIT: u8 = 1;
/// SIGINT or `q` in step mode (SPEC §9), as shells report an interrupt.
const INTERRUPTED_EXIT: u8 = 130;

fn main() -> ExitCode {
    let command = match args::parse(std::env::args_os()) {
        Ok(command) => command,
        Err(error) => {
            fail(&error.0);
            return ExitCode::from(USAGE_EXIT);
        }
    };

    match command {
        Command::Info(text) => {
            let _ = write!(io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Command::Describe => {
            let _ = writeln!(io::stdout(), "{}", render::describe_json());
            ExitCode::SUCCESS
        }
        Command::Run(settings) => run_blocking(*settings),
    }
}

fn run_blocking(settings: Settings) -> ExitCode {
    // One thread is plenty for one request, and starts fastest.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            fail(&format!("could not start the async runtime: {error}"));
            return ExitCode::from(FAILURE_EXIT);
        }
    };

    ExitCode::from(runtime.block_on(run(settings)))
}

async fn run(settings: Settings) -> u8 {
    let observer = Arc::new(CliObserver::new(
        settings.json,
        settings.verbose,
        settings.step,
        settings.secrets.clone(),
    ));

    let budget = match TokenBudget::new(settings.budget)
        .and_then(|budget| budget.with_chars_per_token(settings.chars_per_token))
    {
        Ok(budget) => budget.with_observer(observer.clone()),
        Err(error) => {
            fail(error.message());
            return USAGE_EXIT;
        }
    };

    // The upstream connection is closed by the time `run` returns. Ctrl-C
    // drops the run instead, which closes the connection just the same.
    let result = tokio::select! {
        result = budget.run(&settings.provider, &settings.request) => result,
        () = interrupted() => {
            observer.clear_meter();
            fail("interrupted by the user; no result was written");
            return INTERRUPTED_EXIT;
        }
    };
    observer.clear_meter();

    let mut stdout = io::stdout().lock();
    if settings.json {
        let line = render::result_json(&result, settings.case_id.as_deref(), &settings.secrets);
        let _ = writeln!(stdout, "{line}");
    } else {
        // The summary must not start on the answer's last line, on a terminal or
        // with `2>&1`; stdout itself stays exactly the content.
        if !result.content.is_empty() && !result.content.ends_with('\n') {
            let _ = writeln!(io::stderr());
        }
        let _ = writeln!(io::stderr(), "{}", render::summary(&result));
    }
    let _ = stdout.flush();
    drop(stdout);

    if let Some(line) = render::failure_line(&result, &settings.secrets) {
        let _ = writeln!(io::stderr(), "{line}");
    }

    // SPEC §4.3: stay alive with every connection closed, so a process exit
    // can never pass for a cancellation.
    if !settings.linger.is_zero() {
        tokio::time::sleep(settings.linger).await;
    }

    if result.end.is_success() {
        0
    } else {
        FAILURE_EXIT
    }
}

/// Resolves on SIGINT; never, if the handler cannot be installed.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn fail(message: &str) {
    let _ = writeln!(io::stderr(), "token-budget: {message}");
}
