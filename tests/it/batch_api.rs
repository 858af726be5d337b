//! `llmpipe batch …` on the providers' Batch APIs, against the fake in `batch_mock.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::batch_mock::{BatchApi, Config};
use crate::mock::{self, Mock};
use crate::{Out, anthropic, openai, run, tmp};

fn items(n: usize) -> String {
    (0..n).map(|i| format!("item {i}\n")).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The command for `api` (OpenAI or Anthropic) in `dir`.
fn cmd(dir: &std::path::Path, fake: &BatchApi, anthropic_api: bool) -> assert_cmd::Command {
    if anthropic_api {
        anthropic(dir, &fake.mock)
    } else {
        openai(dir, &fake.mock)
    }
}

fn model(anthropic_api: bool) -> &'static str {
    if anthropic_api {
        "claude-sonnet-4-5"
    } else {
        "gpt-4o-mini"
    }
}

fn submit(
    dir: &std::path::Path,
    fake: &BatchApi,
    anthropic_api: bool,
    extra: &[&str],
    stdin: String,
) -> Out {
    run(cmd(dir, fake, anthropic_api)
        .args(["batch", "submit", "--json", "-m", model(anthropic_api)])
        .args(extra)
        .write_stdin(stdin))
}

fn end_to_end(anthropic_api: bool) {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let sub = submit(dir.path(), &fake, anthropic_api, &["Say:"], items(20)).expect(0);
    let job = sub.json();
    let id = job["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("lpb_"), "{job}");
    assert_eq!(
        job["provider"],
        if anthropic_api { "anthropic" } else { "openai" }
    );
    assert_eq!(job["items"], 20);
    assert_eq!(job["provider_batch_ids"].as_array().unwrap().len(), 1);
    assert!(job["submitted_at"].as_str().unwrap().ends_with('Z'));
    // what was sent: one request per item, built as a live request is, ids encoding the index
    let batches = fake.batches();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].requests.len(), 20);
    for (i, (cid, body)) in batches[0].requests.iter().enumerate() {
        assert!(cid.starts_with(&format!("i{i}-")), "{cid}");
        assert!(body.get("stream").is_none());
        let text = serde_json::to_string(&body["messages"]).unwrap();
        assert!(text.contains(&format!("Say:\\n\\nitem {i}")), "{text}");
    }

    let st = run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", "--json", &id]))
        .expect(0);
    let st = st.json();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["status"], "ended");
    assert_eq!(st["counts"]["total"], 20);
    assert_eq!(st["counts"]["succeeded"], 20);
    assert!(st["created_at"].as_str().unwrap().contains('T'));
    assert!(st["ended_at"].as_str().is_some());
    assert_eq!(
        st["provider_status"],
        if anthropic_api { "ended" } else { "completed" }
    );

    let res = run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(0);
    let lines = res.lines();
    assert_eq!(lines.len(), 20);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
        assert_eq!(l["input"], format!("item {i}"));
        assert_eq!(l["text"], format!("echo: Say:\n\nitem {i}"));
        assert_eq!(l["batch"], true);
    }

    // the same items through a live --each-line run: the same members, plus `batch`
    let live = Mock::start(vec![mock::dynamic(move |req, _| {
        let text = mock::last_user_text(req);
        let reply = if anthropic_api {
            mock::anthropic_message(&format!("echo: {text}"))
        } else {
            mock::openai_completion(&format!("echo: {text}"))
        };
        (reply, Duration::ZERO)
    })]);
    let live_cmd = if anthropic_api {
        anthropic(dir.path(), &live)
    } else {
        openai(dir.path(), &live)
    };
    let mut live_cmd = live_cmd;
    let live_out = run(live_cmd
        .args([
            "complete",
            "--each-line",
            "-m",
            model(anthropic_api),
            "Say:",
        ])
        .write_stdin(items(20)))
    .expect(0);
    let live_lines = live_out.lines();
    for (b, l) in lines.iter().zip(&live_lines) {
        let mut want = keys(l);
        want.insert("batch".into());
        assert_eq!(keys(b), want, "{b}\n{l}");
        assert_eq!(b["text"], l["text"]);
        assert_eq!(b["usage"], l["usage"]);
        // half the live price for the same usage
        let (bc, lc) = (
            b["cost_usd"].as_f64().unwrap(),
            l["cost_usd"].as_f64().unwrap(),
        );
        assert!(lc > 0.0);
        assert!((bc * 2.0 - lc).abs() < 1e-9, "batch {bc} live {lc}");
    }
}

#[test]
fn openai_submit_status_results_in_input_order() {
    end_to_end(false);
}

#[test]
fn anthropic_submit_status_results_in_input_order() {
    end_to_end(true);
}

fn job_id(out: &Out) -> String {
    out.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn a_low_batch_size_splits_the_job_and_status_and_results_cover_every_batch() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let sub = submit(
            dir.path(),
            &fake,
            anthropic_api,
            &["--batch-size", "7"],
            items(20),
        )
        .expect(0);
        let job = sub.json();
        assert_eq!(
            job["provider_batch_ids"].as_array().unwrap().len(),
            3,
            "{job}"
        );
        let sizes: Vec<usize> = fake.batches().iter().map(|b| b.requests.len()).collect();
        assert_eq!(sizes, [7, 7, 6]);
        let id = job_id(&sub);
        let st =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", "--json", &id]))
                .expect(0);
        assert_eq!(st.json()["counts"]["succeeded"], 20);
        assert_eq!(st.json()["provider_batch_ids"], job["provider_batch_ids"]);
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(0);
        let lines = res.lines();
        assert_eq!(lines.len(), 20);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i);
            assert_eq!(l["text"], format!("echo: item {i}"));
        }
    }
}

/// Items 2 (rejected), 4 (server error) and 6 (expired) fail; the rest answer.
fn mixed_items() -> String {
    (0..8)
        .map(|i| match i {
            2 => "FAIL400 two\n".to_string(),
            4 => "FAIL500 four\n".to_string(),
            6 => "EXPIRE six\n".to_string(),
            _ => format!("item {i}\n"),
        })
        .collect()
}

#[test]
fn errored_expired_items_become_error_lines_with_their_own_types() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let id = job_id(&submit(dir.path(), &fake, anthropic_api, &[], mixed_items()).expect(0));
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(4);
        let lines = res.lines();
        assert_eq!(lines.len(), 8);
        let err = |i: usize| lines[i]["error"].clone();
        assert_eq!(err(2)["type"], "rejected", "{}", lines[2]);
        assert_eq!(err(2)["status"], 400);
        assert_eq!(err(2)["exit_code"], 4);
        assert_eq!(err(4)["type"], "unavailable", "{}", lines[4]);
        assert_eq!(err(4)["exit_code"], 5);
        assert!(err(4)["status"].as_u64().unwrap() >= 500);
        assert_eq!(err(6)["type"], "expired", "{}", lines[6]);
        assert_eq!(err(6)["exit_code"], 5);
        for i in [0, 1, 3, 5, 7] {
            assert!(lines[i].get("error").is_none(), "{}", lines[i]);
            assert_eq!(lines[i]["batch"], true);
        }
        assert!(
            res.stderr
                .contains("3 of 8 item(s) failed; the first (index 2)"),
            "{}",
            res.stderr
        );
        // exact counts once the results were read
        let st =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", "--json", &id]))
                .expect(0);
        let c = &st.json()["counts"];
        assert_eq!(
            (
                c["succeeded"].as_u64(),
                c["errored"].as_u64(),
                c["expired"].as_u64()
            ),
            (Some(5), Some(2), Some(1)),
            "{c}"
        );
    }
}

#[test]
fn failed_items_are_resubmitted_with_resume_and_a_live_run_takes_the_file_too() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let id = job_id(&submit(dir.path(), &fake, false, &[], mixed_items()).expect(0));
    let first = run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(4);
    let earlier = dir.path().join("earlier.jsonl");
    std::fs::write(&earlier, &first.stdout).unwrap();
    // the same input, now without the faults: only the three failed items go out again
    let again = submit(
        dir.path(),
        &fake,
        false,
        &["--resume", earlier.to_str().unwrap()],
        mixed_items(),
    )
    .expect(0);
    let batches = fake.batches();
    let second = &batches[1];
    let sent: Vec<&str> = second
        .requests
        .iter()
        .map(|(c, _)| c.split('-').next().unwrap())
        .collect();
    assert_eq!(sent, ["i2", "i4", "i6"]);
    let res =
        run(openai(dir.path(), &fake.mock).args(["batch", "results", &job_id(&again)])).expect(4);
    let lines = res.lines();
    assert_eq!(lines.len(), 8);
    for i in [0, 1, 3, 5, 7] {
        // copied verbatim from the earlier output
        assert_eq!(res.stdout.lines().nth(i), first.stdout.lines().nth(i));
    }
    // a live --each-line --resume run redoes exactly the failed items
    let live = Mock::start(vec![mock::dynamic(|req, _| {
        let text = mock::last_user_text(req);
        (
            mock::openai_completion(&format!("live: {text}")),
            Duration::ZERO,
        )
    })]);
    let out = run(openai(dir.path(), &live)
        .args([
            "complete",
            "--each-line",
            "-m",
            "gpt-4o-mini",
            "--resume",
            earlier.to_str().unwrap(),
        ])
        .write_stdin(mixed_items()))
    .expect(0);
    assert_eq!(live.hits(), 3);
    let lines = out.lines();
    assert_eq!(lines[2]["text"], "live: FAIL400 two");
    assert_eq!(lines[0]["batch"], true);
}

#[test]
fn an_unfinished_job_is_exit_5_and_wait_polls_until_it_ends() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            polls_to_end: 4,
            ..Config::default()
        });
        let id = job_id(&submit(dir.path(), &fake, anthropic_api, &[], items(5)).expect(0));
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", "--json", &id]))
                .expect(5);
        assert!(
            res.stderr.contains("has not ended: 0 of 5 done"),
            "{}",
            res.stderr
        );
        assert_eq!(res.json()["error"]["exit_code"], 5);
        let started = std::time::Instant::now();
        let res = run(cmd(dir.path(), &fake, anthropic_api).args([
            "batch",
            "results",
            "--wait",
            "--poll-interval",
            "0.05",
            &id,
        ]))
        .expect(0);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(res.lines().len(), 5);
    }
}

#[test]
fn submit_wait_submits_waits_and_writes_the_results() {
    let dir = tmp();
    let fake = BatchApi::start(Config {
        polls_to_end: 2,
        ..Config::default()
    });
    let out = submit(
        dir.path(),
        &fake,
        true,
        &["--wait", "--poll-interval", "0.05"],
        items(3),
    )
    .expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["text"], "echo: item 2");
}

#[test]
fn cancel_then_results_give_canceled_lines() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            polls_to_end: 3,
            ..Config::default()
        });
        submit(dir.path(), &fake, anthropic_api, &[], items(4)).expect(0);
        // no ID: the latest job
        let st = run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "cancel", "--json"]))
            .expect(0);
        assert_eq!(st.json()["status"], "canceling", "{}", st.stdout);
        assert!(fake.batches()[0].canceled);
        let res = run(cmd(dir.path(), &fake, anthropic_api).args([
            "batch",
            "results",
            "--wait",
            "--poll-interval",
            "0.05",
        ]))
        .expect(5);
        let lines = res.lines();
        assert_eq!(lines.len(), 4);
        for l in &lines {
            assert_eq!(l["error"]["type"], "canceled", "{l}");
        }
        let st = run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", "--json"]))
            .expect(0);
        assert_eq!(st.json()["status"], "canceled");
        assert_eq!(st.json()["counts"]["canceled"], 4);
    }
}

#[test]
fn a_provider_batch_id_works_on_another_machine_without_inputs() {
    for anthropic_api in [false, true] {
        let here = tmp();
        let fake = BatchApi::start(Config::default());
        let sub = submit(here.path(), &fake, anthropic_api, &[], items(6)).expect(0);
        let pid = sub.json()["provider_batch_ids"][0]
            .as_str()
            .unwrap()
            .to_string();
        let elsewhere = tmp();
        let st =
            run(cmd(elsewhere.path(), &fake, anthropic_api)
                .args(["batch", "status", "--json", &pid]))
            .expect(0);
        assert_eq!(st.json()["status"], "ended");
        assert_eq!(st.json()["id"], pid.as_str());
        let res = run(cmd(elsewhere.path(), &fake, anthropic_api).args(["batch", "results", &pid]))
            .expect(0);
        let lines = res.lines();
        assert_eq!(lines.len(), 6);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i);
            assert!(l.get("input").is_none(), "{l}");
            assert_eq!(l["requested_model"], l["model"], "{l}");
            assert!(l["cost_usd"].as_f64().unwrap() > 0.0);
            assert_eq!(l["text"], format!("echo: item {i}"));
        }
        // no job at all here: a usage error that says what to do
        let none = run(cmd(tmp().path(), &fake, anthropic_api).args(["batch", "status"])).expect(2);
        assert!(none.stderr.contains("no batch job"), "{}", none.stderr);
    }
}

#[test]
fn dry_run_prints_the_request_lines_and_sends_nothing() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let out = run(cmd(dir.path(), &fake, anthropic_api)
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .args(["batch", "submit", "--dry-run", "-m", model(anthropic_api)])
            .write_stdin(items(3)))
        .expect(0);
        assert_eq!(fake.mock.hits(), 0);
        let lines = out.lines();
        assert_eq!(lines.len(), 3);
        for (i, l) in lines.iter().enumerate() {
            assert!(
                l["custom_id"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("i{i}-"))
            );
            let body = if anthropic_api {
                &l["params"]
            } else {
                &l["body"]
            };
            assert_eq!(body["model"], model(anthropic_api));
            if !anthropic_api {
                assert_eq!(l["url"], "/v1/chat/completions");
                assert_eq!(l["method"], "POST");
            }
        }
        // nothing recorded either
        let st =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "list", "--json"])).expect(0);
        assert_eq!(st.json(), serde_json::json!([]));
    }
}

#[test]
fn an_openai_batch_that_fails_validation_is_exit_4_with_the_errors() {
    let dir = tmp();
    let fake = BatchApi::start(Config {
        fail_validation: true,
        ..Config::default()
    });
    let id = job_id(&submit(dir.path(), &fake, false, &[], items(4)).expect(0));
    let res =
        run(openai(dir.path(), &fake.mock).args(["batch", "results", "--json", &id])).expect(4);
    // every item is an error line (nothing is lost: see fixes.rs), the errors on stderr
    let lines = res.lines();
    assert_eq!(lines.len(), 4);
    let e = &lines[1]["error"];
    assert_eq!(e["type"], "rejected");
    let msg = &res.stderr;
    assert!(msg.contains("invalid_json_line (line 2, item 1)"), "{msg}");
    let st = run(openai(dir.path(), &fake.mock).args(["batch", "status", "--json", &id])).expect(0);
    assert_eq!(st.json()["status"], "failed");
    assert_eq!(st.json()["errors"][0]["code"], "invalid_json_line");
}

#[test]
fn a_404_right_after_creation_is_retried() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            not_found_first: 2,
            ..Config::default()
        });
        let id = job_id(&submit(dir.path(), &fake, anthropic_api, &[], items(2)).expect(0));
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(0);
        assert_eq!(res.lines().len(), 2);
        // longer than the retries allow: still retried while the batch is under a minute old
        fake.config(|c| c.not_found_first = 8);
        let id = job_id(&submit(dir.path(), &fake, anthropic_api, &[], items(2)).expect(0));
        let res = run(cmd(dir.path(), &fake, anthropic_api).args([
            "batch",
            "results",
            "--retries",
            "1",
            &id,
        ]))
        .expect(0);
        assert_eq!(res.lines().len(), 2);
        // a batch that stays missing (here from another machine: its age is unknown) is exit 4
        let missing = if anthropic_api {
            "msgbatch_01Hk9999"
        } else {
            "batch_69c39999"
        };
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", missing])).expect(4);
        assert!(res.stderr.contains("404"), "{}", res.stderr);
    }
}

#[test]
fn max_cost_covers_the_whole_job_at_batch_prices_before_anything_is_sent() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    // gpt-4o-mini: 0.60 per million output tokens, half in a batch: 100 items × 1024 tokens
    // cost up to about $0.031 at batch prices ($0.061 live).
    let out = submit(
        dir.path(),
        &fake,
        false,
        &["--max-cost", "0.02"],
        items(100),
    )
    .expect(7);
    assert_eq!(fake.mock.hits(), 0);
    assert!(out.stderr.contains("at batch prices"), "{}", out.stderr);
    submit(
        dir.path(),
        &fake,
        false,
        &["--max-cost", "0.04"],
        items(100),
    )
    .expect(0);
}

#[test]
fn structured_tasks_are_checked_locally_when_results_are_read() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let input = "ANSWER={\"a\": 1}\nANSWER=not json\n";
        let id = job_id(
            &submit(
                dir.path(),
                &fake,
                anthropic_api,
                &["--task", "extract-json", "--schema", "a int"],
                input.into(),
            )
            .expect(0),
        );
        let body = &fake.batches()[0].requests[0].1;
        assert!(body.to_string().contains("JSON"), "{body}");
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(6);
        let lines = res.lines();
        assert_eq!(lines[0]["json"], serde_json::json!({"a": 1}));
        assert_eq!(lines[1]["error"]["type"], "unusable_answer");
        assert_eq!(lines[1]["text"], "not json");

        let input = "ANSWER=Positive.\nANSWER=maybe\n";
        let id = job_id(
            &submit(
                dir.path(),
                &fake,
                anthropic_api,
                &["--task", "classify", "--labels", "positive,negative"],
                input.into(),
            )
            .expect(0),
        );
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(6);
        let lines = res.lines();
        assert_eq!(lines[0]["label"], "positive");
        assert_eq!(lines[1]["error"]["exit_code"], 6);
    }
}

#[test]
fn logs_cost_counts_batch_spend_once() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let id = job_id(&submit(dir.path(), &fake, false, &[], items(10)).expect(0));
    let res = run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(0);
    let total: f64 = res
        .lines()
        .iter()
        .map(|l| l["cost_usd"].as_f64().unwrap())
        .sum();
    run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(0);
    let cost = run(openai(dir.path(), &fake.mock).args(["logs", "cost", "--json"])).expect(0);
    let v = cost.json();
    // one row for the provider batch, however often its results were read
    assert_eq!(v["total"]["calls"], 1, "{v}");
    assert_eq!(v["total"]["input_tokens"], 190);
    let logged = v["total"]["cost_usd"].as_f64().unwrap();
    assert!((logged - total).abs() < 1e-9, "{v} vs {total}");
}

#[test]
fn list_shows_the_jobs_newest_first() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let a = job_id(&submit(dir.path(), &fake, false, &[], items(2)).expect(0));
    let b = job_id(&submit(dir.path(), &fake, true, &[], items(3)).expect(0));
    let out = run(openai(dir.path(), &fake.mock).args(["batch", "list", "--json"])).expect(0);
    let v = out.json();
    assert_eq!(v[0]["id"], b.as_str());
    assert_eq!(v[1]["id"], a.as_str());
    assert_eq!(v[0]["items"], 3);
    let plain = run(openai(dir.path(), &fake.mock).args(["batch", "list"])).expect(0);
    assert!(plain.stdout.contains(&a) && plain.stdout.contains(&b));
}

#[test]
fn ctrl_c_stops_waiting_leaves_the_job_running_and_says_how_to_fetch_it() {
    use std::process::Stdio;
    let dir = tmp();
    let fake = BatchApi::start(Config {
        polls_to_end: 1_000_000,
        ..Config::default()
    });
    let id = job_id(&submit(dir.path(), &fake, false, &[], items(3)).expect(0));
    let mut child = crate::openai_std(dir.path(), &fake.mock)
        .args(["batch", "results", "--wait", "--poll-interval", "0.05", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.batches()[0].requests.is_empty() || fake.mock.hits() < 5 {
        assert!(std::time::Instant::now() < deadline, "no polls");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still waiting after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("llmpipe batch results {id}")),
        "{stderr}"
    );
    assert!(!fake.batches()[0].canceled, "the job keeps running");
}

#[test]
fn a_whole_batch_that_expires_keeps_what_ran() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config {
            expire: true,
            ..Config::default()
        });
        let id = job_id(&submit(dir.path(), &fake, anthropic_api, &[], items(6)).expect(0));
        let st =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "status", "--json", &id]))
                .expect(0);
        if !anthropic_api {
            assert_eq!(st.json()["status"], "expired");
        }
        let res =
            run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id])).expect(5);
        let lines = res.lines();
        assert_eq!(lines.len(), 6);
        for (i, l) in lines.iter().enumerate() {
            if i < 3 {
                assert_eq!(l["text"], format!("echo: item {i}"));
            } else {
                assert_eq!(l["error"]["type"], "expired", "{l}");
            }
        }
    }
}

#[test]
fn a_submit_that_reaches_no_provider_leaves_no_job_and_no_key_anywhere() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let out = run(openai(dir.path(), &fake.mock)
        .env_remove("OPENAI_API_KEY")
        .args(["batch", "submit", "--json", "-m", "gpt-4o-mini"])
        .write_stdin(items(2)))
    .expect(3);
    assert_eq!(out.json()["error"]["type"], "config");
    assert!(out.stderr.contains("OPENAI_API_KEY"));
    let list = run(openai(dir.path(), &fake.mock).args(["batch", "list", "--json"])).expect(0);
    assert_eq!(list.json(), serde_json::json!([]));
    // the keys go in headers only, never in a body or a URL
    submit(dir.path(), &fake, false, &[], items(2)).expect(0);
    for r in fake.mock.requests() {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(crate::OPENAI_KEY) && !r.path.contains(crate::OPENAI_KEY));
    }
}

#[test]
fn list_with_a_provider_shows_its_newest_batches() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let sub = submit(
            dir.path(),
            &fake,
            anthropic_api,
            &["--batch-size", "2"],
            items(4),
        )
        .expect(0);
        let ids = sub.json()["provider_batch_ids"].clone();
        let p = if anthropic_api { "anthropic" } else { "openai" };
        let out =
            run(cmd(tmp().path(), &fake, anthropic_api).args(["batch", "list", "--json", "-p", p]))
                .expect(0);
        let v = out.json();
        assert_eq!(v[0]["id"], ids[1], "{v}");
        assert_eq!(v[1]["id"], ids[0]);
        assert_eq!(v[0]["provider"], p);
        let plain =
            run(cmd(tmp().path(), &fake, anthropic_api).args(["batch", "list", "-p", p])).expect(0);
        assert!(
            plain.stdout.contains(ids[0].as_str().unwrap()),
            "{}",
            plain.stdout
        );
    }
}

/// The request bodies a batch sends are the ones a live `--each-line` run would send.
#[test]
fn requests_are_built_exactly_as_a_live_run_builds_them() {
    let dir = tmp();
    std::fs::create_dir_all(dir.path().join("prompts/greet")).unwrap();
    std::fs::write(
        dir.path().join("prompts/greet/v1.md"),
        "+++\nsystem = \"Be brief.\"\n+++\nHello {{name}} ({{tone}}): {{input}}\n",
    )
    .unwrap();
    let items = "{\"input\": \"first\", \"name\": \"Ann\"}\n\n{\"input\": \"second\", \"name\": \"Bo\", \"tone\": \"dry\"}\nnot json\n";
    for anthropic_api in [false, true] {
        for (live_cmd, task) in [
            (vec!["complete"], vec![]),
            (
                vec!["extract-json", "--schema", "a int"],
                vec!["--task", "extract-json", "--schema", "a int"],
            ),
            (
                vec!["classify", "--labels", "x,y"],
                vec!["--task", "classify", "--labels", "x,y"],
            ),
        ] {
            let common = [
                "-m",
                model(anthropic_api),
                "--prompt",
                "greet",
                "--var",
                "tone=warm",
                "--max-tokens",
                "77",
                "-t",
                "0.5",
                "--line-format",
                "jsonl",
            ];
            let fake = BatchApi::start(Config::default());
            let live = run(cmd(dir.path(), &fake, anthropic_api)
                .args(&live_cmd)
                .args(["--each-line", "--dry-run"])
                .args(common)
                .write_stdin(items))
            .expect(2);
            let live = live.lines();
            assert_eq!(live.len(), 3);
            let id = job_id(
                &run(cmd(dir.path(), &fake, anthropic_api)
                    .args(["batch", "submit", "--json"])
                    .args(&task)
                    .args(common)
                    .write_stdin(items))
                .expect(0),
            );
            let sent = &fake.batches()[0].requests;
            assert_eq!(sent.len(), 2, "the line that is not JSON is not sent");
            for (i, (_, body)) in sent.iter().enumerate() {
                assert_eq!(body, &live[i]["body"], "{live_cmd:?} item {i}");
            }
            // the unreadable item is the same error line a live run writes
            let res = run(cmd(dir.path(), &fake, anthropic_api).args(["batch", "results", &id]));
            let want = if task.is_empty() { 2 } else { 6 };
            let lines = res.expect(want).lines();
            assert_eq!(lines.len(), 3);
            assert_eq!(lines[2]["error"]["type"], "usage");
            assert_eq!(lines[2]["index"], 2);
            assert_eq!(lines[0]["input"]["name"], "Ann");
        }
    }
}

#[test]
fn an_unwritable_temporary_directory_is_a_configuration_error() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let out = run(openai(dir.path(), &fake.mock)
        .env("TMPDIR", dir.path().join("missing"))
        .args(["batch", "submit", "--json", "-m", "gpt-4o-mini"])
        .write_stdin(items(2)))
    .expect(3);
    assert!(out.stderr.contains("TMPDIR"), "{}", out.stderr);
    assert_eq!(fake.mock.hits(), 0);
    let list = run(openai(dir.path(), &fake.mock).args(["batch", "list", "--json"])).expect(0);
    assert_eq!(list.json(), serde_json::json!([]));
}

/// `--tool` goes into every request line in each API's own shape; `--run-tools` and
/// `--tool-result` need a live run (exit 2, nothing sent).
#[test]
fn tools_go_into_each_request_and_running_them_needs_a_live_run() {
    for anthropic_api in [false, true] {
        let dir = tmp();
        std::fs::write(
            dir.path().join("t.json"),
            r#"{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}},"command":["true"]}"#,
        )
        .unwrap();
        let fake = BatchApi::start(Config::default());
        let out = run(cmd(dir.path(), &fake, anthropic_api)
            .args([
                "batch",
                "submit",
                "--dry-run",
                "--tool",
                "t.json",
                "-m",
                model(anthropic_api),
            ])
            .write_stdin(items(2)))
        .expect(0);
        for l in out.lines() {
            if anthropic_api {
                assert_eq!(l["params"]["tools"][0]["name"], "lookup");
                assert!(l["params"]["tools"][0]["input_schema"].is_object());
            } else {
                assert_eq!(l["body"]["tools"][0]["function"]["name"], "lookup");
            }
        }
        for extra in [&["--run-tools"][..], &["--tool-result", "x={}"][..]] {
            run(cmd(dir.path(), &fake, anthropic_api)
                .args([
                    "batch",
                    "submit",
                    "--tool",
                    "t.json",
                    "-m",
                    model(anthropic_api),
                ])
                .args(extra)
                .write_stdin(items(2)))
            .expect(2);
        }
        assert_eq!(fake.mock.hits(), 0);
    }
}
