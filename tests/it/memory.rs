//! The call log, conversations and the response cache.

use std::time::Duration;

use serde_json::{Value, json};

use crate::mock::{self, Mock};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, anthropic, base, openai, run, tmp};

fn log_db(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(".local/share/llmpipe/log.db")
}

#[test]
fn logs_json_round_trips_what_json_printed_and_never_holds_the_key() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("logged answer")]);
    let first =
        run(openai(dir.path(), &mock).args(["complete", "--json", "-s", "sys", "question one"]))
            .expect(0);
    let bad = Mock::start(vec![mock::openai_error(
        400,
        "invalid_request_error",
        None,
        "nope",
    )]);
    let second =
        run(openai(dir.path(), &bad).args(["complete", "--json", "question two"])).expect(4);
    let out = run(base(dir.path()).args(["logs", "--json"])).expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], first.json());
    assert_eq!(lines[1], second.json());

    let bytes = std::fs::read(log_db(dir.path())).unwrap();
    let wal = std::fs::read(log_db(dir.path()).with_extension("db-wal")).unwrap_or_default();
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        for b in [&bytes, &wal] {
            assert!(
                !b.windows(key.len()).any(|w| w == key.as_bytes()),
                "key in the log"
            );
        }
    }
    let plain = run(base(dir.path()).args(["logs"])).expect(0);
    assert!(plain.stdout.contains("logged answer"), "{}", plain.stdout);
    assert!(
        plain.stdout.contains("error: openai 400"),
        "{}",
        plain.stdout
    );
    let found = run(base(dir.path()).args(["logs", "--json", "-q", "one"])).expect(0);
    assert_eq!(found.lines().len(), 1);
}

#[test]
fn no_log_writes_nothing() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("x")]);
    run(openai(dir.path(), &mock).args(["complete", "--no-log", "q"])).expect(0);
    assert!(!log_db(dir.path()).exists());
    let out = run(base(dir.path()).args(["logs"])).expect(0);
    assert!(out.stderr.contains("no calls logged yet"));
}

#[test]
fn concurrent_processes_lose_no_row() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (
            mock::openai_completion(&mock::last_user_text(req)),
            Duration::from_millis(20),
        )
    })]);
    let children: Vec<_> = (0..8)
        .map(|i| {
            crate::openai_std(dir.path(), &mock)
                .args(["complete", "--each-line", "--concurrency", "4"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map(|mut c| {
                    use std::io::Write;
                    let lines: String = (0..10).map(|j| format!("p{i} item {j}\n")).collect();
                    c.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
                    c
                })
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let out = run(base(dir.path()).args(["logs", "--json", "-n", "1000"])).expect(0);
    let texts: std::collections::HashSet<String> = out
        .lines()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 80);
}

#[test]
fn continue_sends_the_conversation_in_each_providers_shape() {
    let dir = tmp();
    let mock = Mock::start(vec![
        mock::anthropic_message("Hello! How can I help?"),
        mock::anthropic_message("Bonjour !"),
    ]);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-haiku-4-5",
        "-s",
        "Be brief.",
        "Say hello",
    ]))
    .expect(0);
    run(anthropic(dir.path(), &mock).args([
        "complete",
        "-m",
        "claude-haiku-4-5",
        "-c",
        "and in French?",
    ]))
    .expect(0);
    let body = mock.requests()[1].json();
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Say hello"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "and in French?"}
        ])
    );
    // the same conversation, continued on OpenAI by id
    let rows = run(base(dir.path()).args(["logs"])).expect(0);
    let cid = rows
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(6)
        .unwrap()
        .to_string();
    let oa = Mock::start(vec![mock::openai_completion("Hallo!")]);
    run(openai(dir.path(), &oa).args(["complete", "--cid", &cid, "and German?"])).expect(0);
    let body = oa.only_request().json();
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(body["messages"].as_array().unwrap().len(), 6);
    assert_eq!(
        body["messages"][4],
        json!({"role": "assistant", "content": "Bonjour !"})
    );
    run(openai(dir.path(), &oa).args(["complete", "--cid", "c-nope", "x"])).expect(2);
    let fresh = tmp();
    let out = run(openai(fresh.path(), &oa).args(["complete", "-c", "x"])).expect(2);
    assert!(
        out.stderr.contains("no earlier conversation"),
        "{}",
        out.stderr
    );
}

#[test]
fn history_is_trimmed_to_the_context_window_oldest_first() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[context_windows]\ntiny = 120\n",
    )
    .unwrap();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (
            mock::openai_completion(&format!("reply to {}", mock::last_user_text(req))),
            Duration::ZERO,
        )
    })]);
    let long = "word ".repeat(30); // ~38 tokens by the estimate
    for i in 0..4 {
        let flag = if i == 0 { None } else { Some("-c") };
        let mut cmd = openai(dir.path(), &mock);
        cmd.args(["complete", "-m", "tiny", "--max-tokens", "20"]);
        if let Some(f) = flag {
            cmd.arg(f);
        }
        run(cmd.arg(format!("turn {i} {long}"))).expect(0);
    }
    let mut cmd = openai(dir.path(), &mock);
    let out = run(cmd.args([
        "complete",
        "-v",
        "-m",
        "tiny",
        "--max-tokens",
        "20",
        "-c",
        "last",
    ]))
    .expect(0);
    let body = mock.requests().last().unwrap().json();
    let msgs = body["messages"].as_array().unwrap();
    // the newest turn is kept, the oldest dropped, the new message always last
    assert_eq!(msgs.last().unwrap()["content"], "last");
    assert!(msgs.len() < 9, "{}", msgs.len());
    assert!(
        msgs[msgs.len() - 3]["content"]
            .as_str()
            .unwrap()
            .starts_with("turn 3")
    );
    assert!(
        !msgs
            .iter()
            .any(|m| m["content"].as_str().unwrap().starts_with("turn 0"))
    );
    assert!(
        out.stderr.contains("dropped to fit the context window"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_cached_repeat_makes_no_request_and_costs_nothing() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("deterministic")]);
    let first = run(openai(dir.path(), &mock).args([
        "complete",
        "--cache",
        "--json",
        "-t",
        "0",
        "same question",
    ]))
    .expect(0);
    let second = run(openai(dir.path(), &mock).args([
        "complete",
        "--cache",
        "--json",
        "-t",
        "0",
        "same question",
    ]))
    .expect(0);
    assert_eq!(mock.hits(), 1);
    let (a, b) = (first.json(), second.json());
    assert_eq!(b["text"], a["text"]);
    assert_eq!(b["cached"], true);
    assert_eq!(b["cost_usd"], json!(0.0));
    assert_eq!(b["attempts"], 0);
    assert!(a.get("cached").is_none());
    // a different request, or a creative temperature, is not served from the cache
    run(openai(dir.path(), &mock).args(["complete", "--cache", "other question"])).expect(0);
    run(openai(dir.path(), &mock).args(["complete", "--cache", "-t", "0.8", "same question"]))
        .expect(0);
    run(openai(dir.path(), &mock).args(["complete", "--cache", "-t", "0.8", "same question"]))
        .expect(0);
    assert_eq!(mock.hits(), 4);
    // logs cost adds up what was spent: the cached call cost nothing
    let cost = run(base(dir.path()).args(["logs", "cost", "--json"]))
        .expect(0)
        .json();
    assert_eq!(cost["total"]["calls"], 5);
    // four paid calls of 19 in / 10 out at gpt-4o-mini's reported-model price
    assert_eq!(cost["total"]["cost_usd"], json!(0.0000354));

    // a cached stream replays its text as one delta
    let streamed = Mock::start(vec![mock::openai_stream(&["str", "eamed"])]);
    run(openai(dir.path(), &streamed).args(["stream", "--cache", "q"])).expect(0);
    let out =
        run(openai(dir.path(), &streamed).args(["stream", "--cache", "--json", "q"])).expect(0);
    assert_eq!(streamed.hits(), 1);
    let lines = out.lines();
    assert_eq!(lines[0], json!({"type": "delta", "text": "streamed"}));
    assert_eq!(lines[1]["cached"], true);
}

#[test]
fn logs_cost_sums_by_model() {
    let dir = tmp();
    let oa = Mock::start(vec![mock::openai_completion("a")]);
    let an = Mock::start(vec![mock::anthropic_message("b")]);
    for _ in 0..2 {
        run(openai(dir.path(), &oa).args(["complete", "-m", "gpt-4o-mini", "x"])).expect(0);
    }
    run(anthropic(dir.path(), &an).args(["complete", "-m", "claude-sonnet-4-5", "x"])).expect(0);
    let cost = run(base(dir.path()).args(["logs", "cost", "--json"]))
        .expect(0)
        .json();
    let groups = cost["groups"].as_array().unwrap();
    let sonnet = groups
        .iter()
        .find(|g| g["model"] == mock::ANTHROPIC_MODEL_REPORTED)
        .unwrap();
    assert_eq!(sonnet["cost_usd"], json!(0.002091));
    let mini = groups
        .iter()
        .find(|g| g["model"] == mock::OPENAI_MODEL_REPORTED)
        .unwrap();
    assert_eq!(mini["calls"], 2);
    assert_eq!(mini["cost_usd"], json!(0.0000177));
    assert_eq!(cost["total"]["cost_usd"], json!(0.0021087));
    let plain = run(base(dir.path()).args(["logs", "cost", "--by", "day"])).expect(0);
    assert!(plain.stdout.contains("total"), "{}", plain.stdout);
}

#[test]
fn an_unreachable_cache_is_a_warning_not_a_failure() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("still works")]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(openai(dir.path(), &mock)
        .env("LLMPIPE_CACHE_URL", format!("redis://127.0.0.1:{port}"))
        .args(["complete", "--cache", "x"]))
    .expect(0);
    assert_eq!(out.stdout, "still works\n");
    assert!(
        out.stderr.contains("response cache unavailable"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs a Redis server: .ci/run starts one"]
fn redis_cache_serves_a_second_runner() {
    let url = std::env::var("LLMPIPE_TEST_REDIS_URL").expect(
        "LLMPIPE_TEST_REDIS_URL must name a Redis server (redis://127.0.0.1:PORT) for this test; .ci/run starts one",
    );
    let mock = Mock::start(vec![mock::anthropic_message("from the shared cache")]);
    let unique = format!("question {:?}", std::time::SystemTime::now());
    // two "CI runners": different machines' data directories, one Redis
    for (i, expect_hits) in [(0, 1), (1, 1)] {
        let dir = tmp();
        let out = run(anthropic(dir.path(), &mock)
            .env("LLMPIPE_CACHE_URL", &url)
            .args([
                "complete",
                "--cache",
                "--json",
                "-m",
                "claude-haiku-4-5",
                &unique,
            ]))
        .expect(0);
        assert_eq!(mock.hits(), expect_hits, "runner {i}");
        let r: Value = out.json();
        assert_eq!(r["text"], "from the shared cache");
        assert_eq!(r["cached"] == json!(true), i == 1);
    }
}

/// Twenty single calls logging at the same moment: every row arrives.
#[test]
fn twenty_processes_logging_at_once_lose_no_row() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (
            mock::openai_completion(&mock::last_user_text(req)),
            Duration::from_millis(5),
        )
    })]);
    let children: Vec<_> = (0..20)
        .map(|i| {
            crate::openai_std(dir.path(), &mock)
                .args(["complete", &format!("call {i}")])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let out = run(base(dir.path()).args(["logs", "--json", "-n", "100"])).expect(0);
    assert_eq!(out.lines().len(), 20);
}

/// Processes killed (SIGKILL) while they log leave a sound database: it passes SQLite's
/// integrity check, every row in it is whole, and the next process logs and searches.
#[test]
fn processes_killed_mid_write_leave_a_sound_log() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        (
            mock::openai_completion(&mock::last_user_text(req)),
            Duration::ZERO,
        )
    })]);
    for round in 0..4u64 {
        let mut child = crate::openai_std(dir.path(), &mock)
            .args(["complete", "--each-line", "--concurrency", "16"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let lines: String = (0..3000).map(|j| format!("r{round} item {j}\n")).collect();
            let _ = child.stdin.take().unwrap().write_all(lines.as_bytes());
        }
        std::thread::sleep(Duration::from_millis(150 + 70 * round));
        let _ = child.kill();
        let _ = child.wait();
    }
    let conn = llmpipe::store::open_for_reading(&log_db(dir.path())).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let whole: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM calls WHERE reply = input AND json_valid(output)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let all: i64 = conn
        .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
        .unwrap();
    assert!(all > 0, "the killed runs logged something before the kill");
    assert_eq!(whole, all, "every row is whole");
    drop(conn);
    run(openai(dir.path(), &mock).args(["complete", "after the kills"])).expect(0);
    let out = run(base(dir.path()).args(["logs", "--json", "-q", "kills"])).expect(0);
    assert_eq!(out.lines().len(), 1);
}

/// A FIFO (or a device) where the spool belongs is never opened: it could block forever.
#[test]
fn a_spool_that_is_not_a_regular_file_never_hangs() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock).args(["complete", "first"])).expect(0);
    let spool = log_db(dir.path()).with_extension("db.spool");
    let _ = std::fs::remove_file(&spool);
    let made = std::process::Command::new("mkfifo")
        .arg(&spool)
        .status()
        .unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = run(openai(dir.path(), &mock).args(["complete", "second"])).expect(0);
    assert_eq!(out.stdout, "ok\n");
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    let out = run(base(dir.path()).args(["logs", "--json"])).expect(0);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}
