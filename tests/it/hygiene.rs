//! The test suite itself: isolated from the machine it runs on, and loud when its mock fails.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mock::{self, Mock};
use crate::tmp;

/// Sends one raw request to the mock and waits until it closes the connection.
fn poke(mock: &Mock) {
    let addr = mock.url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
        .unwrap();
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
}

fn panicking_mock() -> Mock {
    Mock::start(vec![mock::dynamic(|_, _| panic!("handler boom"))])
}

#[test]
#[should_panic(expected = "the mock server panicked: handler boom")]
fn a_mock_handler_panic_fails_the_test_that_asks_for_requests() {
    let mock = panicking_mock();
    poke(&mock);
    let _ = mock.requests();
}

#[test]
#[should_panic(expected = "the mock server panicked: handler boom")]
fn a_mock_handler_panic_fails_the_test_when_the_mock_is_dropped() {
    let mock = panicking_mock();
    poke(&mock);
    drop(mock);
}

#[test]
fn a_mock_that_answered_drops_quietly() {
    let mock = Mock::start(vec![mock::openai_completion("fine")]);
    poke(&mock);
    assert_eq!(mock.hits(), 1);
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// Runs this test binary again, on the tests that touch the call log, the cache and the
/// config, in an environment a developer's machine might have: every variable llmpipe reads
/// set to something that would change a result, a config file and a call log of "their own".
/// The tests still pass and nothing is written outside their temporary directories.
#[test]
fn the_hosts_environment_changes_no_test() {
    let host = tmp();
    let h = host.path();
    let config = "model = \"gpt-4o\"\nlog_db = \"from-config.db\"\ncache = true\nmax_tokens = 7\n";
    for dir in [
        "home/.config/llmpipe",
        "config/llmpipe",
        "data",
        "cache",
        "prompts/p",
    ] {
        std::fs::create_dir_all(h.join(dir)).unwrap();
    }
    std::fs::write(h.join("home/.config/llmpipe/config.toml"), config).unwrap();
    std::fs::write(h.join("config/llmpipe/config.toml"), config).unwrap();
    std::fs::write(h.join("prompts/p/v1.md"), "host prompt {{input}}").unwrap();
    let before = files(h);

    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["memory::", "config::", "core::", "--skip", "hygiene::"])
        .env("HOME", h.join("home"))
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("XDG_DATA_HOME", h.join("data"))
        .env("XDG_CACHE_HOME", h.join("cache"))
        .env("LLMPIPE_CONFIG", h.join("config/llmpipe/config.toml"))
        .env("LLMPIPE_LOG_DB", h.join("log.db"))
        .env("LLMPIPE_CACHE_URL", "redis://127.0.0.1:1")
        .env("LLMPIPE_CACHE_TTL", "abc")
        .env("LLMPIPE_MODEL", "claude-opus-4-1")
        .env("LLMPIPE_PROMPTS", h.join("prompts"))
        .env("LLMPIPE_RETRY_BASE_MS", "60000")
        .env("LLMPIPE_OPENAI_MAX_TOKENS_FIELD", "max_tokens")
        .env("OPENAI_API_KEY", "sk-host-openai-key")
        .env("ANTHROPIC_API_KEY", "sk-ant-host-key")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
        .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env("ALL_PROXY", "http://127.0.0.1:1")
        .env("http_proxy", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "with the host's variables set, tests fail:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 20, "too few tests ran: {stdout}");
    assert_eq!(files(h), before, "tests wrote into the host's directories");
}
