//! `batch submit` edges: a dry run of input with no valid line.

use crate::batch_mock::{BatchApi, Config};
use crate::{Out, openai, run, tmp};

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
