use clap::Parser;
use clap::error::ErrorKind as ClapKind;

use llmpipe::cli::Cli;
use llmpipe::commands::{self, Shape};
use llmpipe::error::{Error, Kind};
use llmpipe::output;
use llmpipe::signals::{self, Stop};

fn main() {
    // Signal handlers first, so Ctrl-C and SIGTERM never take the default (silent) death.
    let runtime = start();
    // A panic is a bug: say so and exit 1 (the SPEC's internal error), never a backtrace dump.
    std::panic::set_hook(Box::new(|info| {
        output::err_line(&format!(
            "llmpipe: internal error (a bug, please report it): {info}"
        ));
        std::process::exit(1);
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let shape = Shape::of(&cli);
    let result = runtime.block_on(async {
        if cli.handles_interrupts() {
            return commands::run(&cli).await;
        }
        // Dropping the command's future logs a request in flight as interrupted and
        // flushes the call log (see `Call`), before the exit below.
        tokio::select! {
            // The command first: one that handles the stop itself (the tool loop keeps
            // what was paid for) is ready in the same poll and its result wins.
            biased;
            r = commands::run(&cli) => r,
            stop = signals::stopped() => {
                Err(Error::new(Kind::Interrupted, stop.what()))
            }
        }
    });
    // The reader of stdout went away: that is not an error (the SPEC), and nothing is left
    // to say. Everything sent has been logged by now.
    // Except a failed eval gate: its verdict was reached before the report was written,
    // and a CI step must not pass because the reader of the report went away.
    if signals::reason() == Some(Stop::ClosedStdout)
        && !result.as_ref().is_err_and(|e| e.kind == Kind::QualityGate)
    {
        std::process::exit(0);
    }
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            commands::report(&e, shape);
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// The async runtime, with the SIGINT and SIGTERM handlers installed.
fn start() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            signals::install(&rt);
            rt
        }
        Err(e) => {
            commands::report(
                &Error::internal(format!("cannot start: {e}")),
                Shape::default(),
            );
            std::process::exit(1);
        }
    }
}

/// Clap's own errors exit 2; with `--json` they also put the error object on stdout.
fn usage_error(e: clap::Error) -> ! {
    if matches!(e.kind(), ClapKind::DisplayHelp | ClapKind::DisplayVersion) {
        let _ = e.print();
        std::process::exit(0);
    }
    if matches!(e.kind(), ClapKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        std::process::exit(2);
    }
    // args_os: an argument that is not UTF-8 may be what clap is complaining about.
    if llmpipe::cli::json_requested(std::env::args_os()) {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or("invalid arguments");
        let err = Error::usage(first.trim_start_matches("error: ").to_string());
        output::out_line(&serde_json::json!({ "error": err.to_json() }).to_string());
    }
    let _ = e.print();
    std::process::exit(2);
}
