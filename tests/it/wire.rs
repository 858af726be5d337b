//! The stream transport (src/provider/h1.rs) against raw TCP servers that write exact
//! bytes: framing edge cases, faults in the middle of a head or a body, early answers,
//! what goes on the wire, and the fallbacks to reqwest (a proxy, a URL with a user name).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::mock::{self, Reply};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, base, run, tmp};

type Handler = dyn Fn(usize, &mut TcpStream) + Send + Sync;

/// A server on `listener` that reads each request whole (head and `Content-Length` body),
/// records it, and lets `handler` write whatever bytes it likes; the connection closes when
/// the handler returns.
struct Raw {
    url: String,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Raw {
    fn start(handler: impl Fn(usize, &mut TcpStream) + Send + Sync + 'static) -> Raw {
        Raw::on(TcpListener::bind("127.0.0.1:0").unwrap(), handler)
    }

    fn on(
        listener: TcpListener,
        handler: impl Fn(usize, &mut TcpStream) + Send + Sync + 'static,
    ) -> Raw {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (handler, recorded) = (handler.clone(), recorded.clone());
                thread::spawn(move || {
                    let Some(request) = read_request(&mut conn) else {
                        return;
                    };
                    let n = {
                        let mut r = recorded.lock().unwrap();
                        r.push(request);
                        r.len() - 1
                    };
                    let _ = conn.set_nodelay(true);
                    handler(n, &mut conn);
                });
            }
        });
        Raw { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut req = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        let n = conn.read(&mut buf).ok().filter(|&n| n > 0)?;
        req.extend_from_slice(&buf[..n]);
        if let Some(at) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while req.len() < head_end + len {
        let n = conn.read(&mut buf).ok().filter(|&n| n > 0)?;
        req.extend_from_slice(&buf[..n]);
    }
    Some(req)
}

/// The events of a mock stream, one piece each.
fn events(reply: Reply) -> Vec<Vec<u8>> {
    match reply {
        Reply::Sse { pieces, .. } => pieces,
        _ => panic!("not a stream"),
    }
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data);
    c.extend_from_slice(b"\r\n");
    c
}

fn chunked(events: &[Vec<u8>]) -> Vec<u8> {
    events.iter().flat_map(|e| chunk(e)).collect()
}

const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\nx-request-id: req_wire\r\n\r\n";

/// `Hel`, `lo` as OpenAI streams it, up to and with `data: [DONE]`.
fn hello() -> Vec<Vec<u8>> {
    events(mock::openai_stream(&["Hel", "lo"]))
}

fn write(conn: &mut TcpStream, bytes: &[u8]) {
    let _ = conn.write_all(bytes);
    let _ = conn.flush();
}

fn stream(dir: &std::path::Path, raw: &Raw) -> assert_cmd::Command {
    let mut cmd = base(dir);
    cmd.env("OPENAI_BASE_URL", format!("{}/v1", raw.url))
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .args(["stream", "-m", "gpt-4o-mini"]);
    cmd
}

/// A stream whose last event came in the same read as bytes that break the chunked
/// framing: the stream had ended, so it is a success, as it was with reqwest (which never
/// looked past the end event).
#[test]
fn stream_end_then_broken_framing_is_a_success() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&hello()));
        bytes.extend_from_slice(b"zz\r\n");
        write(conn, &bytes);
        thread::sleep(Duration::from_millis(300));
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"])).expect(0);
    assert_eq!(out.stdout, "Hello\n");
}

/// A server that answers before it has read a large request (a front proxy's 413) and
/// closes: the answer is what counts, not the reset that cut the upload (reqwest read the
/// answer as well). Not retried: exit 4.
#[test]
fn early_answer_to_a_large_request_is_read() {
    let dir = tmp();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(0));
    let counted = hits.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            *counted.lock().unwrap() += 1;
            // The head only, not the body; then the answer, and a close that resets the
            // upload (unread data).
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let body = "<html><body><h1>413 Request Entity Too Large</h1></body></html>";
            write(
                &mut conn,
                format!(
                    "HTTP/1.1 413 Request Entity Too Large\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            drop(conn);
        }
    });
    let prompt = dir.path().join("big.txt");
    std::fs::write(&prompt, "a".repeat(8 << 20)).unwrap();
    let mut cmd = base(dir.path());
    cmd.env("ANTHROPIC_BASE_URL", &url)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args(["stream", "-m", "claude-haiku-4-5", "--json", "-f"])
        .arg(&prompt);
    let out = run(&mut cmd).expect(4);
    assert_eq!(out.json()["error"]["status"], 413, "{}", out.stdout);
    assert_eq!(*hits.lock().unwrap(), 1, "a 413 is not retried");
}

/// Chunk sizes are any number of hex digits (RFC 9112 7.1): leading zeros past 16 digits,
/// upper-case digits, extensions, trailers.
#[test]
fn chunk_sizes_with_many_leading_zeros() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        for e in hello() {
            bytes.extend(format!("00000000000000000000{:X};x=\"a;b\"\r\n", e.len()).into_bytes());
            bytes.extend(e);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0000000000000000000000\r\nx-trailer: 1\r\n\r\n");
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"])).expect(0);
    assert_eq!(out.stdout, "Hello\n");
}

/// A chunk size too large for 64 bits is a broken stream, not a wrap-around.
#[test]
fn chunk_size_overflow_is_a_broken_stream() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend_from_slice(b"10000000000000005\r\nhello\r\n");
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"])).expect(5);
    assert!(out.stderr.contains("chunk-size"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

/// Interim answers (100, 103) before the real one, and the whole answer arriving a byte at
/// a time.
#[test]
fn head_a_byte_at_a_time_after_interim_answers() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n"
                .to_vec();
        bytes.extend_from_slice(SSE_HEAD);
        bytes.extend(chunked(&hello()));
        bytes.extend_from_slice(b"0\r\n\r\n");
        for b in bytes.chunks(1) {
            if conn.write_all(b).is_err() {
                return;
            }
        }
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"])).expect(0);
    assert_eq!(out.stdout, "Hello\n");
}

/// A chunked stream cut before its last chunk (and before `[DONE]`): exit 5, the text that
/// arrived is kept, the error says the output is partial; with `--json` an error line
/// follows the deltas.
#[test]
fn cut_before_the_last_chunk_is_exit_5_with_partial_output() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&hello()[..3]));
        bytes.extend_from_slice(&chunk(&hello()[3])[..10]);
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--json", "x"])).expect(5);
    let lines = out.lines();
    assert_eq!(lines[0]["text"], "Hel");
    assert_eq!(lines[1]["text"], "lo");
    assert_eq!(lines[2]["error"]["type"], "unavailable");
    assert!(out.stderr.contains("partial"), "{}", out.stderr);
    assert_eq!(raw.requests().len(), 1, "printed text is never re-sent");
}

/// The zero chunk ends a body even when the server sends nothing after it and keeps the
/// connection open (trailers are not waited for).
#[test]
fn zero_chunk_ends_the_body_on_a_held_connection() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let reply = serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1730000000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        })
        .to_string();
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        bytes.extend(chunk(reply.as_bytes()));
        bytes.extend_from_slice(b"0\r\n");
        write(conn, &bytes);
        thread::sleep(Duration::from_secs(4));
    });
    let started = Instant::now();
    let out =
        run(stream(dir.path(), &raw).args(["--retries", "0", "--timeout", "3", "x"])).expect(0);
    assert_eq!(out.stdout, "whole\n");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A head and then silence: the stream's timeout is for its first event.
#[test]
fn silence_after_the_head_times_out_for_the_first_event() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        write(conn, SSE_HEAD);
        thread::sleep(Duration::from_secs(3));
    });
    let out =
        run(stream(dir.path(), &raw).args(["--retries", "0", "--timeout", "1", "--json", "x"]))
            .expect(5);
    assert_eq!(out.json()["error"]["type"], "timeout");
    assert!(
        out.stderr.contains("for the first stream event"),
        "{}",
        out.stderr
    );
}

/// Two different `Content-Length` values: a broken answer, retried, nothing printed.
#[test]
fn conflicting_content_lengths_are_refused() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let body: Vec<u8> = hello().concat();
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\ncontent-length: 7\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend(body);
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "1", "x"])).expect(5);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("Content-Length"), "{}", out.stderr);
    assert_eq!(raw.requests().len(), 2);
}

/// Error answers with chunked and close-delimited bodies are read whole and retried as
/// before; a final 400 in a chunked body is exit 4 with the API's message.
#[test]
fn error_bodies_in_every_framing() {
    let dir = tmp();
    let raw = Raw::start(|n, conn| {
        let rate = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let bytes = match n {
            0 => {
                let mut b = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 0\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                b.extend(chunk(&rate[..9]));
                b.extend(chunk(&rate[9..]));
                b.extend_from_slice(b"0\r\n\r\n");
                b
            }
            1 => {
                let mut b =
                    b"HTTP/1.0 500 Internal Server Error\r\ncontent-type: application/json\r\n\r\n"
                        .to_vec();
                b.extend_from_slice(br#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#);
                b
            }
            2 => {
                let mut b = SSE_HEAD.to_vec();
                b.extend(chunked(&hello()));
                b.extend_from_slice(b"0\r\n\r\n");
                b
            }
            _ => {
                let msg = br#"{"error":{"message":"Unsupported parameter: 'x'","type":"invalid_request_error","param":"x","code":"unsupported_parameter"}}"#;
                let mut b = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                b.extend(chunk(msg));
                b.extend_from_slice(b"0\r\n\r\n");
                b
            }
        };
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--json", "x"])).expect(0);
    let lines = out.lines();
    assert_eq!(lines.last().unwrap()["attempts"], 3, "{}", out.stdout);
    let out = run(stream(dir.path(), &raw).args(["x"])).expect(4);
    assert!(
        out.stderr.contains("Unsupported parameter"),
        "{}",
        out.stderr
    );
}

/// Exactly what the stream's request carries: origin-form target under the base URL's
/// path, Host with the port, the headers reqwest sent, the body's length.
#[test]
fn request_on_the_wire() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&hello()));
        bytes.extend_from_slice(b"0\r\n\r\n");
        write(conn, &bytes);
    });
    let mut cmd = base(dir.path());
    cmd.env("OPENAI_BASE_URL", format!("{}/proxy/openai/v1", raw.url))
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .args(["stream", "-m", "gpt-4o-mini", "x"]);
    run(&mut cmd).expect(0);
    let req = raw.requests().remove(0);
    let (head, body) = req.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "POST /proxy/openai/v1/chat/completions HTTP/1.1"
    );
    let mut headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    headers.sort();
    let port = raw.url.rsplit(':').next().unwrap();
    let expected = [
        ("accept", "*/*".to_string()),
        ("authorization", format!("Bearer {OPENAI_KEY}")),
        ("content-length", body.len().to_string()),
        ("content-type", "application/json".to_string()),
        ("host", format!("127.0.0.1:{port}")),
        (
            "user-agent",
            format!("llmpipe/{}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(headers, expected);
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(sent["stream"], true);
}

/// With a proxy variable set, the stream goes through the proxy (reqwest carries it): the
/// proxy sees the absolute-form request.
#[test]
fn proxy_variable_sends_the_stream_through_the_proxy() {
    let dir = tmp();
    let proxy = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&hello()));
        bytes.extend_from_slice(b"0\r\n\r\n");
        write(conn, &bytes);
    });
    let mut cmd = base(dir.path());
    cmd.env("OPENAI_BASE_URL", "http://api.wire-test.invalid/v1")
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("HTTP_PROXY", &proxy.url)
        .args(["stream", "-m", "gpt-4o-mini", "--retries", "0", "x"]);
    let out = run(&mut cmd).expect(0);
    assert_eq!(out.stdout, "Hello\n");
    let req = proxy.requests().remove(0);
    assert!(
        req.starts_with("POST http://api.wire-test.invalid/v1/chat/completions HTTP/1.1\r\n"),
        "{req}"
    );
}

/// A base URL with a user name and password goes through reqwest, which sends them as
/// Basic credentials beside Anthropic's `x-api-key`.
#[test]
fn user_info_in_the_base_url_still_streams() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&events(mock::anthropic_stream(&["Hel", "lo"]))));
        bytes.extend_from_slice(b"0\r\n\r\n");
        write(conn, &bytes);
    });
    let with_user = raw.url.replacen("http://", "http://user:pw@", 1);
    let mut cmd = base(dir.path());
    cmd.env("ANTHROPIC_BASE_URL", &with_user)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args(["stream", "-m", "claude-haiku-4-5", "--retries", "0", "x"]);
    let out = run(&mut cmd).expect(0);
    assert_eq!(out.stdout, "Hello\n");
    let req = raw.requests().remove(0).to_ascii_lowercase();
    assert!(
        req.contains("\r\nauthorization: basic dxnlcjpwdw==\r\n"),
        "{req}"
    );
}

/// The same end-then-broken-framing stream through reqwest (a URL with a user name): its
/// reader hands over a whole batch of chunks and then the fault; the stream had ended.
#[test]
fn stream_end_then_broken_framing_through_reqwest_is_a_success() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&events(mock::anthropic_stream(&["Hel", "lo"]))));
        bytes.extend_from_slice(b"zz\r\n");
        write(conn, &bytes);
        thread::sleep(Duration::from_millis(300));
    });
    let with_user = raw.url.replacen("http://", "http://user:pw@", 1);
    let mut cmd = base(dir.path());
    cmd.env("ANTHROPIC_BASE_URL", &with_user)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args(["stream", "-m", "claude-haiku-4-5", "--retries", "0", "x"]);
    let out = run(&mut cmd).expect(0);
    assert_eq!(out.stdout, "Hello\n");
}

/// An IPv6 literal base URL: connected to, and named in Host with its brackets.
#[test]
fn ipv6_loopback_base_url() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return; // no IPv6 loopback here
    };
    let dir = tmp();
    let raw = Raw::on(listener, |_, conn| {
        let mut bytes = SSE_HEAD.to_vec();
        bytes.extend(chunked(&hello()));
        bytes.extend_from_slice(b"0\r\n\r\n");
        write(conn, &bytes);
    });
    let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"])).expect(0);
    assert_eq!(out.stdout, "Hello\n");
    let port = raw.url.rsplit(':').next().unwrap();
    let req = raw.requests().remove(0);
    assert!(
        req.contains(&format!("\r\nhost: [::1]:{port}\r\n")),
        "{req}"
    );
}

/// Every way a body can stop short of its framing's end (or of the provider's end
/// event) is exit 5 with the text that arrived kept, never a quiet success.
#[test]
fn framing_faults_are_exit_5_never_a_quiet_success() {
    let ev = hello();
    let sse = |framing: &str| {
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{framing}\r\n").into_bytes()
    };
    let cat = |parts: &[&[u8]]| parts.concat();
    let body = ev.concat();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "close-delimited, closed before [DONE]",
            cat(&[
                b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
                &ev[..3].concat(),
            ]),
            "Hello",
        ),
        (
            "Content-Length longer than the body",
            cat(&[
                &sse(&format!("content-length: {}\r\n", body.len() + 50)),
                &body[..body.len() - 20],
            ]),
            "Hello",
        ),
        (
            "closed in the head",
            b"HTTP/1.1 200 OK\r\ncontent-ty".to_vec(),
            "",
        ),
        (
            "closed in a chunk's data",
            cat(&[SSE_HEAD, &chunked(&ev[..2]), &chunk(&ev[2])[..20]]),
            "Hel",
        ),
        (
            "closed in a chunk-size line",
            cat(&[SSE_HEAD, &chunked(&ev[..2]), b"1"]),
            "Hel",
        ),
        (
            "a chunk's data without its CRLF",
            cat(&[
                SSE_HEAD,
                &chunked(&ev[..2]),
                &chunk(&ev[2])[..chunk(&ev[2]).len() - 2],
                &chunked(&ev[3..]),
            ]),
            "Hel",
        ),
        (
            "a negative chunk size",
            cat(&[SSE_HEAD, &chunked(&ev[..2]), b"-5\r\nhello\r\n"]),
            "Hel",
        ),
        (
            "LF-only chunk-size line",
            cat(&[
                SSE_HEAD,
                &chunked(&ev[..2]),
                format!("{:x}\n", ev[2].len()).as_bytes(),
                &ev[2],
                b"\r\n",
            ]),
            "Hel",
        ),
        (
            "the zero chunk before [DONE]",
            cat(&[SSE_HEAD, &chunked(&ev[..3]), b"0\r\n\r\n"]),
            "Hello",
        ),
        (
            "204 No Content",
            b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            "",
        ),
    ];
    for (what, bytes, printed) in cases {
        let dir = tmp();
        let raw = Raw::start(move |_, conn| write(conn, &bytes));
        let out = run(stream(dir.path(), &raw).args(["--retries", "0", "x"]));
        assert_eq!(out.code, 5, "{what}: {out:?}");
        assert!(out.stdout.starts_with(printed), "{what}: {out:?}");
        assert!(!out.stderr.contains(OPENAI_KEY));
        if !printed.is_empty() {
            assert!(out.stderr.contains("partial"), "{what}: {out:?}");
        }
    }
}

/// A redirect is never followed (the next host would get the key): exit 3.
#[test]
fn a_redirect_is_not_followed() {
    let dir = tmp();
    let raw = Raw::start(|_, conn| {
        write(
            conn,
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://elsewhere.invalid/\r\ntransfer-encoding: chunked\r\n\r\n3\r\nbye\r\n0\r\n\r\n",
        );
    });
    let out = run(stream(dir.path(), &raw).args(["x"])).expect(3);
    assert!(out.stderr.contains("redirect"), "{}", out.stderr);
    assert_eq!(raw.requests().len(), 1);
}
