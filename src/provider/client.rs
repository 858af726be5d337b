//! The one request path every command uses: send, time out, retry, fall back.
//!
//! Every HTTP call runs inside [`Attempts::run`], the one retry loop: after a failed
//! attempt, [`Attempts::after_failure`] alone decides whether to try again and how long to
//! wait ([`retry::Policy`], `retry-after` up to its cap, `x-should-retry`, the rate-limit
//! [`Gate`]). Every request starts in [`Client::open`]: send, read the head by a deadline,
//! turn any status but 2xx into its error. A call that is not a stream is one
//! [`Client::exchange`] (open, then a bounded body, all under the timeout); a stream and a
//! batch results file are read from what `open` hands back. Errors are worded for the
//! [`Peer`] that answered: a provider's API, or the public file `models update` fetches.
//!
//! `Client::send` walks the targets (the model, then each `--fallback`), retrying each per
//! [`retry::Policy`]. Streamed text goes to the caller's sink as it arrives; once any text
//! has gone out, a failure is final (exit 5, output partial): it is never re-sent.
//! `Client::count_tokens` is one exchange in the same loop.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::time::{sleep, timeout, timeout_at};

use super::{
    Deltas, HeaderValue, HttpRequest, ProviderKind, StreamParser, Target, build_count_tokens,
    build_request, h1, parse_count_tokens, parse_error, parse_response, request_id, retry, sse,
};
use crate::cache::{self, Cache};
use crate::chat::{Request, Response};
use crate::error::{Error, Kind, Result};
use crate::output;

pub struct Client {
    http: reqwest::Client,
    policy: retry::Policy,
    /// Per attempt: the whole response, or for a stream the first event and each silence.
    timeout: Duration,
    /// For the connection alone.
    connect_timeout: Duration,
    /// No proxy is configured, so a plain-http stream may go straight to its socket ([`h1`]);
    /// otherwise reqwest carries it, through the proxy.
    direct: bool,
    gate: Gate,
    cache: Option<Arc<Cache>>,
}

/// What all requests of one run share about rate limits: a 429 anywhere pauses new
/// attempts for the wait the server asked for (or the backoff) and halves the number of
/// requests a batch keeps in flight; each success adds back `1/limit` (additive increase,
/// multiplicative decrease, as TCP does), up to the configured concurrency.
#[derive(Debug)]
pub struct Gate {
    max: Cell<f64>,
    limit: Cell<f64>,
    paused_until: Cell<Option<tokio::time::Instant>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            max: Cell::new(f64::MAX),
            limit: Cell::new(f64::MAX),
            paused_until: Cell::new(None),
        }
    }
}

impl Gate {
    /// Sets the ceiling (a batch's `--concurrency`) and starts there.
    pub fn start(&self, max: usize) {
        self.max.set(max.max(1) as f64);
        self.limit.set(max.max(1) as f64);
    }

    /// How many requests may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit.get().clamp(1.0, 1e9) as usize
    }

    async fn wait(&self) {
        if let Some(until) = self.paused_until.get()
            && until > tokio::time::Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
    }

    fn rate_limited(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        if self.paused_until.get().is_none_or(|u| u < until) {
            self.paused_until.set(Some(until));
        }
        let before = self.limit();
        self.limit.set((self.limit.get() / 2.0).max(1.0));
        if self.max.get() < f64::MAX && self.limit() < before {
            output::debug(&format!(
                "rate limited: {} requests in flight at most (was {before}), pausing {:.2} s",
                self.limit(),
                wait.as_secs_f64()
            ));
        }
    }

    fn succeeded(&self) {
        let l = self.limit.get();
        if l < self.max.get() {
            self.limit.set((l + 1.0 / l).min(self.max.get()));
        }
    }
}

/// A successful call: the response and which target gave it.
#[derive(Debug)]
pub struct Outcome<'t> {
    pub response: Response,
    pub target: &'t Target,
    /// Every HTTP attempt, across fallback targets too.
    pub attempts: u32,
    /// Answered from the response cache: no request was sent, nothing was paid.
    pub cached: bool,
}

/// Receives the text deltas of a stream, all those that arrived together at once (so the
/// caller can write them with one write); an error from it aborts the request.
pub type Sink<'a> = &'a mut dyn FnMut(&Deltas) -> Result<()>;

/// As reqwest would send it (`Client::new` gives reqwest the same).
const USER_AGENT: &str = concat!("llmpipe/", env!("CARGO_PKG_VERSION"));

impl Client {
    pub fn new(timeout: Duration, policy: retry::Policy) -> Result<Client> {
        let connect_timeout = timeout.min(Duration::from_secs(30));
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(USER_AGENT)
            // Never follow a redirect: the next host would receive the key. A 3xx becomes
            // a configuration error (provider::parse_error).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            policy,
            timeout,
            connect_timeout,
            direct: h1::no_proxy(),
            gate: Gate::default(),
            cache: None,
        })
    }

    /// Answers identical deterministic requests from `cache`, storing new answers there.
    pub fn with_cache(mut self, cache: Arc<Cache>) -> Client {
        self.cache = Some(cache);
        self
    }

    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Sends `req` to the first target that answers. With a sink the request is streamed
    /// and each delta goes to the sink as it arrives.
    pub async fn send<'t>(
        &self,
        targets: &'t [Target],
        req: &Request,
        sink: Option<Sink<'_>>,
    ) -> Result<Outcome<'t>> {
        self.send_counting(targets, req, sink, &mut 0).await
    }

    /// [`Client::send`], telling `made` how many HTTP attempts a failed call made (every
    /// target's), for a caller that adds up the attempts of several calls (the tool loop).
    pub async fn send_counting<'t>(
        &self,
        targets: &'t [Target],
        req: &Request,
        mut sink: Option<Sink<'_>>,
        made: &mut u32,
    ) -> Result<Outcome<'t>> {
        let mut attempts = self.attempts();
        let mut printed = false;
        let mut last: Option<Error> = None;
        for (i, target) in targets.iter().enumerate() {
            if let Some(why) = &last {
                output::warn(&format!(
                    "falling back to {} ({}) because {}: {}",
                    target.model,
                    target.kind.name(),
                    targets[i - 1].model,
                    why.message
                ));
            }
            check_key(target)?;
            let sent = self
                .send_to(target, req, &mut sink, &mut attempts, &mut printed)
                .await;
            *made = attempts.made;
            let err = match sent {
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            // Fall back after retryable failures that outlasted their retries, and when the
            // model does not exist here; anything else is the caller's to fix. Text already
            // printed is never sent again, not even to another model.
            let transient = matches!(
                err.kind,
                Kind::RateLimited | Kind::Unavailable | Kind::Timeout
            );
            let can_fall_back = transient || err.status == Some(404);
            if printed || !can_fall_back || i + 1 == targets.len() {
                return Err(err);
            }
            last = Some(err);
        }
        Err(Error::internal("no model to send the request to"))
    }

    /// Whether the response cache holds the answer `target` would give to `req`, so that
    /// sending it would cost nothing (`eval --max-cost` leaves such requests out).
    pub fn is_cached(&self, target: &Target, req: &Request) -> bool {
        let Some(cache) = self
            .cache
            .as_deref()
            .filter(|c| c.on() && cache::cacheable(req))
        else {
            return false;
        };
        let collect = target.kind.must_stream(req.max_tokens);
        let http = build_request(target, req, collect);
        cache.lookup(&cache::key(&http.url, &http.body)).is_some()
    }

    /// One target's part of [`Client::send`]: the response cache, then the attempts.
    async fn send_to<'t>(
        &self,
        target: &'t Target,
        req: &Request,
        sink: &mut Option<Sink<'_>>,
        attempts: &mut Attempts<'_>,
        printed: &mut bool,
    ) -> Result<Outcome<'t>> {
        // Some requests must be streamed even when the caller wants the whole reply;
        // their text is collected, never printed, so retries stay transparent.
        let collect = sink.is_none()
            && target
                .kind
                .must_stream(crate::effort::max_tokens(target.kind, &target.model, req));
        let http = build_request(target, req, sink.is_some() || collect);
        let cache = self
            .cache
            .as_deref()
            .filter(|c| c.on() && cache::cacheable(req));
        let key = cache.map(|_| cache::key(&http.url, &http.body));
        if let (Some(cache), Some(key)) = (cache, &key)
            && let Some(response) = cache.lookup(key)
        {
            output::debug("answered from the response cache: no request sent");
            if let Some(s) = sink.as_mut()
                && !response.text.is_empty()
            {
                *printed = true;
                s(&Deltas::one(&response.text))?;
            }
            return Ok(Outcome {
                response,
                target,
                attempts: attempts.made,
                cached: true,
            });
        }
        attempts.next_target();
        let mut response = attempts
            .run(async || {
                let result = self.attempt(target, &http, sink, collect, printed).await;
                // Once text is out, a failure is final: it is never re-sent.
                result.map_err(|e| if *printed { partial(e) } else { e })
            })
            .await?;
        super::finish(target, req, &mut response);
        // A streamed reply's thinking was shown as it arrived.
        let streamed = sink.is_some() || collect;
        if let Some(thinking) = response.reasoning.as_ref().filter(|_| !streamed) {
            output::debug(&format!("thinking ({}):\n{thinking}", target.model));
        }
        if let (Some(cache), Some(key)) = (cache, &key) {
            cache.store(key, &response);
        }
        Ok(Outcome {
            response,
            target,
            attempts: attempts.made,
            cached: false,
        })
    }

    /// One HTTP attempt of a completion: streamed to the sink, streamed and collected, or
    /// a plain exchange.
    async fn attempt(
        &self,
        target: &Target,
        http: &HttpRequest,
        sink: &mut Option<Sink<'_>>,
        collect: bool,
        printed: &mut bool,
    ) -> Result<Response> {
        match sink {
            Some(s) => {
                self.stream_once(target, http, Some(&mut **s), printed)
                    .await
            }
            None if collect => {
                let mut never = false;
                self.stream_once(target, http, None, &mut never).await
            }
            None => self.complete_once(target, http).await,
        }
    }

    /// The provider's own count of `req`'s input tokens (Anthropic's `count_tokens`), with
    /// the same key check, timeout, retries and error mapping as a request. No fallback
    /// models: the count is for this model.
    pub async fn count_tokens(&self, target: &Target, req: &Request) -> Result<u64> {
        let Some(http) = build_count_tokens(target, req) else {
            return Err(Error::usage(format!(
                "{} has no token-counting endpoint",
                target.kind.name()
            )));
        };
        check_key(target)?;
        self.attempts()
            .run(async || {
                let request = self.request(target, &http, false);
                let reply = self
                    .exchange(
                        Peer::Api(target.kind),
                        &http.url,
                        request,
                        "for the token count",
                    )
                    .await?;
                parse_count_tokens(target.kind, &reply.body)
            })
            .await
    }

    /// A plain GET of a public file (the price data `models update` fetches), in the same
    /// retry loop, with the same timeout, bounded body and status rules as an API call; no
    /// key is sent and redirects are not followed. `what` names the file in errors.
    pub async fn get(&self, url: &str, what: &str) -> Result<Vec<u8>> {
        let shown = crate::secrets::redact_url(url);
        self.attempts()
            .run(async || {
                output::debug(&format!("> GET {shown} ({what})"));
                let reply = self
                    .exchange(
                        Peer::File(what),
                        url,
                        Outgoing::Reqwest(self.http.get(url)),
                        "",
                    )
                    .await?;
                Ok(reply.body)
            })
            .await
    }

    /// The attempts of one call, sharing this client's retry policy and rate-limit gate.
    fn attempts(&self) -> Attempts<'_> {
        Attempts {
            policy: &self.policy,
            gate: &self.gate,
            retries: 0,
            made: 0,
        }
    }

    /// A completion request: through reqwest, or for a printed stream that [`h1`] can
    /// carry, off the socket.
    fn request(&self, target: &Target, http: &HttpRequest, stream: bool) -> Outgoing {
        let body = http.body.to_string();
        show_request(target, http, body.len());
        if stream
            && self.direct
            && let Ok(url) = reqwest::Url::parse(&http.url)
        {
            let mut headers = Vec::with_capacity(http.headers.len() + 1);
            headers.push(("user-agent", USER_AGENT.to_owned()));
            for (name, value) in &http.headers {
                headers.push((*name, value.expose()));
            }
            if h1::usable(&url, &headers) {
                return Outgoing::Wire { url, headers, body };
            }
        }
        Outgoing::Reqwest(with_headers(self.http.post(&http.url), &http.headers).body(body))
    }

    /// One non-streamed HTTP exchange, the same for every call that is not a stream: the
    /// request is sent (and shown with `-v`, secrets redacted), then status, headers and a
    /// bounded body are read, all within the timeout (`waiting_for` says for what, in the
    /// timeout's message). A transport failure, a timeout and any status but 2xx are
    /// errors; a 3xx is a configuration error, as redirects are never followed.
    async fn exchange(
        &self,
        peer: Peer<'_>,
        url: &str,
        request: Outgoing,
        waiting_for: &str,
    ) -> Result<Reply> {
        let by = deadline(self.timeout);
        let (resp, headers) = self.open(peer, url, request, by, waiting_for).await?;
        let body = timeout_at(by, read_body(peer, url, resp, 200))
            .await
            .map_err(|_| peer.timed_out(url, self.timeout, waiting_for))??;
        Ok(Reply { headers, body })
    }

    /// Sends a request and reads its answer's head, by `by`: every request the client
    /// makes starts here. A 2xx answer is handed back, its body unread (a reply, a stream
    /// or a file); any other status becomes the error it means, read from a bounded error
    /// body by the same deadline.
    async fn open(
        &self,
        peer: Peer<'_>,
        url: &str,
        request: Outgoing,
        by: tokio::time::Instant,
        waiting_for: &str,
    ) -> Result<(Body, reqwest::header::HeaderMap)> {
        let started = Instant::now();
        let timed_out = |_| peer.timed_out(url, self.timeout, waiting_for);
        let (resp, status, headers) = match request {
            Outgoing::Reqwest(request) => {
                let resp = timeout_at(by, request.send())
                    .await
                    .map_err(timed_out)?
                    .map_err(|e| peer.transport(url, e.is_connect(), &e))?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                (Body::Whole(resp), status, headers)
            }
            Outgoing::Wire {
                url: to,
                headers,
                body,
            } => {
                let sent = h1::open(&to, &headers, body.as_bytes(), self.connect_timeout);
                let (head, body) = timeout_at(by, sent)
                    .await
                    .map_err(timed_out)?
                    .map_err(|e| peer.transport(url, e.connect, &e))?;
                (Body::Wire(body), head.status, head.headers)
            }
        };
        log_status(status, &headers, started);
        if !(200..300).contains(&status) {
            let body = timeout_at(by, read_body(peer, url, resp, status))
                .await
                .map_err(|_| peer.timed_out(url, self.timeout, waiting_for))?
                .unwrap_or_default();
            return Err(peer.status(url, status, &headers, &body));
        }
        Ok((resp, headers))
    }

    async fn complete_once(&self, target: &Target, http: &HttpRequest) -> Result<Response> {
        let request = self.request(target, http, false);
        let reply = self
            .exchange(
                Peer::Api(target.kind),
                &http.url,
                request,
                "for the response",
            )
            .await?;
        let rid = request_id(&reply.headers);
        let mut response = parse_response(target.kind, &reply.body).map_err(|mut e| {
            e.request_id = rid.clone();
            e
        })?;
        response.request_id = rid;
        Ok(response)
    }

    /// One streamed attempt. With a sink the text goes there as it arrives, and a
    /// plain-http stream is read off the socket ([`h1`]); without one (a reply that must be
    /// streamed, collected) the stream goes through reqwest, whose pooled connections serve
    /// the many such requests of an `--each-line` run.
    async fn stream_once(
        &self,
        target: &Target,
        http: &HttpRequest,
        sink: Option<Sink<'_>>,
        printed: &mut bool,
    ) -> Result<Response> {
        let kind = target.kind;
        let first_deadline = deadline(self.timeout);
        let request = self.request(target, http, sink.is_some());
        let mut discard = |_: &Deltas| Ok(());
        let sink = sink.unwrap_or(&mut discard);
        let (resp, headers) = self
            .open(
                Peer::Api(kind),
                &http.url,
                request,
                first_deadline,
                "for the stream to start",
            )
            .await?;
        let rid = request_id(&headers);
        let is_json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            // A media type is case-insensitive (RFC 9110 8.3.1).
            .is_some_and(|v| {
                v.get(..16)
                    .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
            });
        if is_json {
            // A compatible server that ignores `stream: true` answers with the whole
            // completion: take it as one delta rather than as a broken stream.
            let body = timeout_at(
                first_deadline,
                read_body(Peer::Api(kind), &http.url, resp, 200),
            )
            .await
            .map_err(|_| timed_out(kind, self.timeout, "for the response"))??;
            let mut response = parse_response(kind, &body).map_err(|mut e| {
                e.request_id = rid.clone();
                e
            })?;
            response.request_id = rid;
            if !response.text.is_empty() {
                *printed = true;
                sink(&Deltas::one(&response.text))?;
            }
            return Ok(response);
        }
        let with_rid = |mut e: Error| {
            e.request_id = rid.clone();
            e
        };
        let mut body = resp.batched();
        let mut decoder = Decoder::new(kind);
        // The SPEC's stream timeout: to the first *event*, then the longest silence between
        // events. Comments (`: keepalive`) and partial lines do not reset it.
        let mut got_any = false;
        let mut silence_ends = first_deadline;
        loop {
            let events_before = decoder.events;
            let next = timeout_at(silence_ends, body.read(&mut |b| decoder.feed(b))).await;
            let (ended, broken) = match next {
                Err(_) => {
                    let what = if got_any {
                        "between stream events"
                    } else {
                        "for the first stream event"
                    };
                    return Err(with_rid(timed_out(kind, self.timeout, what)));
                }
                Ok(Ok(more)) => (!more, None),
                Ok(Err(e)) => (false, Some(e)),
            };
            if ended {
                decoder.end();
            }
            if decoder.events > events_before {
                got_any = true;
                silence_ends = deadline(self.timeout);
            }
            // All the deltas that arrived together go to the sink at once: one write and
            // one flush per batch, not per delta, and a reader still sees them on arrival.
            if !decoder.deltas.is_empty() {
                *printed = true;
                sink(&decoder.deltas)?;
                decoder.deltas.clear();
            }
            if let Some(e) = decoder.failed.take() {
                return Err(with_rid(e));
            }
            // A fault after the provider's end event (in the same read) changes nothing:
            // the stream is complete.
            if let Some(e) = broken.filter(|_| !decoder.parser.is_done()) {
                return Err(with_rid(broken_stream(kind, &*e)));
            }
            if ended || decoder.parser.is_done() {
                break;
            }
        }
        let parser = decoder.parser;
        let mut response = parser.finish().map_err(with_rid)?;
        response.request_id = rid;
        Ok(response)
    }
}

/// What `-v` shows of a completion request, secrets redacted.
fn show_request(target: &Target, http: &HttpRequest, body_len: usize) {
    if output::verbose() {
        output::debug(&format!(
            "> POST {} ({}, model {}, {body_len} byte body)",
            crate::secrets::redact_url(&http.url),
            target.kind.name(),
            target.model,
        ));
        if let Some(headers) = http.redacted()["headers"].as_object() {
            for (k, v) in headers {
                output::debug(&format!("> {k}: {}", v.as_str().unwrap_or("")));
            }
        }
    }
}

/// What a request is sent with: reqwest, or for a printed stream that [`h1`] can carry,
/// the socket itself.
enum Outgoing {
    Reqwest(reqwest::RequestBuilder),
    Wire {
        url: reqwest::Url,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
}

/// A body's read failed: the transport's error.
type Broken = Box<dyn std::error::Error + Send + Sync>;

/// A response body as it arrives, read the same way whatever carried it.
enum Body {
    /// reqwest's, read chunk by chunk in place (a reply or an error body).
    Whole(reqwest::Response),
    /// reqwest's, read by a task of its own (a stream or a file): see [`BodyReader`].
    Spawned(BodyReader),
    /// Off the socket (h1.rs): each read hands over all the data it completed.
    Wire(h1::Body),
}

impl Body {
    /// The body, read to be passed on in parts as they arrive (a stream, a file).
    fn batched(self) -> Body {
        match self {
            Body::Whole(resp) => Body::Spawned(BodyReader::spawn(resp)),
            other => other,
        }
    }

    /// Waits for more of the body and hands `f` all that has arrived: `Ok(true)` while
    /// more may come, `Ok(false)` at the end. An error comes after `f` has had what
    /// arrived intact before the fault.
    async fn read(&mut self, f: &mut dyn FnMut(&[u8])) -> std::result::Result<bool, Broken> {
        match self {
            Body::Whole(resp) => match resp.chunk().await? {
                Some(chunk) => {
                    f(&chunk);
                    Ok(true)
                }
                None => Ok(false),
            },
            Body::Spawned(reader) => reader.read(f).await,
            Body::Wire(body) => Ok(body.read(f).await?),
        }
    }
}

/// A reqwest body read by a task of its own into a channel. hyper hands a body over one
/// HTTP chunk at a time, each after a round trip to its connection task; between two tasks
/// that costs a queue push, but between a task and the command (which runs outside any
/// task) it costs a poll of the OS for I/O. The reader takes the round trips, and the
/// command takes every chunk that has arrived at once. Dropping the reader stops the task.
struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<reqwest::Result<bytes::Bytes>>,
    task: tokio::task::JoinHandle<()>,
}

impl BodyReader {
    fn spawn(resp: reqwest::Response) -> BodyReader {
        let (tx, chunks) = tokio::sync::mpsc::channel(MAX_CHUNKS_PER_WRITE);
        let task = tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            while let Some(chunk) = body.next().await {
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        BodyReader { chunks, task }
    }

    /// [`Body::read`]: the next chunk, then every one already queued behind it.
    async fn read(&mut self, f: &mut dyn FnMut(&[u8])) -> std::result::Result<bool, Broken> {
        match self.chunks.recv().await {
            None => return Ok(false),
            Some(chunk) => f(&chunk?),
        }
        for _ in 1..MAX_CHUNKS_PER_WRITE {
            match self.chunks.try_recv() {
                Ok(chunk) => f(&chunk?),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return Ok(false),
            }
        }
        Ok(true)
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The most network chunks gathered into one write of stream text, so a fast long stream
/// still reaches the reader in steady steps.
const MAX_CHUNKS_PER_WRITE: usize = 256;

/// A stream's bytes turned into text deltas: SSE events, each handed to the provider's
/// parser as it completes, their text gathered for the sink. Once the provider's stream
/// ends (its terminator, or an error event) the rest is ignored.
struct Decoder {
    kind: ProviderKind,
    sse: sse::Parser,
    parser: StreamParser,
    /// The text of the events decoded since the sink last took it.
    deltas: Deltas,
    /// The first event the provider's parser refused: the stream's error.
    failed: Option<Error>,
    /// Events seen (they reset the silence timeout).
    events: u64,
    /// Body bytes, within [`MAX_RESPONSE_BYTES`].
    received: usize,
}

impl Decoder {
    fn new(kind: ProviderKind) -> Decoder {
        Decoder {
            kind,
            sse: sse::Parser::new(),
            parser: StreamParser::new(kind),
            deltas: Deltas::default(),
            failed: None,
            events: 0,
            received: 0,
        }
    }

    /// The provider's stream is over: more bytes would change nothing.
    fn stopped(&self) -> bool {
        self.failed.is_some() || self.parser.is_done()
    }

    /// Adds one chunk of the body (once the stream has stopped, nothing).
    fn feed(&mut self, bytes: &[u8]) {
        if self.stopped() {
            return;
        }
        self.received = self.received.saturating_add(bytes.len());
        if self.received > MAX_RESPONSE_BYTES {
            // The stream's error, after the text decoded so far has gone to the sink.
            self.failed = Some(too_large(self.kind));
            return;
        }
        let Decoder {
            sse,
            parser,
            deltas,
            failed,
            events,
            ..
        } = self;
        sse.push(bytes, |ev| handle(parser, deltas, failed, events, ev));
    }

    /// The body ended: a last event without its blank line still counts.
    fn end(&mut self) {
        let Decoder {
            sse,
            parser,
            deltas,
            failed,
            events,
            ..
        } = self;
        sse.finish(|ev| handle(parser, deltas, failed, events, ev));
    }
}

fn handle(
    parser: &mut StreamParser,
    deltas: &mut Deltas,
    failed: &mut Option<Error>,
    events: &mut u64,
    ev: sse::Event<'_>,
) {
    *events += 1;
    if failed.is_some() || parser.is_done() {
        return;
    }
    if let Err(e) = parser.on_event(&ev, deltas) {
        *failed = Some(e);
    }
}

/// A 2xx answer to a non-streamed request ([`Client::exchange`]).
struct Reply {
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

/// The attempts of one call: the one place that decides, after a failure, whether to try
/// again and how long to wait first. Every request the client makes runs through
/// [`Attempts::run`].
struct Attempts<'c> {
    policy: &'c retry::Policy,
    gate: &'c Gate,
    /// Retries made against the current target.
    retries: u32,
    /// Every HTTP attempt, across fallback targets too.
    made: u32,
}

impl Attempts<'_> {
    /// Runs `attempt` until it succeeds or fails for good: each attempt first waits out a
    /// rate-limit pause that any request of this run caused.
    async fn run<T>(&mut self, mut attempt: impl AsyncFnMut() -> Result<T>) -> Result<T> {
        loop {
            self.gate.wait().await;
            self.made += 1;
            match attempt().await {
                Ok(value) => {
                    self.gate.succeeded();
                    return Ok(value);
                }
                Err(err) => self.after_failure(err).await?,
            }
        }
    }

    /// After a failed attempt: `Ok` once the wait before the next attempt is over, or the
    /// error to stop with. Retried are failures marked retryable (the status rule and
    /// `x-should-retry`), up to `--retries` times; the wait is the server's `retry-after`
    /// (more than [`retry::MAX_HONOURED_WAIT`] stops) or the backoff; a rate limit also
    /// pauses the run's other requests ([`Gate`]). The retry is announced on a terminal
    /// or with `-v`.
    async fn after_failure(&mut self, err: Error) -> Result<()> {
        if !err.retryable || self.retries >= self.policy.retries {
            return Err(err);
        }
        let wait = self.policy.wait(self.retries, &err)?;
        if err.kind == Kind::RateLimited {
            self.gate.rate_limited(wait);
        }
        self.retries += 1;
        announce_retry(&err, wait, self.retries, self.policy.retries);
        sleep(wait).await;
        Ok(())
    }

    /// A fallback target starts with its own retries; the attempts keep counting.
    fn next_target(&mut self) {
        self.retries = 0;
    }
}

/// The batch jobs' calls (PROTOCOLS.md G): uploads, creates, polls, cancels and lists are
/// one [`Client::exchange`]-like attempt each, and result files are streamed, all in the
/// one retry loop with the same timeouts, error mapping and redaction as a completion.
impl Client {
    /// One call of a batch job; the 2xx body. `created` (Unix seconds of the batch's
    /// creation) makes a 404 within [`FRESH_BATCH`] of it retryable: providers have been
    /// seen to answer so right after creating a batch.
    pub async fn api(
        &self,
        target: &Target,
        call: &super::batch::ApiCall,
        waiting_for: &str,
        created: Option<i64>,
    ) -> Result<Vec<u8>> {
        check_key(target)?;
        let mut attempts = self.attempts();
        let mut round = 0;
        loop {
            let sent = attempts
                .run(async || {
                    let request = self.api_request(target, call);
                    self.exchange(Peer::Api(target.kind), &call.url, request, waiting_for)
                        .await
                        .map(|reply| reply.body)
                        // Only a 404 status is affected: a fresh batch may not be visible yet.
                        .map_err(|e| fresh_404(e, created))
                })
                .await;
            match sent {
                Err(e) if still_fresh(&e, created) => {
                    // The retries are spent, but the batch is younger than FRESH_BATCH:
                    // keep looking (with the backoff) until it is not.
                    attempts.next_target();
                    round += 1;
                    sleep(self.policy.backoff(round.min(4))).await;
                }
                other => return other,
            }
        }
    }

    /// Streams a result file line by line into `on_line`, in the one retry loop: the
    /// timeout bounds the wait for the answer and each silence, not the whole file (which
    /// may be gigabytes). A failed attempt starts the file again from its first line, so
    /// `on_line` must take a line twice without harm; it is given an empty line when an
    /// attempt's file begins (no line of a file is empty).
    pub async fn download(
        &self,
        target: &Target,
        call: &super::batch::ApiCall,
        created: Option<i64>,
        on_line: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        check_key(target)?;
        let mut attempts = self.attempts();
        let mut round = 0;
        loop {
            let sent = attempts
                .run(async || {
                    let kind = target.kind;
                    let (resp, _) = self
                        .open(
                            Peer::Api(kind),
                            &call.url,
                            self.api_request(target, call),
                            deadline(self.timeout),
                            "for the results file",
                        )
                        .await
                        .map_err(|e| fresh_404(e, created))?;
                    on_line(&[])?;
                    let mut body = resp.batched();
                    let mut pending: Vec<u8> = Vec::new();
                    let mut failed = None;
                    loop {
                        let read = timeout(
                            self.timeout,
                            body.read(&mut |chunk| {
                                if failed.is_none() {
                                    failed = lines(&mut pending, chunk, on_line).err();
                                }
                            }),
                        )
                        .await;
                        // The lines' own failure first: they came before any fault.
                        if let Some(e) = failed.take() {
                            return Err(e);
                        }
                        let more = read
                            .map_err(|_| {
                                timed_out(kind, self.timeout, "for more of the results file")
                            })?
                            .map_err(|e| broken_stream(kind, &*e))?;
                        if pending.len() > MAX_RESPONSE_BYTES {
                            return Err(too_large(kind));
                        }
                        if !more {
                            break;
                        }
                    }
                    if !pending.iter().all(u8::is_ascii_whitespace) {
                        on_line(&pending)?;
                    }
                    Ok(())
                })
                .await;
            match sent {
                Err(e) if still_fresh(&e, created) => {
                    attempts.next_target();
                    round += 1;
                    sleep(self.policy.backoff(round.min(4))).await;
                }
                other => return other,
            }
        }
    }

    fn api_request(&self, target: &Target, call: &super::batch::ApiCall) -> Outgoing {
        let rb = with_headers(
            self.http.request(call.method.clone(), &call.url),
            &call.headers,
        );
        if output::verbose() {
            output::debug(&format!(
                "> {} {} ({} batch API, {} byte body)",
                call.method,
                crate::secrets::redact_url(&call.url),
                target.kind.name(),
                call.body.as_ref().map_or(0, bytes::Bytes::len)
            ));
        }
        Outgoing::Reqwest(match &call.body {
            Some(body) => rb.body(body.clone()),
            None => rb,
        })
    }
}

/// Adds `chunk` to the part line in `pending` and hands `on_line` every whole line that
/// makes (without its line end; blank lines are skipped).
fn lines(
    pending: &mut Vec<u8>,
    chunk: &[u8],
    on_line: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    pending.extend_from_slice(chunk);
    let mut start = 0;
    while let Some(nl) = memchr::memchr(b'\n', &pending[start..]) {
        let line = &pending[start..start + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            on_line(line)?;
        }
        start += nl + 1;
    }
    pending.drain(..start);
    Ok(())
}

/// How long after a batch's creation a 404 on it is retried.
pub const FRESH_BATCH: Duration = Duration::from_secs(60);

/// Whether a batch created at `created` (Unix seconds) is younger than [`FRESH_BATCH`].
fn fresh(created: Option<i64>) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    created.is_some_and(|c| now.saturating_sub(c) < FRESH_BATCH.as_secs() as i64)
}

/// A 404 about a batch that is still fresh: worth another look.
fn still_fresh(err: &Error, created: Option<i64>) -> bool {
    err.status == Some(404) && fresh(created)
}

fn fresh_404(mut err: Error, created: Option<i64>) -> Error {
    if err.status == Some(404) && fresh(created) {
        err.retryable = true;
        err.message = format!(
            "{} (the batch was created moments ago: retried)",
            err.message
        );
    }
    err
}

/// The request's headers, a credential marked sensitive (so no debug output shows it).
fn with_headers(
    mut rb: reqwest::RequestBuilder,
    headers: &[(&'static str, HeaderValue)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        rb = match value {
            HeaderValue::Plain(v) => rb.header(*name, v),
            HeaderValue::Secret { prefix, key } => {
                let mut v =
                    reqwest::header::HeaderValue::from_str(&format!("{prefix}{}", key.expose()))
                        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
                v.set_sensitive(true);
                rb.header(*name, v)
            }
        };
    }
    rb
}

/// `now + d`, or about 30 years from now for an absurd `--timeout` (`now + d` would panic).
fn deadline(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// The most a response body (or a whole stream) may hold: far above any real reply, low
/// enough that a hostile or broken server cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The most of an error body that is read: enough for any API's error message.
pub const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// Reads a response body with a bound: a success body over [`MAX_RESPONSE_BYTES`] is an
/// error (exit 5, not retried: the server would only send it again); an error body is cut
/// at [`MAX_ERROR_BODY_BYTES`] (its status already says what went wrong).
async fn read_body(peer: Peer<'_>, url: &str, mut resp: Body, status: u16) -> Result<Vec<u8>> {
    let error = !(200..300).contains(&status);
    let limit = if error {
        MAX_ERROR_BODY_BYTES
    } else {
        MAX_RESPONSE_BYTES
    };
    let mut body = Vec::new();
    let mut over = false;
    loop {
        let more = resp
            .read(&mut |chunk| {
                if body.len() + chunk.len() > limit {
                    over = true;
                }
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            })
            .await
            .map_err(|e| peer.broke_off(url, &*e))?;
        if over && !error {
            return Err(peer.too_large(url));
        }
        if over || !more {
            return Ok(body);
        }
    }
}

/// Who answers a request, for the words of its errors: a provider's API, or a public file
/// (`what` it is: the price data `models update` fetches), which has no provider, error
/// body or key, and whose errors point to `--from FILE`.
#[derive(Clone, Copy)]
enum Peer<'a> {
    Api(ProviderKind),
    File(&'a str),
}

impl Peer<'_> {
    fn transport(self, url: &str, connect: bool, e: &dyn std::error::Error) -> Error {
        match self {
            Peer::Api(kind) => transport(kind, url, connect, e),
            Peer::File(what) => {
                let shown = crate::secrets::redact_url(url);
                let how = if connect {
                    format!("cannot connect to {shown}")
                } else {
                    format!("connection to {shown} failed")
                };
                Error::new(Kind::Unavailable, format!("{what}: {how}: {}", chain(e)))
                    .with_hint(
                        "check the address and the network, or give a local copy with --from FILE",
                    )
                    .retryable(true)
            }
        }
    }

    /// The body broke off after the head arrived.
    fn broke_off(self, url: &str, e: &dyn std::error::Error) -> Error {
        match self {
            Peer::Api(kind) => transport(kind, url, false, e),
            Peer::File(what) => Error::new(
                Kind::Unavailable,
                format!(
                    "{what}: download from {} broke off: {}",
                    crate::secrets::redact_url(url),
                    chain(e)
                ),
            )
            .retryable(true),
        }
    }

    fn timed_out(self, url: &str, limit: Duration, waiting_for: &str) -> Error {
        match self {
            Peer::Api(kind) => timed_out(kind, limit, waiting_for),
            Peer::File(what) => Error::new(
                Kind::Timeout,
                format!(
                    "{what}: {} timed out after {} s",
                    crate::secrets::redact_url(url),
                    limit.as_secs_f64()
                ),
            )
            .with_hint("raise --timeout")
            .retryable(true),
        }
    }

    fn too_large(self, url: &str) -> Error {
        match self {
            Peer::Api(kind) => too_large(kind),
            Peer::File(what) => Error::new(
                Kind::Unavailable,
                format!(
                    "{what}: {} sent more than {} MiB (not retried)",
                    crate::secrets::redact_url(url),
                    MAX_RESPONSE_BYTES >> 20
                ),
            ),
        }
    }

    /// The error a status other than 2xx means.
    fn status(
        self,
        url: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Error {
        let what = match self {
            Peer::Api(kind) => return parse_error(kind, status, headers, body),
            Peer::File(what) => what,
        };
        let shown = crate::secrets::redact_url(url);
        if (300..400).contains(&status) {
            return Error::config(format!(
                "{what}: {shown} answered {status} redirect, which llmpipe does not follow"
            ))
            .with_hint("give the final address with --from");
        }
        let mut err =
            retry::classify_status(status, false, format!("{what}: {shown} answered {status}"));
        err.status = Some(status);
        retry::apply_server_hints(&mut err, headers);
        err
    }
}

fn too_large(kind: ProviderKind) -> Error {
    Error::new(
        Kind::Unavailable,
        format!(
            "{} response larger than {} MiB: not an API reply (not retried)",
            kind.name(),
            MAX_RESPONSE_BYTES >> 20
        ),
    )
    .with_provider(kind.name())
    .with_hint("check the base URL: it should point at the API, not at a file or another service")
}

/// A key must exist and be sendable as a header (a stray newline or quote from a copy and
/// paste would otherwise surface as a confusing 401).
fn check_key(target: &Target) -> Result<()> {
    let Some(key) = &target.api_key else {
        return Err(missing_key(target.kind));
    };
    if !key.expose().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::config(format!(
            "{} contains spaces, quotes or control characters that cannot be sent in an HTTP header",
            target.kind.key_var()
        ))
        .with_provider(target.kind.name())
        .with_hint("check the variable or .env line for stray characters"));
    }
    Ok(())
}

/// The key check happens only for a target that is actually reached, so a fallback to a
/// provider without a key fails only when it is needed.
pub fn missing_key(kind: ProviderKind) -> Error {
    Error::config(format!(
        "{} is not set: the {} API needs a key",
        kind.key_var(),
        kind.name()
    ))
    .with_provider(kind.name())
    .with_hint(format!(
        "export {}=… or put the line in a .env file in the working directory",
        kind.key_var()
    ))
}

fn partial(mut e: Error) -> Error {
    if e.kind.exit_code() != 5 {
        e.kind = Kind::Unavailable;
    }
    e.retryable = false;
    e.message = format!(
        "{}; the output above is partial (the stream failed after text was printed; it was not retried)",
        e.message
    );
    e
}

fn announce_retry(err: &Error, wait: Duration, n: u32, of: u32) {
    if output::verbose() || output::stderr_is_terminal() {
        output::err_line(&format!(
            "llmpipe: retry {n}/{of} in {:.2} s after: {}",
            wait.as_secs_f64(),
            err.message
        ));
    }
}

fn log_status(status: u16, headers: &reqwest::header::HeaderMap, started: Instant) {
    if output::verbose() {
        let rid = request_id(headers).unwrap_or_else(|| "-".into());
        output::debug(&format!(
            "< {status} in {} ms (request id {rid})",
            started.elapsed().as_millis()
        ));
    }
}

fn timed_out(kind: ProviderKind, limit: Duration, what: &str) -> Error {
    Error::new(
        Kind::Timeout,
        format!(
            "{} request timed out after {} s waiting {what}",
            kind.name(),
            limit.as_secs_f64()
        ),
    )
    .with_provider(kind.name())
    .with_hint("raise --timeout if the model needs longer")
    .retryable(true)
}

/// Connection-level failures: refused, reset, DNS, TLS. All retryable.
fn transport(kind: ProviderKind, url: &str, connect: bool, e: &dyn std::error::Error) -> Error {
    let url = &crate::secrets::redact_url(url);
    let what = if connect {
        format!("cannot connect to {url}")
    } else {
        format!("connection to {url} failed")
    };
    Error::new(
        Kind::Unavailable,
        format!("{} {what}: {}", kind.name(), chain(e)),
    )
    .with_provider(kind.name())
    .retryable(true)
}

fn broken_stream(kind: ProviderKind, e: &dyn std::error::Error) -> Error {
    Error::new(
        Kind::Unavailable,
        format!(
            "{} stream broke off before its end: {}",
            kind.name(),
            chain(e)
        ),
    )
    .with_provider(kind.name())
    .retryable(true)
}

/// An error and its causes on one line, without repeating a cause already shown.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32) -> retry::Policy {
        retry::Policy {
            retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    fn failure(kind: Kind, retryable: bool) -> Error {
        Error::new(kind, "anthropic 529 overloaded_error: Overloaded").retryable(retryable)
    }

    #[tokio::test]
    async fn a_retryable_failure_is_tried_again_up_to_the_policy() {
        let (p, gate) = (policy(2), Gate::default());
        let mut attempts = Attempts {
            policy: &p,
            gate: &gate,
            retries: 0,
            made: 0,
        };
        let mut calls = 0;
        let err = attempts
            .run(async || -> Result<()> {
                calls += 1;
                Err(failure(Kind::Unavailable, true))
            })
            .await
            .unwrap_err();
        assert_eq!((calls, attempts.made, attempts.retries), (3, 3, 2));
        assert_eq!(err.message, "anthropic 529 overloaded_error: Overloaded");
        // a fallback target gets its own retries; the attempts keep counting
        attempts.next_target();
        let mut left = 1;
        let n = attempts
            .run(async || {
                if left == 0 {
                    return Ok(7);
                }
                left -= 1;
                Err(failure(Kind::Timeout, true))
            })
            .await
            .unwrap();
        assert_eq!((n, attempts.made, attempts.retries), (7, 5, 1));
    }

    #[tokio::test]
    async fn a_final_failure_is_returned_at_once() {
        let (p, gate) = (policy(3), Gate::default());
        let mut attempts = Attempts {
            policy: &p,
            gate: &gate,
            retries: 0,
            made: 0,
        };
        let err = attempts
            .run(async || -> Result<()> { Err(failure(Kind::Rejected, false)) })
            .await
            .unwrap_err();
        assert_eq!((err.kind, attempts.made), (Kind::Rejected, 1));
        let no_retries = policy(0);
        attempts.policy = &no_retries;
        let err = attempts
            .after_failure(failure(Kind::Unavailable, true))
            .await
            .unwrap_err();
        assert!(err.retryable, "the last failure is returned as it is");
    }

    #[tokio::test]
    async fn the_server_wait_is_honoured_up_to_the_cap_and_a_rate_limit_pauses_the_gate() {
        let (p, gate) = (policy(3), Gate::default());
        let mut attempts = Attempts {
            policy: &p,
            gate: &gate,
            retries: 0,
            made: 0,
        };
        let mut limited = failure(Kind::RateLimited, true);
        limited.retry_after = Some(Duration::from_millis(30));
        let started = tokio::time::Instant::now();
        attempts.after_failure(limited.clone()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
        let paused = gate.paused_until.get().expect("the gate is paused");
        assert!(paused >= started + Duration::from_millis(30));
        assert_eq!(attempts.retries, 1);

        limited.retry_after = Some(retry::MAX_HONOURED_WAIT + Duration::from_secs(1));
        let stop = attempts.after_failure(limited).await.unwrap_err();
        assert!(!stop.retryable);
        assert!(
            stop.message.contains("more than the 60 s llmpipe waits"),
            "{}",
            stop.message
        );
        assert_eq!(attempts.retries, 1, "no retry was made");
    }

    /// A server on 127.0.0.1 that answers its connections, in order, with `replies`
    /// (status line, headers, body): just enough HTTP/1.1 for one client.
    fn serve(replies: Vec<(&'static str, &'static str, &'static str)>) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for (status, headers, body) in replies {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
                    let Some(head) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= head + 4 + length {
                        break;
                    }
                }
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        url
    }

    #[tokio::test]
    async fn a_rate_limited_token_count_slows_the_run_like_any_request() {
        let url = serve(vec![
            (
                "429 Too Many Requests",
                "retry-after-ms: 10\r\n",
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}"#,
            ),
            ("200 OK", "", r#"{"input_tokens":3}"#),
        ]);
        let client = Client::new(Duration::from_secs(10), policy(3)).expect("client");
        client.gate().start(8);
        let target = Target {
            kind: ProviderKind::Anthropic,
            model: "claude-haiku-4-5".into(),
            base_url: url,
            api_key: Some(super::super::Secret::new("sk-ant-unit-test".into())),
            max_tokens_field: super::super::MaxTokensField::MaxTokens,
        };
        let req = Request {
            messages: vec![crate::chat::Message::user_text("hi")],
            max_tokens: 16,
            ..Default::default()
        };
        assert_eq!(client.count_tokens(&target, &req).await.expect("count"), 3);
        // halved by the 429, then a little back up by the success: as for a completion
        assert_eq!(client.gate().limit(), 4);
        assert!(client.gate().paused_until.get().is_some());
    }
}
