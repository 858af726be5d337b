//! `classify`: one label from a fixed set, sent as an enum schema, matched forgivingly, and
//! only ever printed as spelled in the set.

use std::time::Instant;

use serde_json::{Value, json};

use super::call::{Call, run_job};
use super::job::Job;
use crate::chat::{Format, Request};
use crate::cli::ClassifyArgs;
use crate::config::Context;
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::result::CallResult;

/// Room for a constrained classify reply: a forced tool call costs a few dozen tokens.
const CLASSIFY_MIN_MAX_TOKENS: u64 = 64;

pub async fn run(args: &ClassifyArgs, ctx: &Context) -> Result<()> {
    let call = Call::new(&args.request, ctx, "classify")?;
    let labels: Vec<String> = if args.labels.is_empty() {
        call.prompt
            .as_ref()
            .and_then(|p| p.meta.labels.clone())
            .ok_or_else(|| {
                Error::usage("classify needs labels: --labels a,b,c or a prompt file with labels")
            })?
    } else {
        args.labels.iter().map(|l| l.trim().to_string()).collect()
    };
    let job = Job::Classify(Classify::new(labels)?);
    run_job(&args.request, call, job, false).await
}

pub struct Classify {
    labels: Vec<String>,
}

impl Classify {
    /// The label set: non-empty labels, unique ignoring case.
    pub fn new(labels: Vec<String>) -> Result<Classify> {
        if labels.iter().any(String::is_empty) {
            return Err(Error::usage("--labels: a label is empty"));
        }
        let mut lower: Vec<String> = labels.iter().map(|l| l.to_lowercase()).collect();
        lower.sort();
        lower.dedup();
        if lower.len() != labels.len() {
            return Err(Error::usage(
                "--labels: labels must be unique (ignoring case)",
            ));
        }
        Ok(Classify { labels })
    }

    /// The enum schema as the output format, and the instruction in the system prompt.
    pub fn shape(&self, req: &mut Request) {
        req.format = Format::Schema {
            name: "classify".into(),
            schema: json!({
                "type": "object",
                "properties": {"label": {"type": "string", "enum": self.labels}},
                "required": ["label"],
                "additionalProperties": false,
            }),
        };
        if req.max_tokens < CLASSIFY_MIN_MAX_TOKENS {
            output::debug(&format!(
                "max_tokens raised from {} to {CLASSIFY_MIN_MAX_TOKENS}: the constrained reply needs room",
                req.max_tokens
            ));
            req.max_tokens = CLASSIFY_MIN_MAX_TOKENS;
        }
        let instruction = format!(
            "Classify the input. Answer with exactly one of these labels and nothing else: {}",
            self.labels.join(", ")
        );
        req.system = Some(match req.system.take() {
            Some(sys) => format!("{sys}\n\n{instruction}"),
            None => instruction,
        });
    }

    pub async fn answer(&self, call: &Call, req: Request) -> Result<CallResult> {
        let started = Instant::now();
        let outcome = call.send(&req, None).await?;
        let mut result =
            call.usable_result(std::slice::from_ref(&outcome), started, req.max_tokens)?;
        match match_label(&outcome.response.text, &self.labels) {
            Some(label) => {
                result.label = Some(label.to_string());
                Ok(result)
            }
            None => Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model answered `{}`, which is not one of: {}",
                    outcome.response.text.trim(),
                    self.labels.join(", ")
                ),
            )
            .with_result(result)),
        }
    }
}

/// A batch job's classify: the same label set and matching as a live run.
impl Classify {
    /// A batch answer: the label, or exit 6 with the result.
    pub fn check(&self, reply: &str, mut result: CallResult) -> Result<CallResult> {
        match match_label(reply, &self.labels) {
            Some(label) => {
                result.label = Some(label.to_string());
                Ok(result)
            }
            None => Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model answered `{}`, which is not one of: {}",
                    reply.trim(),
                    self.labels.join(", ")
                ),
            )
            .with_result(result)),
        }
    }
}

/// The label a reply names, spelled as in the set. Accepts `{"label": …}`, a JSON string,
/// or text with surrounding whitespace, quotes, backticks and trailing `.!,;:`.
pub fn match_label<'a>(reply: &str, labels: &'a [String]) -> Option<&'a str> {
    let from_json = match serde_json::from_str::<Value>(reply.trim()) {
        Ok(Value::Object(o)) => o.get("label").and_then(Value::as_str).map(str::to_owned),
        Ok(Value::String(s)) => Some(s),
        _ => None,
    };
    let wanted = normalise(from_json.as_deref().unwrap_or(reply));
    labels
        .iter()
        .find(|l| normalise(l).to_lowercase() == wanted.to_lowercase())
        .map(String::as_str)
}

fn normalise(s: &str) -> &str {
    let mut s = s.trim();
    loop {
        let before = s;
        s = s.trim_end_matches(['.', '!', ',', ';', ':']).trim();
        for q in ['"', '\'', '`'] {
            if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
                s = inner.trim();
            }
        }
        if s == before {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_onto_the_set() {
        let labels: Vec<String> = ["positive", "negative", "Not Sure"]
            .map(String::from)
            .to_vec();
        for (reply, want) in [
            ("positive", Some("positive")),
            ("  Positive.\n", Some("positive")),
            ("\"NEGATIVE\"", Some("negative")),
            ("`negative`!", Some("negative")),
            ("'not sure';", Some("Not Sure")),
            ("{\"label\": \"negative\"}", Some("negative")),
            ("\"positive\".", Some("positive")),
            ("neutral", None),
            ("positive, mostly", None),
            ("", None),
        ] {
            assert_eq!(match_label(reply, &labels), want, "{reply:?}");
        }
    }
}
