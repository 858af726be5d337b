//! `--effort` and `--cache-prompt` (SPEC "Reasoning effort and prompt caching", PROTOCOLS.md
//! H): the request fields each provider gets (checked on what the mock received), levels a
//! model does not take, the thinking budget raising `max_tokens`, thinking text kept off
//! stdout, no prefill with thinking, cache breakpoints, and cached usage priced lower.

use serde_json::{Value, json};

use crate::mock::{self, MOCK_THINKING, Mock};
use crate::{anthropic, openai, run, tmp};

/// Hand-computed costs from today's price table in `src/models.rs` (USD per million tokens):
/// the one place to update when the prices change.
mod prices {
    /// claude-sonnet-4-5: input, 5-minute cache write, cache read, output.
    pub const SONNET_45: (f64, f64, f64, f64) = (3.00, 3.75, 0.30, 15.00);
    /// gpt-4.1: input, cached input, output.
    pub const GPT_41: (f64, f64, f64) = (2.00, 0.50, 8.00);
}

/// A system prompt of exactly `SYSTEM_BYTES` bytes: 1,500 mock tokens, above the
/// 1,024-token minimum both APIs cache.
const SYSTEM_BYTES: usize = 6000;
const ANSWER: &str = "Answer.";

fn long_system() -> String {
    "Be precise. ".repeat(SYSTEM_BYTES / 12)
}

fn body_of(mock: &Mock) -> Value {
    mock.only_request().json()
}

/// Every `cache_control` marker in a request body, in order.
fn markers(v: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    fn walk(v: &Value, found: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                if let Some(c) = m.get("cache_control") {
                    found.push(c.clone());
                }
                m.values().for_each(|x| walk(x, found));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    walk(v, &mut found);
    found
}

#[test]
fn effort_on_openai_is_reasoning_effort() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    let out = run(openai(dir.path(), &mock).args([
        "complete", "-m", "gpt-5.1", "--effort", "low", "--json", "hi",
    ]))
    .expect(0);
    let body = body_of(&mock);
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["max_completion_tokens"], 1024);
    let r = out.json();
    assert_eq!(r["text"], ANSWER);
    assert_eq!(r["usage"]["reasoning_tokens"], 64);
    // Chat Completions returns no reasoning text.
    assert!(r.get("reasoning").is_none());
}

#[test]
fn effort_on_adaptive_claude_models_is_output_config_effort() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-opus-4-8",
        "--effort",
        "xhigh",
        "--json",
        "hi",
    ]))
    .expect(0);
    let body = body_of(&mock);
    // Opus 4.7 and later return thinking text only when asked for a summary.
    assert_eq!(
        body["thinking"],
        json!({"type": "adaptive", "display": "summarized"})
    );
    assert_eq!(out.json()["reasoning"], MOCK_THINKING);
    assert_eq!(body["output_config"], json!({"effort": "xhigh"}));
    assert_eq!(body["max_tokens"], 1024, "no budget, no raise");
    assert!(body.get("temperature").is_none());
}

#[test]
fn budget_thinking_raises_max_tokens_and_max_cost_counts_it() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "medium",
        "--max-tokens",
        "1000",
        "-v",
        "hi",
    ]))
    .expect(0);
    let body = body_of(&mock);
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(body["max_tokens"], 1000 + 4096);
    assert!(body.get("output_config").is_none());
    assert!(
        out.stderr.contains("max_tokens raised from 1000 to 5096"),
        "{}",
        out.stderr
    );
    // A cap above the budget is sent as it is.
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "medium",
        "--max-tokens",
        "8000",
        "hi",
    ]))
    .expect(0);
    assert_eq!(body_of(&mock)["max_tokens"], 8000);
    // --max-cost counts the raised cap: 5,096 output tokens at $15/M is $0.07644, above
    // $0.05, though 1,000 would be $0.015.
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "medium",
        "--max-tokens",
        "1000",
        "--max-cost",
        "0.05",
        "hi",
    ]))
    .expect(7);
    assert!(out.stderr.contains("5096 output tokens"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--max-tokens",
        "1000",
        "--max-cost",
        "0.05",
        "hi",
    ]))
    .expect(0);
}

#[test]
fn a_level_the_model_does_not_take_is_exit_2_listing_its_levels() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    let out =
        run(openai(dir.path(), &mock)
            .args(["complete", "-m", "gpt-5.1", "--effort", "xhigh", "hi"]))
        .expect(2);
    assert!(
        out.stderr.contains("it takes: none, low, medium, high"),
        "{}",
        out.stderr
    );
    let out = run(openai(dir.path(), &mock).args([
        "complete", "-m", "gpt-4o", "--effort", "low", "--json", "hi",
    ]))
    .expect(2);
    assert_eq!(out.json()["error"]["type"], "usage");
    assert!(
        out.stderr.contains("takes no --effort level"),
        "{}",
        out.stderr
    );
    let amock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &amock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "max",
        "hi",
    ]))
    .expect(2);
    assert!(
        out.stderr.contains("it takes: low, medium, high"),
        "{}",
        out.stderr
    );
    // A fallback that does not take the level stops the run too, before anything is sent.
    let out = run(anthropic(dir.path(), &amock).args([
        "complete",
        "-m",
        "claude-opus-4-6",
        "--fallback",
        "claude-3-5-haiku",
        "--effort",
        "low",
        "hi",
    ]))
    .expect(2);
    assert!(out.stderr.contains("claude-3-5-haiku"), "{}", out.stderr);
    // Not a level at all: clap lists them.
    let out = run(
        openai(dir.path(), &mock).args(["complete", "-m", "gpt-5.1", "--effort", "huge", "hi"])
    )
    .expect(2);
    assert!(out.stderr.contains("minimal"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
    assert_eq!(amock.hits(), 0);
}

#[test]
fn a_model_llmpipe_does_not_know_gets_the_level_and_the_api_decides() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "local-model",
        "--effort",
        "high",
        "hi",
    ]))
    .expect(4);
    assert_eq!(body_of(&mock)["reasoning_effort"], "high");
    assert!(out.stderr.contains("reasoning_effort"), "{}", out.stderr);
}

#[test]
fn thinking_goes_to_stderr_with_v_and_into_reasoning_with_json() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-opus-4-6",
        "--effort",
        "high",
        "--json",
        "-v",
        "hi",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["text"], ANSWER);
    assert_eq!(r["reasoning"], MOCK_THINKING);
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys.last().unwrap().as_str(), "reasoning");
    assert!(out.stderr.contains(MOCK_THINKING), "{}", out.stderr);
    // Plain output: the answer only; without -v the thinking is not shown.
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-opus-4-6",
        "--effort",
        "high",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.stdout, format!("{ANSWER}\n"));
    assert!(!out.stderr.contains(MOCK_THINKING), "{}", out.stderr);
    // Without --effort there is no thinking and no `reasoning` member.
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-opus-4-6",
        "--json",
        "hi",
    ]))
    .expect(0);
    assert!(out.json().get("reasoning").is_none());
}

#[test]
fn streamed_thinking_stays_off_stdout() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "stream",
        "-m",
        "claude-opus-4-6",
        "--effort",
        "low",
        "-v",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.stdout, format!("{ANSWER}\n"));
    // Shown as it arrives (two deltas), once.
    assert!(
        out.stderr
            .contains(&format!("llmpipe: thinking:\n{MOCK_THINKING}\n")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches(MOCK_THINKING).count(), 1);
    let out = run(anthropic(dir.path(), &mock).args([
        "stream",
        "-m",
        "claude-opus-4-6",
        "--effort",
        "low",
        "--json",
        "hi",
    ]))
    .expect(0);
    let lines = out.lines();
    let deltas: String = lines
        .iter()
        .filter(|l| l["type"] == "delta")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ANSWER);
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["reasoning"], MOCK_THINKING);
    assert_eq!(mock.requests()[1].json()["stream"], true);
}

#[test]
fn extract_json_does_not_prefill_or_force_a_tool_with_thinking() {
    let dir = tmp();
    // JSON mode: no assistant prefill, and nothing put in front of the reply.
    let mock = Mock::start(vec![mock::anthropic_smart(r#"{"a": 1}"#)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "-m",
        "claude-sonnet-4-6",
        "--effort",
        "low",
        "list a",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "{\"a\":1}\n");
    let body = body_of(&mock);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["role"], "user");
    // A schema through the forced-tool fallback: the tool is offered, not forced.
    let mock = Mock::start(vec![mock::anthropic_smart(r#"{"a": 1}"#)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "-m",
        "claude-3-7-sonnet-20250219",
        "--schema",
        "a int",
        "--effort",
        "low",
        "list a",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "{\"a\":1}\n");
    let body = body_of(&mock);
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    // Without --effort a model that takes a prefill still gets one.
    let mock = Mock::start(vec![mock::anthropic_smart(r#""a": 1}"#)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "-m",
        "claude-sonnet-4-5",
        "list a",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "{\"a\":1}\n");
    let body = body_of(&mock);
    assert_eq!(
        body["messages"].as_array().unwrap().last().unwrap(),
        &json!({"role": "assistant", "content": "{"})
    );
    // The 4.6 generation and later refuse a prefill even without thinking; they have native
    // structured outputs, so a schema needs no tool (the 5.x generation thinks by default,
    // which a forced tool would not be allowed with).
    for (model, schema) in [
        ("claude-sonnet-4-6", None),
        ("claude-sonnet-5", Some("a int")),
    ] {
        let mock = Mock::start(vec![mock::anthropic_smart(r#"{"a": 1}"#)]);
        let mut args = vec!["extract-json", "-m", model];
        if let Some(s) = schema {
            args.extend(["--schema", s]);
        }
        args.push("list a");
        let out = run(anthropic(dir.path(), &mock).args(&args)).expect(0);
        assert_eq!(out.stdout, "{\"a\":1}\n", "{model}");
        let body = body_of(&mock);
        assert_eq!(body["messages"].as_array().unwrap().len(), 1, "{model}");
        if schema.is_some() {
            assert_eq!(
                body["output_config"]["format"]["type"], "json_schema",
                "{model}"
            );
            assert!(body.get("tool_choice").is_none(), "{model}");
        }
    }
}

#[test]
fn temperature_with_claude_thinking_is_a_usage_error() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "low",
        "-t",
        "0.2",
        "hi",
    ]))
    .expect(2);
    assert!(out.stderr.contains("temperature 1"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "low",
        "-t",
        "1",
        "hi",
    ]))
    .expect(0);
}

fn write_prompt(dir: &std::path::Path, name: &str, front: &str) {
    let p = dir.join("prompts").join(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("v1.md"),
        format!(
            "+++\n{front}system = \"You sort fruit.\"\n\n[[examples]]\ninput = \"apple\"\noutput = \"fruit\"\n\n[[examples]]\ninput = \"carrot\"\noutput = \"vegetable\"\n+++\nItem: {{{{input}}}}\n"
        ),
    )
    .unwrap();
}

#[test]
fn cache_prompt_marks_tools_system_and_examples() {
    let dir = tmp();
    write_prompt(dir.path(), "sort", "");
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    // --dry-run shows the markers: the system prompt and the last example (5m: no ttl).
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--prompt",
        "sort",
        "--cache-prompt",
        "--dry-run",
        "pear",
    ]))
    .expect(0);
    let body = out.json()["body"].clone();
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You sort fruit.", "cache_control": {"type": "ephemeral"}}])
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5);
    assert_eq!(
        messages[3]["content"],
        json!([{"type": "text", "text": "vegetable", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(messages[4]["content"], "Item: pear");
    assert_eq!(markers(&body).len(), 2);
    // 1h, and a forced tool (extract-json with a schema on a model without native
    // structured output): tool, system and last example, each with the ttl; what the mock
    // (which refuses more than four) received.
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "-m",
        "claude-3-7-sonnet-20250219",
        "--schema",
        "kind",
        "--prompt",
        "sort",
        "--cache-prompt=1h",
        "--repair",
        "0",
        "pear",
    ]));
    // The mock answers with text, not the forced tool call: unusable, but sent.
    assert!(out.code == 0 || out.code == 6, "{out:?}");
    let body = mock.only_request().json();
    let found = markers(&body);
    assert_eq!(found.len(), 3, "{body}");
    assert!(found.len() <= 4);
    assert!(
        found
            .iter()
            .all(|m| *m == json!({"type": "ephemeral", "ttl": "1h"}))
    );
    assert!(body["tools"][0].get("cache_control").is_some());
    // `--cache-prompt 1h` (no `=`) is the flag and a prompt word: the value needs `=`.
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--cache-prompt",
        "1h",
        "--dry-run",
    ]))
    .expect(0);
    let body = out.json()["body"].clone();
    assert_eq!(body["messages"][0]["content"], "1h");
    assert_eq!(markers(&body).len(), 0, "no stable prefix to mark");
}

#[test]
fn a_prompt_file_may_ask_for_prompt_caching() {
    let dir = tmp();
    write_prompt(dir.path(), "sort", "cache_prompt = \"1h\"\n");
    write_prompt(dir.path(), "bad", "cache_prompt = \"2h\"\n");
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--prompt",
        "sort",
        "--dry-run",
        "pear",
    ]))
    .expect(0);
    let found = markers(&out.json()["body"]);
    assert_eq!(found.len(), 2);
    assert!(
        found
            .iter()
            .all(|m| *m == json!({"type": "ephemeral", "ttl": "1h"}))
    );
    // OpenAI: the prompt's name and version as prompt_cache_key.
    run(openai(dir.path(), &mock).args(["complete", "-m", "gpt-4.1", "--prompt", "sort", "pear"]))
        .expect(0);
    assert_eq!(body_of(&mock)["prompt_cache_key"], "sort@v1");
    // A long prompt name is shortened to the API's 64 characters, the version kept.
    let long = "n".repeat(70);
    write_prompt(dir.path(), &long, "cache_prompt = \"5m\"\n");
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    run(openai(dir.path(), &mock).args(["complete", "-m", "gpt-4.1", "--prompt", &long, "pear"]))
        .expect(0);
    assert_eq!(
        body_of(&mock)["prompt_cache_key"],
        format!("{}@v1", "n".repeat(61))
    );
    // Without a prompt file (and without --cache-prompt) nothing is added.
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    run(openai(dir.path(), &mock).args(["complete", "-m", "gpt-4.1", "--cache-prompt", "pear"]))
        .expect(0);
    assert!(body_of(&mock).get("prompt_cache_key").is_none());
    let out = run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-sonnet-4-5",
        "--prompt",
        "bad",
        "--dry-run",
        "pear",
    ]))
    .expect(2);
    assert!(out.stderr.contains("v1.md:2:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\"5m\", \"1h\", true or false"),
        "{}",
        out.stderr
    );
    // A plain switch: true is the default lifetime, false is off.
    for (value, marked) in [("true", 1), ("false", 0)] {
        write_prompt(dir.path(), "switch", &format!("cache_prompt = {value}\n"));
        let out = run(anthropic(dir.path(), &mock).args([
            "complete",
            "-m",
            "claude-sonnet-4-5",
            "-s",
            "Be brief.",
            "--prompt",
            "switch",
            "--dry-run",
            "pear",
        ]))
        .expect(0);
        let found = markers(&out.json()["body"]);
        assert!(found.len() >= marked, "{value}: {found:?}");
        if marked == 0 {
            assert!(found.is_empty(), "{value}: {found:?}");
        } else {
            assert!(found.iter().all(|m| *m == json!({"type": "ephemeral"})));
        }
    }
}

#[test]
fn anthropic_cache_writes_then_reads_and_the_second_call_costs_less() {
    let dir = tmp();
    let system = long_system();
    assert_eq!(system.len(), SYSTEM_BYTES);
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let call = |cmd: &str, extra: &[&str]| {
        let mut args = vec![cmd, "-m", "claude-sonnet-4-5", "-s", &system, "--json"];
        args.extend_from_slice(extra);
        args.push("hi");
        run(anthropic(dir.path(), &mock).args(&args)).expect(0)
    };
    // 1,500 system tokens cached; "hi" is 1 token, "Answer." 2 (the mock's count).
    let (input, write, read, output) = prices::SONNET_45;
    let first_cost = (1.0 * input + 1500.0 * write + 2.0 * output) / 1e6;
    let second_cost = (1.0 * input + 1500.0 * read + 2.0 * output) / 1e6;
    let first = call("complete", &["--cache-prompt"]).json();
    assert_eq!(
        first["usage"],
        json!({"input_tokens": 1501, "output_tokens": 2, "cached_input_tokens": 0,
               "cache_write_input_tokens": 1500})
    );
    let second = call("complete", &["--cache-prompt"]).json();
    assert_eq!(
        second["usage"],
        json!({"input_tokens": 1501, "output_tokens": 2, "cached_input_tokens": 1500,
               "cache_write_input_tokens": 0})
    );
    let (c1, c2) = (
        first["cost_usd"].as_f64().unwrap(),
        second["cost_usd"].as_f64().unwrap(),
    );
    assert!((c1 - first_cost).abs() < 1e-9, "{c1} vs {first_cost}");
    assert!((c2 - second_cost).abs() < 1e-9, "{c2} vs {second_cost}");
    assert!(c2 < c1);
    // Streamed: the same reads, from message_start.
    let out = call("stream", &["--cache-prompt"]);
    let result = out.lines().last().cloned().unwrap();
    assert_eq!(result["usage"]["cached_input_tokens"], 1500);
    assert_eq!(result["usage"]["input_tokens"], 1501);
    // Without --cache-prompt nothing is marked, written or read.
    let plain = call("complete", &[]).json();
    assert_eq!(plain["usage"]["cached_input_tokens"], 0);
    assert_eq!(plain["usage"]["cache_write_input_tokens"], 0);
    for r in mock.requests().iter().take(3) {
        assert_eq!(markers(&r.json()).len(), 1);
    }
    assert_eq!(markers(&mock.requests()[3].json()).len(), 0);
}

#[test]
fn one_hour_cache_writes_are_reported_apart() {
    let dir = tmp();
    let system = long_system();
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    for cmd in ["complete", "stream"] {
        let out = run(anthropic(dir.path(), &mock).args([
            cmd,
            "-m",
            "claude-opus-4-6",
            "-s",
            &system,
            "--cache-prompt=1h",
            "--json",
            // a different input each time: the system prefix is written once, then read
            cmd,
        ]))
        .expect(0);
        let result = out.lines().last().cloned().unwrap();
        if cmd == "complete" {
            assert_eq!(result["usage"]["cache_write_input_tokens"], 1500);
            assert_eq!(result["usage"]["cache_write_1h_input_tokens"], 1500);
        } else {
            assert_eq!(result["usage"]["cached_input_tokens"], 1500);
            assert!(result["usage"].get("cache_write_1h_input_tokens").is_none());
        }
    }
    // A streamed first write is split the same way.
    let mock = Mock::start(vec![mock::anthropic_smart(ANSWER)]);
    let out = run(anthropic(dir.path(), &mock).args([
        "stream",
        "-m",
        "claude-opus-4-6",
        "-s",
        &system,
        "--cache-prompt=1h",
        "--json",
        "hi",
    ]))
    .expect(0);
    let result = out.lines().last().cloned().unwrap();
    assert_eq!(result["usage"]["cache_write_1h_input_tokens"], 1500);
    assert_eq!(result["usage"]["input_tokens"], 1501);
    // Priced at the database's claude-opus-4-6 rates since 2026-03-13: input $5, 1-hour cache
    // write $10 (not the 5-minute $6.25), output $25 per million.
    let out_tokens = result["usage"]["output_tokens"].as_f64().unwrap();
    let expect = (1.0 * 5.0 + 1500.0 * 10.0 + out_tokens * 25.0) / 1e6;
    let cost = result["cost_usd"].as_f64().unwrap();
    assert!((cost - expect).abs() < 1e-9, "{cost} != {expect}");
}

#[test]
fn openai_cached_prompt_is_read_on_the_second_call_and_costs_less() {
    let dir = tmp();
    let p = dir.path().join("prompts/faq");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("v1.md"),
        format!("+++\nsystem = \"{}\"\n+++\n{{{{input}}}}\n", long_system()),
    )
    .unwrap();
    let mock = Mock::start(vec![mock::openai_smart(ANSWER)]);
    let call = || {
        run(openai(dir.path(), &mock).args([
            "complete",
            "-m",
            "gpt-4.1",
            "--prompt",
            "faq",
            "--cache-prompt",
            "--json",
            "hi",
        ]))
        .expect(0)
        .json()
    };
    // The mock's count: system 1,500 + 4, user 1 + 4; cached in 128-token steps.
    let (input, cached, output) = prices::GPT_41;
    let first_cost = (1509.0 * input + 2.0 * output) / 1e6;
    let second_cost = ((1509.0 - 1408.0) * input + 1408.0 * cached + 2.0 * output) / 1e6;
    let first = call();
    let second = call();
    assert_eq!(first["usage"]["input_tokens"], 1509);
    assert_eq!(first["usage"]["cached_input_tokens"], 0);
    assert_eq!(second["usage"]["input_tokens"], 1509);
    assert_eq!(second["usage"]["cached_input_tokens"], 1408);
    assert_eq!(second["usage"]["cache_write_input_tokens"], 0);
    let (c1, c2) = (
        first["cost_usd"].as_f64().unwrap(),
        second["cost_usd"].as_f64().unwrap(),
    );
    assert!((c1 - first_cost).abs() < 1e-9, "{c1} vs {first_cost}");
    assert!((c2 - second_cost).abs() < 1e-9, "{c2} vs {second_cost}");
    assert!(c2 < c1);
    for r in mock.requests() {
        assert_eq!(r.json()["prompt_cache_key"], "faq@v1");
    }
}

/// `estimate-cost --effort` prices the output cap the request would carry: a Claude
/// thinking budget raises it as `complete` would; a model that takes no such level is exit 2;
/// `--compare` leaves such models out with a note.
#[test]
fn estimate_cost_counts_the_cap_effort_would_send() {
    let dir = tmp();
    let est = |args: &[&str]| {
        let mut c = crate::base(dir.path());
        c.args(["estimate-cost", "--json", "--max-tokens", "1000"])
            .args(args);
        run(&mut c)
    };
    let r = est(&["-m", "claude-sonnet-4-5", "--effort", "medium", "hi"])
        .expect(0)
        .json();
    assert_eq!(r["output_tokens"], 1000 + 4096, "{r}");
    // Without --effort, or with an explicit --output-tokens, the cap is as given.
    let r = est(&["-m", "claude-sonnet-4-5", "hi"]).expect(0).json();
    assert_eq!(r["output_tokens"], 1000, "{r}");
    let r = est(&[
        "-m",
        "claude-sonnet-4-5",
        "--effort",
        "medium",
        "--output-tokens",
        "7",
        "hi",
    ])
    .expect(0)
    .json();
    assert_eq!(r["output_tokens"], 7, "{r}");
    let e = est(&["-m", "gpt-4o", "--effort", "high", "hi"]).expect(2);
    assert!(e.stdout.contains("takes no --effort level"), "{}", e.stdout);
    let out = est(&[
        "--compare",
        "gpt-4o,claude-sonnet-4-5",
        "--effort",
        "high",
        "hi",
    ])
    .expect(0);
    let rows = out.json();
    let models: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["claude-sonnet-4-5"], "{rows}");
    assert_eq!(rows[0]["output_tokens"], 1000 + 16_384, "{rows}");
    assert!(out.stderr.contains("left out: gpt-4o"), "{}", out.stderr);
}
