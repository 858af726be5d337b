//! Subcommand dispatch and what all request commands share: the result object and how a
//! failure is reported.

mod complete;
mod count_tokens;
mod estimate_cost;
mod models;

use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{Cli, Command};
use crate::config::Pricing;
use crate::error::{Error, Result};
use crate::output;
use crate::provider::client::Outcome;

pub async fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Complete(args) => complete::run(args, false).await,
        Command::Stream(args) => complete::run(args, true).await,
        Command::CountTokens(args) => count_tokens::run(args).await,
        Command::EstimateCost(args) => estimate_cost::run(args).await,
        Command::Models(args) => models::run(args),
        Command::Completions { shell } => {
            output::out(&completion_script(*shell));
            Ok(())
        }
    }
}

/// The completion script for `shell`, as checked in under `completions/`.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "llmpipe", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The SPEC's result object.
pub fn result_object(
    outcome: &Outcome<'_>,
    latency: Duration,
    pricing: &Pricing,
    prompt: Option<&str>,
) -> Value {
    let r = &outcome.response;
    let target = outcome.target;
    let model = if r.model.is_empty() {
        &target.model
    } else {
        &r.model
    };
    let cost = pricing
        .lookup(&[model, &target.model])
        .map(|p| p.cost(&r.usage));
    if cost.is_none() {
        output::warn(&format!(
            "no price known for model {model}: cost_usd is null (add it under [prices] in llmpipe.toml)"
        ));
    }
    let mut usage = json!({
        "input_tokens": r.usage.input_tokens,
        "output_tokens": r.usage.output_tokens,
        "cached_input_tokens": r.usage.cached_input_tokens,
        "cache_write_input_tokens": r.usage.cache_write_input_tokens,
    });
    if let Some(n) = r.usage.reasoning_tokens {
        usage["reasoning_tokens"] = json!(n);
    }
    json!({
        "provider": target.kind.name(),
        "model": model,
        "requested_model": target.model,
        "text": r.text,
        "finish_reason": r.finish_reason.as_str(),
        "usage": usage,
        "cost_usd": cost,
        "latency_ms": latency.as_millis() as u64,
        "request_id": r.request_id,
        "prompt": prompt,
        "attempts": outcome.attempts,
        "provider_finish_reason": r.provider_finish_reason,
    })
}

/// How a command's output is shaped, for reporting a failure in the same shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub json: bool,
    /// JSON Lines with a `type` member (stream --json).
    pub typed_lines: bool,
}

impl Shape {
    pub fn of(cli: &Cli) -> Shape {
        match &cli.command {
            Command::Stream(a) => Shape {
                json: a.json,
                typed_lines: a.json,
            },
            Command::Complete(a) => Shape {
                json: a.json,
                typed_lines: false,
            },
            Command::CountTokens(a) => Shape {
                json: a.json,
                typed_lines: false,
            },
            Command::EstimateCost(a) => Shape {
                json: a.json,
                typed_lines: false,
            },
            Command::Models(a) => Shape {
                json: a.json,
                typed_lines: false,
            },
            Command::Completions { .. } => Shape::default(),
        }
    }
}

/// Reports a failure: the message (and hint) on stderr, and with `--json` one JSON object
/// on stdout, so `| jq` never reads nothing.
pub fn report(err: &Error, shape: Shape) {
    output::end_open_line();
    output::err_line(&format!("llmpipe: error: {}", err.message));
    if let Some(hint) = &err.hint {
        output::err_line(&format!("hint: {hint}"));
    }
    if shape.json {
        let mut obj = match &err.result {
            Some(result) => (**result).clone(),
            None if shape.typed_lines => json!({"type": "error"}),
            None => json!({}),
        };
        obj["error"] = err.to_json();
        output::out_line(&obj.to_string());
    }
}
