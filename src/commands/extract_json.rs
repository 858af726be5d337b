//! `extract-json`: a reply that must be a JSON value, valid against a schema when one is
//! given, with repair rounds that show the model its reply and what is wrong with it.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::Call;
use crate::cli::ExtractArgs;
use crate::error::{Error, Kind, Result};
use crate::jsonx::{self, Validator};
use crate::output;
use crate::provider::{Format, Message, Part, Role};

pub async fn run(args: &ExtractArgs) -> Result<()> {
    let call = Call::prepare(&args.request)?;
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

    let mut req = call.request.clone();
    let instruction = match &schema {
        Some(s) => format!(
            "Reply with only a JSON value that matches this JSON Schema, without prose or code fences:\n{s}"
        ),
        None => "Reply with only a JSON object, without prose or code fences.".to_string(),
    };
    req.system = Some(match req.system.take() {
        Some(sys) => format!("{sys}\n\n{instruction}"),
        None => instruction,
    });
    req.format = match schema {
        Some(schema) => Format::Schema {
            name: schema_name(call.prompt.as_ref().map(|p| p.name.as_str())),
            schema,
        },
        None => Format::Json,
    };
    if args.request.dry_run {
        return call.print_dry_run(&req, false);
    }

    let started = Instant::now();
    let mut calls = Vec::new();
    let mut last_problem;
    loop {
        let outcome = call.send(&req, None).await?;
        let reply = outcome.response.text.clone();
        let usable = super::complete::usable(&outcome.response, req.max_tokens);
        calls.push(outcome);
        if let Err(mut e) = usable {
            if args.request.json {
                e.result = Some(Box::new(call.result(&calls, started)));
            }
            return Err(e);
        }
        let problems = match jsonx::extract(&reply) {
            Ok(value) => {
                let errors = validator
                    .as_ref()
                    .map(|v| v.errors(&value))
                    .unwrap_or_default();
                if errors.is_empty() {
                    return print(args, &call, &calls, started, &value);
                }
                errors
            }
            Err(e) => vec![e],
        };
        let repairs_done = calls.len() as u32 - 1;
        last_problem = problems[0].clone();
        if repairs_done >= args.repair {
            output::err_line(&format!("llmpipe: the model's last reply was:\n{reply}"));
            let what = if validator.is_some() {
                "a JSON value valid against the schema"
            } else {
                "a JSON value"
            };
            let mut e = Error::new(
                Kind::UnusableAnswer,
                format!("the reply is not {what} after {repairs_done} repair(s): {last_problem}"),
            )
            .with_hint("raise --repair, simplify the schema, or try a stronger model");
            if args.request.json {
                e.result = Some(Box::new(call.result(&calls, started)));
            }
            return Err(e);
        }
        output::debug(&format!(
            "repair {} after: {}",
            repairs_done + 1,
            problems.join("; ")
        ));
        req.messages.push(Message {
            role: Role::Assistant,
            content: vec![Part::Text(reply)],
        });
        req.messages.push(Message::user_text(format!(
            "That reply cannot be used:\n- {}\nReply again with only the corrected JSON value.",
            problems
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n- ")
        )));
    }
}

fn print(
    args: &ExtractArgs,
    call: &Call,
    calls: &[crate::provider::client::Outcome<'_>],
    started: Instant,
    value: &Value,
) -> Result<()> {
    if args.request.json {
        let mut result = call.result(calls, started);
        result["json"] = value.clone();
        result["repairs"] = json!(calls.len() - 1);
        if output::verbose() {
            super::summary(&result);
        }
        output::out_line(&result.to_string());
        return Ok(());
    }
    if output::verbose() {
        super::summary(&call.result(calls, started));
    }
    let text = if args.pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| Error::internal(e.to_string()))?;
    output::out_line(&text);
    Ok(())
}

/// `--schema`: a file, inline JSON, or the short field list.
fn load_schema(spec: &str) -> Result<(Option<Value>, String)> {
    let path = Path::new(spec);
    if path.is_file() {
        let raw = std::fs::read(path).map_err(|e| {
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
