//! `batch submit` edges: a dry run of input with no valid line, a resume where every item
//! is already done, and 1-based line numbers in the messages about the input's lines.

use std::time::Duration;

use crate::batch_mock::{BatchApi, Config};
use crate::mock::{self, Mock};
use crate::{Out, openai, run, tmp};

/// An OpenAI server that answers `echo: <user text>`.
fn echo_server() -> Mock {
    Mock::start(vec![mock::dynamic(|req, _| {
        let text = mock::last_user_text(req);
        (
            mock::openai_completion(&format!("echo: {text}")),
            Duration::ZERO,
        )
    })])
}

fn submit(dir: &std::path::Path, fake: &BatchApi, extra: &[&str], stdin: &str) -> Out {
    run(openai(dir, &fake.mock)
        .args(["batch", "submit", "-m", "gpt-4o-mini"])
        .args(extra)
        .write_stdin(stdin.to_string()))
}

fn no_job_recorded(dir: &std::path::Path, fake: &BatchApi) {
    let out = run(openai(dir, &fake.mock).args(["batch", "list", "--json"])).expect(0);
    assert!(!out.stdout.contains("lpb_"), "{}", out.stdout);
}

// ---- 1. a dry run of input with no valid line predicts the real run ----

#[test]
fn batch_dry_run_with_no_valid_line_exits_as_the_real_run_does() {
    let input = "not json\n[1, 2]\n{\"input\": \"cut\n";
    for json in [false, true] {
        let dir = tmp();
        let fake = BatchApi::start(Config::default());
        let flags: &[&str] = if json {
            &["--line-format", "jsonl", "--json"]
        } else {
            &["--line-format", "jsonl"]
        };
        let dry = submit(dir.path(), &fake, &[flags, &["--dry-run"]].concat(), input).expect(2);
        assert_eq!(fake.mock.hits(), 0, "a dry run sends nothing");
        no_job_recorded(dir.path(), &fake);
        let real = submit(dir.path(), &fake, flags, input).expect(2);
        assert_eq!(fake.mock.hits(), 0, "nothing to send");
        // the same error lines and the same message
        assert_eq!(dry.stdout, real.stdout);
        assert_eq!(dry.lines().len(), 3, "{}", dry.stdout);
        assert_eq!(dry.stderr, real.stderr);
        assert!(
            dry.stderr.contains("nothing was submitted") && dry.stderr.contains("3 invalid"),
            "{}",
            dry.stderr
        );
        no_job_recorded(dir.path(), &fake);
    }
}

#[test]
fn batch_dry_run_with_some_valid_lines_still_exits_0() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    let out = submit(
        dir.path(),
        &fake,
        &["--line-format", "jsonl", "--dry-run"],
        "not json\n{\"input\": \"fine\"}\n",
    )
    .expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["error"]["type"], "usage");
    assert!(out.stderr.contains("1 request(s)"), "{}", out.stderr);
    assert_eq!(fake.mock.hits(), 0);
}

// ---- 2. batch submit --resume where every item already has a result ----

/// The output of a live `--each-line` run of `input`, written to `earlier.jsonl`.
fn earlier_run(dir: &std::path::Path, input: &str) -> (std::path::PathBuf, String) {
    let live = echo_server();
    let out = run(openai(dir, &live)
        .args(["complete", "--each-line", "-m", "gpt-4o-mini"])
        .write_stdin(input.to_string()))
    .expect(0);
    let path = dir.join("earlier.jsonl");
    std::fs::write(&path, &out.stdout).unwrap();
    (path, out.stdout)
}

#[test]
fn batch_resume_with_every_item_done_records_nothing_and_writes_the_output() {
    let input = "one\ntwo\n\nthree\n";
    for extra in [&[][..], &["--json"], &["--wait"]] {
        let dir = tmp();
        let (earlier, lines) = earlier_run(dir.path(), input);
        let fake = BatchApi::start(Config::default());
        let out = submit(
            dir.path(),
            &fake,
            &[extra, &["--resume", earlier.to_str().unwrap()]].concat(),
            input,
        )
        .expect(0);
        assert_eq!(fake.mock.hits(), 0, "nothing is sent");
        no_job_recorded(dir.path(), &fake);
        // the complete ordered output, as a live --each-line --resume run writes it
        assert_eq!(out.stdout, lines, "{extra:?}");
        assert!(
            out.stderr.contains("nothing to submit")
                && out.stderr.contains("already has a result")
                && out.stderr.contains("earlier.jsonl"),
            "{}",
            out.stderr
        );
        // the same as a live run: it copies the file and sends nothing
        let live = echo_server();
        let again = run(openai(dir.path(), &live)
            .args(["complete", "--each-line", "-m", "gpt-4o-mini", "--resume"])
            .arg(&earlier)
            .write_stdin(input.to_string()))
        .expect(0);
        assert_eq!(again.stdout, out.stdout);
        assert_eq!(live.hits(), 0);
    }
}

#[test]
fn batch_dry_run_resume_with_every_item_done_says_so() {
    let input = "one\ntwo\n";
    let dir = tmp();
    let (earlier, _) = earlier_run(dir.path(), input);
    let fake = BatchApi::start(Config::default());
    let out = submit(
        dir.path(),
        &fake,
        &["--dry-run", "--resume", earlier.to_str().unwrap()],
        input,
    )
    .expect(0);
    assert_eq!(fake.mock.hits(), 0);
    no_job_recorded(dir.path(), &fake);
    assert!(
        out.stderr.contains("nothing to submit")
            && out.stderr.contains("already has a result")
            && out.stderr.contains("earlier.jsonl"),
        "{}",
        out.stderr
    );
}

#[test]
fn batch_resume_with_some_items_left_still_submits_them() {
    let input = "one\ntwo\nthree\n";
    let dir = tmp();
    let (earlier, _) = earlier_run(dir.path(), "one\ntwo\n");
    let fake = BatchApi::start(Config::default());
    let out = submit(
        dir.path(),
        &fake,
        &["--json", "--resume", earlier.to_str().unwrap()],
        input,
    )
    .expect(0);
    assert_eq!(out.json()["items"], 3);
    assert_eq!(fake.batches()[0].requests.len(), 1);
}

// ---- 3. messages name the input's lines 1-based, as editors count ----

/// Items 1 and 2 are invalid; with the blank line, they are lines 3 and 4 of the input.
const JSONL: &str = "{\"input\": \"fine\"}\n\nnot json\n[1, 2]\n";

fn check_line_numbers(out: &Out, source: &str) {
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    // the JSON index stays 0-based
    assert_eq!(lines[1]["index"], 1);
    assert_eq!(lines[2]["index"], 2);
    let m1 = lines[1]["error"]["message"].as_str().unwrap();
    let m2 = lines[2]["error"]["message"].as_str().unwrap();
    assert!(
        m1.contains(&format!("line 3 of {source} is not JSON")),
        "{m1}"
    );
    assert!(
        m2.contains(&format!("line 4 of {source} is not a JSON object")),
        "{m2}"
    );
}

#[test]
fn live_jsonl_errors_name_the_input_line_1_based() {
    let dir = tmp();
    let live = echo_server();
    let out = run(openai(dir.path(), &live)
        .args(["complete", "--each-line", "--line-format", "jsonl"])
        .args(["-m", "gpt-4o-mini"])
        .write_stdin(JSONL))
    .expect(2);
    check_line_numbers(&out, "stdin");
    assert!(out.stderr.contains("line 3 of stdin"), "{}", out.stderr);
    // from a file: its name and its own line numbers
    std::fs::write(dir.path().join("data.jsonl"), JSONL).unwrap();
    let out = run(openai(dir.path(), &live)
        .args(["complete", "--each-line", "--line-format", "jsonl"])
        .args(["-m", "gpt-4o-mini", "-f", "data.jsonl"]))
    .expect(2);
    check_line_numbers(&out, "data.jsonl");
}

#[test]
fn batch_jsonl_errors_name_the_input_line_1_based() {
    let dir = tmp();
    let fake = BatchApi::start(Config::default());
    // the dry run writes the error lines at once
    let out = submit(
        dir.path(),
        &fake,
        &["--line-format", "jsonl", "--dry-run"],
        JSONL,
    )
    .expect(0);
    let lines: Vec<_> = out
        .lines()
        .into_iter()
        .filter(|l| l.get("error").is_some())
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3 of stdin is not JSON"),
        "{}",
        lines[0]
    );
    // the real job writes them with its results
    let sub = submit(
        dir.path(),
        &fake,
        &["--line-format", "jsonl", "--json"],
        JSONL,
    )
    .expect(0);
    let id = sub.json()["id"].as_str().unwrap().to_string();
    let res = run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(2);
    check_line_numbers(&res, "stdin");
    // and with no valid line, the message of the run names the first one
    let out = submit(
        dir.path(),
        &fake,
        &["--line-format", "jsonl"],
        "\nnot json\n",
    )
    .expect(2);
    assert!(out.stderr.contains("line 2 of stdin"), "{}", out.stderr);
}

/// The SPEC's empty input is a usage error for a run of many items too: a live
/// `--each-line` run, a batch submit and its dry run alike (blank lines are no items).
#[test]
fn empty_input_is_a_usage_error_for_a_run_of_many() {
    let dir = tmp();
    let mock = echo_server();
    for stdin in ["", "\n\n", "  \n"] {
        let out = run(openai(dir.path(), &mock)
            .args(["complete", "--each-line", "--json"])
            .write_stdin(stdin))
        .expect(2);
        assert!(
            out.stderr.contains("the input has no items"),
            "{}",
            out.stderr
        );
        let fake = BatchApi::start(Config::default());
        for extra in [&["--dry-run"][..], &[]] {
            let out = submit(dir.path(), &fake, extra, stdin).expect(2);
            assert!(
                out.stderr.contains("the input has no items"),
                "{}",
                out.stderr
            );
        }
        no_job_recorded(dir.path(), &fake);
    }
    assert!(mock.requests().is_empty());
}

/// A refused batch beside one whose results could not be downloaded: exit 4 for the refusal,
/// but the hint no longer says to resubmit yet (that would send the unread items again and
/// pay twice): read the results again first.
#[test]
fn a_refused_batch_beside_an_unread_one_says_read_the_results_first() {
    let dir = tmp();
    let fake = BatchApi::start(Config {
        fail_batch: Some(0),
        ..Config::default()
    });
    let sub = submit(
        dir.path(),
        &fake,
        &["--json", "--batch-size", "2"],
        "a\nb\nc\nd\ne\n",
    )
    .expect(0);
    let id = sub.json()["id"].as_str().unwrap().to_string();
    let batches = fake.batches();
    assert_eq!(batches.len(), 3);
    let path = format!("/v1/files/file-out-{}/content", batches[1].id);
    fake.state.lock().unwrap().broken.push((path, 500));
    let out = run(openai(dir.path(), &fake.mock).args(["batch", "results", "--retries", "0", &id]))
        .expect(4);
    assert!(
        out.stderr
            .contains(&format!("llmpipe batch results {id}` again"))
            && out.stderr.contains("could not be downloaded"),
        "{}",
        out.stderr
    );
    // Once every result is read, the refusal's hint is the usual one.
    fake.state.lock().unwrap().broken.clear();
    let out = run(openai(dir.path(), &fake.mock).args(["batch", "results", &id])).expect(4);
    assert!(
        out.stderr.contains("batch submit --resume RESULTS.jsonl"),
        "{}",
        out.stderr
    );
}
