//! Prices from the genai-prices database through the real binary: per-call `cost_usd` with
//! cache writes and reads, long-context tiers, batch rates (estimate-cost), the current
//! lineup and its aliases, `models update` from a local file server, and unpriced models.
//! Every expected cost is worked out by hand from the per-million prices written in the
//! database's `prices.json` (quoted in each comment).

use std::path::Path;

use serde_json::{Value, json};

use crate::mock::{self, Mock};
use crate::{anthropic, base, openai, run, tmp};

fn close(got: &Value, want: f64) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {got}"));
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

/// An Anthropic reply reporting `model` and this usage (`input_tokens` is the uncached
/// rest, as the API reports it).
fn anthropic_usage(model: &str, input: u64, written: u64, read: u64, output: u64) -> mock::Reply {
    let body = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output,
                  "cache_creation_input_tokens": written, "cache_read_input_tokens": read,
                  "cache_creation": {"ephemeral_5m_input_tokens": written, "ephemeral_1h_input_tokens": 0}}
    });
    mock::full(
        200,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

/// An OpenAI reply reporting `model` and this usage.
fn openai_usage(model: &str, prompt: u64, cached: u64, completion: u64) -> mock::Reply {
    let body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1730000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok", "refusal": null},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached},
                  "completion_tokens_details": {"reasoning_tokens": 0}}
    });
    mock::full(
        200,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

fn bundled_data() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/genai-prices.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The bundled data with claude-opus-5-5's `input_mtok` set to `rate`.
fn data_with_opus_input(rate: f64) -> String {
    let mut data = bundled_data();
    for p in data.as_array_mut().unwrap() {
        for m in p["models"].as_array_mut().unwrap() {
            if m["id"] == "claude-opus-5-5" {
                m["prices"]["input_mtok"] = json!(rate);
            }
        }
    }
    data.to_string()
}

#[test]
fn cache_writes_and_reads_are_priced_at_the_models_own_rates() {
    let dir = tmp();
    // claude-opus-5-5: input_mtok 4, cache_write_mtok 5, cache_read_mtok 0.2, output_mtok 20.
    // 5,000 uncached + 3,000 written + 2,000 read = 10,000 input tokens, 500 output.
    let mock = Mock::start(vec![anthropic_usage(
        "claude-opus-5-5-20261101",
        5_000,
        3_000,
        2_000,
        500,
    )]);
    let out =
        run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "opus", "x"])).expect(0);
    let r = out.json();
    assert_eq!(r["requested_model"], "claude-opus-5-5");
    assert_eq!(r["usage"]["input_tokens"], 10_000);
    assert_eq!(r["usage"]["cache_write_input_tokens"], 3_000);
    assert_eq!(r["usage"]["cached_input_tokens"], 2_000);
    close(
        &r["cost_usd"],
        (5_000.0 * 4.0 + 3_000.0 * 5.0 + 2_000.0 * 0.2 + 500.0 * 20.0) / 1e6,
    );
    assert!(!out.stderr.contains("no price"), "{}", out.stderr);

    // gpt-5.5: input_mtok 5, cache_read_mtok 0.5, output_mtok 30 (below its 272K tier).
    let mock = Mock::start(vec![openai_usage(
        "gpt-5.5-2026-04-23",
        10_000,
        4_000,
        1_000,
    )]);
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "gpt-5.5", "x"])).expect(0);
    close(
        &out.json()["cost_usd"],
        (6_000.0 * 5.0 + 4_000.0 * 0.5 + 1_000.0 * 30.0) / 1e6,
    );

    // The second call of a cached prompt costs less: claude-sonnet-5-5 reads at 0.1, a
    // fixed rate (input_mtok 2, cache_write_mtok 2.5, output_mtok 10).
    let mock = Mock::start(vec![
        anthropic_usage("claude-sonnet-5-5", 100, 4_000, 0, 50),
        anthropic_usage("claude-sonnet-5-5", 100, 0, 4_000, 50),
    ]);
    let first = run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "sonnet", "x"]))
        .expect(0)
        .json();
    let second =
        run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "sonnet", "x"]))
            .expect(0)
            .json();
    close(
        &first["cost_usd"],
        (100.0 * 2.0 + 4_000.0 * 2.5 + 50.0 * 10.0) / 1e6,
    );
    close(
        &second["cost_usd"],
        (100.0 * 2.0 + 4_000.0 * 0.1 + 50.0 * 10.0) / 1e6,
    );
}

#[test]
fn a_long_context_tier_bills_the_whole_request() {
    let dir = tmp();
    // gpt-5.4: input_mtok {base 2.5, above 272,000: 5}, output_mtok {base 15, above: 22.5}.
    let mock = Mock::start(vec![
        openai_usage("gpt-5.4", 272_000, 0, 1_000),
        openai_usage("gpt-5.4", 272_001, 0, 1_000),
    ]);
    let at = run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "gpt-5.4", "x"]))
        .expect(0)
        .json();
    let above = run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "gpt-5.4", "x"]))
        .expect(0)
        .json();
    close(&at["cost_usd"], (272_000.0 * 2.5 + 1_000.0 * 15.0) / 1e6);
    close(&above["cost_usd"], (272_001.0 * 5.0 + 1_000.0 * 22.5) / 1e6);
    // claude-haiku-5-5: above 100,000 prompt tokens every rate is 5x: input 0.5, cache
    // read 0.05, output 2.5.
    let mock = Mock::start(vec![anthropic_usage(
        "claude-haiku-5-5",
        60_000,
        0,
        40_001,
        2_000,
    )]);
    let r = run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "haiku", "x"]))
        .expect(0)
        .json();
    close(
        &r["cost_usd"],
        (60_000.0 * 0.5 + 40_001.0 * 0.05 + 2_000.0 * 2.5) / 1e6,
    );
}

#[test]
fn estimates_use_the_databases_batch_rates_and_list_the_lineup() {
    let dir = tmp();
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-5.4",
        "--output-tokens",
        "100",
        "hello world",
    ]))
    .expect(0);
    let v = out.json();
    let n = v["input_tokens"].as_u64().unwrap() as f64;
    // gpt-5.4: input_mtok 2.5, output_mtok 15; batch variant input_mtok 1.25, output 7.5.
    close(&v["total_cost_usd"], (n * 2.5 + 100.0 * 15.0) / 1e6);
    close(&v["batch_total_cost_usd"], (n * 1.25 + 100.0 * 7.5) / 1e6);
    assert_eq!(v["prices_as_of"], llmpipe::prices::BUNDLED_AS_OF);
    assert!(
        v["price_source"].as_str().unwrap().contains("genai-prices"),
        "{v}"
    );

    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "--compare",
        "all",
        "--output-tokens",
        "10",
        "hi",
    ]))
    .expect(0);
    let models: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["model"].as_str().unwrap().to_string())
        .collect();
    for m in [
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-opus-5",
        "claude-opus-5-5",
        "claude-sonnet-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-fable-5",
        "claude-fable-5-1",
        "gpt-5.4-pro",
        "gpt-5.5-pro",
        "gpt-5.6-sol",
        "gpt-5.6-terra",
        "gpt-5.6-luna",
    ] {
        assert!(models.iter().any(|x| x == m), "{m} missing from {models:?}");
    }
}

#[test]
fn models_lists_the_lineup_its_prices_and_what_each_alias_means() {
    let dir = tmp();
    let rows = run(base(dir.path()).args(["models", "--json"]))
        .expect(0)
        .json();
    let row = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed"))
    };
    // claude-opus-5-5: 4 / 0.2 read / 5 write / 8 one-hour write / 20; batch 2 / 10.
    let opus = row("claude-opus-5-5");
    assert_eq!(opus["aliases"], json!(["opus"]));
    assert_eq!(opus["input_per_million"], 4.0);
    assert_eq!(opus["cached_input_per_million"], 0.2);
    assert_eq!(opus["cache_write_per_million"], 5.0);
    assert_eq!(opus["cache_write_1h_per_million"], 8.0);
    assert_eq!(opus["output_per_million"], 20.0);
    assert_eq!(opus["batch_input_per_million"], 2.0);
    assert_eq!(opus["batch_output_per_million"], 10.0);
    assert_eq!(opus["tokenizer"], "claude-4.7 (chars/2.6)");
    assert_eq!(row("claude-sonnet-5-5")["aliases"], json!(["sonnet"]));
    assert_eq!(row("claude-haiku-5-5")["aliases"], json!(["haiku"]));
    let haiku = row("claude-haiku-5-5");
    assert_eq!(haiku["long_context"]["above_input_tokens"], 100_000);
    assert_eq!(haiku["long_context"]["input_per_million"], 0.5);
    // Batch rates below the tier: input_mtok 0.05, output_mtok 0.25 in the batch variant.
    assert_eq!(haiku["batch_input_per_million"], 0.05);
    assert_eq!(haiku["batch_output_per_million"], 0.25);
    for r in rows.as_array().unwrap() {
        assert_eq!(r["priced"], true, "{r}");
    }

    let out = run(base(dir.path()).arg("models")).expect(0);
    let alias_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("opus "))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(alias_line.ends_with("claude-opus-5-5"), "{alias_line}");
    assert!(
        out.stdout.contains("bundled (genai-prices 0.2.1)"),
        "{}",
        out.stdout
    );
    // The config file's aliases are shown too, over the built-in ones.
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[aliases]\nopus = \"claude-opus-4-8\"\n",
    )
    .unwrap();
    let out = run(base(dir.path()).arg("models")).expect(0);
    let alias_line = out.stdout.lines().find(|l| l.starts_with("opus ")).unwrap();
    assert!(alias_line.ends_with("claude-opus-4-8"), "{alias_line}");
}

#[test]
fn claude_estimates_follow_the_tokenizer_generation() {
    let dir = tmp();
    let text = "x".repeat(35);
    // Opus 5.5 (the new tokenizer): ceil(35 / 2.6) = 14; Sonnet 4.5: ceil(35 / 3.5) = 10.
    let new = run(base(dir.path()).args(["count-tokens", "--json", "-m", "opus", &text]))
        .expect(0)
        .json();
    assert_eq!(
        new,
        json!({"model": "claude-opus-5-5", "encoding": null, "tokens": 14, "exact": false,
               "method": "chars/2.6 (claude-4.7 tokenizer)"})
    );
    let old =
        run(base(dir.path()).args(["count-tokens", "--json", "-m", "claude-sonnet-4-5", &text]))
            .expect(0)
            .json();
    assert_eq!(old["tokens"], 10);
    assert_eq!(old["method"], "chars/3.5 (claude-3 tokenizer)");
}

#[test]
fn unpriced_models_cost_null_and_max_cost_refuses_them() {
    let dir = tmp();
    let mock = Mock::start(vec![openai_usage("llama3.2", 10, 0, 5)]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "-m", "llama3.2", "x"]))
        .expect(0);
    assert_eq!(out.json()["cost_usd"], Value::Null);
    assert!(
        out.stderr.contains("no price known for model llama3.2"),
        "{}",
        out.stderr
    );
    let before = mock.hits();
    let out =
        run(openai(dir.path(), &mock).args(["complete", "-m", "llama3.2", "--max-cost", "1", "x"]))
            .expect(2);
    assert!(
        out.stderr.contains("no price is known for model llama3.2"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), before, "nothing was sent");
    // A model of the new lineup is priced: --max-cost lets it through.
    let mock = Mock::start(vec![anthropic_usage("claude-fable-5-1", 10, 0, 0, 5)]);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-fable-5-1",
        "--max-cost",
        "1",
        "x",
    ]))
    .expect(0);
}

fn data_file(dir: &Path) -> std::path::PathBuf {
    dir.join(".local/share/llmpipe/prices.json")
}

#[test]
fn models_update_installs_valid_data_that_is_used_from_then_on() {
    let dir = tmp();
    let server = Mock::start(vec![mock::full(
        200,
        &[("content-type", "application/json")],
        data_with_opus_input(7.0),
    )]);
    let url = format!("{}/prices/new_data/v2/data.json", server.url);
    let out = run(base(dir.path()).args(["models", "update", "--from", &url])).expect(0);
    assert!(out.stdout.contains("price data updated"), "{}", out.stdout);
    assert_eq!(server.only_request().path, "/prices/new_data/v2/data.json");
    assert!(data_file(dir.path()).exists());
    // The downloaded rate is used: 1,000 input tokens at 7 (not the bundled 4), 100 out at 20.
    let mock = Mock::start(vec![anthropic_usage("claude-opus-5-5", 1_000, 0, 0, 100)]);
    let r = run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "opus", "x"]))
        .expect(0)
        .json();
    close(&r["cost_usd"], (1_000.0 * 7.0 + 100.0 * 20.0) / 1e6);
    let rows = run(base(dir.path()).args(["models", "--json"]))
        .expect(0)
        .json();
    let source = rows[0]["price_source"].as_str().unwrap();
    assert!(source.contains("downloaded 20"), "{source}");
    assert!(source.contains("prices.json"), "{source}");

    // --json, and a local file works the same.
    let file = dir.path().join("mirror.json");
    std::fs::write(&file, data_with_opus_input(6.0)).unwrap();
    let out = run(base(dir.path()).args([
        "models",
        "update",
        "--json",
        "--from",
        file.to_str().unwrap(),
    ]))
    .expect(0);
    let v = out.json();
    assert_eq!(v["updated"], true);
    assert!(v["models"]["anthropic"].as_u64().unwrap() > 10, "{v}");
    let r = run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "opus", "x"]))
        .expect(0)
        .json();
    close(&r["cost_usd"], (1_000.0 * 6.0 + 100.0 * 20.0) / 1e6);
}

#[test]
fn broken_data_is_refused_and_a_broken_file_falls_back_to_the_bundled_data() {
    let dir = tmp();
    // A server answering something that is not the data: nothing is installed (exit 5).
    let server = Mock::start(vec![mock::full(
        200,
        &[("content-type", "text/html")],
        "<html>maintenance</html>",
    )]);
    let out = run(base(dir.path()).args(["models", "update", "--from", &server.url])).expect(5);
    assert!(
        out.stderr.contains("not usable genai-prices data"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    assert!(!data_file(dir.path()).exists());
    // Valid JSON without the providers: refused too.
    let server = Mock::start(vec![mock::full(200, &[], "[]")]);
    run(base(dir.path()).args(["models", "update", "--from", &server.url])).expect(5);
    // A missing local file is a usage error, and so is a device that never ends.
    run(base(dir.path()).args(["models", "update", "--from", "no-such-file.json"])).expect(2);
    let out = run(base(dir.path()).args(["models", "update", "--from", "/dev/zero"])).expect(2);
    assert!(out.stderr.contains("larger than"), "{}", out.stderr);

    // A downloaded file that broke later: a warning, and the bundled prices
    // (claude-opus-5-5: input_mtok 4, output_mtok 20).
    std::fs::create_dir_all(data_file(dir.path()).parent().unwrap()).unwrap();
    std::fs::write(data_file(dir.path()), "{\"truncated\": ").unwrap();
    let mock = Mock::start(vec![anthropic_usage("claude-opus-5-5", 1_000, 0, 0, 100)]);
    let out =
        run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "opus", "x"])).expect(0);
    close(
        &out.json()["cost_usd"],
        (1_000.0 * 4.0 + 100.0 * 20.0) / 1e6,
    );
    assert!(out.stderr.contains("is broken"), "{}", out.stderr);
    assert!(out.stderr.contains("bundled"), "{}", out.stderr);
    let out = run(base(dir.path()).arg("models")).expect(0);
    assert!(
        out.stdout.contains("bundled (genai-prices"),
        "{}",
        out.stdout
    );
}

#[test]
fn models_update_reports_unreachable_and_failing_servers() {
    let dir = tmp();
    // Nothing listens on this port (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/data.json");
    let out = run(base(dir.path()).args(["models", "update", "--retries", "0", "--from", &url]))
        .expect(5);
    assert!(out.stderr.contains("price data"), "{}", out.stderr);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    // --json: the error object on stdout.
    let out = run(base(dir.path()).args([
        "models",
        "update",
        "--json",
        "--retries",
        "0",
        "--from",
        &url,
    ]))
    .expect(5);
    assert_eq!(out.json()["error"]["type"], "unavailable", "{}", out.stdout);
    // A 404 is not retried (exit 4); a 503 is, then exit 5.
    let server = Mock::start(vec![mock::full(404, &[], "not found")]);
    run(base(dir.path()).args(["models", "update", "--from", &server.url])).expect(4);
    assert_eq!(server.hits(), 1);
    let server = Mock::start(vec![mock::full(503, &[("retry-after-ms", "1")], "busy")]);
    run(base(dir.path()).args(["models", "update", "--retries", "2", "--from", &server.url]))
        .expect(5);
    assert_eq!(server.hits(), 3);
    assert!(!data_file(dir.path()).exists());
}

#[test]
fn config_prices_win_over_the_database_even_for_the_reported_dated_id() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"claude-opus-5-5\"]\ninput = 1.0\noutput = 2.0\n",
    )
    .unwrap();
    // The reply names the dated id, which the database prices at 4 / 20; the config
    // file's 1 / 2 for the requested model wins.
    let mock = Mock::start(vec![anthropic_usage(
        "claude-opus-5-5-20261101",
        1_000,
        0,
        0,
        100,
    )]);
    let r = run(anthropic(dir.path(), &mock).args(["complete", "--json", "-m", "opus", "x"]))
        .expect(0)
        .json();
    close(&r["cost_usd"], (1_000.0 * 1.0 + 100.0 * 2.0) / 1e6);
}
