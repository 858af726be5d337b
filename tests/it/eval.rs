//! `llmpipe eval`: prompt versions × models scored on labelled data. The mock answers per
//! prompt version (told apart by the system prompt) and item (the review text), so every
//! number below is worked out by hand from the scripted answers, never read back.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::mock::{self, Mock, Reply};
use super::{Out, openai, run, tmp};

/// Two classify prompts that the mock tells apart, priced round numbers in the config
/// file so costs can be worked out by hand: $1 per million input tokens, $2 per million
/// output tokens (the mock reports 19 input and 10 output tokens per answer).
fn project(dir: &Path, data: &str) {
    for (v, system) in [("v1", "Version one."), ("v2", "Version two.")] {
        let d = dir.join("prompts/sent");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(format!("{v}.md")),
            format!(
                "+++\nsystem = \"{system}\"\ntemperature = 0.0\nlabels = [\"positive\", \"negative\", \"neutral\"]\n+++\nReview: {{{{input}}}}\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("llmpipe.toml"),
        "[prices.\"gpt-4o-mini\"]\ninput = 1.0\noutput = 2.0\n[prices.\"gpt-4o-mini-2024-07-18\"]\ninput = 1.0\noutput = 2.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("data.jsonl"), data).unwrap();
}

/// Which prompt version asked, and the review.
fn asked(req: &mock::Recorded) -> (u8, String) {
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let version = if body.contains("Version one.") {
        1
    } else if body.contains("Version two.") {
        2
    } else {
        panic!("no version in {body}")
    };
    let text = mock::last_user_text(req);
    (version, text.trim_start_matches("Review: ").to_string())
}

/// A mock whose answer is `answer(version, review)`.
fn steered(answer: fn(u8, &str) -> Reply) -> Mock {
    Mock::start(vec![mock::dynamic(move |req, _| {
        let (v, review) = asked(req);
        (answer(v, &review), Duration::ZERO)
    })])
}

const SIX: &str = r#"{"input": "good", "expected": "positive"}
{"input": "bad", "expected": "negative"}
{"input": "meh", "expected": "neutral"}

{"input": "great", "expected": "positive"}
{"input": "awful", "expected": "negative"}
{"input": "fine", "expected": "neutral"}
"#;

/// v1: good→positive ✓, bad→negative ✓, meh→positive ✗, great→positive ✓, awful→"banana"
/// (not a label: invalid), fine→neutral ✓.
/// v2: good→positive ✓, bad→positive ✗, meh→neutral ✓, great→HTTP 400 (an error),
/// awful→negative ✓, fine→neutral ✓.
fn six_answers(v: u8, review: &str) -> Reply {
    let label = match (v, review) {
        (_, "good") => "positive",
        (1, "bad") => "negative",
        (2, "bad") => "positive",
        (1, "meh") => "positive",
        (2, "meh") => "neutral",
        (1, "great") => "positive",
        (2, "great") => {
            return mock::openai_error(400, "invalid_request_error", None, "bad request");
        }
        (1, "awful") => "banana",
        (2, "awful") => "negative",
        (_, "fine") => "neutral",
        other => panic!("unexpected {other:?}"),
    };
    mock::openai_completion(label)
}

fn eval(dir: &Path, mock: &Mock, extra: &[&str]) -> Out {
    let mut cmd = openai(dir, mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v1",
        "--prompt",
        "sent@v2",
        "-m",
        "gpt-4o-mini",
        "--data",
        "data.jsonl",
    ])
    .args(extra);
    run(&mut cmd)
}

fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn eval_scores_accuracy_confusion_flips_invalid_and_errors() {
    let dir = tmp();
    project(dir.path(), SIX);
    let mock = steered(six_answers);
    // No gate: the failed request (HTTP 400) keeps its own exit code, 4, after the report.
    let out = eval(dir.path(), &mock, &["--json"]).expect(4);
    assert_eq!(mock.hits(), 12);
    let r = out.json();
    let v = r["variants"].as_array().unwrap();
    assert_eq!(v.len(), 2);

    let v1 = &v[0];
    assert_eq!(v1["prompt"], "sent@v1");
    assert_eq!(v1["model"], "gpt-4o-mini");
    assert_eq!(v1["items"], 6);
    assert_eq!(v1["correct"], 4);
    assert_eq!(v1["invalid"], 1);
    assert_eq!(v1["errors"], 0);
    close(&v1["accuracy"], 4.0 / 6.0);
    assert_eq!(
        v1["usage"],
        json!({"input_tokens": 6 * 19, "output_tokens": 6 * 10})
    );
    // 114 input tokens at $1/M, 60 output tokens at $2/M.
    close(&v1["cost_usd"], 114.0 / 1e6 + 120.0 / 1e6);
    assert!(v1["latency_ms"]["p50"].is_u64() && v1["latency_ms"]["p95"].is_u64());
    assert_eq!(
        v1["confusion"],
        json!({
            "positive": {"positive": 2, "negative": 0, "neutral": 0, "(invalid)": 0},
            "negative": {"positive": 0, "negative": 1, "neutral": 0, "(invalid)": 1},
            "neutral":  {"positive": 1, "negative": 0, "neutral": 1, "(invalid)": 0},
        })
    );
    // positive: predicted 3 times (2 right); negative: predicted once (right) of 2;
    // neutral: predicted once (right) of 2.
    close(&v1["labels"]["positive"]["precision"], 2.0 / 3.0);
    close(&v1["labels"]["positive"]["recall"], 1.0);
    close(&v1["labels"]["negative"]["precision"], 1.0);
    close(&v1["labels"]["negative"]["recall"], 0.5);
    close(&v1["labels"]["neutral"]["precision"], 1.0);
    close(&v1["labels"]["neutral"]["recall"], 0.5);

    let v2 = &v[1];
    assert_eq!(v2["prompt"], "sent@v2");
    assert_eq!(v2["items"], 6);
    assert_eq!(v2["correct"], 4);
    assert_eq!(v2["invalid"], 0);
    assert_eq!(v2["errors"], 1);
    // The error is not wrong: 4 right of the 5 answered.
    close(&v2["accuracy"], 0.8);
    assert_eq!(
        v2["usage"],
        json!({"input_tokens": 5 * 19, "output_tokens": 5 * 10})
    );
    close(&v2["cost_usd"], 95.0 / 1e6 + 100.0 / 1e6);
    assert_eq!(
        v2["confusion"],
        json!({
            "positive": {"positive": 1, "negative": 0, "neutral": 0, "(invalid)": 0},
            "negative": {"positive": 1, "negative": 1, "neutral": 0, "(invalid)": 0},
            "neutral":  {"positive": 0, "negative": 0, "neutral": 2, "(invalid)": 0},
        })
    );
    close(&v2["labels"]["positive"]["precision"], 0.5);
    close(&v2["labels"]["negative"]["recall"], 0.5);
    close(&v2["labels"]["neutral"]["precision"], 1.0);

    // bad: right → wrong; meh and awful (invalid in v1): wrong → right; great failed in
    // v2, so it is no flip.
    assert_eq!(
        r["flips"],
        json!([
            {"variant": 1, "index": 1, "input": "bad", "expected": "negative",
             "baseline": "negative", "got": "positive", "direction": "right_to_wrong"},
            {"variant": 1, "index": 2, "input": "meh", "expected": "neutral",
             "baseline": "positive", "got": "neutral", "direction": "wrong_to_right"},
            {"variant": 1, "index": 4, "input": "awful", "expected": "negative",
             "baseline": "(invalid)", "got": "negative", "direction": "wrong_to_right"},
        ])
    );
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["variant"], 1);
    assert_eq!(failures[0]["index"], 3);
    assert_eq!(failures[0]["error"]["type"], "rejected");
    assert!(
        out.stderr.contains("(variant 1, index 3)"),
        "{}",
        out.stderr
    );
    // One summary line per variant on stderr (not a terminal).
    assert!(
        out.stderr.contains(
            "eval sent@v1 × gpt-4o-mini: 6 item(s), 4 correct (66.7%), 1 invalid, 0 error(s)"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "eval sent@v2 × gpt-4o-mini: 6 item(s), 4 correct (80.0%), 0 invalid, 1 error(s)"
        ),
        "{}",
        out.stderr
    );

    // A failed gate decides the exit code even when a request failed too (8, not 4).
    let out = eval(dir.path(), &mock, &["--min-accuracy", "0.9"]).expect(8);
    assert!(
        out.stderr.contains("1 request(s) also failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("FAIL --min-accuracy 90.0%: variant 1"),
        "{}",
        out.stdout
    );

    // The readable table says the same.
    let out = eval(dir.path(), &mock, &[]).expect(4);
    assert!(
        out.stdout.contains("66.7%") && out.stdout.contains("80.0%"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("right_to_wrong"), "{}", out.stdout);
    assert!(
        out.stdout.contains("variant 1 index 3: rejected"),
        "{}",
        out.stdout
    );
}

/// Four items; v1 gets all right (100%), v2 gets "bad" wrong (75%).
const FOUR: &str = r#"{"input": "good", "expected": "positive"}
{"input": "bad", "expected": "negative"}
{"input": "meh", "expected": "neutral"}
{"input": "fine", "expected": "neutral"}
"#;

fn four_answers(v: u8, review: &str) -> Reply {
    mock::openai_completion(match (v, review) {
        (_, "good") => "positive",
        (1, "bad") => "negative",
        (2, "bad") => "neutral",
        (_, "meh" | "fine") => "neutral",
        other => panic!("unexpected {other:?}"),
    })
}

#[test]
fn eval_gates_pass_and_fail_with_exit_8_after_the_full_report() {
    let dir = tmp();
    project(dir.path(), FOUR);
    let mock = steered(four_answers);
    // v2 has exactly 75%: reaches --min-accuracy 0.75, and a drop of exactly 25 points
    // is within --max-regression 25%.
    let out = eval(
        dir.path(),
        &mock,
        &["--min-accuracy", "0.75", "--max-regression", "25%"],
    )
    .expect(0);
    assert!(
        out.stdout.contains("PASS --min-accuracy 75.0%"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("PASS --max-regression 25.0%"),
        "{}",
        out.stdout
    );

    // Above 75%: fails, exit 8, after the whole report (table, flips, gates) and the
    // Markdown file.
    let out = eval(
        dir.path(),
        &mock,
        &["--min-accuracy", "0.8", "--report", "report.md"],
    )
    .expect(8);
    assert!(
        out.stdout.contains("100.0%") && out.stdout.contains("75.0%"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("right_to_wrong"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("FAIL --min-accuracy 80.0%: variant 1 (sent@v2 × gpt-4o-mini) has 75.0%"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("quality gate failed"), "{}", out.stderr);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("❌"), "{md}");

    // A drop of 25 points is more than 20%: exit 8; --json is still one report object.
    let out = eval(dir.path(), &mock, &["--max-regression", "0.2", "--json"]).expect(8);
    let r = out.json();
    assert_eq!(r["passed"], false);
    assert_eq!(
        r["gates"],
        json!([{"gate": "max_regression", "variant": 1, "threshold": 0.2, "accuracy": 0.75,
                "passed": false, "baseline": 1.0}])
    );
    assert!(r.get("error").is_none());

    // The baseline is not held to --min-accuracy when there are others...
    let out = eval(dir.path(), &mock, &["--min-accuracy", "0.75", "--json"]).expect(0);
    assert_eq!(out.json()["gates"].as_array().unwrap().len(), 1);
    // ...but the only variant is.
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v2",
        "-m",
        "gpt-4o-mini",
        "--data",
        "data.jsonl",
    ]);
    let out = run(cmd.args(["--min-accuracy", "0.9"])).expect(8);
    assert!(
        out.stdout.contains("FAIL --min-accuracy 90.0%: variant 0"),
        "{}",
        out.stdout
    );
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v1",
        "-m",
        "gpt-4o-mini",
        "--data",
        "data.jsonl",
    ]);
    run(cmd.args(["--min-accuracy", "1"])).expect(0);
}

#[test]
fn eval_writes_a_markdown_report_and_every_items_result() {
    let dir = tmp();
    project(dir.path(), FOUR);
    let mock = steered(four_answers);
    // (A byte-order mark before the first line is not part of it; CRLF line ends are fine.)
    std::fs::write(
        dir.path().join("data.jsonl"),
        format!("\u{feff}{}", FOUR.replace('\n', "\r\n")),
    )
    .unwrap();
    eval(
        dir.path(),
        &mock,
        &[
            "--report",
            "report.md",
            "--out",
            "items.jsonl",
            "--min-accuracy",
            "0.5",
        ],
    )
    .expect(0);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.starts_with("## llmpipe eval: classify (label), 4 item(s) ✅ gates passed"),
        "{md}"
    );
    assert!(
        md.contains("| 0 | `sent@v1` | `gpt-4o-mini` | **100.0%** | baseline | 4/4 |"),
        "{md}"
    );
    assert!(
        md.contains("| 1 | `sent@v2` | `gpt-4o-mini` | **75.0%** | -25.0 pts | 3/4 |"),
        "{md}"
    );
    assert!(
        md.contains("**Flips against the baseline:** 1 right → wrong, 0 wrong → right"),
        "{md}"
    );
    assert!(
        md.contains("| 1 | 1 | ✗ right → wrong | negative | negative | neutral | bad |"),
        "{md}"
    );
    assert!(md.contains("| negative | 0 | 0 | 1 | 0 |"), "{md}");

    let items: Vec<Value> = std::fs::read_to_string(dir.path().join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 8);
    let bad_v2 = &items[5];
    assert_eq!(bad_v2["variant"], 1);
    assert_eq!(bad_v2["prompt"], "sent@v2");
    assert_eq!(bad_v2["index"], 1);
    assert_eq!(
        bad_v2["input"],
        json!({"input": "bad", "expected": "negative"})
    );
    assert_eq!(bad_v2["got"], "neutral");
    assert_eq!(bad_v2["correct"], false);
    assert_eq!(bad_v2["label"], "neutral");
    assert_eq!(bad_v2["usage"]["input_tokens"], 19);
}

#[test]
fn eval_with_cache_reruns_an_unchanged_eval_without_a_request() {
    let dir = tmp();
    project(dir.path(), FOUR);
    let mock = steered(four_answers);
    let first = eval(dir.path(), &mock, &["--cache", "--json"]).expect(0);
    assert_eq!(mock.hits(), 8);
    // Every answer is in the cache now: nothing is sent, nothing is paid, and even a zero
    // budget is enough.
    let again = eval(dir.path(), &mock, &["--cache", "--json", "--max-cost", "0"]).expect(0);
    assert_eq!(mock.hits(), 8);
    let (a, b) = (first.json(), again.json());
    for v in 0..2 {
        assert_eq!(a["variants"][v]["accuracy"], b["variants"][v]["accuracy"]);
        assert_eq!(b["variants"][v]["cost_usd"], 0.0);
        assert_eq!(b["variants"][v]["cached"], 4);
    }
    assert_eq!(a["flips"], b["flips"]);
    assert!(
        again.stderr.contains("4 from the cache"),
        "{}",
        again.stderr
    );
}

#[test]
fn eval_refuses_a_budget_the_whole_eval_could_pass_before_sending() {
    let dir = tmp();
    project(dir.path(), FOUR);
    let mock = steered(four_answers);
    // 8 requests, each at least 64 output tokens (classify's floor) at $2/M: over $0.001.
    let out = eval(
        dir.path(),
        &mock,
        &["--max-cost", "0.001", "--json", "--report", "report.md"],
    )
    .expect(7);
    assert_eq!(mock.hits(), 0);
    // No empty report is left behind to be posted.
    assert!(!dir.path().join("report.md").exists());
    assert_eq!(out.json()["error"]["type"], "budget");
    assert!(out.stderr.contains("8 request(s)"), "{}", out.stderr);
    eval(dir.path(), &mock, &["--max-cost", "1"]).expect(0);
    assert_eq!(mock.hits(), 8);
}

#[test]
fn eval_refuses_bad_data_and_too_few_variants_naming_the_line() {
    let dir = tmp();
    let mock = steered(four_answers);
    let cases: &[(&str, &str)] = &[
        (
            "{\"input\":\"a\",\"expected\":\"positive\"}\n\n[1,2]\n",
            "data.jsonl:3: not a JSON object",
        ),
        (
            "{\"input\":\"a\",\"expected\":\"positive\"}\n{\"input\":\"b\"}\n",
            "data.jsonl:2: no `expected` field",
        ),
        (
            "{\"input\":\"a\",\"expected\":\"positive\"}\n{\"inp\n",
            "data.jsonl:2: not JSON",
        ),
        (
            "{\"expected\":\"positive\"}\n",
            "data.jsonl:1: no `input` field",
        ),
        ("", "has no items"),
        ("\n  \n", "has no items"),
    ];
    for (data, message) in cases {
        project(dir.path(), data);
        let out = eval(dir.path(), &mock, &[]).expect(2);
        assert!(out.stderr.contains(message), "{data:?}: {}", out.stderr);
    }
    // A template field other than the input.
    project(dir.path(), FOUR);
    std::fs::write(
        dir.path().join("prompts/sent/v2.md"),
        "+++\nlabels = [\"positive\", \"negative\", \"neutral\"]\n+++\nProduct {{product}}: {{input}}\n",
    )
    .unwrap();
    let out = eval(dir.path(), &mock, &["--json"]).expect(2);
    assert!(
        out.stderr.contains("data.jsonl:1: no `product` field"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["error"]["type"], "usage");
    // One variant without a gate compares nothing.
    project(dir.path(), FOUR);
    let mut cmd = openai(dir.path(), &mock);
    cmd.args(["eval", "--prompt", "sent@v1", "--data", "data.jsonl"]);
    let out = run(&mut cmd).expect(2);
    assert!(out.stderr.contains("two or more"), "{}", out.stderr);
    // Non-UTF-8 data names the byte offset (from 0: `{"input":"a` is 11 bytes).
    std::fs::write(dir.path().join("data.jsonl"), b"{\"input\":\"a\xff\"}\n").unwrap();
    let out = eval(dir.path(), &mock, &[]).expect(2);
    assert!(
        out.stderr
            .contains("not valid UTF-8: invalid byte at offset 11"),
        "{}",
        out.stderr
    );
    // A report that cannot be written is found before anything is paid for.
    let out = eval(dir.path(), &mock, &["--report", "no/such/dir/report.md"]).expect(2);
    assert!(
        out.stderr.contains("cannot write no/such/dir/report.md"),
        "{}",
        out.stderr
    );
    // A metric of another task.
    let out = eval(dir.path(), &mock, &["--metric", "regex"]).expect(2);
    assert!(
        out.stderr.contains("--metric does not fit --task classify"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 0);
}

#[test]
fn eval_scores_complete_and_extract_json_metrics() {
    let dir = tmp();
    let d = dir.path().join("prompts/ask");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("v1.md"),
        "+++\nsystem = \"Version one.\"\n+++\nReview: {{input}}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("v2.md"),
        "+++\nsystem = \"Version two.\"\n+++\nReview: {{input}}\n",
    )
    .unwrap();
    let mock = steered(|v, review| {
        mock::openai_completion(match (v, review) {
            (1, "capital") => "The capital is Paris.",
            (2, "capital") => "paris",
            (_, "json") => "{\"name\": \"Ada\", \"age\": 36.0}",
            other => panic!("unexpected {other:?}"),
        })
    });
    let args = |data: &str, extra: &[&str]| {
        std::fs::write(dir.path().join("data.jsonl"), data).unwrap();
        let mut cmd = openai(dir.path(), &mock);
        cmd.args([
            "eval",
            "--prompt",
            "ask@v1",
            "--prompt",
            "ask@v2",
            "--data",
            "data.jsonl",
            "--json",
        ])
        .args(extra);
        run(&mut cmd).expect(0).json()
    };
    let acc = |r: &Value| -> Vec<f64> {
        r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["accuracy"].as_f64().unwrap())
            .collect()
    };
    let capital = "{\"input\": \"capital\", \"expected\": \"Paris\"}\n";
    // contains is case-sensitive; exact compares the trimmed text; regex searches.
    assert_eq!(acc(&args(capital, &[])), vec![1.0, 0.0]);
    assert_eq!(acc(&args(capital, &["--metric", "exact"])), vec![0.0, 0.0]);
    let pattern =
        "{\"input\": \"capital\", \"expected\": \"(?i)^(the capital is )?paris\\\\.?$\"}\n";
    assert_eq!(acc(&args(pattern, &["--metric", "regex"])), vec![1.0, 1.0]);
    // extract-json: 36.0 equals 36; json-subset needs only the expected fields.
    let person = "{\"input\": \"json\", \"expected\": {\"age\": 36, \"name\": \"Ada\"}}\n{\"input\": \"json\", \"expected\": {\"name\": \"Ada\"}}\n";
    let r = args(person, &["--task", "extract-json"]);
    assert_eq!(acc(&r), vec![0.5, 0.5]);
    assert_eq!(r["metric"], "json-equal");
    assert_eq!(
        acc(&args(
            person,
            &["--task", "extract-json", "--metric", "json-subset"]
        )),
        vec![1.0, 1.0]
    );
}

#[test]
fn eval_without_a_key_says_so_once_before_sending() {
    let dir = tmp();
    project(dir.path(), FOUR);
    let mock = steered(four_answers);
    let mut cmd = super::base(dir.path());
    cmd.env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
        .args([
            "eval",
            "--prompt",
            "sent@v1",
            "--prompt",
            "sent@v2",
            "-m",
            "gpt-4o-mini",
            "--data",
            "data.jsonl",
        ]);
    let out = run(&mut cmd).expect(3);
    assert!(out.stderr.contains("OPENAI_API_KEY"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(mock.hits(), 0);
}

/// The example works out of the box: `prompts/sentiment` v1 and v2 over
/// `examples/sentiment-eval.jsonl` (a mock that answers every item as labelled).
#[test]
fn eval_example_sentiment_data_runs_out_of_the_box() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("examples/sentiment-eval.jsonl");
    let text = std::fs::read_to_string(&data).unwrap();
    let labelled: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["input"].as_str().unwrap().to_string(),
                v["expected"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(labelled.len() >= 30);
    for label in ["positive", "negative", "neutral"] {
        assert!(labelled.iter().filter(|(_, e)| e == label).count() >= 10);
    }
    let mock = Mock::start(vec![mock::dynamic(move |req, _| {
        let review = mock::last_user_text(req);
        let review = review.trim_start_matches("Review: ");
        let (_, label) = labelled
            .iter()
            .find(|(input, _)| input == review)
            .unwrap_or_else(|| panic!("not in the data: {review}"));
        (mock::openai_completion(label), Duration::ZERO)
    })]);
    let dir = tmp();
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sentiment@v1",
        "--prompt",
        "sentiment@v2",
        "--json",
    ])
    .arg("--prompts-dir")
    .arg(root.join("prompts"))
    .arg("--data")
    .arg(&data);
    let r = run(&mut cmd).expect(0).json();
    for v in r["variants"].as_array().unwrap() {
        assert_eq!(v["items"], 36);
        assert_eq!(v["accuracy"], 1.0);
    }
    assert_eq!(r["variants"][1]["prompt"], "sentiment@v2");
    assert_eq!(mock.hits(), 72);
}

#[test]
fn eval_keeps_to_rpm_across_variants() {
    let dir = tmp();
    project(
        dir.path(),
        "{\"input\": \"good\", \"expected\": \"positive\"}\n{\"input\": \"bad\", \"expected\": \"negative\"}\n",
    );
    let mock = steered(four_answers);
    // 120 per minute: one start every 0.5 s, v2's first item included.
    eval(dir.path(), &mock, &["--rpm", "120", "--concurrency", "4"]).expect(0);
    let at: Vec<_> = mock.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 4);
    for pair in at.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(450), "{gap:?}");
    }
}

#[test]
fn eval_variants_are_each_prompt_with_each_model_baseline_first() {
    let dir = tmp();
    project(dir.path(), FOUR);
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "[prices.\"model-a\"]\ninput = 1.0\noutput = 2.0\n[prices.\"model-b\"]\ninput = 1.0\noutput = 2.0\n",
    )
    .unwrap();
    // model-b gets "good" wrong whatever the prompt; v2 gets "bad" wrong whatever the model.
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let (v, review) = asked(req);
        let model = req.json()["model"].as_str().unwrap().to_string();
        let label = match (model.as_str(), review.as_str()) {
            ("model-b", "good") => "negative",
            _ => return (four_answers(v, &review), Duration::ZERO),
        };
        (mock::openai_completion(label), Duration::ZERO)
    })]);
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v1",
        "--prompt",
        "sent@v2",
        "-m",
        "model-a",
        "-m",
        "model-b",
        "--data",
        "data.jsonl",
        "--json",
    ]);
    let r = run(&mut cmd).expect(0).json();
    let got: Vec<(String, String, f64)> = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["prompt"].as_str().unwrap().to_string(),
                v["model"].as_str().unwrap().to_string(),
                v["accuracy"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("sent@v1", "model-a", 1.0),
        ("sent@v1", "model-b", 0.75),
        ("sent@v2", "model-a", 0.75),
        ("sent@v2", "model-b", 0.5),
    ];
    assert_eq!(got.len(), 4);
    for ((p, m, a), (wp, wm, wa)) in got.iter().zip(want) {
        assert_eq!((p.as_str(), m.as_str()), (wp, wm));
        assert!((a - wa).abs() < 1e-9, "{p} {m}: {a}");
    }
    // Flips are against variant 0: model-b's "good" (index 0) and v2's "bad" (index 1).
    let flips: Vec<(u64, u64)> = r["flips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["variant"].as_u64().unwrap(), f["index"].as_u64().unwrap()))
        .collect();
    assert_eq!(flips, vec![(1, 0), (2, 1), (3, 0), (3, 1)]);
    assert_eq!(mock.hits(), 16);
}

#[test]
fn eval_reads_data_from_stdin_with_dash() {
    let dir = tmp();
    project(dir.path(), "");
    let mock = steered(four_answers);
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v1",
        "--prompt",
        "sent@v2",
        "-m",
        "gpt-4o-mini",
        "--data",
        "-",
        "--json",
    ])
    .write_stdin(FOUR);
    let r = run(&mut cmd).expect(0).json();
    assert_eq!(r["variants"][0]["accuracy"], 1.0);
    assert_eq!(r["variants"][1]["accuracy"], 0.75);
}

/// `--effort` and `--cache-prompt` apply to every variant's requests; a model that does not
/// take the level is exit 2 before anything is sent.
#[test]
fn eval_sends_effort_and_cache_prompt_with_every_variant() {
    let dir = tmp();
    project(dir.path(), SIX);
    let mock = steered(six_answers);
    let refused = eval(dir.path(), &mock, &["--effort", "high"]).expect(2);
    assert!(
        refused.stderr.contains("takes no --effort level"),
        "{}",
        refused.stderr
    );
    assert_eq!(mock.hits(), 0);
    let mut cmd = openai(dir.path(), &mock);
    cmd.args([
        "eval",
        "--prompt",
        "sent@v1",
        "--prompt",
        "sent@v2",
        "-m",
        "o3",
        "--data",
        "data.jsonl",
        "--effort",
        "low",
        "--cache-prompt",
        "--json",
    ]);
    let r = run(&mut cmd).json();
    assert_eq!(r["variants"].as_array().map(Vec::len), Some(2), "{r}");
    let sent = mock.requests();
    assert_eq!(sent.len(), 12);
    for req in &sent {
        let body = req.json();
        assert_eq!(body["reasoning_effort"], "low", "{body}");
        assert!(
            body["prompt_cache_key"]
                .as_str()
                .is_some_and(|k| k.contains("sent")),
            "{body}"
        );
    }
}
