//! Keys never leave the process: not through a malformed `.env` line, a redirect, a server
//! that echoes them, a base URL's password, or the call log.

use std::path::Path;

use serde_json::Value;

use crate::mock::{self, Mock};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, anthropic, base, openai, run, tmp};

const DOTENV_KEY: &str = "sk-live-XYZ-dotenv-CANARY-7f3a9c";

/// The seven common mistakes (each sets the key on line 2, after a valid line).
fn bad_dotenvs() -> Vec<(&'static str, String)> {
    let k = DOTENV_KEY;
    vec![
        ("colon", format!("OPENAI_API_KEY: {k}")),
        ("set", format!("set OPENAI_API_KEY={k}")),
        ("powershell", format!("$env:OPENAI_API_KEY=\"{k}\"")),
        ("extra words", format!("OPENAI_API_KEY={k} extra words")),
        ("dashes", format!("OPENAI-API-KEY={k}")),
        ("unterminated quote", format!("OPENAI_API_KEY=\"{k}")),
    ]
}

fn write_dotenv(dir: &Path, line: &str) {
    std::fs::write(dir.join(".env"), format!("LLMPIPE_X=1\n{line}\n")).unwrap();
}

fn no_secret(out: &crate::Out, case: &str) {
    for part in [DOTENV_KEY, "XYZ-dotenv"] {
        assert!(
            !out.stdout.contains(part) && !out.stderr.contains(part),
            "{case}: the .env line leaked\nstdout: {}\nstderr: {}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_malformed_dotenv_line_is_named_by_line_never_echoed() {
    for (case, line) in bad_dotenvs() {
        let dir = tmp();
        write_dotenv(dir.path(), &line);
        // A command that needs no key warns and goes on.
        for json in [false, true] {
            let mut cmd = base(dir.path());
            cmd.args(["count-tokens", "hello"]);
            if json {
                cmd.arg("--json");
            }
            let out = run(&mut cmd).expect(0);
            no_secret(&out, case);
            assert!(
                out.stderr.contains("warning: .env:2:"),
                "{case}: {}",
                out.stderr
            );
            if json {
                assert!(out.json().get("error").is_none(), "{case}: {}", out.stdout);
            }
        }
        let out = run(base(dir.path()).args(["complete", "--dry-run", "hello"])).expect(0);
        no_secret(&out, case);
        assert!(out.stderr.contains(".env:2:"), "{case}: {}", out.stderr);

        // A command that sends a request stops with exit 3 and sends nothing.
        let mock = Mock::start(vec![mock::openai_completion("hi")]);
        for json in [false, true] {
            let mut cmd = base(dir.path());
            cmd.env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
                .args(["complete", "hello"]);
            if json {
                cmd.arg("--json");
            }
            let out = run(&mut cmd).expect(3);
            no_secret(&out, case);
            assert!(
                out.stderr.contains("error: .env:2:"),
                "{case}: {}",
                out.stderr
            );
            if json {
                let e = &out.json()["error"];
                assert_eq!(e["type"], "config", "{case}");
                assert!(e["message"].as_str().unwrap().contains(".env:2:"), "{case}");
            }
        }
        assert_eq!(mock.hits(), 0, "{case}: a request was sent");
    }
}

#[test]
fn a_dotenv_with_a_byte_order_mark_loads() {
    let dir = tmp();
    std::fs::write(
        dir.path().join(".env"),
        format!("\u{feff}OPENAI_API_KEY={DOTENV_KEY}\n"),
    )
    .unwrap();
    let out = run(base(dir.path()).args(["count-tokens", "--json", "hello"])).expect(0);
    assert!(!out.stderr.contains(".env"), "{}", out.stderr);
    let mock = Mock::start(vec![mock::openai_completion("hi")]);
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
        .args(["complete", "--json", "hello"]))
    .expect(0);
    no_secret(&out, "bom");
    assert_eq!(
        mock.only_request().header("authorization"),
        Some(format!("Bearer {DOTENV_KEY}").as_str())
    );
}

#[test]
fn redirects_are_not_followed_with_the_key() {
    let dir = tmp();
    for provider in ["openai", "anthropic"] {
        let second = Mock::start(vec![if provider == "openai" {
            mock::openai_completion("stolen")
        } else {
            mock::anthropic_message("stolen")
        }]);
        let path = if provider == "openai" {
            "/v1/chat/completions"
        } else {
            "/v1/messages"
        };
        let location = format!("{}{path}", second.url);
        for stream in [false, true] {
            let first = Mock::start(vec![mock::full(
                307,
                &[("location", location.as_str())],
                "",
            )]);
            let mut cmd = if provider == "openai" {
                openai(dir.path(), &first)
            } else {
                anthropic(dir.path(), &first)
            };
            cmd.arg(if stream { "stream" } else { "complete" })
                .args(["--json", "hello"]);
            if provider == "anthropic" {
                cmd.args(["-m", "claude-haiku-4-5"]);
            }
            let out = run(&mut cmd).expect(3);
            assert_eq!(second.hits(), 0, "{provider}: the redirect was followed");
            assert_eq!(first.hits(), 1, "{provider}: a redirect is not retried");
            assert!(
                out.stderr.contains("307 redirect to")
                    && out.stderr.contains(&location)
                    && out.stderr.contains("does not follow redirects"),
                "{provider}: {}",
                out.stderr
            );
            let line = out.stdout.lines().last().unwrap_or("");
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["error"]["type"], "config", "{provider}");
            assert_eq!(v["error"]["status"], 307, "{provider}");
        }
    }
}

fn log_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("calls.db"))
        {
            all.extend(std::fs::read(p).unwrap());
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_key_echoed_by_the_server_is_masked_in_output_and_log() {
    for provider in ["openai", "anthropic"] {
        let dir = tmp();
        let (key, reply, ok) = if provider == "openai" {
            (
                OPENAI_KEY,
                mock::openai_error(
                    401,
                    "invalid_request_error",
                    Some("invalid_api_key"),
                    &format!("Invalid API key: Bearer {OPENAI_KEY}"),
                ),
                mock::openai_completion(&format!("your key is {OPENAI_KEY}.")),
            )
        } else {
            (
                ANTHROPIC_KEY,
                mock::anthropic_error(
                    401,
                    "authentication_error",
                    &format!("invalid x-api-key: {ANTHROPIC_KEY}"),
                ),
                mock::anthropic_message(&format!("your key is {ANTHROPIC_KEY}.")),
            )
        };
        let db = dir.path().join("calls.db");
        for json in [false, true] {
            for (reply, code) in [(reply.clone(), 3), (ok.clone(), 0)] {
                let mock = Mock::start(vec![reply]);
                let mut cmd = if provider == "openai" {
                    openai(dir.path(), &mock)
                } else {
                    anthropic(dir.path(), &mock)
                };
                cmd.env("LLMPIPE_LOG_DB", &db).args(["complete", "hello"]);
                if provider == "anthropic" {
                    cmd.args(["-m", "claude-haiku-4-5"]);
                }
                if json {
                    cmd.arg("--json");
                }
                // `expect` asserts that neither stdout nor stderr holds the key.
                let out = run(&mut cmd).expect(code);
                assert!(
                    out.stdout.contains("[REDACTED]") || out.stderr.contains("[REDACTED]"),
                    "{provider}: {out:?}"
                );
            }
        }
        let log = log_bytes(dir.path());
        assert!(contains(&log, "[REDACTED]"), "{provider}: nothing logged");
        assert!(
            !contains(&log, key),
            "{provider}: the key is in the call log"
        );
        // `logs --json` reads the same rows back.
        let out = run(base(dir.path())
            .env("LLMPIPE_LOG_DB", &db)
            .args(["logs", "--json"]))
        .expect(0);
        assert!(!out.stdout.contains(key));
    }
}

#[test]
fn a_base_url_password_is_never_shown() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_message("hi")]);
    // A short password (too short to mask as a bare string) is still hidden in URLs.
    let url = mock.url.replace("http://", "http://gateway:pw12@");
    for args in [
        vec!["complete", "-v", "hello"],
        vec!["complete", "--dry-run", "hello"],
    ] {
        let out = run(anthropic(dir.path(), &mock)
            .env("ANTHROPIC_BASE_URL", &url)
            .args(&args)
            .args(["-m", "claude-haiku-4-5"]))
        .expect(0);
        assert!(
            !out.stdout.contains("pw12") && !out.stderr.contains("pw12"),
            "{args:?}: {out:?}"
        );
        assert!(
            out.stderr.contains("gateway:[REDACTED]@")
                || out.stdout.contains("gateway:[REDACTED]@"),
            "{args:?}: {out:?}"
        );
    }
    // --dry-run shows the Basic header the client adds from the URL, redacted.
    let out = run(anthropic(dir.path(), &mock)
        .env("ANTHROPIC_BASE_URL", &url)
        .args(["complete", "--dry-run", "-m", "claude-haiku-4-5", "hello"]))
    .expect(0);
    assert_eq!(out.json()["headers"]["authorization"], "Basic [REDACTED]");
    // Anthropic: the key in x-api-key, the URL's userinfo as Basic auth for the gateway.
    let req = mock.only_request();
    assert_eq!(req.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(req.header("authorization"), Some("Basic Z2F0ZXdheTpwdzEy"));

    // OpenAI's key is itself the Authorization header: a URL password is a config error.
    let mock = Mock::start(vec![mock::openai_completion("hi")]);
    let url = format!("{}/v1", mock.url.replace("http://", "http://gateway:pw12@"));
    let out = run(openai(dir.path(), &mock)
        .env("OPENAI_BASE_URL", &url)
        .args(["complete", "--json", "hello"]))
    .expect(3);
    assert!(!out.stdout.contains("pw12") && !out.stderr.contains("pw12"));
    assert!(out.stderr.contains("OPENAI_BASE_URL"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
}

#[test]
fn an_invalid_base_url_is_a_config_error_never_sent() {
    let dir = tmp();
    for (var, url) in [
        ("OPENAI_BASE_URL", "http://127.0.0.1:99999/v1"),
        ("OPENAI_BASE_URL", "http://exa mple.com/v1"),
        ("OPENAI_BASE_URL", "http:///v1"),
        ("ANTHROPIC_BASE_URL", "https://api.anthropic.com:70000"),
        (
            "ANTHROPIC_BASE_URL",
            "http://user:secret-pass-1234@bad host",
        ),
    ] {
        let started = std::time::Instant::now();
        let mut cmd = base(dir.path());
        cmd.env(var, url)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .args(["complete", "--json", "hello"]);
        if var.starts_with("ANTHROPIC") {
            cmd.args(["-m", "claude-haiku-4-5"]);
        }
        let out = run(&mut cmd).expect(3);
        assert!(out.stderr.contains(var), "{url}: {}", out.stderr);
        assert_eq!(out.json()["error"]["type"], "config");
        assert!(!out.stderr.contains("secret-pass") && !out.stdout.contains("secret-pass"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{url}: retried?"
        );
    }
}

#[test]
fn a_key_split_across_stream_deltas_is_masked() {
    let dir = tmp();
    let half = OPENAI_KEY.len() / 2;
    let deltas = [
        "your key is ",
        &OPENAI_KEY[..half],
        &OPENAI_KEY[half..],
        ". Bye s",
    ];
    for json in [false, true] {
        let mock = Mock::start(vec![mock::openai_stream(&deltas)]);
        let mut cmd = openai(dir.path(), &mock);
        cmd.args(["stream", "--no-log", "hello"]);
        if json {
            cmd.arg("--json");
        }
        let out = run(&mut cmd).expect(0);
        let text = if json {
            out.lines()
                .iter()
                .filter(|l| l["type"] == "delta")
                .map(|l| l["text"].as_str().unwrap().to_string())
                .collect::<String>()
        } else {
            out.stdout.clone()
        };
        assert_eq!(text.trim_end(), "your key is [REDACTED]. Bye s", "{out:?}");
    }
}

#[test]
fn a_dotenv_that_is_not_a_regular_file_is_never_opened() {
    let dir = tmp();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join(".env"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return;
    }
    let out = run(base(dir.path())
        .args(["count-tokens", "hello"])
        .timeout(std::time::Duration::from_secs(10)))
    .expect(0);
    assert!(out.stderr.contains("warning: .env:"), "{}", out.stderr);
}

#[test]
fn a_key_at_the_cut_of_a_shortened_error_body_is_masked_whole() {
    let dir = tmp();
    // The plain-text body is shown cut to 200 characters; the key straddles the cut.
    let body = format!("{}{OPENAI_KEY} trailing", "x".repeat(190));
    let mock = Mock::start(vec![mock::full(
        401,
        &[("content-type", "text/plain")],
        body,
    )]);
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--json", "--no-log", "hello"])).expect(3);
    let head = &OPENAI_KEY[..8];
    assert!(
        !out.stderr.contains(head) && !out.stdout.contains(head),
        "{out:?}"
    );
    assert!(out.stderr.contains("[REDACTED]"), "{}", out.stderr);
}

/// A gateway that echoes the Basic-auth header it got (base64 of `user:password`) reveals
/// the URL's password no more than one that echoes the password itself.
#[test]
fn a_password_echoed_as_basic_auth_is_masked() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let auth = req.header("authorization").unwrap_or("").to_string();
        let body = serde_json::json!({
            "type": "error",
            "error": {"type": "authentication_error", "message": format!("Invalid credentials: {auth}")},
        });
        (
            mock::Reply::Full {
                status: 401,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            },
            std::time::Duration::ZERO,
        )
    })]);
    let url = mock
        .url
        .replace("http://", "http://bob:hunter2PASSWORDxyz@");
    let out = run(anthropic(dir.path(), &mock)
        .env("ANTHROPIC_BASE_URL", &url)
        .args(["complete", "--json", "-m", "claude-haiku-4-5", "hello"]))
    .expect(3);
    // base64("bob:hunter2PASSWORDxyz")
    let basic = "Ym9iOmh1bnRlcjJQQVNTV09SRHh5eg==";
    assert_eq!(
        mock.only_request().header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(basic) && !text.contains("hunter2"), "{text}");
    }
    assert!(out.stderr.contains("Basic [REDACTED]"), "{}", out.stderr);
}
