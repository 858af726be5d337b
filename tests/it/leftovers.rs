//! Leftovers: in-stream errors of OpenAI-compatible servers, batch input with no valid
//! line, a batch whose results file cannot be read, a hand-placed price file.

use crate::mock::{self, Mock};
use crate::{openai, run, tmp};

// ---- 1. errors inside an OpenAI-compatible stream ----

/// vLLM's error payload: the fields at the top level, the HTTP status as a number.
fn vllm_error(ty: &str, code: u16, message: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"object": "error", "message": message, "type": ty, "param": null, "code": code})
    )
}

/// What vLLM sends when a request fails once the stream has started: the error, then
/// `[DONE]`.
fn vllm_failed_stream(ty: &str, code: u16, message: &str) -> mock::Reply {
    mock::sse(
        vec![vllm_error(ty, code, message), "data: [DONE]\n\n".into()],
        &[],
    )
}

#[test]
fn a_vllm_error_event_before_any_text_is_the_streams_error() {
    let dir = tmp();
    // 400 BadRequestError: rejected (exit 4), never retried.
    let mock = Mock::start(vec![vllm_failed_stream(
        "BadRequestError",
        400,
        "This model's maximum context length is 4096 tokens",
    )]);
    let out =
        run(openai(dir.path(), &mock).args(["stream", "--json", "-m", "local", "x"])).expect(4);
    assert!(
        out.stderr.contains("openai")
            && out
                .stderr
                .contains("This model's maximum context length is 4096 tokens"),
        "{}",
        out.stderr
    );
    let last = out.lines().last().cloned().unwrap();
    assert_eq!(last["error"]["type"], "rejected", "{}", out.stdout);
    assert_eq!(last["error"]["exit_code"], 4);
    assert_eq!(mock.hits(), 1);

    // A 5xx before anything was printed is retried, and the retry can succeed.
    let mock = Mock::start(vec![
        vllm_failed_stream("InternalServerError", 500, "engine died"),
        mock::openai_stream(&["Hello"]),
    ]);
    let out = run(openai(dir.path(), &mock).args(["stream", "-m", "local", "x"])).expect(0);
    assert_eq!(out.stdout, "Hello\n");
    assert_eq!(mock.hits(), 2);

    // 429: rate limited.
    let mock = Mock::start(vec![vllm_failed_stream("RateLimitError", 429, "slow down")]);
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "--retries",
        "0",
        "-m",
        "local",
        "x",
    ]))
    .expect(5);
    assert_eq!(out.lines().last().unwrap()["error"]["type"], "rate_limited");
}

#[test]
fn a_vllm_error_event_after_text_keeps_the_text_and_exits_5() {
    let dir = tmp();
    let reply = mock::insert_event(
        mock::openai_stream(&["Hello", " world"]),
        2,
        vllm_error("BadRequestError", 400, "stop sequence overflow"),
    );
    let mock = Mock::start(vec![reply]);
    let out = run(openai(dir.path(), &mock).args(["stream", "-m", "local", "x"])).expect(5);
    assert_eq!(out.stdout, "Hello\n");
    assert!(
        out.stderr.contains("stop sequence overflow"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("partial"), "{}", out.stderr);
    assert_eq!(mock.hits(), 1);
}

#[test]
fn an_openai_style_error_event_with_an_http_code_maps_by_that_code() {
    let dir = tmp();
    let event = |body: &str| {
        mock::sse(
            vec![format!("data: {body}\n\n"), "data: [DONE]\n\n".into()],
            &[],
        )
    };
    // LiteLLM: the exception's class name as the type, the status as the code.
    let mock = Mock::start(vec![event(
        r#"{"error":{"message":"litellm.BadRequestError: bad tool schema","type":"BadRequestError","param":null,"code":400}}"#,
    )]);
    let out = run(openai(dir.path(), &mock).args(["stream", "--json", "-m", "gw", "x"])).expect(4);
    assert!(out.stderr.contains("bad tool schema"), "{}", out.stderr);
    assert_eq!(out.lines().last().unwrap()["error"]["type"], "rejected");
    assert_eq!(mock.hits(), 1);
    // LiteLLM's rate limit: `"type":"None"` and the code as a string.
    let mock = Mock::start(vec![event(
        r#"{"error":{"message":"Rate limit exceeded","type":"None","param":"None","code":"429"}}"#,
    )]);
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "--retries",
        "1",
        "-m",
        "gw",
        "x",
    ]))
    .expect(5);
    assert_eq!(out.lines().last().unwrap()["error"]["type"], "rate_limited");
    assert_eq!(mock.hits(), 2, "a rate limit before any text is retried");
    // OpenRouter: a code and a message only.
    let mock = Mock::start(vec![event(
        r#"{"error":{"code":502,"message":"Provider returned error"}}"#,
    )]);
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "--retries",
        "0",
        "-m",
        "gw",
        "x",
    ]))
    .expect(5);
    assert_eq!(out.lines().last().unwrap()["error"]["type"], "unavailable");
    assert!(
        out.stderr.contains("Provider returned error"),
        "{}",
        out.stderr
    );
}

// ---- 2. batch submit with no valid line ----

#[test]
fn batch_submit_with_no_valid_line_sends_nothing_and_exits_2() {
    let dir = tmp();
    let fake = crate::batch_mock::BatchApi::start(crate::batch_mock::Config::default());
    let input = "not json\n[1, 2]\n{\"input\": \"cut\n";
    for json in [false, true] {
        let mut cmd = openai(dir.path(), &fake.mock);
        cmd.args([
            "batch",
            "submit",
            "-m",
            "gpt-4o-mini",
            "--line-format",
            "jsonl",
        ]);
        if json {
            cmd.arg("--json");
        }
        let out = run(cmd.write_stdin(input)).expect(2);
        // every line's error is on stdout, as the error line a live run writes
        let lines = out.lines();
        assert_eq!(lines.len(), 3, "{}", out.stdout);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i);
            assert_eq!(l["error"]["type"], "usage", "{l}");
        }
        assert!(
            out.stderr.contains("3 invalid") && out.stderr.contains("nothing was submitted"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("stdout"), "{}", out.stderr);
    }
    assert_eq!(fake.mock.hits(), 0, "nothing is sent");
    // and no job was recorded
    let out = run(openai(dir.path(), &fake.mock).args(["batch", "list", "--json"])).expect(0);
    assert!(!out.stdout.contains("lpb_"), "{}", out.stdout);
}

#[test]
fn batch_submit_with_some_valid_lines_still_submits_them() {
    let dir = tmp();
    let fake = crate::batch_mock::BatchApi::start(crate::batch_mock::Config::default());
    let out = run(openai(dir.path(), &fake.mock)
        .args([
            "batch",
            "submit",
            "--json",
            "-m",
            "gpt-4o-mini",
            "--line-format",
            "jsonl",
        ])
        .write_stdin("not json\n{\"input\": \"fine\"}\n"))
    .expect(0);
    assert_eq!(out.json()["items"], 2);
    assert_eq!(fake.batches()[0].requests.len(), 1);
}
