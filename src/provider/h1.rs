//! A small HTTP/1.1 client for one thing: a streamed (SSE) response over plain http, read
//! as it arrives.
//!
//! reqwest (hyper) hands a chunked body over one HTTP chunk at a time, each after a round
//! trip to its connection task; servers send every SSE event as a chunk of its own, so a
//! 2,000-token stream costs some 2,000 round trips (about 3,000 instructions each, more
//! than llmpipe spends parsing the events). This client reads the socket itself and hands
//! over, per read, the body data of every chunk that read completed: one call per network
//! read, no copy, no task.
//!
//! Only plain-http streams come here: local model servers, gateways, test and bench
//! servers, where events arrive as fast as the CPU takes them and a connection costs
//! microseconds. An https stream (the APIs themselves) stays with reqwest: across a real
//! network an event's ~1 µs of CPU is lost in the network's time, while reqwest's reused
//! connections (a tool loop's turns, a run's items) and HTTP/2 save whole round trips.
//!
//! It covers what such a stream needs and no more: one POST on a fresh connection, the
//! response head parsed by `httparse` (1xx skipped), and a body framed by
//! `Transfer-Encoding: chunked`, `Content-Length` or the connection's close (RFC 9112 6.3).
//! A body that ends before its framing says it does is an error, never a quiet end.
//! Anything else (https, a proxy, a URL with a user name, a header value HTTP cannot carry)
//! is left to reqwest: see [`usable`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a response head may take (hyper's default is in the same range).
const MAX_HEAD_BYTES: usize = 256 << 10;
/// The most header lines a response head may have.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line (size, extensions): far above any real server's.
const MAX_CHUNK_LINE: usize = 4096;
/// How much the buffer asks of the socket per read.
const READ_SIZE: usize = 64 << 10;

/// Whether no proxy is configured: with one of [`crate::config::PROXY_VARS`] set, reqwest
/// (which applies them) carries the request.
pub fn no_proxy() -> bool {
    crate::config::PROXY_VARS
        .iter()
        .all(|v| std::env::var_os(v).is_none_or(|s| s.is_empty()))
}

/// Whether this client can carry a request to `url` with `headers` exactly as reqwest
/// would: plain http, no user name or password in the URL (reqwest turns those into a
/// header), every header a valid HTTP field. (Proxies: [`no_proxy`].)
pub fn usable(url: &Url, headers: &[(&str, String)]) -> bool {
    url.scheme() == "http"
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
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
    io: TcpStream,
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
/// head. `connect_timeout` bounds the connection; the caller bounds the whole. The body is
/// left for [`Body::read`].
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

async fn connect(url: &Url) -> WireResult<TcpStream> {
    let port = url.port_or_known_default().unwrap_or(80);
    let host = url
        .host_str()
        .ok_or_else(|| WireError::protocol("the URL has no host"))?;
    // An IPv6 literal comes bracketed ("[::1]"); a name is looked up.
    let addrs: Vec<SocketAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| WireError::connect("dns error", e))?
            .collect(),
    };
    let tcp = race(interleave(addrs), TcpStream::connect)
        .await
        .map_err(|e| WireError::connect("tcp connect error", e))?;
    // As reqwest does: a request's last bytes go out at once.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// How long an attempt to connect runs alone before the next address is tried beside it
/// (RFC 8305's "connection attempt delay"; hyper-util, under reqwest, waits 300 ms).
const NEXT_ADDRESS_AFTER: Duration = Duration::from_millis(250);

/// The addresses in the order to try them: the two families taking turns, starting with the
/// first's (RFC 8305 4), so a family that is broken here costs one delay, not all of them.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut same, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(same.len() + other.len());
    same.reverse();
    other.reverse();
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addrs` that answers: each attempt gets [`NEXT_ADDRESS_AFTER`]
/// alone before the next starts beside it (at once when it fails), and the first to connect
/// wins (Happy Eyeballs, RFC 8305), so an address that silently drops packets does not use
/// up the connect timeout. With every attempt failed, the last error.
async fn race<C, F, T>(addrs: Vec<SocketAddr>, connect: C) -> io::Result<T>
where
    C: Fn(SocketAddr) -> F,
    F: std::future::Future<Output = io::Result<T>>,
{
    use futures_util::StreamExt;
    let mut pending = futures_util::stream::FuturesUnordered::new();
    let mut next = addrs.into_iter();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    loop {
        let started = match next.next() {
            Some(addr) => {
                pending.push(connect(addr));
                true
            }
            None => false,
        };
        if pending.is_empty() {
            return Err(last);
        }
        // A success ends the race; a failure or the delay starts the next address.
        tokio::select! {
            done = pending.next() => match done {
                Some(Ok(conn)) => return Ok(conn),
                Some(Err(e)) => last = e,
                None => {}
            },
            () = tokio::time::sleep(NEXT_ADDRESS_AFTER), if started => {}
        }
    }
}

async fn send(
    mut io: TcpStream,
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
            let n = self
                .io
                .read_buf(&mut frames.buf)
                .await
                .map_err(|e| WireError::io("error reading the body", e))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `pieces` as a chunked body, with the liberties RFC 9112 allows: upper-case hex,
    /// leading zeros, a chunk extension, trailers.
    fn chunked(pieces: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let size = match i % 3 {
                0 => format!("{:X}", p.len()),
                1 => format!("00{:x}", p.len()),
                _ => format!("{:x};name=\"v\" ", p.len()),
            };
            out.extend_from_slice(size.as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(p);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nx-trailer: 1\r\n\r\n");
        out
    }

    /// Feeds `input` to a body framed by `framing`, in the parts `cuts` make, then closes
    /// the connection: the data handed over, or the error.
    fn decode_in_parts(framing: Framing, input: &[u8], cuts: &[usize]) -> WireResult<Vec<u8>> {
        let mut frames = Frames {
            buf: Vec::new(),
            pos: 0,
            framing,
        };
        let mut out = Vec::new();
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        let mut from = 0;
        for to in cuts {
            frames.make_room();
            frames.buf.extend_from_slice(&input[from..to]);
            frames.decode(&mut |d| out.extend_from_slice(d))?;
            from = to;
        }
        if frames.framing != Framing::Done {
            frames.closed()?;
        }
        Ok(out)
    }

    fn pieces() -> Vec<Vec<u8>> {
        vec![
            b"data: {\"a\":1}\n\n".to_vec(),
            vec![b'x'; 300],
            b"\r\n\r\n".to_vec(),
            b"0\r\n".to_vec(),
        ]
    }

    #[test]
    fn a_chunked_body_cut_anywhere_gives_its_data() {
        let input = chunked(&pieces());
        let want = pieces().concat();
        for i in 0..=input.len() {
            assert_eq!(
                decode_in_parts(Framing::Chunked(Chunk::Size), &input, &[i]).unwrap(),
                want,
                "cut at {i}"
            );
        }
        let every: Vec<usize> = (0..input.len()).collect();
        assert_eq!(
            decode_in_parts(Framing::Chunked(Chunk::Size), &input, &every).unwrap(),
            want
        );
    }

    proptest! {
        #[test]
        fn any_chunking_and_any_cuts_give_the_data(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 0..8),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let input = chunked(&pieces);
            let got = decode_in_parts(Framing::Chunked(Chunk::Size), &input, &cuts).unwrap();
            prop_assert_eq!(got, pieces.concat());
        }

        #[test]
        fn a_chunked_body_cut_short_is_an_error(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..100), 1..5),
            keep in 0usize..1000,
        ) {
            let input = chunked(&pieces);
            // Anything short of the last chunk's size line is not a whole body.
            let last = input.len() - b"0\r\nx-trailer: 1\r\n\r\n".len();
            let keep = keep.min(last);
            prop_assert!(decode_in_parts(Framing::Chunked(Chunk::Size), &input[..keep], &[]).is_err());
        }
    }

    #[test]
    fn malformed_chunk_framing_is_an_error() {
        for bad in [
            &b"zz\r\nab\r\n0\r\n\r\n"[..],
            b"\r\nab\r\n0\r\n\r\n",
            b"-2\r\nab\r\n0\r\n\r\n",
            b"2 x\r\nab\r\n0\r\n\r\n",
            b"2\nab\r\n0\r\n\r\n",
            b"2\r\nabc\r\n0\r\n\r\n",
            b"1000000000000000\r\n",
            b"fffffffffffffffff\r\n",
        ] {
            let got = decode_in_parts(Framing::Chunked(Chunk::Size), bad, &[]);
            assert!(got.is_err(), "{:?} was taken", String::from_utf8_lossy(bad));
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(decode_in_parts(Framing::Chunked(Chunk::Size), &long, &[]).is_err());
    }

    #[test]
    fn a_length_is_honoured_and_a_close_ends_a_body_without_one() {
        let d = b"0123456789";
        assert_eq!(decode_in_parts(Framing::Length(10), d, &[3, 7]).unwrap(), d);
        // Bytes past the length are not the body's.
        assert_eq!(
            decode_in_parts(Framing::Length(4), d, &[2]).unwrap(),
            b"0123"
        );
        assert!(decode_in_parts(Framing::Length(11), d, &[5]).is_err());
        assert_eq!(decode_in_parts(Framing::Close, d, &[1, 2]).unwrap(), d);
    }

    fn head(lines: &[(&str, &str)], status: u16) -> Head {
        let mut headers = HeaderMap::new();
        for (k, v) in lines {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Head { status, headers }
    }

    #[test]
    fn the_framing_follows_rfc_9112() {
        let f = |lines: &[(&str, &str)]| framing(&head(lines, 200));
        let chunked = Framing::Chunked(Chunk::Size);
        assert_eq!(f(&[("transfer-encoding", "chunked")]).unwrap(), chunked);
        assert_eq!(
            f(&[("Transfer-Encoding", "gzip, Chunked")]).unwrap(),
            chunked
        );
        assert_eq!(
            f(&[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked")
            ])
            .unwrap(),
            chunked
        );
        // Chunked not last: the body runs to the close. With a length too, the coding wins.
        assert_eq!(
            f(&[("transfer-encoding", "chunked, gzip")]).unwrap(),
            Framing::Close
        );
        assert_eq!(
            f(&[("content-length", "3"), ("transfer-encoding", "chunked")]).unwrap(),
            chunked
        );
        assert_eq!(f(&[("content-length", "12")]).unwrap(), Framing::Length(12));
        assert_eq!(
            f(&[("content-length", "5, 5")]).unwrap(),
            Framing::Length(5)
        );
        assert_eq!(f(&[("content-length", "0")]).unwrap(), Framing::Done);
        assert_eq!(f(&[]).unwrap(), Framing::Close);
        for bad in ["5, 6", "-1", "", "1e3", "0x10", "99999999999999999999999"] {
            assert!(f(&[("content-length", bad)]).is_err(), "{bad:?} was taken");
        }
        assert!(f(&[("content-length", "5"), ("content-length", "6")]).is_err());
        assert_eq!(
            framing(&head(&[("content-length", "9")], 204)).unwrap(),
            Framing::Done
        );
    }

    /// A server on 127.0.0.1 that reads one request and answers `answer`, one byte per
    /// write; the request it read comes back through the handle.
    fn serve_bytes(answer: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many bytes as its content-length says.
            loop {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap();
                    if req.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
            }
            for b in answer {
                if s.write_all(&[b]).is_err() {
                    break;
                }
            }
            req
        });
        (port, handle)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    async fn read_all(body: &mut Body) -> WireResult<Vec<u8>> {
        let mut out = Vec::new();
        while body.read(&mut |d| out.extend_from_slice(d)).await? {}
        Ok(out)
    }

    #[test]
    fn a_stream_arriving_byte_by_byte_after_an_early_hint_is_read_whole() {
        let data = pieces().concat();
        let mut answer = b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n".to_vec();
        answer.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: req_1\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        answer.extend_from_slice(&chunked(&pieces()));
        let (port, server) = serve_bytes(answer);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/v1/chat/completions?x=1")).unwrap();
        let headers = [("authorization", "Bearer sk-1".to_owned())];
        let (head, got) = runtime().block_on(async {
            let (head, mut body) = open(&url, &headers, b"{\"a\":1}", Duration::from_secs(5))
                .await
                .unwrap();
            (head, read_all(&mut body).await.unwrap())
        });
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["x-request-id"], "req_1");
        assert_eq!(got, data);
        let req = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            req.starts_with(&format!(
                "POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            )),
            "{req}"
        );
        assert!(req.contains("\r\nauthorization: Bearer sk-1\r\n"), "{req}");
        assert!(
            req.ends_with("\r\ncontent-length: 7\r\n\r\n{\"a\":1}"),
            "{req}"
        );
    }

    #[test]
    fn a_stream_cut_before_its_last_chunk_is_an_error_after_its_data() {
        let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        answer.extend_from_slice(b"5\r\nhello\r\n3\r\nwor");
        let (port, _server) = serve_bytes(answer);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        runtime().block_on(async {
            let (_, mut body) = open(&url, &[], b"", Duration::from_secs(5)).await.unwrap();
            let mut out = Vec::new();
            let err = loop {
                match body.read(&mut |d| out.extend_from_slice(d)).await {
                    Ok(true) => {}
                    Ok(false) => panic!("a cut stream ended quietly"),
                    Err(e) => break e,
                }
            };
            assert_eq!(out, b"hellowor");
            assert!(!err.connect);
            assert!(err.to_string().contains("before the body's end"), "{err}");
        });
    }

    #[test]
    fn the_families_take_turns() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let (v6a, v6b, v4a, v4b) = (a("[::1]:1"), a("[::2]:1"), a("10.0.0.1:1"), a("10.0.0.2:1"));
        assert_eq!(
            interleave(vec![v6a, v6b, v4a, v4b]),
            vec![v6a, v4a, v6b, v4b]
        );
        assert_eq!(interleave(vec![v4a, v6a, v4b]), vec![v4a, v6a, v4b]);
        assert_eq!(interleave(vec![v4a, v4b]), vec![v4a, v4b]);
        assert!(interleave(vec![]).is_empty());
    }

    /// An address that never answers costs [`NEXT_ADDRESS_AFTER`], not the connect
    /// timeout; one that fails costs nothing; with all failed, the last error.
    #[test]
    fn the_first_address_to_answer_wins() {
        let addrs: Vec<SocketAddr> = (1..=3)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let rt = runtime();
        let started = std::time::Instant::now();
        let won = rt.block_on(race(addrs.clone(), |a| async move {
            match a.port() {
                1 => std::future::pending().await,
                2 => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
                _ => Ok(a.port()),
            }
        }));
        assert_eq!(won.unwrap(), 3);
        let took = started.elapsed();
        assert!(
            took >= NEXT_ADDRESS_AFTER && took < NEXT_ADDRESS_AFTER * 3,
            "{took:?}"
        );
        let lost = rt.block_on(race(addrs, |a| async move {
            Err::<(), _>(io::Error::other(format!("refused {}", a.port())))
        }));
        assert_eq!(lost.unwrap_err().to_string(), "refused 3");
        assert!(rt.block_on(race(vec![], |_| async { Ok(()) })).is_err());
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = runtime()
            .block_on(open(&url, &[], b"", Duration::from_secs(5)))
            .err()
            .unwrap();
        assert!(err.connect, "{err}");
    }
}
