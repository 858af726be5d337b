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
