//! count-tokens, estimate-cost, models and --max-cost through the real binary. Expected
//! token counts come from Python tiktoken 0.14 (see tests/data/gen_token_counts.py); costs
//! are worked out by hand in the comments.

use serde_json::json;

use crate::mock::{self, Mock};
use crate::{ANTHROPIC_KEY, anthropic, base, openai, run, tmp};

// Python tiktoken: o200k_base 11, cl100k_base 10 (the special-token string is plain text).
const SPECIAL: &str = "Hello, world! <|endoftext|>";

#[test]
fn counts_follow_the_models_encoding_and_treat_special_tokens_as_text() {
    let dir = tmp();
    for (args, want) in [
        (vec!["-m", "gpt-4o"], "11\n"),
        (vec!["-m", "4o-mini"], "11\n"),
        (vec!["-m", "gpt-4.1-mini-2025-04-14"], "11\n"),
        (vec!["-m", "gpt-4"], "10\n"),
        (vec!["-m", "gpt-3.5-turbo-0125"], "10\n"),
        (vec!["--encoding", "cl100k_base"], "10\n"),
        (vec!["-m", "gpt-4", "--encoding", "o200k_base"], "11\n"),
    ] {
        let out = run(base(dir.path())
            .arg("count-tokens")
            .args(&args)
            .write_stdin(SPECIAL))
        .expect(0);
        assert_eq!(out.stdout, want, "{args:?}");
    }
    let out =
        run(base(dir.path()).args(["count-tokens", "--json", "-m", "gpt-4o", SPECIAL])).expect(0);
    assert_eq!(
        out.json(),
        json!({"model": "gpt-4o", "encoding": "o200k_base", "tokens": 11, "exact": true, "method": "tiktoken"})
    );
    // --encoding alone names no model
    let out = run(base(dir.path()).args([
        "count-tokens",
        "--json",
        "--encoding",
        "cl100k_base",
        SPECIAL,
    ]))
    .expect(0);
    assert_eq!(out.json()["model"], json!(null));
    assert_eq!(out.json()["tokens"], 10);
}

#[test]
fn empty_input_counts_zero() {
    let dir = tmp();
    let out = run(base(dir.path()).args(["count-tokens", "-m", "gpt-4o"])).expect(0);
    assert_eq!(out.stdout, "0\n");
    let out = run(base(dir.path())
        .args(["count-tokens", "--chat", "-s", "x", "-m", "gpt-4o"])
        .write_stdin(""))
    .expect(0);
    assert_eq!(out.stdout, "0\n");
    let out = run(base(dir.path()).args(["estimate-cost", "--json", "-m", "gpt-4o"])).expect(0);
    assert_eq!(out.json()["input_tokens"], 0);
    assert_eq!(out.json()["output_tokens"], 1024);
}

#[test]
fn unknown_models_are_a_usage_error_that_says_how_to_pick_an_encoding() {
    let dir = tmp();
    let out = run(base(dir.path()).args(["count-tokens", "-m", "llama3.2", "hi"])).expect(2);
    assert!(
        out.stderr
            .contains("no tokenizer is known for model `llama3.2`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--encoding o200k_base"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--encoding cl100k_base"),
        "{}",
        out.stderr
    );
    let out =
        run(base(dir.path()).args(["count-tokens", "--json", "-m", "text-davinci-003", "hi"]))
            .expect(2);
    assert_eq!(out.json()["error"]["type"], "usage");
    assert!(out.stderr.contains("p50k_base"));
    // and the same model counts with an explicit encoding
    let out = run(base(dir.path()).args([
        "count-tokens",
        "-m",
        "llama3.2",
        "--encoding",
        "o200k_base",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "1\n");
}

#[test]
fn bad_input_is_a_usage_error_with_the_byte_offset() {
    let dir = tmp();
    std::fs::write(dir.path().join("bad.txt"), b"ok text\n\xff\xfe").unwrap();
    let out = run(base(dir.path()).args(["count-tokens", "-f", "bad.txt"])).expect(2);
    assert!(
        out.stderr
            .contains("bad.txt is not valid UTF-8: invalid byte at offset 8"),
        "{}",
        out.stderr
    );
    let out = run(base(dir.path())
        .args(["count-tokens", "--json"])
        .write_stdin(&b"abc\xc3"[..]))
    .expect(2);
    assert!(
        out.stderr
            .contains("stdin is not valid UTF-8: invalid byte at offset 3"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["error"]["exit_code"], 2);
    let out = run(base(dir.path()).args(["count-tokens", "-f", "missing.txt"])).expect(2);
    assert!(
        out.stderr.contains("cannot read missing.txt: no such file"),
        "{}",
        out.stderr
    );
    let out = run(base(dir.path()).args(["count-tokens", "-j", "0", "x"])).expect(2);
    assert!(out.stderr.contains("--threads"));
}

#[test]
fn several_files_give_one_line_each_and_a_total() {
    let dir = tmp();
    std::fs::write(dir.path().join("a.txt"), SPECIAL).unwrap();
    std::fs::write(dir.path().join("b.txt"), "hello world").unwrap();
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    let out = run(base(dir.path()).args([
        "count-tokens",
        "-m",
        "gpt-4o",
        "-f",
        "a.txt",
        "-f",
        "b.txt",
        "-f",
        "empty.txt",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "11\ta.txt\n2\tb.txt\n0\tempty.txt\n13\ttotal\n");
    let out = run(base(dir.path())
        .args([
            "count-tokens",
            "--json",
            "-m",
            "gpt-4",
            "-f",
            "a.txt",
            "-f",
            "b.txt",
        ])
        .write_stdin("hello world"))
    .expect(0);
    assert_eq!(
        out.json(),
        json!({"model": "gpt-4", "encoding": "cl100k_base", "tokens": 14, "exact": true, "method": "tiktoken",
               "files": [{"file": "a.txt", "tokens": 10}, {"file": "b.txt", "tokens": 2}, {"file": "<stdin>", "tokens": 2}]})
    );
    // one file: the input as complete gathers it (words, blank line, file)
    let out = run(base(dir.path()).args(["count-tokens", "-m", "gpt-4o", "-f", "b.txt", "say"]))
        .expect(0);
    assert_eq!(out.stdout, "4\n"); // "say\n\nhello world": say, \n\n, hello, " world"
}

#[test]
fn chat_counts_the_request_with_the_cookbook_overhead() {
    let dir = tmp();
    // 3 + "system" 1 + "Be terse." 3, then 3 + "user" 1 + "hello world" 2, then 3 priming
    let out = run(base(dir.path()).args([
        "count-tokens",
        "--json",
        "--chat",
        "-m",
        "gpt-4o",
        "-s",
        "Be terse.",
        "hello",
        "world",
    ]))
    .expect(0);
    assert_eq!(
        out.json(),
        json!({"model": "gpt-4o", "encoding": "o200k_base", "tokens": 16, "exact": false, "method": "tiktoken+chat_overhead"})
    );
    assert!(out.stderr.contains("approximation"), "{}", out.stderr);
}

#[test]
fn anthropic_counts_are_labelled_estimates() {
    let dir = tmp();
    // 18 characters: ceil(18 / 3.5) = 6
    let out = run(base(dir.path()).args([
        "count-tokens",
        "--json",
        "-m",
        "claude-sonnet-4-5",
        "ça va, le monde ?!",
    ]))
    .expect(0);
    assert_eq!(
        out.json(),
        json!({"model": "claude-sonnet-4-5", "encoding": null, "tokens": 6, "exact": false, "method": "chars/3.5 (claude-3 tokenizer)"})
    );
    assert!(out.stderr.contains("an estimate"), "{}", out.stderr);
    // -p anthropic makes any model an Anthropic one
    let out = run(base(dir.path()).args([
        "count-tokens",
        "-p",
        "anthropic",
        "-m",
        "claude-next",
        "1234567",
    ]))
    .expect(0);
    // A Claude model newer than the table: the newest tokenizer's ratio, ceil(7 / 2.6) = 3.
    assert_eq!(out.stdout, "3\n");
}

#[test]
fn exact_asks_anthropics_count_tokens_endpoint() {
    let mock = Mock::start(vec![mock::anthropic_count_tokens(14)]);
    let dir = tmp();
    let out = run(anthropic(dir.path(), &mock).args([
        "count-tokens",
        "--json",
        "--exact",
        "-m",
        "claude-haiku-4-5",
        "-s",
        "Be terse.",
        "Hello,",
        "Claude",
    ]))
    .expect(0);
    assert_eq!(
        out.json(),
        json!({"model": "claude-haiku-4-5", "encoding": null, "tokens": 14, "exact": true, "method": "anthropic_count_tokens"})
    );
    let req = mock.only_request();
    assert_eq!(req.path, "/v1/messages/count_tokens");
    assert_eq!(req.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        req.json(),
        json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello, Claude"}], "system": "Be terse."})
    );
}

#[test]
fn exact_needs_the_key_and_reports_api_errors() {
    let dir = tmp();
    let out =
        run(base(dir.path()).args(["count-tokens", "--exact", "-m", "claude-haiku-4-5", "hi"]))
            .expect(3);
    assert!(
        out.stderr.contains("ANTHROPIC_API_KEY is not set"),
        "{}",
        out.stderr
    );
    let mock = Mock::start(vec![mock::anthropic_error(
        400,
        "invalid_request_error",
        "bad model",
    )]);
    let out =
        run(anthropic(dir.path(), &mock).args(["count-tokens", "--exact", "-m", "claude-x", "hi"]))
            .expect(4);
    assert!(out.stderr.contains("bad model"), "{}", out.stderr);
    // retried like a request
    let mock = Mock::start(vec![
        mock::anthropic_error(529, "overloaded_error", "Overloaded"),
        mock::anthropic_count_tokens(3),
    ]);
    let out = run(anthropic(dir.path(), &mock).args([
        "count-tokens",
        "--exact",
        "-m",
        "claude-haiku-4-5",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "3\n");
    assert_eq!(mock.hits(), 2);
    // OpenAI models are exact offline: --exact sends nothing
    let out =
        run(base(dir.path()).args(["count-tokens", "--exact", "-m", "gpt-4o", SPECIAL])).expect(0);
    assert_eq!(out.stdout, "11\n");
}

#[test]
fn a_large_file_counts_the_same_on_one_thread_and_many() {
    let dir = tmp();
    let mut text = String::new();
    let words = [
        "alpha",
        " beta",
        ",",
        " γάμμα",
        "\n",
        " 12345",
        " 中文",
        " don't",
        "  ",
        "👍🏽",
    ];
    let mut x: u64 = 7;
    while text.len() < 3 << 20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push_str(words[(x >> 33) as usize % words.len()]);
    }
    std::fs::write(dir.path().join("big.txt"), &text).unwrap();
    let serial = llmpipe::tokens::Encoding::O200kBase
        .count(&text)
        .to_string()
        + "\n";
    for j in ["1", "2", "4"] {
        let out =
            run(base(dir.path()).args(["count-tokens", "-m", "gpt-4o", "-j", j, "-f", "big.txt"]))
                .expect(0);
        assert_eq!(out.stdout, serial, "-j {j}");
    }
    let out = run(base(dir.path())
        .args(["count-tokens", "-m", "gpt-4o", "-j", "2"])
        .write_stdin(text.clone()))
    .expect(0);
    assert_eq!(out.stdout, serial);
}

#[test]
fn estimate_cost_prices_the_request() {
    let dir = tmp();
    // gpt-4o, request "hello world" = 3 + 1 + 2 + 3 = 9 input tokens, 1000 output:
    // 9 * 2.50 / 1e6 = 0.0000225; 1000 * 10 / 1e6 = 0.01; total 0.0100225;
    // cached 9 * 1.25 / 1e6 = 0.00001125; batch 0.00501125
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--output-tokens",
        "1000",
        "hello",
        "world",
    ]))
    .expect(0);
    let v = out.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys[..7],
        [
            "model",
            "input_tokens",
            "output_tokens",
            "input_cost_usd",
            "output_cost_usd",
            "total_cost_usd",
            "prices_as_of"
        ]
    );
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["input_tokens"], 9);
    assert_eq!(v["output_tokens"], 1000);
    assert_eq!(v["input_cost_usd"], 0.0000225);
    assert_eq!(v["output_cost_usd"], 0.01);
    assert_eq!(v["total_cost_usd"], 0.0100225);
    assert_eq!(v["cached_input_cost_usd"], 0.00001125);
    assert_eq!(v["batch_total_cost_usd"], 0.00501125);
    assert_eq!(v["prices_as_of"], llmpipe::prices::BUNDLED_AS_OF);
    assert_eq!(v["input_exact"], false);
    // output defaults to --max-tokens
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--max-tokens",
        "10",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.json()["output_tokens"], 10);
}

#[test]
fn estimate_cost_compares_models_sorted_by_total() {
    let dir = tmp();
    // 70 characters: claude-haiku-4-5 estimate ceil(70 / 3.5) = 20 input tokens,
    // 20 * 1.00 / 1e6 + 100 * 5.00 / 1e6 = 0.00052
    let text = "a".repeat(69) + "!";
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "--output-tokens",
        "100",
        "--compare",
        "gpt-4o, claude-haiku-4-5,gpt-4.1-nano",
        &text,
    ]))
    .expect(0);
    let v = out.json();
    let models: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["gpt-4.1-nano", "claude-haiku-4-5", "gpt-4o"]);
    assert_eq!(v[1]["input_tokens"], 20);
    assert_eq!(v[1]["total_cost_usd"], 0.00052);
    assert_eq!(v[1]["input_method"], "chars/3.5 (claude-3 tokenizer)");
    let totals: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["total_cost_usd"].as_f64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]));

    let out = run(base(dir.path()).args(["estimate-cost", "--compare", "all", "hi"])).expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("MODEL"), "{}", out.stdout);
    assert_eq!(lines.len(), 1 + llmpipe::models::MODELS.len());
    assert!(
        out.stdout.contains("~"),
        "anthropic rows are marked as estimates"
    );

    let out =
        run(base(dir.path()).args(["estimate-cost", "--compare", "gpt-4o,llama3", "hi"])).expect(2);
    assert!(
        out.stderr.contains("no price is known for model llama3"),
        "{}",
        out.stderr
    );
}

#[test]
fn config_prices_override_the_table() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"gpt-4o\"]\ninput = 1.0\noutput = 2.0\n[prices.\"my-local\"]\ninput = 0.0\noutput = 0.0\n",
    )
    .unwrap();
    // 9 input tokens * 1.0 / 1e6 + 100 * 2.0 / 1e6 = 0.000209
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--output-tokens",
        "100",
        "hello world",
    ]))
    .expect(0);
    assert_eq!(out.json()["total_cost_usd"], 0.000209);
    assert_eq!(out.json()["prices_as_of"], json!(null));
    assert_eq!(out.json()["price_source"], "config file");
    let out = run(base(dir.path()).args(["models", "--json"])).expect(0);
    let rows = out.json();
    let row = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("gpt-4o")["input_per_million"], 1.0);
    assert_eq!(row("gpt-4o")["price_source"], "config file");
    assert_eq!(row("my-local")["output_per_million"], 0.0);
    assert_eq!(row("gpt-4.1")["input_per_million"], 2.0);
}

#[test]
fn models_lists_the_table() {
    let dir = tmp();
    let out = run(base(dir.path()).args(["models", "--json"])).expect(0);
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), llmpipe::models::MODELS.len());
    let sonnet = rows
        .iter()
        .find(|r| r["model"] == "claude-sonnet-4-5")
        .unwrap();
    assert_eq!(sonnet["encoding"], json!(null));
    assert_eq!(sonnet["aliases"], json!([]));
    assert_eq!(sonnet["long_context"]["above_input_tokens"], 200_000);
    let mini = rows.iter().find(|r| r["model"] == "gpt-4o-mini").unwrap();
    assert_eq!(mini["encoding"], "o200k_base");
    assert_eq!(mini["prices_as_of"], llmpipe::prices::BUNDLED_AS_OF);
    assert_eq!(mini["cached_input_per_million"], 0.075);
    let out = run(base(dir.path()).arg("models")).expect(0);
    assert!(out.stdout.starts_with("MODEL "), "{}", out.stdout);
    assert!(out.stdout.contains("gpt-4o-mini"));
    assert!(out.stdout.contains("claude-4.7 (chars/2.6)"));
}

#[test]
fn max_cost_refuses_before_sending() {
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    let dir = tmp();
    // gpt-4o-mini, "hello world": 9 input tokens * 0.15 / 1e6 + 1024 * 0.60 / 1e6 = 0.00061575
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "--json",
        "-m",
        "gpt-4o-mini",
        "--max-cost",
        "0.0006",
        "hello world",
    ]))
    .expect(7);
    assert_eq!(mock.hits(), 0, "nothing was sent");
    assert_eq!(out.json()["error"]["type"], "budget");
    assert!(out.stderr.contains("$0.000616"), "{}", out.stderr);
    assert!(
        out.stderr.contains("9 estimated input tokens"),
        "{}",
        out.stderr
    );
    // within budget (and a smaller --max-tokens brings it under); stream checks too
    let streaming = Mock::start(vec![mock::openai_stream(&["o", "k"])]);
    run(openai(dir.path(), &streaming).args([
        "stream",
        "-m",
        "gpt-4o-mini",
        "--max-cost",
        "0.0006",
        "hi",
    ]))
    .expect(7);
    assert_eq!(streaming.hits(), 0);
    run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--max-cost",
        "0.0007",
        "hello world",
    ]))
    .expect(0);
    run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--max-cost",
        "0.0006",
        "--max-tokens",
        "100",
        "hello world",
    ]))
    .expect(0);
    assert_eq!(mock.hits(), 2);
    // every fallback must fit too
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--fallback",
        "gpt-4o",
        "--max-cost",
        "0.001",
        "hello world",
    ]))
    .expect(7);
    assert!(out.stderr.contains("gpt-4o "), "{}", out.stderr);
    assert_eq!(mock.hits(), 2);
}

#[test]
fn max_cost_needs_a_price_and_a_sane_number() {
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    let dir = tmp();
    let out =
        run(openai(dir.path(), &mock).args(["complete", "-m", "llama3", "--max-cost", "1", "hi"]))
            .expect(2);
    assert!(
        out.stderr
            .contains("cannot check --max-cost: no price is known for model llama3"),
        "{}",
        out.stderr
    );
    let out =
        run(openai(dir.path(), &mock).args(["complete", "-m", "gpt-4o", "--max-cost=-1", "hi"]))
            .expect(2);
    assert!(out.stderr.contains("--max-cost"), "{}", out.stderr);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o",
        "--max-cost",
        "NaN",
        "hi",
    ]))
    .expect(2);
    assert!(out.stderr.contains("--max-cost"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
    // Anthropic input is the chars/3.5 estimate: 350 chars = 100 tokens;
    // 100 * 1.00 / 1e6 + 1024 * 5.00 / 1e6 = 0.00522
    let mock = Mock::start(vec![mock::anthropic_message("ok")]);
    let text = "x".repeat(350);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-haiku-4-5",
        "--max-cost",
        "0.005",
        &text,
    ]))
    .expect(7);
    assert!(out.stderr.contains("$0.005220"), "{}", out.stderr);
    assert!(out.stderr.contains("chars/3.5"), "{}", out.stderr);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-haiku-4-5",
        "--max-cost",
        "0.0053",
        &text,
    ]))
    .expect(0);
}

#[test]
fn ctrl_c_while_reading_stdin_exits_130() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tmp();
    let mut child = crate::base_std(dir.path())
        .args(["count-tokens", "-m", "gpt-4o"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdin stays open: the count is blocked reading it
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"some text and no end").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    drop(stdin);
}

#[test]
fn estimate_cost_exact_and_config_priced_local_models() {
    let mock = Mock::start(vec![mock::anthropic_count_tokens(40)]);
    let dir = tmp();
    // claude-haiku-4-5: 40 * 1.00 / 1e6 + 10 * 5.00 / 1e6 = 0.00009
    let out = run(anthropic(dir.path(), &mock).args([
        "estimate-cost",
        "--json",
        "--exact",
        "-m",
        "claude-haiku-4-5",
        "--output-tokens",
        "10",
        "-s",
        "S",
        "text",
    ]))
    .expect(0);
    let v = out.json();
    assert_eq!(v["input_tokens"], 40);
    assert_eq!(v["input_exact"], true);
    assert_eq!(v["input_method"], "anthropic_count_tokens");
    assert_eq!(v["total_cost_usd"], 0.00009);
    assert_eq!(mock.only_request().path, "/v1/messages/count_tokens");
    // A local model priced in the config: counted with o200k_base, and said so;
    // the same estimate guards --max-cost.
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"llama3\"]\ninput = 100.0\noutput = 0.0\n",
    )
    .unwrap();
    // "hello world" as a request: 9 tokens * 100 / 1e6 = 0.0009
    let out =
        run(base(dir.path()).args(["estimate-cost", "--json", "-m", "llama3", "hello world"]))
            .expect(0);
    assert_eq!(out.json()["total_cost_usd"], 0.0009);
    assert_eq!(
        out.json()["input_method"],
        "tiktoken+chat_overhead (o200k_base assumed)"
    );
    assert_eq!(out.json()["batch_total_cost_usd"], json!(null));
    let local = Mock::start(vec![mock::openai_completion("ok")]);
    run(openai(dir.path(), &local).args([
        "complete",
        "-m",
        "llama3",
        "--max-cost",
        "0.0008",
        "hello world",
    ]))
    .expect(7);
    run(openai(dir.path(), &local).args([
        "complete",
        "-m",
        "llama3",
        "--max-cost",
        "0.001",
        "hello world",
    ]))
    .expect(0);
    assert_eq!(local.hits(), 1);
}

#[test]
fn prompt_files_are_counted_and_priced_as_they_would_be_sent() {
    let dir = crate::tmp();
    let prompts = format!("{}/prompts", env!("CARGO_MANIFEST_DIR"));
    let count = |args: &[&str]| -> u64 {
        let out = crate::run(
            crate::base(dir.path())
                .args(["count-tokens", "--json", "--prompts-dir", &prompts])
                .args(args),
        )
        .expect(0);
        out.json()["tokens"].as_u64().unwrap()
    };
    // v1 has no examples: the same request as its system prompt and templated input
    let by_prompt = count(&["--prompt", "sentiment@v1", "Great value"]);
    let by_hand = count(&[
        "--chat",
        "-s",
        "You are a sentiment classifier for product reviews.",
        "Review: Great value",
    ]);
    assert_eq!(by_prompt, by_hand);
    // v2's few-shot turns are counted too
    assert!(count(&["--prompt", "sentiment@v2", "Great value"]) > by_prompt + 30);

    let out = crate::run(crate::base(dir.path()).args([
        "estimate-cost",
        "--json",
        "--prompts-dir",
        &prompts,
        "--prompt",
        "contact",
        "Jane Doe, CTO",
    ]))
    .expect(0);
    let e = out.json();
    assert_eq!(e["output_tokens"], 400, "the prompt file's max_tokens");
    assert_eq!(
        e["input_tokens"].as_u64().unwrap(),
        count(&["--prompt", "contact", "Jane Doe, CTO"])
    );
    crate::run(crate::base(dir.path()).args(["count-tokens", "--var", "a=b", "x"])).expect(2);
}
