//! `classify`: one label from a fixed set. The request constrains the reply to the set
//! (an enum schema) where the provider allows; the reply is still normalised and checked,
//! so a label outside the set is never printed.

use std::time::Instant;

use serde_json::{Value, json};

use super::Call;
use crate::cli::ClassifyArgs;
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::provider::Format;

/// Room for a constrained reply: a forced tool call costs a few dozen tokens.
const MIN_MAX_TOKENS: u64 = 64;

pub async fn run(args: &ClassifyArgs) -> Result<()> {
    let call = Call::prepare(&args.request)?;
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

    let mut req = call.request.clone();
    let instruction = format!(
        "Classify the input. Answer with exactly one of these labels and nothing else: {}",
        labels.join(", ")
    );
    req.system = Some(match req.system.take() {
        Some(sys) => format!("{sys}\n\n{instruction}"),
        None => instruction,
    });
    req.format = Format::Schema {
        name: "classify".into(),
        schema: json!({
            "type": "object",
            "properties": {"label": {"type": "string", "enum": labels}},
            "required": ["label"],
            "additionalProperties": false,
        }),
    };
    if req.max_tokens < MIN_MAX_TOKENS {
        output::debug(&format!(
            "max_tokens raised from {} to {MIN_MAX_TOKENS}: the constrained reply needs room",
            req.max_tokens
        ));
        req.max_tokens = MIN_MAX_TOKENS;
    }
    if args.request.dry_run {
        return call.print_dry_run(&req, false);
    }

    let started = Instant::now();
    let outcome = call.send(&req, None).await?;
    let usable = super::complete::usable(&outcome.response, req.max_tokens);
    let reply = outcome.response.text.clone();
    let mut result = call.result(std::slice::from_ref(&outcome), started);
    if output::verbose() {
        super::summary(&result);
    }
    let label = usable.and_then(|()| {
        match_label(&reply, &labels).ok_or_else(|| {
            Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model answered `{}`, which is not one of: {}",
                    reply.trim(),
                    labels.join(", ")
                ),
            )
        })
    });
    let label = match label {
        Ok(l) => l,
        Err(mut e) => {
            if args.request.json {
                e.result = Some(Box::new(result));
            }
            return Err(e);
        }
    };
    if args.request.json {
        result["label"] = json!(label);
        output::out_line(&result.to_string());
    } else {
        output::out_line(label);
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
