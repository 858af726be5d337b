//! Subcommand dispatch and what all request commands share: resolving a call (flags,
//! environment, prompt file, input), sending it, the result object, and how a failure is
//! reported.

mod batch;
mod classify;
mod complete;
mod extract_json;
mod job;
mod prompts;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{Cli, Command, RequestArgs};
use crate::config::{Env, Settings};
use crate::error::{Error, Result};
use crate::prompts::PromptFile;
use crate::provider::client::{Client, Outcome, Sink};
use crate::provider::{Message, Part, Request, Usage, build_request};

use crate::{image, input, output};
pub use job::Job;

pub async fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Complete(args) => complete::run(args, false).await,
        Command::Stream(args) => complete::run(args, true).await,
        Command::ExtractJson(args) => extract_json::run(args).await,
        Command::Classify(args) => classify::run(args).await,
        Command::Prompts { action } => prompts::run(action),
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

/// A request command, resolved: settings, the prompt file, variables and images. The
/// input is separate, so one `Call` serves a single request or every `--each-line` item.
pub struct Call {
    pub settings: Settings,
    pub prompt: Option<PromptFile>,
    vars: HashMap<String, String>,
    images: Vec<Part>,
    client: std::cell::OnceCell<Client>,
}

impl Call {
    pub fn new(args: &RequestArgs) -> Result<Call> {
        output::set_verbose(args.verbose);
        let env = Env::load()?;
        let prompt = match &args.prompt_name {
            Some(spec) => {
                let dirs = crate::prompts::search_dirs(args.prompts_dir.as_deref(), &env);
                Some(crate::prompts::load(spec, &dirs)?)
            }
            None => None,
        };
        let settings = Settings::resolve(args, &env, prompt.as_ref().map(|p| &p.meta))?;
        let vars = crate::prompts::parse_vars(&args.vars)?;
        if prompt.is_none() && !vars.is_empty() {
            return Err(Error::usage(
                "--var fills a prompt file's template: add --prompt NAME",
            ));
        }
        let images = args
            .images
            .iter()
            .map(|spec| image::load(spec).map(Part::Image))
            .collect::<Result<Vec<_>>>()?;
        Ok(Call {
            settings,
            prompt,
            vars,
            images,
            client: std::cell::OnceCell::new(),
        })
    }

    /// The request for one input text; `extra` variables (from a JSONL item) add to and
    /// override `--var`.
    pub fn request_for(
        &self,
        text: &str,
        extra: Option<&HashMap<String, String>>,
    ) -> Result<Request> {
        let mut messages = match &self.prompt {
            Some(p) => {
                if p.uses_input() {
                    input::require_text(text)?;
                }
                match extra {
                    Some(extra) => {
                        let mut vars = self.vars.clone();
                        vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                        p.render(text, &vars)?
                    }
                    None => p.render(text, &self.vars)?,
                }
            }
            None => {
                input::require_text(text)?;
                vec![Message::user_text(text)]
            }
        };
        if let Some(Part::Text(t)) = messages.last().and_then(|m| m.content.last()) {
            input::require_text(t)?;
        }
        if let Some(last) = messages.last_mut() {
            last.content.splice(0..0, self.images.iter().cloned());
        }
        Ok(Request {
            system: self.settings.system.clone(),
            messages,
            max_tokens: self.settings.max_tokens,
            temperature: self.settings.temperature,
            stop: self.settings.stop.clone(),
            format: Default::default(),
        })
    }

    /// The request for a single run: the SPEC's input (words, files, stdin).
    pub fn single_request(&self, args: &RequestArgs) -> Result<Request> {
        let text = input::gather(&args.prompt, &args.files)?;
        self.request_for(&text, None)
    }

    pub fn client(&self) -> Result<&Client> {
        if self.client.get().is_none() {
            let client = Client::new(self.settings.timeout, self.settings.policy.clone())?;
            let _ = self.client.set(client);
        }
        Ok(self.client.get().expect("client was just built"))
    }

    /// `--dry-run`: prints the exact request to the first model instead of sending it.
    pub fn print_dry_run(&self, req: &Request, stream: bool) -> Result<()> {
        let http = build_request(&self.settings.targets[0], req, stream);
        let shown = serde_json::to_string_pretty(&http.redacted())
            .map_err(|e| Error::internal(e.to_string()))?;
        output::out_line(&shown);
        Ok(())
    }

    /// Sends through the one request path (retries, fallback); streamed when `sink` is set.
    pub async fn send(&self, req: &Request, sink: Option<Sink<'_>>) -> Result<Outcome<'_>> {
        self.client()?.send(&self.settings.targets, req, sink).await
    }

    /// The SPEC's result object for one or more calls that made one answer (a first reply
    /// and its repairs): the answer is the last call's, usage, cost and attempts add up.
    pub fn result(&self, calls: &[Outcome<'_>], started: Instant) -> Value {
        result_object(
            calls,
            started.elapsed(),
            &self.settings.pricing,
            self.prompt.as_ref().map(PromptFile::label).as_deref(),
        )
    }
}

/// Runs a job once, or per input line with `--each-line`, and prints its result.
pub async fn run_job(args: &RequestArgs, call: Call, job: Job, pretty: bool) -> Result<()> {
    if args.each_line {
        return batch::run(args, &call, &job).await;
    }
    let mut req = call.single_request(args)?;
    job.shape(&mut req);
    if args.dry_run {
        return call.print_dry_run(&req, false);
    }
    let result = job.answer(&call, req).await?;
    if output::verbose() {
        summary(&result);
    }
    if args.json {
        output::out_line(&result.to_string());
    } else {
        output::out_line(&job.plain(&result, pretty));
    }
    Ok(())
}

/// The SPEC's result object.
pub fn result_object(
    calls: &[Outcome<'_>],
    latency: Duration,
    pricing: &crate::config::Pricing,
    prompt: Option<&str>,
) -> Value {
    let last = calls.last().expect("at least one call");
    let r = &last.response;
    let target = last.target;
    let model = if r.model.is_empty() {
        &target.model
    } else {
        &r.model
    };
    let mut usage = Usage::default();
    let mut cost = Some(0.0);
    let mut attempts = 0;
    for call in calls {
        let u = &call.response.usage;
        usage.input_tokens += u.input_tokens;
        usage.output_tokens += u.output_tokens;
        usage.cached_input_tokens += u.cached_input_tokens;
        usage.cache_write_input_tokens += u.cache_write_input_tokens;
        if let Some(n) = u.reasoning_tokens {
            *usage.reasoning_tokens.get_or_insert(0) += n;
        }
        attempts += call.attempts;
        let reported = if call.response.model.is_empty() {
            &call.target.model
        } else {
            &call.response.model
        };
        let price = pricing.lookup(&[reported, &call.target.model]);
        cost = cost.zip(price.map(|p| p.cost(u))).map(|(a, b)| a + b);
    }
    let cost = cost.map(|c| (c * 1e10).round() / 1e10);
    if cost.is_none() {
        output::warn(&format!(
            "no price known for model {model}: cost_usd is null (add it under [prices] in llmpipe.toml)"
        ));
    }
    let mut usage_json = json!({
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_write_input_tokens": usage.cache_write_input_tokens,
    });
    if let Some(n) = usage.reasoning_tokens {
        usage_json["reasoning_tokens"] = json!(n);
    }
    json!({
        "provider": target.kind.name(),
        "model": model,
        "requested_model": target.model,
        "text": r.text,
        "finish_reason": r.finish_reason.as_str(),
        "usage": usage_json,
        "cost_usd": cost,
        "latency_ms": latency.as_millis() as u64,
        "request_id": r.request_id,
        "prompt": prompt,
        "attempts": attempts,
        "provider_finish_reason": r.provider_finish_reason,
    })
}

/// One stderr line with what the call cost (`-v`, or a streaming terminal).
pub fn summary(result: &Value) {
    let u = &result["usage"];
    let cost = result["cost_usd"]
        .as_f64()
        .map(|c| format!("${c:.6}"))
        .unwrap_or_else(|| "cost unknown".into());
    output::end_open_line();
    output::err_line(&format!(
        "llmpipe: {} · {} in / {} out tokens · {cost} · {} ms · {} attempt(s)",
        result["model"].as_str().unwrap_or("?"),
        u["input_tokens"],
        u["output_tokens"],
        result["latency_ms"],
        result["attempts"],
    ));
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
        let json = cli.json();
        Shape {
            json,
            typed_lines: json && matches!(cli.command, Command::Stream(_)),
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
    if shape.json && !err.stdout_written {
        let mut obj = match &err.result {
            Some(result) => (**result).clone(),
            None if shape.typed_lines => json!({"type": "error"}),
            None => json!({}),
        };
        obj["error"] = err.to_json();
        output::out_line(&obj.to_string());
    }
}
