//! probe3: hostile tests of the in-stream error classification, batch results past a
//! failed download, and the price-data check.

use crate::mock::{self, Mock};
use crate::{openai, run, tmp};

/// An OpenAI-compatible stream that fails before any text with this error payload.
fn failed_stream(payload: serde_json::Value) -> mock::Reply {
    mock::sse(
        vec![format!("data: {payload}\n\n"), "data: [DONE]\n\n".into()],
        &[],
    )
}

/// A model the server does not have, said inside the stream with its HTTP code (vLLM's
/// `{"object":"error",…,"code":404}`, a gateway's `{"error":{…,"code":404}}`), falls back
/// to the next `--fallback` model as an HTTP 404 does; a 400 said so does not.
#[test]
fn an_in_stream_404_falls_back_as_an_http_404_does() {
    use serde_json::json;
    let dir = tmp();
    for payload in [
        json!({"object": "error", "message": "The model `nope` does not exist.", "type": "NotFoundError", "param": null, "code": 404}),
        json!({"error": {"message": "The model `nope` does not exist.", "code": 404}}),
        json!({"error": {"message": "The model `nope` does not exist.", "type": "None", "code": "404"}}),
    ] {
        let mock = Mock::start(vec![
            failed_stream(payload.clone()),
            mock::openai_stream(&["Hello"]),
        ]);
        let out = run(openai(dir.path(), &mock).args([
            "stream",
            "--json",
            "-m",
            "nope",
            "--fallback",
            "gpt-4o-mini",
            "x",
        ]))
        .expect(0);
        assert_eq!(mock.hits(), 2, "{payload}: {}", out.stderr);
        assert!(
            out.stderr.contains("falling back to gpt-4o-mini")
                && out.stderr.contains("does not exist"),
            "{payload}: {}",
            out.stderr
        );
        let last = out.lines().last().cloned().unwrap();
        assert_eq!(last["text"], "Hello", "{payload}: {}", out.stdout);
        assert_eq!(last["attempts"], 2);
    }
    // A 400 said in the stream is the caller's to fix: no fallback, exit 4.
    let mock = Mock::start(vec![
        failed_stream(
            json!({"object": "error", "message": "too long", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        mock::openai_stream(&["Hello"]),
    ]);
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "-m",
        "local",
        "--fallback",
        "gpt-4o-mini",
        "x",
    ]))
    .expect(4);
    assert_eq!(mock.hits(), 1);
    let last = out.lines().last().cloned().unwrap();
    assert_eq!(last["error"]["type"], "rejected");
    assert_eq!(last["error"]["status"], 400, "the payload's own HTTP code");
}

/// A job of five items split into three provider batches (2 + 2 + 1), submitted.
fn three_batch_job(dir: &std::path::Path, fake: &crate::batch_mock::BatchApi) -> String {
    let sub = run(openai(dir, &fake.mock)
        .args([
            "batch",
            "submit",
            "--json",
            "--batch-size",
            "2",
            "-m",
            "gpt-4o-mini",
        ])
        .write_stdin("a\nb\nc\nd\ne\n"))
    .expect(0);
    sub.json()["id"].as_str().unwrap().to_string()
}

/// A provider batch id with no local record whose results file cannot be downloaded: its
/// items are not known here, so no line is written for them. With `--json` stdout still
/// gets the error object (`| jq` never reads nothing), and nothing claims error lines
/// that are not there.
#[test]
fn a_bare_batch_id_whose_results_cannot_be_downloaded_reports_the_error() {
    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    three_batch_job(dir.path(), &fake);
    let b = fake.batches();
    let path = format!("/v1/files/file-out-{}/content", b[0].id);
    fake.state.lock().unwrap().broken.push((path, 500));
    // another machine: only the provider's id
    let elsewhere = tmp();
    let out = run(openai(elsewhere.path(), &fake.mock).args([
        "batch",
        "results",
        "--json",
        "--retries",
        "0",
        &b[0].id,
    ]))
    .expect(5);
    let v = out.json();
    assert_eq!(v["error"]["type"], "unavailable", "{}", out.stdout);
    assert_eq!(v["error"]["exit_code"], 5);
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains(&b[0].id) && m.contains("downloaded"), "{m}");
    assert!(!m.contains("error lines"), "{m}");
    assert!(
        out.stderr
            .contains(&format!("llmpipe batch results {}", b[0].id))
            && !out.stderr.contains("written above"),
        "{}",
        out.stderr
    );
    // once it can be read, the same command writes its lines
    fake.state.lock().unwrap().broken.clear();
    let out =
        run(openai(elsewhere.path(), &fake.mock).args(["batch", "results", &b[0].id])).expect(0);
    assert_eq!(out.lines().len(), 2, "{}", out.stdout);
}

/// The error line of an item whose batch's results could not be downloaded names the job
/// to read again: `llmpipe batch results` alone reads the latest job, which is another
/// one once a later job was submitted.
#[test]
fn an_unread_items_error_line_names_its_job() {
    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let first = three_batch_job(dir.path(), &fake);
    let b = fake.batches();
    let path = format!("/v1/files/file-out-{}/content", b[2].id);
    fake.state.lock().unwrap().broken.push((path, 500));
    let later = three_batch_job(dir.path(), &fake);
    assert_ne!(first, later);
    let out =
        run(openai(dir.path(), &fake.mock).args(["batch", "results", "--retries", "0", &first]))
            .expect(5);
    let lines = out.lines();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    let m = lines[4]["error"]["message"].as_str().unwrap();
    assert!(
        m.contains(&format!("`llmpipe batch results {first}`")),
        "{m}"
    );
}

/// A model that only a hand-placed price file lists, with an absurd rate: it is not priced
/// from that file, and the bundled data has no price for it either. The warnings say so
/// (never that it was priced from the bundled data), `cost_usd` is null and `--max-cost`
/// refuses it.
#[test]
fn a_model_only_a_hand_placed_file_lists_with_an_absurd_rate_is_unpriced_and_said_so() {
    let dir = tmp();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/genai-prices.json");
    let mut data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for p in data.as_array_mut().unwrap() {
        if p["id"] == "openai" {
            p["models"].as_array_mut().unwrap().insert(
                0,
                serde_json::json!({"id": "gpt-local-9", "match": {"equals": "gpt-local-9"},
                                   "prices": {"input_mtok": 1, "output_mtok": -4}}),
            );
        }
    }
    let file = dir.path().join(".local/share/llmpipe/prices.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, data.to_string()).unwrap();
    let out = run(crate::base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-local-9",
        "--max-tokens",
        "10",
        "hello",
    ]))
    .expect(2);
    assert!(
        out.stderr.contains("absurd price for gpt-local-9")
            && out.stderr.contains("no price in the bundled data")
            && !out.stderr.contains("is priced from the bundled data"),
        "{}",
        out.stderr
    );
    // a server that reports the model as asked (a local one)
    let body = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1730000000,
        "model": "gpt-local-9",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}
    });
    let mock = Mock::start(vec![mock::full(200, &[], body.to_string())]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "gpt-local-9", "x"]))
        .expect(0);
    assert_eq!(
        out.json()["cost_usd"],
        serde_json::Value::Null,
        "{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("is priced from the bundled data"),
        "{}",
        out.stderr
    );
}

/// A price in llmpipe.toml above 1,000,000 USD per million tokens (the limit the price data
/// has) is refused where it is read (exit 3, naming the file), instead of making every cost
/// infinite and so reported as `null`, as if the model had no price.
#[test]
fn a_config_price_above_the_limit_is_refused() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"gpt-local\"]\ninput = 1e308\noutput = 1.0\n",
    )
    .unwrap();
    let out = run(crate::base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-local",
        "--max-tokens",
        "10",
        "hello",
    ]))
    .expect(3);
    assert!(
        out.stderr.contains("llmpipe.toml") && out.stderr.contains("1000000"),
        "{}",
        out.stderr
    );
    // the limit itself is a price
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"gpt-local\"]\ninput = 1000000\noutput = 1.0\n",
    )
    .unwrap();
    let out = run(crate::base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-local",
        "--max-tokens",
        "10",
        "hello",
    ]))
    .expect(0);
    assert!(
        out.json()["input_cost_usd"].as_f64().unwrap() > 1.0,
        "{}",
        out.stdout
    );
}
