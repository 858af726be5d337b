//! Hostile tests of the prices work: `models update` on odd sources, and costs that must
//! agree with the genai-prices database.

use std::time::Duration;

use crate::*;

#[test]
fn models_update_from_a_fifo_is_refused_not_a_hang() {
    let dir = tmp();
    let fifo = dir.path().join("prices.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // Nobody ever writes to it: opening it for reading would block for ever (and SIGTERM
    // does not end a process blocked in open).
    let out = run(base(dir.path())
        .args(["models", "update", "--from"])
        .arg(&fifo)
        .timeout(Duration::from_secs(10)))
    .expect(2);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(!dir.path().join(".local/share/llmpipe/prices.json").exists());
}

#[test]
fn a_config_price_covers_the_dated_ids_of_its_model() {
    // The config file prices `claude-sonnet-4-5` (the database: 3 / 15); asking for its
    // dated id must use the config price in the estimate, the --max-cost guard and the
    // call's cost_usd, as the reported dated id already does.
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"claude-sonnet-4-5\"]\ninput = 1.0\noutput = 2.0\n\n[prices.\"gpt-4o\"]\ninput = 0.0\noutput = 0.0\n",
    )
    .unwrap();
    let e = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "claude-sonnet-4-5-20250929",
        "--max-tokens",
        "1000",
        "x",
    ]))
    .expect(0)
    .json();
    assert_eq!(e["price_source"], "config file", "{e}");
    assert_eq!(e["output_cost_usd"], 0.002, "{e}");
    // Free by the config file: a budget of 0 lets it through, dated or not.
    let mock = mock::Mock::start(vec![mock::full(
        200,
        &[("content-type", "application/json")],
        serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010}
        })
        .to_string(),
    )]);
    let r = run(openai(dir.path(), &mock).args([
        "complete",
        "--json",
        "-m",
        "gpt-4o-2024-08-06",
        "--max-cost",
        "0",
        "x",
    ]))
    .expect(0)
    .json();
    assert_eq!(r["cost_usd"], 0.0, "{r}");
}

#[test]
fn a_downloaded_file_damaged_inside_falls_back_to_the_bundled_prices() {
    // Valid JSON with both providers (so it loads), but its models are damaged after
    // `models update` checked them: every price comes from the bundled data with a
    // warning, never "no price known".
    let dir = tmp();
    let file = dir.path().join(".local/share/llmpipe/prices.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut data: serde_json::Value =
        serde_json::from_slice(&std::fs::read("data/genai-prices.json").unwrap()).unwrap();
    for p in data.as_array_mut().unwrap() {
        for m in p["models"].as_array_mut().unwrap() {
            m["prices"] = serde_json::json!({"input_mtok": "bad"});
        }
    }
    std::fs::write(&file, data.to_string()).unwrap();
    // gpt-4o in the bundled data: 2.5 / 10 per million.
    let e = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--max-tokens",
        "1000",
        "x",
    ]))
    .expect(0);
    assert_eq!(e.json()["output_cost_usd"], 0.01, "{}", e.stdout);
    assert!(e.stderr.contains("bundled"), "{}", e.stderr);
    // Models that do not parse at all.
    std::fs::write(
        &file,
        r#"[{"id":"openai","models":[1]},{"id":"anthropic","models":[{"id":"y"}]}]"#,
    )
    .unwrap();
    for model in ["gpt-4o", "claude-opus-5-5"] {
        let e = run(base(dir.path()).args(["estimate-cost", "--json", "-m", model, "x"])).expect(0);
        assert!(e.json()["total_cost_usd"].as_f64().unwrap() > 0.0);
        assert!(e.stderr.contains("bundled"), "{}", e.stderr);
    }
    let out = run(base(dir.path()).args(["models", "--json"])).expect(0);
    assert!(
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["priced"] == true),
        "{}",
        out.stdout
    );
}
