//! Defects fixed in shipped features: a failed provider batch among several, batch flags
//! that do not apply, the price data actually used, tool flags on commands that refuse
//! them, the tool loop's attempts and interrupted result, and an interrupted eval.

use serde_json::Value;

use crate::batch_mock::{BatchApi, Config};
use crate::mock::{self, Mock};
use crate::{Out, anthropic, openai, run, tmp};

fn batch_cmd(dir: &std::path::Path, fake: &BatchApi, anthropic_api: bool) -> assert_cmd::Command {
    if anthropic_api {
        anthropic(dir, &fake.mock)
    } else {
        openai(dir, &fake.mock)
    }
}

fn batch_submit(
    dir: &std::path::Path,
    fake: &BatchApi,
    anthropic_api: bool,
    extra: &[&str],
    n: usize,
) -> String {
    let model = if anthropic_api {
        "claude-sonnet-4-5"
    } else {
        "gpt-4o-mini"
    };
    let stdin: String = (0..n).map(|i| format!("item {i}\n")).collect();
    let out: Out = run(batch_cmd(dir, fake, anthropic_api)
        .args(["batch", "submit", "--json", "-m", model])
        .args(extra)
        .write_stdin(stdin))
    .expect(0);
    out.json()["id"].as_str().unwrap().to_string()
}

/// A job split in three provider batches whose second one ends without results: the first
/// and third batches' answers are written, in input order, and the second's items are
/// error lines naming that batch, so that `--resume` redoes exactly them.
#[test]
fn one_failed_provider_batch_does_not_lose_the_other_batches_results() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            fail_batch: Some(1),
            ..Config::default()
        });
        let id = batch_submit(dir.path(), &fake, anthropic_api, &["--batch-size", "3"], 8);
        let second = fake.batches()[1].id.clone();
        let code = if anthropic_api { 5 } else { 4 };
        let res =
            run(batch_cmd(dir.path(), &fake, anthropic_api)
                .args(["batch", "results", "--json", &id]))
            .expect(code);
        let lines = res.lines();
        assert_eq!(lines.len(), 8, "{}", res.stdout);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i, "{l}");
            assert_eq!(l["input"], format!("item {i}"), "{l}");
            if (3..6).contains(&i) {
                let e = &l["error"];
                assert_eq!(e["exit_code"], code, "{l}");
                let msg = e["message"].as_str().unwrap();
                assert!(msg.contains(&second), "{msg}");
                if anthropic_api {
                    assert_eq!(e["type"], "unavailable", "{l}");
                } else {
                    assert_eq!(e["type"], "rejected", "{l}");
                    assert!(msg.contains("invalid_json_line"), "{msg}");
                }
            } else {
                assert!(l.get("error").is_none(), "{l}");
                assert_eq!(l["text"], format!("echo: item {i}"), "{l}");
                assert_eq!(l["batch"], true);
            }
        }
        assert!(
            res.stderr.contains("3 of 8 item(s) failed"),
            "{}",
            res.stderr
        );
        assert!(res.stderr.contains(&second), "{}", res.stderr);
        if !anthropic_api {
            // the provider's errors, with the item they name (line 2 of the second file: item 4)
            assert!(
                res.stderr.contains("invalid_json_line (line 2, item 4)"),
                "{}",
                res.stderr
            );
        }
        // the status counts them too
        let st =
            run(batch_cmd(dir.path(), &fake, anthropic_api)
                .args(["batch", "status", "--json", &id]))
            .expect(0);
        let c = &st.json()["counts"];
        assert_eq!(
            (
                c["total"].as_u64(),
                c["succeeded"].as_u64(),
                c["errored"].as_u64()
            ),
            (Some(8), Some(5), Some(3)),
            "{c}"
        );
        // --resume of those lines sends only the three items again
        let earlier = dir.path().join("earlier.jsonl");
        std::fs::write(&earlier, &res.stdout).unwrap();
        fake.config(|c| c.fail_batch = None);
        let before = fake.batches().len();
        let again = batch_submit(
            dir.path(),
            &fake,
            anthropic_api,
            &["--resume", earlier.to_str().unwrap()],
            8,
        );
        let sent: Vec<String> = fake.batches()[before..]
            .iter()
            .flat_map(|b| b.requests.iter().map(|(cid, _)| cid.clone()))
            .collect();
        assert_eq!(sent.len(), 3, "{sent:?}");
        for (cid, i) in sent.iter().zip(3..6) {
            assert!(cid.starts_with(&format!("i{i}-")), "{cid}");
        }
        let res =
            run(batch_cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &again]))
                .expect(0);
        let lines = res.lines();
        assert_eq!(lines.len(), 8);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["text"], format!("echo: item {i}"), "{l}");
        }
    }
}

/// A job of one batch that failed validation: every item is an error line, exit 4 with the
/// provider's errors.
#[test]
fn a_failed_single_batch_job_writes_an_error_line_per_item() {
    let dir = tmp();
    let fake = BatchApi::start(Config {
        fail_validation: true,
        ..Config::default()
    });
    let id = batch_submit(dir.path(), &fake, false, &[], 4);
    let res =
        run(openai(dir.path(), &fake.mock).args(["batch", "results", "--json", &id])).expect(4);
    let lines: Vec<Value> = res.lines();
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
        assert_eq!(l["error"]["type"], "rejected", "{l}");
    }
    // the item a provider error names gets that error in its own line
    let own = lines[1]["error"]["message"].as_str().unwrap();
    assert!(own.contains("invalid_json_line"), "{own}");
    assert!(
        res.stderr.contains("invalid_json_line (line 2, item 1)"),
        "{}",
        res.stderr
    );
}

/// `--concurrency` and `--rpm` pace a live run; a batch job is paced by the provider: a
/// clear usage error, not clap's "requires --each-line".
#[test]
fn batch_submit_refuses_concurrency_and_rpm_with_a_clear_message() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    for flags in [
        &["--concurrency", "3"][..],
        &["--rpm", "60"],
        &["--concurrency=0"],
        &["--rpm", "nope"],
    ] {
        let out = run(openai(dir.path(), &fake.mock)
            .args(["batch", "submit", "-m", "gpt-4o-mini"])
            .args(flags)
            .write_stdin("a\nb\n"))
        .expect(2);
        assert!(
            !out.stderr.contains("required"),
            "{flags:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("paced by the provider"),
            "{flags:?}: {}",
            out.stderr
        );
        // and as the JSON error object with --json
        let out = run(openai(dir.path(), &fake.mock)
            .args(["batch", "submit", "--json", "-m", "gpt-4o-mini"])
            .args(flags)
            .write_stdin("a\nb\n"))
        .expect(2);
        let e = &out.json()["error"];
        assert_eq!(e["type"], "usage");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("paced by the provider"),
            "{e}"
        );
    }
    assert!(fake.batches().is_empty());
    // without them, submit still works (the hidden default is not a value it refuses)
    run(openai(dir.path(), &fake.mock)
        .args(["batch", "submit", "-m", "gpt-4o-mini"])
        .write_stdin("a\nb\n"))
    .expect(0);
}

/// A downloaded price file damaged inside (valid JSON, both providers, models that do not
/// parse): prices come from the bundled data, and `price_source` / `prices_as_of` name the
/// bundled data, not the downloaded file.
#[test]
fn price_source_names_the_bundled_data_a_damaged_download_fell_back_to() {
    let dir = tmp();
    let file = dir.path().join(".local/share/llmpipe/prices.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        r#"[{"id":"openai","models":[1]},{"id":"anthropic","models":[{"id":"y"}]}]"#,
    )
    .unwrap();
    let bundled = run(crate::base(dir.path()).args([
        "estimate-cost",
        "--json",
        "-m",
        "gpt-4o",
        "--max-tokens",
        "10",
        "x",
    ]))
    .expect(0)
    .json();
    let source = bundled["price_source"].as_str().unwrap();
    assert!(source.contains("bundled"), "{bundled}");
    assert!(!source.contains("downloaded"), "{bundled}");
    assert_ne!(bundled["prices_as_of"], Value::Null);
    let out = run(crate::base(dir.path()).args(["models", "--json"])).expect(0);
    for row in out.json().as_array().unwrap() {
        if row["priced"] == true {
            let source = row["price_source"].as_str().unwrap();
            assert!(
                source.contains("bundled") && !source.contains("downloaded"),
                "{row}"
            );
        }
    }
    // the table's footer says which data was used too
    let out = run(crate::base(dir.path()).arg("models")).expect(0);
    let footer = out.stdout.lines().last().unwrap();
    assert!(footer.contains("bundled"), "{footer}");
    // a sound download is still named as such
    std::fs::write(&file, std::fs::read("data/genai-prices.json").unwrap()).unwrap();
    let e = run(crate::base(dir.path()).args(["estimate-cost", "--json", "-m", "gpt-4o", "x"]))
        .expect(0)
        .json();
    assert!(
        e["price_source"].as_str().unwrap().contains("downloaded"),
        "{e}"
    );
}

const TOOL_FLAGS: [&str; 6] = [
    "--tool ",
    "--tool-choice",
    "--run-tools",
    "--max-tool-rounds",
    "--tool-timeout",
    "--tool-result",
];

/// classify and extract-json refuse tools: their help does not list the tool flags, and a
/// user who passes one anyway is told that the command takes no tools (exit 2).
#[test]
fn classify_and_extract_json_help_lists_no_tool_flags_and_still_refuses_them() {
    let dir = tmp();
    for command in ["classify", "extract-json"] {
        let help = run(crate::base(dir.path()).args([command, "--help"])).expect(0);
        for flag in TOOL_FLAGS {
            assert!(
                !help.stdout.contains(flag),
                "{command} --help lists {flag}:\n{}",
                help.stdout
            );
        }
        for flags in [
            &["--tool", "t.json"][..],
            &["--tool-choice", "auto"],
            &["--run-tools"],
            &["--tool-result", "call_1={}"],
            &["--max-tool-rounds", "3"],
            &["--tool-timeout", "5"],
            &["--run-tools", "--max-tool-rounds", "3"],
        ] {
            for json in [false, true] {
                let mut c = crate::base(dir.path());
                c.args([command, "--labels", "a,b", "-m", "gpt-4o-mini"]);
                if command == "extract-json" {
                    c = crate::base(dir.path());
                    c.args([command, "-m", "gpt-4o-mini"]);
                }
                if json {
                    c.arg("--json");
                }
                let out = run(c.args(flags).arg("hello")).expect(2);
                assert!(
                    out.stderr
                        .contains(&format!("{command} does not take tools")),
                    "{command} {flags:?}: {}",
                    out.stderr
                );
                if json {
                    assert_eq!(out.json()["error"]["type"], "usage", "{}", out.stdout);
                }
            }
        }
    }
    // complete still lists them
    let help = run(crate::base(dir.path()).args(["complete", "--help"])).expect(0);
    for flag in TOOL_FLAGS {
        assert!(help.stdout.contains(flag), "complete --help lacks {flag}");
    }
}

/// A tool file `<name>.json` running `sh -c SCRIPT` in `dir`.
fn tool_file(dir: &std::path::Path, name: &str, script: &str) {
    let sh = dir.join(format!("{name}.sh"));
    std::fs::write(&sh, format!("#!/bin/sh\n{script}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let def = serde_json::json!({
        "name": name,
        "description": format!("The {name} tool"),
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "command": [format!("./{name}.sh")],
    });
    std::fs::write(dir.join(format!("{name}.json")), def.to_string()).unwrap();
}

/// `attempts` counts every HTTP attempt of the loop: a later round that fails after its
/// retries adds its own attempts to the paid rounds'.
#[test]
fn a_failed_later_round_counts_every_attempt_of_the_loop() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        tool_file(dir.path(), "weather", "echo sunny");
        let (first, busy) = if anthropic_api {
            (
                mock::anthropic_tool_calls(
                    None,
                    &[("toolu_01", "weather", r#"{"city":"X"}"#)],
                    false,
                ),
                mock::anthropic_error(529, "overloaded_error", "Overloaded"),
            )
        } else {
            (
                mock::openai_tool_calls(
                    None,
                    &[("call_1", "weather", r#"{"city":"X"}"#)],
                    "tool_calls",
                ),
                mock::openai_error(503, "server_error", None, "busy"),
            )
        };
        let fake = Mock::start(vec![first, busy]);
        let (mut c, model) = if anthropic_api {
            (anthropic(dir.path(), &fake), "claude-sonnet-4-5")
        } else {
            (openai(dir.path(), &fake), "gpt-4o-mini")
        };
        let out = run(c.args([
            "complete",
            "-m",
            model,
            "--tool",
            "weather.json",
            "--run-tools",
            "--retries",
            "2",
            "--json",
            "go",
        ]))
        .expect(5);
        let r = out.json();
        assert_eq!(fake.hits(), 4, "{r}");
        assert_eq!(r["error"]["type"], "unavailable", "{r}");
        // one attempt for the first round, three (one and two retries) for the second
        assert_eq!(r["attempts"], 4, "{r}");
        assert_eq!(r["tool_rounds"], 1, "{r}");
    }
}

/// Sends `signal` to a running llmpipe once `ready` holds, and returns its exit code and
/// stdout.
fn signal_when(
    mut cmd: std::process::Command,
    signal: &str,
    ready: impl Fn() -> bool,
) -> (Option<i32>, String) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready(), "the run never got ready");
    std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!out.contains(crate::OPENAI_KEY) && !err.contains(crate::OPENAI_KEY));
    (status.code(), out)
}

/// Ctrl-C (or SIGTERM) while the tools of a paid reply run, or while the next turn is on
/// its way: the partial result lists the calls the paid replies made, with the paid usage,
/// and the run exits 130 (143).
#[test]
fn an_interrupted_tool_loop_keeps_the_paid_replys_tool_calls() {
    use std::time::Duration;
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        // while the tool runs
        let dir = tmp();
        tool_file(dir.path(), "hang", "echo $$ > tool.pid; sleep 60");
        let fake = Mock::start(vec![mock::openai_tool_calls(
            Some("Looking."),
            &[("call_1", "hang", r#"{"city":"X"}"#)],
            "tool_calls",
        )]);
        let mut cmd = crate::openai_std(dir.path(), &fake);
        cmd.args([
            "complete",
            "-m",
            "gpt-4o-mini",
            "--tool",
            "hang.json",
            "--run-tools",
            "--json",
            "go",
        ]);
        let pid = dir.path().join("tool.pid");
        let (status, out) = signal_when(cmd, signal, || {
            std::fs::read_to_string(&pid).is_ok_and(|s| !s.trim().is_empty())
        });
        assert_eq!(status, Some(code), "{out}");
        let r: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(r["error"]["type"], "interrupted", "{r}");
        assert_eq!(r["error"]["exit_code"], code, "{r}");
        assert_eq!(r["tool_calls"][0]["id"], "call_1", "{r}");
        assert_eq!(r["tool_calls"][0]["name"], "hang", "{r}");
        assert_eq!(r["tool_calls"][0]["round"], 1, "{r}");
        assert_eq!(r["tool_rounds"], 1, "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
        assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 0, "{r}");

        // while the second turn is on its way
        let dir = tmp();
        tool_file(dir.path(), "weather", "echo sunny");
        let fake = Mock::start(vec![
            mock::openai_tool_calls(
                None,
                &[("call_1", "weather", r#"{"city":"X"}"#)],
                "tool_calls",
            ),
            mock::Reply::Hang(Duration::from_secs(30)),
        ]);
        let mut cmd = crate::openai_std(dir.path(), &fake);
        cmd.args([
            "complete",
            "-m",
            "gpt-4o-mini",
            "--tool",
            "weather.json",
            "--run-tools",
            "--json",
            "go",
        ]);
        let (status, out) = signal_when(cmd, signal, || fake.hits() >= 2);
        assert_eq!(status, Some(code), "{out}");
        let r: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(r["error"]["type"], "interrupted", "{r}");
        assert_eq!(r["tool_calls"][0]["id"], "call_1", "{r}");
        assert_eq!(r["tool_calls"][0]["exit_code"], 0, "{r}");
        assert_eq!(r["tool_rounds"], 1, "{r}");
        assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 0, "{r}");
    }
}

/// Ctrl-C (SIGTERM) during an eval: the items already scored are kept: `--out` has their
/// lines, the report (marked interrupted, over the scored items only) is written, and the
/// run exits 130 (143).
#[test]
fn an_interrupted_eval_writes_what_it_has() {
    use std::time::Duration;
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tmp();
        let d = dir.path().join("prompts/sent");
        std::fs::create_dir_all(&d).unwrap();
        for v in ["v1", "v2"] {
            std::fs::write(
                d.join(format!("{v}.md")),
                "+++\ntemperature = 0.0\nlabels = [\"positive\", \"negative\"]\n+++\nReview: {{input}}\n",
            )
            .unwrap();
        }
        let data: String = (0..6)
            .map(|i| format!("{{\"input\": \"r{i}\", \"expected\": \"positive\"}}\n"))
            .collect();
        std::fs::write(dir.path().join("data.jsonl"), data).unwrap();
        // three answers, then a request that never ends
        let fake = Mock::start(vec![mock::dynamic(|_, n| {
            if n < 3 {
                (mock::openai_completion("positive"), Duration::ZERO)
            } else {
                (mock::Reply::Hang(Duration::from_secs(60)), Duration::ZERO)
            }
        })]);
        let mut cmd = crate::openai_std(dir.path(), &fake);
        cmd.args([
            "eval",
            "--prompt",
            "sent@v1",
            "--prompt",
            "sent@v2",
            "-m",
            "gpt-4o-mini",
            "--data",
            "data.jsonl",
            "--concurrency",
            "1",
            "--json",
            "--out",
            "out.jsonl",
            "--report",
            "report.md",
        ]);
        let (status, out) = signal_when(cmd, signal, || fake.hits() >= 4);
        assert_eq!(status, Some(code), "{out}");
        let r: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(r["interrupted"], true, "{r}");
        assert_eq!(r["passed"], Value::Null, "{r}");
        let v = &r["variants"];
        assert_eq!(v.as_array().unwrap().len(), 2, "{r}");
        assert_eq!(
            (
                v[0]["items"].as_u64(),
                v[0]["correct"].as_u64(),
                v[0]["not_run"].as_u64()
            ),
            (Some(3), Some(3), Some(3)),
            "{r}"
        );
        assert_eq!(v[0]["accuracy"], 1.0, "{r}");
        assert_eq!(v[0]["errors"], 0, "{r}");
        assert_eq!(
            (v[1]["items"].as_u64(), v[1]["not_run"].as_u64()),
            (Some(0), Some(6)),
            "{r}"
        );
        assert_eq!(r["failures"], serde_json::json!([]), "{r}");
        // the scored items' lines, and only theirs
        let lines: Vec<Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(
                (
                    l["variant"].as_u64(),
                    l["index"].as_u64(),
                    l["correct"].as_bool()
                ),
                (Some(0), Some(i as u64), Some(true)),
                "{l}"
            );
        }
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("interrupted"), "{md}");
    }
}

/// A repair request of `extract-json` that fails after its retries: the invalid reply before
/// it was paid for, so the error carries its usage and cost, and `attempts` counts every
/// HTTP attempt (the first call's and the failed repair's).
#[test]
fn a_failed_repair_request_keeps_what_the_first_reply_cost() {
    let dir = tmp();
    let fake = Mock::start(vec![
        mock::openai_completion("not json at all"),
        mock::openai_error(503, "server_error", None, "busy"),
    ]);
    let out = run(openai(dir.path(), &fake).args([
        "extract-json",
        "-m",
        "gpt-4o-mini",
        "--repair",
        "2",
        "--retries",
        "2",
        "--json",
        "give me JSON",
    ]))
    .expect(5);
    let r = out.json();
    assert_eq!(fake.hits(), 4, "{r}");
    assert_eq!(r["error"]["type"], "unavailable", "{r}");
    assert_eq!(r["attempts"], 4, "{r}");
    assert_eq!(r["repairs"], 0, "{r}");
    assert!(r["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["cost_usd"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
}

/// Batch items are priced at the rates in effect when the job was submitted, not when its
/// results are read: a gpt-5.6-luna job submitted on 2026-06-01 (before its price cut of
/// 2026-07-30, and before the price data's first batch rate) costs $1/$6 per million.
#[test]
fn batch_items_are_priced_at_the_rates_of_the_day_the_job_was_submitted() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let sub = run(batch_cmd(dir.path(), &fake, false)
        .args(["batch", "submit", "--json", "-m", "gpt-5.6-luna"])
        .write_stdin("a\nb\n"))
    .expect(0);
    let id = sub.json()["id"].as_str().unwrap().to_string();
    let read = |dir: &std::path::Path| -> Vec<Value> {
        run(batch_cmd(dir, &fake, false).args(["batch", "results", &id]))
            .expect(0)
            .lines()
    };
    let now: Vec<f64> = read(dir.path())
        .iter()
        .map(|l| l["cost_usd"].as_f64().unwrap())
        .collect();
    let db = dir.path().join(".local/share/llmpipe/log.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE batch_jobs SET created = 1780272000 WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let lines = read(dir.path());
    assert_eq!(lines.len(), 2);
    for (l, now) in lines.iter().zip(now) {
        let u = &l["usage"];
        let (i, o) = (
            u["input_tokens"].as_f64().unwrap(),
            u["output_tokens"].as_f64().unwrap(),
        );
        let want = (i * 1.0 + o * 6.0) / 1e6;
        let got = l["cost_usd"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{l}: want {want}");
        assert!(got > now, "{l}: {got} at the old rates, {now} at today's");
    }
}

/// Two tool calls with one id in a reply cannot be answered apart (the API refuses a turn
/// whose results share an id): the reply is unusable (exit 6) with both calls listed, paid,
/// and no tool is run.
#[test]
fn two_tool_calls_with_one_id_are_an_unusable_reply() {
    for run_tools in [true, false] {
        let dir = tmp();
        tool_file(dir.path(), "weather", "touch ran; echo sunny");
        let fake = Mock::start(vec![mock::openai_tool_calls(
            None,
            &[
                ("call_1", "weather", r#"{"city":"X"}"#),
                ("call_1", "weather", r#"{"city":"Y"}"#),
            ],
            "tool_calls",
        )]);
        let mut c = openai(dir.path(), &fake);
        c.args([
            "complete",
            "-m",
            "gpt-4o-mini",
            "--tool",
            "weather.json",
            "--json",
        ]);
        if run_tools {
            c.arg("--run-tools");
        }
        let r = run(c.arg("go")).expect(6).json();
        assert_eq!(fake.hits(), 1, "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("two tool calls with the id \"call_1\""),
            "{r}"
        );
        assert_eq!(r["tool_calls"].as_array().map(Vec::len), Some(2), "{r}");
        assert!(r["cost_usd"].as_f64().unwrap() > 0.0, "{r}");
        assert!(!dir.path().join("ran").exists(), "a tool ran");
    }
}
