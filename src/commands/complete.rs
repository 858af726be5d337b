//! `complete` and `stream`: one request, the reply whole or as it arrives.

use std::time::Instant;

use serde_json::json;

use super::Call;
use crate::cli::RequestArgs;
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::provider::{FinishReason, Response};

pub async fn run(args: &RequestArgs, stream: bool) -> Result<()> {
    let call = Call::prepare(args)?;
    let req = call.request.clone();
    if args.dry_run {
        return call.print_dry_run(&req, stream);
    }
    let started = Instant::now();
    let json = args.json;
    let outcome = if stream {
        let mut sink = |delta: &str| {
            if json {
                output::out_line(&json!({"type": "delta", "text": delta}).to_string());
            } else {
                output::out(delta);
            }
            Ok(())
        };
        call.send(&req, Some(&mut sink)).await?
    } else {
        call.send(&req, None).await?
    };
    let text = outcome.response.text.clone();
    let usable = usable(&outcome.response, req.max_tokens);
    let mut result = call.result(std::slice::from_ref(&outcome), started);
    if stream && json {
        // `type` first, so each JSON line says what it is at a glance.
        let mut typed = json!({"type": "result"});
        if let (Some(t), Some(r)) = (typed.as_object_mut(), result.as_object()) {
            t.extend(r.clone());
        }
        result = typed;
    }
    if output::verbose() || (stream && output::stderr_is_terminal()) {
        super::summary(&result);
    }
    if let Err(mut e) = usable {
        if json {
            e.result = Some(Box::new(result));
        }
        return Err(e);
    }
    match (json, stream) {
        (true, _) => output::out_line(&result.to_string()),
        (false, true) => output::out("\n"),
        (false, false) => output::out_line(&text),
    }
    Ok(())
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
