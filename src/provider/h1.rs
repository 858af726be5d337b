//! A small HTTP/1.1 client for one thing: a streamed (SSE) response, read as it arrives.
//!
//! reqwest (hyper) hands a chunked body over one HTTP chunk at a time, each after a round
//! trip to its connection task; servers send every SSE event as a chunk of its own, so a
//! 2,000-token stream costs some 2,000 round trips (about 3,000 instructions each, over
//! twice what llmpipe spends parsing the events). This client reads the socket itself and
//! hands over, per read, the body data of every chunk that read completed: one call per
//! network read, no copy, no task.
//!
//! It covers what an API stream needs and no more: one request on a fresh connection
//! (plain TCP or TLS with the same web PKI roots reqwest uses, ALPN `http/1.1`), a
//! response head parsed by `httparse`, and a body framed by `Transfer-Encoding: chunked`,
//! `Content-Length` or the connection's close (RFC 9112 6.3). A body that ends before its
//! framing says it does is an error, never a quiet end. Anything else (a proxy, a URL
//! with a user name, another scheme, a header value HTTP cannot carry) is left to
//! reqwest: see [`usable`].

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a response head may take (hyper's default is in the same range).
const MAX_HEAD_BYTES: usize = 256 << 10;
/// The most header lines a response head may have.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line (size, extensions): far above any real server's.
const MAX_CHUNK_LINE: usize = 4096;
/// How much the buffer asks of the socket per read.
const READ_SIZE: usize = 64 << 10;

/// The proxy variables reqwest honours: with any of them set, reqwest (which applies
/// them) carries the request.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Whether this client can carry a request to `url` with `headers` exactly as reqwest
/// would: http or https, no user name or password in the URL (reqwest turns those into a
/// header), no proxy configured, every header a valid HTTP field.
pub fn usable(url: &Url, headers: &[(&str, String)]) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && PROXY_VARS
            .iter()
            .all(|v| std::env::var_os(v).is_none_or(|s| s.is_empty()))
        && headers.iter().all(|(name, value)| {
            HeaderName::from_bytes(name.as_bytes()).is_ok() && HeaderValue::from_str(value).is_ok()
        })
}

/// What went wrong on the wire. `connect` says whether the connection was never made
/// (nothing reached the server) or failed after that.
#[derive(Debug)]
pub struct WireError {
    pub connect: bool,
    what: String,
    source: Option<io::Error>,
}

impl WireError {
    fn connect(what: impl Into<String>, source: io::Error) -> WireError {
        WireError {
            connect: true,
            what: what.into(),
            source: Some(source),
        }
    }

    fn io(what: impl Into<String>, source: io::Error) -> WireError {
        WireError {
            connect: false,
            what: what.into(),
            source: Some(source),
        }
    }

    fn protocol(what: impl Into<String>) -> WireError {
        WireError {
            connect: false,
            what: what.into(),
            source: None,
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

type WireResult<T> = std::result::Result<T, WireError>;

/// The connection: plain or TLS.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Io {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read_buf(buf).await,
            Io::Tls(s) => s.read_buf(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(s) => write_flushed(s, bytes).await,
            Io::Tls(s) => write_flushed(s.as_mut(), bytes).await,
        }
    }
}

async fn write_flushed<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// A response's head: its status and headers.
pub struct Head {
    pub status: u16,
    pub headers: HeaderMap,
}

/// How the body's end is known (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked(Chunk),
    /// This many bytes are still to come.
    Length(u64),
    /// Until the server closes the connection.
    Close,
    Done,
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data: this many bytes are still to come.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
}

/// A response body, read as it arrives.
pub struct Body {
    io: Io,
    frames: Frames,
}

/// The bytes read and not yet decoded, and where the body's framing stands.
struct Frames {
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    pos: usize,
    framing: Framing,
}

/// Sends `body` to `url` (POST) with `headers` on a new connection and reads the answer's
/// head. `connect_timeout` bounds the connection (TCP and TLS); the caller bounds the
/// whole. The body is left for [`Body::read`].
pub async fn open(
    url: &Url,
    headers: &[(&str, String)],
    body: &[u8],
    connect_timeout: Duration,
) -> WireResult<(Head, Body)> {
    let io = tokio::time::timeout(connect_timeout, connect(url))
        .await
        .map_err(|_| {
            WireError::connect(
                "connection timed out",
                io::Error::from(io::ErrorKind::TimedOut),
            )
        })??;
    send(io, url, headers, body).await
}

async fn connect(url: &Url) -> WireResult<Io> {
    let port = url.port_or_known_default().unwrap_or(80);
    let host = url
        .host_str()
        .ok_or_else(|| WireError::protocol("the URL has no host"))?;
    // An IPv6 literal comes bracketed ("[::1]"); a name is looked up.
    let tcp = match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => TcpStream::connect((ip, port)).await,
        Err(_) => TcpStream::connect((host, port)).await,
    }
    .map_err(|e| WireError::connect("tcp connect error", e))?;
    // As reqwest does: a request's last bytes go out at once.
    let _ = tcp.set_nodelay(true);
    if url.scheme() != "https" {
        return Ok(Io::Plain(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|e| {
            WireError::connect(
                "invalid TLS server name",
                io::Error::new(io::ErrorKind::InvalidInput, e),
            )
        })?;
    let tls = tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, tcp)
        .await
        .map_err(|e| WireError::connect("TLS handshake failed", e))?;
    Ok(Io::Tls(Box::new(tls)))
}

/// The TLS settings, made once: the web PKI roots (webpki-roots, as reqwest's
/// `rustls-tls` uses), ring, TLS 1.2 and 1.3, ALPN `http/1.1` only.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(client_config(roots))
        })
        .clone()
}

fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

async fn send(
    mut io: Io,
    url: &Url,
    headers: &[(&str, String)],
    body: &[u8],
) -> WireResult<(Head, Body)> {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = url.host_str().unwrap_or_default();
    let mut out = Vec::with_capacity(512 + body.len());
    out.extend_from_slice(format!("POST {target} HTTP/1.1\r\nhost: {host}").as_bytes());
    if let Some(port) = url.port() {
        out.extend_from_slice(format!(":{port}").as_bytes());
    }
    out.extend_from_slice(b"\r\naccept: */*\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    // A server may answer before it has read the whole request (a front proxy's 413) and
    // close, which breaks the upload: its answer, if it came, is what counts (as with
    // reqwest), else the failed upload.
    let unsent = io.write_all(&out).await.err();
    drop(out);

    let mut buf = Vec::with_capacity(READ_SIZE);
    loop {
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(WireError::protocol(format!(
                "the response head is larger than {} KiB",
                MAX_HEAD_BYTES >> 10
            )));
        }
        reserve(&mut buf);
        let n = match io.read_buf(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let read = WireError::io("error reading the response head", e);
                return Err(unsent_or(unsent, read));
            }
        };
        if n == 0 {
            let eof = WireError::io(
                "connection closed before a complete response head",
                io::Error::from(io::ErrorKind::UnexpectedEof),
            );
            return Err(unsent_or(unsent, eof));
        }
        // Informational answers (1xx, such as 103 Early Hints) come before the real one.
        while let Some((len, head)) = parse_head(&buf)? {
            if (100..200).contains(&head.status) {
                buf.drain(..len);
                if head.status == 101 {
                    return Err(WireError::protocol(
                        "the server switched protocols (101), which a stream does not ask for",
                    ));
                }
                continue;
            }
            let framing = framing(&head)?;
            let body = Body {
                io,
                frames: Frames {
                    buf,
                    pos: len,
                    framing,
                },
            };
            return Ok((head, body));
        }
    }
}

/// The error of a request whose answer could not be read: the failed upload if it failed
/// (the reason there is no answer), else the read's own.
fn unsent_or(unsent: Option<io::Error>, read: WireError) -> WireError {
    match unsent {
        Some(e) => WireError::io("error sending the request", e),
        None => read,
    }
}

/// Room for one more read, without growing a buffer that still has some.
fn reserve(buf: &mut Vec<u8>) {
    if buf.capacity() - buf.len() < READ_SIZE / 4 {
        buf.reserve(READ_SIZE);
    }
}

/// The head at the start of `buf` and its length, once it is complete.
fn parse_head(buf: &[u8]) -> WireResult<Option<(usize, Head)>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(WireError::protocol(format!("malformed response head: {e}")));
        }
    };
    let status = resp.code.unwrap_or(0);
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| WireError::protocol(format!("malformed header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| WireError::protocol(format!("malformed value of header {}", h.name)))?;
        headers.append(name, value);
    }
    Ok(Some((len, Head { status, headers })))
}

/// How the body of a response with `head` ends (RFC 9112 6.3): `Transfer-Encoding` with
/// `chunked` last, else `Content-Length`, else the connection's close.
fn framing(head: &Head) -> WireResult<Framing> {
    if head.status == 204 || head.status == 304 {
        return Ok(Framing::Done);
    }
    let codings: Vec<&[u8]> = head
        .headers
        .get_all(reqwest::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty())
        .collect();
    if let Some(last) = codings.last() {
        return Ok(if last.eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::Close
        });
    }
    let mut length: Option<u64> = None;
    for v in head.headers.get_all(reqwest::header::CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let n = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| WireError::protocol("malformed Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(WireError::protocol("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Done,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

impl Body {
    /// Waits for more of the body and hands `f` the data of everything that has arrived:
    /// each piece as it lies in the buffer, all before this returns. `Ok(true)` while more
    /// may come, `Ok(false)` once the body is complete. An error ends the body; `f` may
    /// have been given data before it (what arrived intact ahead of the fault).
    pub async fn read(&mut self, f: &mut dyn FnMut(&[u8])) -> WireResult<bool> {
        let frames = &mut self.frames;
        loop {
            let gave = frames.decode(f)?;
            if frames.framing == Framing::Done {
                return Ok(false);
            }
            if gave {
                return Ok(true);
            }
            frames.make_room();
            let n = match self.io.read_buf(&mut frames.buf).await {
                Ok(n) => n,
                // A TLS peer that closes without close_notify: the end for a body that
                // ends with the connection, a break for any other.
                Err(e)
                    if e.kind() == io::ErrorKind::UnexpectedEof
                        && frames.framing == Framing::Close =>
                {
                    0
                }
                Err(e) => return Err(WireError::io("error reading the body", e)),
            };
            if n == 0 {
                frames.closed()?;
                return Ok(false);
            }
        }
    }
}

impl Frames {
    /// Drops what was decoded and leaves room for one more read.
    fn make_room(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
        } else if self.pos > 0 {
            self.buf.drain(..self.pos);
        }
        self.pos = 0;
        reserve(&mut self.buf);
    }

    /// The connection closed: the end of a body that ends so, a break of any other.
    fn closed(&mut self) -> WireResult<()> {
        match self.framing {
            Framing::Close | Framing::Done => {
                self.framing = Framing::Done;
                Ok(())
            }
            Framing::Length(_) | Framing::Chunked(_) => Err(WireError::io(
                "connection closed before the body's end",
                io::Error::from(io::ErrorKind::UnexpectedEof),
            )),
        }
    }

    /// Hands `f` the body data in the buffer; whether it gave any.
    fn decode(&mut self, f: &mut dyn FnMut(&[u8])) -> WireResult<bool> {
        let mut gave = false;
        loop {
            let avail = &self.buf[self.pos..];
            match self.framing {
                Framing::Done => return Ok(gave),
                Framing::Close | Framing::Length(_) if avail.is_empty() => return Ok(gave),
                Framing::Close => {
                    f(avail);
                    self.pos = self.buf.len();
                    return Ok(true);
                }
                Framing::Length(left) => {
                    let n = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    f(&avail[..n]);
                    self.pos += n;
                    let left = left - n as u64;
                    self.framing = if left == 0 {
                        Framing::Done
                    } else {
                        Framing::Length(left)
                    };
                    return Ok(true);
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    if avail.is_empty() {
                        return Ok(gave);
                    }
                    let n = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    f(&avail[..n]);
                    gave = true;
                    self.pos += n;
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                }
                Framing::Chunked(Chunk::DataEnd) => match avail {
                    [b'\r', b'\n', ..] => {
                        self.pos += 2;
                        self.framing = Framing::Chunked(Chunk::Size);
                    }
                    [] | [b'\r'] => return Ok(gave),
                    _ => {
                        return Err(WireError::protocol(
                            "malformed chunked body: a chunk's data does not end with CRLF",
                        ));
                    }
                },
                Framing::Chunked(Chunk::Size) => {
                    let Some(eol) = memchr::memchr(b'\n', avail) else {
                        if avail.len() > MAX_CHUNK_LINE {
                            return Err(WireError::protocol(
                                "malformed chunked body: a chunk-size line is too long",
                            ));
                        }
                        return Ok(gave);
                    };
                    let size = chunk_size(&avail[..eol])?;
                    self.pos += eol + 1;
                    // The last chunk: the body is complete (trailers, if any, are not
                    // needed and the connection is not reused).
                    self.framing = if size == 0 {
                        Framing::Done
                    } else {
                        Framing::Chunked(Chunk::Data(size))
                    };
                }
            }
        }
    }
}

/// A chunk-size line (without its `\n`): hex digits, optional extensions after `;`, CR.
fn chunk_size(line: &[u8]) -> WireResult<u64> {
    let bad = || WireError::protocol("malformed chunked body: invalid chunk-size line");
    let line = line.strip_suffix(b"\r").ok_or_else(bad)?;
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    if digits.is_empty() {
        return Err(bad());
    }
    let rest = rest.trim_ascii_start();
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return Err(bad());
    }
    // Any number of digits (leading zeros included), as long as the value fits.
    digits
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(16)?
                .checked_add(u64::from(char::from(d).to_digit(16)?))
        })
        .ok_or_else(bad)
}
