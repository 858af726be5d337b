//! `extract-json`: where the schema comes from (the work is in `job.rs`).

use std::path::Path;

use serde_json::Value;

use super::{Call, Job, run_job};
use crate::cli::ExtractArgs;
use crate::error::{Error, Result};
use crate::jsonx::{self, Validator};

pub async fn run(args: &ExtractArgs) -> Result<()> {
    let call = Call::new(&args.request, "extract-json")?;
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
    let job = Job::Extract {
        name: schema_name(call.prompt.as_ref().map(|p| p.name.as_str())),
        schema,
        validator,
        repair: args.repair,
    };
    run_job(&args.request, call, job, args.pretty).await
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
