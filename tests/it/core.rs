//! complete and stream, whole and streamed, for both providers: what is sent, what is printed.

use serde_json::json;

use crate::mock::{self, Mock};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, anthropic, openai, run, tmp};

#[test]
fn openai_complete_sends_the_documented_request_and_prints_the_text() {
    let mock = Mock::start(vec![mock::openai_completion("Hello there!")]);
    let dir = tmp();
    let out = run(openai(dir.path(), &mock)
        .args([
            "complete",
            "-m",
            "gpt-4o-mini",
            "-s",
            "Be terse.",
            "-t",
            "0.2",
            "Write:",
        ])
        .write_stdin("piped text\n"))
    .expect(0);
    assert_eq!(out.stdout, "Hello there!\n");
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(
        body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Write:\n\npiped text\n"}
            ],
            "max_completion_tokens": 1024,
            "temperature": 0.2
        })
    );
}

#[test]
fn anthropic_complete_puts_system_top_level_and_always_sends_max_tokens() {
    let mock = Mock::start(vec![mock::anthropic_message("Bonjour")]);
    let dir = tmp();
    let out = run(anthropic(dir.path(), &mock)
        .args([
            "complete",
            "-m",
            "claude-sonnet-4-5",
            "-s",
            "Be terse.",
            "--max-tokens",
            "77",
        ])
        .args(["--stop", "END", "hi", "there"]))
    .expect(0);
    assert_eq!(out.stdout, "Bonjour\n");
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert!(req.header("authorization").is_none());
    assert_eq!(
        req.json(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 77,
            "messages": [{"role": "user", "content": "hi there"}],
            "system": "Be terse.",
            "stop_sequences": ["END"]
        })
    );
}

#[test]
fn complete_json_result_object_for_each_provider() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "4o-mini", "x"])).expect(0);
    let r = out.json();
    assert_eq!(r["provider"], "openai");
    assert_eq!(r["model"], mock::OPENAI_MODEL_REPORTED);
    assert_eq!(r["requested_model"], "gpt-4o-mini");
    assert_eq!(r["text"], "ok");
    assert_eq!(r["finish_reason"], "stop");
    assert_eq!(r["provider_finish_reason"], "stop");
    assert_eq!(
        r["usage"],
        json!({"input_tokens": 19, "output_tokens": 10, "cached_input_tokens": 0,
               "cache_write_input_tokens": 0, "reasoning_tokens": 0})
    );
    // gpt-4o-mini: 19 * 0.15 + 10 * 0.60 per million
    assert_eq!(r["cost_usd"], json!(0.00000885));
    assert_eq!(r["request_id"], "req_openai_123");
    assert_eq!(r["attempts"], 1);
    assert!(r["latency_ms"].is_u64());
    assert!(r["prompt"].is_null());

    let mock = Mock::start(vec![mock::anthropic_message("ok")]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "--json",
        "-m",
        "claude-sonnet-4-5",
        "x",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["provider"], "anthropic");
    assert_eq!(r["model"], mock::ANTHROPIC_MODEL_REPORTED);
    assert_eq!(r["requested_model"], "claude-sonnet-4-5");
    assert_eq!(r["finish_reason"], "stop");
    assert_eq!(r["provider_finish_reason"], "end_turn");
    assert_eq!(r["usage"]["input_tokens"], 412);
    assert!(r["usage"].get("reasoning_tokens").is_none());
    assert_eq!(r["cost_usd"], json!(0.002091)); // 412*3 + 57*15 per million
    assert_eq!(r["request_id"], "req_018EeWyXxfu5pfWkrYcMdjWG");
}

#[test]
fn openai_stream_plain_prints_deltas_and_asks_for_usage() {
    let mock = Mock::start(vec![mock::openai_stream(&["Hel", "lo", " wörld"])]);
    let dir = tmp();
    let out = run(openai(dir.path(), &mock).args(["stream", "say hi"])).expect(0);
    assert_eq!(out.stdout, "Hello wörld\n");
    let body = mock.only_request().json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_completion_tokens"], 1024);
}

#[test]
fn stream_json_is_delta_lines_then_the_result() {
    let dir = tmp();
    for provider in ["openai", "anthropic"] {
        let (reply, model) = if provider == "openai" {
            (mock::openai_stream(&["a", "b"]), "gpt-4o-mini")
        } else {
            (mock::anthropic_stream(&["a", "b"]), "claude-haiku-4-5")
        };
        let mock = Mock::start(vec![reply]);
        let mut cmd = if provider == "openai" {
            openai(dir.path(), &mock)
        } else {
            anthropic(dir.path(), &mock)
        };
        let out = run(cmd.args(["stream", "--json", "-m", model, "x"])).expect(0);
        let lines = out.lines();
        assert_eq!(lines.len(), 3, "{}", out.stdout);
        assert_eq!(lines[0], json!({"type": "delta", "text": "a"}));
        assert_eq!(lines[1], json!({"type": "delta", "text": "b"}));
        let r = &lines[2];
        assert_eq!(r["type"], "result");
        assert_eq!(r["provider"], provider);
        assert_eq!(r["text"], "ab");
        assert_eq!(r["finish_reason"], "stop");
        assert!(r["usage"]["output_tokens"].as_u64().unwrap() > 0);
        assert!(r["cost_usd"].is_number());
        assert!(r["request_id"].as_str().unwrap().contains("stream"));
    }
}

#[test]
fn anthropic_stream_survives_every_chunking() {
    let dir = tmp();
    let deltas = ["Hé", "llo ", "😀", " done"];
    for size in [1, 2, 3, 5, 7, 64, 4096] {
        let mock = Mock::start(vec![mock::rechunk(mock::anthropic_stream(&deltas), size)]);
        let out = run(anthropic(dir.path(), &mock).args(["stream", "-m", "claude-haiku-4-5", "x"]))
            .expect(0);
        assert_eq!(out.stdout, "Héllo 😀 done\n", "chunk size {size}");
        assert_eq!(mock.only_request().json()["stream"], true);
    }
}

#[test]
fn openai_stream_survives_one_byte_chunks_and_crlf() {
    let dir = tmp();
    let crlf = match mock::openai_stream(&["x", "ÿ", "z"]) {
        mock::Reply::Sse {
            headers,
            pieces,
            delay,
            cut,
        } => mock::Reply::Sse {
            headers,
            pieces: pieces
                .into_iter()
                .map(|p| {
                    String::from_utf8(p)
                        .unwrap()
                        .replace('\n', "\r\n")
                        .into_bytes()
                })
                .collect(),
            delay,
            cut,
        },
        other => other,
    };
    let mock = Mock::start(vec![mock::rechunk(crlf, 1)]);
    let out = run(openai(dir.path(), &mock).args(["stream", "x"])).expect(0);
    assert_eq!(out.stdout, "xÿz\n");
}

#[test]
fn stream_prints_each_delta_before_the_stream_ends() {
    // The server waits 300 ms between events; the first delta must be on stdout long
    // before the last one is sent.
    use std::io::Read;
    use std::process::Stdio;
    let mock = Mock::start(vec![mock::with_delay(
        mock::openai_stream(&["first", "second", "third"]),
        std::time::Duration::from_millis(300),
    )]);
    let dir = tmp();
    let mut cmd = crate::openai_std(dir.path(), &mock);
    let mut child = cmd
        .args(["stream", "x"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 5];
    stdout.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"first");
    let first_at = started.elapsed();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let total = started.elapsed();
    assert!(child.wait().unwrap().success());
    assert_eq!(rest, "secondthird\n");
    assert!(
        total - first_at >= std::time::Duration::from_millis(600),
        "first delta at {first_at:?}, end at {total:?}"
    );
}

#[test]
fn images_go_in_each_providers_own_format() {
    let dir = tmp();
    let png = dir.path().join("pixel.bin");
    let bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::fs::write(&png, bytes).unwrap();
    let b64 = "iVBORw0KGgoAAAANSUhEUg==";

    let mock = Mock::start(vec![mock::openai_completion("a pixel")]);
    run(openai(dir.path(), &mock)
        .args(["complete", "--image"])
        .arg(&png)
        .args(["--image", "https://example.com/a.jpg", "What is this?"]))
    .expect(0);
    assert_eq!(
        mock.only_request().json()["messages"][0]["content"],
        json!([
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{b64}")}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            {"type": "text", "text": "What is this?"}
        ])
    );

    let mock = Mock::start(vec![mock::anthropic_message("a pixel")]);
    run(anthropic(dir.path(), &mock)
        .args(["complete", "-m", "claude-haiku-4-5", "--image"])
        .arg(&png)
        .args(["--image", "https://example.com/a.jpg", "What is this?"]))
    .expect(0);
    assert_eq!(
        mock.only_request().json()["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "text", "text": "What is this?"}
        ])
    );
}

#[test]
fn an_unsupported_or_missing_image_is_a_usage_error() {
    let dir = tmp();
    let pdf = dir.path().join("doc.png");
    std::fs::write(&pdf, b"%PDF-1.7 not an image").unwrap();
    let mock = Mock::start(vec![mock::openai_completion("x")]);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--image"])
        .arg(&pdf)
        .arg("hi"))
    .expect(2);
    assert!(
        out.stderr.contains("not a PNG, JPEG, GIF or WebP"),
        "{}",
        out.stderr
    );
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--image", "nope.png", "hi"])).expect(2);
    assert!(
        out.stderr.contains("cannot read image nope.png"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 0);
}

#[test]
fn refusal_and_empty_answers_exit_6_with_the_paid_result() {
    let dir = tmp();
    let refusal = mock::full(
        200,
        &[("content-type", "application/json")],
        json!({"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
               "refusal": "I can't help with that."}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 6}})
        .to_string(),
    );
    let mock = Mock::start(vec![refusal]);
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "gpt-4o", "x"])).expect(6);
    let r = out.json();
    assert_eq!(r["finish_reason"], "refusal");
    assert_eq!(r["usage"]["output_tokens"], 6);
    assert_eq!(r["error"]["type"], "unusable_answer");
    assert_eq!(r["error"]["exit_code"], 6);
    assert!(out.stderr.contains("I can't help with that."));

    // a reasoning model that spent the whole budget thinking
    let thinking = mock::full(
        200,
        &[("content-type", "application/json")],
        json!({"model": "gpt-5-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
               "finish_reason": "length"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 64,
                         "completion_tokens_details": {"reasoning_tokens": 64}}})
        .to_string(),
    );
    let mock = Mock::start(vec![thinking]);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-5-mini",
        "--max-tokens",
        "64",
        "x",
    ]))
    .expect(6);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("all 64 output tokens (64 of them on reasoning)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--max-tokens"));
}

#[test]
fn unknown_model_has_null_cost_and_a_warning() {
    let dir = tmp();
    let body = json!({"model": "llama3.2", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                      "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}});
    let mock = Mock::start(vec![mock::full(200, &[], body.to_string())]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "llama3.2", "x"]))
        .expect(0);
    assert!(out.json()["cost_usd"].is_null());
    assert!(out.stderr.contains("no price known for model llama3.2"));
}

#[test]
fn anthropic_complete_with_a_large_cap_streams_under_the_hood() {
    // The SDKs refuse non-streaming calls above ~21,333 output tokens; llmpipe streams and
    // collects instead, so `complete` still prints the whole reply once.
    let mock = Mock::start(vec![mock::anthropic_stream(&["long ", "answer"])]);
    let dir = tmp();
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "--json",
        "-m",
        "claude-sonnet-4-5",
        "--max-tokens",
        "32000",
        "x",
    ]))
    .expect(0);
    assert_eq!(out.json()["text"], "long answer");
    let body = mock.only_request().json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 32000);
}

#[test]
fn a_server_that_ignores_stream_true_still_streams_its_answer() {
    // Some OpenAI-compatible servers answer `stream: true` with one JSON completion.
    let mock = Mock::start(vec![mock::openai_completion("whole answer")]);
    let dir = tmp();
    let out = run(openai(dir.path(), &mock).args(["stream", "--json", "x"])).expect(0);
    let lines = out.lines();
    assert_eq!(lines[0], json!({"type": "delta", "text": "whole answer"}));
    assert_eq!(lines[1]["usage"]["output_tokens"], 10);
}
