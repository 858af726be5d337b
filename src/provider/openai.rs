//! OpenAI Chat Completions (PROTOCOLS.md section A): request body, response, error body
//! and `data:`-only SSE chunks ending in `data: [DONE]`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::scan::{Scanner, Template};
use super::{
    HeaderValue, HttpRequest, MaxTokensField, ProviderKind, Target, bad_body, join_url,
    secret_header, sse, stream_cut, strict_compatible,
};
use crate::chat::{
    FinishReason, Format, ImageSource, Part, Request, Response, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, Result};

const KIND: ProviderKind = ProviderKind::OpenAi;

pub fn build(target: &Target, req: &Request, stream: bool) -> HttpRequest {
    let mut messages = Vec::new();
    let mut system = req.system.clone();
    // JSON mode is refused unless the conversation mentions JSON.
    if req.format == Format::Json && !mentions_json(req) {
        let s = system.get_or_insert_with(String::new);
        if !s.is_empty() {
            s.push_str("\n\n");
        }
        s.push_str("Respond in JSON.");
    }
    if let Some(system) = &system {
        // `system` rather than `developer`: OpenAI maps it for o-series models, and the
        // OpenAI-compatible servers (Ollama, vLLM, llama.cpp) only know `system`.
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &req.messages {
        if has_tool_parts(&m.content) {
            tool_messages(m, &mut messages);
            continue;
        }
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": content(&m.content)}));
    }
    let mut body = json!({"model": target.model, "messages": messages});
    let field = match target.max_tokens_field {
        MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        MaxTokensField::MaxTokens => "max_tokens",
    };
    body[field] = json!(req.max_tokens);
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.stop.is_empty() {
        body["stop"] = json!(req.stop);
    }
    match &req.format {
        Format::Text => {}
        Format::Json => body["response_format"] = json!({"type": "json_object"}),
        Format::Schema { name, schema } => {
            let (schema, _) = super::object_schema(schema);
            let strict = strict_compatible(&schema);
            crate::output::debug(&format!(
                "openai structured output: response_format json_schema, strict {strict}{}",
                if strict {
                    ""
                } else {
                    " (the schema is outside the strict subset)"
                }
            ));
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": name, "strict": strict, "schema": schema},
            });
        }
    }
    add_tools(&mut body, req);
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    effort_and_cache(target, req, &mut body);
    HttpRequest {
        url: join_url(&target.base_url, "/chat/completions"),
        headers: vec![
            ("authorization", secret_header("Bearer ", &target.api_key)),
            (
                "content-type",
                HeaderValue::Plain("application/json".into()),
            ),
        ],
        body,
    }
}

/// `--effort` as `reasoning_effort`, and `--cache-prompt` as `prompt_cache_key` (OpenAI
/// caches long prompts on its own; the key groups the requests of one prompt file
/// version, PROTOCOLS.md H.1).
fn effort_and_cache(target: &Target, req: &Request, body: &mut Value) {
    if let Some(level) = req.effort {
        match crate::effort::mechanism(KIND, &target.model) {
            crate::effort::Mechanism::NoReasoning => {}
            _ => body["reasoning_effort"] = json!(level.as_str()),
        }
    }
    if let Some(ttl) = req.cache_prompt {
        match &req.prompt_cache_key {
            Some(key) => body["prompt_cache_key"] = json!(key),
            None => crate::output::debug(
                "--cache-prompt: OpenAI caches long prompts on its own; without a prompt file there is no prompt_cache_key to send",
            ),
        }
        if ttl == crate::effort::CacheTtl::OneHour {
            crate::output::debug(
                "--cache-prompt=1h: OpenAI sets its own cache lifetime; no TTL is sent",
            );
        }
    }
}

fn mentions_json(req: &Request) -> bool {
    let has = |t: &str| t.to_ascii_lowercase().contains("json");
    req.system.as_deref().is_some_and(has)
        || req.messages.iter().any(|m| {
            m.content
                .iter()
                .any(|p| matches!(p, Part::Text(t) if has(t)))
        })
}

/// A plain string when the message is only text (what every compatible server accepts),
/// content parts otherwise.
fn content(parts: &[Part]) -> Value {
    if let [Part::Text(t)] = parts {
        return json!(t);
    }
    let parts: Vec<Value> = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::Image(ImageSource::Url(url)) => {
                json!({"type": "image_url", "image_url": {"url": url}})
            }
            Part::Image(ImageSource::Base64 { media_type, data }) => json!({
                "type": "image_url",
                "image_url": {"url": format!("data:{media_type};base64,{data}")}
            }),
            // Tool parts go through `tool_messages`; thinking blocks are Anthropic's.
            Part::ToolCall(_) | Part::ToolResult(_) | Part::Thinking(_) => Value::Null,
        })
        .filter(|p| !p.is_null())
        .collect();
    Value::Array(parts)
}

fn has_tool_parts(parts: &[Part]) -> bool {
    parts.iter().any(|p| {
        matches!(
            p,
            Part::ToolCall(_) | Part::ToolResult(_) | Part::Thinking(_)
        )
    })
}

/// A message with tool parts (PROTOCOLS.md A.2): an assistant turn's calls as `tool_calls`
/// (arguments a JSON string), each result as its own `role: tool` message, in order, before
/// any text that came with them.
fn tool_messages(m: &crate::chat::Message, out: &mut Vec<Value>) {
    let rest: Vec<Part> = m
        .content
        .iter()
        .filter(|p| matches!(p, Part::Text(_) | Part::Image(_)))
        .cloned()
        .collect();
    match m.role {
        Role::Assistant => {
            let calls: Vec<Value> = m
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::ToolCall(c) => Some(json!({
                        "id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.raw},
                    })),
                    _ => None,
                })
                .collect();
            let text = if rest.is_empty() {
                Value::Null
            } else {
                content(&rest)
            };
            let mut msg = json!({"role": "assistant", "content": text});
            if !calls.is_empty() {
                msg["tool_calls"] = Value::Array(calls);
            }
            out.push(msg);
        }
        Role::User => {
            for p in &m.content {
                if let Part::ToolResult(r) = p {
                    let text = if r.is_error && !r.content.starts_with("error:") {
                        format!("error: {}", r.content)
                    } else {
                        r.content.clone()
                    };
                    out.push(json!({"role": "tool", "tool_call_id": r.id, "content": text}));
                }
            }
            if !rest.is_empty() {
                out.push(json!({"role": "user", "content": content(&rest)}));
            }
        }
    }
}

/// `tools` and `tool_choice` (PROTOCOLS.md A.2); a schema in the strict subset is sent
/// with `strict: true`, as extract-json does.
fn add_tools(body: &mut Value, req: &Request) {
    if req.tools.is_empty() {
        return;
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut f = json!({"name": t.name});
            if let Some(d) = &t.description {
                f["description"] = json!(d);
            }
            f["parameters"] = t.parameters.clone();
            if strict_compatible(&t.parameters) {
                f["strict"] = json!(true);
            }
            json!({"type": "function", "function": f})
        })
        .collect();
    body["tools"] = Value::Array(tools);
    if let Some(choice) = &req.tool_choice {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
        };
    }
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    fn normalise(&self) -> Usage {
        Usage {
            input_tokens: self.prompt_tokens,
            output_tokens: self.completion_tokens,
            cached_input_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write_input_tokens: 0,
            cache_write_1h_input_tokens: 0,
            reasoning_tokens: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        }
    }
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: String,
    /// A JSON string; some compatible servers send the object itself.
    #[serde(default)]
    arguments: Option<Value>,
}

/// Some compatible servers send calls without ids; results must name one.
fn call_id(id: String, index: usize) -> String {
    if id.is_empty() {
        format!("call_{index}")
    } else {
        id
    }
}

fn raw_arguments(v: Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn finish_reason(raw: Option<&str>, refusal: bool) -> FinishReason {
    if refusal {
        return FinishReason::Refusal;
    }
    match raw {
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

pub fn parse_response(body: &[u8]) -> Result<Response> {
    let c: Completion = serde_json::from_slice(body).map_err(|e| bad_body(KIND, e))?;
    let Some(choice) = c.choices.into_iter().next() else {
        return Err(bad_body(KIND, "no choices"));
    };
    let refusal = choice.message.refusal.filter(|r| !r.is_empty());
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| ToolCall {
            id: call_id(c.id, i),
            name: c.function.name,
            raw: raw_arguments(c.function.arguments),
        })
        .collect();
    Ok(Response {
        tool_calls,
        thinking: Vec::new(),
        text: choice.message.content.unwrap_or_default(),
        finish_reason: finish_reason(choice.finish_reason.as_deref(), refusal.is_some()),
        provider_finish_reason: choice.finish_reason,
        refusal,
        usage: c.usage.unwrap_or_default().normalise(),
        model: c.model.unwrap_or_default(),
        request_id: None, // from the `x-request-id` header
        tool_input: None,
        reasoning: None,
    })
}

/// `(type, message, code)` of an error body: `{"error":{"message","type","param","code"}}`,
/// or vLLM's `{"object":"error","message",…}` with the fields at the top level.
pub fn error_fields(body: &[u8]) -> Option<(Option<String>, String, Option<String>)> {
    error_parts(&serde_json::from_slice(body).ok()?)
}

/// [`error_fields`] of a parsed body or stream event; `None` when it is no error.
fn error_parts(v: &Value) -> Option<(Option<String>, String, Option<String>)> {
    let e = match v.get("error") {
        Some(e) if !e.is_null() => e,
        _ if v.get("object").and_then(Value::as_str) == Some("error") => v,
        _ => return None,
    };
    // Some compatible servers send `{"error": "text"}`.
    if let Some(s) = e.as_str() {
        return Some((None, s.to_string(), None));
    }
    let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut message = s("message").unwrap_or_else(|| "no message".into());
    // Gateways (LiteLLM) send `"param": "None"`: no parameter, not one named None.
    let named = |p: &String| {
        let p = p.trim();
        !p.is_empty()
            && !["none", "null", "nil", "undefined"].contains(&p.to_ascii_lowercase().as_str())
    };
    if let Some(param) = s("param").filter(|p| named(p) && !message.contains(p.as_str())) {
        message = format!("{param}: {message}");
    }
    let code = match e.get("code") {
        Some(Value::String(c)) => Some(c.clone()),
        // A status as a number, even as `400.0` from a server that writes every number as
        // a float.
        Some(Value::Number(n)) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && (0.0..1000.0).contains(&f) => {
                (f as u64).to_string()
            }
            _ => n.to_string(),
        }),
        _ => None,
    };
    Some((s("type"), message, code))
}

/// Maps an in-stream error onto our categories by its HTTP code or type (see
/// [`error_parts`] for the forms read).
fn stream_error(v: &Value) -> Error {
    let (ty, message, code) = error_parts(v).unwrap_or_else(|| (None, "no message".into(), None));
    super::stream_error(
        KIND,
        ty.as_deref().unwrap_or(""),
        code.as_deref().unwrap_or(""),
        &message,
    )
}

#[derive(Default)]
pub struct StreamState {
    pub done: bool,
    text: String,
    refusal: String,
    finish: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
    /// Calls streamed as fragments keyed by `index`: id and name in the first, then
    /// pieces of the arguments string.
    tool_calls: Vec<(u64, ToolCall)>,
    /// The last usual chunk (one choice, its text, nothing else), cut around its text.
    template: Template,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Chunk<'a> {
    /// A mid-stream error (`{"error": {…}}`): only whether it is there (and not null).
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
    /// Borrowed from the event where it can be: the hot path allocates as little as it can.
    #[serde(default, borrow)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// `"object": "error"`: vLLM's mid-stream error, its fields at the top level.
    #[serde(default, rename = "object", deserialize_with = "error_object")]
    error_object: bool,
}

/// Whether `object` is the string `"error"`; any other value says nothing (as before).
fn error_object<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(Value::deserialize(d)?.as_str() == Some("error"))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Value>,
}

/// The common chunk (text, role, finish reason) read by the scanner, with no parse tree
/// and nothing allocated but the choices' list. `None` for anything else: usage, errors,
/// tool calls, refusals, escaped keys, anything malformed. serde_json reads those.
/// With the chunk comes where its text stands (quotes included) when it is a usual one: a
/// single choice with text and nothing else to take from it (no finish reason).
fn fast_chunk(data: &str) -> Option<(Chunk<'_>, Option<std::ops::Range<usize>>)> {
    let mut s = Scanner::new(data);
    let mut chunk = Chunk {
        error: None,
        model: None,
        choices: None,
        usage: None,
        error_object: false,
    };
    let mut text_at = None;
    s.members(&["model", "choices", "error", "usage", "object"], |s, k| {
        if s.null()? {
            return Some(());
        }
        match k {
            0 => chunk.model = Some(s.string()?),
            // vLLM's `"object": "error"` is not the hot path; any other value is skipped.
            4 if s.peek()? == b'"' => {
                if s.string()? == "error" {
                    return None;
                }
            }
            4 => s.skip()?,
            1 => {
                let mut choices = Vec::with_capacity(1);
                s.array(|s| {
                    let (choice, at) = fast_choice(s)?;
                    text_at = at.filter(|_| choice.finish_reason.is_none());
                    choices.push(choice);
                    Some(())
                })?;
                if choices.len() != 1 {
                    text_at = None;
                }
                chunk.choices = Some(choices);
            }
            _ => return None, // an error or the usage: not the hot path
        }
        Some(())
    })?;
    s.end()?;
    Some((chunk, text_at))
}

fn fast_choice<'a>(
    s: &mut Scanner<'a>,
) -> Option<(ChunkChoice<'a>, Option<std::ops::Range<usize>>)> {
    let mut choice = ChunkChoice {
        delta: None,
        finish_reason: None,
    };
    let mut text_at = None;
    s.members(&["delta", "finish_reason"], |s, k| {
        if s.null()? {
            return Some(());
        }
        if k == 0 {
            let (delta, at) = fast_delta(s)?;
            choice.delta = Some(delta);
            text_at = at;
        } else {
            choice.finish_reason = Some(s.string()?.into_owned());
        }
        Some(())
    })?;
    Some((choice, text_at))
}

fn fast_delta<'a>(s: &mut Scanner<'a>) -> Option<(Delta<'a>, Option<std::ops::Range<usize>>)> {
    let mut delta = Delta {
        content: None,
        refusal: None,
        tool_calls: None,
    };
    let mut text_at = None;
    s.members(&["content", "refusal", "tool_calls"], |s, k| {
        if s.null()? {
            return Some(());
        }
        if k != 0 {
            return None; // a refusal or a tool call: not the hot path
        }
        let (text, at) = s.string_at()?;
        delta.content = Some(text);
        text_at = Some(at);
        Some(())
    })?;
    Some((delta, text_at))
}

impl StreamState {
    /// Handles one event; its text is appended to `out`.
    pub fn on_event(&mut self, ev: &sse::Event<'_>, out: &mut String) -> Result<()> {
        if self.done {
            return Ok(());
        }
        let data = ev.data.trim();
        if data.starts_with("[DONE]") {
            self.done = true;
            return Ok(());
        }
        // The scanner reads the common chunk; serde_json reads the rest straight into the
        // chunk struct. A chunk with an `error`, or anything that does not fit the struct,
        // is read as a `Value`: an error object becomes the stream's error (its type
        // decides the kind), anything else is a body that is not the API's JSON.
        // The usual chunk again, with other text: nothing else in it to read.
        if let Some(text) = self.template.text(data) {
            out.push_str(&text);
            self.text.push_str(&text);
            return Ok(());
        }
        let (chunk, text_at) = match fast_chunk(data) {
            Some(read) => read,
            None => match serde_json::from_str::<Chunk>(data) {
                Ok(chunk) if chunk.error.is_none() && !chunk.error_object => (chunk, None),
                Ok(_) => {
                    let v: Value = serde_json::from_str(data).map_err(|e| bad_body(KIND, e))?;
                    return Err(stream_error(&v));
                }
                Err(shape) => {
                    let v: Value = serde_json::from_str(data).map_err(|e| bad_body(KIND, e))?;
                    if error_parts(&v).is_some() {
                        return Err(stream_error(&v));
                    }
                    return Err(bad_body(KIND, shape));
                }
            },
        };
        if let Some(m) = chunk.model.filter(|m| !m.is_empty())
            && self.model.as_deref() != Some(&*m)
        {
            self.model = Some(m.into_owned());
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u.normalise());
        }
        match text_at {
            Some(at) => self.template.set(data, at),
            None => self.template.clear(),
        }
        let from = out.len();
        for choice in chunk.choices.unwrap_or_default() {
            if let Some(d) = choice.delta {
                if let Some(t) = d.content {
                    out.push_str(&t);
                }
                if let Some(r) = d.refusal {
                    self.refusal.push_str(&r);
                }
                if let Some(Value::Array(calls)) = d.tool_calls {
                    self.tool_fragments(&calls);
                }
            }
            if let Some(f) = choice.finish_reason {
                self.finish = Some(f);
            }
        }
        self.text.push_str(&out[from..]);
        Ok(())
    }

    fn tool_fragments(&mut self, calls: &[Value]) {
        for f in calls {
            let index = f.get("index").and_then(Value::as_u64).unwrap_or(0);
            let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let i = match self.tool_calls.iter().position(|(i, _)| *i == index) {
                Some(i) => i,
                None => {
                    self.tool_calls.push((
                        index,
                        ToolCall {
                            id: String::new(),
                            name: String::new(),
                            raw: String::new(),
                        },
                    ));
                    self.tool_calls.len() - 1
                }
            };
            let call = &mut self.tool_calls[i].1;
            if let Some(id) = s(f.get("id")).filter(|v| !v.is_empty()) {
                call.id = id;
            }
            let function = f.get("function");
            if let Some(name) = s(function.and_then(|x| x.get("name"))).filter(|v| !v.is_empty()) {
                call.name = name;
            }
            match function.and_then(|x| x.get("arguments")) {
                Some(Value::String(piece)) => call.raw.push_str(piece),
                Some(Value::Null) | None => {}
                Some(other) => call.raw.push_str(&other.to_string()),
            }
        }
    }

    pub fn finish(mut self) -> Result<Response> {
        if !self.done {
            return Err(stream_cut(KIND));
        }
        let refusal = Some(self.refusal).filter(|r| !r.is_empty());
        self.tool_calls.sort_by_key(|(i, _)| *i);
        let tool_calls = self
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(i, (_, mut c))| {
                c.id = call_id(std::mem::take(&mut c.id), i);
                c
            })
            .collect();
        Ok(Response {
            tool_calls,
            thinking: Vec::new(),
            finish_reason: finish_reason(self.finish.as_deref(), refusal.is_some()),
            provider_finish_reason: self.finish,
            text: self.text,
            refusal,
            usage: self.usage.unwrap_or_default(),
            model: self.model.unwrap_or_default(),
            request_id: None,
            tool_input: None,
            reasoning: None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn parses_full_response_with_details() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18",
          "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],
          "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
            "prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":4}}}"#;
        let r = parse_response(body).unwrap();
        assert_eq!(r.text, "Hello!");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(r.usage.input_tokens, 19);
        assert_eq!(r.usage.cached_input_tokens, 3);
        assert_eq!(r.usage.reasoning_tokens, Some(4));
        assert_eq!(r.model, "gpt-4o-mini-2024-07-18");
    }

    #[test]
    fn refusal_and_wrong_shapes() {
        let body = br#"{"model":"m","choices":[{"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]}"#;
        let r = parse_response(body).unwrap();
        assert_eq!(r.finish_reason, FinishReason::Refusal);
        assert_eq!(r.refusal.as_deref(), Some("I can't"));
        for bad in [&b"<html>"[..], b"{}", b"{\"choices\":[]}", b"[1]", b""] {
            let e = parse_response(bad).unwrap_err();
            assert_eq!(e.kind, Kind::Unavailable);
            assert!(e.retryable);
        }
    }

    /// Every variant of `samples` with one byte deleted, replaced or inserted (the bytes
    /// JSON's grammar turns on), as long as it is still UTF-8.
    pub(crate) fn mutations(samples: &[&str]) -> Vec<String> {
        const BYTES: &[u8] = b"\"\\{}[],:0-1.eEn tu\x01/";
        let mut out = Vec::new();
        for sample in samples {
            let b = sample.as_bytes();
            out.push(sample.to_string());
            for i in 0..=b.len() {
                let mut variants = Vec::new();
                if i < b.len() {
                    variants.push([&b[..i], &b[i + 1..]].concat());
                }
                for &x in BYTES {
                    variants.push([&b[..i], &[x], &b[i..]].concat());
                    if i < b.len() {
                        variants.push([&b[..i], &[x], &b[i + 1..]].concat());
                    }
                }
                out.extend(
                    variants
                        .into_iter()
                        .filter_map(|v| String::from_utf8(v).ok()),
                );
            }
        }
        out
    }

    /// The scanner's chunk is serde_json's chunk, whenever the scanner gives one; on the
    /// API's usual chunks it always does (or the hot path would be dead code).
    #[test]
    fn fast_chunk_agrees_with_serde_json() {
        let usual = [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" The"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}"#,
            r#"{"choices":[{"delta":{"content":"a\"b\\c\nd\u00e9\ud83d\ude00/"}}],"model":"m\u0031"}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"created":-1.5e+3,"x":[true,false,null,{"y":[0.25,1E2]}],"choices":[]}"#,
            r#"{"model":null,"choices":null,"error":null,"usage":null}"#,
            " { \"choices\" :\t[ { \"delta\" : { \"content\" : \"x\" } } ]\r\n} ",
            r#"{"choices":[{"delta":{"content":"a","tool_calls":null}},{"delta":{"content":"b"}}]}"#,
        ];
        for u in usual {
            assert!(fast_chunk(u).is_some(), "the scanner passed on {u}");
        }
        let (mut fast, mut all) = (0, 0);
        for m in mutations(&usual) {
            all += 1;
            if let Some((c, _)) = fast_chunk(&m) {
                fast += 1;
                let want = serde_json::from_str::<Chunk>(&m);
                assert!(
                    matches!(&want, Ok(w) if *w == c),
                    "{m:?}: scanner {c:?}, serde_json {want:?}"
                );
            }
        }
        // Most mutants are broken JSON; enough are not for the check to mean something.
        assert!(fast > all / 20, "{fast} of {all}");
    }

    /// A chunk taken by the template (the last usual chunk with other text) is exactly what
    /// serde_json reads from it: one choice whose text is the template's, nothing else.
    #[test]
    fn the_template_takes_only_the_usual_chunk_with_other_text() {
        let usual = [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" The"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"delta":{"content":"a\"b\\c\nd\u00e9\ud83d\ude00/"}}],"model":"m"}"#,
            r#"{"choices":[{"delta":{"content":""}}]}"#,
        ];
        let (mut taken, mut all) = (0, 0);
        for u in usual {
            let mut s = StreamState::default();
            assert_eq!(feed(&mut s, u).map(|_| ()).ok(), Some(()));
            assert!(!s.template.prefix_is_empty(), "no template from {u}");
            let model = s.model.clone();
            for m in mutations(&[u]) {
                all += 1;
                let Some(text) = s.template.text(m.trim()) else {
                    continue;
                };
                taken += 1;
                let want = serde_json::from_str::<Chunk>(m.trim())
                    .unwrap_or_else(|e| panic!("{m:?}: the template took it, serde_json: {e}"));
                let choices = want.choices.as_deref().unwrap_or_default();
                assert!(want.error.is_none() && want.usage.is_none(), "{m:?}");
                assert_eq!(
                    want.model.map(|m| m.into_owned()).or(model.clone()),
                    model,
                    "{m:?}"
                );
                assert_eq!(choices.len(), 1, "{m:?}");
                assert_eq!(choices[0].finish_reason, None, "{m:?}");
                let d = choices[0].delta.as_ref().expect("a delta");
                assert_eq!(d.content.as_deref(), Some(&*text), "{m:?}");
                assert!(d.refusal.is_none() && d.tool_calls.is_none(), "{m:?}");
            }
        }
        assert!(taken > 100, "{taken} of {all}");
        // A chunk that ends the choice or carries more is never taken.
        let mut s = StreamState::default();
        feed(&mut s, usual[0]).unwrap();
        let stop = usual[0].replace(r#""finish_reason":null"#, r#""finish_reason":"stop""#);
        assert!(s.template.text(&stop).is_none());
        assert_eq!(feed(&mut s, &stop).unwrap(), " The");
        assert_eq!(s.finish.as_deref(), Some("stop"));
    }

    /// One `data:` event through the stream parser; the text it adds.
    fn feed(s: &mut StreamState, data: &str) -> Result<String> {
        let mut out = String::new();
        s.on_event(&sse::Event { event: None, data }, &mut out)?;
        Ok(out)
    }

    /// Chunks are read straight into the struct; an error event, or a chunk that does not
    /// fit it, goes through `Value`: errors keep their kind, wrong shapes are broken bodies.
    #[test]
    fn stream_fast_path_and_error_events() {
        let mut s = StreamState::default();
        let text = feed(
            &mut s,
            r#"{"choices":[{"delta":{"content":"x"}}],"error":null}"#,
        )
        .unwrap();
        assert_eq!(text, "x");
        let e = feed(
            &mut s,
            r#"{"error":{"message":"boom","type":"server_error"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Unavailable);
        assert!(e.message.contains("boom"));
        let e = feed(
            &mut s,
            r#"{"choices":"not a list","error":{"message":"quota","type":"insufficient_quota"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Quota);
        for bad in [r#"{"choices":"not a list"}"#, "{not json"] {
            let e = feed(&mut s, bad).unwrap_err();
            assert_eq!(e.kind, Kind::Unavailable);
            assert!(e.message.contains("not its API's JSON"));
        }
    }

    #[test]
    fn stream_with_usage_chunk_and_null_choices() {
        let mut s = StreamState::default();
        let evs = [
            r#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length"}]}"#,
            r#"{"id":"c","model":"gpt-4o","choices":null,"usage":{"prompt_tokens":9,"completion_tokens":2}}"#,
            "[DONE]",
        ];
        let mut text = String::new();
        for d in evs {
            text += &feed(&mut s, d).unwrap();
        }
        assert_eq!(text, "Hello");
        let r = s.finish().unwrap();
        assert_eq!(r.finish_reason, FinishReason::Length);
        assert_eq!(r.usage.output_tokens, 2);
    }

    /// Tool calls stream as fragments keyed by `index` (id and name only in the first), may
    /// interleave, and get an id when a compatible server sends none.
    #[test]
    fn stream_tool_call_fragments() {
        let mut s = StreamState::default();
        let evs = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":1,"type":"function","function":{"name":"b","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"a","arguments":"{\"x\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ];
        for d in evs {
            feed(&mut s, d).unwrap();
        }
        let r = s.finish().unwrap();
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        let calls: Vec<(&str, &str, &str)> = r
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.raw.as_str()))
            .collect();
        assert_eq!(
            calls,
            [("call_a", "a", r#"{"x":1}"#), ("call_1", "b", "{}")]
        );
    }

    #[test]
    fn stream_without_done_is_an_error() {
        let mut s = StreamState::default();
        feed(&mut s, r#"{"choices":[{"delta":{"content":"x"}}]}"#).unwrap();
        assert_eq!(s.finish().unwrap_err().kind, Kind::Unavailable);
    }

    /// vLLM's error body (`{"object":"error",…}`, fields at the top level) is read for its
    /// message and type, as OpenAI's `{"error":{…}}` is.
    #[test]
    fn vllm_error_bodies_are_read() {
        let vllm = br#"{"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}"#;
        let (kind, message, _) = error_fields(vllm).unwrap();
        assert_eq!(kind.as_deref(), Some("BadRequestError"));
        assert_eq!(
            message,
            "This model's maximum context length is 4096 tokens"
        );
        assert!(error_fields(br#"{"object":"list","message":"x"}"#).is_none());
        assert!(error_fields(br#"{"message":"x"}"#).is_none());
    }

    /// vLLM's `{"object":"error",…}` is never read as an empty chunk (by the scanner or by
    /// serde_json), and an error's HTTP code or type decides its kind.
    #[test]
    fn compatible_servers_error_events() {
        let vllm = r#"{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}"#;
        assert!(fast_chunk(vllm).is_none());
        let cases = [
            (vllm, Kind::Rejected, false),
            (
                r#"{"object":"error","message":"x","type":"InternalServerError","code":500}"#,
                Kind::Unavailable,
                true,
            ),
            (
                r#"{"id":"x","object":"error","choices":"?","message":"x","type":"RateLimitError"}"#,
                Kind::RateLimited,
                true,
            ),
            (
                r#"{"error":{"message":"x","type":"None","code":"429"}}"#,
                Kind::RateLimited,
                true,
            ),
            (r#"{"error":{"message":"x","code":401}}"#, Kind::Auth, false),
            (
                r#"{"error":{"message":"x","code":400.0}}"#,
                Kind::Rejected,
                false,
            ),
            (
                r#"{"error":{"message":"x","type":"insufficient_quota","code":"insufficient_quota"}}"#,
                Kind::Quota,
                false,
            ),
            (r#"{"error":{"message":"x"}}"#, Kind::Unavailable, true),
        ];
        for (ev, kind, retryable) in cases {
            let e = feed(&mut StreamState::default(), ev).unwrap_err();
            assert_eq!((e.kind, e.retryable), (kind, retryable), "{ev}");
            assert!(
                e.message.starts_with("openai stream error "),
                "{}",
                e.message
            );
        }
        // `object` of another value is no error, whatever its type.
        for ok in [
            r#"{"object":"chat.completion.chunk","choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"object":7,"choices":[{"delta":{"content":"x"}}]}"#,
            r#"{"object":{"a":"error"},"choices":[{"delta":{"content":"x"}}]}"#,
        ] {
            assert_eq!(feed(&mut StreamState::default(), ok).unwrap(), "x", "{ok}");
        }
    }
}
