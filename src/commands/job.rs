//! What a request command asks of one input, whether it runs once or per `--each-line`
//! item: how it shapes the request, and how it turns replies into a result object.

use std::time::Instant;

use serde_json::{Value, json};

use super::Call;
use crate::error::{Error, Kind, Result};
use crate::jsonx::{self, Validator};
use crate::output;
use crate::provider::{FinishReason, Format, Message, Part, Request, Response, Role};

pub enum Job {
    /// `complete` and `stream`: the text.
    Complete,
    /// `extract-json`: a JSON value, valid against the schema if there is one.
    Extract {
        schema: Option<Value>,
        /// The name the APIs see (`^[a-zA-Z0-9_-]{1,64}$`).
        name: String,
        validator: Option<Validator>,
        repair: u32,
    },
    /// `classify`: one label of the set.
    Classify { labels: Vec<String> },
}

/// Room for a constrained classify reply: a forced tool call costs a few dozen tokens.
const CLASSIFY_MIN_MAX_TOKENS: u64 = 64;

impl Job {
    /// Adds the job's instruction to the system prompt and sets the output format.
    pub fn shape(&self, req: &mut Request) {
        let instruction = match self {
            Job::Complete => return,
            Job::Extract { schema, name, .. } => {
                req.format = match schema {
                    Some(schema) => Format::Schema {
                        name: name.clone(),
                        schema: schema.clone(),
                    },
                    None => Format::Json,
                };
                match schema {
                    Some(s) => format!(
                        "Reply with only a JSON value that matches this JSON Schema, without prose or code fences:\n{s}"
                    ),
                    None => "Reply with only a JSON object, without prose or code fences.".into(),
                }
            }
            Job::Classify { labels } => {
                req.format = Format::Schema {
                    name: "classify".into(),
                    schema: json!({
                        "type": "object",
                        "properties": {"label": {"type": "string", "enum": labels}},
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
                format!(
                    "Classify the input. Answer with exactly one of these labels and nothing else: {}",
                    labels.join(", ")
                )
            }
        };
        req.system = Some(match req.system.take() {
            Some(sys) => format!("{sys}\n\n{instruction}"),
            None => instruction,
        });
    }

    /// Sends `req` (and any repair rounds) and returns the result object with the job's
    /// own member (`json`, `label`). An unusable answer is exit 6 with the paid-for result
    /// object attached to the error.
    ///
    /// `before_repair` is asked before each repair round is sent, with the repair request
    /// and the result paid for so far (its `cost_usd` adds up the calls); an error from it
    /// (`--max-cost`) ends the answer with that error, carrying the paid-for result.
    pub async fn answer(
        &self,
        call: &Call,
        mut req: Request,
        before_repair: &dyn Fn(&Request, &Value) -> Result<()>,
    ) -> Result<Value> {
        let started = Instant::now();
        let mut calls = Vec::new();
        loop {
            let outcome = call.send(&req, None).await?;
            let reply = outcome.response.text.clone();
            let usable = usable(&outcome.response, req.max_tokens);
            calls.push(outcome);
            let mut result = call.result(&calls, started);
            let unusable = |e: Error, result: Value| {
                let mut e = e;
                e.result = Some(Box::new(result));
                Err(e)
            };
            if let Err(e) = usable {
                return unusable(e, result);
            }
            match self {
                Job::Complete => return Ok(result),
                Job::Classify { labels } => {
                    return match match_label(&reply, labels) {
                        Some(label) => {
                            result["label"] = json!(label);
                            Ok(result)
                        }
                        None => unusable(
                            Error::new(
                                Kind::UnusableAnswer,
                                format!(
                                    "the model answered `{}`, which is not one of: {}",
                                    reply.trim(),
                                    labels.join(", ")
                                ),
                            ),
                            result,
                        ),
                    };
                }
                Job::Extract {
                    validator, repair, ..
                } => {
                    let problems = match jsonx::extract(&reply) {
                        Ok(value) => {
                            let errors = validator
                                .as_ref()
                                .map(|v| v.errors(&value))
                                .unwrap_or_default();
                            if errors.is_empty() {
                                result["json"] = value;
                                result["repairs"] = json!(calls.len() - 1);
                                return Ok(result);
                            }
                            errors
                        }
                        Err(e) => vec![e],
                    };
                    let repairs_done = calls.len() as u32 - 1;
                    if repairs_done >= *repair {
                        output::err_line(&format!("llmpipe: the model's last reply was:\n{reply}"));
                        let what = if validator.is_some() {
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
                        return unusable(e, result);
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
                        problems.iter().take(10).cloned().collect::<Vec<_>>().join("\n- ")
                    )));
                    if let Err(e) = before_repair(&req, &result) {
                        result["repairs"] = json!(repairs_done);
                        return unusable(e, result);
                    }
                }
            }
        }
    }

    /// The member a successful result of this job has (what `--resume` looks for).
    pub fn produces(&self) -> &'static str {
        match self {
            Job::Complete => "text",
            Job::Extract { .. } => "json",
            Job::Classify { .. } => "label",
        }
    }

    /// The plain (not `--json`) output of a result.
    pub fn plain(&self, result: &Value, pretty: bool) -> String {
        match self {
            Job::Complete => result["text"].as_str().unwrap_or_default().to_string(),
            Job::Classify { .. } => result["label"].as_str().unwrap_or_default().to_string(),
            Job::Extract { .. } => if pretty {
                serde_json::to_string_pretty(&result["json"])
            } else {
                serde_json::to_string(&result["json"])
            }
            .unwrap_or_default(),
        }
    }
}

/// Exit 6: the model answered (and was paid) but there is nothing to use.
pub fn usable(r: &Response, max_tokens: u64) -> Result<()> {
    let unusable = |msg: String| Err(Error::new(Kind::UnusableAnswer, msg));
    if r.finish_reason == FinishReason::Refusal {
        let why = r.refusal.as_deref().unwrap_or(r.text.as_str()).trim();
        return unusable(if why.is_empty() {
            "the model refused to answer".into()
        } else {
            format!("the model refused to answer: {why}")
        });
    }
    if r.text.trim().is_empty() {
        if r.finish_reason == FinishReason::Length {
            let reasoning = r
                .usage
                .reasoning_tokens
                .filter(|n| *n > 0)
                .map(|n| format!(" ({n} of them on reasoning)"))
                .unwrap_or_default();
            return Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model used all {max_tokens} output tokens{reasoning} before writing any text"
                ),
            )
            .with_hint("raise --max-tokens"));
        }
        if r.finish_reason == FinishReason::ContentFilter {
            return unusable("the reply was withheld by the provider's content filter".into());
        }
        return unusable("the model returned an empty answer".into());
    }
    Ok(())
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
