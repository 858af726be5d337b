//! `benchmock ttfb`: how long after the server writes the first text delta of a stream
//! does the client print its first byte?
//!
//! One process holds both ends, so both instants come from the same monotonic clock
//! (`Instant`, CLOCK_MONOTONIC): the mock server (run in this process) stamps the moment
//! just before it hands the chunk with the first text delta to the kernel, and a reader
//! thread stamps the moment the first byte arrives on the client's stdout pipe. The
//! server holds the stream for `--first-delay-ms` after its preamble (a model's time to
//! first token), so the client is idle waiting, as it is against a real API.
//!
//! The child gets `OPENAI_BASE_URL` and `ANTHROPIC_BASE_URL` pointing here; `{port}` in
//! its arguments is replaced by the port.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::{self, FirstDeltaSlot};
use crate::{die, Args};

pub fn main(a: &Args, mut cfg: server::Config) {
    if a.command.is_empty() {
        die("ttfb: give the command after --");
    }
    if cfg.first_delay.is_zero() {
        cfg.first_delay = Duration::from_millis(20);
    }
    let runs: usize = a.num("runs", 20);
    let warmup: usize = a.num("warmup", 2);
    let max = Duration::from_secs(a.num("max-seconds", 120));
    let slot: FirstDeltaSlot = Arc::new(Mutex::new(None));
    let srv = Arc::new(server::Server::new(cfg, Some(slot.clone())));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| die(&format!("runtime: {e}")));
        rt.block_on(async {
            let listener = server::bind(0)
                .await
                .unwrap_or_else(|e| die(&format!("bind: {e}")));
            let _ = port_tx.send(listener.local_addr().unwrap().port());
            server::serve(listener, srv).await;
        });
    });
    let port = port_rx
        .recv()
        .unwrap_or_else(|_| die("server did not start"));
    let cmd: Vec<String> = a
        .command
        .iter()
        .map(|s| s.replace("{port}", &port.to_string()))
        .collect();

    let mut latencies = Vec::new();
    for i in 0..warmup + runs {
        *slot.lock().unwrap() = None;
        let mut child = Command::new(&cmd[0])
            .args(&cmd[1..])
            .env("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1"))
            .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", cmd[0])));
        let mut out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let mut first: Option<Instant> = None;
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if first.is_none() {
                            first = Some(Instant::now());
                        }
                    }
                }
            }
            first
        });
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().ok().flatten() {
                break st;
            }
            if started.elapsed() > max {
                let _ = child.kill();
                die(&format!(
                    "{} ran longer than {} s",
                    cmd.join(" "),
                    max.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let printed = reader.join().ok().flatten();
        if !status.success() {
            die(&format!("{} failed: {status}", cmd.join(" ")));
        }
        let sent = *slot.lock().unwrap();
        let (Some(sent), Some(printed)) = (sent, printed) else {
            die("no stream was served, or nothing was printed");
        };
        if i >= warmup {
            let us = if printed >= sent {
                printed.duration_since(sent).as_secs_f64() * 1e6
            } else {
                -(sent.duration_since(printed).as_secs_f64() * 1e6)
            };
            latencies.push(us);
        }
    }
    let list: Vec<String> = latencies.iter().map(|v| format!("{v:.1}")).collect();
    println!("{{\"latency_us\":[{}]}}", list.join(","));
}
