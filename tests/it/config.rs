//! Keys, .env, base URLs, the config file, --dry-run.

use serde_json::json;

use crate::mock::{self, Mock};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, base, openai, run, tmp};

#[test]
fn a_missing_key_names_the_variable_and_dotenv_and_exits_3() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("x")]);
    for (model, var) in [
        ("gpt-4o", "OPENAI_API_KEY"),
        ("claude-haiku-4-5", "ANTHROPIC_API_KEY"),
    ] {
        let out = run(base(dir.path())
            .env("OPENAI_BASE_URL", &mock.url)
            .env("ANTHROPIC_BASE_URL", &mock.url)
            .args(["complete", "--json", "-m", model, "hi"]))
        .expect(3);
        assert!(
            out.stderr.contains(var) && out.stderr.contains(".env"),
            "{}",
            out.stderr
        );
        assert_eq!(out.json()["error"]["type"], "config");
    }
    // only the provider used needs a key
    let out = run(openai(dir.path(), &mock).args(["complete", "-m", "gpt-4o", "hi"])).expect(0);
    assert_eq!(out.stdout, "x\n");
    assert_eq!(mock.hits(), 1);
}

#[test]
fn dotenv_fills_in_but_never_overrides_the_environment() {
    let dir = tmp();
    std::fs::write(
        dir.path().join(".env"),
        format!("# comment\nOPENAI_API_KEY={OPENAI_KEY}\nLLMPIPE_MODEL=gpt-4.1-nano\n"),
    )
    .unwrap();
    let mock = Mock::start(vec![mock::openai_completion("from dotenv")]);
    run(base(dir.path())
        .env("OPENAI_BASE_URL", &mock.url)
        .args(["complete", "hi"]))
    .expect(0);
    let req = mock.only_request();
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(req.json()["model"], "gpt-4.1-nano");

    // the environment wins over .env
    let mock = Mock::start(vec![mock::openai_completion("env")]);
    run(base(dir.path())
        .env("OPENAI_BASE_URL", &mock.url)
        .env("OPENAI_API_KEY", "sk-from-env")
        .env("LLMPIPE_MODEL", "gpt-4o")
        .args(["complete", "hi"]))
    .expect(0);
    let req = mock.only_request();
    assert_eq!(req.header("authorization"), Some("Bearer sk-from-env"));
    assert_eq!(req.json()["model"], "gpt-4o");
}

#[test]
fn dry_run_shows_the_exact_request_without_secrets_and_sends_nothing() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("never")]);
    for (model, auth_header, shown) in [
        ("gpt-4o", "authorization", "Bearer [REDACTED]"),
        ("claude-haiku-4-5", "x-api-key", "[REDACTED]"),
    ] {
        let out = run(base(dir.path())
            .env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
            .env("ANTHROPIC_BASE_URL", &mock.url)
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .args(["stream", "--dry-run", "-m", model, "-s", "sys", "hi"]))
        .expect(0);
        let r = out.json();
        assert_eq!(r["method"], "POST");
        assert_eq!(r["headers"][auth_header], shown);
        assert_eq!(r["body"]["model"], model);
        assert_eq!(r["body"]["stream"], true);
    }
    // and it works with no key at all
    let out = run(base(dir.path()).args(["complete", "--dry-run", "hi"])).expect(0);
    let r = out.json();
    assert_eq!(r["url"], "https://api.openai.com/v1/chat/completions");
    assert_eq!(
        r["body"],
        json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 1024})
    );
    assert_eq!(mock.hits(), 0);
}

#[test]
fn base_urls_have_the_sdks_meaning() {
    let dir = tmp();
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", "http://localhost:11434/v1/")
        .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
        .args(["complete", "--dry-run", "-m", "llama3.2", "hi"]))
    .expect(0);
    assert_eq!(
        out.json()["url"],
        "http://localhost:11434/v1/chat/completions"
    );
    let out = run(base(dir.path())
        .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
        .args(["complete", "--dry-run", "-m", "claude-x", "hi"]))
    .expect(0);
    assert_eq!(out.json()["url"], "http://127.0.0.1:9/v1/messages");
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", "localhost:11434")
        .args(["complete", "--dry-run", "hi"]))
    .expect(3);
    assert!(out.stderr.contains("OPENAI_BASE_URL"));
}

#[test]
fn config_file_sets_defaults_aliases_and_prices() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        r#"
model = "fast"
max_tokens = 300
openai_max_tokens_field = "max_tokens"
[aliases]
fast = "my-local-model"
[prices.my-local-model]
input = 1.0
output = 2.0
"#,
    )
    .unwrap();
    let body = json!({"model": "my-local-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                      "finish_reason": "stop"}], "usage": {"prompt_tokens": 1000, "completion_tokens": 500}});
    let mock = Mock::start(vec![mock::full(200, &[], body.to_string())]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "hi"])).expect(0);
    let sent = mock.only_request().json();
    assert_eq!(sent["model"], "my-local-model");
    assert_eq!(sent["max_tokens"], 300);
    assert!(sent.get("max_completion_tokens").is_none());
    assert_eq!(out.json()["cost_usd"], json!(0.002));

    // flags beat the file
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "--dry-run",
        "-m",
        "gpt-4o",
        "--max-tokens",
        "9",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.json()["body"]["model"], "gpt-4o");
    assert_eq!(out.json()["body"]["max_tokens"], 9);

    // a bad file is a configuration error naming the file and line
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "model = \"x\"\ncolour = 3\n",
    )
    .unwrap();
    let out = run(openai(dir.path(), &mock).args(["complete", "hi"])).expect(3);
    assert!(out.stderr.contains("llmpipe.toml:2"), "{}", out.stderr);
    assert!(out.stderr.contains("colour"), "{}", out.stderr);
}

#[test]
fn xdg_config_is_used_when_there_is_no_local_file() {
    let dir = tmp();
    let cfg = dir.path().join(".config/llmpipe");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.toml"), "model = \"claude-haiku-4-5\"\n").unwrap();
    let out = run(base(dir.path()).args(["complete", "--dry-run", "hi"])).expect(0);
    assert_eq!(out.json()["body"]["model"], "claude-haiku-4-5");
}

#[test]
fn temperature_is_checked_against_the_model_table() {
    let dir = tmp();
    let out = run(base(dir.path()).args([
        "complete",
        "--dry-run",
        "-m",
        "gpt-5-mini",
        "-t",
        "0.2",
        "hi",
    ]))
    .expect(2);
    assert!(out.stderr.contains("reasoning model"), "{}", out.stderr);
    let out = run(base(dir.path()).args([
        "complete",
        "--dry-run",
        "-m",
        "claude-haiku-4-5",
        "-t",
        "1.5",
        "hi",
    ]))
    .expect(2);
    assert!(out.stderr.contains("0 to 1"), "{}", out.stderr);
    run(base(dir.path()).args(["complete", "--dry-run", "-m", "gpt-4o", "-t", "1.5", "hi"]))
        .expect(0);
}

#[test]
fn the_help_and_version_are_fast_paths() {
    let dir = tmp();
    let out = run(base(dir.path()).arg("--version")).expect(0);
    assert!(out.stdout.starts_with("llmpipe "));
    let out = run(base(dir.path()).args(["complete", "--help"])).expect(0);
    assert!(out.stdout.contains("--max-tokens"));
    run(base(dir.path()).args(["complete", "--no-such-flag"])).expect(2);
}

#[test]
fn keys_are_trimmed_and_unsendable_keys_are_config_errors() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    run(base(dir.path())
        .env("OPENAI_BASE_URL", &mock.url)
        .env("OPENAI_API_KEY", format!("{OPENAI_KEY}\n"))
        .args(["complete", "hi"]))
    .expect(0);
    assert_eq!(
        mock.only_request().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", &mock.url)
        .env("OPENAI_API_KEY", "\"sk-abc def\"")
        .args(["complete", "hi"]))
    .expect(3);
    assert!(
        out.stderr.contains("OPENAI_API_KEY contains"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-abc"), "{}", out.stderr);
    assert_eq!(mock.hits(), 1);
}
