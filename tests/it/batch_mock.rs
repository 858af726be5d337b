//! A fake of both providers' Batch APIs (PROTOCOLS.md G), on the byte-exact mock server:
//! OpenAI Files (multipart upload, content) and Batches (create, get, cancel, list, output
//! and error files); Anthropic Message Batches (create, get, cancel, list, results JSONL at
//! `results_url`). It checks what a real API checks (auth headers, `purpose=batch`, a
//! `.jsonl` name, `custom_id`s, the endpoint and window), answers results in shuffled
//! order, and can show per-item errors, expiry, cancellation, a validation failure, a
//! brief 404 after creation and a low per-batch request limit.
//!
//! An item's fate is chosen by its user text: `FAIL400` (the API rejects it), `FAIL500`
//! (a server error), `EXPIRE` (never ran before the window closed), `ANSWER=text` (answered
//! `text`); anything else is answered `echo: <user text>` with the same usage the live
//! mocks report.

#![allow(dead_code)] // each test uses the part of the fake it needs

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::mock::{self, Mock, Recorded, Reply};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

/// How the fake behaves; change it through [`BatchApi::config`] at any time.
#[derive(Debug, Clone)]
pub struct Config {
    /// GETs of a batch before it has ended (0: ended at the first look).
    pub polls_to_end: usize,
    /// OpenAI: the batch fails validation (`invalid_json_line` on line 2).
    pub fail_validation: bool,
    /// The whole batch runs out of time: items after the first half are `expired`.
    pub expire: bool,
    /// 404 answers to the first GETs of each batch (the "not found right after create").
    pub not_found_first: usize,
    /// Requests one batch may hold (OpenAI: the batch fails `too_many_tasks`; Anthropic: 400).
    pub max_requests: usize,
    /// The batch at this position (0-based, in creation order) ends without results:
    /// OpenAI fails its validation (`invalid_json_line` on its line 2); Anthropic ends
    /// with no `results_url`.
    pub fail_batch: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            polls_to_end: 0,
            fail_validation: false,
            expire: false,
            not_found_first: 0,
            max_requests: usize::MAX,
            fail_batch: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    pub api: Api,
    /// `(custom_id, body)` in the order sent.
    pub requests: Vec<(String, Value)>,
    pub created_at: u64,
    gets: usize,
    pub canceled: bool,
    failed: Option<Value>,
    input_file: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub config: Config,
    pub files: HashMap<String, (String, Vec<u8>)>,
    pub batches: Vec<Batch>,
    seq: usize,
    /// Paths (a results file's) answered with this status instead, every time.
    pub broken: Vec<(String, u16)>,
}

pub struct BatchApi {
    pub mock: Mock,
    pub state: Arc<Mutex<State>>,
}

impl BatchApi {
    pub fn start(config: Config) -> BatchApi {
        let state = Arc::new(Mutex::new(State {
            config,
            ..State::default()
        }));
        let url = Arc::new(Mutex::new(String::new()));
        let (st, u) = (state.clone(), url.clone());
        let mock = Mock::start(vec![mock::dynamic(move |req, _| {
            let base = u.lock().unwrap().clone();
            (handle(&mut st.lock().unwrap(), req, &base), Duration::ZERO)
        })]);
        *url.lock().unwrap() = mock.url.clone();
        BatchApi { mock, state }
    }

    pub fn config(&self, f: impl FnOnce(&mut Config)) {
        f(&mut self.state.lock().unwrap().config);
    }

    pub fn batches(&self) -> Vec<Batch> {
        self.state.lock().unwrap().batches.clone()
    }

    /// Paths of the requests the fake answered, `METHOD path` (GET when there was no body).
    pub fn calls(&self) -> Vec<String> {
        self.mock
            .requests()
            .iter()
            .map(|r| format!("{} {}", method(r), r.path))
            .collect()
    }
}

fn method(r: &Recorded) -> &'static str {
    if r.body.is_empty() && !r.path.ends_with("/cancel") {
        "GET"
    } else {
        "POST"
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 with microseconds, as Anthropic writes it.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.100435Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn json_reply(status: u16, rid: &str, body: Value) -> Reply {
    mock::full(
        status,
        &[("content-type", "application/json"), ("x-request-id", rid)],
        body.to_string(),
    )
}

fn openai_error(status: u16, message: &str, param: Option<&str>) -> Reply {
    json_reply(
        status,
        "req_batch_err",
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

fn anthropic_error(status: u16, ty: &str, message: &str) -> Reply {
    mock::full(
        status,
        &[
            ("content-type", "application/json"),
            ("request-id", "req_batch_err"),
        ],
        json!({"type": "error", "error": {"type": ty, "message": message}}).to_string(),
    )
}

fn handle(st: &mut State, req: &Recorded, base: &str) -> Reply {
    let path = req.path.split('?').next().unwrap_or("").to_string();
    let m = method(req);
    if let Some(&(_, status)) = st.broken.iter().find(|(p, _)| *p == path) {
        return if path.starts_with("/results-store/") {
            anthropic_error(status, "api_error", "Internal server error")
        } else {
            openai_error(status, "The server had an error", None)
        };
    }
    if path.starts_with("/v1/messages/batches") || path.starts_with("/results-store/") {
        if req.header("x-api-key").is_none() || req.header("anthropic-version").is_none() {
            return anthropic_error(401, "authentication_error", "invalid x-api-key");
        }
        return anthropic(st, req, m, &path, base);
    }
    if req
        .header("authorization")
        .is_none_or(|a| !a.starts_with("Bearer "))
    {
        return openai_error(401, "You didn't provide an API key.", None);
    }
    openai(st, req, m, &path)
}

// ---- OpenAI (G.1–G.4) ----

fn openai(st: &mut State, req: &Recorded, m: &str, path: &str) -> Reply {
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (m, parts.as_slice()) {
        ("POST", ["files"]) => upload(st, req),
        ("GET", ["files", id, "content"]) => match st.files.get(*id) {
            Some((_, bytes)) => mock::full(
                200,
                &[("content-type", "application/octet-stream")],
                bytes.clone(),
            ),
            None => openai_error(404, &format!("No such File object: {id}"), Some("id")),
        },
        ("POST", ["batches"]) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            if body["endpoint"] != "/v1/chat/completions" {
                return openai_error(400, "Invalid endpoint", Some("endpoint"));
            }
            if body["completion_window"] != "24h" {
                return openai_error(
                    400,
                    "Invalid completion_window: only '24h' is supported",
                    Some("completion_window"),
                );
            }
            let file_id = body["input_file_id"].as_str().unwrap_or("").to_string();
            let Some((_, bytes)) = st.files.get(&file_id).cloned() else {
                return openai_error(
                    400,
                    &format!("Cannot find file {file_id}, or project does not have access to it."),
                    Some("file_id"),
                );
            };
            st.seq += 1;
            let mut batch = Batch {
                id: format!("batch_69c3{:04}", st.seq),
                api: Api::OpenAi,
                requests: Vec::new(),
                created_at: now(),
                gets: 0,
                canceled: false,
                failed: None,
                input_file: Some(file_id),
            };
            // Lines are checked after upload: a bad file makes a batch that fails (G.3).
            let mut errors = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                let Ok(v) = serde_json::from_slice::<Value>(line) else {
                    errors.push(json!({"code": "invalid_json_line", "line": n + 1, "message": "This line is not parseable as valid JSON.", "param": null}));
                    continue;
                };
                let id = v["custom_id"].as_str().unwrap_or("").to_string();
                if v["method"] != "POST" || !v["body"].is_object() {
                    errors.push(json!({"code": "missing_required_parameter", "line": n + 1, "message": "Missing required parameter.", "param": null}));
                } else if v["url"] != "/v1/chat/completions" {
                    errors.push(json!({"code": "url_mismatch", "line": n + 1, "message": "The url does not match the batch's endpoint.", "param": null}));
                } else if !seen.insert(id.clone()) {
                    errors.push(json!({"code": "duplicate_custom_id", "line": n + 1, "message": "The custom_id for this request is a duplicate of another request.", "param": null}));
                } else if v["body"].get("stream").is_some() {
                    errors.push(json!({"code": "invalid_request", "line": n + 1, "message": "Streaming is not supported in batches.", "param": null}));
                }
                batch.requests.push((id, v["body"].clone()));
            }
            if batch.requests.is_empty() && errors.is_empty() {
                errors.push(json!({"code": "empty_file", "line": null, "message": "The input file is empty.", "param": null}));
            }
            if batch.requests.len() > st.config.max_requests {
                errors.push(json!({"code": "too_many_tasks", "line": null, "message": "The batch has too many requests.", "param": null}));
            }
            if st.config.fail_validation || st.config.fail_batch == Some(st.batches.len()) {
                errors.push(json!({"code": "invalid_json_line", "line": 2, "message": "This line is not parseable as valid JSON.", "param": null}));
            }
            if !errors.is_empty() {
                batch.failed = Some(json!({"object": "list", "data": errors}));
            }
            let reply = openai_batch(st, &batch, "validating");
            st.batches.push(batch);
            json_reply(200, "req_batch_create", reply)
        }
        ("GET", ["batches"]) => {
            let batches: Vec<Batch> = st
                .batches
                .iter()
                .rev()
                .filter(|b| b.api == Api::OpenAi)
                .cloned()
                .collect();
            let data: Vec<Value> = batches
                .iter()
                .map(|b| {
                    let status = openai_status(st, b);
                    openai_batch(st, b, &status)
                })
                .collect();
            json_reply(
                200,
                "req_list",
                json!({"object": "list", "first_id": data.first().map(|b| b["id"].clone()),
                       "last_id": data.last().map(|b| b["id"].clone()), "has_more": false, "data": data}),
            )
        }
        ("GET", ["batches", id]) => {
            let not_found_first = st.config.not_found_first;
            let Some(i) = st.batches.iter().position(|b| b.id == *id) else {
                return openai_error(404, &format!("No batch found with id '{id}'."), None);
            };
            st.batches[i].gets += 1;
            if st.batches[i].gets <= not_found_first {
                return openai_error(404, &format!("No batch found with id '{id}'."), None);
            }
            let b = st.batches[i].clone();
            let status = openai_status(st, &b);
            json_reply(200, "req_batch_get", openai_batch(st, &b, &status))
        }
        ("POST", ["batches", id, "cancel"]) => {
            let Some(i) = st.batches.iter().position(|b| b.id == *id) else {
                return openai_error(404, &format!("No batch found with id '{id}'."), None);
            };
            let b = st.batches[i].clone();
            let status = openai_status(st, &b);
            if matches!(
                status.as_str(),
                "completed" | "failed" | "expired" | "cancelled"
            ) {
                return openai_error(
                    400,
                    &format!("Cannot cancel a batch with status '{status}'."),
                    None,
                );
            }
            st.batches[i].canceled = true;
            let b = st.batches[i].clone();
            json_reply(200, "req_batch_cancel", openai_batch(st, &b, "cancelling"))
        }
        _ => openai_error(404, &format!("Invalid URL ({m} {path})"), None),
    }
}

/// `POST /v1/files`, multipart: `purpose=batch` and a `.jsonl` file.
fn upload(st: &mut State, req: &Recorded) -> Reply {
    let ct = req.header("content-type").unwrap_or("").to_string();
    let Some(boundary) = ct.split("boundary=").nth(1).map(|b| b.trim_matches('"')) else {
        return openai_error(400, "Expected multipart/form-data", None);
    };
    let delim = format!("--{boundary}");
    let body = &req.body;
    let mut purpose = None;
    let mut file = None;
    for part in split_bytes(body, delim.as_bytes()).into_iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]).to_string();
        let mut content = &part[head_end + 4..];
        content = content.strip_suffix(b"\r\n").unwrap_or(content);
        if head.contains("name=\"purpose\"") {
            purpose = Some(String::from_utf8_lossy(content).to_string());
        } else if head.contains("name=\"file\"") {
            let name = head
                .split("filename=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string();
            file = Some((name, content.to_vec()));
        }
    }
    if purpose.as_deref() != Some("batch") {
        return openai_error(400, "Invalid purpose: expected 'batch'", Some("purpose"));
    }
    let Some((name, bytes)) = file else {
        return openai_error(400, "Missing file", Some("file"));
    };
    if !name.ends_with(".jsonl") {
        return openai_error(
            400,
            "Invalid file format for Batch API. Must be .jsonl",
            None,
        );
    }
    st.seq += 1;
    let id = format!("file-in{:04}", st.seq);
    let n = bytes.len();
    st.files.insert(id.clone(), (name.clone(), bytes));
    let t = now();
    json_reply(
        200,
        "req_upload",
        json!({"id": id, "object": "file", "bytes": n, "created_at": t, "filename": name,
               "purpose": "batch", "status": "processed", "expires_at": t + 30 * 86_400, "status_details": null}),
    )
}

fn split_bytes<'a>(hay: &'a [u8], delim: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = hay;
    while let Some(i) = find(rest, delim) {
        out.push(&rest[..i]);
        rest = &rest[i + delim.len()..];
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
    out.push(rest);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn ended(st: &State, b: &Batch) -> bool {
    b.gets > st.config.polls_to_end
}

fn openai_status(st: &State, b: &Batch) -> String {
    if b.failed.is_some() {
        return if b.gets == 0 { "validating" } else { "failed" }.into();
    }
    if b.canceled {
        return if ended(st, b) {
            "cancelled"
        } else {
            "cancelling"
        }
        .into();
    }
    if !ended(st, b) {
        return if b.gets <= 1 {
            "validating"
        } else {
            "in_progress"
        }
        .into();
    }
    if st.config.expire {
        "expired".into()
    } else {
        "completed".into()
    }
}

/// What became of one request, by its user text.
enum Fate {
    Answer(String),
    Error(u16, &'static str, &'static str),
    Expired,
    Canceled,
}

fn fate(st: &State, b: &Batch, i: usize, body: &Value) -> Fate {
    if b.canceled {
        return Fate::Canceled;
    }
    if st.config.expire && i >= b.requests.len() / 2 {
        return Fate::Expired;
    }
    let text = user_text(body);
    if text.contains("EXPIRE") {
        Fate::Expired
    } else if text.contains("FAIL400") {
        Fate::Error(400, "invalid_request_error", "max_tokens: Field required")
    } else if text.contains("FAIL500") {
        Fate::Error(500, "api_error", "Internal server error")
    } else if let Some(answer) = text.split("ANSWER=").nth(1) {
        Fate::Answer(answer.to_string())
    } else {
        Fate::Answer(format!("echo: {text}"))
    }
}

fn user_text(body: &Value) -> String {
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

/// A deterministic shuffle: results come back in an order unlike the input's.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| (i.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995) % 1_000_003);
    order
}

/// Counts and, once ended, the output and error files.
fn openai_batch(st: &mut State, b: &Batch, status: &str) -> Value {
    let t = b.created_at;
    let done = matches!(status, "completed" | "expired" | "cancelled");
    let (mut ok, mut failed) = (0, 0);
    let (mut output, mut errors) = (Vec::new(), Vec::new());
    if done {
        for i in shuffled(b.requests.len()) {
            let (id, body) = &b.requests[i];
            let line = match fate(st, b, i, body) {
                Fate::Answer(text) => {
                    ok += 1;
                    output.push(json!({"id": format!("batch_req_{i}"), "custom_id": id,
                        "response": {"status_code": 200, "request_id": format!("req_b{i}"), "body": openai_completion(body, &text)},
                        "error": null}));
                    continue;
                }
                Fate::Error(status, _, message) => {
                    json!({"id": format!("batch_req_{i}"), "custom_id": id,
                    "response": {"status_code": status, "request_id": format!("req_b{i}"),
                                 "body": {"error": {"message": message, "type": if status >= 500 {"server_error"} else {"invalid_request_error"}, "param": null, "code": null}}},
                    "error": null})
                }
                Fate::Expired => {
                    json!({"id": format!("batch_req_{i}"), "custom_id": id, "response": null,
                    "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
                }
                Fate::Canceled => {
                    json!({"id": format!("batch_req_{i}"), "custom_id": id, "response": null,
                    "error": {"code": "batch_cancelled", "message": "This request was not executed because the batch was cancelled."}})
                }
            };
            failed += 1;
            errors.push(line);
        }
    }
    let mut file = |lines: Vec<Value>, kind: &str| -> Value {
        if lines.is_empty() {
            return Value::Null;
        }
        let id = format!("file-{kind}-{}", b.id);
        let bytes: String = lines.iter().map(|l| format!("{l}\n")).collect();
        st.files
            .insert(id.clone(), (format!("{kind}.jsonl"), bytes.into_bytes()));
        json!(id)
    };
    let output_file_id = file(output, "out");
    let error_file_id = file(errors, "err");
    let total = if status == "validating" || status == "failed" {
        0
    } else {
        b.requests.len()
    };
    let at = |s: &str| {
        if status == s {
            json!(t + 5)
        } else {
            Value::Null
        }
    };
    json!({"id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "model": "gpt-4o-mini",
        "errors": if status == "failed" { b.failed.clone().unwrap_or(Value::Null) } else { Value::Null },
        "input_file_id": b.input_file, "completion_window": "24h", "status": status,
        "output_file_id": output_file_id, "error_file_id": error_file_id,
        "created_at": t, "in_progress_at": if status == "validating" { Value::Null } else { json!(t + 1) },
        "expires_at": t + 86_400, "finalizing_at": Value::Null,
        "completed_at": at("completed"), "failed_at": at("failed"), "expired_at": at("expired"),
        "cancelling_at": if b.canceled { json!(t + 2) } else { Value::Null }, "cancelled_at": at("cancelled"),
        "request_counts": {"total": total, "completed": ok, "failed": failed},
        "usage": {"input_tokens": 19 * ok, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 10 * ok,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 29 * ok},
        "metadata": null})
}

/// A chat completion like `mock::openai_completion`'s: same model and usage. A request for
/// a GPT-5.6 model is answered as that model (to price it by its own dated rates).
fn openai_completion(body: &Value, text: &str) -> Value {
    let model = match body["model"].as_str() {
        Some(m) if m.starts_with("gpt-5.6") => m,
        _ => mock::OPENAI_MODEL_REPORTED,
    };
    json!({
        "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1730000000,
        "model": model, "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    })
}

// ---- Anthropic (G.5) ----

fn anthropic(st: &mut State, req: &Recorded, m: &str, path: &str, base: &str) -> Reply {
    if let Some(id) = path
        .strip_prefix("/results-store/")
        .and_then(|p| p.strip_suffix(".jsonl"))
    {
        return anthropic_results(st, id);
    }
    let parts: Vec<&str> = path
        .trim_start_matches("/v1/messages/batches")
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match (m, parts.as_slice()) {
        ("POST", []) => {
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return anthropic_error(400, "invalid_request_error", "body is not JSON");
            };
            let Some(requests) = body["requests"].as_array() else {
                return anthropic_error(400, "invalid_request_error", "requests: Field required");
            };
            if requests.len() > st.config.max_requests {
                return anthropic_error(
                    400,
                    "invalid_request_error",
                    "requests: too many requests in one batch",
                );
            }
            let mut seen = std::collections::HashSet::new();
            let mut batch_requests = Vec::new();
            for r in requests {
                let id = r["custom_id"].as_str().unwrap_or("");
                let ok = !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !ok {
                    return anthropic_error(
                        400,
                        "invalid_request_error",
                        &format!("custom_id `{id}` does not match ^[a-zA-Z0-9_-]{{1,64}}$"),
                    );
                }
                if !seen.insert(id.to_string()) {
                    return anthropic_error(
                        400,
                        "invalid_request_error",
                        &format!("duplicate custom_id `{id}`"),
                    );
                }
                if !r["params"].is_object() || r["params"].get("stream").is_some() {
                    return anthropic_error(
                        400,
                        "invalid_request_error",
                        "params: a Messages body without stream",
                    );
                }
                batch_requests.push((id.to_string(), r["params"].clone()));
            }
            st.seq += 1;
            let batch = Batch {
                id: format!("msgbatch_01Hk{:04}", st.seq),
                api: Api::Anthropic,
                requests: batch_requests,
                created_at: now(),
                gets: 0,
                canceled: false,
                failed: None,
                input_file: None,
            };
            let reply = anthropic_batch(st, &batch, false, base);
            st.batches.push(batch);
            mock::full(
                200,
                &[
                    ("content-type", "application/json"),
                    ("request-id", "req_msgbatch_create"),
                ],
                reply.to_string(),
            )
        }
        ("GET", []) => {
            let data: Vec<Value> = st
                .batches
                .iter()
                .rev()
                .filter(|b| b.api == Api::Anthropic)
                .map(|b| anthropic_batch(st, b, ended(st, b), base))
                .collect();
            mock::full(
                200,
                &[("content-type", "application/json")],
                json!({"data": data, "has_more": false,
                       "first_id": data.first().map(|b| b["id"].clone()),
                       "last_id": data.last().map(|b| b["id"].clone())})
                .to_string(),
            )
        }
        ("GET", [id]) => {
            let not_found_first = st.config.not_found_first;
            let Some(i) = st.batches.iter().position(|b| b.id == *id) else {
                return anthropic_error(404, "not_found_error", &format!("{id} not found"));
            };
            st.batches[i].gets += 1;
            if st.batches[i].gets <= not_found_first {
                return anthropic_error(404, "not_found_error", &format!("{id} not found"));
            }
            let b = st.batches[i].clone();
            let reply = anthropic_batch(st, &b, ended(st, &b), base);
            mock::full(
                200,
                &[("content-type", "application/json")],
                reply.to_string(),
            )
        }
        ("POST", [id, "cancel"]) => {
            let Some(i) = st.batches.iter().position(|b| b.id == *id) else {
                return anthropic_error(404, "not_found_error", &format!("{id} not found"));
            };
            if !ended(st, &st.batches[i]) {
                st.batches[i].canceled = true;
            }
            let b = st.batches[i].clone();
            let reply = anthropic_batch(st, &b, false, base);
            mock::full(
                200,
                &[("content-type", "application/json")],
                reply.to_string(),
            )
        }
        _ => anthropic_error(404, "not_found_error", &format!("{m} {path} not found")),
    }
}

fn anthropic_batch(st: &State, b: &Batch, ended: bool, base: &str) -> Value {
    let position = st.batches.iter().position(|x| x.id == b.id);
    let no_results = position.is_some() && position == st.config.fail_batch;
    let mut counts = json!({"processing": b.requests.len(), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0});
    if ended {
        counts["processing"] = json!(0);
        for (i, (_, body)) in b.requests.iter().enumerate() {
            let key = match fate(st, b, i, body) {
                Fate::Answer(_) => "succeeded",
                Fate::Error(..) => "errored",
                Fate::Expired => "expired",
                Fate::Canceled => "canceled",
            };
            counts[key] = json!(counts[key].as_u64().unwrap_or(0) + 1);
        }
    }
    let status = if ended {
        "ended"
    } else if b.canceled {
        "canceling"
    } else {
        "in_progress"
    };
    json!({"id": b.id, "type": "message_batch", "processing_status": status,
        "request_counts": counts,
        "ended_at": if ended { json!(rfc3339(b.created_at + 5)) } else { Value::Null },
        "created_at": rfc3339(b.created_at), "expires_at": rfc3339(b.created_at + 86_400),
        "archived_at": null,
        "cancel_initiated_at": if b.canceled { json!(rfc3339(b.created_at + 2)) } else { Value::Null },
        "results_url": if ended && !no_results { json!(format!("{base}/results-store/{}.jsonl", b.id)) } else { Value::Null }})
}

fn anthropic_results(st: &State, id: &str) -> Reply {
    let Some(b) = st.batches.iter().find(|b| b.id == id) else {
        return anthropic_error(404, "not_found_error", "no such batch");
    };
    if !ended(st, b) {
        return anthropic_error(
            400,
            "invalid_request_error",
            "results are not available yet",
        );
    }
    let mut out = String::new();
    for i in shuffled(b.requests.len()) {
        let (cid, body) = &b.requests[i];
        let result = match fate(st, b, i, body) {
            Fate::Answer(text) => json!({"type": "succeeded", "message": {
                "id": format!("msg_b{i}"), "type": "message", "role": "assistant",
                "model": mock::ANTHROPIC_MODEL_REPORTED,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 412, "output_tokens": 57,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                          "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                          "service_tier": "batch"}}}),
            Fate::Error(_, ty, message) => json!({"type": "errored", "error": {"type": "error",
                "error": {"type": ty, "message": message}, "request_id": null}}),
            Fate::Expired => json!({"type": "expired"}),
            Fate::Canceled => json!({"type": "canceled"}),
        };
        out.push_str(&json!({"custom_id": cid, "result": result}).to_string());
        out.push('\n');
    }
    mock::full(
        200,
        &[("content-type", "application/binary")],
        out.into_bytes(),
    )
}
