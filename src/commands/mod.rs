//! Subcommand dispatch. Each command has its own file; what the request commands share is
//! in files named for what they hold: `call.rs` (a resolved call: build, send, log, run a
//! job once), `job.rs` (what a command asks of one input), `each_line.rs` (many inputs),
//! `conversation.rs` (`-c`/`--cid` history), `record.rs` (the call-log record) and
//! `report.rs` (how a failure is reported).

mod batch;
mod batch_jobs;
mod call;
mod classify;
mod complete;
mod conversation;
mod count_tokens;
mod each_line;
mod estimate_cost;
mod eval;
mod eval_report;
mod extract_json;
#[cfg(test)]
mod fuzz_tests;
mod job;
mod logs;
mod models;
mod prompts;
mod record;
mod report;
mod tool_loop;

pub use report::{Shape, report};

use std::sync::Arc;

use crate::cli::{Cli, Command};
use crate::config::Context;
use crate::error::{Error, Result};
use crate::output;

/// Runs the command with the process's [`Context`] (environment, `.env` and config file,
/// each read once).
pub async fn run(cli: &Cli) -> Result<()> {
    let ctx = Arc::new(Context::read());
    match &cli.command {
        Command::Complete(args) => complete::run(args, &ctx, false).await,
        Command::Stream(args) => complete::run(args, &ctx, true).await,
        Command::ExtractJson(args) => extract_json::run(args, &ctx).await,
        Command::Classify(args) => classify::run(args, &ctx).await,
        Command::Prompts { action, json } => {
            // `prompts render` may read stdin: off the async thread, so Ctrl-C still ends it.
            let (action, json) = (action.clone(), json.json);
            tokio::task::spawn_blocking(move || prompts::run(&action, json, &ctx))
                .await
                .unwrap_or_else(|e| Err(Error::internal(format!("prompts failed: {e}"))))
        }
        Command::Logs(args) => logs::run(args, &ctx),
        Command::CountTokens(args) => count_tokens::run(args, &ctx).await,
        Command::EstimateCost(args) => estimate_cost::run(args, &ctx).await,
        Command::Models(args) => models::run(args, &ctx).await,
        Command::Completions { shell } => {
            output::out(&completion_script(*shell));
            Ok(())
        }
        Command::Eval(args) => eval::run(args, &ctx).await,
        Command::Batch(args) => batch::run(args, &ctx).await,
    }
}

/// The completion script for `shell`, as checked in under `completions/`.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "llmpipe", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
