//! The mock OpenAI + Anthropic server: raw HTTP/1.1 with keep-alive on 127.0.0.1, the
//! two APIs' exact wire formats (PROTOCOLS.md A and B; the same bodies as tests/it/mock.rs),
//! a reply of a configurable number of tokens and a configurable delay per token.
//!
//! Routes: `POST /v1/chat/completions` (OpenAI, `Authorization: Bearer …` required) and
//! `POST /v1/messages` (Anthropic, `x-api-key` or a bearer token, and `anthropic-version`
//! required). A body with
//! `"stream": true` gets SSE over chunked transfer encoding, each event its own chunk; the
//! OpenAI usage chunk is sent when `stream_options.include_usage` is true. Everything the
//! reply does not depend on is rendered once at start-up, so the server stays cheap.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const OPENAI_MODEL: &str = "gpt-4.1-mini-2025-04-14";
pub const ANTHROPIC_MODEL: &str = "claude-sonnet-4-5-20250929";

/// Words the reply is made of, one token each (a newline among them, so JSON escaping is
/// exercised).
const WORDS: &[&str] = &[
    " The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", " Pipes",
    " carry", " text", " between", " small", " tools", ",", " and", " each", " one", " does",
    " its", " job", " well", ".", "\n",
];

#[derive(Clone, Debug)]
pub struct Config {
    /// Output tokens per reply.
    pub tokens: usize,
    /// Sleep before each streamed token (0: the whole stream is written at once); a whole
    /// (non-streamed) reply waits for all of them before it is sent.
    pub token_delay: Duration,
    /// Sleep between the stream's preamble (headers, role chunk / message_start) and the
    /// first text delta: the model's time to first token.
    pub first_delay: Duration,
}

/// When the first text delta of the latest stream was handed to the kernel (for `ttfb`).
pub type FirstDeltaSlot = Arc<Mutex<Option<Instant>>>;

struct Rendered {
    openai_json: (String, String, String),
    openai_preamble: Vec<u8>,
    openai_deltas: Vec<Vec<u8>>,
    openai_finish: Vec<u8>,
    anthropic_json: (String, String),
    anthropic_preamble: Vec<u8>,
    anthropic_deltas: Vec<Vec<u8>>,
    anthropic_tail_pre: String,
}

pub struct Server {
    cfg: Config,
    r: Rendered,
    counter: AtomicU64,
    first_delta: Option<FirstDeltaSlot>,
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One HTTP chunk of the chunked transfer encoding.
fn chunk(data: &str) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data.as_bytes());
    v.extend_from_slice(b"\r\n");
    v
}

fn openai_chunk(delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"{OPENAI_MODEL}\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}],\"usage\":null}}\n\n"
    )
}

fn anthropic_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Server {
    pub fn new(cfg: Config, first_delta: Option<FirstDeltaSlot>) -> Server {
        let tokens: Vec<&str> = (0..cfg.tokens).map(|i| WORDS[i % WORDS.len()]).collect();
        let text = json_str(&tokens.concat());
        let n = cfg.tokens;

        // OpenAI (PROTOCOLS.md A.3, A.4). The prompt token count is filled in per request.
        let openai_json = (
            format!(
                "{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1730000000,\"model\":\"{OPENAI_MODEL}\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{text},\"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":"
            ),
            format!(",\"completion_tokens\":{n},\"total_tokens\":"),
            ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\",\"system_fingerprint\":\"fp_bench\"}".to_string(),
        );
        let openai_preamble = chunk(&openai_chunk(
            "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
            "null",
        ));
        let openai_deltas = tokens
            .iter()
            .map(|t| {
                chunk(&openai_chunk(
                    &format!("{{\"content\":{}}}", json_str(t)),
                    "null",
                ))
            })
            .collect();
        let openai_finish = chunk(&openai_chunk("{}", "\"stop\""));

        // Anthropic (PROTOCOLS.md B.4, B.5).
        let anthropic_json = (
            format!(
                "{{\"id\":\"msg_01BenchBenchBenchBench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{ANTHROPIC_MODEL}\",\"content\":[{{\"type\":\"text\",\"text\":{text}}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":"
            ),
            format!(
                ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":{{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0}},\"output_tokens\":{n},\"service_tier\":\"standard\"}}}}"
            ),
        );
        let anthropic_preamble_tail = [
            chunk(&anthropic_event(
                "content_block_start",
                "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
            )),
            chunk(&anthropic_event("ping", "{\"type\":\"ping\"}")),
        ]
        .concat();
        let anthropic_deltas = tokens
            .iter()
            .map(|t| {
                chunk(&anthropic_event(
                    "content_block_delta",
                    &format!(
                        "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}",
                        json_str(t)
                    ),
                ))
            })
            .collect();
        let anthropic_tail_pre = anthropic_event(
            "content_block_stop",
            "{\"type\":\"content_block_stop\",\"index\":0}",
        );
        Server {
            r: Rendered {
                openai_json,
                openai_preamble,
                openai_deltas,
                openai_finish,
                anthropic_json,
                anthropic_preamble: anthropic_preamble_tail,
                anthropic_deltas,
                anthropic_tail_pre,
            },
            cfg,
            counter: AtomicU64::new(0),
            first_delta,
        }
    }
}

pub async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let _ = connection(stream, &server).await;
        });
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Head {
    method: String,
    path: String,
    close: bool,
    content_length: usize,
    chunked_body: bool,
    auth_openai: bool,
    auth_anthropic: bool,
    anthropic_version: bool,
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let version = first.next().unwrap_or("HTTP/1.0");
    let mut head = Head {
        method,
        path,
        close: version == "HTTP/1.0",
        content_length: 0,
        chunked_body: false,
        auth_openai: false,
        auth_anthropic: false,
        anthropic_version: false,
    };
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = v.parse().ok()?,
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    head.close = true;
                } else if v.contains("keep-alive") {
                    head.close = false;
                }
            }
            "transfer-encoding" => head.chunked_body = v.to_ascii_lowercase().contains("chunked"),
            "authorization" => {
                head.auth_openai = v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")
            }
            "x-api-key" => head.auth_anthropic = !v.is_empty(),
            "anthropic-version" => head.anthropic_version = !v.is_empty(),
            _ => {}
        }
    }
    Some(head)
}

/// Whether a JSON body sets `key` to `true` (`"stream": true`, any spacing).
fn json_true(body: &[u8], key: &str) -> bool {
    let pat = format!("\"{key}\"");
    let mut from = 0;
    while let Some(p) = find(&body[from..], pat.as_bytes()) {
        let rest = &body[from + p + pat.len()..];
        let rest: Vec<u8> = rest
            .iter()
            .copied()
            .skip_while(|b| b.is_ascii_whitespace())
            .take(64)
            .collect();
        if let Some(after) = rest.strip_prefix(b":") {
            let after: Vec<u8> = after
                .iter()
                .copied()
                .skip_while(|b| b.is_ascii_whitespace())
                .collect();
            if after.starts_with(b"true") {
                return true;
            }
        }
        from += p + pat.len();
    }
    false
}

async fn connection(mut s: TcpStream, server: &Server) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 64 * 1024 {
                s.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await?;
                return Ok(());
            }
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let Some(head) = parse_head(&buf[..head_end - 4]) else {
            s.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        };
        if head.chunked_body {
            s.write_all(
                b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        }
        let end = head_end + head.content_length;
        while buf.len() < end {
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let body = &buf[head_end..end];
        respond(&mut s, server, &head, body).await?;
        buf.drain(..end);
        if head.close {
            s.shutdown().await?;
            return Ok(());
        }
    }
}

fn status_line(status: u16) -> &'static str {
    match status {
        200 => "HTTP/1.1 200 OK\r\n",
        400 => "HTTP/1.1 400 Bad Request\r\n",
        401 => "HTTP/1.1 401 Unauthorized\r\n",
        404 => "HTTP/1.1 404 Not Found\r\n",
        _ => "HTTP/1.1 500 Internal Server Error\r\n",
    }
}

fn full(status: u16, headers: &str, body: &str, close: bool) -> Vec<u8> {
    let conn = if close { "close" } else { "keep-alive" };
    let mut out = format!(
        "{}{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: {conn}\r\n\r\n",
        status_line(status),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
}

async fn respond(s: &mut TcpStream, server: &Server, head: &Head, body: &[u8]) -> io::Result<()> {
    let n = server.counter.fetch_add(1, Ordering::Relaxed);
    let path = head.path.split('?').next().unwrap_or("");
    let api = match path {
        "/v1/chat/completions" | "/chat/completions" => Some(Api::OpenAi),
        "/v1/messages" => Some(Api::Anthropic),
        _ => None,
    };
    let rid = format!("req_bench{n:015}");
    let (id_header, hdrs) = match api {
        Some(Api::Anthropic) => (
            format!("request-id: {rid}\r\n"),
            format!("request-id: {rid}\r\nanthropic-organization-id: 00000000-0000-0000-0000-000000000000\r\n"),
        ),
        _ => (
            format!("x-request-id: {rid}\r\n"),
            format!("x-request-id: {rid}\r\nopenai-version: 2020-10-01\r\nopenai-processing-ms: 0\r\nopenai-organization: bench\r\n"),
        ),
    };
    let Some(api) = api.filter(|_| head.method == "POST") else {
        let msg = format!(
            "{{\"error\":{{\"message\":\"Unknown request URL: {} {}\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"unknown_url\"}}}}",
            head.method, path
        );
        return s.write_all(&full(404, &id_header, &msg, head.close)).await;
    };
    match api {
        Api::OpenAi if !head.auth_openai => {
            let msg = "{\"error\":{\"message\":\"You didn't provide an API key.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}";
            return s.write_all(&full(401, &hdrs, msg, head.close)).await;
        }
        // Newer Anthropic SDKs (2.x) send the key as `Authorization: Bearer`; both work.
        Api::Anthropic if !head.auth_anthropic && !head.auth_openai => {
            let msg = format!("{{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"x-api-key header is required\"}},\"request_id\":\"{rid}\"}}");
            return s.write_all(&full(401, &hdrs, &msg, head.close)).await;
        }
        Api::Anthropic if !head.anthropic_version => {
            let msg = format!("{{\"type\":\"error\",\"error\":{{\"type\":\"invalid_request_error\",\"message\":\"anthropic-version: header is required\"}},\"request_id\":\"{rid}\"}}");
            return s.write_all(&full(400, &hdrs, &msg, head.close)).await;
        }
        _ => {}
    }
    // A rough prompt size, so usage looks like a real reply's.
    let prompt_tokens = (body.len() / 4).max(1);
    let r = &server.r;
    let n_out = server.cfg.tokens;
    if !json_true(body, "stream") {
        // A whole reply comes when the model is done: after the time to first token and
        // every token's time.
        let wait = server.cfg.first_delay + server.cfg.token_delay * n_out as u32;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let json = match api {
            Api::OpenAi => format!(
                "{}{prompt_tokens}{}{}{}",
                r.openai_json.0,
                r.openai_json.1,
                prompt_tokens + n_out,
                r.openai_json.2
            ),
            Api::Anthropic => format!(
                "{}{prompt_tokens}{}",
                r.anthropic_json.0, r.anthropic_json.1
            ),
        };
        return s.write_all(&full(200, &hdrs, &json, head.close)).await;
    }

    let conn = if head.close { "close" } else { "keep-alive" };
    let mut pre = format!(
        "HTTP/1.1 200 OK\r\n{hdrs}content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: {conn}\r\n\r\n"
    )
    .into_bytes();
    let (deltas, tail) = match api {
        Api::OpenAi => {
            pre.extend_from_slice(&r.openai_preamble);
            let mut tail = r.openai_finish.clone();
            if json_true(body, "include_usage") {
                tail.extend(chunk(&format!(
                    "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"{OPENAI_MODEL}\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_bench\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{n_out},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}}}\n\n",
                    prompt_tokens + n_out
                )));
            }
            tail.extend(chunk("data: [DONE]\n\n"));
            (&r.openai_deltas, tail)
        }
        Api::Anthropic => {
            pre.extend(chunk(&anthropic_event(
                "message_start",
                &format!(
                    "{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_01BenchBenchBenchBench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{ANTHROPIC_MODEL}\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{prompt_tokens},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}}}}"
                ),
            )));
            pre.extend_from_slice(&r.anthropic_preamble);
            let mut tail = chunk(&r.anthropic_tail_pre);
            tail.extend(chunk(&anthropic_event(
                "message_delta",
                &format!("{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{n_out}}}}}"),
            )));
            tail.extend(chunk(&anthropic_event(
                "message_stop",
                "{\"type\":\"message_stop\"}",
            )));
            (&r.anthropic_deltas, tail)
        }
    };
    let mut tail = tail;
    tail.extend_from_slice(b"0\r\n\r\n");

    let paced = !server.cfg.token_delay.is_zero()
        || !server.cfg.first_delay.is_zero()
        || server.first_delta.is_some();
    if !paced {
        // Zero delay: the whole stream in as few writes as the socket takes.
        let mut all = pre;
        all.reserve(deltas.iter().map(Vec::len).sum::<usize>() + tail.len());
        for d in deltas.iter() {
            all.extend_from_slice(d);
        }
        all.extend_from_slice(&tail);
        return s.write_all(&all).await;
    }
    s.write_all(&pre).await?;
    if !server.cfg.first_delay.is_zero() {
        tokio::time::sleep(server.cfg.first_delay).await;
    }
    for (i, d) in deltas.iter().enumerate() {
        if !server.cfg.token_delay.is_zero() {
            tokio::time::sleep(server.cfg.token_delay).await;
        }
        if i == 0 {
            if let Some(slot) = &server.first_delta {
                *slot.lock().unwrap() = Some(Instant::now());
            }
        } else if server.cfg.token_delay.is_zero() {
            // No delay between tokens: the rest goes out at once, as a server that has it
            // all would send it.
            let mut rest: Vec<u8> = deltas[i..].concat();
            rest.extend_from_slice(&tail);
            return s.write_all(&rest).await;
        }
        s.write_all(d).await?;
    }
    s.write_all(&tail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_flag_any_spacing() {
        assert!(json_true(br#"{"model":"x","stream":true}"#, "stream"));
        assert!(json_true(br#"{"model": "x", "stream": true}"#, "stream"));
        assert!(!json_true(br#"{"stream": false}"#, "stream"));
        assert!(!json_true(
            br#"{"messages":[{"content":"stream"}]}"#,
            "stream"
        ));
        assert!(json_true(
            br#"{"stream_options": {"include_usage": true}}"#,
            "include_usage"
        ));
    }

    #[test]
    fn escaping() {
        assert_eq!(json_str("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }
}
