//! `benchmock load`: a plain HTTP/1.1 load generator (the ceiling when `wrk` is missing,
//! and a second opinion when it is not): `--conns` keep-alive connections on one thread
//! send `--requests` POSTs of `--body` in total, as fast as the server answers, and read
//! each response whole (`Content-Length` or chunked, so SSE streams too). Prints
//! `{"requests","seconds","rps","errors"}`. With `--conns 1 --requests 1` it is the
//! smallest possible client: the floor of one request, start-up included.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{die, Args};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>, tmp: &mut [u8]) -> std::io::Result<()> {
    let n = s.read(tmp).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&tmp[..n]);
    Ok(())
}

async fn worker(
    port: u16,
    request: Arc<Vec<u8>>,
    next: Arc<AtomicUsize>,
    total: usize,
    errors: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut tmp = vec![0u8; 64 * 1024];
    while next.fetch_add(1, Ordering::Relaxed) < total {
        s.write_all(&request).await?;
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p + 4;
            }
            let n = s.read(&mut tmp).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        buf.drain(..head_end);
        if head.contains("transfer-encoding: chunked") {
            // Chunk after chunk until the zero chunk and its blank line. A cursor walks the
            // buffer, which is compacted only before a read: a drain per chunk would move
            // the rest of the buffer once per SSE event and make this floor slower than it is.
            let mut pos = 0;
            loop {
                let line_end = loop {
                    if let Some(p) = find(&buf[pos..], b"\r\n") {
                        break pos + p;
                    }
                    buf.drain(..pos);
                    pos = 0;
                    read_more(&mut s, &mut buf, &mut tmp).await?;
                };
                let size_hex = std::str::from_utf8(&buf[pos..line_end]).unwrap_or("");
                let size =
                    usize::from_str_radix(size_hex.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| std::io::Error::other("bad chunk size"))?;
                let need = line_end + 2 + size + 2;
                pos = if buf.len() < need {
                    buf.drain(..pos);
                    let need = need - pos;
                    while buf.len() < need {
                        read_more(&mut s, &mut buf, &mut tmp).await?;
                    }
                    need
                } else {
                    need
                };
                if size == 0 {
                    break;
                }
            }
            buf.drain(..pos);
        } else {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| std::io::Error::other("response without content-length"))?;
            while buf.len() < len {
                read_more(&mut s, &mut buf, &mut tmp).await?;
            }
            buf.drain(..len);
        }
    }
    Ok(())
}

pub fn main(a: &Args) {
    let port: u16 = a.num("port", 0);
    if port == 0 {
        die("load: --port is required");
    }
    let path = a.str("path").unwrap_or("/v1/chat/completions");
    let body = std::fs::read(
        a.str("body")
            .unwrap_or_else(|| die("load: --body FILE is required")),
    )
    .unwrap_or_else(|e| die(&format!("load: body: {e}")));
    let conns: usize = a.num("conns", 64);
    let total: usize = a.num("requests", 2000);
    let max = Duration::from_secs(a.num("max-seconds", 120));
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for h in a.all("header") {
        req.push_str(&h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let mut request = req.into_bytes();
    request.extend_from_slice(&body);
    let request = Arc::new(request);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(&format!("runtime: {e}")));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let failed = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..conns {
            set.spawn(worker(
                port,
                request.clone(),
                next.clone(),
                total,
                errors.clone(),
            ));
        }
        let all = async {
            let mut failed = 0;
            while let Some(r) = set.join_next().await {
                if !matches!(r, Ok(Ok(()))) {
                    failed += 1;
                }
            }
            failed
        };
        tokio::time::timeout(max, all)
            .await
            .unwrap_or_else(|_| die("load: ran past --max-seconds"))
    });
    let secs = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if failed > 0 || errors > 0 {
        die(&format!(
            "load: {failed} connection(s) failed, {errors} non-200 response(s)"
        ));
    }
    println!(
        "{{\"requests\":{total},\"seconds\":{secs:.6},\"rps\":{:.1},\"errors\":{errors}}}",
        total as f64 / secs
    );
}
