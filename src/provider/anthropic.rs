//! Anthropic Messages (PROTOCOLS.md section B): top-level `system`, content blocks,
//! `x-api-key` + `anthropic-version`, typed SSE events ending in `message_stop`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    HeaderValue, HttpRequest, ProviderKind, Target, bad_body, join_url, secret_header, sse,
    stream_cut, strict_compatible,
};
use crate::chat::{FinishReason, Format, ImageSource, Part, Request, Response, Role, Usage};
use crate::error::{Error, Kind, Result};

const KIND: ProviderKind = ProviderKind::Anthropic;
/// The API version the official SDK pins.
pub const API_VERSION: &str = "2023-06-01";

/// The assistant turn that starts a JSON-mode reply; [`super::finish`] puts it back.
pub const JSON_PREFILL: &str = "{";

/// Models with native structured outputs (`output_config.format`, GA since SDK v0.77.0);
/// the others get a forced tool call, which every Claude model supports.
const NATIVE_STRUCTURED_OUTPUT: &[&str] = &[
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
];

fn native_structured_output(model: &str) -> bool {
    crate::models::find(model).is_some_and(|m| NATIVE_STRUCTURED_OUTPUT.contains(&m.id))
}

pub fn build(target: &Target, req: &Request, stream: bool) -> HttpRequest {
    let mut messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": content(&m.content)})
        })
        .collect();
    if req.format == Format::Json {
        // Prefill: the reply continues this turn, so it can only be JSON.
        messages.push(json!({"role": "assistant", "content": JSON_PREFILL}));
    }
    let mut body = json!({
        "model": target.model,
        "max_tokens": req.max_tokens,
        "messages": messages,
    });
    if let Some(system) = &req.system {
        body["system"] = json!(system);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    if let Format::Schema { name, schema } = &req.format {
        let (schema, _) = super::object_schema(schema);
        if native_structured_output(&target.model) && strict_compatible(&schema) {
            crate::output::debug("anthropic structured output: native output_config.format");
            body["output_config"] = json!({"format": {"type": "json_schema", "schema": schema}});
        } else {
            crate::output::debug(
                "anthropic structured output: forced tool call (model without native structured outputs, or a schema outside the strict subset)",
            );
            body["tools"] = json!([{
                "name": name,
                "description": "Give the answer as this tool's input.",
                "input_schema": schema,
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": name});
        }
    }
    if stream {
        body["stream"] = json!(true);
    }
    HttpRequest {
        url: join_url(&target.base_url, "/v1/messages"),
        headers: vec![
            ("x-api-key", secret_header("", &target.api_key)),
            ("anthropic-version", HeaderValue::Plain(API_VERSION.into())),
            (
                "content-type",
                HeaderValue::Plain("application/json".into()),
            ),
        ],
        body,
    }
}

/// `POST /v1/messages/count_tokens` (PROTOCOLS.md B.7): the Messages body without
/// `max_tokens`, `stream` or sampling options, which the endpoint does not take.
pub fn build_count_tokens(target: &Target, req: &Request) -> HttpRequest {
    let mut http = build(target, req, false);
    if let Some(body) = http.body.as_object_mut() {
        body.retain(|k, _| matches!(k.as_str(), "model" | "messages" | "system"));
    }
    http.url = join_url(&target.base_url, "/v1/messages/count_tokens");
    http
}

/// `{"input_tokens": N}`.
pub fn parse_count_tokens(body: &[u8]) -> Result<u64> {
    #[derive(Deserialize)]
    struct Count {
        input_tokens: u64,
    }
    let c: Count = serde_json::from_slice(body).map_err(|e| bad_body(KIND, e))?;
    Ok(c.input_tokens)
}

fn content(parts: &[Part]) -> Value {
    if let [Part::Text(t)] = parts {
        return json!(t);
    }
    let blocks: Vec<Value> = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::Image(ImageSource::Url(url)) => {
                json!({"type": "image", "source": {"type": "url", "url": url}})
            }
            Part::Image(ImageSource::Base64 { media_type, data }) => json!({
                "type": "image",
                "source": {"type": "base64", "media_type": media_type, "data": data}
            }),
        })
        .collect();
    Value::Array(blocks)
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
    fn normalise(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0) + read + write,
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: read,
            cache_write_input_tokens: write,
            cache_write_1h_input_tokens: 0,
            reasoning_tokens: None,
        }
    }

    /// Later fields win where present (`message_delta` may repeat the input counts).
    fn merge(&mut self, newer: &WireUsage) {
        macro_rules! take {
            ($($f:ident),*) => { $( if newer.$f.is_some() { self.$f = newer.$f; } )* };
        }
        take!(
            input_tokens,
            output_tokens,
            cache_creation_input_tokens,
            cache_read_input_tokens
        );
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    model: Option<String>,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

fn finish_reason(raw: Option<&str>) -> FinishReason {
    match raw {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::Refusal,
        _ => FinishReason::Stop,
    }
}

pub fn parse_response(body: &[u8]) -> Result<Response> {
    let m: Message = serde_json::from_slice(body).map_err(|e| bad_body(KIND, e))?;
    let text = m
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .collect::<String>();
    let tool_input = m
        .content
        .iter()
        .find(|b| b.kind == "tool_use")
        .map(|b| b.input.clone().unwrap_or_else(|| json!({})));
    Ok(Response {
        tool_input,
        text,
        finish_reason: finish_reason(m.stop_reason.as_deref()),
        provider_finish_reason: m.stop_reason,
        refusal: None,
        usage: m.usage.unwrap_or_default().normalise(),
        model: m.model.unwrap_or_default(),
        request_id: None, // from the `request-id` header
    })
}

/// `(type, message, None)` from `{"type":"error","error":{"type","message"}}`.
pub fn error_fields(body: &[u8]) -> Option<(Option<String>, String, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    Some((
        s("type"),
        s("message").unwrap_or_else(|| "no message".into()),
        None,
    ))
}

/// An `event: error` after a 200: mapped by `error.type` as the HTTP status would be.
fn stream_error(v: &Value) -> Error {
    let e = &v["error"];
    let ty = e.get("type").and_then(Value::as_str).unwrap_or("error");
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let kind = match ty {
        "rate_limit_error" => Kind::RateLimited,
        "authentication_error" | "permission_error" => Kind::Auth,
        "invalid_request_error" | "not_found_error" | "request_too_large" => Kind::Rejected,
        _ => Kind::Unavailable, // overloaded_error, api_error, unknown
    };
    Error::new(kind, format!("anthropic stream error {ty}: {message}"))
        .with_provider(KIND.name())
        .retryable(matches!(kind, Kind::RateLimited | Kind::Unavailable))
}

#[derive(Default)]
pub struct StreamState {
    pub done: bool,
    text: String,
    stop_reason: Option<String>,
    usage: WireUsage,
    model: Option<String>,
    /// The first tool_use block: its index and the `partial_json` pieces so far.
    tool: Option<(u64, String)>,
}

/// `{"type":"content_block_delta","delta":{"type":"text_delta","text":…}}`.
#[derive(Deserialize)]
struct TextDeltaEvent<'a> {
    /// Borrowed from the event: the hot path allocates only the text it returns.
    #[serde(rename = "type", borrow)]
    ty: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    delta: TextDelta<'a>,
}

#[derive(Deserialize)]
struct TextDelta<'a> {
    #[serde(rename = "type", borrow)]
    ty: std::borrow::Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
}

impl StreamState {
    pub fn on_event(&mut self, ev: &sse::Event) -> Result<String> {
        if self.done {
            return Ok(String::new());
        }
        // Hot path: a text delta, most of every stream, read straight into a small struct.
        // Anything else (or anything unusual about it) takes the general path below.
        if let Ok(TextDeltaEvent {
            ty,
            delta:
                TextDelta {
                    ty: delta_ty,
                    text: Some(text),
                },
        }) = serde_json::from_str::<TextDeltaEvent>(&ev.data)
            && ty == "content_block_delta"
            && delta_ty == "text_delta"
        {
            self.text.push_str(&text);
            return Ok(text);
        }
        let v: Value = serde_json::from_str(&ev.data).map_err(|e| bad_body(KIND, e))?;
        // The data's `type` names the event; `event:` is only a fallback.
        let ty = v
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event.as_deref())
            .unwrap_or("");
        let field =
            |path: &[&str]| -> Option<&Value> { path.iter().try_fold(&v, |acc, k| acc.get(*k)) };
        let mut added = String::new();
        match ty {
            "message_start" => {
                let msg = field(&["message"])
                    .ok_or_else(|| bad_body(KIND, "message_start without message"))?;
                if let Some(m) = msg.get("model").and_then(Value::as_str) {
                    self.model = Some(m.to_owned());
                }
                if let Some(u) = msg.get("usage") {
                    let u: WireUsage =
                        serde_json::from_value(u.clone()).map_err(|e| bad_body(KIND, e))?;
                    self.usage.merge(&u);
                }
            }
            "content_block_start"
                if field(&["content_block", "type"]).and_then(Value::as_str)
                    == Some("tool_use") =>
            {
                let index = field(&["index"]).and_then(Value::as_u64).unwrap_or(0);
                if self.tool.is_none() {
                    self.tool = Some((index, String::new()));
                }
            }
            "content_block_delta"
                if field(&["delta", "type"]).and_then(Value::as_str)
                    == Some("input_json_delta") =>
            {
                let index = field(&["index"]).and_then(Value::as_u64).unwrap_or(0);
                let piece = field(&["delta", "partial_json"]).and_then(Value::as_str);
                if let (Some((i, buf)), Some(piece)) = (self.tool.as_mut(), piece)
                    && *i == index
                {
                    buf.push_str(piece);
                }
            }
            "content_block_start" => {
                let block = field(&["content_block"]);
                if block.and_then(|b| b.get("type")).and_then(Value::as_str) == Some("text")
                    && let Some(t) = block.and_then(|b| b.get("text")).and_then(Value::as_str)
                {
                    added.push_str(t);
                }
            }
            // thinking, signature, citations and tool-input deltas carry no text
            "content_block_delta"
                if field(&["delta", "type"]).and_then(Value::as_str) == Some("text_delta") =>
            {
                let t = field(&["delta", "text"])
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_body(KIND, "text_delta without text"))?;
                added.push_str(t);
            }
            "message_delta" => {
                if let Some(r) = field(&["delta", "stop_reason"]).and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_owned());
                }
                if let Some(u) = field(&["usage"]) {
                    let u: WireUsage =
                        serde_json::from_value(u.clone()).map_err(|e| bad_body(KIND, e))?;
                    self.usage.merge(&u);
                }
            }
            "message_stop" => self.done = true,
            "error" => return Err(stream_error(&v)),
            _ => {} // ping, content_block_stop, and events added later
        }
        self.text.push_str(&added);
        Ok(added)
    }

    pub fn finish(self) -> Result<Response> {
        if !self.done {
            return Err(stream_cut(KIND));
        }
        let tool_input = match self.tool {
            Some((_, json)) if json.trim().is_empty() => Some(json!({})),
            Some((_, json)) => Some(
                serde_json::from_str(&json)
                    .map_err(|e| bad_body(KIND, format!("tool input is not JSON: {e}")))?,
            ),
            None => None,
        };
        Ok(Response {
            finish_reason: finish_reason(self.stop_reason.as_deref()),
            provider_finish_reason: self.stop_reason,
            text: self.text,
            refusal: None,
            usage: self.usage.normalise(),
            model: self.model.unwrap_or_default(),
            request_id: None,
            tool_input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut StreamState, event: &str, data: &str) -> Result<String> {
        s.on_event(&sse::Event {
            event: Some(event.into()),
            data: data.into(),
        })
    }

    #[test]
    fn full_response_sums_cache_tokens() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
          "content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"t","name":"x","input":{}}],
          "stop_reason":"max_tokens","stop_sequence":null,
          "usage":{"input_tokens":412,"output_tokens":57,"cache_creation_input_tokens":10,"cache_read_input_tokens":null}}"#;
        let r = parse_response(body).unwrap();
        assert_eq!(r.text, "Checking.");
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.usage.input_tokens, 422);
        assert_eq!(r.usage.cache_write_input_tokens, 10);
    }

    #[test]
    fn stream_events_and_usage() {
        let mut s = StreamState::default();
        feed(&mut s, "message_start", r#"{"type":"message_start","message":{"id":"m","model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":5}}}"#).unwrap();
        feed(
            &mut s,
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        )
        .unwrap();
        feed(&mut s, "ping", r#"{"type":"ping"}"#).unwrap();
        assert_eq!(feed(&mut s, "content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#).unwrap(), "Hi");
        feed(&mut s, "content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#).unwrap();
        feed(&mut s, "message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":89}}"#).unwrap();
        feed(&mut s, "future_event", r#"{"type":"future_event"}"#).unwrap();
        feed(&mut s, "message_stop", r#"{"type":"message_stop"}"#).unwrap();
        let r = s.finish().unwrap();
        assert_eq!(r.text, "Hi");
        assert_eq!(r.usage.input_tokens, 30);
        assert_eq!(r.usage.cached_input_tokens, 5);
        assert_eq!(r.usage.output_tokens, 89);
        assert_eq!(r.provider_finish_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn error_event_maps_type() {
        let mut s = StreamState::default();
        let e = feed(
            &mut s,
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Unavailable);
        assert!(e.retryable);
        assert!(e.message.contains("Overloaded"));
    }

    /// Text deltas take the fast path; a delta it does not take (no `type` in the data, no
    /// text, text that is not a string) goes through `Value`: the `event:` name decides the
    /// type, and a delta without string text is a broken body.
    #[test]
    fn text_delta_fast_path_and_its_edges() {
        let mut s = StreamState::default();
        let delta = |t: &str| {
            format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{t}}}}}"#
            )
        };
        assert_eq!(
            feed(&mut s, "content_block_delta", &delta(r#""a\"b\n""#)).unwrap(),
            "a\"b\n"
        );
        // `type` missing from the data: the `event:` name still decides.
        assert_eq!(
            feed(
                &mut s,
                "content_block_delta",
                r#"{"index":0,"delta":{"type":"text_delta","text":"c"}}"#
            )
            .unwrap(),
            "c"
        );
        // A text delta without text, or with text that is not a string, is a broken body.
        for bad in [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#.to_string(),
            delta("5"),
        ] {
            let e = feed(&mut s, "content_block_delta", &bad).unwrap_err();
            assert_eq!(e.kind, Kind::Unavailable);
        }
        assert_eq!(s.text, "a\"b\nc");
    }
}
