//! `complete` and `stream`: one request, the reply whole or as it arrives.

use std::time::Instant;

use serde_json::json;

use crate::cli::RequestArgs;
use crate::config::{Env, Settings};
use crate::error::{Error, Kind, Result};
use crate::provider::client::Client;
use crate::provider::{FinishReason, Message, Part, Request, Response, Role, build_request};
use crate::{image, input, output};

pub async fn run(args: &RequestArgs, stream: bool) -> Result<()> {
    output::set_verbose(args.verbose);
    let env = Env::load()?;
    let settings = Settings::resolve(args, &env)?;
    let text = input::gather(&args.prompt, &args.files)?;
    input::require_text(&text)?;
    let mut content = args
        .images
        .iter()
        .map(|spec| image::load(spec).map(Part::Image))
        .collect::<Result<Vec<_>>>()?;
    content.push(Part::Text(text));
    let req = Request {
        system: settings.system.clone(),
        messages: vec![Message {
            role: Role::User,
            content,
        }],
        max_tokens: settings.max_tokens,
        temperature: settings.temperature,
        stop: settings.stop.clone(),
    };

    if args.dry_run {
        let http = build_request(&settings.targets[0], &req, stream);
        let shown = serde_json::to_string_pretty(&http.redacted())
            .map_err(|e| Error::internal(e.to_string()))?;
        output::out_line(&shown);
        return Ok(());
    }

    crate::cost::check_budget(&settings, &req, args.max_cost)?;
    let client = Client::new(settings.timeout, settings.policy.clone())?;
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
        client
            .send(&settings.targets, &req, Some(&mut sink))
            .await?
    } else {
        client.send(&settings.targets, &req, None).await?
    };
    let latency = started.elapsed();

    let mut result = super::result_object(&outcome, latency, &settings.pricing, None);
    if stream && json {
        // `type` first, so each JSON line says what it is at a glance.
        let mut typed = json!({"type": "result"});
        if let (Some(t), Some(r)) = (typed.as_object_mut(), result.as_object()) {
            t.extend(r.clone());
        }
        result = typed;
    }
    if output::verbose() || (stream && output::stderr_is_terminal()) {
        summary(&result);
    }
    if let Err(mut e) = usable(&outcome.response, settings.max_tokens) {
        if json {
            e.result = Some(Box::new(result));
        }
        return Err(e);
    }
    match (json, stream) {
        (true, _) => output::out_line(&result.to_string()),
        (false, true) => output::out("\n"),
        (false, false) => output::out_line(&outcome.response.text),
    }
    Ok(())
}

/// Exit 6: the model answered (and was paid) but there is nothing to use.
fn usable(r: &Response, max_tokens: u64) -> Result<()> {
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

/// One stderr line with what the call cost.
fn summary(result: &serde_json::Value) {
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
