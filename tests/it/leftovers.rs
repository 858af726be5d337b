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

// ---- 3. a provider batch whose results cannot be downloaded ----

#[test]
fn batch_results_write_the_other_batches_when_one_results_file_fails() {
    use crate::batch_mock::{BatchApi, Config};
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let cmd = || {
            if anthropic_api {
                crate::anthropic(dir.path(), &fake.mock)
            } else {
                openai(dir.path(), &fake.mock)
            }
        };
        let model = if anthropic_api {
            "claude-sonnet-4-5"
        } else {
            "gpt-4o-mini"
        };
        let sub = run(cmd()
            .args([
                "batch",
                "submit",
                "--json",
                "--batch-size",
                "2",
                "-m",
                model,
            ])
            .write_stdin("a\nb\nc\nd\ne\n"))
        .expect(0);
        let id = sub.json()["id"].as_str().unwrap().to_string();
        let batches = fake.batches();
        assert_eq!(batches.len(), 3);
        // the middle batch's results file answers 500, every time
        let path = if anthropic_api {
            format!("/results-store/{}.jsonl", batches[1].id)
        } else {
            format!("/v1/files/file-out-{}/content", batches[1].id)
        };
        fake.state.lock().unwrap().broken.push((path, 500));
        let out = run(cmd().args(["batch", "results", "--retries", "1", &id])).expect(5);
        let lines = out.lines();
        assert_eq!(lines.len(), 5, "{}", out.stdout);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i);
            if i == 2 || i == 3 {
                assert_eq!(l["error"]["type"], "unavailable", "{l}");
                let m = l["error"]["message"].as_str().unwrap();
                assert!(m.contains(&batches[1].id) && m.contains("download"), "{m}");
            } else {
                assert_eq!(
                    l["text"],
                    format!("echo: {}", ["a", "b", "c", "d", "e"][i]),
                    "{l}"
                );
            }
        }
        assert!(
            out.stderr.contains(&batches[1].id) && out.stderr.contains("batch results"),
            "{}",
            out.stderr
        );
        // the status does not take the unread batch's items for errored ones
        let st = run(cmd().args(["batch", "status", "--json", &id])).expect(0);
        assert_eq!(st.json()["counts"]["errored"], 0, "{}", st.stdout);
        // once the file can be read, the same command writes everything
        fake.state.lock().unwrap().broken.clear();
        let out = run(cmd().args(["batch", "results", &id])).expect(0);
        let lines = out.lines();
        assert_eq!(lines.len(), 5);
        assert!(
            lines.iter().all(|l| l.get("error").is_none()),
            "{}",
            out.stdout
        );
        let total: f64 = lines.iter().map(|l| l["cost_usd"].as_f64().unwrap()).sum();
        // and each provider batch's spend is in the log once, the unread one whole
        let logs = run(cmd().args(["logs", "cost", "--json"])).expect(0);
        let v = logs.json();
        assert_eq!(v["total"]["calls"], 3, "{v}");
        let logged = v["total"]["cost_usd"].as_f64().unwrap();
        assert!((logged - total).abs() < 1e-9, "{v} vs {total}");
    }
}

// ---- 4. a price file placed by hand ----

/// The price file `models update` writes, written by hand instead.
fn place_price_file(dir: &std::path::Path, text: &str) {
    let file = dir.join(".local/share/llmpipe/prices.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// The bundled data with gpt-4o's `key` price set to `value`.
fn data_with_gpt4o(key: &str, value: serde_json::Value) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/genai-prices.json");
    let mut data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for p in data.as_array_mut().unwrap() {
        for m in p["models"].as_array_mut().unwrap() {
            if m["id"] == "gpt-4o" {
                m["prices"][key] = value.clone();
            }
        }
    }
    data.to_string()
}

/// gpt-4o in the bundled data: 2.5 in, 10 out per million tokens.
fn estimate_gpt4o(dir: &std::path::Path) -> crate::Out {
    run(crate::base(dir).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--max-tokens",
        "1000",
        "hello",
    ]))
}

#[test]
fn a_hand_placed_price_file_with_absurd_prices_is_not_used() {
    use serde_json::json;
    for (key, value) in [
        ("input_mtok", json!(-2.5)),
        ("output_mtok", json!(-10)),
        ("input_mtok", json!(1e308)),
        ("output_mtok", json!(1e300)),
        ("input_mtok", json!("NaN")),
        (
            "input_mtok",
            json!({"base": 2.5, "tiers": [{"start": 1, "price": -1}]}),
        ),
    ] {
        let dir = tmp();
        place_price_file(dir.path(), &data_with_gpt4o(key, value.clone()));
        let out = estimate_gpt4o(dir.path()).expect(0);
        let v = out.json();
        assert_eq!(v["output_cost_usd"], 0.01, "{key} = {value}: {v}");
        let input = v["input_cost_usd"].as_f64().unwrap();
        assert!(input > 0.0 && input < 1e-3, "{key} = {value}: {v}");
        assert!(
            out.stderr.contains("warning") && out.stderr.contains("bundled"),
            "{key} = {value}: {}",
            out.stderr
        );
        // `models update` refuses such data as well (a local file: exit 2, as for any
        // unusable one)
        let file = dir.path().join("mirror.json");
        std::fs::write(&file, data_with_gpt4o(key, value.clone())).unwrap();
        let out = run(crate::base(dir.path()).args([
            "models",
            "update",
            "--from",
            file.to_str().unwrap(),
        ]))
        .expect(2);
        assert!(
            out.stderr.contains("not usable genai-prices data"),
            "{key} = {value}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_hand_placed_price_file_of_the_wrong_shape_falls_back_to_the_bundled_prices() {
    for text in [
        "garbage",
        "",
        "null",
        "{\"openai\": []}",
        "[]",
        "[1, 2]",
        r#"[{"id":"openai","models":{"a":1}},{"id":"anthropic","models":[{"id":"x"}]}]"#,
        r#"[{"id":"openai","models":[{"id":"gpt-4o","match":{"equals":"gpt-4o"},"prices":[]}]},{"id":"anthropic","models":[{"id":"x"}]}]"#,
        r#"[{"id":"openai","models":[{"id":"gpt-4o","match":{"regex":"("},"prices":{"input_mtok":1,"output_mtok":1}}]},{"id":"anthropic","models":[{"id":"x"}]}]"#,
    ] {
        let dir = tmp();
        place_price_file(dir.path(), text);
        let out = estimate_gpt4o(dir.path()).expect(0);
        assert_eq!(
            out.json()["output_cost_usd"],
            0.01,
            "{text}: {}",
            out.stdout
        );
        assert!(out.stderr.contains("bundled"), "{text}: {}", out.stderr);
    }
}
