//! Results and money that must not be lost: resumed results on interrupt, a log row for every
//! request sent (closed stdout, Ctrl-C, SIGTERM), `--max-cost` over repair rounds, a hung
//! Redis cache, signals while reading stdin, resume-file validation, and the output details
//! found behind a real gateway.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mock::{self, Mock};
use crate::{OPENAI_KEY, base, openai, run, tmp};

fn items(n: usize) -> String {
    (0..n).map(|i| format!("item {i}\n")).collect()
}

fn echo_reply(req: &mock::Recorded) -> mock::Reply {
    mock::openai_completion(&format!("echo: {}", mock::last_user_text(req)))
}

/// The item number of an `item N` request.
fn item_of(req: &mock::Recorded) -> usize {
    mock::last_user_text(req)
        .trim_start_matches("item ")
        .parse()
        .unwrap_or(usize::MAX)
}

fn signal(child: &Child, sig: &str) {
    // the shell's built-in kill: no dependency on procps
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -{sig} {}", child.id())])
        .status()
        .unwrap();
}

/// Waits for the child at most `limit`, killing it (and failing) if it takes longer.
fn finish(mut child: Child, limit: Duration) -> (i32, String, String) {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stdout.contains(OPENAI_KEY) && !stderr.contains(OPENAI_KEY),
        "key leaked"
    );
    (code, stdout, stderr)
}

fn wait_for_hits(mock: &Mock, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.hits() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(mock.hits() >= n, "the mock saw {} request(s)", mock.hits());
}

/// `(exit_code, error, model)` of every row of the call log.
fn log_rows(db: &Path) -> Vec<(i64, Option<String>, Option<String>)> {
    let conn = llmpipe::store::open_for_reading(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT exit_code, error, model FROM calls ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

// ---- 1. an interrupted --resume keeps what it carried over ----

#[test]
fn an_interrupted_resume_still_writes_every_result_it_carried_over() {
    let dir = tmp();
    // 200 items, 199 done earlier: only item 5 is left, and it hangs
    let earlier: String = (0..200)
        .filter(|i| *i != 5)
        .map(|i| {
            format!(
                "{}\n",
                json!({"index": i, "input": format!("item {i}"), "text": format!("old {i}")})
            )
        })
        .collect();
    std::fs::write(dir.path().join("part.jsonl"), earlier).unwrap();
    let slow = Mock::start(vec![mock::dynamic(|req, _| {
        (echo_reply(req), Duration::from_secs(20))
    })]);
    let mut child = crate::openai_std(dir.path(), &slow)
        .args(["complete", "--each-line", "--resume", "part.jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(items(200).as_bytes())
        .unwrap();
    wait_for_hits(&slow, 1);
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "INT");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 200, "{stderr}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
        if i == 5 {
            assert_eq!(l["error"]["type"], "interrupted");
        } else {
            assert_eq!(l["text"], format!("old {i}"), "{l}");
        }
    }
    assert_eq!(slow.hits(), 1, "only the missing item was sent");
}

// ---- 2. every request sent is logged ----

#[test]
fn a_closed_stdout_still_logs_every_request_sent() {
    let dir = tmp();
    let db = dir.path().join("log.db");
    // staggered replies: whenever a line is written, other requests are still in flight
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let n: u64 = mock::last_user_text(req).trim().parse().unwrap_or(0);
        (echo_reply(req), Duration::from_millis(100 + n % 7 * 60))
    })]);
    let script = format!(
        "seq 1 2000 | '{}' complete --each-line --concurrency 16 | head -n 1 >/dev/null; echo \"exit ${{PIPESTATUS[1]}}\" >&2",
        env!("CARGO_BIN_EXE_llmpipe")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .env("LLMPIPE_LOG_DB", &db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.ends_with("exit 0\n"), "{stderr}");
    assert!(!stderr.contains("error"), "quietly: {stderr}");
    let sent = mock.hits();
    assert!((16..2000).contains(&sent), "{sent}");
    let rows = log_rows(&db);
    assert_eq!(rows.len(), sent, "one log row per request sent");
}

#[test]
fn ctrl_c_during_a_single_request_still_logs_it() {
    let dir = tmp();
    let db = dir.path().join("log.db");
    let mock = Mock::start(vec![mock::Reply::Hang(Duration::from_secs(20))]);
    let child = crate::openai_std(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &db)
        .args(["complete", "-m", "gpt-4o", "hi"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_hits(&mock, 1);
    signal(&child, "INT");
    let (code, _, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    let rows = log_rows(&db);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, 130);
    assert!(
        rows[0].1.as_deref().unwrap_or("").contains("interrupted"),
        "{rows:?}"
    );
    assert_eq!(rows[0].2.as_deref(), Some("gpt-4o"));
}

#[test]
fn requests_dropped_at_the_grace_deadline_are_logged_as_interrupted() {
    let dir = tmp();
    let db = dir.path().join("log.db");
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let delay = if item_of(req) < 2 { 0 } else { 20 };
        (echo_reply(req), Duration::from_secs(delay))
    })]);
    let mut child = crate::openai_std(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &db)
        .args(["complete", "--each-line", "--concurrency", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(items(6).as_bytes())
        .unwrap();
    wait_for_hits(&mock, 6);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(stdout.lines().count(), 6);
    let rows = log_rows(&db);
    assert_eq!(rows.len(), mock.hits(), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.0 == 0).count(), 2);
    assert_eq!(rows.iter().filter(|r| r.0 == 130).count(), 4);
}

#[test]
fn an_interrupted_repair_is_logged_with_what_was_already_paid() {
    let dir = tmp();
    let db = dir.path().join("log.db");
    write_prices(dir.path()); // $0.001 per output token, see priced_prose_server
    let body = json!({"id": "c1", "object": "chat.completion", "model": "my-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure!"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}})
    .to_string();
    // the first reply is prose (paid: $0.005); the repair hangs
    let mock = Mock::start(vec![mock::dynamic(move |_, n| {
        if n == 0 {
            (
                mock::full(200, &[("content-type", "application/json")], body.clone()),
                Duration::ZERO,
            )
        } else {
            (mock::Reply::Hang(Duration::from_secs(20)), Duration::ZERO)
        }
    })]);
    let child = crate::openai_std(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &db)
        .args([
            "extract-json",
            "-m",
            "my-model",
            "--repair",
            "2",
            "give me json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_hits(&mock, 2);
    signal(&child, "INT");
    let (code, _, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    let conn = llmpipe::store::open_for_reading(&db).unwrap();
    let (exit, cost, out): (i64, Option<f64>, i64) = conn
        .query_row(
            "SELECT exit_code, cost_usd, output_tokens FROM calls",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((exit, cost, out), (130, Some(0.005), 5));
}

#[test]
fn failed_calls_are_logged_with_the_requested_model() {
    let dir = tmp();
    let db = dir.path().join("log.db");
    let mock = Mock::start(vec![mock::openai_error(
        400,
        "invalid_request_error",
        None,
        "bad",
    )]);
    run(openai(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &db)
        .args(["complete", "-m", "gpt-4o", "hi"]))
    .expect(4);
    let rows = log_rows(&db);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2.as_deref(), Some("gpt-4o"));
}

// ---- 3. --max-cost bounds repair rounds too ----

/// Prices that make the arithmetic exact: input free, $0.001 per output token. Every reply
/// uses 5 output tokens ($0.005) and is never JSON; with --max-tokens 10 a request's worst
/// case is $0.01 whatever its input.
fn priced_prose_server(dir: &Path) -> Mock {
    write_prices(dir);
    let body = json!({"id": "c1", "object": "chat.completion", "model": "my-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure! Here it is."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}});
    Mock::start(vec![mock::full(
        200,
        &[("content-type", "application/json")],
        body.to_string(),
    )])
}

fn write_prices(dir: &Path) {
    std::fs::write(
        dir.join("llmpipe.toml"),
        "[prices.\"my-model\"]\ninput = 0.0\noutput = 1000.0\n",
    )
    .unwrap();
}

#[test]
fn max_cost_stops_repair_rounds_of_a_single_request() {
    let dir = tmp();
    let mock = priced_prose_server(dir.path());
    // first request: worst case 0.01 <= 0.0255, sent, costs 0.005
    // repair 1: 0.005 + 0.01 = 0.015 fits, sent (0.010 spent)
    // repair 2: 0.010 + 0.01 = 0.020 fits, sent (0.015 spent)
    // repair 3: 0.015 + 0.01 = 0.025 fits, sent (0.020 spent)
    // repair 4: 0.020 + 0.01 = 0.030 > 0.0255: not sent; exit 7 with the paid result
    let out = run(openai(dir.path(), &mock).args([
        "extract-json",
        "--json",
        "-m",
        "my-model",
        "--repair",
        "5",
        "--max-tokens",
        "10",
        "--max-cost",
        "0.0255",
        "give me json",
    ]))
    .expect(7);
    assert_eq!(mock.hits(), 4);
    let v = out.json();
    assert_eq!(v["error"]["type"], "budget");
    assert_eq!(v["error"]["exit_code"], 7);
    assert_eq!(v["cost_usd"], json!(0.02));
    assert_eq!(v["repairs"], 3);
    assert!(out.stderr.contains("not sent"), "{}", out.stderr);
}

#[test]
fn max_cost_over_an_each_line_run_counts_repair_rounds() {
    let dir = tmp();
    let mock = priced_prose_server(dir.path());
    // item 0: worst case 0.01 <= 0.012, sent, costs 0.005; its repair would reach
    // 0.005 + 0.01 = 0.015 > 0.012: not sent, the item ends with exit 7 and its paid result.
    // Every later item is refused: 1 request, $0.005 in all.
    let out = run(openai(dir.path(), &mock)
        .args([
            "extract-json",
            "--each-line",
            "-m",
            "my-model",
            "--repair",
            "3",
            "--max-tokens",
            "10",
            "--max-cost",
            "0.012",
            "--concurrency",
            "1",
        ])
        .write_stdin(items(10)))
    .expect(7);
    assert_eq!(mock.hits(), 1);
    let lines = out.lines();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["error"]["type"], "budget");
    assert_eq!(lines[0]["cost_usd"], json!(0.005));
    assert!(lines.iter().all(|l| l["error"]["type"] == "budget"));

    // with several in flight, the reservations of the others count too: never more than
    // the budget is spent
    let mock = priced_prose_server(dir.path());
    let out = run(openai(dir.path(), &mock)
        .args([
            "extract-json",
            "--each-line",
            "-m",
            "my-model",
            "--repair",
            "3",
            "--max-tokens",
            "10",
            "--max-cost",
            "0.0255",
            "--concurrency",
            "4",
        ])
        .write_stdin(items(100)))
    .expect(7);
    let spent = mock.hits() as f64 * 0.005;
    assert!(spent <= 0.0255, "{} requests sent", mock.hits());
    let lines = out.lines();
    let reported: f64 = lines.iter().filter_map(|l| l["cost_usd"].as_f64()).sum();
    assert!((reported - spent).abs() < 1e-9, "{reported} vs {spent}");
}

// ---- 4. a Redis that never answers ----

#[test]
fn a_redis_cache_that_never_answers_is_given_up_once() {
    let dir = tmp();
    // accepts connections and never says a word
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (echo_reply(req), Duration::ZERO)
    })]);
    let mut child = crate::openai_std(dir.path(), &mock)
        .env("LLMPIPE_CACHE_URL", format!("redis://127.0.0.1:{port}"))
        .args(["complete", "--each-line", "--cache"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(items(20).as_bytes())
        .unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stdout.lines().count(), 20);
    assert_eq!(
        stderr.matches("response cache unavailable").count(),
        1,
        "{stderr}"
    );
    assert_eq!(mock.hits(), 20);
}

// ---- 5. signals ----

#[test]
fn ctrl_c_while_waiting_on_stdin_is_exit_130_with_a_json_error() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("never")]);
    let child = crate::openai_std(dir.path(), &mock)
        .args(["complete", "--json", "hi"])
        .stdin(Stdio::piped()) // held open, never written: like `sleep 30 | llmpipe …`
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "INT");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["type"], "interrupted");
    assert_eq!(v["error"]["exit_code"], 130);
    assert_eq!(mock.hits(), 0);
}

#[test]
fn ctrl_c_while_prompts_render_waits_on_stdin_is_exit_130() {
    let dir = tmp();
    let prompts = dir.path().join("prompts/p");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(prompts.join("v1.md"), "Say {{input}}").unwrap();
    let child = crate::base_std(dir.path())
        .args([
            "prompts",
            "render",
            "p",
            "--prompts-dir",
            "prompts",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "INT");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["type"], "interrupted");
}

#[test]
fn sigterm_is_handled_like_ctrl_c_but_exits_143() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::Reply::Hang(Duration::from_secs(20))]);
    let child = crate::openai_std(dir.path(), &mock)
        .args(["complete", "--json", "hi"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_hits(&mock, 1);
    signal(&child, "TERM");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(5));
    assert_eq!(code, 143, "{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["type"], "interrupted");
    assert_eq!(v["error"]["exit_code"], 143);
}

#[test]
fn sigterm_on_an_each_line_run_writes_interrupted_lines_and_a_summary() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let delay = if item_of(req) < 2 { 0 } else { 20 };
        (echo_reply(req), Duration::from_secs(delay))
    })]);
    let mut child = crate::openai_std(dir.path(), &mock)
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
        .write_all(items(4).as_bytes())
        .unwrap();
    wait_for_hits(&mock, 4);
    signal(&child, "TERM");
    let (code, stdout, stderr) = finish(child, Duration::from_secs(10));
    assert_eq!(code, 143, "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["error"]["type"], "interrupted");
    assert_eq!(lines[2]["error"]["exit_code"], 143);
    assert!(stderr.contains("4 item(s)"), "summary: {stderr}");
}

// ---- 6. resume files ----

#[test]
fn a_resume_file_that_is_not_an_output_file_is_a_usage_error() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (echo_reply(req), Duration::ZERO)
    })]);
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("random.bin"), random).unwrap();
    std::fs::write(dir.path().join("shape.jsonl"), "{\"a\": 1}\n{\"b\": 2}\n").unwrap();
    std::fs::write(dir.path().join("csv.txt"), "index,input\n0,item 0\n").unwrap();
    for (file, says) in [
        ("adir", "directory"),
        ("random.bin", "not the output"),
        ("shape.jsonl", "no `index` and `input`"),
        ("csv.txt", "is not JSON"),
    ] {
        let out = run(openai(dir.path(), &mock)
            .args(["complete", "--each-line", "--json", "--resume", file])
            .write_stdin(items(3)))
        .expect(2);
        assert!(out.stderr.contains(says), "{file}: {}", out.stderr);
        assert_eq!(out.json()["error"]["type"], "usage", "{file}");
    }
    assert_eq!(mock.hits(), 0, "nothing is sent");
}

#[test]
fn only_lines_with_this_commands_result_count_as_done() {
    let dir = tmp();
    // a line with neither a result nor an error, and a `complete` line (no label)
    std::fs::write(
        dir.path().join("old.jsonl"),
        "{\"index\":0,\"input\":\"item 0\"}\n{\"index\":1,\"input\":\"item 1\",\"text\":\"positive\"}\n{\"index\":2,\"input\":\"item 2\",\"text\":\"t\",\"label\":\"negative\"}\n",
    )
    .unwrap();
    let mock = Mock::start(vec![mock::openai_completion("positive")]);
    let out = run(openai(dir.path(), &mock)
        .args([
            "classify",
            "--each-line",
            "--labels",
            "positive,negative",
            "--resume",
            "old.jsonl",
        ])
        .write_stdin(items(3)))
    .expect(0);
    assert_eq!(mock.hits(), 2, "items 0 and 1 run again");
    let lines = out.lines();
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[1]["label"], "positive");
    assert_eq!(lines[2]["label"], "negative", "copied");

    let mock = Mock::start(vec![mock::openai_completion("hello")]);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--resume", "old.jsonl"])
        .write_stdin(items(3)))
    .expect(0);
    assert_eq!(
        mock.hits(),
        1,
        "only item 0, which had no result, runs again"
    );
    assert_eq!(out.lines()[0]["text"], "hello");
}

// ---- 7. output details ----

#[test]
fn stream_stdout_does_not_depend_on_the_summary() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_stream(&["a", "b"])]);
    for flags in [&[][..], &["-v"][..]] {
        let out = run(openai(dir.path(), &mock)
            .args(["stream"])
            .args(flags)
            .arg("hi"))
        .expect(0);
        assert_eq!(out.stdout, "ab\n", "{flags:?}");
    }
}

#[test]
fn each_line_summary_shows_small_and_unknown_costs() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("x")]);
    // one call of 19 in / 10 out at gpt-4o-mini prices: $0.00000885
    let small = dir.path().join("small.db");
    let out = run(openai(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &small)
        .args(["complete", "--each-line"])
        .write_stdin("one\n"))
    .expect(0);
    assert!(out.stderr.contains("$0.00000885"), "{}", out.stderr);
    let listed = run(base(dir.path()).env("LLMPIPE_LOG_DB", &small).arg("logs")).expect(0);
    assert!(listed.stdout.contains("$0.00000885"), "{}", listed.stdout);

    let body = json!({"model": "llama3.2", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                      "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}});
    let mock = Mock::start(vec![mock::full(200, &[], body.to_string())]);
    let db = dir.path().join("log.db");
    let out = run(openai(dir.path(), &mock)
        .env("LLMPIPE_LOG_DB", &db)
        .args(["complete", "--each-line", "-m", "llama3.2"])
        .write_stdin("a\nb\n"))
    .expect(0);
    assert!(
        out.stderr.contains("cost unknown for 2 call(s)"),
        "{}",
        out.stderr
    );
    let cost = run(base(dir.path())
        .env("LLMPIPE_LOG_DB", &db)
        .args(["logs", "cost", "--json"]))
    .expect(0)
    .json();
    assert_eq!(cost["total"]["cost_usd"], Value::Null, "{cost}");
    assert_eq!(cost["total"]["cost_unknown_calls"], 2, "{cost}");
    let plain = run(base(dir.path())
        .env("LLMPIPE_LOG_DB", &db)
        .args(["logs", "cost"]))
    .expect(0);
    assert!(plain.stdout.contains('≥'), "{}", plain.stdout);
    assert!(plain.stderr.contains("cost unknown for 2 call(s)"));
}

#[test]
fn a_gateways_param_none_is_not_shown() {
    let dir = tmp();
    let body = json!({"error": {"message": "Invalid model name passed in model=foo", "type": "invalid_request_error",
                                "param": "None", "code": "400"}});
    let mock = Mock::start(vec![mock::full(
        400,
        &[("content-type", "application/json")],
        body.to_string(),
    )]);
    let out = run(openai(dir.path(), &mock).args(["complete", "hi"])).expect(4);
    assert!(!out.stderr.contains("None:"), "{}", out.stderr);
    assert!(out.stderr.contains("Invalid model name"), "{}", out.stderr);
}

#[test]
fn a_warning_under_a_terminal_stream_line_starts_a_new_stderr_line() {
    // stderr must be a terminal for this: `script` gives the child one (util-linux).
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED money::a_warning_under_a_terminal_stream_line_starts_a_new_stderr_line: no `script`"
        );
        return;
    }
    let dir = tmp();
    // an unknown price: its warning comes while the streamed line "ab" is still open
    let reply = match mock::openai_stream(&["ab"]) {
        mock::Reply::Sse {
            headers,
            pieces,
            delay,
            cut,
        } => mock::Reply::Sse {
            headers,
            pieces: pieces
                .into_iter()
                .map(|p| {
                    String::from_utf8(p)
                        .unwrap()
                        .replace(mock::OPENAI_MODEL_REPORTED, "llama3.2")
                        .into_bytes()
                })
                .collect(),
            delay,
            cut,
        },
        _ => unreachable!(),
    };
    let mock = Mock::start(vec![reply]);
    let bin = env!("CARGO_BIN_EXE_llmpipe");
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("'{bin}' stream -m llama3.2 hi"),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
        .env("OPENAI_API_KEY", OPENAI_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut terminal = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut terminal)
        .unwrap();
    child.wait().unwrap();
    assert!(!terminal.contains(OPENAI_KEY));
    assert!(
        terminal.contains("ab\r\nllmpipe: warning: no price known"),
        "{terminal:?}"
    );
}
