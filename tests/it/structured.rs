//! extract-json, classify and prompt files: the request each mode sends per provider, and
//! what comes out for clean, messy, invalid and refused replies.

use serde_json::{Value, json};

use crate::mock::{self, Mock};
use crate::{anthropic, base, openai, run, tmp};

fn repo_prompts() -> String {
    format!("{}/prompts", env!("CARGO_MANIFEST_DIR"))
}

const STRICT: &str = r#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}"#;
const LOOSE: &str = r#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"]}"#;

#[test]
fn openai_schema_modes_strict_and_not() {
    let dir = tmp();
    std::fs::write(dir.path().join("strict.json"), STRICT).unwrap();
    std::fs::write(dir.path().join("loose.json"), LOOSE).unwrap();
    for (file, strict) in [("strict.json", true), ("loose.json", false)] {
        let mock = Mock::start(vec![mock::openai_completion(r#"{"name":"Ada","age":36}"#)]);
        let out =
            run(openai(dir.path(), &mock).args(["extract-json", "--schema", file, "Ada, 36"]))
                .expect(0);
        assert_eq!(out.stdout, "{\"name\":\"Ada\",\"age\":36}\n");
        let body = mock.only_request().json();
        let rf = &body["response_format"];
        assert_eq!(rf["type"], "json_schema");
        assert_eq!(rf["json_schema"]["strict"], strict, "{file}");
        assert_eq!(rf["json_schema"]["name"], "extract");
        assert_eq!(
            rf["json_schema"]["schema"],
            serde_json::from_str::<Value>(if strict { STRICT } else { LOOSE }).unwrap()
        );
        assert!(
            body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("JSON Schema")
        );
    }
}

#[test]
fn without_a_schema_openai_uses_json_mode_and_anthropic_a_prefill() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion(
        "```json\n{\"a\": [1, 2,],}\n```",
    )]);
    let out = run(openai(dir.path(), &mock).args(["extract-json", "--pretty", "list a"])).expect(0);
    assert_eq!(out.stdout, "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n");
    let body = mock.only_request().json();
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );

    // Anthropic continues the `{` it was given; llmpipe puts it back
    let mock = Mock::start(vec![mock::anthropic_message("\"a\": 1}")]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "--json",
        "-m",
        "claude-haiku-4-5",
        "x",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["json"], json!({"a": 1}));
    assert_eq!(r["text"], "{\"a\": 1}");
    assert_eq!(r["repairs"], 0);
    let body = mock.only_request().json();
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(
        msgs.last().unwrap(),
        &json!({"role": "assistant", "content": "{"})
    );
    assert!(body.get("tools").is_none() && body.get("output_config").is_none());
}

#[test]
fn anthropic_native_structured_output_or_forced_tool() {
    let dir = tmp();
    std::fs::write(dir.path().join("strict.json"), STRICT).unwrap();
    std::fs::write(dir.path().join("loose.json"), LOOSE).unwrap();
    // a model with native structured outputs and a schema in the strict subset
    let mock = Mock::start(vec![mock::anthropic_message(r#"{"name":"Ada","age":36}"#)]);
    run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "--schema",
        "strict.json",
        "-m",
        "claude-haiku-4-5",
        "x",
    ]))
    .expect(0);
    let body = mock.only_request().json();
    assert_eq!(body["output_config"]["format"]["type"], "json_schema");
    assert_eq!(
        body["output_config"]["format"]["schema"],
        serde_json::from_str::<Value>(STRICT).unwrap()
    );
    assert!(body.get("tools").is_none());

    // an older model, or a schema outside the strict subset: a forced tool call
    for (model, file) in [
        ("claude-3-5-haiku", "strict.json"),
        ("claude-haiku-4-5", "loose.json"),
    ] {
        let mock = Mock::start(vec![mock::anthropic_tool_use(
            "extract",
            json!({"name": "Ada", "age": 36}),
        )]);
        let out = run(anthropic(dir.path(), &mock).args([
            "extract-json",
            "--schema",
            file,
            "-m",
            model,
            "x",
        ]))
        .expect(0);
        assert_eq!(out.stdout, "{\"name\":\"Ada\",\"age\":36}\n");
        let body = mock.only_request().json();
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "extract"})
        );
        assert_eq!(body["tools"][0]["name"], "extract");
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["name"],
            json!({"type": "string"})
        );
        assert!(body.get("output_config").is_none());
    }
}

#[test]
fn a_non_object_schema_is_wrapped_and_unwrapped() {
    let dir = tmp();
    let schema = r#"{"type":"array","items":{"type":"string"}}"#;
    let mock = Mock::start(vec![mock::openai_completion(r#"{"value":["a","b"]}"#)]);
    let out =
        run(openai(dir.path(), &mock).args(["extract-json", "--schema", schema, "x"])).expect(0);
    assert_eq!(out.stdout, "[\"a\",\"b\"]\n");
    let s = &mock.only_request().json()["response_format"]["json_schema"]["schema"];
    assert_eq!(
        s["properties"]["value"],
        serde_json::from_str::<Value>(schema).unwrap()
    );

    let mock = Mock::start(vec![mock::anthropic_tool_use(
        "extract",
        json!({"value": ["c"]}),
    )]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "--schema",
        schema,
        "-m",
        "claude-3-5-haiku",
        "x",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "[\"c\"]\n");
}

#[test]
fn a_schema_violation_is_repaired_with_the_errors_shown_to_the_model() {
    let dir = tmp();
    let mock = Mock::start(vec![
        mock::openai_completion(r#"Here you go: {"name": "Ada", "age": "thirty-six"}"#),
        mock::openai_completion(r#"{"name": "Ada", "age": 36}"#),
    ]);
    let out = run(openai(dir.path(), &mock).args([
        "extract-json",
        "--json",
        "--schema",
        "name, age int",
        "x",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["json"], json!({"name": "Ada", "age": 36}));
    assert_eq!(r["repairs"], 1);
    assert_eq!(r["attempts"], 2);
    assert_eq!(r["usage"]["input_tokens"], 38); // both calls add up
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    let msgs = reqs[1].json()["messages"].as_array().unwrap().clone();
    assert_eq!(msgs[msgs.len() - 2]["role"], "assistant");
    assert!(
        msgs[msgs.len() - 2]["content"]
            .as_str()
            .unwrap()
            .contains("thirty-six")
    );
    let fix = msgs[msgs.len() - 1]["content"].as_str().unwrap();
    assert!(fix.contains("/age") && fix.contains("integer"), "{fix}");
}

#[test]
fn an_unrepairable_reply_exits_6_with_the_error_and_the_raw_reply() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion(
        "I cannot produce JSON for that, sorry.",
    )]);
    let out = run(openai(dir.path(), &mock).args(["extract-json", "--json", "--repair", "2", "x"]))
        .expect(6);
    assert_eq!(mock.hits(), 3);
    assert!(out.stderr.contains("after 2 repair(s)"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("I cannot produce JSON for that, sorry.")
    );
    let r = out.json();
    assert_eq!(r["error"]["type"], "unusable_answer");
    assert_eq!(r["attempts"], 3);

    let mock = Mock::start(vec![mock::openai_completion(r#"{"name": 5}"#)]);
    let out = run(openai(dir.path(), &mock).args([
        "extract-json",
        "--repair",
        "0",
        "--schema",
        "name",
        "x",
    ]))
    .expect(6);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("/name:"), "{}", out.stderr);
    assert_eq!(mock.hits(), 1);
}

#[test]
fn refusals_exit_6_without_repairs() {
    let dir = tmp();
    let refusal = mock::full(
        200,
        &[],
        json!({"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
               "refusal": "I can't assist with that request."}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 6}})
        .to_string(),
    );
    let mock = Mock::start(vec![refusal]);
    let out =
        run(openai(dir.path(), &mock).args(["extract-json", "--schema", "name", "x"])).expect(6);
    assert!(out.stderr.contains("refused"));
    assert_eq!(mock.hits(), 1);
    let mock = Mock::start(vec![mock::anthropic_message_stop("", "refusal")]);
    let out = run(anthropic(dir.path(), &mock).args([
        "classify",
        "--labels",
        "a,b",
        "-m",
        "claude-3-5-haiku",
        "x",
    ]))
    .expect(6);
    assert!(out.stderr.contains("refused"));
    assert_eq!(mock.hits(), 1);
}

#[test]
fn invalid_schemas_are_usage_errors() {
    let dir = tmp();
    std::fs::write(dir.path().join("bad.json"), "{\"type\": 12}").unwrap();
    std::fs::write(dir.path().join("notjson.json"), "{type:").unwrap();
    let mock = Mock::start(vec![mock::openai_completion("{}")]);
    for (schema, needle) in [
        ("bad.json", "not a valid JSON Schema"),
        ("notjson.json", "is not JSON"),
        ("missing.json", "cannot read schema missing.json"),
        ("age uuid", "unknown type"),
    ] {
        let out = run(openai(dir.path(), &mock).args(["extract-json", "--schema", schema, "x"]))
            .expect(2);
        assert!(out.stderr.contains(needle), "{schema}: {}", out.stderr);
    }
    assert_eq!(mock.hits(), 0);
}

#[test]
fn contact_prompt_gives_schema_valid_json_on_both_providers() {
    let dir = tmp();
    let contact = json!({"name": "Jane Doe", "title": "CTO", "company": "Acme", "email": "jane@acme.io", "phone": null, "website": null});
    let signature = "--\nJane Doe | CTO, Acme\njane@acme.io\n";
    let mock = Mock::start(vec![mock::openai_completion(&contact.to_string())]);
    let out = run(openai(dir.path(), &mock)
        .args([
            "extract-json",
            "--json",
            "--prompts-dir",
            &repo_prompts(),
            "--prompt",
            "contact",
        ])
        .write_stdin(signature))
    .expect(0);
    let r = out.json();
    assert_eq!(r["json"], contact);
    assert_eq!(r["prompt"], "contact@v1");
    let body = mock.only_request().json();
    assert_eq!(body["max_completion_tokens"], 400);
    assert_eq!(body["response_format"]["json_schema"]["name"], "contact");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Signature:\n--\nJane Doe")
    );

    let mock = Mock::start(vec![mock::anthropic_message(&contact.to_string())]);
    let out = run(anthropic(dir.path(), &mock)
        .args([
            "extract-json",
            "--prompts-dir",
            &repo_prompts(),
            "--prompt",
            "contact",
            "-m",
            "claude-sonnet-4-5",
        ])
        .write_stdin(signature))
    .expect(0);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), contact);

    // a reply that breaks the schema twice ends in exit 6, never in invalid output
    let bad = json!({"name": "Jane"}).to_string();
    let mock = Mock::start(vec![mock::anthropic_message(&bad)]);
    let out = run(anthropic(dir.path(), &mock)
        .args([
            "extract-json",
            "--prompts-dir",
            &repo_prompts(),
            "--prompt",
            "contact",
            "-m",
            "claude-sonnet-4-5",
        ])
        .write_stdin(signature))
    .expect(6);
    assert_eq!(out.stdout, "");
    assert_eq!(mock.hits(), 2);
}

#[test]
fn classify_constrains_and_normalises_labels() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion(r#"{"label":"negative"}"#)]);
    let out = run(openai(dir.path(), &mock).args([
        "classify",
        "--labels",
        "positive, negative,neutral",
        "awful",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "negative\n");
    let body = mock.only_request().json();
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(
        schema["properties"]["label"]["enum"],
        json!(["positive", "negative", "neutral"])
    );
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("positive, negative, neutral")
    );

    // a compatible server that ignores the constraint and answers in prose-ish text
    let mock = Mock::start(vec![mock::openai_completion("  \"NEUTRAL\".\n")]);
    let out = run(openai(dir.path(), &mock).args([
        "classify",
        "--json",
        "--labels",
        "positive,negative,neutral",
        "meh",
    ]))
    .expect(0);
    assert_eq!(out.json()["label"], "neutral");

    // Anthropic without native structured outputs: a forced tool with the enum
    let mock = Mock::start(vec![mock::anthropic_tool_use(
        "classify",
        json!({"label": "positive"}),
    )]);
    let out = run(anthropic(dir.path(), &mock).args([
        "classify",
        "--labels",
        "positive,negative",
        "-m",
        "claude-3-5-haiku",
        "yay",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "positive\n");
    let body = mock.only_request().json();
    assert_eq!(
        body["tools"][0]["input_schema"]["properties"]["label"]["enum"],
        json!(["positive", "negative"])
    );
    assert_eq!(body["tool_choice"]["name"], "classify");
}

#[test]
fn an_off_set_label_is_exit_6_and_never_printed() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("mixed")]);
    let out = run(openai(dir.path(), &mock).args([
        "classify",
        "--json",
        "--labels",
        "positive,negative",
        "x",
    ]))
    .expect(6);
    assert!(
        out.stderr
            .contains("`mixed`, which is not one of: positive, negative"),
        "{}",
        out.stderr
    );
    let r = out.json();
    assert_eq!(r["error"]["type"], "unusable_answer");
    assert!(r.get("label").is_none());
    let out =
        run(openai(dir.path(), &mock).args(["classify", "--labels", "positive,negative", "x"]))
            .expect(6);
    assert_eq!(out.stdout, "");
    run(openai(dir.path(), &mock).args(["classify", "x"])).expect(2);
    run(openai(dir.path(), &mock).args(["classify", "--labels", "a,A", "x"])).expect(2);
}

#[test]
fn prompt_versions_are_selectable_and_recorded() {
    let dir = tmp();
    for (version, messages) in [("sentiment@v1", 2), ("sentiment@v2", 8), ("sentiment", 8)] {
        let mock = Mock::start(vec![mock::openai_completion(r#"{"label":"positive"}"#)]);
        let out = run(openai(dir.path(), &mock).args([
            "classify",
            "--json",
            "--prompts-dir",
            &repo_prompts(),
            "--prompt",
            version,
            "Love it",
        ]))
        .expect(0);
        let r = out.json();
        assert_eq!(r["label"], "positive");
        let want = if version == "sentiment@v1" {
            "sentiment@v1"
        } else {
            "sentiment@v2"
        };
        assert_eq!(r["prompt"], want);
        let body = mock.only_request().json();
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), messages, "{version}");
        assert_eq!(msgs.last().unwrap()["content"], "Review: Love it");
        assert_eq!(body["temperature"], 0.0);
        if messages == 8 {
            assert_eq!(
                msgs[1],
                json!({"role": "user", "content": "Review: I love this product! Works perfectly."})
            );
            assert_eq!(msgs[2], json!({"role": "assistant", "content": "positive"}));
        }
    }
}

#[test]
fn prompt_files_from_the_search_path_with_vars_and_errors() {
    let dir = tmp();
    let prompts = dir.path().join("prompts/greet");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(prompts.join("v1.md"), "+++\nsystem = \"Be kind.\"\nmodel = \"gpt-4o\"\n+++\nGreet {{who}} in {{lang}}: {{input}}\n").unwrap();
    std::fs::write(
        prompts.join("v2.md"),
        "+++\nsystem = \"x\"\nbogus = 1\n+++\nhi\n",
    )
    .unwrap();
    let mock = Mock::start(vec![mock::openai_completion("Hola")]);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "--json",
        "--prompt",
        "greet@1",
        "--var",
        "who=Ana",
        "--var",
        "lang=Spanish",
        "-s",
        "Be brief.",
        "now",
    ]))
    .expect(0);
    assert_eq!(out.json()["prompt"], "greet@v1");
    let body = mock.only_request().json();
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Greet Ana in Spanish: now"}])
    );
    let out = run(openai(dir.path(), &mock).args([
        "complete", "--json", "--prompt", "greet@v1", "--var", "who=Ana", "now",
    ]))
    .expect(2);
    assert!(
        out.stderr
            .contains("prompts/greet/v1.md:5: variable `lang` has no value"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["error"]["type"], "usage");
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--prompt", "greet", "now"])).expect(2);
    assert!(
        out.stderr
            .contains("prompts/greet/v2.md:3: unknown field `bogus`"),
        "{}",
        out.stderr
    );
    let out =
        run(openai(dir.path(), &mock).args(["complete", "--prompt", "nope", "now"])).expect(2);
    assert!(
        out.stderr.contains("no prompt named nope"),
        "{}",
        out.stderr
    );
    run(openai(dir.path(), &mock).args(["complete", "--var", "a=b", "now"])).expect(2);
    assert_eq!(mock.hits(), 1);
}

#[test]
fn prompts_command_lists_shows_and_renders() {
    let dir = tmp();
    let out = run(base(dir.path()).args([
        "prompts",
        "list",
        "--json",
        "--prompts-dir",
        &repo_prompts(),
    ]))
    .expect(0);
    let rows = out.lines();
    let sentiment = rows.iter().find(|r| r["name"] == "sentiment").unwrap();
    assert_eq!(sentiment["latest"], 2);
    assert_eq!(sentiment["versions"], json!([1, 2]));
    let out = run(base(dir.path()).args([
        "prompts",
        "show",
        "sentiment@v1",
        "--prompts-dir",
        &repo_prompts(),
    ]))
    .expect(0);
    assert!(
        out.stdout
            .starts_with("+++\ndescription = \"Sentiment of a product review\"")
    );
    let out = run(base(dir.path()).args([
        "prompts",
        "render",
        "sentiment@v2",
        "--json",
        "--prompts-dir",
        &repo_prompts(),
        "Nice",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["prompt"], "sentiment@v2");
    assert_eq!(r["openai"]["messages"][0]["role"], "system");
    assert_eq!(r["openai"]["messages"].as_array().unwrap().len(), 8);
    assert_eq!(r["anthropic"]["messages"].as_array().unwrap().len(), 7);
    assert!(
        r["anthropic"]["system"]
            .as_str()
            .unwrap()
            .starts_with("You are a sentiment classifier")
    );
    assert_eq!(r["anthropic"]["messages"][6]["content"], "Review: Nice");
    run(base(dir.path()).args(["prompts", "show", "nope", "--prompts-dir", &repo_prompts()]))
        .expect(2);
}
