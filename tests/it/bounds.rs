//! Hostile arguments, inputs and servers: every bound ends in the SPEC's exit code with a
//! clear message (and the JSON error object under `--json`), never a panic, an abort or a
//! process that grows without limit.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::mock::{self, Mock, Reply};
use crate::{base, openai, run, tmp};

fn assert_usage_json(out: &crate::Out) {
    let e = out.json();
    assert_eq!(e["error"]["type"], "usage", "{}", out.stdout);
    assert_eq!(e["error"]["exit_code"], 2);
}

#[test]
fn arguments_that_are_not_utf8_are_usage_errors() {
    let dir = tmp();
    let bad = OsStr::from_bytes(b"\xff");
    for args in [
        vec![OsStr::new("complete"), bad],
        vec![OsStr::new("count-tokens"), bad],
        vec![
            OsStr::new("count-tokens"),
            OsStr::new("-m"),
            bad,
            OsStr::new("hi"),
        ],
    ] {
        let out = run(base(dir.path()).args(&args)).expect(2);
        assert!(out.stderr.contains("UTF-8"), "{}", out.stderr);
        assert!(!out.stderr.contains("internal error"), "{}", out.stderr);
        let mut with_json = args.clone();
        with_json.push(OsStr::new("--json"));
        let out = run(base(dir.path()).args(&with_json)).expect(2);
        assert_usage_json(&out);
        assert!(out.stdout.contains("UTF-8"), "{}", out.stdout);
    }
}

#[test]
fn numbers_too_large_to_use_are_usage_errors() {
    let dir = tmp();
    let words = "lorem ipsum dolor sit amet ".repeat(120_000); // 3 MB: counted in parallel
    std::fs::write(dir.path().join("big.txt"), &words).unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "complete",
            "--dry-run",
            "--each-line",
            "--concurrency",
            "1000000000000000000",
            "-f",
            "big.txt",
        ],
        vec!["count-tokens", "-j", "30000", "-f", "big.txt"],
        vec![
            "count-tokens",
            "-j",
            "18446744073709551615",
            "-f",
            "big.txt",
        ],
        vec!["logs", "--since", "18446744073709551615m"],
        vec!["logs", "-n", "18446744073709551615"],
        vec!["logs", "-q", ""],
        vec!["logs", "-q", "  "],
    ];
    for args in cases {
        let out = run(base(dir.path()).args(&args)).expect(2);
        assert!(
            !out.stderr.contains("internal error"),
            "{args:?}: {}",
            out.stderr
        );
        let mut with_json = args.clone();
        with_json.push("--json");
        assert_usage_json(&run(base(dir.path()).args(&with_json)).expect(2));
    }
    // The bounds themselves still work.
    run(base(dir.path()).args(["count-tokens", "-j", "64", "-f", "big.txt"])).expect(0);
    run(base(dir.path()).args(["count-tokens", "-j", "65", "-f", "big.txt"])).expect(2);
}

#[test]
fn negative_numbers_get_the_flags_own_message() {
    let dir = tmp();
    for (args, says) in [
        (vec!["--max-cost", "-1"], "--max-cost must be"),
        (vec!["--timeout", "-1"], "--timeout must be"),
        (vec!["--temperature", "-1"], "out of range"),
        (vec!["-t", "-0.5"], "out of range"),
    ] {
        let mut all = vec!["complete", "--dry-run"];
        all.extend(args);
        all.push("hi");
        let out = run(base(dir.path()).args(&all)).expect(2);
        assert!(out.stderr.contains(says), "{all:?}: {}", out.stderr);
        assert!(!out.stderr.contains("use '-- -1'"), "{}", out.stderr);
    }
    let out = run(base(dir.path()).args(["count-tokens", "--timeout", "-3", "--exact", "hi"]));
    assert!(!out.stderr.contains("tip:"), "{}", out.stderr);
}

#[test]
fn an_absurd_server_wait_is_more_than_the_cap() {
    let dir = tmp();
    let limited = mock::full(
        429,
        &[
            ("retry-after-ms", "1e30"),
            ("content-type", "application/json"),
        ],
        r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    );
    let mock = Mock::start(vec![limited]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "x"])).expect(5);
    assert_eq!(out.json()["error"]["type"], "rate_limited");
    assert!(out.stderr.contains("asked to wait"), "{}", out.stderr);
    assert_eq!(mock.hits(), 1);
}

#[test]
fn stream_keepalive_comments_do_not_reset_the_timeout() {
    let dir = tmp();
    let keepalive = Reply::Sse {
        headers: Vec::new(),
        pieces: vec![b": keepalive\n\n".to_vec(); 400], // 20 s of comments
        delay: Duration::from_millis(50),
        cut: false,
    };
    let mock = Mock::start(vec![keepalive]);
    let started = Instant::now();
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "x",
    ]))
    .expect(5);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let last = out.lines().pop().unwrap();
    assert_eq!(last["error"]["type"], "timeout", "{}", out.stdout);
    assert!(out.stderr.contains("first stream event"), "{}", out.stderr);
}

#[test]
fn stream_events_do_reset_the_timeout() {
    // A slow but healthy stream: each event comes after 300 ms, the timeout is 0.5 s.
    let dir = tmp();
    let slow = match mock::openai_stream(&["a", "b", "c", "d", "e"]) {
        Reply::Sse {
            headers, pieces, ..
        } => Reply::Sse {
            headers,
            pieces,
            delay: Duration::from_millis(300),
            cut: false,
        },
        _ => unreachable!(),
    };
    let mock = Mock::start(vec![slow]);
    let out = run(openai(dir.path(), &mock).args(["stream", "--timeout", "0.5", "x"])).expect(0);
    assert_eq!(out.stdout, "abcde\n");
}

#[test]
fn a_huge_response_body_is_refused_not_held() {
    let dir = tmp();
    let mut body = b"{\"pad\":\"".to_vec();
    body.resize(70 << 20, b'x');
    let huge = mock::full(200, &[("content-type", "application/json")], body);
    let mock = Mock::start(vec![huge]);
    let out = run(openai(dir.path(), &mock).args(["complete", "--json", "x"])).expect(5);
    assert!(out.stderr.contains("larger than 64 MiB"), "{}", out.stderr);
    assert_eq!(out.json()["error"]["type"], "unavailable");
    assert_eq!(mock.hits(), 1, "not retried");
}

#[test]
fn a_huge_stream_is_refused_not_held() {
    let dir = tmp();
    // One endless SSE line: no event ever completes, the bytes keep coming.
    let mut pieces = vec![b"data: {\"x\":\"".to_vec()];
    pieces.extend(std::iter::repeat_n(vec![b'y'; 1 << 20], 70));
    let endless = Reply::Sse {
        headers: Vec::new(),
        pieces,
        delay: Duration::ZERO,
        cut: false,
    };
    let mock = Mock::start(vec![endless]);
    let out = run(openai(dir.path(), &mock).args(["stream", "x"])).expect(5);
    assert!(out.stderr.contains("larger than 64 MiB"), "{}", out.stderr);
    assert_eq!(mock.hits(), 1, "not retried");
}

#[test]
fn a_huge_error_body_is_cut_and_keeps_its_status() {
    let dir = tmp();
    let mut body = b"{\"error\":{\"message\":\"bad ".to_vec();
    body.resize(80 << 20, b'z');
    let mock = Mock::start(vec![mock::full(400, &[], body)]);
    let out = run(openai(dir.path(), &mock).args(["complete", "x"])).expect(4);
    assert!(
        out.stderr.len() < 200_000,
        "{} bytes of stderr",
        out.stderr.len()
    );
}

#[test]
fn endless_input_is_a_usage_error() {
    let dir = tmp();
    for args in [
        vec!["complete", "--dry-run", "-f", "/dev/zero"],
        vec!["estimate-cost", "-f", "/dev/zero"],
        vec!["complete", "--dry-run", "--each-line", "-f", "/dev/zero"],
        vec!["complete", "--dry-run", "--image", "/dev/zero", "hi"],
    ] {
        let out = run(base(dir.path()).args(&args));
        let out = if args.contains(&"--each-line") {
            // the item is an error line
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            out
        } else {
            out.expect(2)
        };
        assert!(
            out.stderr.contains("larger than 256 MiB"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_deeply_nested_field_list_is_a_usage_error() {
    let dir = tmp();
    let deep = format!("a {}str{}", "[".repeat(7000), "]".repeat(7000));
    let out = run(base(dir.path()).args([
        "extract-json",
        "--dry-run",
        "--json",
        "--schema",
        &deep,
        "hi",
    ]))
    .expect(2);
    assert_usage_json(&out);
    assert!(
        out.stderr.contains("nests more than 32 arrays"),
        "{}",
        out.stderr
    );
    // A schema file nested as deep as JSON allows is refused as JSON, not a crash.
    let file = dir.path().join("deep.json");
    std::fs::write(
        &file,
        format!("{}{{}}{}", "{\"items\":".repeat(7000), "}".repeat(7000)),
    )
    .unwrap();
    let out =
        run(base(dir.path()).args(["extract-json", "--dry-run", "--schema", "deep.json", "hi"]))
            .expect(2);
    assert!(out.stderr.contains("recursion limit"), "{}", out.stderr);
}

#[test]
fn a_schema_file_nested_to_the_json_limit_validates_without_crashing() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("deep.json"),
        format!("{}{{}}{}", "{\"not\":".repeat(126), "}".repeat(126)),
    )
    .unwrap();
    let mock = Mock::start(vec![mock::openai_completion("{\"a\": 1}")]);
    let out = run(openai(dir.path(), &mock).args([
        "extract-json",
        "--json",
        "--repair",
        "0",
        "--schema",
        "deep.json",
        "x",
    ]));
    assert!(
        out.code == 0 || out.code == 6,
        "{}: {}",
        out.code,
        out.stderr
    );
}

#[test]
fn runs_without_a_split_point_count_fast_and_say_when_not_exact() {
    let dir = tmp();
    std::fs::write(dir.path().join("spaces"), " ".repeat(10_000_000)).unwrap();
    let started = Instant::now();
    let out = run(base(dir.path()).args(["count-tokens", "--json", "-f", "spaces"])).expect(0);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let r = out.json();
    assert_eq!(r["tokens"], 78_125); // 128 spaces a token, as tiktoken merges them
    assert_eq!(r["exact"], true);
    assert_eq!(r["method"], "tiktoken");

    // One 200 KB "word" of mixed letters: counted in windows, and marked so.
    let mut x: u64 = 1;
    let word: String = (0..200_000)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + (x >> 59) as u8 % 26)
        })
        .collect();
    std::fs::write(dir.path().join("word"), &word).unwrap();
    let out = run(base(dir.path()).args(["count-tokens", "--json", "-f", "word"])).expect(0);
    let r = out.json();
    assert_eq!(r["exact"], false, "{r}");
    assert_eq!(r["method"], "tiktoken+windowed");
    assert!(out.stderr.contains("windows"), "{}", out.stderr);
}

fn log_db(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(".local/share/llmpipe/log.db")
}

fn log_bytes(dir: &std::path::Path) -> u64 {
    let db = log_db(dir);
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    size(db.clone()) + size(db.with_extension("db-wal"))
}

#[test]
fn a_huge_request_is_logged_as_a_prefix_and_a_hash() {
    let dir = tmp();
    std::fs::write(dir.path().join("big.txt"), "lorem ipsum ".repeat(500_000)).unwrap(); // 6 MB
    let mock = Mock::start(vec![mock::openai_error(
        413,
        "invalid_request_error",
        None,
        "Request too large",
    )]);
    run(openai(dir.path(), &mock).args(["complete", "-s", &"s".repeat(100_000), "-f", "big.txt"]))
        .expect(4);
    assert!(
        log_bytes(dir.path()) < 2_000_000,
        "{} bytes",
        log_bytes(dir.path())
    );

    // A successful call with a huge input: logged cut, and -c refuses to replay it.
    let ok = Mock::start(vec![mock::openai_completion("fine")]);
    run(openai(dir.path(), &ok).args(["complete", "-f", "big.txt"])).expect(0);
    assert!(
        log_bytes(dir.path()) < 4_000_000,
        "{} bytes",
        log_bytes(dir.path())
    );
    let out =
        run(openai(dir.path(), &ok).args(["complete", "--json", "-c", "and then?"])).expect(2);
    assert!(out.stderr.contains("cannot be continued"), "{}", out.stderr);
    assert_eq!(ok.hits(), 1, "nothing sent");
    let listed = run(base(dir.path()).args(["logs"])).expect(0);
    assert!(listed.stdout.contains("fine"), "{}", listed.stdout);
}

/// Files llmpipe reads besides the input are bounded too: an endless config file or resume
/// file is an error with the usual exit code, never an abort on allocation.
#[test]
fn endless_config_and_resume_files_are_errors() {
    let dir = tmp();
    let out = run(base(dir.path()).env("LLMPIPE_CONFIG", "/dev/zero").args([
        "count-tokens",
        "--json",
        "hi",
    ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read config file /dev/zero"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["error"]["type"], "config");

    let mock = Mock::start(vec![mock::openai_completion("x")]);
    let out = run(openai(dir.path(), &mock)
        .args(["complete", "--each-line", "--resume", "/dev/zero", "--json"])
        .write_stdin("a\n"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert_eq!(mock.hits(), 0);
}
