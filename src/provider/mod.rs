//! The provider module: every difference between the OpenAI and Anthropic APIs lives
//! below this file. Commands build a neutral [`Request`], hand it to [`client::Client`]
//! with a list of [`Target`]s, and get a neutral [`Response`] (or text deltas) back; they
//! never match on [`ProviderKind`].
//!
//! - `openai.rs` / `anthropic.rs`: private wire types, request building, response, error
//!   and stream-event parsing for one API each.
//! - `sse.rs`: bytes → server-sent events, robust to any chunking.
//! - `retry.rs`: the retry policy (what is retried, how long to wait).
//! - `client.rs`: the one request path (HTTP, timeouts, retries, fallback models).

mod anthropic;
pub mod batch;
pub mod client;
mod h1;
mod openai;
pub mod retry;
pub(crate) mod scan;
pub mod sse;

use std::fmt;

use serde_json::{Map, Value};

use crate::chat::{Format, Request, Response};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn key_var(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        }
    }

    pub fn base_url_var(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_BASE_URL",
            ProviderKind::Anthropic => "ANTHROPIC_BASE_URL",
        }
    }

    /// The official SDKs' defaults: OpenAI's includes `/v1`, Anthropic's does not.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The top of the API's temperature range (OpenAI 0–2, Anthropic 0–1).
    pub fn max_temperature(self) -> f64 {
        match self {
            ProviderKind::OpenAi => 2.0,
            ProviderKind::Anthropic => 1.0,
        }
    }

    /// Anthropic refuses (in its SDKs) non-streaming requests that could run past ten
    /// minutes: `3600 * max_tokens / 128000 > 600`, i.e. above 21,333 output tokens.
    pub fn must_stream(self, max_tokens: u64) -> bool {
        self == ProviderKind::Anthropic && max_tokens > 21_333
    }
}

/// An API key. Its `Debug` never shows the value, so it cannot leak through a log line.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Surrounding whitespace (a trailing newline from a file) is never part of a key.
    pub fn new(s: String) -> Self {
        Secret(s.trim().to_string())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Which field carries the output cap in an OpenAI request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// `max_completion_tokens`: what OpenAI wants, and the only one reasoning models take.
    MaxCompletionTokens,
    /// `max_tokens`: for OpenAI-compatible servers that only know the old name.
    MaxTokens,
}

/// One model at one provider endpoint: where a request can go.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: ProviderKind,
    /// The model id sent to the API (aliases already resolved).
    pub model: String,
    pub base_url: String,
    /// `None` when the key variable is unset: an error only if this target is reached.
    pub api_key: Option<Secret>,
    pub max_tokens_field: MaxTokensField,
}

/// The schema both APIs can take: they need an object at the root, so anything else is
/// wrapped as `{"value": …}` (and unwrapped again by [`finish`]).
fn object_schema(schema: &Value) -> (Value, bool) {
    if schema.get("type").and_then(Value::as_str) == Some("object") {
        return (schema.clone(), false);
    }
    let wrapped = serde_json::json!({
        "type": "object",
        "properties": {"value": schema},
        "required": ["value"],
        "additionalProperties": false,
    });
    (wrapped, true)
}

/// Whether a schema fits the strict subset both providers' constrained decoding takes:
/// every object closed (`additionalProperties: false`) with every property required, and
/// none of the keywords that subset leaves out.
pub fn strict_compatible(schema: &Value) -> bool {
    const UNSUPPORTED: &[&str] = &[
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "patternProperties",
        "unevaluatedProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "minItems",
        "maxItems",
        "uniqueItems",
        "if",
        "then",
        "else",
        "not",
        "dependentRequired",
        "dependentSchemas",
    ];
    match schema {
        Value::Object(map) => {
            if map.keys().any(|k| UNSUPPORTED.contains(&k.as_str())) {
                return false;
            }
            if let Some(props) = map.get("properties").and_then(Value::as_object) {
                if map.get("additionalProperties") != Some(&Value::Bool(false)) {
                    return false;
                }
                let required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !props.keys().all(|k| required.contains(&k.as_str())) {
                    return false;
                }
            } else if map.get("type").and_then(Value::as_str) == Some("object") {
                return false; // a free-form object cannot be strict
            }
            map.values().all(strict_compatible)
        }
        Value::Array(items) => items.iter().all(strict_compatible),
        _ => true,
    }
}

/// Mode-specific finishing of a reply: the Anthropic prefill put back in front, a forced
/// tool call's input turned into the reply text, a wrapped root unwrapped.
pub fn finish(target: &Target, req: &Request, resp: &mut Response) {
    finish_tools(req, resp);
    match &req.format {
        Format::Text => {}
        Format::Json => {
            if target.kind == ProviderKind::Anthropic && anthropic::prefills(&target.model, req) {
                resp.text.insert_str(0, anthropic::JSON_PREFILL);
            }
        }
        Format::Schema { schema, .. } => {
            if let Some(input) = resp.tool_input.take() {
                resp.text = input.to_string();
            }
            if object_schema(schema).1
                && let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(&resp.text)
                && let Some(inner) = obj.remove("value")
            {
                resp.text = inner.to_string();
            }
        }
    }
}

/// Calls count only when the request declared tools (a forced structured-output call is
/// not one); when there are calls, `finish_reason` is `tool_calls` whatever the provider
/// said (OpenAI reports `stop` for a forced call).
fn finish_tools(req: &Request, resp: &mut Response) {
    if req.tools.is_empty() {
        resp.tool_calls.clear();
        resp.thinking.clear();
        // Claude's `tool_use` stop for the structured-output tool: the answer, not a call.
        if resp.finish_reason == crate::chat::FinishReason::ToolCalls {
            resp.finish_reason = crate::chat::FinishReason::Stop;
        }
    } else if !resp.tool_calls.is_empty() {
        resp.finish_reason = crate::chat::FinishReason::ToolCalls;
    }
}

/// An HTTP request ready to send, or to print with `--dry-run`.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub enum HeaderValue {
    Plain(String),
    /// A credential: `prefix` + the key. Shown as `prefix[REDACTED]`.
    Secret {
        prefix: &'static str,
        key: Secret,
    },
}

impl HeaderValue {
    /// The value as it goes on the wire, a credential in full: for the HTTP client only.
    pub fn expose(&self) -> String {
        match self {
            HeaderValue::Plain(v) => v.clone(),
            HeaderValue::Secret { prefix, key } => format!("{prefix}{}", key.expose()),
        }
    }
}

impl HttpRequest {
    /// The request as `--dry-run` and `-v` show it: secrets replaced by `[REDACTED]`.
    pub fn redacted(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let shown = match value {
                HeaderValue::Plain(v) => v.clone(),
                HeaderValue::Secret { prefix, .. } => format!("{prefix}[REDACTED]"),
            };
            headers.insert((*name).to_string(), Value::String(shown));
        }
        // The HTTP client sends a URL's `user:password@` as Basic auth: show that header too.
        if reqwest::Url::parse(&self.url).is_ok_and(|u| !u.username().is_empty())
            && !headers.contains_key("authorization")
        {
            headers.insert(
                "authorization".into(),
                Value::String("Basic [REDACTED]".into()),
            );
        }
        serde_json::json!({
            "method": "POST",
            "url": crate::secrets::redact_url(&self.url),
            "headers": headers,
            "body": self.body,
        })
    }
}

/// Builds the HTTP request for `target`. A missing key becomes a redacted placeholder, so
/// `--dry-run` works without one; [`client::Client`] checks the key before sending.
pub fn build_request(target: &Target, req: &Request, stream: bool) -> HttpRequest {
    match target.kind {
        ProviderKind::OpenAi => openai::build(target, req, stream),
        ProviderKind::Anthropic => anthropic::build(target, req, stream),
    }
}

/// The provider's token-counting request for `req`, where it has one (Anthropic,
/// PROTOCOLS.md B.7); OpenAI has none, and its offline count is exact anyway.
pub fn build_count_tokens(target: &Target, req: &Request) -> Option<HttpRequest> {
    match target.kind {
        ProviderKind::OpenAi => None,
        ProviderKind::Anthropic => Some(anthropic::build_count_tokens(target, req)),
    }
}

/// The input token count from a 2xx token-counting response.
pub fn parse_count_tokens(kind: ProviderKind, body: &[u8]) -> Result<u64> {
    match kind {
        ProviderKind::OpenAi => Err(bad_body(kind, "no token-counting endpoint")),
        ProviderKind::Anthropic => anthropic::parse_count_tokens(body),
    }
}

fn secret_header(prefix: &'static str, key: &Option<Secret>) -> HeaderValue {
    HeaderValue::Secret {
        prefix,
        key: key.clone().unwrap_or_else(|| Secret::new(String::new())),
    }
}

fn join_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Parses a 2xx non-streaming body. A body that is not the API's JSON is a retryable
/// `unavailable` error (a proxy's HTML page, a truncated body).
pub fn parse_response(kind: ProviderKind, body: &[u8]) -> Result<Response> {
    match kind {
        ProviderKind::OpenAi => openai::parse_response(body),
        ProviderKind::Anthropic => anthropic::parse_response(body),
    }
}

/// Turns a non-2xx response into an error with the provider's own type and message.
pub fn parse_error(
    kind: ProviderKind,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Error {
    if (300..400).contains(&status) {
        return redirected(kind, status, headers);
    }
    let (err_type, message, code) = match kind {
        ProviderKind::OpenAi => openai::error_fields(body),
        ProviderKind::Anthropic => anthropic::error_fields(body),
    }
    .unwrap_or_else(|| (None, describe_unparsed_body(body), None));
    let detail = match &err_type {
        Some(t) => format!("{} {status} {t}: {message}", kind.name()),
        None => format!("{} {status}: {message}", kind.name()),
    };
    let quota = status == 429
        && (code.as_deref() == Some("insufficient_quota")
            || err_type.as_deref() == Some("insufficient_quota"));
    let mut err = retry::classify_status(status, quota, detail).with_provider(kind.name());
    err.status = Some(status);
    err.request_id = request_id(headers).or_else(|| body_request_id(body));
    retry::apply_server_hints(&mut err, headers);
    err
}

/// An error the server reported inside a stream, after its 200 (Anthropic's `event: error`,
/// OpenAI's `{"error": …}`, vLLM's `{"object":"error", …}`): classified as the HTTP answer
/// it stands for would be, by [`retry::classify_status`], from the HTTP status the payload
/// carries (`"code": 400`, `"code": "429"`) or else from its type. Once text was printed
/// the client makes any failure final (exit 5, output partial).
fn stream_error(kind: ProviderKind, ty: &str, code: &str, message: &str) -> Error {
    let quota = code == "insufficient_quota" || ty == "insufficient_quota";
    // The HTTP status the payload itself carries (vLLM, LiteLLM, OpenRouter put it in `code`).
    let carried = code
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (400..600).contains(s));
    let status = match carried {
        Some(s) => s,
        _ if quota || code == "rate_limit_exceeded" => 429,
        _ => match ty {
            "rate_limit_error"
            | "rate_limit_exceeded"
            | "tokens"
            | "requests"
            | "RateLimitError" => 429,
            "authentication_error" | "AuthenticationError" => 401,
            "permission_error" | "PermissionDeniedError" => 403,
            "invalid_request_error" | "BadRequestError" => 400,
            "not_found_error" | "NotFoundError" => 404,
            "request_too_large" => 413,
            "UnprocessableEntityError" => 422,
            "overloaded_error" => 529,
            _ => 500, // api_error, server_error, and anything unknown
        },
    };
    // Gateways (LiteLLM) send `"type": "None"`.
    let label = match ty {
        "" | "None" | "null" => "error",
        t => t,
    };
    let detail = format!("{} stream error {label}: {message}", kind.name());
    let mut err = retry::classify_status(status, quota, detail).with_provider(kind.name());
    // A status the payload carries is the error's status, as an HTTP answer's is: a 404
    // (the model is not there) falls back to the next `--fallback` model as an HTTP 404
    // does. A status only inferred from the type is not reported (there was none: a 200).
    err.status = carried;
    err
}

/// Redirects are never followed: the next host would receive the key (reqwest keeps
/// `x-api-key` across origins). A 3xx is a configuration error (exit 3), as with the
/// official SDKs, which do not follow redirects either.
fn redirected(kind: ProviderKind, status: u16, headers: &reqwest::header::HeaderMap) -> Error {
    let to = headers
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|l| {
            let l = crate::secrets::mask(&crate::secrets::redact_url(l.trim())).into_owned();
            let mut short: String = l.chars().filter(|c| !c.is_control()).take(300).collect();
            if short.len() < l.len() {
                short.push('…');
            }
            format!(" to {short}")
        })
        .unwrap_or_default();
    let mut err = Error::config(format!(
        "{} answered {status} redirect{to}; llmpipe does not follow redirects with your key",
        kind.name()
    ))
    .with_provider(kind.name())
    .with_hint(format!("set {} to the final address", kind.base_url_var()));
    err.status = Some(status);
    err.request_id = request_id(headers);
    err
}

/// A short, safe description of an error body that is not the API's JSON.
fn describe_unparsed_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty response body".into();
    }
    if text.starts_with('<') {
        return format!("non-JSON response body (HTML, {} bytes)", body.len());
    }
    // Masked before it is cut short, so no part of a key can survive the cut.
    let text = crate::secrets::mask(text);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(200).collect();
    if short.len() < one_line.len() {
        short.push('…');
    }
    short
}

/// `x-request-id` (OpenAI) or `request-id` (Anthropic).
pub fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    ["x-request-id", "request-id"]
        .iter()
        .find_map(|h| headers.get(*h)?.to_str().ok().map(str::to_owned))
}

fn body_request_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("request_id")?.as_str().map(str::to_owned)
}

/// The wrong-shape error for a 2xx body; retryable, exit 5.
fn bad_body(kind: ProviderKind, what: impl fmt::Display) -> Error {
    Error::new(
        crate::error::Kind::Unavailable,
        format!(
            "{} returned a response that is not its API's JSON: {what}",
            kind.name()
        ),
    )
    .with_provider(kind.name())
    .retryable(true)
}

/// The text deltas of a stream that arrived together, in one buffer: a sink writes them
/// with one write (plain text) or one line each (`--json`), and nothing is allocated per
/// delta.
#[derive(Debug, Default)]
pub struct Deltas {
    text: String,
    /// Where each delta ends in `text`.
    ends: Vec<usize>,
}

impl Deltas {
    /// One delta.
    pub fn one(text: &str) -> Deltas {
        let mut d = Deltas::default();
        d.text.push_str(text);
        d.end_delta();
        d
    }

    /// Ends the delta being written, if it has any text.
    fn end_delta(&mut self) {
        if self.text.len() > self.ends.last().copied().unwrap_or(0) {
            self.ends.push(self.text.len());
        }
    }

    /// All the deltas' text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each delta, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut from = 0;
        self.ends.iter().map(move |&end| {
            let piece = &self.text[from..end];
            from = end;
            piece
        })
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// Incremental parser for one provider's stream: fed SSE events, yields text deltas, and
/// at the end the whole [`Response`] (or an error if the stream never finished).
pub enum StreamParser {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
}

impl StreamParser {
    pub fn new(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::OpenAi => StreamParser::OpenAi(Default::default()),
            ProviderKind::Anthropic => StreamParser::Anthropic(Default::default()),
        }
    }

    /// Handles one event; the text it adds (if any) becomes one delta of `out`.
    pub fn on_event(&mut self, ev: &sse::Event<'_>, out: &mut Deltas) -> Result<()> {
        let added = match self {
            StreamParser::OpenAi(s) => s.on_event(ev, &mut out.text),
            StreamParser::Anthropic(s) => s.on_event(ev, &mut out.text),
        };
        out.end_delta();
        added
    }

    /// True once the provider's terminator (`[DONE]` / `message_stop`) was seen.
    pub fn is_done(&self) -> bool {
        match self {
            StreamParser::OpenAi(s) => s.done,
            StreamParser::Anthropic(s) => s.done,
        }
    }

    /// The whole response; an error if the stream ended before its terminator.
    pub fn finish(self) -> Result<Response> {
        match self {
            StreamParser::OpenAi(s) => s.finish(),
            StreamParser::Anthropic(s) => s.finish(),
        }
    }
}

fn stream_cut(kind: ProviderKind) -> Error {
    let end = match kind {
        ProviderKind::OpenAi => "data: [DONE]",
        ProviderKind::Anthropic => "message_stop",
    };
    Error::new(
        crate::error::Kind::Unavailable,
        format!(
            "{} stream ended before its end marker ({end}): the reply is incomplete",
            kind.name()
        ),
    )
    .with_provider(kind.name())
    .retryable(true)
}
