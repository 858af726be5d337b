//! Anthropic Messages (PROTOCOLS.md section B): top-level `system`, content blocks,
//! `x-api-key` + `anthropic-version`, typed SSE events ending in `message_stop`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    HeaderValue, HttpRequest, ProviderKind, Target, bad_body, join_url, secret_header, sse,
    stream_cut, strict_compatible,
};
use crate::chat::{
    FinishReason, Format, ImageSource, Part, Request, Response, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, Kind, Result};

const KIND: ProviderKind = ProviderKind::Anthropic;
/// The API version the official SDK pins.
const API_VERSION: &str = "2023-06-01";

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
    add_tools(&mut body, target, req);
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
        body.retain(|k, _| {
            matches!(
                k.as_str(),
                "model" | "messages" | "system" | "tools" | "tool_choice"
            )
        });
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
    // Tool results must come first in their user turn, all together (PROTOCOLS.md B.2).
    let (results, others): (Vec<&Part>, Vec<&Part>) =
        parts.iter().partition(|p| matches!(p, Part::ToolResult(_)));
    let blocks: Vec<Value> = results
        .into_iter()
        .chain(others)
        .filter(|p| !matches!(p, Part::Text(t) if t.is_empty()))
        .map(|p| match p {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::Image(ImageSource::Url(url)) => {
                json!({"type": "image", "source": {"type": "url", "url": url}})
            }
            Part::Image(ImageSource::Base64 { media_type, data }) => json!({
                "type": "image",
                "source": {"type": "base64", "media_type": media_type, "data": data}
            }),
            Part::ToolCall(c) => json!({
                "type": "tool_use", "id": c.id, "name": c.name,
                "input": c.arguments().map_or_else(|| json!({}), Value::Object),
            }),
            Part::ToolResult(r) => {
                let mut b =
                    json!({"type": "tool_result", "tool_use_id": r.id, "content": r.content});
                if r.is_error {
                    b["is_error"] = json!(true);
                }
                b
            }
            Part::Thinking(block) => block.clone(),
        })
        .collect();
    Value::Array(blocks)
}

/// `tools` (with `input_schema`) and the `tool_choice` object (PROTOCOLS.md B.2); a schema
/// in the strict subset is sent with `strict: true` where the model has structured outputs.
fn add_tools(body: &mut Value, target: &Target, req: &Request) {
    if req.tools.is_empty() {
        return;
    }
    let native = native_structured_output(&target.model);
    let mut tools: Vec<Value> = body
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in &req.tools {
        let mut tool = json!({"name": t.name});
        if let Some(d) = &t.description {
            tool["description"] = json!(d);
        }
        tool["input_schema"] = t.parameters.clone();
        if native && strict_compatible(&t.parameters) {
            tool["strict"] = json!(true);
        }
        tools.push(tool);
    }
    body["tools"] = Value::Array(tools);
    if let Some(choice) = &req.tool_choice {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Named(n) => json!({"type": "tool", "name": n}),
        };
    }
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
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
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
    let raw: Value = serde_json::from_slice(body).map_err(|e| bad_body(KIND, e))?;
    let thinking: Vec<Value> = raw
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| {
                    matches!(
                        b.get("type").and_then(Value::as_str),
                        Some("thinking" | "redacted_thinking")
                    )
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let m: Message = serde_json::from_value(raw).map_err(|e| bad_body(KIND, e))?;
    let tool_calls = m
        .content
        .iter()
        .filter(|b| b.kind == "tool_use")
        .map(|b| ToolCall {
            id: b.id.clone().unwrap_or_default(),
            name: b.name.clone().unwrap_or_default(),
            raw: b
                .input
                .as_ref()
                .map_or_else(|| "{}".into(), Value::to_string),
        })
        .collect();
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
        tool_calls,
        thinking,
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
    /// The tool_use blocks: their index, and the call with the `partial_json` pieces so far.
    tools: Vec<(u64, ToolCall)>,
    /// Thinking blocks by index, rebuilt from their deltas to be sent back unchanged.
    thinking: Vec<(u64, Value)>,
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
                let s = |k: &str| {
                    field(&["content_block", k])
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                // A non-empty `input` in the start block is the whole input (no deltas follow).
                let raw = field(&["content_block", "input"])
                    .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                    .map(Value::to_string)
                    .unwrap_or_default();
                self.tools.push((
                    index,
                    ToolCall {
                        id: s("id"),
                        name: s("name"),
                        raw,
                    },
                ));
            }
            "content_block_delta"
                if field(&["delta", "type"]).and_then(Value::as_str)
                    == Some("input_json_delta") =>
            {
                let index = field(&["index"]).and_then(Value::as_u64).unwrap_or(0);
                let piece = field(&["delta", "partial_json"]).and_then(Value::as_str);
                if let (Some((_, call)), Some(piece)) =
                    (self.tools.iter_mut().find(|(i, _)| *i == index), piece)
                {
                    call.raw.push_str(piece);
                }
            }
            "content_block_start"
                if matches!(
                    field(&["content_block", "type"]).and_then(Value::as_str),
                    Some("thinking" | "redacted_thinking")
                ) =>
            {
                let index = field(&["index"]).and_then(Value::as_u64).unwrap_or(0);
                if let Some(block) = field(&["content_block"]) {
                    self.thinking.push((index, block.clone()));
                }
            }
            "content_block_delta"
                if matches!(
                    field(&["delta", "type"]).and_then(Value::as_str),
                    Some("thinking_delta" | "signature_delta")
                ) =>
            {
                let index = field(&["index"]).and_then(Value::as_u64).unwrap_or(0);
                if let Some((_, block)) = self.thinking.iter_mut().find(|(i, _)| *i == index) {
                    for key in ["thinking", "signature"] {
                        if let Some(piece) = field(&["delta", key]).and_then(Value::as_str) {
                            let had = block.get(key).and_then(Value::as_str).unwrap_or("");
                            block[key] = json!(format!("{had}{piece}"));
                        }
                    }
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
        let tool_input = match self.tools.first() {
            Some((_, c)) if c.raw.trim().is_empty() => Some(json!({})),
            Some((_, c)) => Some(
                serde_json::from_str(&c.raw)
                    .map_err(|e| bad_body(KIND, format!("tool input is not JSON: {e}")))?,
            ),
            None => None,
        };
        let tool_calls = self
            .tools
            .into_iter()
            .map(|(_, mut c)| {
                if c.raw.trim().is_empty() {
                    c.raw = "{}".into();
                }
                c
            })
            .collect();
        let thinking = self.thinking.into_iter().map(|(_, b)| b).collect();
        Ok(Response {
            tool_calls,
            thinking,
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

    /// Tool results go first in their user turn, all together; a turn with calls keeps its
    /// thinking block first; tools carry `input_schema` and the choice is an object.
    #[test]
    fn tool_turns_on_the_wire() {
        use crate::chat::{Message, ToolCall, ToolDef, ToolResult};
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "t".into(),
            raw: r#"{"a":1}"#.into(),
        };
        let req = Request {
            messages: vec![
                Message::user_text("hi"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking(
                            json!({"type": "thinking", "thinking": "x", "signature": "s"}),
                        ),
                        Part::ToolCall(call),
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Part::Text("and then?".into()),
                        Part::ToolResult(ToolResult {
                            id: "toolu_1".into(),
                            name: "t".into(),
                            content: "failed".into(),
                            is_error: true,
                        }),
                    ],
                },
            ],
            max_tokens: 10,
            tools: vec![ToolDef {
                name: "t".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
            }],
            tool_choice: Some(ToolChoice::Required),
            ..Default::default()
        };
        let target = Target {
            kind: KIND,
            model: "claude-x".into(),
            base_url: "http://x".into(),
            api_key: None,
            max_tokens_field: super::super::MaxTokensField::MaxTokens,
        };
        let body = build(&target, &req, false).body;
        let msgs = &body["messages"];
        assert_eq!(msgs[1]["content"][0]["type"], "thinking");
        assert_eq!(
            msgs[1]["content"][1],
            json!({"type": "tool_use", "id": "toolu_1", "name": "t", "input": {"a": 1}})
        );
        assert_eq!(
            msgs[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "failed", "is_error": true})
        );
        assert_eq!(msgs[2]["content"][1]["text"], "and then?");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(body["tool_choice"], json!({"type": "any"}));
        let mut openai = target.clone();
        openai.kind = ProviderKind::OpenAi;
        let body = super::super::build_request(&openai, &req, false).body;
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs[1]["content"], Value::Null);
        assert_eq!(
            msgs[1]["tool_calls"][0]["function"]["arguments"],
            r#"{"a":1}"#
        );
        assert_eq!(
            msgs[2],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "error: failed"})
        );
        assert_eq!(msgs[3], json!({"role": "user", "content": "and then?"}));
        assert_eq!(body["tool_choice"], "required");
        assert_eq!(body["tools"][0]["function"]["strict"], Value::Null);
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
