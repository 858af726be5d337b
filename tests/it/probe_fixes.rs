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
