//! Anthropic Messages (PROTOCOLS.md section B): top-level `system`, content blocks,
//! `x-api-key` + `anthropic-version`, typed SSE events ending in `message_stop`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::scan::{Scanner, Template};
use super::{
    HeaderValue, HttpRequest, ProviderKind, Target, bad_body, join_url, secret_header, sse,
    stream_cut, strict_compatible,
};
use crate::chat::{
    FinishReason, Format, ImageSource, Part, Request, Response, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, Result};

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
    // Every generation since 4.6 launched with them (GA before it), so newer models need no row.
    crate::models::find(model).is_some_and(|m| NATIVE_STRUCTURED_OUTPUT.contains(&m.id))
        || crate::effort::claude(&model.to_ascii_lowercase()).is_some_and(|(_, v)| v >= (4, 6))
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
    if prefills(&target.model, req) {
        // Prefill: the reply continues this turn, so it can only be JSON.
        messages.push(json!({"role": "assistant", "content": JSON_PREFILL}));
    }
    let max_tokens = crate::effort::max_tokens(KIND, &target.model, req);
    if max_tokens != req.max_tokens {
        crate::output::debug(&format!(
            "--effort {}: max_tokens raised from {} to {max_tokens} for {} (its thinking budget of {} tokens must stay below max_tokens)",
            req.effort.map_or("", |l| l.as_str()),
            req.max_tokens,
            target.model,
            max_tokens - req.max_tokens,
        ));
    }
    let mut body = json!({
        "model": target.model,
        "max_tokens": max_tokens,
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
    thinking(target, req, &mut body);
    // Last: the breakpoints go on the tools and system prompt placed above.
    cache_breakpoints(req, &mut body);
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

/// Whether the request ends with the JSON prefill: JSON mode without thinking (the API
/// refuses a prefill when thinking is on, PROTOCOLS.md H.2), on a model that still takes
/// one (4.6 and later refuse it always). The system prompt asks for JSON either way.
pub fn prefills(model: &str, req: &Request) -> bool {
    req.format == Format::Json
        && !crate::effort::anthropic_thinks(model, req)
        && crate::effort::anthropic_takes_prefill(model)
}

/// `--effort`: adaptive thinking with `output_config.effort` where the model has it, else
/// extended thinking with the level's budget (PROTOCOLS.md H.2). A forced tool call is not
/// allowed with thinking, so the structured-output tool is offered instead (`auto`).
fn thinking(target: &Target, req: &Request, body: &mut Value) {
    use crate::effort::Mechanism;
    if let Some(level) = req.effort {
        match crate::effort::mechanism(KIND, &target.model) {
            Mechanism::Budget(_) => {
                body["thinking"] =
                    json!({"type": "enabled", "budget_tokens": level.budget_tokens()});
            }
            Mechanism::Adaptive(_) | Mechanism::Unknown | Mechanism::ReasoningEffort(_) => {
                body["thinking"] = json!({"type": "adaptive"});
                // Newer models leave the thinking text out unless asked for a summary.
                if crate::effort::needs_summarized_display(&target.model) {
                    body["thinking"]["display"] = json!("summarized");
                }
                if !body["output_config"].is_object() {
                    body["output_config"] = json!({});
                }
                body["output_config"]["effort"] = json!(level.as_str());
            }
            Mechanism::NoReasoning => {}
        }
    }
    let forced = matches!(body["tool_choice"]["type"].as_str(), Some("tool" | "any"));
    if forced && crate::effort::anthropic_thinks(&target.model, req) {
        // The API takes only `auto` or `none` while the model thinks (PROTOCOLS.md H.2).
        if req.tool_choice.as_ref().is_some_and(|c| c.forces()) {
            crate::output::warn(&format!(
                "{} thinks on this request, which the API allows only with tool_choice auto or none: --tool-choice is sent as auto",
                target.model
            ));
        }
        body["tool_choice"] = json!({"type": "auto"});
    }
}

/// `--cache-prompt`: `cache_control` breakpoints at the end of the stable prefix, in the
/// API's order (tools, system, messages): the last tool, the system prompt, and the turn
/// before the last one (a prompt file's last example, or the conversation so far). At
/// most four breakpoints are allowed; llmpipe places at most three.
fn cache_breakpoints(req: &Request, body: &mut Value) {
    let Some(ttl) = req.cache_prompt else { return };
    let marker = match ttl {
        crate::effort::CacheTtl::FiveMinutes => json!({"type": "ephemeral"}),
        crate::effort::CacheTtl::OneHour => json!({"type": "ephemeral", "ttl": "1h"}),
    };
    let mut placed = 0;
    let max = 4 - count_breakpoints(body).min(4);
    let mut mark = |block: &mut Value| {
        // The API refuses a marker on an empty text block.
        let empty = block.get("text").and_then(Value::as_str) == Some("");
        if placed < max && block.is_object() && block.get("cache_control").is_none() && !empty {
            block["cache_control"] = marker.clone();
            placed += 1;
        }
    };
    if let Some(last) = body
        .get_mut("tools")
        .and_then(Value::as_array_mut)
        .and_then(|t| t.last_mut())
    {
        mark(last);
    }
    if let Some(system) = body
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let mut block = json!({"type": "text", "text": system});
        mark(&mut block);
        body["system"] = json!([block]);
    }
    // The turn before the last user turn (a prefill after it is not part of the prefix).
    let prefix_end = req.messages.len().checked_sub(2);
    if let Some(i) = prefix_end
        && let Some(msg) = body["messages"].get_mut(i)
    {
        if let Some(text) = msg["content"].as_str().filter(|t| !t.is_empty()) {
            msg["content"] = json!([{"type": "text", "text": text}]);
        }
        if let Some(last) = msg["content"].as_array_mut().and_then(|c| c.last_mut()) {
            mark(last);
        }
    }
    crate::output::debug(&format!(
        "--cache-prompt={}: {placed} cache_control breakpoint(s) placed",
        ttl.as_str()
    ));
}

/// The `cache_control` markers already in a request body.
fn count_breakpoints(v: &Value) -> usize {
    match v {
        Value::Object(map) => {
            usize::from(map.contains_key("cache_control"))
                + map.values().map(count_breakpoints).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_breakpoints).sum(),
        _ => 0,
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
    /// The writes split by lifetime (5-minute and 1-hour).
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
    fn normalise(&self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let split = self.cache_creation.unwrap_or_default();
        let (w5m, w1h) = (
            split.ephemeral_5m_input_tokens.unwrap_or(0),
            split.ephemeral_1h_input_tokens.unwrap_or(0),
        );
        let write = self
            .cache_creation_input_tokens
            .unwrap_or(w5m.saturating_add(w1h));
        Usage {
            input_tokens: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: read,
            cache_write_input_tokens: write,
            cache_write_1h_input_tokens: w1h.min(write),
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
            cache_read_input_tokens,
            cache_creation
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
    thinking: Option<String>,
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
    let thoughts: Vec<&str> = m
        .content
        .iter()
        .filter(|b| b.kind == "thinking")
        .filter_map(|b| b.thinking.as_deref())
        // An omitted thinking block (`display: "omitted"`) has empty text.
        .filter(|t| !t.is_empty())
        .collect();
    let reasoning = (!thoughts.is_empty()).then(|| thoughts.join("\n\n"));
    Ok(Response {
        reasoning,
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
    super::stream_error(KIND, ty, "", message)
}

#[derive(Default)]
pub struct StreamState {
    pub done: bool,
    text: String,
    stop_reason: Option<String>,
    usage: WireUsage,
    model: Option<String>,
    /// Thinking text (`thinking_delta`s): never part of the reply's text.
    reasoning: Option<String>,
    /// A thinking block is being shown on stderr as it arrives (`-v`).
    thinking_shown: bool,
    /// The tool_use blocks: their index, and the call with the `partial_json` pieces so far.
    tools: Vec<(u64, ToolCall)>,
    /// Thinking blocks by index, rebuilt from their deltas to be sent back unchanged.
    thinking: Vec<(u64, Value)>,
    /// The last text delta, cut around its text.
    template: Template,
    /// The thinking shown on stderr (`-v`): a key the server echoes there, split across
    /// deltas, is masked as on stdout.
    thinking_mask: crate::secrets::StreamMask,
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

/// A text delta (`{"type":"content_block_delta","index":…,"delta":{"type":"text_delta",
/// "text":…}}`, most of every stream) read by the scanner, with nothing built. `None` for
/// anything else, which serde_json reads.
/// With the text comes where it stands in `data` (its quotes included).
fn fast_text_delta(data: &str) -> Option<(std::borrow::Cow<'_, str>, std::ops::Range<usize>)> {
    let mut s = Scanner::new(data);
    let (mut ty, mut text) = (None, None);
    s.members(&["type", "delta"], |s, k| {
        match k {
            0 => ty = Some(s.string()?),
            _ => text = Some(fast_text(s)?),
        }
        Some(())
    })?;
    s.end()?;
    (ty? == "content_block_delta").then_some(())?;
    text
}

/// The `delta` of a text delta: its `text`, if its type is `text_delta`, and where it is.
fn fast_text<'a>(
    s: &mut Scanner<'a>,
) -> Option<(std::borrow::Cow<'a, str>, std::ops::Range<usize>)> {
    let (mut ty, mut text) = (None, None);
    s.members(&["type", "text"], |s, k| {
        match k {
            0 => ty = Some(s.string()?),
            _ => text = Some(s.string_at()?),
        }
        Some(())
    })?;
    (ty? == "text_delta").then_some(())?;
    text
}

impl StreamState {
    /// Handles one event; its text is appended to `out`.
    pub fn on_event(&mut self, ev: &sse::Event<'_>, out: &mut String) -> Result<()> {
        if self.done {
            return Ok(());
        }
        // Hot path: a text delta, most of every stream, read by the scanner, or else by
        // serde_json straight into a small struct. Anything else (or anything unusual
        // about it) takes the general path below.
        if let Some(text) = self.template.text(ev.data) {
            self.text.push_str(&text);
            out.push_str(&text);
            return Ok(());
        }
        if let Some((text, at)) = fast_text_delta(ev.data) {
            self.template.set(ev.data, at);
            self.text.push_str(&text);
            out.push_str(&text);
            return Ok(());
        }
        self.template.clear();
        if let Ok(TextDeltaEvent {
            ty,
            delta:
                TextDelta {
                    ty: delta_ty,
                    text: Some(text),
                },
        }) = serde_json::from_str::<TextDeltaEvent>(ev.data)
            && ty == "content_block_delta"
            && delta_ty == "text_delta"
        {
            self.text.push_str(&text);
            out.push_str(&text);
            return Ok(());
        }
        let v: Value = serde_json::from_str(ev.data).map_err(|e| bad_body(KIND, e))?;
        // The data's `type` names the event; `event:` is only a fallback.
        let ty = v
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event)
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
                    // Kept whole to be sent back with a turn's calls (PROTOCOLS.md H.2).
                    self.thinking.push((index, block.clone()));
                }
                if field(&["content_block", "type"]).and_then(Value::as_str) == Some("thinking") {
                    // A second thinking block is kept apart from the first.
                    if let Some(r) = self.reasoning.as_mut().filter(|r| !r.is_empty()) {
                        r.push_str("\n\n");
                    }
                    if let Some(t) = field(&["content_block", "thinking"]).and_then(Value::as_str) {
                        self.reasoning.get_or_insert_default().push_str(t);
                    }
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
                if let Some(t) = field(&["delta", "thinking"]).and_then(Value::as_str) {
                    self.reasoning.get_or_insert_default().push_str(t);
                    if crate::output::verbose() {
                        if !self.thinking_shown {
                            crate::output::err_piece("llmpipe: thinking:\n");
                            self.thinking_shown = true;
                        }
                        crate::output::err_piece(&self.thinking_mask.push(t));
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
            // signature, citations and tool-input deltas carry no text
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
            "content_block_stop" | "message_stop" if self.thinking_shown => {
                let rest = self.thinking_mask.finish();
                crate::output::err_piece(&format!("{rest}\n"));
                self.thinking_shown = false;
                self.done = ty == "message_stop";
            }
            "message_stop" => self.done = true,
            "error" => return Err(stream_error(&v)),
            _ => {} // ping, content_block_stop, and events added later
        }
        self.text.push_str(&added);
        out.push_str(&added);
        Ok(())
    }

    pub fn finish(self) -> Result<Response> {
        if !self.done {
            return Err(stream_cut(KIND));
        }
        // Input that is not JSON is the model's (a reply cut at `max_tokens` inside a call's
        // arguments), not a broken stream: the call is checked and reported as the model's
        // mistake (exit 6, paid), never retried.
        let tool_input = match self.tools.first() {
            Some((_, c)) if c.raw.trim().is_empty() => Some(json!({})),
            Some((_, c)) => serde_json::from_str(&c.raw).ok(),
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
            reasoning: self.reasoning.filter(|r| !r.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn feed(s: &mut StreamState, event: &str, data: &str) -> Result<String> {
        let mut out = String::new();
        s.on_event(
            &sse::Event {
                event: Some(event),
                data,
            },
            &mut out,
        )?;
        Ok(out)
    }

    /// The scanner's text delta is the one serde_json reads, whenever the scanner gives one.
    #[test]
    fn fast_text_delta_agrees_with_serde_json() {
        let usual = [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" quick"}}"#,
            r#"{"delta":{"text":"a\"b\n\u00e9\ud83d\ude00","type":"text_delta"},"type":"content_block_delta","x":[1,{"y":null}]}"#,
            " {\"type\" : \"content_block_delta\", \"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}\n",
        ];
        for u in usual {
            assert!(fast_text_delta(u).is_some(), "the scanner passed on {u}");
        }
        let (mut fast, mut all) = (0, 0);
        for m in crate::provider::openai::tests::mutations(&usual) {
            all += 1;
            if let Some((text, _)) = fast_text_delta(&m) {
                fast += 1;
                let want = serde_json::from_str::<TextDeltaEvent>(&m);
                assert!(
                    matches!(&want, Ok(w) if w.ty == "content_block_delta"
                        && w.delta.ty == "text_delta"
                        && w.delta.text.as_deref() == Some(&*text)),
                    "{m:?}: scanner {text:?}, serde_json {:?}",
                    want.map(|w| (w.ty, w.delta.ty, w.delta.text))
                );
            }
        }
        assert!(fast > all / 20, "{fast} of {all}");
        // Anything else is not a text delta for the scanner.
        for other in [
            r#"{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}"#,
            r#"{"type":"message_delta","delta":{"type":"text_delta","text":"x"}}"#,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":null}}"#,
        ] {
            assert!(fast_text_delta(other).is_none(), "{other}");
        }
    }

    /// A delta taken by the template (the last text delta with other text) is a text delta
    /// with that text, as serde_json reads it.
    #[test]
    fn the_template_takes_only_a_text_delta_with_other_text() {
        let usual = [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" quick"}}"#,
            r#"{"delta":{"text":"a\"b\n","type":"text_delta"},"type":"content_block_delta"}"#,
        ];
        let (mut taken, mut all) = (0, 0);
        for u in usual {
            let mut s = StreamState::default();
            feed(&mut s, "content_block_delta", u).unwrap();
            assert!(!s.template.prefix_is_empty(), "no template from {u}");
            for m in crate::provider::openai::tests::mutations(&[u]) {
                all += 1;
                let Some(text) = s.template.text(&m) else {
                    continue;
                };
                taken += 1;
                let w = serde_json::from_str::<TextDeltaEvent>(&m)
                    .unwrap_or_else(|e| panic!("{m:?}: the template took it, serde_json: {e}"));
                assert_eq!(
                    (&*w.ty, &*w.delta.ty, w.delta.text.as_deref()),
                    ("content_block_delta", "text_delta", Some(&*text)),
                    "{m:?}"
                );
            }
        }
        assert!(taken > 50, "{taken} of {all}");
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
    fn thinking_blocks_and_cache_writes_by_lifetime() {
        let body = br#"{"model":"claude-opus-4-6","stop_reason":"end_turn",
          "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"Hi"}],
          "usage":{"input_tokens":5,"output_tokens":9,"cache_creation_input_tokens":30,"cache_read_input_tokens":100,
                   "cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}}}"#;
        let r = parse_response(body).unwrap();
        assert_eq!(r.text, "Hi");
        assert_eq!(r.reasoning.as_deref(), Some("hmm"));
        assert_eq!(r.usage.input_tokens, 135);
        assert_eq!(r.usage.cached_input_tokens, 100);
        assert_eq!(r.usage.cache_write_input_tokens, 30);
        assert_eq!(r.usage.cache_write_1h_input_tokens, 20);
        // An omitted thinking block (newer models without display: summarized): no reasoning.
        let body = br#"{"content":[{"type":"thinking","thinking":"","signature":"s"},{"type":"text","text":"Hi"}]}"#;
        assert_eq!(parse_response(body).unwrap().reasoning, None);
        let mut s = StreamState::default();
        feed(&mut s, "message_start", r#"{"type":"message_start","message":{"model":"m","content":[],"usage":{"input_tokens":5,"output_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":7}}}}"#).unwrap();
        feed(&mut s, "content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#).unwrap();
        for d in [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"a"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"b"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#,
        ] {
            assert_eq!(feed(&mut s, "content_block_delta", d).unwrap(), "");
        }
        feed(&mut s, "message_stop", r#"{"type":"message_stop"}"#).unwrap();
        let r = s.finish().unwrap();
        assert_eq!(r.text, "");
        assert_eq!(r.reasoning.as_deref(), Some("ab"));
        assert_eq!(r.usage.cache_write_input_tokens, 7);
        assert_eq!(r.usage.cache_write_1h_input_tokens, 7);
        assert_eq!(r.usage.input_tokens, 12);
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
