//! Defects found by probing today's changes: each test fails on the code before its fix.

use crate::{run, tmp};

/// `estimate-cost --compare … --effort LEVEL` where no model compared takes the level: not
/// an empty table (or `[]`) with exit 0, but exit 2 naming the models left out.
#[test]
fn estimate_cost_compare_with_an_effort_no_model_takes_is_a_usage_error() {
    let dir = tmp();
    let est = |args: &[&str]| {
        let mut c = crate::base(dir.path());
        c.args(["estimate-cost"]).args(args);
        run(&mut c)
    };
    let out = est(&[
        "--json",
        "--compare",
        "gpt-4o-mini,gpt-4o",
        "--effort",
        "high",
        "hi",
    ])
    .expect(2);
    let e = out.json();
    assert_eq!(e["error"]["type"], "usage", "{}", out.stdout);
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("gpt-4o-mini") && msg.contains("--effort"),
        "{msg}"
    );
    // the table form too
    let out = est(&["--compare", "gpt-4o-mini", "--effort", "high", "hi"]).expect(2);
    assert!(!out.stdout.contains("MODEL"), "{}", out.stdout);
    assert!(out.stderr.contains("--effort"), "{}", out.stderr);
}

fn batch_cmd(
    dir: &std::path::Path,
    fake: &crate::batch_mock::BatchApi,
    anthropic_api: bool,
) -> assert_cmd::Command {
    if anthropic_api {
        crate::anthropic(dir, &fake.mock)
    } else {
        crate::openai(dir, &fake.mock)
    }
}

/// `batch status` of a job with a provider batch that ended without results, asked before
/// the results are read: every item of the job is counted (the failed batch's as errored),
/// not only those the other batches report.
#[test]
fn batch_status_counts_a_failed_batchs_items_before_the_results_are_read() {
    use crate::batch_mock::{BatchApi, Config};
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            fail_batch: Some(1),
            ..Config::default()
        });
        let model = if anthropic_api {
            "claude-sonnet-4-5"
        } else {
            "gpt-4o-mini"
        };
        let stdin: String = (0..8).map(|i| format!("item {i}\n")).collect();
        let sub = run(batch_cmd(dir.path(), &fake, anthropic_api)
            .args([
                "batch",
                "submit",
                "--json",
                "--batch-size",
                "3",
                "-m",
                model,
            ])
            .write_stdin(stdin))
        .expect(0);
        let id = sub.json()["id"].as_str().unwrap().to_string();
        // let every batch end
        for _ in 0..5 {
            run(batch_cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", &id]));
        }
        let st =
            run(batch_cmd(dir.path(), &fake, anthropic_api)
                .args(["batch", "status", "--json", &id]))
            .expect(0);
        let v = st.json();
        let c = &v["counts"];
        assert_eq!(c["total"], 8, "{v}");
        assert_eq!(c["succeeded"], 5, "{v}");
        assert_eq!(c["errored"], 3, "{v}");
    }
}

/// Ctrl-C (SIGTERM) while a repair request of `extract-json --json` is on its way: the
/// invalid reply before it was paid for, so stdout gets the result of what was paid (usage,
/// cost, attempts) with the `interrupted` error, as the tool loop does, and the exit is 130
/// (143).
#[test]
fn an_interrupted_repair_request_keeps_the_paid_result_on_stdout() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use crate::mock::{self, Mock};
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tmp();
        let fake = Mock::start(vec![mock::dynamic(|_, n| {
            if n == 0 {
                (mock::openai_completion("not json at all"), Duration::ZERO)
            } else {
                (mock::Reply::Hang(Duration::from_secs(30)), Duration::ZERO)
            }
        })]);
        let mut child = crate::openai_std(dir.path(), &fake)
            .args([
                "extract-json",
                "-m",
                "gpt-4o-mini",
                "--repair",
                "2",
                "--json",
                "give me JSON",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while fake.hits() < 2 && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
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
        assert!(!out.contains(crate::OPENAI_KEY));
        assert_eq!(status.code(), Some(code), "{out}");
        let r: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(r["error"]["type"], "interrupted", "{r}");
        assert_eq!(r["error"]["exit_code"], code, "{r}");
        assert!(r["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0, "{r}");
        assert!(r["cost_usd"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
        assert_eq!(r["repairs"], 0, "{r}");
    }
}

/// `batch results msgbatch_…` (a provider batch id with no local record) of a batch that
/// ended without a results URL: there is nothing to write, which is not a success with
/// "0 item(s)": exit 5 naming the batch.
#[test]
fn a_bare_batch_id_without_results_is_not_an_empty_success() {
    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config {
        fail_batch: Some(0),
        ..Config::default()
    });
    run(batch_cmd(dir.path(), &fake, true)
        .args(["batch", "submit", "--json", "-m", "claude-sonnet-4-5"])
        .write_stdin("a\nb\n"))
    .expect(0);
    let bid = fake.batches()[0].id.clone();
    // another machine: no local record of the job
    let other = tmp();
    for _ in 0..5 {
        run(batch_cmd(other.path(), &fake, true).args(["batch", "status", &bid]));
    }
    let out = run(batch_cmd(other.path(), &fake, true).args(["batch", "results", "--json", &bid]))
        .expect(5);
    let e = out.json();
    assert_eq!(e["error"]["type"], "unavailable", "{}", out.stdout);
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&bid),
        "{}",
        out.stdout
    );
}

/// Ctrl-C during the second of three variants, with a gate that the partial numbers would
/// fail: the first variant's numbers are whole, the second's count only its scored items, the
/// third never ran (accuracy null), no gate is checked (exit 130, not 8), and `--out` holds
/// only the scored items.
#[test]
fn an_eval_interrupted_in_its_second_variant_reports_only_what_was_scored() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use crate::mock::{self, Mock};
    let dir = tmp();
    let d = dir.path().join("prompts/sent");
    std::fs::create_dir_all(&d).unwrap();
    for v in ["v1", "v2", "v3"] {
        std::fs::write(
            d.join(format!("{v}.md")),
            "+++\ntemperature = 0.0\nlabels = [\"positive\", \"negative\"]\n+++\nReview: {{input}}\n",
        )
        .unwrap();
    }
    let data: String = (0..3)
        .map(|i| format!("{{\"input\": \"r{i}\", \"expected\": \"positive\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("data.jsonl"), data).unwrap();
    // variant 0: three answers; variant 1: one wrong answer, then a request that never ends
    let fake = Mock::start(vec![mock::dynamic(|_, n| match n {
        0..3 => (mock::openai_completion("positive"), Duration::ZERO),
        3 => (mock::openai_completion("negative"), Duration::ZERO),
        _ => (mock::Reply::Hang(Duration::from_secs(60)), Duration::ZERO),
    })]);
    let mut child = crate::openai_std(dir.path(), &fake)
        .args([
            "eval",
            "--prompt",
            "sent@v1",
            "--prompt",
            "sent@v2",
            "--prompt",
            "sent@v3",
            "-m",
            "gpt-4o-mini",
            "--data",
            "data.jsonl",
            "--concurrency",
            "1",
            "--min-accuracy",
            "0.99",
            "--json",
            "--out",
            "out.jsonl",
            "--report",
            "report.md",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fake.hits() < 5 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
    };
    kill("-INT");
    std::thread::sleep(Duration::from_millis(200));
    // a second signal cuts the grace period short
    kill("-INT");
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "{out}");
    assert_eq!(status.code(), Some(130), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(r["interrupted"], true, "{r}");
    assert_eq!(r["passed"], serde_json::Value::Null, "{r}");
    assert_eq!(r["gates"], serde_json::json!([]), "{r}");
    let v = &r["variants"];
    assert_eq!(
        (v[0]["items"].as_u64(), v[0]["not_run"].as_u64()),
        (Some(3), Some(0)),
        "{r}"
    );
    assert_eq!(v[0]["accuracy"], 1.0, "{r}");
    assert_eq!(
        (v[1]["items"].as_u64(), v[1]["not_run"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    assert_eq!(v[1]["accuracy"], 0.0, "{r}");
    assert_eq!(
        (v[2]["items"].as_u64(), v[2]["not_run"].as_u64()),
        (Some(0), Some(3)),
        "{r}"
    );
    assert_eq!(v[2]["accuracy"], serde_json::Value::Null, "{r}");
    // one flip: item 0 of variant 1
    assert_eq!(r["flips"].as_array().unwrap().len(), 1, "{r}");
    let lines = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4, "{lines}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("interrupted"), "{md}");
}

/// `batch results batch_…` on a machine without the job's record: the items are priced at
/// the rates in effect when the provider says the batch was created, as a local job's are
/// at its submission date, not at today's.
#[test]
fn a_bare_batch_id_is_priced_at_the_rates_of_the_day_the_batch_was_created() {
    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    run(batch_cmd(dir.path(), &fake, false)
        .args(["batch", "submit", "--json", "-m", "gpt-5.6-luna"])
        .write_stdin("a\nb\n"))
    .expect(0);
    let bid = fake.batches()[0].id.clone();
    let other = tmp();
    let read = || -> Vec<serde_json::Value> {
        run(batch_cmd(other.path(), &fake, false).args(["batch", "results", &bid]))
            .expect(0)
            .lines()
    };
    let now: Vec<f64> = read()
        .iter()
        .map(|l| l["cost_usd"].as_f64().unwrap())
        .collect();
    // created on 2026-06-01, before the price cut of 2026-07-30: $1/$6 per million
    fake.state.lock().unwrap().batches[0].created_at = 1_780_272_000;
    let lines = read();
    assert_eq!(lines.len(), 2);
    for (l, now) in lines.iter().zip(now) {
        let u = &l["usage"];
        let (i, o) = (
            u["input_tokens"].as_f64().unwrap(),
            u["output_tokens"].as_f64().unwrap(),
        );
        let want = (i * 1.0 + o * 6.0) / 1e6;
        let got = l["cost_usd"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{l}: want {want}, today's {now}");
    }
}

/// `batch results` with failed items (here: an Anthropic batch that ended without results)
/// says what to do about them: redo only them with `--resume`.
#[test]
fn batch_results_with_failed_items_says_how_to_redo_them() {
    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config {
        fail_batch: Some(1),
        ..Config::default()
    });
    let stdin: String = (0..4).map(|i| format!("item {i}\n")).collect();
    let sub = run(batch_cmd(dir.path(), &fake, true)
        .args([
            "batch",
            "submit",
            "--json",
            "--batch-size",
            "2",
            "-m",
            "claude-sonnet-4-5",
        ])
        .write_stdin(stdin))
    .expect(0);
    let id = sub.json()["id"].as_str().unwrap().to_string();
    let res = run(batch_cmd(dir.path(), &fake, true).args(["batch", "results", &id])).expect(5);
    assert_eq!(res.lines().len(), 4, "{}", res.stdout);
    assert!(
        res.stderr.contains("2 of 4 item(s) failed"),
        "{}",
        res.stderr
    );
    assert!(
        res.stderr.contains("hint:") && res.stderr.contains("--resume"),
        "{}",
        res.stderr
    );
}

/// Ctrl-C while `batch results` writes a long job's lines (its reader is slow): the run stops
/// writing and exits 130, as its message promises, instead of not noticing the signal until
/// every line is out; and the spend of every result read is logged all the same.
#[test]
fn ctrl_c_while_batch_results_writes_its_lines_stops_it() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use crate::batch_mock::{BatchApi, Config};
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let n = 3000;
    let stdin: String = (0..n)
        .map(|i| format!("item {i} {}\n", "x".repeat(200)))
        .collect();
    let sub = run(batch_cmd(dir.path(), &fake, false)
        .args(["batch", "submit", "--json", "-m", "gpt-4o-mini"])
        .write_stdin(stdin))
    .expect(0);
    let id = sub.json()["id"].as_str().unwrap().to_string();
    // let the batch end
    for _ in 0..5 {
        run(batch_cmd(dir.path(), &fake, false).args(["batch", "status", &id]));
    }
    let hits = fake.mock.hits();
    let mut child = crate::openai_std(dir.path(), &fake.mock)
        .args(["batch", "results", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the results are downloaded, and the pipe fills up: nobody reads it yet
    let started = Instant::now();
    while fake.mock.hits() < hits + 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let written = out.lines().count();
    assert_eq!(status.code(), Some(130), "{written} line(s); {err}");
    assert!(written < n, "{written} line(s); {err}");
    // every result read is in the log, though not every line was written
    let cost = run(batch_cmd(dir.path(), &fake, false).args(["logs", "cost", "--json"])).expect(0);
    let v = cost.json();
    let logged = v["total"]["output_tokens"].as_u64().unwrap_or(0);
    assert!(logged > 0, "{v}");
    run(batch_cmd(dir.path(), &fake, false).args(["batch", "results", &id])).expect(0);
    let cost = run(batch_cmd(dir.path(), &fake, false).args(["logs", "cost", "--json"])).expect(0);
    assert_eq!(
        cost.json()["total"]["output_tokens"].as_u64(),
        Some(logged),
        "{}",
        cost.stdout
    );
}

/// A job whose batches ran out of time: the expired items are `expired` error lines (exit 5,
/// the `--each-line` rule), `batch status` counts them as expired, and `batch submit
/// --resume` sends exactly them again.
#[test]
fn expired_items_are_error_lines_counted_and_redone_by_resume() {
    use crate::batch_mock::{BatchApi, Config};
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            expire: true,
            ..Config::default()
        });
        let model = if anthropic_api {
            "claude-sonnet-4-5"
        } else {
            "gpt-4o-mini"
        };
        let stdin: String = (0..8).map(|i| format!("item {i}\n")).collect();
        let sub = run(batch_cmd(dir.path(), &fake, anthropic_api)
            .args([
                "batch",
                "submit",
                "--json",
                "--batch-size",
                "4",
                "-m",
                model,
            ])
            .write_stdin(stdin.clone()))
        .expect(0);
        let id = sub.json()["id"].as_str().unwrap().to_string();
        let res =
            run(batch_cmd(dir.path(), &fake, anthropic_api)
                .args(["batch", "results", "--json", &id]))
            .expect(5);
        let lines = res.lines();
        assert_eq!(lines.len(), 8, "{}", res.stdout);
        let expired: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l["error"]["type"] == "expired")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(expired, [2, 3, 6, 7], "{}", res.stdout);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i, "{l}");
            if !expired.contains(&i) {
                assert_eq!(l["text"], format!("echo: item {i}"), "{l}");
            }
        }
        let st =
            run(batch_cmd(dir.path(), &fake, anthropic_api)
                .args(["batch", "status", "--json", &id]))
            .expect(0);
        let c = &st.json()["counts"];
        assert_eq!(
            (c["total"].as_u64(), c["expired"].as_u64()),
            (Some(8), Some(4)),
            "{c}"
        );
        let earlier = dir.path().join("earlier.jsonl");
        std::fs::write(&earlier, &res.stdout).unwrap();
        fake.config(|c| c.expire = false);
        let before = fake.batches().len();
        run(batch_cmd(dir.path(), &fake, anthropic_api)
            .args(["batch", "submit", "--json", "-m", model, "--resume"])
            .arg(&earlier)
            .write_stdin(stdin))
        .expect(0);
        let sent: Vec<String> = fake.batches()[before..]
            .iter()
            .flat_map(|b| b.requests.iter().map(|(cid, _)| cid.clone()))
            .collect();
        assert_eq!(sent.len(), 4, "{sent:?}");
        for (cid, i) in sent.iter().zip([2, 3, 6, 7]) {
            assert!(cid.starts_with(&format!("i{i}-")), "{cid}");
        }
    }
}
