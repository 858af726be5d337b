//! One settings layer: the environment and the config file read once per process, commands
//! resolved from their own flags, `--json` global where a command has subcommands, range
//! checks done by the argument parser, and usage errors under `--json` found by clap.

use std::io::Write;
use std::time::Duration;

use crate::{base, run, tmp};

/// The config file is read once per process: `estimate-cost --compare` used to read it
/// again for every model (a FIFO, which can be read only once, hung there).
#[test]
fn estimate_cost_compare_reads_the_config_file_once() {
    let dir = tmp();
    let fifo = dir.path().join("llmpipe-config.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("mkfifo failed: skipped");
        return;
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            // Blocks until the binary opens the FIFO: one reader, one read.
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let _ = f.write_all(b"[prices.\"my-model\"]\ninput = 1.0\noutput = 2.0\n");
            }
        })
    };
    let out = run(base(dir.path())
        .env("LLMPIPE_CONFIG", &fifo)
        .args([
            "estimate-cost",
            "--json",
            "--compare",
            "my-model,gpt-4.1-mini,gpt-4o",
            "--output-tokens",
            "1000000",
            "hi",
        ])
        .timeout(Duration::from_secs(20)))
    .expect(0);
    writer.join().unwrap();
    let rows = out.json();
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    let mine = rows.iter().find(|r| r["model"] == "my-model").unwrap();
    // The config's price applies to the compared model: $2 per million output tokens.
    assert_eq!(mine["output_cost_usd"], 2.0, "{}", out.stdout);
}

/// `models` reads prices from the config file and the table alone: it resolves no endpoint,
/// key or response cache, so a bad base URL or cache URL is no reason to fail or warn.
#[test]
fn models_needs_no_endpoint_or_cache() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "cache = true\n[prices.\"my-model\"]\ninput = 1.0\noutput = 2.0\n",
    )
    .unwrap();
    let out = run(base(dir.path())
        .env("OPENAI_BASE_URL", "ftp://nowhere")
        .env("LLMPIPE_CACHE_URL", "memcached://x")
        .env("LLMPIPE_RETRY_BASE_MS", "never")
        .args(["models", "--json"]))
    .expect(0);
    assert!(out.stdout.contains("\"my-model\""), "{}", out.stdout);
    assert!(!out.stderr.contains("cache"), "{}", out.stderr);
    // A broken config file still stops it (exit 3), as before.
    std::fs::write(dir.path().join("llmpipe.toml"), "bogus = 1\n").unwrap();
    let out = run(base(dir.path()).args(["models", "--json"])).expect(3);
    assert!(out.stderr.contains("llmpipe.toml:1"), "{}", out.stderr);
}

/// `estimate-cost` prices the request `complete` would send: with a prompt file that names
/// a model and no `-m`, that model (it priced the default model).
#[test]
fn estimate_cost_prices_the_prompt_files_model() {
    let dir = tmp();
    std::fs::create_dir_all(dir.path().join("prompts/p")).unwrap();
    std::fs::write(
        dir.path().join("prompts/p/v1.md"),
        "+++\nmodel = \"gpt-4o\"\n+++\nSay {{input}}",
    )
    .unwrap();
    let out =
        run(base(dir.path()).args(["estimate-cost", "--json", "--prompt", "p", "hi"])).expect(0);
    assert_eq!(out.json()["model"], "gpt-4o", "{}", out.stdout);
    // -m still wins over the prompt file.
    let out = run(base(dir.path()).args([
        "estimate-cost",
        "--json",
        "--prompt",
        "p",
        "-m",
        "gpt-4.1-nano",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.json()["model"], "gpt-4.1-nano", "{}", out.stdout);
}

/// `--json` is global on the commands with subcommands: before or after the subcommand.
#[test]
fn json_is_taken_before_or_after_a_subcommand() {
    let dir = tmp();
    for args in [["logs", "--json", "cost"], ["logs", "cost", "--json"]] {
        // No call log yet: a warning, nothing on stdout, exit 0.
        run(base(dir.path()).args(args)).expect(0);
    }
    std::fs::create_dir_all(dir.path().join("prompts/greet")).unwrap();
    std::fs::write(dir.path().join("prompts/greet/v1.md"), "Hello {{input}}").unwrap();
    for args in [["prompts", "--json", "list"], ["prompts", "list", "--json"]] {
        let out = run(base(dir.path()).args(args)).expect(0);
        let line: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(line["name"], "greet", "{args:?}");
    }
    // Logged calls (a dry run logs nothing, so log one through a failing request).
    let out = run(base(dir.path())
        .env("OPENAI_API_KEY", "sk-x")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .args(["complete", "--retries", "0", "--timeout", "5", "hi"]))
    .expect(5);
    assert!(!out.stderr.is_empty());
    for args in [["logs", "--json", "cost"], ["logs", "cost", "--json"]] {
        let out = run(base(dir.path()).args(args)).expect(0);
        let report = out.json();
        assert_eq!(report["total"]["calls"], 1, "{args:?}: {}", out.stdout);
    }
}

/// A flag's range is checked by the argument parser, before the environment is looked at:
/// `--max-tokens 0` and `--rpm 0` are usage errors (exit 2) even with a broken `.env` (which
/// used to win with exit 3).
#[test]
fn ranges_are_checked_before_the_environment() {
    let dir = tmp();
    std::fs::write(dir.path().join(".env"), "this line is not a variable\n").unwrap();
    for args in [
        vec!["complete", "--max-tokens", "0", "hi"],
        vec!["complete", "--each-line", "--rpm", "0", "hi"],
        vec!["estimate-cost", "--max-tokens", "0", "hi"],
    ] {
        let out = run(base(dir.path()).args(&args)).expect(2);
        assert!(
            out.stderr.contains("must be at least 1"),
            "{args:?}: {}",
            out.stderr
        );
        let mut with_json = args.clone();
        with_json.push("--json");
        let out = run(base(dir.path()).args(&with_json)).expect(2);
        assert_eq!(out.json()["error"]["type"], "usage", "{with_json:?}");
    }
}

/// Under `--json`, a usage error is the JSON error object wherever `--json` stands, also
/// after an unknown flag or a bad value; a `--json` after `--` is a prompt word, not the
/// flag.
#[test]
fn usage_errors_find_json_with_clap() {
    let dir = tmp();
    for args in [
        vec!["complete", "--json", "--bogus"],
        vec!["complete", "--bogus", "--json"],
        vec!["complete", "--bogus=1", "hi", "--json"],
        vec!["count-tokens", "-j", "0", "--json", "hi"],
        vec!["prompts", "--json", "show"],
        vec!["logs", "cost", "--by", "weekday", "--json"],
        vec!["compleet", "--json"],
        vec!["--json", "complete", "hi"],
    ] {
        let out = run(base(dir.path()).args(&args)).expect(2);
        assert_eq!(out.json()["error"]["type"], "usage", "{args:?}");
        assert_eq!(out.json()["error"]["exit_code"], 2, "{args:?}");
    }
    let out = run(base(dir.path()).args(["complete", "--bogus", "--", "--json"])).expect(2);
    assert_eq!(out.stdout, "", "a prompt word after --");
}
