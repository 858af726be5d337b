//! Retries, server-requested waits, timeouts, fallback models and interrupts.

use std::time::{Duration, Instant};

use crate::mock::{self, Mock, Reply};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, anthropic, base, openai, run, tmp};

#[test]
fn transient_failures_are_retried_until_success() {
    let dir = tmp();
    let mock = Mock::start(vec![
        mock::openai_error(500, "server_error", None, "boom"),
        Reply::Reset,
        mock::openai_error(429, "requests", Some("rate_limit_exceeded"), "slow down"),
        mock::openai_completion("finally"),
    ]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "-v", "x"])).expect(0);
    let r = out.json();
    assert_eq!(r["text"], "finally");
    assert_eq!(r["attempts"], 4);
    assert_eq!(mock.hits(), 4);
    assert_eq!(out.stderr.matches("retry ").count(), 3, "{}", out.stderr);
}

#[test]
fn retry_after_ms_beats_retry_after_and_is_honoured() {
    let dir = tmp();
    let limited = mock::full(
        429,
        &[
            ("retry-after-ms", "400"),
            ("retry-after", "30"),
            ("content-type", "application/json"),
        ],
        r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    );
    let mock = Mock::start(vec![limited, mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock).args(["complete", "x"])).expect(0);
    let reqs = mock.requests();
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_secs(5),
        "{gap:?}"
    );
}

#[test]
fn a_server_wait_above_the_cap_stops_at_once_with_exit_5() {
    let dir = tmp();
    let overloaded = mock::full(
        529,
        &[("retry-after", "120")],
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    );
    let mock = Mock::start(vec![overloaded]);
    let started = Instant::now();
    let out = run(anthropic(dir.path(), &mock).args(["complete", "-m", "claude-haiku-4-5", "x"]))
        .expect(5);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(mock.hits(), 1);
    assert!(out.stderr.contains("asked to wait 120 s"), "{}", out.stderr);
}

#[test]
fn x_should_retry_overrides_the_status() {
    let dir = tmp();
    let no = mock::full(
        500,
        &[("x-should-retry", "false")],
        r#"{"error":{"message":"no","type":"server_error"}}"#,
    );
    let mock = Mock::start(vec![no]);
    run(openai(dir.path(), &mock).args(["complete", "x"])).expect(5);
    assert_eq!(mock.hits(), 1);
    let yes = mock::full(
        400,
        &[("x-should-retry", "true")],
        r#"{"error":{"message":"try again","type":"invalid_request_error"}}"#,
    );
    let mock = Mock::start(vec![yes, mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock).args(["complete", "x"])).expect(0);
    assert_eq!(mock.hits(), 2);
}

#[test]
fn a_hung_server_times_out_per_attempt() {
    let dir = tmp();
    let mock = Mock::start(vec![Reply::Hang(Duration::from_secs(5))]);
    let started = Instant::now();
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "--json",
        "--timeout",
        "0.3",
        "--retries",
        "1",
        "x",
    ]))
    .expect(5);
    let took = started.elapsed();
    assert_eq!(mock.hits(), 2);
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(out.json()["error"]["type"], "timeout");
}

#[test]
fn a_stalled_stream_fails_on_the_idle_timeout_but_a_slow_healthy_one_finishes() {
    let dir = tmp();
    // 3 events 400 ms apart with a 250 ms idle limit: stalls before any text, so retried, then fails
    let slow = mock::with_delay(mock::openai_stream(&["a"]), Duration::from_millis(400));
    let mock = Mock::start(vec![slow]);
    let out =
        run(openai(dir.path(), &mock).args(["stream", "--timeout", "0.25", "--retries", "1", "x"]))
            .expect(5);
    assert_eq!(mock.hits(), 2);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    // events 100 ms apart, total well above the limit, each gap within it
    let ok = mock::with_delay(
        mock::openai_stream(&["a", "b", "c", "d", "e"]),
        Duration::from_millis(100),
    );
    let mock = Mock::start(vec![ok]);
    let out = run(openai(dir.path(), &mock).args(["stream", "--timeout", "0.4", "x"])).expect(0);
    assert_eq!(out.stdout, "abcde\n");
}

#[test]
fn a_stream_that_fails_before_any_text_is_retried_transparently() {
    let dir = tmp();
    let early_error = mock::insert_event(
        mock::without_last(mock::anthropic_stream(&[]), 4),
        1,
        mock::anthropic_error_event("overloaded_error", "Overloaded"),
    );
    let mock = Mock::start(vec![early_error, mock::anthropic_stream(&["fine"])]);
    let out =
        run(anthropic(dir.path(), &mock).args(["stream", "--json", "-m", "claude-haiku-4-5", "x"]))
            .expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[1]["attempts"], 2);
    assert_eq!(mock.hits(), 2);
}

#[test]
fn fallback_to_another_provider_after_retries() {
    let dir = tmp();
    let primary = Mock::start(vec![mock::openai_error(503, "server_error", None, "down")]);
    let secondary = Mock::start(vec![mock::anthropic_message("from claude")]);
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", &primary.url)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("ANTHROPIC_BASE_URL", &secondary.url)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args([
            "complete",
            "--json",
            "--retries",
            "1",
            "-m",
            "gpt-4o",
            "--fallback",
            "claude-haiku-4-5",
            "x",
        ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["provider"], "anthropic");
    assert_eq!(r["requested_model"], "claude-haiku-4-5");
    assert_eq!(r["attempts"], 3);
    assert_eq!(primary.hits(), 2);
    assert!(
        out.stderr.contains("falling back to claude-haiku-4-5"),
        "{}",
        out.stderr
    );

    // a missing key for the fallback matters only when the fallback is reached
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", &primary.url)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .args([
            "complete",
            "--retries",
            "0",
            "-m",
            "gpt-4o",
            "--fallback",
            "claude-haiku-4-5",
            "x",
        ]))
    .expect(3);
    assert!(out.stderr.contains("ANTHROPIC_API_KEY"));

    // a non-transient error (400) does not fall back
    let bad = Mock::start(vec![mock::openai_error(
        400,
        "invalid_request_error",
        None,
        "bad",
    )]);
    run(base(dir.path())
        .env("OPENAI_BASE_URL", &bad.url)
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("ANTHROPIC_BASE_URL", &secondary.url)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args([
            "complete",
            "-m",
            "gpt-4o",
            "--fallback",
            "claude-haiku-4-5",
            "x",
        ]))
    .expect(4);
    assert_eq!(secondary.hits(), 1);
}

#[test]
fn ctrl_c_exits_130_promptly_and_ends_the_partial_line() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tmp();
    let slow = mock::with_delay(
        mock::openai_stream(&["a", "b", "c", "d", "e", "f"]),
        Duration::from_millis(500),
    );
    let mock = Mock::start(vec![slow]);
    let mut cmd = crate::openai_std(dir.path(), &mock);
    let mut child = cmd
        .args(["stream", "x"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    let sent = Instant::now();
    // the shell's built-in kill: no dependency on procps
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_millis(400),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(format!("{}{rest}", first[0] as char), "a\n");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
}

#[test]
fn connection_refused_is_retried_then_exit_5() {
    let dir = tmp();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let out = run(base(dir.path())
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .args([
            "complete",
            "--json",
            "-v",
            "--retries",
            "2",
            "-m",
            "claude-haiku-4-5",
            "x",
        ]))
    .expect(5);
    assert_eq!(out.json()["error"]["type"], "unavailable");
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("retry ").count(), 2, "{}", out.stderr);
}

#[test]
fn backoff_waits_grow_between_attempts() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_error(
        529,
        "overloaded_error",
        "Overloaded",
    )]);
    let started = Instant::now();
    run(anthropic(dir.path(), &mock)
        .env("LLMPIPE_RETRY_BASE_MS", "100")
        .args(["complete", "--retries", "3", "-m", "claude-haiku-4-5", "x"]))
    .expect(5);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 4);
    let gaps: Vec<Duration> = reqs.windows(2).map(|w| w[1].at - w[0].at).collect();
    // 100, 200, 400 ms, each shortened by at most 25 % of jitter
    for (gap, full) in gaps.iter().zip([100u64, 200, 400]) {
        assert!(
            *gap >= Duration::from_millis(full * 3 / 4)
                && *gap < Duration::from_millis(full + 1000),
            "{gaps:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn retry_after_as_an_http_date_and_on_anthropic_429() {
    let dir = tmp();
    // an HTTP date has one-second resolution: 2 s ahead is at least 1 s ahead once rounded
    let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let limited = mock::full(
        429,
        &[
            ("retry-after", when.as_str()),
            ("content-type", "application/json"),
        ],
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
    );
    let mock = Mock::start(vec![limited, mock::anthropic_message("ok")]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "--json",
        "-m",
        "claude-haiku-4-5",
        "x",
    ]))
    .expect(0);
    assert_eq!(out.json()["attempts"], 2);
    let reqs = mock.requests();
    // an HTTP date has one-second resolution: the wait is up to 1 s, never a backoff of 5 ms
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(50),
        "{:?}",
        reqs[1].at - reqs[0].at
    );
}

#[test]
fn statuses_408_and_409_are_retried() {
    let dir = tmp();
    for status in [408, 409] {
        let mock = Mock::start(vec![
            mock::openai_error(status, "server_error", None, "try again"),
            mock::openai_completion("ok"),
        ]);
        let out = run(openai(dir.path(), &mock).args(["complete", "x"])).expect(0);
        assert_eq!(out.stdout, "ok\n");
        assert_eq!(mock.hits(), 2);
    }
}

#[test]
fn ctrl_c_during_a_backoff_wait_exits_130_at_once() {
    use std::process::Stdio;
    let dir = tmp();
    let limited = mock::full(
        429,
        &[("retry-after", "30")],
        r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
    );
    let mock = Mock::start(vec![limited]);
    let mut cmd = crate::openai_std(dir.path(), &mock);
    let child = cmd
        .args(["complete", "--json", "x"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.hits() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let sent = Instant::now();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert_eq!(out.status.code(), Some(130));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["type"], "interrupted");
    assert_eq!(v["error"]["exit_code"], 130);
    assert_eq!(mock.hits(), 1);
}
