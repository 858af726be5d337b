//! Hostile cases found by probing tools, effort and eval: each test is one bug that was
//! fixed (a reply the API can send, a tool that misbehaves, a user mistake that costs data).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mock::{self, Mock};
use crate::{anthropic, openai, run, tmp};

fn tool(dir: &Path, name: &str, script: &str) {
    let sh = dir.join(format!("{name}.sh"));
    std::fs::write(&sh, format!("#!/bin/sh\n{script}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let def = json!({
        "name": name,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "command": [format!("./{name}.sh")],
    });
    std::fs::write(dir.join(format!("{name}.json")), def.to_string()).unwrap();
}

/// A streamed Claude reply cut inside a tool call's input (`max_tokens` reached while the
/// model wrote the arguments) is the model's unusable answer, paid for: exit 6 with the
/// result, sent once. It used to be "not the API's JSON": retried (paid again) and exit 5.
#[test]
fn a_streamed_claude_call_cut_inside_its_arguments_is_exit_6_sent_once() {
    let dir = tmp();
    tool(dir.path(), "weather", "cat");
    let cut =
        mock::anthropic_tool_stream(None, &[("toolu_01", "weather", r#"{"city": "Par"#)], false);
    let mock = Mock::start(vec![cut.clone(), cut.clone(), cut.clone(), cut]);
    let out = run(anthropic(dir.path(), &mock).args([
        "stream",
        "-m",
        "claude-sonnet-4-5",
        "--tool",
        "weather.json",
        "--json",
        "go",
    ]))
    .expect(6);
    assert_eq!(mock.hits(), 1, "{}", out.stderr);
    let last = out.lines().pop().unwrap();
    assert_eq!(last["type"], "result", "{}", out.stdout);
    assert_eq!(last["error"]["exit_code"], 6, "{}", out.stdout);
    assert_eq!(last["tool_calls"][0]["id"], "toolu_01");
}

/// `eval --out` (or `--report`) naming the `--data` file would replace the labelled data
/// with the results: a usage error before anything is sent, the data untouched.
#[test]
fn eval_never_writes_its_report_over_the_data() {
    let dir = tmp();
    let d = dir.path().join("prompts/p");
    std::fs::create_dir_all(&d).unwrap();
    for v in ["v1", "v2"] {
        std::fs::write(
            d.join(format!("{v}.md")),
            "+++\nlabels = [\"yes\", \"no\"]\n+++\n{{input}}\n",
        )
        .unwrap();
    }
    let data = "{\"input\": \"a\", \"expected\": \"yes\"}\n";
    std::fs::write(dir.path().join("data.jsonl"), data).unwrap();
    let mock = Mock::start(vec![mock::openai_completion("yes")]);
    for extra in [
        ["--out", "data.jsonl"],
        ["--report", "./data.jsonl"],
        ["--out", "same.txt"],
    ] {
        let mut cmd = openai(dir.path(), &mock);
        cmd.args([
            "eval",
            "--prompt",
            "p@v1",
            "--prompt",
            "p@v2",
            "-m",
            "gpt-4o-mini",
            "--data",
            "data.jsonl",
            "--json",
        ])
        .args(extra);
        if extra[1] == "same.txt" {
            cmd.args(["--report", "same.txt"]);
        }
        let out = run(&mut cmd).expect(2);
        assert_eq!(out.json()["error"]["type"], "usage", "{}", out.stdout);
        assert_eq!(mock.hits(), 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("data.jsonl")).unwrap(),
            data
        );
    }
}

/// A tool that starts a daemon in a session of its own (`setsid`), which keeps the tool's
/// stdout open, ends when the tool exits: its output is the result, exit 0. It used to wait
/// for `--tool-timeout` and report "did not finish ... killed" for a tool that had finished.
#[test]
fn a_tool_whose_daemon_left_its_group_still_ends_when_it_exits() {
    let dir = tmp();
    tool(
        dir.path(),
        "daemon",
        "cat >/dev/null; setsid sleep 30 & echo $! > daemon.pid; echo started",
    );
    let mock = Mock::start(vec![
        mock::openai_tool_calls(None, &[("call_1", "daemon", "{}")], "tool_calls"),
        mock::openai_completion("ok"),
    ]);
    let started = Instant::now();
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--tool",
        "daemon.json",
        "--run-tools",
        "--tool-timeout",
        "20",
        "--json",
        "go",
    ]));
    if let Ok(pid) = std::fs::read_to_string(dir.path().join("daemon.pid")) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
    let out = out.expect(0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let call = &out.json()["tool_calls"][0];
    assert_eq!(call["exit_code"], 0, "{}", out.stdout);
    assert_eq!(call["is_error"], false, "{}", out.stdout);
    let sent = mock.requests()[1].json();
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["content"], "started\n");
}

/// A reply with a hundred calls runs them all, a bounded number at a time: with few file
/// descriptors to spare (each run holds three pipes), none fails for want of one. They used
/// to all start at once and fail with "Too many open files".
#[test]
fn a_hundred_calls_in_one_turn_all_run_with_few_file_descriptors() {
    let dir = tmp();
    tool(dir.path(), "echo", "cat >/dev/null; echo ok");
    let ids: Vec<String> = (0..100).map(|i| format!("call_{i}")).collect();
    let list: Vec<mock::MockCall<'_>> = ids.iter().map(|id| (id.as_str(), "echo", "{}")).collect();
    let mock = Mock::start(vec![
        mock::openai_tool_calls(None, &list, "tool_calls"),
        mock::openai_completion("ok"),
    ]);
    let mut std_cmd = crate::openai_std(dir.path(), &mock);
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; only this child is affected.
    unsafe {
        std_cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 128,
                rlim_max: 128,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            Ok(())
        });
    }
    std_cmd.args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--tool",
        "echo.json",
        "--run-tools",
        "--json",
        "go",
    ]);
    let out = run(&mut assert_cmd::Command::from_std(std_cmd)).expect(0);
    let calls = out.json()["tool_calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 100);
    let failed: Vec<_> = calls.iter().filter(|c| c["is_error"] != false).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        failed.first()
    );
    let sent = mock.requests()[1].json();
    let results: Vec<_> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(results.len(), 100);
    assert_eq!(results[99]["tool_call_id"], "call_99");
    assert!(results.iter().all(|m| m["content"] == "ok\n"));
}

/// An `--each-line` budget refusal with nothing in flight says "$0.000000 in flight",
/// never "$-0.000000" (the sum of no reservations was a negative zero).
#[test]
fn a_budget_refusal_never_shows_a_negative_zero() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::anthropic_message("ok")]);
    let out = run(anthropic(dir.path(), &mock)
        .args([
            "complete",
            "-m",
            "claude-sonnet-4-5",
            "--effort",
            "high",
            "--each-line",
            "--max-cost",
            "0.01",
        ])
        .write_stdin("a\n"))
    .expect(7);
    assert_eq!(mock.hits(), 0);
    let line = &out.lines()[0];
    let msg = line["error"]["message"].as_str().unwrap();
    assert!(msg.contains("$0.000000 in flight"), "{msg}");
    assert!(
        !out.stdout.contains("-0.0") && !out.stderr.contains("-0.0"),
        "{}",
        out.stderr
    );
}

/// At the round limit the hint must not send the user to `-c --tool-result`: a failed call
/// is not a turn of the conversation, so that could only fail (or answer another one).
#[test]
fn the_round_limit_hint_does_not_suggest_answering_with_tool_result() {
    let dir = tmp();
    tool(dir.path(), "echo", "cat >/dev/null; echo ok");
    let mock = Mock::start(vec![mock::openai_tool_calls(
        None,
        &[("call_1", "echo", "{}")],
        "tool_calls",
    )]);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--tool",
        "echo.json",
        "--run-tools",
        "--max-tool-rounds",
        "1",
        "go",
    ]))
    .expect(6);
    assert!(out.stderr.contains("after 1 round"), "{}", out.stderr);
    assert!(!out.stderr.contains("answer the calls"), "{}", out.stderr);
    // Following the old hint: nothing to continue.
    run(openai(dir.path(), &mock).args(["complete", "-c", "--tool-result", "call_1=1"])).expect(2);
}

/// `--tool-result` without `-c`/`--cid` says to add `-c`, also when no `--tool` is given (it
/// said "no tools declared: give one with --tool FILE", which would not help).
#[test]
fn tool_result_without_a_conversation_says_to_add_c() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("x")]);
    let out = run(openai(dir.path(), &mock).args([
        "complete",
        "-m",
        "gpt-4o-mini",
        "--tool-result",
        "call_1=1",
        "--json",
    ]))
    .expect(2);
    let msg = out.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("add -c"), "{msg}");
    assert_eq!(mock.hits(), 0);
}

/// A failed eval gate is exit 8 even when the reader of stdout went away (`| true`,
/// `| head` under `pipefail`): the verdict does not depend on who reads the report. It was
/// exit 0 then (and exit 8 with stdout closed outright), so a CI gate could pass by accident.
#[test]
fn a_failed_eval_gate_is_exit_8_even_with_a_closed_stdout() {
    let dir = tmp();
    let d = dir.path().join("prompts/p");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("v1.md"),
        "+++\nlabels = [\"yes\", \"no\"]\n+++\n{{input}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data.jsonl"),
        "{\"input\": \"a\", \"expected\": \"yes\"}\n",
    )
    .unwrap();
    let slow = mock::with_delay(mock::openai_completion("no"), Duration::from_millis(300));
    let mock = Mock::start(vec![slow]);
    let mut cmd = crate::openai_std(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "p@v1",
        "-m",
        "gpt-4o-mini",
        "--data",
        "data.jsonl",
        "--min-accuracy",
        "0.5",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(mock.hits(), 1);
    assert_eq!(
        out.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// extract-json on Claude answers through a forced tool (`stop_reason: "tool_use"`): that
/// is the answer, not a tool call, so `finish_reason` is `stop` (the provider's own value is
/// kept), never `tool_calls` on a result that lists no calls.
#[test]
fn a_structured_answer_through_claudes_tool_finishes_with_stop() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("s.json"),
        r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#,
    )
    .unwrap();
    let mock = Mock::start(vec![mock::anthropic_tool_use("extract", json!({"a": "x"}))]);
    let out = run(anthropic(dir.path(), &mock).args([
        "extract-json",
        "-m",
        "claude-3-5-haiku-latest",
        "--schema",
        "s.json",
        "--json",
        "go",
    ]))
    .expect(0);
    let r = out.json();
    assert_eq!(r["json"], json!({"a": "x"}), "{}", out.stdout);
    assert_eq!(r["finish_reason"], "stop", "{}", out.stdout);
    assert_eq!(r["provider_finish_reason"], "tool_use");
    assert!(r.get("tool_calls").is_none(), "{}", out.stdout);
}
