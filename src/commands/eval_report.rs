//! `eval`'s scoring and its report: each answer scored against `expected`, the numbers per
//! variant (accuracy, invalid, errors, tokens, cost, latency, per-label precision and recall,
//! the confusion matrix), the flips against the baseline, the gates, and the three ways the
//! report is shown (a table, the `--json` object, Markdown for a pull request).

use serde_json::{Map, Value, json};

use crate::error::{Error, Kind, Result};
use crate::jsonx::Validator;
use crate::result::CallResult;

/// The column of the confusion matrix (and the `got` of a flip) for an unusable answer.
pub const INVALID: &str = "(invalid)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Classify,
    ExtractJson,
    Complete,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::ExtractJson => "extract-json",
            Task::Complete => "complete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// classify: the label equals `expected` (ignoring case).
    Label,
    JsonEqual,
    JsonSubset,
    Contains,
    Exact,
    Regex,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Label => "label",
            Metric::JsonEqual => "json-equal",
            Metric::JsonSubset => "json-subset",
            Metric::Contains => "contains",
            Metric::Exact => "exact",
            Metric::Regex => "regex",
        }
    }
}

/// One labelled item of `--data`.
pub struct Item {
    /// Line in the file, from 1 (for messages).
    pub line: usize,
    /// The whole object.
    pub object: Map<String, Value>,
    pub expected: Value,
    /// `--metric regex`: `expected` compiled.
    pub pattern: Option<Validator>,
}

impl Item {
    /// What a report shows as the item's input: its `input` field, else the whole object.
    pub fn input(&self) -> Value {
        self.object
            .get("input")
            .cloned()
            .unwrap_or_else(|| Value::Object(self.object.clone()))
    }
}

/// How one answer scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Correct,
    Wrong,
    /// Unusable (exit-6 kind): wrong, and counted as invalid.
    Invalid,
    /// The API failed: neither right nor wrong.
    Error,
    /// Never answered: the eval was interrupted first. Left out of every count.
    NotRun,
}

impl Verdict {
    pub fn scored(self) -> Option<bool> {
        match self {
            Verdict::Correct => Some(true),
            Verdict::Wrong | Verdict::Invalid => Some(false),
            Verdict::Error | Verdict::NotRun => None,
        }
    }
}

/// One item's outcome in one variant.
pub struct Scored {
    pub outcome: Result<CallResult>,
    pub verdict: Verdict,
    /// The label, the JSON value or the text; `"(invalid)"` for an unusable answer, null
    /// for an error.
    pub got: Value,
}

impl Scored {
    /// The result paid for, if the model answered (usable or not).
    pub fn result(&self) -> Option<&CallResult> {
        match &self.outcome {
            Ok(r) => Some(r),
            Err(e) => e.result.as_deref(),
        }
    }
}

/// Scores `outcome` for `item`.
pub fn score(item: &Item, task: Task, metric: Metric, outcome: Result<CallResult>) -> Scored {
    let (verdict, got) = match &outcome {
        Err(e) if e.kind == Kind::UnusableAnswer => (Verdict::Invalid, Value::from(INVALID)),
        Err(_) => (Verdict::Error, Value::Null),
        Ok(r) => {
            let got = match task {
                Task::Classify => Value::from(r.label.clone().unwrap_or_default()),
                Task::ExtractJson => r.json.clone().unwrap_or(Value::Null),
                Task::Complete => Value::from(r.text.clone()),
            };
            let right = matches(item, metric, &got);
            (
                if right {
                    Verdict::Correct
                } else {
                    Verdict::Wrong
                },
                got,
            )
        }
    };
    Scored {
        outcome,
        verdict,
        got,
    }
}

/// An item an interrupted eval never answered.
pub fn not_run() -> Scored {
    Scored {
        outcome: Err(Error::new(
            Kind::Interrupted,
            "not run: the eval was interrupted",
        )),
        verdict: Verdict::NotRun,
        got: Value::Null,
    }
}

fn matches(item: &Item, metric: Metric, got: &Value) -> bool {
    let expected = &item.expected;
    match metric {
        Metric::Label => match (expected, got) {
            (Value::String(e), Value::String(g)) => e.trim().to_lowercase() == g.to_lowercase(),
            _ => false,
        },
        Metric::JsonEqual => json_equal(expected, got),
        Metric::JsonSubset => json_subset(expected, got),
        Metric::Contains => got.as_str().unwrap_or("").contains(&text_of(expected)),
        Metric::Exact => got.as_str().unwrap_or("").trim() == text_of(expected).trim(),
        Metric::Regex => item
            .pattern
            .as_ref()
            .is_some_and(|p| p.errors(got).is_empty()),
    }
}

/// A string as it is, anything else as its JSON text.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Equal as JSON values: numbers by value (`1` equals `1.0`), objects regardless of order.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Every field of `expected` is in `got` and equal (objects inside objects likewise);
/// anything but an object must be equal.
pub fn json_subset(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => e
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|w| json_subset(v, w))),
        _ => json_equal(expected, got),
    }
}

/// One variant's numbers.
pub struct Stats {
    pub prompt: String,
    pub model: String,
    pub items: usize,
    pub correct: usize,
    pub invalid: usize,
    pub errors: usize,
    /// correct ÷ (items − errors); `None` when every item failed.
    pub accuracy: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `None` when a price is unknown.
    pub cost_usd: Option<f64>,
    /// Answers from the response cache.
    pub cached: usize,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    /// classify: `(label, precision, recall)` in the set's order.
    pub labels: Vec<(String, Option<f64>, Option<f64>)>,
    /// classify: rows (expected) and, per row, counts per column (the labels, then
    /// `(invalid)`).
    pub confusion: Vec<(String, Vec<(String, usize)>)>,
    /// Items an interrupted eval never answered (not in `items`).
    pub not_run: usize,
}

/// The numbers of one variant's scored items. `labels` is the classify label set (empty
/// for the other tasks).
pub fn stats(
    prompt: String,
    model: String,
    items: &[Item],
    scored: &[Scored],
    labels: &[String],
    task: Task,
) -> Stats {
    let count = |v: Verdict| scored.iter().filter(|s| s.verdict == v).count();
    let (correct, invalid, errors) = (
        count(Verdict::Correct),
        count(Verdict::Invalid),
        count(Verdict::Error),
    );
    let not_run = count(Verdict::NotRun);
    let answered = scored.len() - not_run - errors;
    let accuracy = (answered > 0).then(|| correct as f64 / answered as f64);
    let (mut input_tokens, mut output_tokens, mut cost, mut cached) = (0, 0, Some(0.0), 0);
    let mut latencies = Vec::new();
    for r in scored.iter().filter_map(Scored::result) {
        input_tokens += r.usage.input_tokens;
        output_tokens += r.usage.output_tokens;
        cost = cost.zip(r.cost_usd).map(|(a, b)| a + b);
        cached += usize::from(r.cached);
        latencies.push(r.latency_ms);
    }
    latencies.sort_unstable();
    let (mut label_stats, mut confusion) = (Vec::new(), Vec::new());
    if task == Task::Classify {
        confusion = confusion_matrix(items, scored, labels);
        for label in labels {
            let hit = cell(&confusion, label, label);
            let predicted: usize = confusion
                .iter()
                .map(|(row, _)| cell(&confusion, row, label))
                .sum();
            let actual: usize = confusion
                .iter()
                .find(|(row, _)| row == label)
                .map_or(0, |(_, cols)| cols.iter().map(|(_, n)| n).sum());
            let ratio = |d: usize| (d > 0).then(|| hit as f64 / d as f64);
            label_stats.push((label.clone(), ratio(predicted), ratio(actual)));
        }
    }
    Stats {
        prompt,
        model,
        items: scored.len() - not_run,
        correct,
        invalid,
        errors,
        accuracy,
        input_tokens,
        output_tokens,
        cost_usd: cost.map(crate::cost::round_usd),
        cached,
        p50: percentile(&latencies, 50),
        p95: percentile(&latencies, 95),
        labels: label_stats,
        confusion,
        not_run,
    }
}

/// Nearest rank: the smallest value with at least `p`% of the values at or below it.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The label `expected` names, spelled as in the set, else as written.
fn expected_label(expected: &Value, labels: &[String]) -> String {
    let e = text_of(expected);
    labels
        .iter()
        .find(|l| l.to_lowercase() == e.trim().to_lowercase())
        .cloned()
        .unwrap_or(e)
}

fn confusion_matrix(
    items: &[Item],
    scored: &[Scored],
    labels: &[String],
) -> Vec<(String, Vec<(String, usize)>)> {
    let columns: Vec<String> = labels
        .iter()
        .cloned()
        .chain(std::iter::once(INVALID.to_string()))
        .collect();
    let mut rows: Vec<(String, Vec<(String, usize)>)> = labels
        .iter()
        .map(|l| (l.clone(), columns.iter().map(|c| (c.clone(), 0)).collect()))
        .collect();
    for (item, s) in items.iter().zip(scored) {
        if matches!(s.verdict, Verdict::Error | Verdict::NotRun) {
            continue;
        }
        let row = expected_label(&item.expected, labels);
        let col = text_of(&s.got);
        let at = match rows.iter().position(|(r, _)| *r == row) {
            Some(i) => i,
            None => {
                rows.push((row, columns.iter().map(|c| (c.clone(), 0)).collect()));
                rows.len() - 1
            }
        };
        if let Some((_, n)) = rows[at].1.iter_mut().find(|(c, _)| *c == col) {
            *n += 1;
        }
    }
    rows
}

fn cell(m: &[(String, Vec<(String, usize)>)], row: &str, col: &str) -> usize {
    m.iter()
        .find(|(r, _)| r == row)
        .and_then(|(_, cols)| cols.iter().find(|(c, _)| c == col))
        .map_or(0, |(_, n)| *n)
}

/// An item that went the other way in a variant than in the baseline.
pub struct Flip {
    pub variant: usize,
    pub index: usize,
    pub input: Value,
    pub expected: Value,
    pub baseline: Value,
    pub got: Value,
    pub right_to_wrong: bool,
}

/// Every item right in the baseline and wrong in a variant, or the other way round. An item
/// that failed (API error) in either is neither right nor wrong: no flip.
pub fn flips(items: &[Item], scored: &[Vec<Scored>]) -> Vec<Flip> {
    let mut out = Vec::new();
    let Some(base) = scored.first() else {
        return out;
    };
    for (v, variant) in scored.iter().enumerate().skip(1) {
        for (index, item) in items.iter().enumerate() {
            let (Some(b), Some(g)) = (
                base[index].verdict.scored(),
                variant[index].verdict.scored(),
            ) else {
                continue;
            };
            if b != g {
                out.push(Flip {
                    variant: v,
                    index,
                    input: item.input(),
                    expected: item.expected.clone(),
                    baseline: base[index].got.clone(),
                    got: variant[index].got.clone(),
                    right_to_wrong: b,
                });
            }
        }
    }
    out
}

/// One gate checked for one variant.
pub struct GateCheck {
    pub gate: &'static str,
    pub variant: usize,
    pub threshold: f64,
    pub accuracy: f64,
    /// max-regression: the baseline's accuracy.
    pub baseline: Option<f64>,
    pub passed: bool,
}

/// Rounding slack, so that 0.9 reached as 9/10 is not below 0.9.
const EPS: f64 = 1e-9;

/// `--min-accuracy` (every variant but the baseline, or the only one) and
/// `--max-regression` (every variant against the baseline). A variant without an accuracy
/// (every item failed) is not checked: its failures decide the exit code.
pub fn gates(
    stats: &[Stats],
    min_accuracy: Option<f64>,
    max_regression: Option<f64>,
) -> Vec<GateCheck> {
    let mut out = Vec::new();
    let first = usize::from(stats.len() > 1);
    if let Some(x) = min_accuracy {
        for (v, s) in stats.iter().enumerate().skip(first) {
            if let Some(a) = s.accuracy {
                out.push(GateCheck {
                    gate: "min_accuracy",
                    variant: v,
                    threshold: x,
                    accuracy: a,
                    baseline: None,
                    passed: a + EPS >= x,
                });
            }
        }
    }
    if let (Some(y), Some(base)) = (max_regression, stats.first().and_then(|s| s.accuracy)) {
        for (v, s) in stats.iter().enumerate().skip(1) {
            if let Some(a) = s.accuracy {
                out.push(GateCheck {
                    gate: "max_regression",
                    variant: v,
                    threshold: y,
                    accuracy: a,
                    baseline: Some(base),
                    passed: base - a <= y + EPS,
                });
            }
        }
    }
    out
}

/// An item whose request failed (listed in every form of the report).
pub struct Failure<'a> {
    pub variant: usize,
    pub index: usize,
    pub input: Value,
    pub error: &'a Error,
}

/// Everything the report shows.
pub struct Report<'a> {
    pub task: Task,
    pub metric: Metric,
    pub stats: Vec<Stats>,
    pub flips: Vec<Flip>,
    pub failures: Vec<Failure<'a>>,
    pub gates: Vec<GateCheck>,
    /// Ctrl-C or SIGTERM stopped the eval: the numbers cover the items scored before.
    pub interrupted: bool,
}

impl Report<'_> {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    fn name(&self, v: usize) -> String {
        let s = &self.stats[v];
        format!("{} × {}", s.prompt, s.model)
    }

    /// The `--json` object.
    pub fn to_json(&self) -> Value {
        let variants: Vec<Value> = self
            .stats
            .iter()
            .map(|s| {
                let mut o = json!({
                    "prompt": s.prompt,
                    "model": s.model,
                    "items": s.items,
                    "correct": s.correct,
                    "accuracy": s.accuracy,
                    "invalid": s.invalid,
                    "errors": s.errors,
                    "usage": {"input_tokens": s.input_tokens, "output_tokens": s.output_tokens},
                    "cost_usd": s.cost_usd,
                    "latency_ms": {"p50": s.p50, "p95": s.p95},
                });
                if self.task == Task::Classify {
                    let labels: Map<String, Value> = s
                        .labels
                        .iter()
                        .map(|(l, p, r)| (l.clone(), json!({"precision": p, "recall": r})))
                        .collect();
                    let confusion: Map<String, Value> = s
                        .confusion
                        .iter()
                        .map(|(row, cols)| {
                            let cols: Map<String, Value> =
                                cols.iter().map(|(c, n)| (c.clone(), json!(n))).collect();
                            (row.clone(), Value::Object(cols))
                        })
                        .collect();
                    o["labels"] = Value::Object(labels);
                    o["confusion"] = Value::Object(confusion);
                }
                o["cached"] = json!(s.cached);
                if self.interrupted {
                    o["not_run"] = json!(s.not_run);
                }
                o
            })
            .collect();
        let flips: Vec<Value> = self
            .flips
            .iter()
            .map(|f| {
                json!({
                    "variant": f.variant,
                    "index": f.index,
                    "input": f.input,
                    "expected": f.expected,
                    "baseline": f.baseline,
                    "got": f.got,
                    "direction": if f.right_to_wrong { "right_to_wrong" } else { "wrong_to_right" },
                })
            })
            .collect();
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| {
                json!({"variant": f.variant, "index": f.index, "input": f.input, "error": f.error.to_json()})
            })
            .collect();
        let gates: Vec<Value> = self
            .gates
            .iter()
            .map(|g| {
                let mut o = json!({
                    "gate": g.gate, "variant": g.variant, "threshold": g.threshold,
                    "accuracy": g.accuracy, "passed": g.passed,
                });
                if let Some(b) = g.baseline {
                    o["baseline"] = json!(b);
                }
                o
            })
            .collect();
        let mut report = json!({
            "variants": variants,
            "flips": flips,
            "task": self.task.name(),
            "metric": self.metric.name(),
            "failures": failures,
            "gates": gates,
            "passed": self.passed(),
        });
        if self.interrupted {
            // Partial numbers are no verdict.
            report["passed"] = Value::Null;
            report["interrupted"] = json!(true);
        }
        report
    }

    /// The line that marks a partial report.
    fn interrupted_note(&self) -> Option<String> {
        self.interrupted.then(|| {
            let left: usize = self.stats.iter().map(|s| s.not_run).sum();
            format!(
                "interrupted: partial report, {left} item(s) were not run and are left out of every number; no gate was checked"
            )
        })
    }

    /// The readable report on stdout.
    pub fn to_table(&self) -> String {
        let mut rows = vec![
            [
                "#", "prompt", "model", "items", "correct", "accuracy", "invalid", "errors",
                "in tok", "out tok", "cost", "p50 ms", "p95 ms",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for (v, s) in self.stats.iter().enumerate() {
            rows.push(vec![
                v.to_string(),
                s.prompt.clone(),
                s.model.clone(),
                s.items.to_string(),
                s.correct.to_string(),
                percent(s.accuracy),
                s.invalid.to_string(),
                s.errors.to_string(),
                s.input_tokens.to_string(),
                s.output_tokens.to_string(),
                cost_cell(s),
                opt(s.p50),
                opt(s.p95),
            ]);
        }
        let mut out = format!(
            "eval: {} ({}), {} item(s), variant 0 is the baseline\n\n",
            self.task.name(),
            self.metric.name(),
            self.stats.first().map_or(0, |s| s.items)
        );
        if let Some(note) = self.interrupted_note() {
            out += &format!("{note}\n\n");
        }
        out += &aligned(&rows);
        if self.task == Task::Classify {
            for (v, s) in self.stats.iter().enumerate() {
                out += &format!("\nvariant {v} ({}): per label\n", self.name(v));
                let mut t = vec![["label", "precision", "recall"].map(String::from).to_vec()];
                for (l, p, r) in &s.labels {
                    t.push(vec![l.clone(), percent(*p), percent(*r)]);
                }
                out += &aligned(&t);
                out += "confusion (rows expected, columns got)\n";
                out += &aligned(&matrix_rows(s));
            }
        }
        if !self.flips.is_empty() {
            out += "\nflips against the baseline\n";
            let mut t = vec![
                [
                    "variant",
                    "index",
                    "direction",
                    "expected",
                    "baseline",
                    "got",
                    "input",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for f in &self.flips {
                t.push(vec![
                    f.variant.to_string(),
                    f.index.to_string(),
                    direction(f.right_to_wrong).to_string(),
                    excerpt(&f.expected, 30),
                    excerpt(&f.baseline, 30),
                    excerpt(&f.got, 30),
                    excerpt(&f.input, 60),
                ]);
            }
            out += &aligned(&t);
        }
        if !self.failures.is_empty() {
            out += "\nfailed requests (not scored)\n";
            for f in &self.failures {
                out += &format!(
                    "variant {} index {}: {}: {}\n",
                    f.variant,
                    f.index,
                    f.error.kind.as_str(),
                    f.error.message
                );
            }
        }
        if !self.gates.is_empty() {
            out += "\ngates\n";
            for g in &self.gates {
                out += &format!(
                    "{} {}\n",
                    if g.passed { "PASS" } else { "FAIL" },
                    self.gate_text(g)
                );
            }
        }
        out
    }

    fn gate_text(&self, g: &GateCheck) -> String {
        match g.baseline {
            None => format!(
                "--min-accuracy {}: variant {} ({}) has {}",
                percent(Some(g.threshold)),
                g.variant,
                self.name(g.variant),
                percent(Some(g.accuracy))
            ),
            Some(b) => format!(
                "--max-regression {}: variant {} ({}) has {} against the baseline's {} ({})",
                percent(Some(g.threshold)),
                g.variant,
                self.name(g.variant),
                percent(Some(g.accuracy)),
                percent(Some(b)),
                points(g.accuracy - b)
            ),
        }
    }

    /// The gates that failed, as one message.
    pub fn failed_gates(&self) -> Option<String> {
        let failed: Vec<String> = self
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| self.gate_text(g))
            .collect();
        (!failed.is_empty()).then(|| format!("quality gate failed: {}", failed.join("; ")))
    }

    /// The Markdown report (`--report`), fit for a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let verdict = match (self.gates.is_empty(), self.passed()) {
            (true, _) => "",
            (false, true) => " ✅ gates passed",
            (false, false) => " ❌ gates failed",
        };
        let mut out = format!(
            "## llmpipe eval: {} ({}), {} item(s){verdict}\n\n",
            self.task.name(),
            self.metric.name(),
            self.stats.first().map_or(0, |s| s.items)
        );
        if let Some(note) = self.interrupted_note() {
            out += &format!("> **{note}**\n\n");
        }
        out += "| # | prompt | model | accuracy | Δ vs baseline | correct | invalid | errors | tokens in / out | cost | p50 / p95 ms |\n";
        out += "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        let base = self.stats.first().and_then(|s| s.accuracy);
        for (v, s) in self.stats.iter().enumerate() {
            let delta = match (v, s.accuracy, base) {
                (0, _, _) => "baseline".to_string(),
                (_, Some(a), Some(b)) => points(a - b),
                _ => "–".into(),
            };
            out += &format!(
                "| {v} | `{}` | `{}` | **{}** | {delta} | {}/{} | {} | {} | {} / {} | {} | {} / {} |\n",
                md(&s.prompt),
                md(&s.model),
                percent(s.accuracy),
                s.correct,
                s.items - s.errors,
                s.invalid,
                s.errors,
                s.input_tokens,
                s.output_tokens,
                cost_cell(s),
                opt(s.p50),
                opt(s.p95)
            );
        }
        if !self.gates.is_empty() {
            out += "\n**Gates**\n\n";
            for g in &self.gates {
                out += &format!(
                    "- {} {}\n",
                    if g.passed { "✅" } else { "❌" },
                    md(&self.gate_text(g))
                );
            }
        }
        let r2w = self.flips.iter().filter(|f| f.right_to_wrong).count();
        out += &format!(
            "\n**Flips against the baseline:** {r2w} right → wrong, {} wrong → right\n",
            self.flips.len() - r2w
        );
        if !self.flips.is_empty() {
            out += "\n| variant | index | | expected | baseline | got | input |\n|---:|---:|---|---|---|---|---|\n";
            for f in &self.flips {
                out += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    f.variant,
                    f.index,
                    if f.right_to_wrong {
                        "✗ right → wrong"
                    } else {
                        "✓ wrong → right"
                    },
                    md(&excerpt(&f.expected, 40)),
                    md(&excerpt(&f.baseline, 40)),
                    md(&excerpt(&f.got, 40)),
                    md(&excerpt(&f.input, 80))
                );
            }
        }
        if !self.failures.is_empty() {
            out += &format!(
                "\n**Failed requests (not scored):** {}\n\n",
                self.failures.len()
            );
            for f in self.failures.iter().take(20) {
                out += &format!(
                    "- variant {} index {}: `{}` {}\n",
                    f.variant,
                    f.index,
                    f.error.kind.as_str(),
                    md(&f.error.message)
                );
            }
            if self.failures.len() > 20 {
                out += &format!("- … and {} more\n", self.failures.len() - 20);
            }
        }
        if self.task == Task::Classify {
            for (v, s) in self.stats.iter().enumerate() {
                out += &format!(
                    "\n<details><summary>Variant {v} (<code>{}</code>): per label and confusion matrix</summary>\n\n",
                    html(&self.name(v))
                );
                out += "| label | precision | recall |\n|---|---:|---:|\n";
                for (l, p, r) in &s.labels {
                    out += &format!("| {} | {} | {} |\n", md(l), percent(*p), percent(*r));
                }
                let m = matrix_rows(s);
                out += "\n";
                for (i, row) in m.iter().enumerate() {
                    out += &format!(
                        "| {} |\n",
                        row.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | ")
                    );
                    if i == 0 {
                        out += &format!("|{}\n", "---|".repeat(row.len()));
                    }
                }
                out += "\n</details>\n";
            }
        }
        out
    }
}

/// The confusion matrix as table rows, a header first.
fn matrix_rows(s: &Stats) -> Vec<Vec<String>> {
    let mut t = Vec::new();
    if let Some((_, cols)) = s.confusion.first() {
        let mut head = vec!["expected ↓ got →".to_string()];
        head.extend(cols.iter().map(|(c, _)| c.clone()));
        t.push(head);
    }
    for (row, cols) in &s.confusion {
        let mut r = vec![row.clone()];
        r.extend(cols.iter().map(|(_, n)| n.to_string()));
        t.push(r);
    }
    t
}

fn direction(right_to_wrong: bool) -> &'static str {
    if right_to_wrong {
        "right_to_wrong"
    } else {
        "wrong_to_right"
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn points(d: f64) -> String {
    format!("{:+.1} pts", d * 100.0)
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "–".into(), |v| v.to_string())
}

/// The cost, and how many answers came from the response cache (free).
fn cost_cell(s: &Stats) -> String {
    match s.cached {
        0 => cost_text(s.cost_usd),
        n => format!("{} ({n} cached)", cost_text(s.cost_usd)),
    }
}

fn cost_text(c: Option<f64>) -> String {
    c.map_or_else(|| "unknown".into(), crate::cost::usd_text)
}

/// A value on one line, cut to `max` characters.
fn excerpt(v: &Value, max: usize) -> String {
    let s = text_of(v).split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

/// Text that stays inside a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Columns padded to their widest cell.
fn aligned(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s:<w$}", w = width[c]))
            .collect();
        out += line.join("  ").trim_end();
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_metrics() {
        assert!(json_equal(
            &json!({"a": 1, "b": [1.0]}),
            &json!({"b": [1], "a": 1.0})
        ));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(json_subset(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(json_subset(
            &json!({"a": {"x": 1}}),
            &json!({"a": {"x": 1, "y": 2}})
        ));
        assert!(!json_subset(
            &json!({"a": 1, "c": 3}),
            &json!({"a": 1, "b": 2})
        ));
        assert!(!json_subset(&json!([1]), &json!([1, 2])));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
