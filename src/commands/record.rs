//! The call-log record of one request: what was sent, and the result or the error exactly as
//! the command reported it.

use serde_json::{Value, json};

use crate::chat::Request;
use crate::error::Result;
use crate::result::CallResult;
use crate::store::Record;

/// Everything about the call that is not in the request or its outcome.
pub struct CallInfo<'a> {
    /// `complete`, `stream`, `extract-json`, `classify`.
    pub command: &'static str,
    /// The model asked for (alias resolved): what a failed call is logged under.
    pub requested_model: &'a str,
    pub provider: &'static str,
    pub prompt: Option<String>,
    pub conversation_id: &'a str,
}

pub fn record(info: &CallInfo<'_>, req: &Request, outcome: &Result<CallResult>) -> Record {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": log_text(&m.text())}))
        .collect();
    let input = log_text(&req.messages.last().map(|m| m.text()).unwrap_or_default());
    let (result, error, exit_code, printed) = match outcome {
        Ok(r) => (
            Some(r),
            None,
            0,
            serde_json::to_value(r).unwrap_or_default(),
        ),
        Err(e) => {
            let mut printed = e
                .result
                .as_deref()
                .and_then(|r| serde_json::to_value(r).ok())
                .unwrap_or_else(|| json!({}));
            printed["error"] = e.to_json();
            (
                e.result.as_deref(),
                Some(e.message.clone()),
                e.exit_code(),
                printed,
            )
        }
    };
    // A call with tools keeps its tool turns beside the messages, so `-c` can continue it.
    let messages = match result.and_then(|r| r.transcript.as_deref()) {
        Some(t) => {
            let mut v = t.to_json();
            v["messages"] = Value::Array(messages);
            v
        }
        None => Value::Array(messages),
    };
    Record {
        time: crate::store::rfc3339(std::time::SystemTime::now()),
        command: info.command.to_string(),
        provider: Some(
            result
                .map(|r| r.provider)
                .or_else(|| outcome.as_ref().err().and_then(|e| e.provider))
                .unwrap_or(info.provider)
                .to_string(),
        ),
        // A call that failed before the provider named a model is logged under the one
        // asked for, never as "-".
        model: Some(
            result
                .map_or(info.requested_model, |r| r.model.as_str())
                .to_string(),
        ),
        requested_model: Some(
            result
                .map_or(info.requested_model, |r| r.requested_model.as_str())
                .to_string(),
        ),
        prompt: info.prompt.clone(),
        system: req.system.as_deref().map(log_text),
        messages,
        input,
        reply: result.map(|r| log_text(&r.text)),
        finish_reason: result.map(|r| r.finish_reason.as_str().to_string()),
        input_tokens: result.map_or(0, |r| r.usage.input_tokens),
        output_tokens: result.map_or(0, |r| r.usage.output_tokens),
        cached_input_tokens: result.map_or(0, |r| r.usage.cached_input_tokens),
        cost_usd: result.and_then(|r| r.cost_usd),
        latency_ms: result.map(|r| r.latency_ms),
        attempts: result.map(|r| u64::from(r.attempts)),
        request_id: result
            .and_then(|r| r.request_id.clone())
            .or_else(|| outcome.as_ref().err().and_then(|e| e.request_id.clone())),
        conversation_id: info.conversation_id.to_string(),
        exit_code,
        error,
        cached: result.is_some_and(|r| r.cached),
        output: {
            let mut printed = printed;
            log_value(&mut printed);
            printed
        },
    }
}

/// The most of one text (input, system prompt, reply, each message) a call-log row keeps.
pub const MAX_LOG_FIELD: usize = 64 << 10;
/// Starts the note that replaces the rest of a longer text in the log.
pub const LOG_CUT_MARK: &str = "[llmpipe: cut in the call log:";

/// `text` if it fits in the log, else its first [`MAX_LOG_FIELD`] bytes and a note with
/// the whole text's length and SHA-256 (to match it against a file you kept). Secrets are
/// masked before the cut, so no half of a key survives at the boundary.
pub fn log_text(text: &str) -> String {
    let text = crate::secrets::mask(text);
    if text.len() <= MAX_LOG_FIELD {
        return text.into_owned();
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
