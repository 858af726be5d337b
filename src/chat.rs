//! The provider-neutral conversation: what a command asks for ([`Request`]) and what comes
//! back ([`Response`]). Prompt files, token counting, pricing and the call log work on
//! these; only `provider/` turns them into one API's wire format and back.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    /// The name both APIs (and the call log) use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image(ImageSource),
    /// A call the model asked for (assistant turns).
    ToolCall(ToolCall),
    /// The answer to a call (user turns; each API wants them first, all together).
    ToolResult(ToolResult),
    /// An Anthropic thinking block of a turn with calls, sent back unchanged.
    Thinking(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Part>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: vec![Part::Text(text.into())],
        }
    }

    pub fn assistant_text(text: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: vec![Part::Text(text.into())],
        }
    }

    /// The text parts joined by newlines, an image shown as `[image]` (the call log's view).
    pub fn text(&self) -> String {
        self.content
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Image(_) => "[image]",
                Part::ToolCall(c) => c.raw.as_str(),
                Part::ToolResult(r) => r.content.as_str(),
                Part::Thinking(_) => "",
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A provider-neutral request. The model comes from the `provider::Target` it is sent to,
/// so one request can go to a fallback model unchanged.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    /// Always sent: both APIs bill up to it, and Anthropic requires it.
    pub max_tokens: u64,
    pub temperature: Option<f64>,
    pub stop: Vec<String>,
    pub format: Format,
    /// `--effort`: how hard a reasoning model thinks (`crate::effort` decides the fields).
    pub effort: Option<crate::effort::Level>,
    /// `--cache-prompt`: mark the stable prefix (tools, system prompt, the turns before the
    /// last one) for the provider's prompt cache.
    pub cache_prompt: Option<crate::effort::CacheTtl>,
    /// OpenAI `prompt_cache_key`: the prompt file's name and version, with `--cache-prompt`.
    pub prompt_cache_key: Option<String>,
    /// Tools the model may call (empty: none declared).
    pub tools: Vec<ToolDef>,
    /// How the model must use them; `None` is the API's default (`auto`).
    pub tool_choice: Option<ToolChoice>,
}

/// The shape the reply must take. Each adapter uses the strongest mechanism its API
/// offers; after `provider::finish`, `Response::text` holds the JSON text whatever the
/// mechanism.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Format {
    #[default]
    Text,
    /// Any JSON value: OpenAI JSON mode, Anthropic prefill.
    Json,
    /// A JSON value valid against `schema`: OpenAI `json_schema`, Anthropic structured
    /// output or a forced tool call.
    Schema { name: String, schema: Value },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// The whole prompt, including cached and cache-write tokens (both providers).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    /// The part of `cache_write_input_tokens` written with the 1-hour TTL (Anthropic bills it
    /// higher than a 5-minute write); shown only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_1h_input_tokens: u64,
    /// Only where the provider reports them (absent, not `null`, elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Finish reasons normalised across providers (the SPEC's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Refusal,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Refusal => "refusal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    pub text: String,
    pub finish_reason: FinishReason,
    pub provider_finish_reason: Option<String>,
    /// OpenAI's `message.refusal` (structured-output refusals).
    pub refusal: Option<String>,
    pub usage: Usage,
    /// The model id the provider reports (often dated).
    pub model: String,
    pub request_id: Option<String>,
    /// The input of a forced tool call (Anthropic's structured-output fallback).
    pub tool_input: Option<Value>,
    /// The thinking text the API returned (Anthropic thinking blocks), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// The calls the reply asks for, in order (only when the request declared tools).
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// Anthropic thinking blocks, as received, to be sent back with a turn's calls.
    #[serde(default)]
    pub thinking: Vec<Value>,
}

impl Response {
    /// The assistant turn this reply adds to a conversation: thinking blocks, text, calls.
    pub fn assistant_message(&self) -> Message {
        let mut content: Vec<Part> = self.thinking.iter().cloned().map(Part::Thinking).collect();
        // Anthropic refuses a whitespace-only text block (models write "\n\n" before calls).
        if !self.text.trim().is_empty() || self.tool_calls.is_empty() {
            content.push(Part::Text(self.text.clone()));
        }
        content.extend(self.tool_calls.iter().cloned().map(Part::ToolCall));
        Message {
            role: Role::Assistant,
            content,
        }
    }
}

/// A tool as the API sees it: name, description, and the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
}

/// `--tool-choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

impl ToolChoice {
    /// Whether it forces a call (applied to the first model turn only).
    pub fn forces(&self) -> bool {
        matches!(self, ToolChoice::Required | ToolChoice::Named(_))
    }
}

/// One call the model asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (OpenAI sends a JSON string).
    pub raw: String,
}

impl ToolCall {
    /// The arguments, if they are a JSON object.
    pub fn arguments(&self) -> Option<serde_json::Map<String, Value>> {
        let raw = self.raw.trim();
        if raw.is_empty() {
            return Some(serde_json::Map::new());
        }
        match serde_json::from_str(raw) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}

/// The answer to one call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolResult {
    pub id: String,
    pub name: String,
    /// The tool's output, or the error text when `is_error`.
    pub content: String,
    pub is_error: bool,
}
