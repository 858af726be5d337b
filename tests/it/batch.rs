//! --each-line: order, failures, rate limits, resume, interrupts, JSONL items, dry runs.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::mock::{self, Mock};
use crate::{Out, anthropic, openai, run, tmp};

/// An OpenAI server that answers `echo: <user text>` after a delay derived from the text,
/// so items finish in an order unlike the input's.
fn echo_server(max_delay_ms: u64) -> Mock {
    Mock::start(vec![mock::dynamic(move |req, _| {
        let text = mock::last_user_text(req);
        let h = text
            .bytes()
            .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        let delay = if max_delay_ms == 0 {
            0
        } else {
            h % max_delay_ms
        };
        (
            mock::openai_completion(&format!("echo: {text}")),
            Duration::from_millis(delay),
        )
    })])
}

fn items(n: usize) -> String {
    (0..n).map(|i| format!("item {i}\n")).collect()
}

fn without_timing(line: &Value) -> Value {
    let mut l = line.clone();
    if let Some(o) = l.as_object_mut() {
        o.remove("latency_ms");
    }
    l
}

fn check_all(out: &Out, n: usize) -> Vec<Value> {
    let lines = out.lines();
    assert_eq!(lines.len(), n, "{}", out.stdout);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i, "{l}");
    }
    lines
}

#[test]
fn output_is_one_line_per_item_in_input_order() {
    let dir = tmp();
    let mock = echo_server(40);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--concurrency", "8", "Say:"])
        .write_stdin(format!("\n{}\n  \n", items(40))))
    .expect(0);
    let lines = check_all(&out, 40);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["input"], format!("item {i}"));
        assert_eq!(l["text"], format!("echo: Say:\n\nitem {i}"));
        assert_eq!(l["provider"], "openai");
        assert!(l["cost_usd"].is_number());
    }
    assert_eq!(mock.hits(), 40);
    assert!(
        out.stderr.contains("40 item(s): 40 done, 0 failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn failed_items_become_error_lines_and_the_rest_continue() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let text = mock::last_user_text(req);
        let reply = if text.contains("bad") {
            mock::openai_error(400, "invalid_request_error", None, "this one is bad")
        } else if text.contains("down") {
            mock::openai_error(503, "server_error", None, "overloaded")
        } else {
            mock::openai_completion("fine")
        };
        (reply, Duration::ZERO)
    })]);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--retries", "1"])
        .write_stdin("a\nb down\nc\nd bad\ne\n"))
    .expect(5);
    let lines = check_all(&out, 5);
    assert_eq!(lines[0]["text"], "fine");
    assert_eq!(lines[1]["error"]["type"], "unavailable");
    assert_eq!(lines[1]["error"]["exit_code"], 5);
    assert_eq!(lines[3]["error"]["type"], "rejected");
    assert!(
        lines[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this one is bad")
    );
    assert_eq!(lines[4]["text"], "fine");
    assert!(
        out.stderr
            .contains("2 of 5 item(s) failed; the first (index 1)"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 1 + 2 + 1 + 1 + 1);
}

#[test]
fn a_rate_limit_burst_slows_the_run_and_loses_nothing() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(move |req, n| {
        if n < 12 {
            let limited = mock::full(
                429,
                &[
                    ("retry-after-ms", "30"),
                    ("content-type", "application/json"),
                ],
                r#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            );
            return (limited, Duration::ZERO);
        }
        (
            mock::openai_completion(&mock::last_user_text(req)),
            Duration::from_millis(5),
        )
    })]);
    let out = run(openai(dir.path(), &mock)
        .args([
            "complete",
            "--each-line",
            "-v",
            "--concurrency",
            "8",
            "--retries",
            "6",
        ])
        .write_stdin(items(30)))
    .expect(0);
    let lines = check_all(&out, 30);
    let texts: HashSet<String> = lines
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 30);
    assert!(
        out.stderr
            .contains("rate limited: 4 requests in flight at most (was 8)"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_interrupted_run_resumes_to_exactly_the_uninterrupted_output() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tmp();
    let input = items(12);
    // the reference: an uninterrupted run
    let mock = echo_server(0);
    let full = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line"])
        .write_stdin(input.clone()))
    .expect(0);

    // a slow run, interrupted part-way
    // items 0-3 answer in 150 ms; later ones hang past the 2 s grace period
    let slow = Mock::start(vec![mock::dynamic(|req, _| {
        let text = mock::last_user_text(req);
        let n: usize = text.trim_start_matches("item ").parse().unwrap();
        let delay = if n < 4 { 150 } else { 5000 };
        (
            mock::openai_completion(&format!("echo: {text}")),
            Duration::from_millis(delay),
        )
    })]);
    let mut child = crate::openai_std(dir.path(), &slow)
        .args(["complete", "--each-line", "--concurrency", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let partial = child.wait_with_output().unwrap();
    assert_eq!(partial.status.code(), Some(130));
    let partial_text = String::from_utf8(partial.stdout).unwrap();
    let partial_lines: Vec<Value> = partial_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(partial_lines.len(), 6, "{partial_text}");
    let done = partial_lines
        .iter()
        .filter(|l| l.get("error").is_none())
        .count();
    assert_eq!(done, 4);
    for (i, l) in partial_lines.iter().enumerate() {
        assert_eq!(l["index"], i);
    }
    assert!(
        partial_lines
            .iter()
            .any(|l| l["error"]["type"] == "interrupted"),
        "{partial_text}"
    );

    // resume with a cut-off last line as an interrupted writer might leave it
    let mut resume_file = partial_text.clone();
    resume_file.push_str("{\"index\": 99, \"inp");
    std::fs::write(dir.path().join("part.jsonl"), resume_file).unwrap();
    let mock2 = echo_server(0);
    let resumed = run(openai(dir.path(), &mock2)
        .args(["complete", "--each-line", "--resume", "part.jsonl"])
        .write_stdin(input.clone()))
    .expect(0);
    assert_eq!(
        mock2.hits(),
        12 - done,
        "only the unfinished items are sent"
    );
    let a: Vec<Value> = full.lines().iter().map(without_timing).collect();
    let b: Vec<Value> = resumed.lines().iter().map(without_timing).collect();
    assert_eq!(a, b);
}

#[test]
fn a_resume_file_from_other_input_is_a_usage_error() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("old.jsonl"),
        "{\"index\":0,\"input\":\"something else\",\"text\":\"x\"}\n",
    )
    .unwrap();
    let mock = echo_server(0);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--resume", "old.jsonl"])
        .write_stdin("item 0\n"))
    .expect(2);
    assert!(
        out.stderr.contains("does not match this input"),
        "{}",
        out.stderr
    );
    std::fs::write(
        dir.path().join("long.jsonl"),
        "{\"index\":5,\"input\":\"item 5\",\"text\":\"x\"}\n",
    )
    .unwrap();
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--resume", "long.jsonl"])
        .write_stdin("item 0\n"))
    .expect(2);
    assert!(out.stderr.contains("results for item 5"), "{}", out.stderr);
}

#[test]
fn jsonl_items_fill_template_variables() {
    let dir = tmp();
    let prompts = dir.path().join("prompts/tr");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(prompts.join("v1.md"), "Translate to {{lang}}: {{input}}").unwrap();
    let mock = echo_server(0);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--line-format", "jsonl", "--prompt", "tr"])
        .write_stdin("{\"input\": \"hello\", \"lang\": \"French\"}\n[1]\n{\"input\": \"bye\", \"lang\": \"German\", \"n\": 2}\n{\"input\": \"x\"}\nnot json\n"))
    .expect(2);
    let lines = check_all(&out, 5);
    assert_eq!(
        lines[0]["input"],
        json!({"input": "hello", "lang": "French"})
    );
    assert_eq!(lines[0]["text"], "echo: Translate to French: hello");
    assert_eq!(lines[0]["prompt"], "tr@v1");
    assert_eq!(lines[1]["error"]["type"], "usage");
    assert_eq!(lines[2]["text"], "echo: Translate to German: bye");
    assert!(
        lines[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`lang` has no value")
    );
    assert!(
        lines[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    assert_eq!(mock.hits(), 2);
}

#[test]
fn classify_each_line_with_a_prompt_file() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let text = mock::last_user_text(req);
        let label = if text.contains("love") {
            "positive"
        } else if text.contains("hate") {
            "negative"
        } else {
            "maybe"
        };
        (
            mock::openai_completion(&json!({"label": label}).to_string()),
            Duration::ZERO,
        )
    })]);
    let prompts = format!("{}/prompts", env!("CARGO_MANIFEST_DIR"));
    let out = run(openai(dir.path(), &mock)
        .args([
            "classify",
            "--prompt",
            "sentiment",
            "--prompts-dir",
            &prompts,
            "--each-line",
        ])
        .write_stdin("I love it\nI hate it\nwho knows\n"))
    .expect(6);
    let lines = check_all(&out, 3);
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[0]["prompt"], "sentiment@v2");
    assert_eq!(lines[1]["label"], "negative");
    assert_eq!(lines[2]["error"]["type"], "unusable_answer");
    assert!(lines[2].get("label").is_none());
    assert!(
        lines[2]["usage"].is_object(),
        "the paid result stays on the error line"
    );
}

#[test]
fn dry_run_prints_one_request_per_item_and_files_come_before_stdin() {
    let dir = tmp();
    std::fs::write(dir.path().join("a.txt"), "from file\n\nsecond\n").unwrap();
    let out = run(anthropic(dir.path(), &echo_server(0))
        .args([
            "complete",
            "--each-line",
            "--dry-run",
            "-m",
            "claude-haiku-4-5",
            "-f",
            "a.txt",
        ])
        .write_stdin("from stdin\n"))
    .expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 3);
    let texts: Vec<&str> = lines
        .iter()
        .map(|l| l["body"]["messages"][0]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["from file", "second", "from stdin"]);
    assert_eq!(lines[0]["headers"]["x-api-key"], "[REDACTED]");
}

#[test]
fn a_non_utf8_line_is_an_error_line_and_the_rest_run() {
    let dir = tmp();
    let mock = echo_server(0);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line"])
        .write_stdin(b"good\nbad \xff here\nalso good\n".to_vec()))
    .expect(2);
    let lines = check_all(&out, 3);
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stdin is not valid UTF-8: invalid byte at offset 9"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["text"], "echo: also good");
}

#[test]
fn rpm_spaces_out_request_starts() {
    let dir = tmp();
    let mock = echo_server(0);
    let started = std::time::Instant::now();
    run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--rpm", "600"])
        .write_stdin(items(4)))
    .expect(0);
    // 600/min = one start per 100 ms: the 4th starts at 300 ms at the earliest
    assert!(started.elapsed() >= Duration::from_millis(300));
    let reqs = mock.requests();
    assert!(reqs[3].at - reqs[0].at >= Duration::from_millis(290));
}

#[test]
fn max_cost_covers_the_whole_run() {
    let dir = tmp();
    let mock = echo_server(0);
    // gpt-4o: an item's worst case is ~11 input + 100 output tokens ≈ $0.00103 (see
    // estimate-cost); the mock reports gpt-4o-mini usage, $0.00000885 a call. With $0.00112
    // the run admits items while the spend so far plus one worst case fits: about ten.
    let out = run(openai(dir.path(), &mock)
        .args([
            "complete",
            "--each-line",
            "-m",
            "gpt-4o",
            "--max-tokens",
            "100",
            "--max-cost",
            "0.00112",
            "--concurrency",
            "1",
        ])
        .write_stdin(items(30)))
    .expect(7);
    let lines = check_all(&out, 30);
    let sent = lines.iter().filter(|l| l.get("error").is_none()).count();
    assert!((5..20).contains(&sent), "{sent}");
    assert_eq!(mock.hits(), sent);
    let skipped = &lines[sent];
    assert_eq!(skipped["error"]["type"], "budget");
    assert_eq!(skipped["error"]["exit_code"], 7);
    assert!(lines[sent..].iter().all(|l| l["error"]["type"] == "budget"));
    // spend never passes the budget
    let spent: f64 = lines.iter().filter_map(|l| l["cost_usd"].as_f64()).sum();
    assert!(spent <= 0.00112);
}
