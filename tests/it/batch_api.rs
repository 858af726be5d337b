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
