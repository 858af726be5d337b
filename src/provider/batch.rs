//! The providers' Batch APIs (PROTOCOLS.md G): every difference between OpenAI (Files +
//! Batches) and Anthropic (Message Batches) lives here. Commands get neutral values back:
//! the request entry of one item, the calls to make, a [`State`] with the SPEC's status
//! words, and each result line as an index and a [`Response`] or an error.
//!
//! The HTTP calls themselves go through the one request loop (`client::Client::api` and
//! `client::Client::download`).

use serde_json::{Value, json};

use super::{HeaderValue, ProviderKind, Target, join_url, secret_header};
use crate::chat::{Request, Response};
use crate::error::{Error, Kind, Result};

/// One HTTP call of a batch job: method, URL, headers and body.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// Shared by every attempt: a batch upload may be hundreds of megabytes.
    pub body: Option<bytes::Bytes>,
}

/// The most one provider batch may hold (G.6).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub requests: usize,
    pub bytes: usize,
}

pub fn limits(kind: ProviderKind) -> Limits {
    match kind {
        ProviderKind::OpenAi => Limits {
            requests: 50_000,
            bytes: 200_000_000,
        },
        ProviderKind::Anthropic => Limits {
            requests: 100_000,
            bytes: 256_000_000,
        },
    }
}

/// What a batch id looks like at each provider.
pub fn kind_of_id(id: &str) -> Option<ProviderKind> {
    if id.starts_with("msgbatch_") {
        Some(ProviderKind::Anthropic)
    } else if id.starts_with("batch_") {
        Some(ProviderKind::OpenAi)
    } else {
        None
    }
}

/// `i<index>-<tag>`: the item index, and a tag of the job (within Anthropic's
/// `^[a-zA-Z0-9_-]{1,64}$`).
pub fn custom_id(index: usize, tag: &str) -> String {
    format!("i{index}-{tag}")
}

/// The item index a `custom_id` encodes.
pub fn index_of(custom_id: &str) -> Option<usize> {
    let rest = custom_id.strip_prefix('i')?;
    let digits = rest.split('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Within i64: the index is stored in SQLite.
    digits.parse::<i64>().ok().map(|i| i as usize)
}

/// One item's entry, as one JSON line: OpenAI's input-file line or one element of
/// Anthropic's `requests`. The body is exactly what a live request would send, without
/// `stream` (batches do not stream).
pub fn entry(target: &Target, req: &Request, custom_id: &str) -> Value {
    let mut body = super::build_request(target, req, false).body;
    if let Some(o) = body.as_object_mut() {
        o.remove("stream");
        o.remove("stream_options");
    }
    match target.kind {
        ProviderKind::OpenAi => json!({
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }),
        ProviderKind::Anthropic => json!({"custom_id": custom_id, "params": body}),
    }
}

fn headers(target: &Target, json_body: bool) -> Vec<(&'static str, HeaderValue)> {
    let mut h = match target.kind {
        ProviderKind::OpenAi => vec![("authorization", secret_header("Bearer ", &target.api_key))],
        ProviderKind::Anthropic => vec![
            ("x-api-key", secret_header("", &target.api_key)),
            (
                "anthropic-version",
                HeaderValue::Plain(super::anthropic::API_VERSION.into()),
            ),
        ],
    };
    if json_body {
        h.push((
            "content-type",
            HeaderValue::Plain("application/json".into()),
        ));
    }
    h
}

fn call(target: &Target, method: reqwest::Method, path: &str, body: Option<Value>) -> ApiCall {
    ApiCall {
        method,
        url: url(target, path),
        headers: headers(target, body.is_some()),
        body: body.map(|b| bytes::Bytes::from(b.to_string().into_bytes())),
    }
}

/// OpenAI's base URL includes `/v1`; Anthropic's does not.
fn url(target: &Target, path: &str) -> String {
    match target.kind {
        ProviderKind::OpenAi => join_url(&target.base_url, path),
        ProviderKind::Anthropic => join_url(&target.base_url, &format!("/v1{path}")),
    }
}

/// The requests of one provider batch, built in place as they are added (no copy of a
/// body that may be hundreds of megabytes): OpenAI's multipart upload of the JSONL file
/// (`purpose=batch`), or Anthropic's `{"requests":[…]}`.
pub struct Upload {
    kind: ProviderKind,
    buf: Vec<u8>,
    boundary: String,
    count: usize,
}

impl Upload {
    /// `filename` names OpenAI's file (it must end `.jsonl`).
    pub fn new(kind: ProviderKind, filename: &str) -> Upload {
        let boundary = format!("llmpipe-batch-{:016x}", fastrand_seed());
        let buf = match kind {
            ProviderKind::OpenAi => format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/jsonl\r\n\r\n"
            )
            .into_bytes(),
            ProviderKind::Anthropic => b"{\"requests\":[".to_vec(),
        };
        Upload {
            kind,
            buf,
            boundary,
            count: 0,
        }
    }

    /// Adds one entry (a JSON line of [`entry`], without its newline).
    pub fn push(&mut self, entry: &[u8]) {
        match self.kind {
            ProviderKind::OpenAi => {
                self.buf.extend_from_slice(entry);
                self.buf.push(b'\n');
            }
            ProviderKind::Anthropic => {
                if self.count > 0 {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(entry);
            }
        }
        self.count += 1;
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// The body's size so far.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// OpenAI: the `POST /files` upload (then [`create_openai`]); Anthropic: the
    /// `POST /v1/messages/batches` that creates the batch.
    pub fn finish(mut self, target: &Target) -> ApiCall {
        match self.kind {
            ProviderKind::OpenAi => {
                self.buf
                    .extend_from_slice(format!("\r\n--{}--\r\n", self.boundary).as_bytes());
                let mut h = headers(target, false);
                h.push((
                    "content-type",
                    HeaderValue::Plain(format!("multipart/form-data; boundary={}", self.boundary)),
                ));
                ApiCall {
                    method: reqwest::Method::POST,
                    url: url(target, "/files"),
                    headers: h,
                    body: Some(self.buf.into()),
                }
            }
            ProviderKind::Anthropic => {
                self.buf.extend_from_slice(b"]}");
                ApiCall {
                    method: reqwest::Method::POST,
                    url: url(target, "/messages/batches"),
                    headers: headers(target, true),
                    body: Some(self.buf.into()),
                }
            }
        }
    }
}

fn fastrand_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 40)
}

/// The id of an uploaded file.
pub fn file_id(body: &[u8]) -> Result<String> {
    let v: Value = parse(ProviderKind::OpenAi, body)?;
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| super::bad_body(ProviderKind::OpenAi, "the file object has no id"))
}

/// OpenAI `POST /batches` for an uploaded file.
fn create_openai(target: &Target, file_id: &str, job: &str) -> ApiCall {
    call(
        target,
        reqwest::Method::POST,
        "/batches",
        Some(json!({
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"llmpipe_job": job},
        })),
    )
}

/// Creates one provider batch from its requests: OpenAI uploads the requests file, then
/// creates the batch for it (`uploaded` hears of the file in between, and of its end);
/// Anthropic takes the requests in the create call itself.
pub async fn create(
    client: &super::client::Client,
    target: &Target,
    upload: Upload,
    job: &str,
    uploaded: &mut dyn FnMut(Option<&str>),
) -> Result<State> {
    let call = upload.finish(target);
    match target.kind {
        ProviderKind::OpenAi => {
            let body = client
                .api(target, &call, "for the upload of the requests", None)
                .await?;
            drop(call);
            let file = file_id(&body)?;
            uploaded(Some(&file));
            let create = create_openai(target, &file, job);
            let body = client
                .api(target, &create, "for the batch to be created", None)
                .await
                .map_err(|mut e| {
                    e.message = format!(
                        "{} (the uploaded requests file {file} has no batch: OpenAI deletes it after 30 days, or delete it now with DELETE /v1/files/{file})",
                        e.message
                    );
                    e
                })?;
            uploaded(None);
            state(target.kind, &body)
        }
        ProviderKind::Anthropic => {
            let body = client
                .api(target, &call, "for the batch to be created", None)
                .await?;
            state(target.kind, &body)
        }
    }
}

/// A model to resolve settings with for a provider batch id this machine has no record of
/// (status, results and cancel send no model; results are priced by the model they report).
pub fn bare_id_model(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "gpt-4o-mini",
        ProviderKind::Anthropic => "claude-haiku-4-5",
    }
}

fn batches_path(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "/batches",
        ProviderKind::Anthropic => "/messages/batches",
    }
}

pub fn retrieve(target: &Target, id: &str) -> ApiCall {
    let path = format!("{}/{id}", batches_path(target.kind));
    call(target, reqwest::Method::GET, &path, None)
}

pub fn cancel(target: &Target, id: &str) -> ApiCall {
    let path = format!("{}/{id}/cancel", batches_path(target.kind));
    let mut c = call(target, reqwest::Method::POST, &path, None);
    c.body = Some(bytes::Bytes::new());
    c
}

/// The newest batches at the provider (one page).
pub fn list(target: &Target, limit: u32) -> ApiCall {
    let path = format!("{}?limit={limit}", batches_path(target.kind));
    call(target, reqwest::Method::GET, &path, None)
}

/// A download: OpenAI's `GET /files/{id}/content`, or Anthropic's `results_url` as given.
pub fn download(target: &Target, what: &Download) -> ApiCall {
    let url = match what {
        Download::File(id) => url(target, &format!("/files/{id}/content")),
        // The key goes only where the base URL points: a `results_url` on another origin
        // (a gateway in front of the API, or a hostile answer) is read at the documented
        // path under the base URL instead.
        Download::Url { url: u, batch } if same_origin(u, &target.base_url) => u.clone(),
        Download::Url { batch, .. } => url(target, &format!("/messages/batches/{batch}/results")),
    };
    let mut h = headers(target, false);
    h.push(("accept", HeaderValue::Plain("application/binary".into())));
    ApiCall {
        method: reqwest::Method::GET,
        url,
        headers: h,
        body: None,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Download {
    File(String),
    Url { url: String, batch: String },
}

fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// The SPEC's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub total: u64,
    pub succeeded: u64,
    pub errored: u64,
    pub canceled: u64,
    pub expired: u64,
    pub processing: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.total += o.total;
        self.succeeded += o.succeeded;
        self.errored += o.errored;
        self.canceled += o.canceled;
        self.expired += o.expired;
        self.processing += o.processing;
    }
    pub fn done(&self) -> u64 {
        self.succeeded + self.errored + self.canceled + self.expired
    }
}

/// One provider batch, in the SPEC's words.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub id: String,
    /// `validating`, `in_progress`, `finalizing`, `ended`, `canceling`, `canceled`,
    /// `expired`, `failed`.
    pub status: &'static str,
    pub provider_status: String,
    pub counts: Counts,
    pub created_at: Option<String>,
    /// Unix seconds of creation, for the retried 404 right after it.
    pub created_unix: Option<i64>,
    pub ended_at: Option<String>,
    /// What to download once ended: output then error file (OpenAI), or the results URL.
    pub downloads: Vec<Download>,
    /// OpenAI's validation errors of a `failed` batch: `(code, line, message)`.
    pub errors: Vec<(String, Option<u64>, String)>,
}

impl State {
    pub fn terminal(&self) -> bool {
        matches!(self.status, "ended" | "canceled" | "expired" | "failed")
    }
}

fn parse(kind: ProviderKind, body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| super::bad_body(kind, e))
}

/// A batch object (create, retrieve, cancel, list entries).
pub fn state(kind: ProviderKind, body: &[u8]) -> Result<State> {
    state_of(kind, &parse(kind, body)?)
}

/// The batches of one list page.
pub fn list_states(kind: ProviderKind, body: &[u8]) -> Result<Vec<State>> {
    let v = parse(kind, body)?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| super::bad_body(kind, "the list has no `data`"))?;
    data.iter().map(|b| state_of(kind, b)).collect()
}

fn state_of(kind: ProviderKind, v: &Value) -> Result<State> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |o: &Value, k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
    let id = s("id").ok_or_else(|| super::bad_body(kind, "the batch object has no id"))?;
    match kind {
        ProviderKind::OpenAi => {
            let provider_status = s("status").unwrap_or_default();
            let status = match provider_status.as_str() {
                "validating" => "validating",
                "in_progress" => "in_progress",
                "finalizing" => "finalizing",
                "completed" => "ended",
                "cancelling" => "canceling",
                "cancelled" => "canceled",
                "expired" => "expired",
                "failed" => "failed",
                _ => "in_progress",
            };
            let rc = v.get("request_counts").cloned().unwrap_or(Value::Null);
            let (total, ok, failed) = (n(&rc, "total"), n(&rc, "completed"), n(&rc, "failed"));
            let terminal = matches!(status, "ended" | "canceled" | "expired" | "failed");
            let counts = Counts {
                total,
                succeeded: ok,
                // Until the error file is read, OpenAI's `failed` lumps errored, expired and
                // cancelled together.
                errored: failed,
                processing: if terminal {
                    0
                } else {
                    total.saturating_sub(ok + failed)
                },
                ..Counts::default()
            };
            let time = |k: &str| v.get(k).and_then(Value::as_i64);
            let ended = ["completed_at", "failed_at", "expired_at", "cancelled_at"]
                .iter()
                .filter_map(|k| time(k))
                .max();
            let mut downloads = Vec::new();
            for k in ["output_file_id", "error_file_id"] {
                if let Some(f) = s(k) {
                    downloads.push(Download::File(f));
                }
            }
            let errors = v
                .get("errors")
                .and_then(|e| e.get("data"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e.get("code")
                                    .and_then(Value::as_str)
                                    .unwrap_or("error")
                                    .to_string(),
                                e.get("line").and_then(Value::as_u64),
                                e.get("message")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(State {
                id,
                status,
                provider_status,
                counts,
                created_at: time("created_at").map(unix_rfc3339),
                created_unix: time("created_at"),
                ended_at: if terminal {
                    ended.map(unix_rfc3339)
                } else {
                    None
                },
                downloads,
                errors,
            })
        }
        ProviderKind::Anthropic => {
            let provider_status = s("processing_status").unwrap_or_default();
            let cancel_requested = v.get("cancel_initiated_at").is_some_and(|c| !c.is_null());
            let status = match provider_status.as_str() {
                "ended" if cancel_requested => "canceled",
                "ended" => "ended",
                "canceling" => "canceling",
                _ => "in_progress",
            };
            let rc = v.get("request_counts").cloned().unwrap_or(Value::Null);
            let mut counts = Counts {
                succeeded: n(&rc, "succeeded"),
                errored: n(&rc, "errored"),
                canceled: n(&rc, "canceled"),
                expired: n(&rc, "expired"),
                processing: n(&rc, "processing"),
                total: 0,
            };
            counts.total = counts.done() + counts.processing;
            let created_at = s("created_at");
            let downloads = s("results_url")
                .map(|url| Download::Url {
                    url,
                    batch: id.clone(),
                })
                .into_iter()
                .collect();
            Ok(State {
                id,
                status,
                provider_status,
                counts,
                created_unix: created_at.as_deref().and_then(rfc3339_unix),
                created_at,
                ended_at: s("ended_at"),
                downloads,
                errors: Vec::new(),
            })
        }
    }
}

fn unix_rfc3339(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    crate::store::rfc3339(t)
}

/// Unix seconds of an RFC 3339 UTC time (`2024-09-24T18:37:24.100435Z`).
fn rfc3339_unix(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// What one result line says about its item.
pub enum ItemResult {
    /// The reply, to be checked and priced like a live one.
    Answer(Box<Response>),
    Failed(Error),
}

/// One line of a results file (OpenAI output or error file, Anthropic results): the item
/// index its `custom_id` encodes and what became of it. `None` for a line that names no
/// item of ours.
pub fn result_line(kind: ProviderKind, line: &[u8]) -> Result<Option<(usize, ItemResult)>> {
    result_line_of(kind, line, None)
}

/// [`result_line`], taking only the lines whose `custom_id` carries the job's `tag`.
pub fn result_line_of(
    kind: ProviderKind,
    line: &[u8],
    tag: Option<&str>,
) -> Result<Option<(usize, ItemResult)>> {
    let v: Value = parse(kind, line)?;
    let Some(index) = v
        .get("custom_id")
        .and_then(Value::as_str)
        .filter(|c| tag.is_none_or(|t| c.split_once('-').is_some_and(|(_, rest)| rest == t)))
        .and_then(index_of)
    else {
        return Ok(None);
    };
    let name = kind.name();
    let item = match kind {
        ProviderKind::OpenAi => {
            let response = v.get("response").filter(|r| !r.is_null());
            match response {
                Some(r) => {
                    let status = r.get("status_code").and_then(Value::as_u64).unwrap_or(0) as u16;
                    let body = r.get("body").cloned().unwrap_or(Value::Null);
                    let rid = r
                        .get("request_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if (200..300).contains(&status) {
                        let mut resp = super::openai::parse_response(body.to_string().as_bytes())?;
                        resp.request_id = rid;
                        ItemResult::Answer(Box::new(resp))
                    } else {
                        let bytes = body.to_string().into_bytes();
                        let mut e = super::parse_error(
                            kind,
                            status,
                            &reqwest::header::HeaderMap::new(),
                            &bytes,
                        );
                        e.request_id = rid;
                        e.retryable = false;
                        ItemResult::Failed(e)
                    }
                }
                None => {
                    let e = v.get("error").cloned().unwrap_or(Value::Null);
                    let code = e.get("code").and_then(Value::as_str).unwrap_or("");
                    let message = e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("the request was not run");
                    let kind_ = match code {
                        "batch_expired" => Kind::Expired,
                        "batch_cancelled" | "batch_canceled" => Kind::Canceled,
                        _ => Kind::Unavailable,
                    };
                    ItemResult::Failed(
                        Error::new(kind_, format!("{name} batch {code}: {message}"))
                            .with_provider(name),
                    )
                }
            }
        }
        ProviderKind::Anthropic => {
            let r = v.get("result").cloned().unwrap_or(Value::Null);
            match r.get("type").and_then(Value::as_str).unwrap_or("") {
                "succeeded" => {
                    let message = r.get("message").cloned().unwrap_or(Value::Null);
                    let mut resp =
                        super::anthropic::parse_response(message.to_string().as_bytes())?;
                    // A batch answer has no HTTP request of its own.
                    resp.request_id = None;
                    ItemResult::Answer(Box::new(resp))
                }
                "errored" => {
                    let outer = r.get("error").cloned().unwrap_or(Value::Null);
                    let inner = outer.get("error").cloned().unwrap_or(Value::Null);
                    let ty = inner
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("api_error");
                    // The HTTP status a live request with this error would have had.
                    let status = match ty {
                        "invalid_request_error" => 400,
                        "authentication_error" => 401,
                        "billing_error" => 402,
                        "permission_error" => 403,
                        "not_found_error" => 404,
                        "request_too_large" => 413,
                        "rate_limit_error" => 429,
                        "overloaded_error" => 529,
                        _ => 500,
                    };
                    let mut e = super::parse_error(
                        kind,
                        status,
                        &reqwest::header::HeaderMap::new(),
                        outer.to_string().as_bytes(),
                    );
                    e.request_id = outer
                        .get("request_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    e.retryable = false;
                    ItemResult::Failed(e)
                }
                "canceled" => ItemResult::Failed(
                    Error::new(
                        Kind::Canceled,
                        format!("{name} batch: the request was canceled before it ran"),
                    )
                    .with_provider(name),
                ),
                "expired" => ItemResult::Failed(
                    Error::new(
                        Kind::Expired,
                        format!("{name} batch: the request expired before it ran (24 h window)"),
                    )
                    .with_provider(name),
                ),
                other => ItemResult::Failed(
                    Error::new(
                        Kind::Unavailable,
                        format!("{name} batch: unknown result type `{other}`"),
                    )
                    .with_provider(name),
                ),
            }
        }
    };
    Ok(Some((index, item)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_times_parse() {
        assert_eq!(index_of(&custom_id(12345, "ab12cd34")), Some(12345));
        assert_eq!(index_of("request-2"), None);
        assert_eq!(index_of("i-3"), None);
        assert_eq!(index_of("i18446744073709551615-x"), None);
        assert_eq!(index_of("i9223372036854775807-x"), Some(i64::MAX as usize));
        assert_eq!(
            rfc3339_unix("2024-09-24T18:37:24.100435Z"),
            Some(1_727_203_044)
        );
        assert_eq!(unix_rfc3339(1_727_203_044), "2024-09-24T18:37:24Z");
    }

    fn failed(kind: ProviderKind, line: Value) -> Error {
        match result_line(kind, line.to_string().as_bytes()) {
            Ok(Some((_, ItemResult::Failed(e)))) => e,
            _ => panic!("not a failure: {line}"),
        }
    }

    #[test]
    fn result_lines_keep_their_status_and_type() {
        let o = ProviderKind::OpenAi;
        let e = failed(
            o,
            json!({"custom_id": "i3-x", "response": {"status_code": 400, "request_id": "req_1",
                   "body": {"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}}}, "error": null}),
        );
        assert_eq!(
            (e.kind, e.status, e.request_id.as_deref()),
            (Kind::Rejected, Some(400), Some("req_1"))
        );
        let e = failed(
            o,
            json!({"custom_id": "i3-x", "response": {"status_code": 429, "body": {"error": {"message": "slow", "type": "requests"}}}, "error": null}),
        );
        assert_eq!(e.kind, Kind::RateLimited);
        let e = failed(
            o,
            json!({"custom_id": "i3-x", "response": null, "error": {"code": "batch_expired", "message": "late"}}),
        );
        assert_eq!(e.kind, Kind::Expired);
        assert_eq!(e.kind.as_str(), "expired");
        let e = failed(
            o,
            json!({"custom_id": "i3-x", "response": null, "error": {"code": "batch_cancelled", "message": "no"}}),
        );
        assert_eq!((e.kind.as_str(), e.exit_code()), ("canceled", 5));
        let a = ProviderKind::Anthropic;
        let e = failed(
            a,
            json!({"custom_id": "i0-x", "result": {"type": "errored", "error": {"type": "error",
                   "error": {"type": "overloaded_error", "message": "busy"}, "request_id": null}}}),
        );
        assert_eq!((e.kind, e.status), (Kind::Unavailable, Some(529)));
        assert!(!e.retryable);
        let e = failed(
            a,
            json!({"custom_id": "i0-x", "result": {"type": "expired"}}),
        );
        assert_eq!(e.kind, Kind::Expired);
        // a line that names no item of ours
        assert!(
            result_line(
                a,
                br#"{"custom_id":"request-1","result":{"type":"expired"}}"#
            )
            .unwrap()
            .is_none()
        );
        assert!(result_line(a, b"not json").is_err());
    }

    #[test]
    fn a_results_url_elsewhere_is_not_sent_the_key() {
        let target = Target {
            kind: ProviderKind::Anthropic,
            model: "claude-haiku-4-5".into(),
            base_url: "http://127.0.0.1:8080".into(),
            api_key: None,
            max_tokens_field: super::super::MaxTokensField::MaxTokens,
        };
        let at = |u: &str| {
            download(
                &target,
                &Download::Url {
                    url: u.into(),
                    batch: "msgbatch_1".into(),
                },
            )
            .url
        };
        assert_eq!(
            at("http://127.0.0.1:8080/x/r.jsonl"),
            "http://127.0.0.1:8080/x/r.jsonl"
        );
        assert_eq!(
            at("https://evil.example/r.jsonl"),
            "http://127.0.0.1:8080/v1/messages/batches/msgbatch_1/results"
        );
        assert_eq!(
            at("http://127.0.0.1:9999/r.jsonl"),
            "http://127.0.0.1:8080/v1/messages/batches/msgbatch_1/results"
        );
    }

    #[test]
    fn states_map_to_the_spec_words() {
        let openai = |status: &str| {
            state(
                ProviderKind::OpenAi,
                json!({"id": "batch_1", "status": status, "created_at": 1714508499,
                       "request_counts": {"total": 10, "completed": 4, "failed": 1}})
                .to_string()
                .as_bytes(),
            )
            .unwrap()
        };
        for (p, s) in [
            ("completed", "ended"),
            ("cancelled", "canceled"),
            ("cancelling", "canceling"),
            ("expired", "expired"),
            ("failed", "failed"),
            ("validating", "validating"),
            ("finalizing", "finalizing"),
        ] {
            assert_eq!(openai(p).status, s);
            assert_eq!(openai(p).provider_status, p);
        }
        assert_eq!(openai("in_progress").counts.processing, 5);
        let anthropic = |cancel: Value| {
            state(
                ProviderKind::Anthropic,
                json!({"id": "msgbatch_1", "processing_status": "ended", "cancel_initiated_at": cancel,
                       "created_at": "2024-09-24T18:37:24.100435Z",
                       "request_counts": {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 1, "expired": 0}})
                .to_string()
                .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(anthropic(Value::Null).status, "ended");
        assert_eq!(anthropic(json!("2024-09-24T18:39:24Z")).status, "canceled");
        assert_eq!(anthropic(Value::Null).counts.total, 4);
    }
}
