//! `benchmock fetch`: one POST through reqwest (llmpipe's HTTP client, with llmpipe's
//! features, on a current-thread runtime as llmpipe runs it), its body read and dropped.
//! With `--stream true` the body is read as llmpipe reads a stream: frame by frame, by a
//! task of its own that hands every frame over a channel, the reader taking all that has
//! arrived at once. Nothing is parsed. This was the floor under llmpipe's `stream` while
//! reqwest read its streams; they are now read off the socket (src/provider/h1.rs), and
//! this shows what that saves.

use futures_util::StreamExt;

use crate::{die, Args};

pub fn main(a: &Args) {
    let port: u16 = a.num("port", 0);
    if port == 0 {
        die("fetch: --port is required");
    }
    let path = a.str("path").unwrap_or("/v1/chat/completions");
    let body = std::fs::read(
        a.str("body")
            .unwrap_or_else(|| die("fetch: --body FILE is required")),
    )
    .unwrap_or_else(|e| die(&format!("fetch: body: {e}")));
    let stream = a.str("stream") == Some("true");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(&format!("runtime: {e}")));
    let got = rt.block_on(async {
        let client = reqwest::Client::builder()
            .build()
            .unwrap_or_else(|e| die(&format!("fetch: client: {e}")));
        let mut req = client
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("content-type", "application/json");
        for h in a.all("header") {
            let (k, v) = h
                .split_once(':')
                .unwrap_or_else(|| die("fetch: --header 'K: V'"));
            req = req.header(k.trim(), v.trim());
        }
        let resp = req
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| die(&format!("fetch: {e}")));
        if !resp.status().is_success() {
            die(&format!("fetch: status {}", resp.status()));
        }
        if !stream {
            return resp
                .bytes()
                .await
                .map(|b| b.len())
                .unwrap_or_else(|e| die(&format!("fetch: {e}")));
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut frames = resp.bytes_stream();
            while let Some(f) = frames.next().await {
                if tx.send(f).await.is_err() {
                    break;
                }
            }
        });
        let mut n = 0;
        while let Some(f) = rx.recv().await {
            n += f.unwrap_or_else(|e| die(&format!("fetch: {e}"))).len();
            while let Ok(f) = rx.try_recv() {
                n += f.unwrap_or_else(|e| die(&format!("fetch: {e}"))).len();
            }
        }
        n
    });
    if got == 0 {
        die("fetch: empty body");
    }
}
