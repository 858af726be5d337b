//! `extract-json`: a reply that must be JSON (valid against the schema when there is one):
//! where the schema comes from, how the request asks for it, and the repair rounds.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::call::{Call, run_job};
use super::job::{BeforeRepair, Job};
use crate::chat::{Format, Message, Request};
use crate::cli::ExtractArgs;
use crate::config::Context;
use crate::error::{Error, Kind, Result};
use crate::jsonx::{self, Validator};
use crate::output;
use crate::result::CallResult;

pub async fn run(args: &ExtractArgs, ctx: &Context) -> Result<()> {
    let call = Call::new(&args.request, ctx, "extract-json")?;
    let (schema, source) = match (&args.schema, &call.prompt) {
        (Some(spec), _) => load_schema(spec)?,
        (None, Some(p)) => match &p.schema {
            Some(s) => (
                Some(s.clone()),
                format!("the schema of {}", p.path.display()),
            ),
            None => (None, String::new()),
        },
        (None, None) => (None, String::new()),
    };
    let validator = schema
        .as_ref()
        .map(|s| Validator::new(s, &source))
        .transpose()?;
    let job = Job::Extract(Extract {
        name: schema_name(call.prompt.as_ref().map(|p| p.name.as_str())),
        schema,
        validator,
        repair: args.repair,
        stops_on_signal: !args.request.each_line,
    });
    run_job(&args.request, call, job, args.pretty).await
}

pub struct Extract {
    schema: Option<Value>,
    /// The name the APIs see (`^[a-zA-Z0-9_-]{1,64}$`).
    name: String,
    validator: Option<Validator>,
    /// Follow-up requests allowed after an invalid reply (`--repair`).
    repair: u32,
    /// A single call (not `--each-line`, `eval` or a batch, which take a stop themselves):
    /// Ctrl-C or SIGTERM during a repair request ends it with the replies already paid for.
    stops_on_signal: bool,
}

impl Extract {
    /// The JSON output format (with the schema when there is one), and the instruction in
    /// the system prompt.
    pub fn shape(&self, req: &mut Request) {
        let instruction = match &self.schema {
            Some(schema) => {
                req.format = Format::Schema {
                    name: self.name.clone(),
                    schema: schema.clone(),
                };
                format!(
                    "Reply with only a JSON value that matches this JSON Schema, without prose or code fences:\n{schema}"
                )
            }
            None => {
                req.format = Format::Json;
                "Reply with only a JSON object, without prose or code fences.".into()
            }
        };
        req.system = Some(match req.system.take() {
            Some(sys) => format!("{sys}\n\n{instruction}"),
            None => instruction,
        });
    }

    /// Sends `req`, then up to `--repair` follow-ups that show the model its invalid reply
    /// and the errors, until a reply is valid.
    pub async fn answer(
        &self,
        call: &Call,
        mut req: Request,
        before_repair: &BeforeRepair<'_>,
    ) -> Result<CallResult> {
        let started = Instant::now();
        let mut calls = Vec::new();
        loop {
            let mut failed_attempts = 0;
            let sending = call.send_counting(&req, None, &mut failed_attempts);
            let sent = if calls.is_empty() || !self.stops_on_signal {
                sending.await
            } else {
                tokio::select! {
                    biased;
                    sent = sending => sent,
                    stop = crate::signals::stopped() => Err(Error::new(
                        Kind::Interrupted,
                        format!("{} during a repair request", stop.what()),
                    )),
                }
            };
            let outcome = match sent {
                Ok(o) => o,
                // A repair request failed: the replies before it were paid for, and the
                // error carries what they cost (and every attempt made).
                Err(e) if !calls.is_empty() => {
                    return Err(e.or_result(|| {
                        let mut paid = call.result(&calls, started);
                        paid.attempts += failed_attempts;
                        paid.repairs = Some(calls.len() as u32 - 1);
                        paid
                    }));
                }
                Err(e) => return Err(e),
            };
            let reply = outcome.response.text.clone();
            calls.push(outcome);
            let mut result = call.usable_result(&calls, started, req.max_tokens)?;
            let repairs_done = calls.len() as u32 - 1;
            let problems = match jsonx::extract(&reply) {
                Ok(value) => {
                    let errors = self
                        .validator
                        .as_ref()
                        .map(|v| v.errors(&value))
                        .unwrap_or_default();
                    if errors.is_empty() {
                        result.json = Some(value);
                        result.repairs = Some(repairs_done);
                        return Ok(result);
                    }
                    errors
                }
                Err(e) => vec![e],
            };
            if repairs_done >= self.repair {
                output::err_line(&format!("llmpipe: the model's last reply was:\n{reply}"));
                let what = if self.validator.is_some() {
                    "a JSON value valid against the schema"
                } else {
                    "a JSON value"
                };
                let e = Error::new(
                    Kind::UnusableAnswer,
                    format!(
                        "the reply is not {what} after {repairs_done} repair(s): {}",
                        problems[0]
                    ),
                )
                .with_hint("raise --repair, simplify the schema, or try a stronger model");
                return Err(e.with_result(result));
            }
            output::debug(&format!(
                "repair {} after: {}",
                repairs_done + 1,
                problems.join("; ")
            ));
            req.messages.push(Message::assistant_text(reply));
            req.messages.push(Message::user_text(format!(
                "That reply cannot be used:\n- {}\nReply again with only the corrected JSON value.",
                problems
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n- ")
            )));
            if let Err(e) = before_repair(&req, &result) {
                result.repairs = Some(repairs_done);
                return Err(e.with_result(result));
            }
        }
    }
}

/// `--schema`: a file, inline JSON, or the short field list.
fn load_schema(spec: &str) -> Result<(Option<Value>, String)> {
    let path = Path::new(spec);
    if path.is_file() {
        let raw = std::fs::File::open(path)
            .and_then(crate::input::read_bounded)
            .map_err(|e| {
                Error::usage(format!(
                    "cannot read schema {spec}: {}",
                    crate::input::io_reason(&e)
                ))
            })?;
        let schema = serde_json::from_slice(&raw)
            .map_err(|e| Error::usage(format!("schema {spec} is not JSON: {e}")))?;
        return Ok((Some(schema), format!("schema {spec}")));
    }
    let trimmed = spec.trim_start();
    if trimmed.starts_with('{') {
        let schema = serde_json::from_str(trimmed)
            .map_err(|e| Error::usage(format!("--schema is not JSON: {e}")))?;
        return Ok((Some(schema), "--schema".into()));
    }
    if spec.ends_with(".json") || spec.contains('/') {
        return Err(Error::usage(format!(
            "cannot read schema {spec}: no such file"
        )));
    }
    Ok((Some(jsonx::schema_from_fields(spec)?), "--schema".into()))
}

/// A name both APIs accept (`^[a-zA-Z0-9_-]{1,64}$`).
fn schema_name(prompt: Option<&str>) -> String {
    let name: String = prompt
        .unwrap_or("extract")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "extract".into()
    } else {
        name
    }
}

impl Extract {
    /// The job for a prompt file's schema (none: any JSON value), as `eval` runs it.
    pub fn for_prompt(prompt: &crate::prompts::PromptFile, repair: u32) -> Result<Extract> {
        let source = format!("the schema of {}", prompt.path.display());
        let validator = prompt
            .schema
            .as_ref()
            .map(|s| Validator::new(s, &source))
            .transpose()?;
        Ok(Extract {
            name: schema_name(Some(&prompt.name)),
            schema: prompt.schema.clone(),
            validator,
            repair,
            stops_on_signal: false,
        })
    }

    /// The schema `--schema` or the prompt file gives, as `run` finds it.
    pub fn schema_for(
        spec: Option<&str>,
        prompt: Option<&crate::prompts::PromptFile>,
    ) -> Result<Option<Value>> {
        Ok(match (spec, prompt) {
            (Some(spec), _) => load_schema(spec)?.0,
            (None, Some(p)) => p.schema.clone(),
            (None, None) => None,
        })
    }

    /// The job for `schema` (kept with the batch job, so results are checked the same way).
    pub fn for_batch(schema: Option<Value>, prompt_name: Option<&str>) -> Result<Extract> {
        let validator = schema
            .as_ref()
            .map(|s| Validator::new(s, "the job's schema"))
            .transpose()?;
        Ok(Extract {
            name: schema_name(prompt_name),
            schema,
            validator,
            repair: 0,
            stops_on_signal: false,
        })
    }

    /// A batch answer: the JSON value (valid against the schema), or exit 6 with the result.
    pub fn check(&self, reply: &str, mut result: CallResult) -> Result<CallResult> {
        let problems = match jsonx::extract(reply) {
            Ok(value) => {
                let errors = self
                    .validator
                    .as_ref()
                    .map(|v| v.errors(&value))
                    .unwrap_or_default();
                if errors.is_empty() {
                    result.json = Some(value);
                    result.repairs = Some(0);
                    return Ok(result);
                }
                errors
            }
            Err(e) => vec![e],
        };
        let what = if self.validator.is_some() {
            "a JSON value valid against the schema"
        } else {
            "a JSON value"
        };
        Err(Error::new(
            Kind::UnusableAnswer,
            format!("the reply is not {what}: {}", problems[0]),
        )
        .with_hint("a batch answer gets no repair round: --resume with this output to run it again")
        .with_result(result))
    }
}
