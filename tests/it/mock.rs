//! A local HTTP/1.1 server that speaks the two APIs' wire formats byte for byte
//! (PROTOCOLS.md): JSON bodies, error bodies, SSE over chunked transfer encoding, request-id
//! headers, and the faults the real services show (resets, hangs, cut streams, HTML pages).
//! It records every request so tests can assert what was sent.
//!
//! Raw TCP on 127.0.0.1:0, one thread per connection, `Connection: close`: full control
//! over every byte and every chunk boundary, no framework in between.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Computes a reply from the request and the request's number (from 0), and how long to
/// wait before sending it.
pub type Handler = Arc<dyn Fn(&Recorded, usize) -> (Reply, Duration) + Send + Sync>;

#[derive(Clone)]
pub enum Reply {
    /// A reply computed per request (echo servers, faults for chosen inputs).
    Dynamic(Handler),
    /// A complete response with `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A chunked `text/event-stream`; each piece is sent as its own chunk after `delay`.
    /// `cut` closes the socket without the terminating zero chunk.
    Sse {
        headers: Vec<(String, String)>,
        pieces: Vec<Vec<u8>>,
        delay: Duration,
        cut: bool,
    },
    /// Close the connection without answering.
    Reset,
    /// Read the request, say nothing for this long, then close.
    Hang(Duration),
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
    requests: Vec<Recorded>,
    /// Panics inside the server (a handler's assertion, a missing reply): the test that owns
    /// the mock fails with them when it next asks for requests, or when the mock is dropped.
    panics: Vec<String>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

pub struct Mock {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Mock {
    /// Starts a server that answers requests with `replies` in order, then repeats the last.
    pub fn start(replies: Vec<Reply>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut script: VecDeque<Reply> = replies.into();
        let fallback = script.back().cloned();
        if script.len() == 1 {
            script.clear();
        }
        let state = Arc::new(Mutex::new(State {
            script,
            fallback,
            requests: Vec::new(),
            panics: Vec::new(),
        }));
        let st = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                thread::spawn(move || {
                    // An I/O error is the client going away (resets, timeouts): not a failure.
                    let served = catch_unwind(AssertUnwindSafe(|| serve(conn, &st)));
                    if let Err(payload) = served {
                        lock(&st).panics.push(panic_message(&*payload));
                    }
                });
            }
        });
        Mock { url, state }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.check();
        lock(&self.state).requests.clone()
    }

    pub fn hits(&self) -> usize {
        self.check();
        lock(&self.state).requests.len()
    }

    /// Fails the calling test if the server panicked while answering.
    fn check(&self) {
        let panics = lock(&self.state).panics.clone();
        if !panics.is_empty() {
            panic!("the mock server panicked: {}", panics.join("; "));
        }
    }

    pub fn only_request(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "expected exactly one request, got {}", r.len());
        r.into_iter().next().unwrap()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if !thread::panicking() {
            self.check();
        }
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let recorded = Recorded {
        path,
        headers,
        body,
        at: Instant::now(),
    };
    let (reply, number) = {
        let mut st = lock(state);
        st.requests.push(recorded.clone());
        let reply = st
            .script
            .pop_front()
            .or_else(|| st.fallback.clone())
            .expect("mock has a reply");
        (reply, st.requests.len() - 1)
    };
    let reply = match reply {
        Reply::Dynamic(handler) => {
            // Recorded while the connection is still open: a client that saw it close
            // finds the panic when it asks for the requests.
            match catch_unwind(AssertUnwindSafe(|| handler(&recorded, number))) {
                Ok((reply, delay)) => {
                    thread::sleep(delay);
                    reply
                }
                Err(payload) => {
                    lock(state).panics.push(panic_message(&*payload));
                    Reply::Reset
                }
            }
        }
        other => other,
    };
    let mut conn = conn;
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head += &format!("{k}: {v}\r\n");
            }
            head += &format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes())?;
            conn.write_all(&body)?;
        }
        Reply::Sse {
            headers,
            pieces,
            delay,
            cut,
        } => {
            let mut head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n".to_string();
            for (k, v) in &headers {
                head += &format!("{k}: {v}\r\n");
            }
            head += "\r\n";
            conn.write_all(head.as_bytes())?;
            conn.flush()?;
            for piece in pieces {
                if !delay.is_zero() {
                    thread::sleep(delay);
                }
                if piece.is_empty() {
                    continue;
                }
                conn.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                conn.write_all(&piece)?;
                conn.write_all(b"\r\n")?;
                conn.flush()?;
            }
            if !cut {
                conn.write_all(b"0\r\n\r\n")?;
            }
        }
        Reply::Reset => {}
        Reply::Hang(d) => thread::sleep(d),
        Reply::Dynamic(_) => unreachable!("resolved above"),
    }
    conn.flush()?;
    let _ = conn.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Site Overloaded",
        _ => "Status",
    }
}

fn hdrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn full(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Reply {
    Reply::Full {
        status,
        headers: hdrs(headers),
        body: body.into(),
    }
}

/// SSE events as the server frames them, one piece per event.
pub fn sse(events: Vec<String>, headers: &[(&str, &str)]) -> Reply {
    Reply::Sse {
        headers: hdrs(headers),
        pieces: events.into_iter().map(String::into_bytes).collect(),
        delay: Duration::ZERO,
        cut: false,
    }
}

/// Applies `f` to a stream reply's pieces, delay and cut flag; other replies pass through.
fn edit_sse(reply: Reply, f: impl FnOnce(&mut Vec<Vec<u8>>, &mut Duration, &mut bool)) -> Reply {
    match reply {
        Reply::Sse {
            headers,
            mut pieces,
            mut delay,
            mut cut,
        } => {
            f(&mut pieces, &mut delay, &mut cut);
            Reply::Sse {
                headers,
                pieces,
                delay,
                cut,
            }
        }
        other => other,
    }
}

/// Re-cuts a stream's bytes into pieces of `n` bytes (splitting lines, CRLFs and UTF-8).
pub fn rechunk(reply: Reply, n: usize) -> Reply {
    edit_sse(reply, |pieces, _, _| {
        *pieces = pieces.concat().chunks(n).map(<[u8]>::to_vec).collect();
    })
}

/// Closes the connection without the terminating zero chunk.
pub fn with_cut(reply: Reply) -> Reply {
    edit_sse(reply, |_, _, cut| *cut = true)
}

pub fn with_delay(reply: Reply, d: Duration) -> Reply {
    edit_sse(reply, |_, delay, _| *delay = d)
}

/// Drops the last `n` events (e.g. the terminator).
pub fn without_last(reply: Reply, n: usize) -> Reply {
    edit_sse(reply, |pieces, _, _| {
        pieces.truncate(pieces.len().saturating_sub(n));
    })
}

// ---- OpenAI (PROTOCOLS.md A.3–A.5) ----

pub const OPENAI_MODEL_REPORTED: &str = "gpt-4o-mini-2024-07-18";

pub fn openai_completion(text: &str) -> Reply {
    let body = json!({
        "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1730000000,
        "model": OPENAI_MODEL_REPORTED, "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req_openai_123"),
            ("openai-processing-ms", "12"),
        ],
        body.to_string(),
    )
}

pub fn openai_stream(deltas: &[&str]) -> Reply {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1730000000,
                   "model": OPENAI_MODEL_REPORTED, "system_fingerprint": "fp_1",
                   "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                   "usage": null})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for d in deltas {
        events.push(chunk(json!({"content": d}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    events.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1730000000,
               "model": OPENAI_MODEL_REPORTED, "choices": [],
               "usage": {"prompt_tokens": 9, "completion_tokens": deltas.len(), "total_tokens": 9 + deltas.len(),
                         "prompt_tokens_details": {"cached_tokens": 0},
                         "completion_tokens_details": {"reasoning_tokens": 0}}})
    ));
    events.push("data: [DONE]\n\n".into());
    sse(events, &[("x-request-id", "req_openai_stream")])
}

pub fn openai_error(status: u16, ty: &str, code: Option<&str>, message: &str) -> Reply {
    let body = json!({"error": {"message": message, "type": ty, "param": null, "code": code}});
    full(
        status,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req_openai_err"),
        ],
        body.to_string(),
    )
}

// ---- Anthropic (PROTOCOLS.md B.4–B.6) ----

pub const ANTHROPIC_MODEL_REPORTED: &str = "claude-sonnet-4-5-20250929";

pub fn anthropic_message(text: &str) -> Reply {
    let body = json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
        "model": ANTHROPIC_MODEL_REPORTED,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 412, "output_tokens": 57,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                  "service_tier": "standard"}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"),
        ],
        body.to_string(),
    )
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

pub fn anthropic_stream(deltas: &[&str]) -> Reply {
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message",
                   "role": "assistant", "content": [], "model": ANTHROPIC_MODEL_REPORTED,
                   "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 25, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    for d in deltas {
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}),
        ));
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 89}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events, &[("request-id", "req_anthropic_stream")])
}

/// An `event: error` (sent after a 200) at position `at` among the events.
pub fn anthropic_error_event(ty: &str, message: &str) -> String {
    event(
        "error",
        json!({"type": "error", "error": {"type": ty, "message": message}}),
    )
}

pub fn insert_event(reply: Reply, at: usize, ev: String) -> Reply {
    edit_sse(reply, |pieces, _, _| pieces.insert(at, ev.into_bytes()))
}

pub fn anthropic_error(status: u16, ty: &str, message: &str) -> Reply {
    let body = json!({"type": "error", "error": {"type": ty, "message": message},
                      "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"});
    full(
        status,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy"),
        ],
        body.to_string(),
    )
}

/// An Anthropic reply that is one forced tool call.
pub fn anthropic_tool_use(name: &str, input: Value) -> Reply {
    let body = json!({
        "id": "msg_01Tool", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": name, "input": input}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 300, "output_tokens": 40}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_tool"),
        ],
        body.to_string(),
    )
}

/// An Anthropic text reply with a chosen stop reason.
pub fn anthropic_message_stop(text: &str, stop_reason: &str) -> Reply {
    let body = json!({
        "id": "msg_02", "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL_REPORTED,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_stop"),
        ],
        body.to_string(),
    )
}

/// The text of the last user message of an OpenAI or Anthropic request.
pub fn last_user_text(req: &Recorded) -> String {
    let body = req.json();
    let msgs = body["messages"].as_array().cloned().unwrap_or_default();
    let user = msgs
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .cloned()
        .unwrap_or(Value::Null);
    match &user["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

pub fn dynamic(f: impl Fn(&Recorded, usize) -> (Reply, Duration) + Send + Sync + 'static) -> Reply {
    Reply::Dynamic(Arc::new(f))
}

/// `POST /v1/messages/count_tokens` (PROTOCOLS.md B.7): `{"input_tokens": n}`.
pub fn anthropic_count_tokens(n: u64) -> Reply {
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_count_tokens"),
        ],
        json!({ "input_tokens": n }).to_string(),
    )
}

// ---- Effort, thinking and prompt caching (PROTOCOLS.md H) ----

/// The thinking text the smart mocks return when thinking is on.
pub const MOCK_THINKING: &str = "Let me weigh the options first.";
/// The smallest prefix (in mock tokens) the mocks cache, as the APIs' 1,024-token minimum.
pub const MOCK_MIN_CACHEABLE: u64 = 1024;

/// Tokens the smart mocks count for a text: one per four bytes, at least one.
pub fn mock_tokens(s: &str) -> u64 {
    (s.len() as u64).div_ceil(4).max(1)
}

fn json_reply(status: u16, rid: &str, body: Value) -> Reply {
    full(
        status,
        &[
            ("content-type", "application/json"),
            ("request-id", rid),
            ("x-request-id", rid),
        ],
        body.to_string(),
    )
}

fn anthropic_invalid(message: &str) -> Reply {
    anthropic_error(400, "invalid_request_error", message)
}

/// A Claude model's generation as (major, minor), from `claude-FAMILY-MAJOR[-MINOR]`.
fn claude_version(model: &str) -> (u32, u32) {
    let parts: Vec<&str> = model.trim_start_matches("claude-").split('-').collect();
    let n = |i: usize| {
        parts
            .get(i)
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|n| *n < 100)
    };
    match (n(0), n(1), n(2)) {
        (Some(a), Some(b), _) => (a, b),
        (Some(a), None, _) => (a, 0),
        (None, Some(a), b) => (a, b.unwrap_or(0)),
        _ => (0, 0),
    }
}

/// An Anthropic Messages server that behaves like the API on what PROTOCOLS.md H.2 says:
/// it checks thinking, effort, temperature, prefill, forced tools and `cache_control`
/// (at most four; `ttl` 5m or 1h) and answers 400 where the API does; it keeps a prompt
/// cache (prefixes up to each breakpoint, of at least [`MOCK_MIN_CACHEABLE`] tokens) and
/// reports writes (split 5m/1h) and reads in usage, `input_tokens` being only the rest;
/// with thinking on it answers with a thinking block (or `thinking_delta`s when streamed)
/// before `text`.
pub fn anthropic_smart(text: &str) -> Reply {
    let text = text.to_string();
    let cache: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    dynamic(move |req, _| (anthropic_smart_reply(req, &text, &cache), Duration::ZERO))
}

fn anthropic_smart_reply(
    req: &Recorded,
    text: &str,
    cache: &Mutex<std::collections::HashSet<String>>,
) -> Reply {
    let body = req.json();
    let model = body["model"].as_str().unwrap_or("").to_string();
    let version = claude_version(&model);
    let max_tokens = body["max_tokens"].as_u64().unwrap_or(0);
    // Thinking.
    let thinking = &body["thinking"];
    // The 5.x generation thinks unless told not to.
    let by_default = version >= (5, 0);
    let thinking_on = match thinking["type"].as_str() {
        None => by_default,
        Some("disabled") => false,
        Some("enabled") => {
            if version >= (4, 7) {
                return anthropic_invalid(
                    "thinking.type.enabled is not supported for this model. Use thinking.type.adaptive and output_config.effort to control thinking behavior.",
                );
            }
            let Some(budget) = thinking["budget_tokens"].as_u64() else {
                return anthropic_invalid("thinking.enabled.budget_tokens: Field required");
            };
            if budget < 1024 {
                return anthropic_invalid(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                );
            }
            if budget >= max_tokens {
                return anthropic_invalid(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                );
            }
            true
        }
        Some("adaptive") => {
            if version < (4, 6) {
                return anthropic_invalid("adaptive thinking is not supported on this model");
            }
            true
        }
        Some(other) => {
            return anthropic_invalid(&format!(
                "thinking.type: Input tag '{other}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled', 'adaptive'"
            ));
        }
    };
    // Effort.
    if let Some(effort) = body["output_config"].get("effort") {
        let allowed: &[&str] = if version >= (4, 7) {
            &["low", "medium", "high", "xhigh", "max"]
        } else if version >= (4, 6) {
            &["low", "medium", "high", "max"]
        } else if model.starts_with("claude-opus-4-5") {
            &["low", "medium", "high"]
        } else {
            &[]
        };
        if allowed.is_empty() {
            return anthropic_invalid("output_config.effort: Extra inputs are not permitted");
        }
        if !effort.as_str().is_some_and(|e| allowed.contains(&e)) {
            return anthropic_invalid(&format!(
                "output_config.effort: Input should be {}",
                allowed
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    // The 4.6 generation and later refuse a prefill, thinking or not.
    if version >= (4, 6) && messages.last().is_some_and(|m| m["role"] == "assistant") {
        return anthropic_invalid(
            "This model does not support assistant message prefill. The conversation must end with a user message.",
        );
    }
    if thinking_on {
        if body
            .get("temperature")
            .and_then(Value::as_f64)
            .is_some_and(|t| t != 1.0)
        {
            return anthropic_invalid(
                "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
            );
        }
        if body.get("top_k").is_some() {
            return anthropic_invalid("`top_k` is not supported when thinking is enabled");
        }
        if messages.last().is_some_and(|m| m["role"] == "assistant") {
            return anthropic_invalid(
                "This model does not support assistant message prefill. The conversation must end with a user message.",
            );
        }
        if matches!(body["tool_choice"]["type"].as_str(), Some("any" | "tool")) {
            return anthropic_invalid(
                "Thinking may not be enabled when tool_choice forces tool use.",
            );
        }
    }
    // The prompt as blocks, in the API's order: tools, system, messages.
    let mut blocks: Vec<(String, u64, Option<String>)> = Vec::new();
    let mut push = |block: &Value, tokens: u64| {
        let ttl = block.get("cache_control").map(|c| {
            c.get("ttl")
                .and_then(Value::as_str)
                .unwrap_or("5m")
                .to_string()
        });
        let mut bare = block.clone();
        if let Some(o) = bare.as_object_mut() {
            o.remove("cache_control");
        }
        blocks.push((bare.to_string(), tokens, ttl));
    };
    for tool in body["tools"].as_array().into_iter().flatten() {
        push(tool, mock_tokens(&tool.to_string()));
    }
    match &body["system"] {
        Value::String(s) => push(&json!({"type": "text", "text": s}), mock_tokens(s)),
        Value::Array(bs) => {
            for b in bs {
                push(b, mock_tokens(b["text"].as_str().unwrap_or("")));
            }
        }
        _ => {}
    }
    for m in &messages {
        let role = m["role"].as_str().unwrap_or("");
        match &m["content"] {
            Value::String(s) => push(&json!({"role": role, "text": s}), mock_tokens(s)),
            Value::Array(bs) => {
                for b in bs {
                    let mut b = b.clone();
                    b["role"] = json!(role);
                    let t = mock_tokens(b["text"].as_str().unwrap_or(&b.to_string()));
                    push(&b, t);
                }
            }
            _ => {}
        }
    }
    let breakpoints: Vec<usize> = (0..blocks.len())
        .filter(|&i| blocks[i].2.is_some())
        .collect();
    if breakpoints.len() > 4 {
        return anthropic_invalid(&format!(
            "A maximum of 4 blocks with cache_control may be provided. Found {}.",
            breakpoints.len()
        ));
    }
    if let Some(bad) = blocks
        .iter()
        .filter_map(|b| b.2.as_deref())
        .find(|t| *t != "5m" && *t != "1h")
    {
        return anthropic_invalid(&format!(
            "cache_control.ephemeral.ttl: Input should be '5m' or '1h', not '{bad}'"
        ));
    }
    let total: u64 = blocks.iter().map(|b| b.1).sum();
    let prefix = |end: usize| -> (String, u64) {
        let key = format!(
            "{model}|{}",
            blocks[..=end]
                .iter()
                .map(|b| b.0.as_str())
                .collect::<Vec<_>>()
                .join("|")
        );
        (key, blocks[..=end].iter().map(|b| b.1).sum())
    };
    let (mut read, mut w5m, mut w1h) = (0u64, 0u64, 0u64);
    {
        let mut cache = lock_set(cache);
        for &bp in &breakpoints {
            let (key, tokens) = prefix(bp);
            if tokens >= MOCK_MIN_CACHEABLE && cache.contains(&key) {
                read = read.max(tokens);
            }
        }
        let mut covered = read;
        for &bp in &breakpoints {
            let (key, tokens) = prefix(bp);
            if tokens < MOCK_MIN_CACHEABLE {
                continue;
            }
            if tokens > covered {
                let written = tokens - covered;
                if blocks[bp].2.as_deref() == Some("1h") {
                    w1h += written;
                } else {
                    w5m += written;
                }
                covered = tokens;
            }
            cache.insert(key);
        }
    }
    let input_tokens = total - read - w5m - w1h;
    // Opus 4.7 and later leave the thinking text out unless asked for a summary.
    let omitted = version > (4, 6) && thinking["display"] != "summarized";
    let thought = if thinking_on && !omitted {
        MOCK_THINKING
    } else {
        ""
    };
    let output_tokens = mock_tokens(text)
        + if thinking_on {
            mock_tokens(MOCK_THINKING)
        } else {
            0
        };
    let usage = json!({
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "cache_creation_input_tokens": w5m + w1h, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": w5m, "ephemeral_1h_input_tokens": w1h},
        "service_tier": "standard"
    });
    let signature = "EqQBCkYIARgCIkDmock-signature";
    if body["stream"] == json!(true) {
        let mut start_usage = usage.clone();
        start_usage["output_tokens"] = json!(1);
        let mut events = vec![event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_smart", "type": "message",
                   "role": "assistant", "content": [], "model": model,
                   "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
        )];
        let mut index = 0;
        if thinking_on {
            events.push(event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            ));
            let (a, b) = thought.split_at(thought.len() / 2);
            for piece in [a, b] {
                events.push(event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "thinking_delta", "thinking": piece}}),
                ));
            }
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "signature_delta", "signature": signature}}),
            ));
            events.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ));
            index = 1;
        }
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
        ));
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        events.push(event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"output_tokens": output_tokens}}),
        ));
        events.push(event("message_stop", json!({"type": "message_stop"})));
        return sse(events, &[("request-id", "req_smart_stream")]);
    }
    let mut content = Vec::new();
    if thinking_on {
        content.push(json!({"type": "thinking", "thinking": thought, "signature": signature}));
    }
    content.push(json!({"type": "text", "text": text}));
    json_reply(
        200,
        "req_smart",
        json!({"id": "msg_smart", "type": "message", "role": "assistant", "model": model,
               "content": content, "stop_reason": "end_turn", "stop_sequence": null,
               "usage": usage}),
    )
}

fn lock_set<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `reasoning_effort` values an OpenAI model takes, as its 400 lists them; `None` for
/// a model that takes no `reasoning_effort` at all.
fn openai_efforts(model: &str) -> Option<&'static [&'static str]> {
    if model.starts_with("o1") || model.starts_with("o3") || model.starts_with("o4") {
        Some(&["low", "medium", "high"])
    } else if model.starts_with("gpt-5.1") {
        Some(&["none", "low", "medium", "high"])
    } else if model.starts_with("gpt-5.") {
        Some(&["none", "low", "medium", "high", "xhigh"])
    } else if model.starts_with("gpt-5") {
        Some(&["minimal", "low", "medium", "high"])
    } else {
        None
    }
}

/// An OpenAI Chat Completions server that behaves like the API on what PROTOCOLS.md H.1
/// says: `reasoning_effort` a model does not take is a 400 naming the param, a reasoning
/// model refuses a non-default temperature, prompts of 1,024+ tokens are cached on their
/// own (in 128-token steps, per `prompt_cache_key` when given) and reported as
/// `prompt_tokens_details.cached_tokens`, and reasoning is billed as
/// `completion_tokens_details.reasoning_tokens`.
pub fn openai_smart(text: &str) -> Reply {
    let text = text.to_string();
    let seen: Arc<SeenPrompts> = Arc::default();
    dynamic(move |req, _| (openai_smart_reply(req, &text, &seen), Duration::ZERO))
}

type SeenPrompts = Mutex<Vec<(String, Vec<(String, u64)>)>>;

fn openai_smart_reply(req: &Recorded, text: &str, seen: &SeenPrompts) -> Reply {
    let body = req.json();
    let model = body["model"].as_str().unwrap_or("").to_string();
    let invalid = |message: String, param: &str, code: &str| {
        let b = json!({"error": {"message": message, "type": "invalid_request_error",
                                  "param": param, "code": code}});
        json_reply(400, "req_openai_smart_err", b)
    };
    if let Some(key) = body["prompt_cache_key"].as_str()
        && key.chars().count() > 64
    {
        return invalid(
            format!(
                "Invalid 'prompt_cache_key': string too long. Expected a string with maximum length 64, but got a string with length {} instead.",
                key.chars().count()
            ),
            "prompt_cache_key",
            "string_above_max_length",
        );
    }
    let efforts = openai_efforts(&model);
    if let Some(effort) = body.get("reasoning_effort") {
        let Some(allowed) = efforts else {
            return invalid(
                "Unrecognized request argument supplied: reasoning_effort".into(),
                "reasoning_effort",
                "unsupported_parameter",
            );
        };
        let e = effort.as_str().unwrap_or("");
        if !allowed.contains(&e) {
            return invalid(
                format!(
                    "Unsupported value: 'reasoning_effort' does not support '{e}' with this model. Supported values are: {}.",
                    allowed
                        .iter()
                        .map(|a| format!("'{a}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "reasoning_effort",
                "unsupported_value",
            );
        }
    }
    if efforts.is_some()
        && body
            .get("temperature")
            .and_then(Value::as_f64)
            .is_some_and(|t| t != 1.0)
    {
        return invalid(
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.".into(),
            "temperature",
            "unsupported_value",
        );
    }
    let messages: Vec<(String, u64)> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let t = m["content"]
                .as_str()
                .map_or_else(|| m["content"].to_string(), str::to_owned);
            (m.to_string(), mock_tokens(&t) + 4)
        })
        .collect();
    let total: u64 = messages.iter().map(|m| m.1).sum();
    let group = format!(
        "{model}|{}",
        body["prompt_cache_key"].as_str().unwrap_or("")
    );
    let mut cached = 0;
    {
        let mut seen = lock_set(seen);
        for (_, earlier) in seen.iter().filter(|(g, _)| *g == group) {
            let common: u64 = messages
                .iter()
                .zip(earlier)
                .take_while(|(a, b)| a.0 == b.0)
                .map(|(a, _)| a.1)
                .sum();
            let steps = common / 128 * 128;
            if steps >= 1024 {
                cached = cached.max(steps);
            }
        }
        if total >= 1024 {
            seen.push((group, messages.clone()));
        }
    }
    let reasoning = if body.get("reasoning_effort").is_some() {
        64
    } else {
        0
    };
    let completion = mock_tokens(text) + reasoning;
    let usage = json!({"prompt_tokens": total, "completion_tokens": completion,
        "total_tokens": total + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}});
    if body["stream"] == json!(true) {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-smart", "object": "chat.completion.chunk", "created": 1730000000,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                       "usage": null})
            )
        };
        let events = vec![
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": text}), Value::Null),
            chunk(json!({}), json!("stop")),
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-smart", "object": "chat.completion.chunk", "created": 1730000000,
                       "model": model, "choices": [], "usage": usage})
            ),
            "data: [DONE]\n\n".to_string(),
        ];
        return sse(events, &[("x-request-id", "req_openai_smart_stream")]);
    }
    json_reply(
        200,
        "req_openai_smart",
        json!({"id": "chatcmpl-smart", "object": "chat.completion", "created": 1730000000,
               "model": model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                            "logprobs": null, "finish_reason": "stop"}],
               "usage": usage}),
    )
}

// ---- Tool calling (PROTOCOLS.md A.2, A.3, A.5; B.2, B.4, B.5) ----

/// One call a mock reply makes: id, tool name, arguments as JSON text.
pub type MockCall<'a> = (&'a str, &'a str, &'a str);

/// An OpenAI reply with `tool_calls` (arguments a JSON string), `content` null when there is
/// no text, `finish_reason` as given (OpenAI says `stop` for a forced call).
pub fn openai_tool_calls(text: Option<&str>, calls: &[MockCall<'_>], finish: &str) -> Reply {
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
        })
        .collect();
    let body = json!({
        "id": "chatcmpl-Tools", "object": "chat.completion", "created": 1730000000,
        "model": OPENAI_MODEL_REPORTED,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null,
                     "tool_calls": tool_calls}, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req_openai_tools"),
        ],
        body.to_string(),
    )
}

/// The same, streamed: each call's first fragment has id, type, name and `arguments: ""`,
/// then the arguments come in two pieces keyed by `index`, calls interleaved.
pub fn openai_tool_stream(text: Option<&str>, calls: &[MockCall<'_>]) -> Reply {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1730000000,
                   "model": OPENAI_MODEL_REPORTED,
                   "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
                   "usage": null})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": null, "refusal": null}),
        Value::Null,
    )];
    if let Some(t) = text {
        events.push(chunk(json!({"content": t}), Value::Null));
    }
    for (i, (id, name, _)) in calls.iter().enumerate() {
        events.push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                                   "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        ));
    }
    for half in 0..2 {
        for (i, (_, _, args)) in calls.iter().enumerate() {
            let mid = args.len() / 2;
            let piece = if half == 0 {
                &args[..mid]
            } else {
                &args[mid..]
            };
            events.push(chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    events.push(chunk(json!({}), json!("tool_calls")));
    events.push(format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1730000000,
               "model": OPENAI_MODEL_REPORTED, "choices": [],
               "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}})
    ));
    events.push("data: [DONE]\n\n".into());
    sse(events, &[("x-request-id", "req_openai_tool_stream")])
}

/// An Anthropic reply with `tool_use` blocks (input objects) after an optional text block,
/// and a thinking block first when `thinking` is set.
pub fn anthropic_tool_calls(text: Option<&str>, calls: &[MockCall<'_>], thinking: bool) -> Reply {
    let mut content: Vec<Value> = Vec::new();
    if thinking {
        content.push(
            json!({"type": "thinking", "thinking": "Let me call tools.", "signature": "sig-abc"}),
        );
    }
    if let Some(t) = text {
        content.push(json!({"type": "text", "text": t}));
    }
    for (id, name, args) in calls {
        let input: Value = serde_json::from_str(args).expect("mock tool input is JSON");
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    let body = json!({
        "id": "msg_01Tools", "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL_REPORTED,
        "content": content, "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 100, "output_tokens": 30}
    });
    full(
        200,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_anthropic_tools"),
        ],
        body.to_string(),
    )
}

/// The same, streamed: `tool_use` blocks with `input_json_delta` pieces (the first `""`).
pub fn anthropic_tool_stream(text: Option<&str>, calls: &[MockCall<'_>], thinking: bool) -> Reply {
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_02", "type": "message",
               "role": "assistant", "content": [], "model": ANTHROPIC_MODEL_REPORTED,
               "stop_reason": null, "stop_sequence": null,
               "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if thinking {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "thinking_delta", "thinking": "Let me call tools."}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "signature_delta", "signature": "sig-abc"}}),
        ));
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    if let Some(t) = text {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "text", "text": ""}}),
        ));
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": t}}),
        ));
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for (id, name, args) in calls {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        let mid = args.len() / 2;
        for piece in ["", &args[..mid], &args[mid..]] {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"output_tokens": 30}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events, &[("request-id", "req_anthropic_tool_stream")])
}

/// What the real OpenAI API refuses about tool turns (400 `invalid_request_error`): a tool
/// message that answers no call of the assistant message before it, and an assistant
/// message with `tool_calls` not followed by a tool message for each call id.
pub fn openai_tool_problem(body: &Value) -> Option<String> {
    let msgs = body["messages"].as_array()?;
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        if m["role"] == "tool" {
            return Some(format!(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages[{i}], tool_call_id {})",
                m["tool_call_id"]
            ));
        }
        if m["role"] == "assistant" && m["tool_calls"].as_array().is_some_and(|c| !c.is_empty()) {
            let ids: Vec<&str> = m["tool_calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap_or(""))
                .collect();
            let mut answered = Vec::new();
            let mut j = i + 1;
            while j < msgs.len() && msgs[j]["role"] == "tool" {
                let id = msgs[j]["tool_call_id"].as_str().unwrap_or("");
                if !ids.contains(&id) {
                    return Some(format!(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (unknown tool_call_id {id})"
                    ));
                }
                answered.push(id);
                j += 1;
            }
            let missing: Vec<&str> = ids
                .iter()
                .filter(|id| !answered.contains(id))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Some(format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    missing.join(", ")
                ));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    None
}

/// What the real Anthropic API refuses about tool turns (400 `invalid_request_error`):
/// `tool_use` ids without a `tool_result` in the next user message, a `tool_result` for an
/// id the previous assistant message did not use, and results that are not first.
pub fn anthropic_tool_problem(body: &Value) -> Option<String> {
    let msgs = body["messages"].as_array()?;
    let blocks = |m: &Value| -> Vec<Value> { m["content"].as_array().cloned().unwrap_or_default() };
    let tool_blocks = msgs
        .iter()
        .flat_map(blocks)
        .any(|b| b["type"] == "tool_use" || b["type"] == "tool_result");
    if tool_blocks && body["tools"].as_array().is_none_or(|t| t.is_empty()) {
        return Some(
            "Requests which include `tool_use` or `tool_result` blocks must define tools.".into(),
        );
    }
    for (i, m) in msgs.iter().enumerate() {
        let content = blocks(m);
        if content
            .iter()
            .any(|b| b["type"] == "text" && b["text"].as_str().is_some_and(|t| t.trim().is_empty()))
        {
            return Some(format!(
                "messages.{i}: text content blocks must contain non-whitespace text"
            ));
        }
        let results: Vec<&str> = content
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| b["tool_use_id"].as_str().unwrap_or(""))
            .collect();
        if !results.is_empty() {
            let first_other = content.iter().position(|b| b["type"] != "tool_result");
            let last_result = content.iter().rposition(|b| b["type"] == "tool_result");
            if let (Some(o), Some(r)) = (first_other, last_result)
                && o < r
            {
                return Some(format!(
                    "messages.{i}: `tool_result` blocks must come before any other content in a user message"
                ));
            }
            let used: Vec<String> = if i > 0 {
                blocks(&msgs[i - 1])
                    .iter()
                    .filter(|b| b["type"] == "tool_use")
                    .map(|b| b["id"].as_str().unwrap_or("").to_string())
                    .collect()
            } else {
                Vec::new()
            };
            if let Some(id) = results.iter().find(|id| !used.iter().any(|u| u == *id)) {
                return Some(format!(
                    "messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                ));
            }
        }
        let uses: Vec<String> = content
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| b["id"].as_str().unwrap_or("").to_string())
            .collect();
        if m["role"] == "assistant" && !uses.is_empty() {
            let next: Vec<String> = msgs
                .get(i + 1)
                .map(|n| {
                    blocks(n)
                        .iter()
                        .filter(|b| b["type"] == "tool_result")
                        .map(|b| b["tool_use_id"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<&str> = uses
                .iter()
                .filter(|u| !next.contains(u))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Some(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    missing.join(", ")
                ));
            }
        }
    }
    None
}

/// Answers the n-th request with `replies[n]` (the last repeated), after checking its tool
/// turns as the real API does: a request it would refuse gets its 400 error body.
pub fn tool_checked(anthropic: bool, replies: Vec<Reply>) -> Reply {
    dynamic(move |req, n| {
        let body = req.json();
        let problem = if anthropic {
            anthropic_tool_problem(&body)
        } else {
            openai_tool_problem(&body)
        };
        let reply = match problem {
            Some(msg) if anthropic => anthropic_error(400, "invalid_request_error", &msg),
            Some(msg) => openai_error(400, "invalid_request_error", None, &msg),
            None => replies[n.min(replies.len() - 1)].clone(),
        };
        (reply, Duration::ZERO)
    })
}
