//! Hostile probes of `llmpipe batch …`: result files that are not what they should be,
//! interrupted submits, partial reads, odd ids (PROTOCOLS.md G).

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::batch_mock::{BatchApi, Config};
use crate::mock::{self, Mock, Reply};
use crate::{anthropic, openai, run, tmp};

fn items(n: usize) -> String {
    (0..n).map(|i| format!("item {i}\n")).collect()
}

fn submit(dir: &std::path::Path, fake: &BatchApi, anthropic_api: bool, stdin: String) -> Value {
    let mut c = if anthropic_api {
        anthropic(dir, &fake.mock)
    } else {
        openai(dir, &fake.mock)
    };
    let m = if anthropic_api {
        "claude-sonnet-4-5"
    } else {
        "gpt-4o-mini"
    };
    run(c
        .args(["batch", "submit", "--json", "-m", m])
        .write_stdin(stdin))
    .expect(0)
    .json()
}

/// The tag part of the job's custom_ids (`i<index>-<tag>`).
fn tag_of(fake: &BatchApi) -> String {
    let cid = fake.batches()[0].requests[0].0.clone();
    cid.split_once('-').unwrap().1.to_string()
}

fn openai_ok_line(cid: &str, text: &str) -> String {
    json!({"id": "batch_req_x", "custom_id": cid,
        "response": {"status_code": 200, "request_id": "req_x", "body": {
            "id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1730000000,
            "model": mock::OPENAI_MODEL_REPORTED,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}}},
        "error": null})
    .to_string()
}

/// An OpenAI that knows one ended batch `batch_id` whose output file is `output` (served by
/// `content`, so that a test can cut or fail it).
fn openai_ended(
    batch_id: String,
    content: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> Mock {
    let downloads = std::sync::atomic::AtomicUsize::new(0);
    Mock::start(vec![mock::dynamic(move |req, _| {
        let path = req.path.split('?').next().unwrap_or("");
        let reply = if path == format!("/v1/batches/{batch_id}") {
            mock::full(
                200,
                &[("content-type", "application/json")],
                json!({"id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions",
                   "errors": null, "input_file_id": "file-in", "completion_window": "24h",
                   "status": "completed", "output_file_id": "file-out", "error_file_id": null,
                   "created_at": 1714508499, "in_progress_at": 1714508500, "expires_at": 1714594899,
                   "finalizing_at": 1714508600, "completed_at": 1714508700, "failed_at": null,
                   "expired_at": null, "cancelling_at": null, "cancelled_at": null,
                   "request_counts": {"total": 3, "completed": 3, "failed": 0}, "metadata": null})
                .to_string(),
            )
        } else if path == "/v1/files/file-out/content" {
            content(downloads.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        } else {
            mock::full(404, &[], "{}")
        };
        (reply, Duration::ZERO)
    })])
}

fn lines_of(ls: &[String]) -> Vec<u8> {
    ls.iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

fn job_results(dir: &std::path::Path, m: &Mock, id: &str) -> crate::Out {
    run(openai(dir, m).args(["batch", "results", id]))
}

#[test]
fn result_lines_of_another_job_or_past_the_job_are_not_taken_for_its_items() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let job = submit(dir.path(), &fake, false, items(3));
    let id = job["id"].as_str().unwrap().to_string();
    let pid = job["provider_batch_ids"][0].as_str().unwrap().to_string();
    let tag = tag_of(&fake);
    let file = lines_of(&[
        openai_ok_line(&format!("i2-{tag}"), "two"),
        openai_ok_line(&format!("i0-{tag}"), "zero"),
        openai_ok_line(&format!("i1-{tag}"), "one"),
        openai_ok_line(&format!("i7-{tag}"), "seven"),
        openai_ok_line("i1-0therjob", "not this job's"),
    ]);
    let served = openai_ended(pid, move |_| {
        mock::full(
            200,
            &[("content-type", "application/octet-stream")],
            file.clone(),
        )
    });
    let out = job_results(dir.path(), &served, &id).expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    for (l, want) in lines.iter().zip(["zero", "one", "two"]) {
        assert_eq!(l["text"], want, "{l}");
    }
    assert!(out.stderr.contains("2 result line(s)"), "{}", out.stderr);
    let st = run(openai(dir.path(), &served).args(["batch", "status", "--json", &id])).expect(0);
    assert_eq!(st.json()["counts"]["total"], 3, "{}", st.stdout);
    assert_eq!(st.json()["counts"]["succeeded"], 3, "{}", st.stdout);
}

#[test]
fn results_read_through_a_closed_stdout_do_not_log_a_part_of_the_spend() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let id = submit(
        dir.path(),
        &fake,
        false,
        format!("FAIL400 first\n{}", items(9)),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    // like `llmpipe batch results | head -1`: the reader goes away at once
    let mut child = crate::openai_std(dir.path(), &fake.mock)
        .args(["batch", "results", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    // `| head` ends the run quietly with exit 0 (SPEC, exit codes)
    assert_eq!(child.wait().unwrap().code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(4);
    let cost = run(openai(dir.path(), &fake.mock).args(["logs", "cost", "--json"])).expect(0);
    let v = cost.json();
    assert_eq!(v["total"]["input_tokens"], 171, "{v}");
    assert_eq!(v["total"]["output_tokens"], 90, "{v}");
}

#[test]
fn a_results_download_cut_midway_is_read_again_without_doubled_lines() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let job = submit(dir.path(), &fake, false, items(3));
    let id = job["id"].as_str().unwrap().to_string();
    let pid = job["provider_batch_ids"][0].as_str().unwrap().to_string();
    let tag = tag_of(&fake);
    let mut ls: Vec<String> = vec!["{not json".into(), openai_ok_line("request-7", "not ours")];
    ls.extend((0..3).map(|i| openai_ok_line(&format!("i{i}-{tag}"), &format!("answer {i}"))));
    let file = lines_of(&ls);
    let served = openai_ended(pid, move |n| {
        if n == 0 {
            // two whole lines and half of the third, then the connection drops
            let cut = file.len() - 40;
            mock::with_cut(mock::rechunk(
                Reply::Sse {
                    headers: vec![("content-type".into(), "application/octet-stream".into())],
                    pieces: vec![file[..cut].to_vec()],
                    delay: Duration::ZERO,
                    cut: false,
                },
                64,
            ))
        } else if n == 1 {
            mock::full(
                503,
                &[("content-type", "application/json")],
                r#"{"error":{"message":"busy","type":"server_error","param":null,"code":null}}"#,
            )
        } else {
            mock::full(
                200,
                &[("content-type", "application/octet-stream")],
                file.clone(),
            )
        }
    });
    let out = job_results(dir.path(), &served, &id).expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["text"], format!("answer {i}"));
    }
    // the skipped lines read in each attempt count once
    assert!(
        out.stderr.contains("1 result line(s) name no item"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 result line(s) are not"),
        "{}",
        out.stderr
    );
    let st = run(openai(dir.path(), &served).args(["batch", "status", "--json", &id])).expect(0);
    assert_eq!(st.json()["counts"]["succeeded"], 3, "{}", st.stdout);
}

#[test]
fn malformed_truncated_and_missing_result_lines_are_error_lines_of_their_items() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let job = submit(dir.path(), &fake, false, items(4));
    let id = job["id"].as_str().unwrap().to_string();
    let pid = job["provider_batch_ids"][0].as_str().unwrap().to_string();
    let tag = tag_of(&fake);
    let good = openai_ok_line(&format!("i0-{tag}"), "zero");
    let mut file = lines_of(&[good.clone(), "{not json".into(), good.clone()]);
    let trunc = openai_ok_line(&format!("i3-{tag}"), "three");
    file.extend_from_slice(&trunc.as_bytes()[..trunc.len() / 2]);
    let served = openai_ended(pid, move |_| {
        mock::full(
            200,
            &[("content-type", "application/octet-stream")],
            file.clone(),
        )
    });
    let out = job_results(dir.path(), &served, &id).expect(5);
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert_eq!(lines[0]["text"], "zero");
    for l in &lines[1..] {
        assert_eq!(l["error"]["exit_code"], 5, "{l}");
        assert!(l["input"].is_string(), "{l}");
    }
    assert!(
        out.stderr.contains("2 result line(s) are not"),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_between_the_upload_and_the_create_leaves_no_empty_job_and_names_the_file() {
    let dir = tmp();
    let fake = Mock::start(vec![mock::dynamic(|req, _| {
        let reply = if req.path == "/v1/files" {
            mock::full(
                200,
                &[("content-type", "application/json")],
                json!({"id": "file-upl0001", "object": "file", "bytes": 10, "created_at": 1714508499,
                       "filename": "x.jsonl", "purpose": "batch", "status": "processed",
                       "expires_at": 1717100499, "status_details": null})
                .to_string(),
            )
        } else {
            Reply::Hang(Duration::from_secs(30))
        };
        (reply, Duration::ZERO)
    })]);
    let mut child = crate::openai_std(dir.path(), &fake)
        .args([
            "batch",
            "submit",
            "--json",
            "-m",
            "gpt-4o-mini",
            "--timeout",
            "60",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(items(2).as_bytes()).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.hits() < 2 {
        assert!(std::time::Instant::now() < deadline, "no create");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let e: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(e["error"]["exit_code"], 130, "{e}");
    assert!(stderr.contains("no provider batch of job"), "{stderr}");
    assert!(stderr.contains("file-upl0001"), "{stderr}");
    let list = run(openai(dir.path(), &fake).args(["batch", "list", "--json"])).expect(0);
    assert_eq!(
        list.json(),
        json!([]),
        "a job with no provider batch is left behind"
    );
}

#[test]
fn an_item_the_results_leave_out_is_counted_once_they_are_read() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let job = submit(dir.path(), &fake, false, items(4));
    let id = job["id"].as_str().unwrap().to_string();
    let pid = job["provider_batch_ids"][0].as_str().unwrap().to_string();
    let tag = tag_of(&fake);
    let file = lines_of(
        &(0..3)
            .map(|i| openai_ok_line(&format!("i{i}-{tag}"), "ok"))
            .collect::<Vec<_>>(),
    );
    let served = openai_ended(pid, move |_| {
        mock::full(
            200,
            &[("content-type", "application/octet-stream")],
            file.clone(),
        )
    });
    let out = job_results(dir.path(), &served, &id).expect(5);
    assert_eq!(
        out.lines()[3]["error"]["type"],
        "unavailable",
        "{}",
        out.stdout
    );
    let st = run(openai(dir.path(), &served).args(["batch", "status", "--json", &id])).expect(0);
    let c = &st.json()["counts"];
    assert_eq!(
        (&c["total"], &c["succeeded"], &c["errored"]),
        (&json!(4), &json!(3), &json!(1)),
        "{c}"
    );
}

/// Every file under `dir` (the databases, the spool's directory), as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

#[test]
fn no_key_is_in_any_file_a_batch_job_leaves() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    for a in [false, true] {
        let job = submit(dir.path(), &fake, a, "FAIL400 x\nitem\nEXPIRE\n".into());
        let id = job["id"].as_str().unwrap().to_string();
        let mut c = if a {
            anthropic(dir.path(), &fake.mock)
        } else {
            openai(dir.path(), &fake.mock)
        };
        run(c.args(["batch", "results", "--json", &id])).expect(4);
    }
    let files = files_under(dir.path());
    assert!(files.iter().any(|(p, _)| p.ends_with("log.db")));
    for (p, b) in files {
        for key in [crate::OPENAI_KEY, crate::ANTHROPIC_KEY] {
            assert!(
                !b.windows(key.len()).any(|w| w == key.as_bytes()),
                "{key} in {}",
                p.display()
            );
        }
    }
}

#[test]
fn a_garbage_job_id_is_a_usage_error_that_echoes_no_control_characters() {
    let dir = tmp();
    for id in ["../../etc/passwd", "batch_../../x", "x\u{1b}[2Jy\nz"] {
        for action in ["status", "results", "cancel"] {
            let out = run(crate::base(dir.path()).args(["batch", action, "--json", id])).expect(2);
            assert_eq!(out.json()["error"]["type"], "usage", "{}", out.stdout);
            assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
            assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
        }
    }
}

#[test]
fn a_create_refused_after_the_upload_names_the_uploaded_file_and_leaves_no_job() {
    let dir = tmp();
    let fake = Mock::start(vec![mock::dynamic(|req, _| {
        let reply = if req.path == "/v1/files" {
            mock::full(
                200,
                &[("content-type", "application/json")],
                json!({"id": "file-upl0002", "object": "file", "bytes": 10, "created_at": 1714508499,
                       "filename": "x.jsonl", "purpose": "batch", "status": "processed",
                       "expires_at": 1717100499, "status_details": null})
                .to_string(),
            )
        } else {
            mock::full(
                400,
                &[("content-type", "application/json")],
                r#"{"error":{"message":"Cannot find file file-upl0002, or project does not have access to it.","type":"invalid_request_error","param":"file_id","code":null}}"#,
            )
        };
        (reply, Duration::ZERO)
    })]);
    let out = run(openai(dir.path(), &fake)
        .args(["batch", "submit", "--json", "-m", "gpt-4o-mini"])
        .write_stdin(items(2)))
    .expect(4);
    assert_eq!(out.json()["error"]["exit_code"], 4);
    assert!(
        out.stderr.contains("file-upl0002 has no batch"),
        "{}",
        out.stderr
    );
    let list = run(openai(dir.path(), &fake).args(["batch", "list", "--json"])).expect(0);
    assert_eq!(list.json(), json!([]));
}
