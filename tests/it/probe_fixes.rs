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
