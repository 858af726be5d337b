//! Subcommand dispatch and what all request commands share: resolving a call (flags,
//! environment, prompt file, input), sending it, the result object, and how a failure is
//! reported.

mod batch;
mod classify;
mod complete;
mod count_tokens;
mod estimate_cost;
mod extract_json;
mod job;
mod logs;
mod models;
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
        Command::Logs(args) => logs::run(args),
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

/// A request command, resolved: settings, the prompt file, variables, images and the
/// conversation so far. The input is separate, so one `Call` serves a single request or
/// every `--each-line` item.
pub struct Call {
    pub settings: Settings,
    pub prompt: Option<PromptFile>,
    /// `complete`, `stream`, `extract-json`, `classify`: what the log records.
    pub command: &'static str,
    vars: HashMap<String, String>,
    images: Vec<Part>,
    /// The conversation this call belongs to, and its earlier turns (`-c`, `--cid`).
    conversation_id: String,
    history: Vec<crate::store::Turn>,
    logger: Option<crate::store::Logger>,
    client: std::cell::OnceCell<Client>,
}

impl Call {
    pub fn new(args: &RequestArgs, command: &'static str) -> Result<Call> {
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
        let (conversation_id, history) = conversation(args, &settings, &env)?;
        let logger = if args.dry_run {
            None
        } else {
            settings.log_path.clone().map(crate::store::Logger::start)
        };
        Ok(Call {
            settings,
            prompt,
            command,
            vars,
            images,
            conversation_id,
            history,
            logger,
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
        let system = self
            .settings
            .system
            .clone()
            .or_else(|| self.history.last().and_then(|t| t.system.clone()));
        let mut request = Request {
            system,
            messages,
            max_tokens: self.settings.max_tokens,
            temperature: self.settings.temperature,
            stop: self.settings.stop.clone(),
            format: Default::default(),
        };
        self.add_history(&mut request);
        Ok(request)
    }

    /// Puts the conversation's earlier turns before the new messages, dropping the oldest
    /// turns (never the system prompt or the new message) until the request fits the
    /// model's context window minus `--max-tokens`.
    fn add_history(&self, req: &mut Request) {
        if self.history.is_empty() {
            return;
        }
        let target = &self.settings.targets[0];
        // The same counter as count-tokens: exact for OpenAI models, an estimate for Claude.
        let (counter, _) = crate::cost::estimate_counter(&target.model, target.kind);
        let count = |t: &str| counter.count_text(t, 1);
        let fixed: u64 = req.system.as_deref().map_or(0, count)
            + req
                .messages
                .iter()
                .map(|m| message_tokens(m, &count))
                .sum::<u64>();
        let turn_cost = |t: &crate::store::Turn| count(&t.input) + count(&t.reply) + 2 * 4;
        let mut keep = self.history.len();
        if let Some(window) = self.settings.context_window {
            let budget = window.saturating_sub(req.max_tokens);
            let mut total = fixed + self.history.iter().map(turn_cost).sum::<u64>();
            let mut first = 0;
            while total > budget && first < self.history.len() {
                total -= turn_cost(&self.history[first]);
                first += 1;
            }
            keep = self.history.len() - first;
        }
        let dropped = self.history.len() - keep;
        output::debug(&format!(
            "conversation {}: {keep} earlier turn(s) sent, {dropped} dropped to fit the context window",
            self.conversation_id
        ));
        let mut messages = Vec::with_capacity(keep * 2 + req.messages.len());
        for t in &self.history[dropped..] {
            messages.push(Message::user_text(t.input.clone()));
            messages.push(Message {
                role: crate::provider::Role::Assistant,
                content: vec![Part::Text(t.reply.clone())],
            });
        }
        messages.append(&mut req.messages);
        req.messages = messages;
    }

    /// Records one answered (or failed) request in the call log.
    pub fn log(&self, req: &Request, outcome: &Result<Value>) {
        let Some(logger) = &self.logger else { return };
        logger.log(log_record(self, req, outcome));
    }

    /// The request for a single run: the SPEC's input (words, files, stdin).
    pub fn single_request(&self, args: &RequestArgs) -> Result<Request> {
        let text = input::gather(&args.prompt, &args.files)?;
        self.request_for(&text, None)
    }

    pub fn client(&self) -> Result<&Client> {
        if self.client.get().is_none() {
            let mut client = Client::new(self.settings.timeout, self.settings.policy.clone())?;
            if let Some((cache, ttl)) = &self.settings.cache {
                client = client.with_cache(cache.clone(), *ttl);
            }
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
    crate::cost::check_budget(&call.settings, &req, args.max_cost)?;
    let outcome = job.answer(&call, req.clone()).await;
    call.log(&req, &outcome);
    let result = outcome?;
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

/// The prompt file `--prompt` names, for the commands that count or price a request
/// without sending it.
pub fn load_prompt(
    spec: Option<&str>,
    dir: Option<&std::path::Path>,
    env: &Env,
) -> Result<Option<PromptFile>> {
    spec.map(|spec| crate::prompts::load(spec, &crate::prompts::search_dirs(dir, env)))
        .transpose()
}

/// The request a prompt file (or none) makes of `text`, as `complete` would send it.
pub fn counted_request(
    prompt: Option<&PromptFile>,
    system: Option<String>,
    vars: &[String],
    text: String,
    max_tokens: u64,
) -> Result<Request> {
    let vars = crate::prompts::parse_vars(vars)?;
    let (system, messages) = match prompt {
        Some(p) => (
            system.or_else(|| p.meta.system.clone()),
            p.render(&text, &vars)?,
        ),
        None if !vars.is_empty() => {
            return Err(Error::usage(
                "--var fills a prompt file's template: add --prompt NAME",
            ));
        }
        None => (system, vec![Message::user_text(text)]),
    };
    Ok(Request {
        system,
        messages,
        max_tokens,
        ..Default::default()
    })
}

/// The conversation id for this call and its earlier turns.
fn conversation(
    args: &RequestArgs,
    settings: &Settings,
    env: &Env,
) -> Result<(String, Vec<crate::store::Turn>)> {
    if !args.continue_last && args.cid.is_none() {
        return Ok((crate::store::new_conversation_id(), Vec::new()));
    }
    let path = settings
        .log_path
        .clone()
        .or_else(|| crate::store::default_path(env))
        .ok_or_else(|| Error::config("no call log to continue from: set HOME or XDG_DATA_HOME"))?;
    let no_log = || {
        Error::usage(format!(
            "no earlier conversation to continue in the call log {}",
            path.display()
        ))
    };
    if !path.exists() {
        return Err(no_log());
    }
    let conn = crate::store::open(&path).map_err(Error::config)?;
    let id = match &args.cid {
        Some(id) => id.clone(),
        None => crate::store::last_conversation(&conn)
            .map_err(|e| Error::config(format!("cannot read the call log: {e}")))?
            .ok_or_else(no_log)?,
    };
    let turns = crate::store::turns(&conn, &id)
        .map_err(|e| Error::config(format!("cannot read the call log: {e}")))?;
    if turns.is_empty() && args.cid.is_some() {
        return Err(Error::usage(format!(
            "conversation {id} has no successful turns in {}",
            path.display()
        )));
    }
    // A turn too large for the log was stored cut short: replaying it would send a
    // different conversation than the one that happened.
    let cut = |t: &str| t.contains(LOG_CUT_MARK);
    if turns
        .iter()
        .any(|t| cut(&t.input) || cut(&t.reply) || t.system.as_deref().is_some_and(cut))
    {
        return Err(Error::usage(format!(
            "conversation {id} cannot be continued: one of its turns was larger than {} KiB and the call log kept only its start",
            MAX_LOG_FIELD >> 10
        ))
        .with_hint("start a new conversation (without -c/--cid) and send what matters of it again"));
    }
    Ok((id, turns))
}

/// The most of one text (input, system prompt, reply, each message) a call-log row keeps.
pub const MAX_LOG_FIELD: usize = 64 << 10;
/// Starts the note that replaces the rest of a longer text in the log.
pub const LOG_CUT_MARK: &str = "[llmpipe: cut in the call log:";

/// `text` if it fits in the log, else its first [`MAX_LOG_FIELD`] bytes and a note with
/// the whole text's length and SHA-256 (to match it against a file you kept).
pub fn log_text(text: &str) -> String {
    if text.len() <= MAX_LOG_FIELD {
        return text.to_string();
    }
    use sha2::{Digest, Sha256};
    let mut end = MAX_LOG_FIELD;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let hash: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}\n{LOG_CUT_MARK} {} bytes in all, sha256 {hash}]",
        &text[..end],
        text.len()
    )
}

/// Every string in `v` through [`log_text`] (values here are at most serde_json's 128
/// levels deep: they were parsed or built by llmpipe).
fn log_value(v: &mut Value) {
    match v {
        Value::String(s) if s.len() > MAX_LOG_FIELD => *s = log_text(s),
        Value::Array(a) => a.iter_mut().for_each(log_value),
        Value::Object(o) => o.values_mut().for_each(log_value),
        _ => {}
    }
}

/// A message's tokens plus the chat format's few tokens of overhead.
fn message_tokens(m: &Message, count: &dyn Fn(&str) -> u64) -> u64 {
    4 + m
        .content
        .iter()
        .map(|p| match p {
            Part::Text(t) => count(t),
            Part::Image(_) => 0,
        })
        .sum::<u64>()
}

fn log_record(call: &Call, req: &Request, outcome: &Result<Value>) -> crate::store::Record {
    let text_of = |m: &Message| -> String {
        m.content
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Image(_) => "[image]",
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                crate::provider::Role::User => "user",
                crate::provider::Role::Assistant => "assistant",
            };
            json!({"role": role, "content": log_text(&text_of(m))})
        })
        .collect();
    let input = log_text(&req.messages.last().map(text_of).unwrap_or_default());
    let (result, error, exit_code, printed) = match outcome {
        Ok(r) => (Some(r), None, 0, r.clone()),
        Err(e) => {
            let mut printed = e.result.as_deref().cloned().unwrap_or_else(|| json!({}));
            printed["error"] = e.to_json();
            (
                e.result.as_deref(),
                Some(e.message.clone()),
                e.exit_code(),
                printed,
            )
        }
    };
    let s = |k: &str| result.and_then(|r| r[k].as_str()).map(str::to_owned);
    let n = |v: &Value| v.as_u64();
    let usage = result.map(|r| r["usage"].clone()).unwrap_or(Value::Null);
    crate::store::Record {
        time: crate::store::rfc3339(std::time::SystemTime::now()),
        command: call.command.to_string(),
        provider: s("provider").or_else(|| {
            outcome
                .as_ref()
                .err()
                .and_then(|e| e.provider.map(str::to_owned))
        }),
        model: s("model"),
        requested_model: s("requested_model")
            .or_else(|| Some(call.settings.targets[0].model.clone())),
        prompt: call.prompt.as_ref().map(PromptFile::label),
        system: req.system.as_deref().map(log_text),
        messages: Value::Array(messages),
        input,
        reply: s("text").map(|t| log_text(&t)),
        finish_reason: s("finish_reason"),
        input_tokens: n(&usage["input_tokens"]).unwrap_or(0),
        output_tokens: n(&usage["output_tokens"]).unwrap_or(0),
        cached_input_tokens: n(&usage["cached_input_tokens"]).unwrap_or(0),
        cost_usd: result.and_then(|r| r["cost_usd"].as_f64()),
        latency_ms: result.and_then(|r| n(&r["latency_ms"])),
        attempts: result.and_then(|r| n(&r["attempts"])),
        request_id: s("request_id"),
        conversation_id: call.conversation_id.clone(),
        exit_code,
        error,
        cached: result.is_some_and(|r| r["cached"] == json!(true)),
        output: {
            let mut printed = printed;
            log_value(&mut printed);
            printed
        },
    }
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
    // A cached answer was not paid for: no tokens, no cost, no attempts.
    for call in calls.iter().filter(|c| !c.cached) {
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
    let mut result = json!({
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
    });
    if last.cached {
        result["cached"] = json!(true);
    }
    result
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
