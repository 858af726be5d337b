//! Every HTTP error, bad body and broken stream maps to the SPEC's exit code and carries
//! the provider's own message.

use serde_json::json;

use crate::mock::{self, Mock};
use crate::{anthropic, openai, run, tmp};

#[test]
fn openai_statuses_map_to_exit_codes_with_the_providers_message() {
    let dir = tmp();
    // (status, type, code, exit, attempts with --retries 2)
    let cases = [
        (
            400,
            "invalid_request_error",
            Some("unsupported_parameter"),
            4,
            1,
        ),
        (401, "invalid_request_error", Some("invalid_api_key"), 3, 1),
        (403, "permission_error", None, 3, 1),
        (404, "invalid_request_error", Some("model_not_found"), 4, 1),
        (413, "invalid_request_error", None, 4, 1),
        (422, "invalid_request_error", None, 4, 1),
        (429, "requests", Some("rate_limit_exceeded"), 5, 3),
        (429, "insufficient_quota", Some("insufficient_quota"), 3, 1),
        (500, "server_error", None, 5, 3),
        (503, "server_error", None, 5, 3),
    ];
    for (status, ty, code, exit, attempts) in cases {
        let msg = format!("message for {status} {ty}");
        let mock = Mock::start(vec![mock::openai_error(status, ty, code, &msg)]);
        let out =
            run(openai(dir.path(), &mock).args(["complete", "--retries", "2", "--json", "x"]))
                .expect(exit);
        assert!(
            out.stderr.contains(&format!("openai {status} {ty}: {msg}")),
            "{status}: {}",
            out.stderr
        );
        assert_eq!(mock.hits(), attempts, "attempts for {status} {ty}");
        let e = &out.json()["error"];
        assert_eq!(e["status"], status);
        assert_eq!(e["provider"], "openai");
        assert_eq!(e["exit_code"], exit);
        assert_eq!(e["request_id"], "req_openai_err");
        assert!(e["message"].as_str().unwrap().contains(&msg));
    }
}

#[test]
fn anthropic_statuses_map_to_exit_codes_with_the_providers_message() {
    let dir = tmp();
    let cases = [
        (400, "invalid_request_error", 4, 1, "rejected"),
        (401, "authentication_error", 3, 1, "auth"),
        (403, "permission_error", 3, 1, "auth"),
        (404, "not_found_error", 4, 1, "rejected"),
        (413, "request_too_large", 4, 1, "rejected"),
        (429, "rate_limit_error", 5, 2, "rate_limited"),
        (500, "api_error", 5, 2, "unavailable"),
        (529, "overloaded_error", 5, 2, "unavailable"),
    ];
    for (status, ty, exit, attempts, json_type) in cases {
        let mock = Mock::start(vec![mock::anthropic_error(
            status,
            ty,
            "max_tokens: too big",
        )]);
        let out = run(anthropic(dir.path(), &mock).args([
            "complete",
            "--retries",
            "1",
            "-m",
            "claude-haiku-4-5",
            "--json",
            "x",
        ]))
        .expect(exit);
        assert!(
            out.stderr.contains(&format!(
                "error: anthropic {status} {ty}: max_tokens: too big"
            )),
            "{}",
            out.stderr
        );
        assert_eq!(mock.hits(), attempts, "attempts for {status}");
        let e = &out.json()["error"];
        assert_eq!(e["type"], json_type);
        assert_eq!(e["request_id"], "req_011CSHoEeqs5C35K2UUqR7Fy");
    }
}

#[test]
fn non_json_error_bodies_never_panic() {
    let dir = tmp();
    let cases = [
        mock::full(
            502,
            &[("content-type", "text/html")],
            "<html><body>Bad Gateway</body></html>",
        ),
        mock::full(
            413,
            &[("content-type", "text/plain")],
            "request entity too large",
        ),
        mock::full(500, &[], ""),
        mock::full(
            400,
            &[("content-type", "application/json")],
            "{\"unexpected\": [1,2]}",
        ),
    ];
    let expect = [
        (5, "HTML"),
        (4, "request entity too large"),
        (5, "empty response body"),
        (4, "unexpected"),
    ];
    for (reply, (exit, needle)) in cases.into_iter().zip(expect) {
        let mock = Mock::start(vec![reply]);
        let out =
            run(openai(dir.path(), &mock).args(["complete", "--retries", "0", "x"])).expect(exit);
        assert!(out.stderr.contains(needle), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"));
    }
}

#[test]
fn a_2xx_body_of_the_wrong_shape_is_retried_then_exit_5() {
    let dir = tmp();
    for body in [
        "<html>oops</html>",
        "",
        "{\"choices\": 5}",
        "[]",
        "{\"id\":\"x\"}",
    ] {
        let mock = Mock::start(vec![mock::full(
            200,
            &[("content-type", "application/json")],
            body,
        )]);
        let out =
            run(openai(dir.path(), &mock).args(["complete", "--retries", "1", "--json", "x"]))
                .expect(5);
        assert_eq!(mock.hits(), 2, "body {body:?}");
        assert_eq!(out.json()["error"]["type"], "unavailable");
        assert!(out.stderr.contains("not its API's JSON"), "{}", out.stderr);
    }
    let mock = Mock::start(vec![mock::full(200, &[], "{\"content\": 1}")]);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "--retries",
        "0",
        "-m",
        "claude-haiku-4-5",
        "x",
    ]))
    .expect(5);
}

#[test]
fn a_stream_without_its_terminator_is_an_error_not_a_success() {
    let dir = tmp();
    // text was printed, then the stream ended cleanly but without [DONE] / message_stop
    let mock = Mock::start(vec![mock::without_last(
        mock::openai_stream(&["partial"]),
        1,
    )]);
    let out = run(openai(dir.path(), &mock).args(["stream", "x"])).expect(5);
    assert_eq!(out.stdout, "partial\n");
    assert!(
        out.stderr.contains("[DONE]") && out.stderr.contains("partial"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 1, "printed text is never re-sent");

    let mock = Mock::start(vec![mock::without_last(
        mock::anthropic_stream(&["partial"]),
        1,
    )]);
    let out =
        run(anthropic(dir.path(), &mock).args(["stream", "--json", "-m", "claude-haiku-4-5", "x"]))
            .expect(5);
    let lines = out.lines();
    assert_eq!(lines[0], json!({"type": "delta", "text": "partial"}));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["error"]["exit_code"], 5);
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message_stop")
    );

    // the connection dropped mid-chunk (no terminating chunk)
    let mock = Mock::start(vec![mock::with_cut(mock::without_last(
        mock::openai_stream(&["abc"]),
        3,
    ))]);
    let out = run(openai(dir.path(), &mock).args(["stream", "x"])).expect(5);
    assert_eq!(out.stdout, "abc\n");
}

#[test]
fn complete_over_a_cut_stream_is_never_treated_as_success() {
    // The same fault through `complete`: a body cut before its end is an unusable body.
    let dir = tmp();
    let mock = Mock::start(vec![mock::full(
        200,
        &[("content-type", "application/json")],
        "{\"id\":\"chatcmpl-1\",\"choices\":[{\"message\":{\"content\":\"hal",
    )]);
    run(openai(dir.path(), &mock).args(["complete", "--retries", "0", "x"])).expect(5);
}

#[test]
fn mid_stream_error_events_carry_the_providers_message() {
    let dir = tmp();
    // Anthropic: an error event after some text
    let reply = mock::insert_event(
        mock::anthropic_stream(&["Hello", " world"]),
        4,
        mock::anthropic_error_event("overloaded_error", "Overloaded"),
    );
    let mock = Mock::start(vec![reply]);
    let out =
        run(anthropic(dir.path(), &mock).args(["stream", "-m", "claude-haiku-4-5", "x"])).expect(5);
    assert_eq!(out.stdout, "Hello\n");
    assert!(
        out.stderr
            .contains("anthropic stream error overloaded_error: Overloaded"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 1);

    // OpenAI: `data: {"error": …}` after some text
    let reply = mock::insert_event(
        mock::openai_stream(&["Hello", " world"]),
        2,
        "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n".into(),
    );
    let mock = Mock::start(vec![reply]);
    let out = run(openai(dir.path(), &mock).args(["stream", "--json", "x"])).expect(5);
    assert!(
        out.stderr.contains("The server had an error"),
        "{}",
        out.stderr
    );
    assert_eq!(out.lines().last().unwrap()["error"]["type"], "unavailable");
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    use std::io::Read;
    use std::process::Stdio;
    let big: Vec<String> = (0..300)
        .map(|i| format!("{i:04}{}", "x".repeat(1000)))
        .collect();
    let deltas: Vec<&str> = big.iter().map(String::as_str).collect();
    let dir = tmp();
    for command in ["stream", "complete"] {
        let reply = if command == "stream" {
            mock::openai_stream(&deltas)
        } else {
            mock::openai_completion(&big.concat())
        };
        let mock = Mock::start(vec![reply]);
        let mut cmd = crate::openai_std(dir.path(), &mock);
        let mut child = cmd
            .args([command, "x"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 10];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout); // like `| head -c 10`
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{command}: {stderr}");
        assert!(stderr.is_empty(), "{command}: {stderr}");
    }
}

/// vLLM answers an HTTP error with its fields at the top level; its message is shown, for a
/// reply and a stream alike, with the exit code of the status.
#[test]
fn a_vllm_error_body_shows_its_message() {
    let dir = tmp();
    let body = json!({"object": "error", "message": "This model's maximum context length is 4096 tokens", "type": "BadRequestError", "param": null, "code": 400});
    for command in ["complete", "stream"] {
        let mock = Mock::start(vec![mock::full(
            400,
            &[("content-type", "application/json")],
            body.to_string(),
        )]);
        let out = run(openai(dir.path(), &mock).args([command, "x"])).expect(4);
        assert!(
            out.stderr
                .contains("openai 400 BadRequestError: This model's maximum context length"),
            "{command}: {}",
            out.stderr
        );
    }
}
