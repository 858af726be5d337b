//! One request loop: the token count (`count-tokens --exact`, `estimate-cost --exact`) goes
//! through the same attempts and the same HTTP exchange as a completion, so every fault is
//! met the same way: retries, server waits, the 60 s cap, `x-should-retry`, timeouts,
//! redirects, `-v` diagnostics.

use std::time::{Duration, Instant};

use crate::mock::{self, Mock, Reply};
use crate::{Out, anthropic, run, tmp};

const MODEL: &str = "claude-haiku-4-5";

/// Runs the same fault script once as a completion and once as a token count (the last
/// reply of each script is that call's success) and returns both runs with their mocks.
fn both(faults: Vec<Reply>, extra: &[&str]) -> [(Out, Mock, Duration); 2] {
    let dir = tmp();
    let complete = |mock: &Mock| {
        let mut cmd = anthropic(dir.path(), mock);
        cmd.args(["complete", "-m", MODEL]).args(extra).arg("x");
        cmd
    };
    let count = |mock: &Mock| {
        let mut cmd = anthropic(dir.path(), mock);
        cmd.args(["count-tokens", "--exact", "-m", MODEL])
            .args(extra)
            .arg("x");
        cmd
    };
    let one = |last: Reply, build: &dyn Fn(&Mock) -> assert_cmd::Command| {
        let mut script = faults.clone();
        script.push(last);
        let mock = Mock::start(script);
        let started = Instant::now();
        let out = run(&mut build(&mock));
        (out, mock, started.elapsed())
    };
    [
        one(mock::anthropic_message("ok"), &complete),
        one(mock::anthropic_count_tokens(7), &count),
    ]
}

fn overloaded(headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    mock::full(
        529,
        &all,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    )
}

#[test]
fn the_token_count_honours_retry_after_like_a_completion() {
    let runs = both(vec![overloaded(&[("retry-after-ms", "300")])], &[]);
    for (i, (out, mock, _)) in runs.into_iter().enumerate() {
        let out = out.expect(0);
        if i == 1 {
            assert_eq!(out.stdout, "7\n");
        }
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 2, "run {i}");
        let gap = reqs[1].at - reqs[0].at;
        assert!(
            gap >= Duration::from_millis(300) && gap < Duration::from_secs(5),
            "run {i}: {gap:?}"
        );
    }
}

#[test]
fn the_token_count_stops_at_a_server_wait_above_the_cap_like_a_completion() {
    let runs = both(vec![overloaded(&[("retry-after", "120")])], &[]);
    for (i, (out, mock, took)) in runs.into_iter().enumerate() {
        let out = out.expect(5);
        assert_eq!(mock.hits(), 1, "run {i}");
        assert!(took < Duration::from_secs(5), "run {i}: {took:?}");
        assert!(
            out.stderr.contains("asked to wait 120 s")
                && out.stderr.contains("more than the 60 s llmpipe waits"),
            "run {i}: {}",
            out.stderr
        );
    }
}

#[test]
fn the_token_count_obeys_x_should_retry_like_a_completion() {
    for (i, (out, mock, _)) in both(vec![overloaded(&[("x-should-retry", "false")])], &[])
        .into_iter()
        .enumerate()
    {
        out.expect(5);
        assert_eq!(mock.hits(), 1, "run {i}: x-should-retry: false");
    }
    let bad = mock::full(
        400,
        &[("x-should-retry", "true")],
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"try again"}}"#,
    );
    for (i, (out, mock, _)) in both(vec![bad], &[]).into_iter().enumerate() {
        out.expect(0);
        assert_eq!(mock.hits(), 2, "run {i}: x-should-retry: true");
    }
}

#[test]
fn a_rate_limit_on_the_token_count_is_retried_and_announced_with_v() {
    let limited = mock::full(
        429,
        &[
            ("retry-after-ms", "50"),
            ("content-type", "application/json"),
        ],
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}"#,
    );
    for (i, (out, mock, _)) in both(vec![limited], &["-v"]).into_iter().enumerate() {
        let out = out.expect(0);
        assert_eq!(mock.hits(), 2, "run {i}");
        assert!(
            out.stderr
                .contains("llmpipe: retry 1/3 in 0.05 s after: anthropic 429"),
            "run {i}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_redirect_on_the_token_count_is_the_same_config_error_and_is_not_followed() {
    let elsewhere = Mock::start(vec![mock::anthropic_count_tokens(99)]);
    let location = format!("{}/v1/messages/count_tokens", elsewhere.url);
    let moved = mock::full(307, &[("location", location.as_str())], "");
    let runs = both(vec![moved], &["--json"]);
    let mut errors = Vec::new();
    for (i, (out, mock, _)) in runs.into_iter().enumerate() {
        let out = out.expect(3);
        assert_eq!(mock.hits(), 1, "run {i}: a redirect is not retried");
        assert!(
            out.stderr.contains("307 redirect to")
                && out.stderr.contains(&location)
                && out.stderr.contains("does not follow redirects"),
            "run {i}: {}",
            out.stderr
        );
        let v: serde_json::Value =
            serde_json::from_str(out.stdout.lines().last().unwrap_or("")).unwrap();
        assert_eq!(v["error"]["type"], "config", "run {i}");
        assert_eq!(v["error"]["status"], 307, "run {i}");
        errors.push(v["error"]["message"].clone());
    }
    assert_eq!(errors[0], errors[1]);
    assert_eq!(elsewhere.hits(), 0, "the redirect was followed");
}

#[test]
fn a_hung_token_count_times_out_per_attempt_and_says_what_it_waited_for() {
    let dir = tmp();
    let mock = Mock::start(vec![Reply::Hang(Duration::from_secs(5))]);
    let started = Instant::now();
    let out = run(anthropic(dir.path(), &mock).args([
        "count-tokens",
        "--json",
        "--exact",
        "--timeout",
        "0.3",
        "-m",
        MODEL,
        "x",
    ]))
    .expect(5);
    let took = started.elapsed();
    // the first attempt and the default 3 retries, each cut at the timeout
    assert_eq!(mock.hits(), 4);
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let v = out.json();
    assert_eq!(v["error"]["type"], "timeout");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after 0.3 s waiting for the token count"),
        "{v}"
    );
}

#[test]
fn v_shows_the_token_count_request_redacted_and_its_status() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_count_tokens(5)]);
    let out =
        run(anthropic(dir.path(), &mock).args(["count-tokens", "-v", "--exact", "-m", MODEL, "x"]))
            .expect(0);
    assert_eq!(out.stdout, "5\n");
    assert!(
        out.stderr.contains("> POST ")
            && out
                .stderr
                .contains("/v1/messages/count_tokens (anthropic, model claude-haiku-4-5")
            && out.stderr.contains("> x-api-key: [REDACTED]")
            && out.stderr.contains("< 200 in ")
            && out.stderr.contains("(request id req_count_tokens)"),
        "{}",
        out.stderr
    );
}

#[test]
fn estimate_cost_exact_counts_through_the_same_retries() {
    let dir = tmp();
    let mock = Mock::start(vec![
        overloaded(&[("retry-after-ms", "200")]),
        mock::anthropic_count_tokens(40),
    ]);
    let out = run(anthropic(dir.path(), &mock).args([
        "estimate-cost",
        "--json",
        "--exact",
        "-m",
        MODEL,
        "--output-tokens",
        "10",
        "text",
    ]))
    .expect(0);
    let v = out.json();
    assert_eq!(v["input_tokens"], 40);
    assert_eq!(v["input_method"], "anthropic_count_tokens");
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(200));
    assert!(reqs.iter().all(|r| r.path == "/v1/messages/count_tokens"));
}
