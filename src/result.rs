//! The SPEC's result object, typed: one struct from which stdout (`--json`), the stream's
//! final `{"type":"result",…}` line, an `--each-line` output line, the call-log record, the
//! summary line and the exit-6 error object are all made. A mistyped member name is a
//! compile error, not a silently missing key.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::chat::{FinishReason, Usage};
use crate::config::Pricing;
use crate::error::ErrorBody;
use crate::provider::client::Outcome;

/// One answer: the last call's reply, with usage, cost and attempts added up over every call
/// that made it (a first reply and its repairs). Members serialise in the SPEC's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallResult {
    pub provider: &'static str,
    /// The id the provider reports (often dated), else the requested one.
    pub model: String,
    /// What was asked for, alias resolved.
    pub requested_model: String,
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// `None` (JSON `null`) when a model has no known price: never a guess.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    pub request_id: Option<String>,
    pub prompt: Option<String>,
    pub attempts: u32,
    pub provider_finish_reason: Option<String>,
    /// Answered from the response cache: nothing was sent or paid.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// classify: the label, spelled as in the set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// extract-json: the value (which may itself be `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// extract-json: follow-up requests it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repairs: Option<u32>,
    /// The thinking text the API returned (`--effort` on Anthropic models), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// The calls the reply asks for (handed to the script), or with `--run-tools` every
    /// call made, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<crate::tools::CallOut>>,
    /// With `--run-tools`: model turns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_rounds: Option<u32>,
    /// The tool turns, for the call log (never printed).
    #[serde(skip)]
    pub transcript: Option<Box<crate::tools::Transcript>>,
    /// Answered through the provider's Batch API (and priced at its batch rate).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub batch: bool,
}

impl CallResult {
    /// The result of `calls` (at least one), the last of which gave the answer.
    pub fn from_calls(
        calls: &[Outcome<'_>],
        latency: Duration,
        pricing: &Pricing,
        prompt: Option<String>,
    ) -> CallResult {
        let last = calls.last().expect("at least one call");
        let r = &last.response;
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
            usage.cache_write_1h_input_tokens += u.cache_write_1h_input_tokens;
            if let Some(n) = u.reasoning_tokens {
                *usage.reasoning_tokens.get_or_insert(0) += n;
            }
            attempts += call.attempts;
            let price = pricing.lookup(&[reported_model(call), &call.target.model]);
            cost = cost
                .zip(price.and_then(|p| p.try_cost(u)))
                .map(|(a, b)| a + b);
        }
        let model = reported_model(last).to_string();
        let cost_usd = cost.map(crate::cost::round_usd);
        if cost_usd.is_none() {
            crate::output::warn(&format!(
                "no price known for model {model}: cost_usd is null (add it under [prices] in llmpipe.toml)"
            ));
        }
        CallResult {
            provider: last.target.kind.name(),
            model,
            requested_model: last.target.model.clone(),
            text: r.text.clone(),
            finish_reason: r.finish_reason,
            usage,
            cost_usd,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            request_id: r.request_id.clone(),
            prompt,
            attempts,
            provider_finish_reason: r.provider_finish_reason.clone(),
            cached: last.cached,
            label: None,
            json: None,
            repairs: None,
            reasoning: r.reasoning.clone(),
            tool_calls: None,
            tool_rounds: None,
            transcript: None,
            batch: false,
        }
    }

    /// The result of one batch item's answer (`outcome`), priced at the provider's batch
    /// rate in effect when the job was submitted (`submitted`; now when not known);
    /// `latency_ms` is 0 (the provider does not say when the item ran).
    pub fn batch_item(
        outcome: &Outcome<'_>,
        pricing: &Pricing,
        prompt: Option<String>,
        submitted: Option<std::time::SystemTime>,
    ) -> CallResult {
        let mut r = CallResult::from_calls(
            std::slice::from_ref(outcome),
            Duration::ZERO,
            pricing,
            prompt,
        );
        let price = pricing.lookup(&[reported_model(outcome), &outcome.target.model]);
        let price = match submitted {
            Some(t) => price.map(|p| p.at(t)),
            None => price,
        };
        r.cost_usd = price.map(|p| p.batch_cost(&outcome.response.usage));
        r.batch = true;
        r
    }

    /// The compact JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `stream --json`'s last line: `type` first, so each line says what it is at a glance.
    pub fn typed_line(&self) -> String {
        Line {
            kind: Some("result"),
            result: Some(self),
            ..Line::default()
        }
        .to_json()
    }

    /// The one stderr line with what the call cost (`-v`, or a streaming terminal).
    pub fn summary(&self) -> String {
        format!(
            "llmpipe: {} · {} in / {} out tokens · {} · {} ms · {} attempt(s)",
            self.model,
            self.usage.input_tokens,
            self.usage.output_tokens,
            self.cost_usd
                .map_or_else(|| "cost unknown".into(), crate::cost::usd_text),
            self.latency_ms,
            self.attempts,
        )
    }
}

/// The model id the provider reported, or the requested one when it reported none.
fn reported_model<'a>(call: &'a Outcome<'_>) -> &'a str {
    if call.response.model.is_empty() {
        &call.target.model
    } else {
        &call.response.model
    }
}

/// One JSON line of output: a result, an error, or both (exit 6: the answer was paid for),
/// with the stream's `type`, or an `--each-line` item's `index` and `input`, in front.
#[derive(Debug, Default, Serialize)]
pub struct Line<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The item as read (`null` when it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<&'a Value>,
    #[serde(flatten)]
    pub result: Option<&'a CallResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody<'a>>,
}

impl Line<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Kind};

    fn sample() -> CallResult {
        CallResult {
            provider: "openai",
            model: "gpt-4o-2024-08-06".into(),
            requested_model: "gpt-4o".into(),
            text: "hi".into(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 12,
                output_tokens: 3,
                ..Usage::default()
            },
            cost_usd: Some(0.00006),
            latency_ms: 812,
            request_id: Some("req_1".into()),
            prompt: None,
            attempts: 1,
            provider_finish_reason: Some("stop".into()),
            cached: false,
            label: None,
            json: None,
            repairs: None,
            reasoning: None,
            tool_calls: None,
            tool_rounds: None,
            transcript: None,
            batch: false,
        }
    }

    /// The SPEC's member names and order, byte for byte: scripts and the call log read them.
    #[test]
    fn members_in_the_spec_order() {
        assert_eq!(
            sample().to_json_line(),
            r#"{"provider":"openai","model":"gpt-4o-2024-08-06","requested_model":"gpt-4o","text":"hi","finish_reason":"stop","usage":{"input_tokens":12,"output_tokens":3,"cached_input_tokens":0,"cache_write_input_tokens":0},"cost_usd":0.00006,"latency_ms":812,"request_id":"req_1","prompt":null,"attempts":1,"provider_finish_reason":"stop"}"#
        );
        let mut r = sample();
        r.json = Some(Value::Null);
        r.repairs = Some(0);
        r.cached = true;
        r.cost_usd = None;
        let v: Value = serde_json::from_str(&r.typed_line()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.first(), Some(&"type"));
        assert_eq!(&keys[keys.len() - 3..], ["cached", "json", "repairs"]);
        assert_eq!(v["json"], Value::Null);
        assert_eq!(v["cost_usd"], Value::Null);
    }

    #[test]
    fn item_and_error_lines() {
        let input = Value::String("a line".into());
        let err = Error::new(Kind::UnusableAnswer, "not a label");
        let r = sample();
        let line = Line {
            index: Some(4),
            input: Some(&input),
            result: Some(&r),
            error: Some(err.body()),
            ..Line::default()
        };
        let v: Value = serde_json::from_str(&line.to_json()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(&keys[..3], ["index", "input", "provider"]);
        assert_eq!(keys.last(), Some(&"error"));
        assert_eq!(v["error"]["type"], "unusable_answer");
        assert_eq!(v["error"]["exit_code"], 6);
        let unread = Line {
            index: Some(0),
            input: Some(&Value::Null),
            error: Some(err.body()),
            ..Line::default()
        };
        assert_eq!(
            unread.to_json(),
            r#"{"index":0,"input":null,"error":{"type":"unusable_answer","message":"not a label","status":null,"provider":null,"request_id":null,"exit_code":6}}"#
        );
    }
}
