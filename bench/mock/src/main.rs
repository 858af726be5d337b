//! `benchmock`: the benchmark's helpers, one binary.
//!
//! ```text
//! benchmock serve [--port P] [--tokens N] [--token-delay-ms F] [--first-delay-ms F] [--threads T] [--max-seconds S]
//! benchmock time  [--runs N] [--warmup W] [--stdin FILE] [--stdout FILE] [--max-seconds S] -- CMD ARGS...
//! benchmock ttfb  [--tokens N] [--first-delay-ms F] [--runs N] [--warmup W] -- CMD ARGS...
//! benchmock load  --port P --path PATH --body FILE [--header 'K: V']... [--conns C] [--requests N]
//! benchmock fetch --port P --path PATH --body FILE [--header 'K: V']... [--stream true]
//! ```
//! Everything binds or connects to 127.0.0.1 only, and every mode is bounded in time.

mod fetch;
mod load;
mod server;
mod timing;
mod ttfb;

use std::collections::HashMap;
use std::process::exit;
use std::sync::Arc;
use std::time::Duration;

/// `--key value` options before `--`, and the command after it.
pub struct Args {
    opts: HashMap<String, Vec<String>>,
    pub command: Vec<String>,
}

impl Args {
    fn parse(raw: &[String]) -> Args {
        let mut opts: HashMap<String, Vec<String>> = HashMap::new();
        let mut i = 0;
        while i < raw.len() {
            let a = &raw[i];
            if a == "--" {
                return Args {
                    opts,
                    command: raw[i + 1..].to_vec(),
                };
            }
            let Some(key) = a.strip_prefix("--") else {
                die(&format!("unexpected argument {a:?}"));
            };
            let Some(v) = raw.get(i + 1) else {
                die(&format!("--{key} needs a value"));
            };
            opts.entry(key.to_string()).or_default().push(v.clone());
            i += 2;
        }
        Args {
            opts,
            command: Vec::new(),
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.opts
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.opts.get(key).cloned().unwrap_or_default()
    }

    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        match self.str(key) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| die(&format!("--{key}: not a number: {v}"))),
        }
    }

    pub fn ms(&self, key: &str) -> Duration {
        Duration::from_secs_f64(self.num::<f64>(key, 0.0) / 1000.0)
    }
}

pub fn die(msg: &str) -> ! {
    eprintln!("benchmock: {msg}");
    exit(2)
}

fn server_config(a: &Args) -> server::Config {
    server::Config {
        tokens: a.num("tokens", 2000),
        token_delay: a.ms("token-delay-ms"),
        first_delay: a.ms("first-delay-ms"),
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = raw.first().cloned() else {
        die("usage: benchmock serve|time|ttfb|load [OPTIONS] [-- CMD...]");
    };
    let a = Args::parse(&raw[1..]);
    match mode.as_str() {
        "serve" => serve(&a),
        "time" => timing::main(&a),
        "ttfb" => ttfb::main(&a, server_config(&a)),
        "load" => load::main(&a),
        "fetch" => fetch::main(&a),
        other => die(&format!("unknown mode {other}")),
    }
}

fn serve(a: &Args) {
    let threads: usize = a.num("threads", 1);
    let max = Duration::from_secs(a.num("max-seconds", 3600));
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .unwrap_or_else(|e| die(&format!("runtime: {e}")));
    let srv = Arc::new(server::Server::new(server_config(a), None));
    rt.block_on(async {
        let listener = server::bind(a.num("port", 0))
            .await
            .unwrap_or_else(|e| die(&format!("bind: {e}")));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        // The port on stdout, so a script that asked for port 0 learns which one it got.
        println!("{port}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // Bounded: the server ends by itself after --max-seconds.
        let _ = tokio::time::timeout(max, server::serve(listener, srv)).await;
    });
}
