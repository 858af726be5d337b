//! `eval`: every prompt version × model (a variant) over labelled data, through the
//! `--each-line` sending machinery (`each_line::Pool`: concurrency, `--rpm`, retries, the
//! response cache, the call log, the `--max-cost` budget), scored, reported and gated.
//!
//! Everything that can be wrong with the command line, the prompt files or the data is found
//! before anything is sent, and so is a budget the whole eval could pass; the variants then
//! run one after the other, their items concurrently.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use super::call::Call;
use super::classify::Classify;
use super::each_line::{Budget, Pool, Progress};
use super::eval_report::{self, Failure, Item, Metric, Report, Scored, Task, Verdict};
use super::extract_json::Extract;
use super::job::Job;
use crate::chat::Request;
use crate::cli::{EvalArgs, EvalMetric, EvalTask, ModelArgs, PromptFileArgs, RequestArgs};
use crate::config::Context;
use crate::error::{Error, Kind, Result};
use crate::output;

/// One prompt version × one model, ready to run.
struct Variant {
    call: Call,
    job: Job,
    /// classify: the label set.
    labels: Vec<String>,
    /// Every item's request, in order.
    requests: Vec<Request>,
    /// Whether the response cache already answers each request (nothing sent, nothing paid).
    cached: Vec<bool>,
}

pub async fn run(args: &EvalArgs, ctx: &Context) -> Result<()> {
    output::set_verbose(args.verbose.verbose);
    let gated = args.min_accuracy.is_some() || args.max_regression.is_some();
    let models: Vec<Option<String>> = if args.models.is_empty() {
        vec![None]
    } else {
        args.models.iter().cloned().map(Some).collect()
    };
    let count = args.prompts.len() * models.len();
    if count < 2 && !gated {
        return Err(Error::usage(
            "eval compares variants: give two or more (--prompt NAME@v1 --prompt NAME@v2, or -m A -m B), or one with --min-accuracy",
        ));
    }
    if count < 2 && args.max_regression.is_some() {
        return Err(Error::usage(
            "--max-regression compares variants with the baseline (the first): give a second --prompt or -m",
        ));
    }
    // The labelled data (or the other output) is never replaced by a report.
    check_distinct(&args.data, args.out.as_deref(), args.report.as_deref())?;
    // The files are opened first: a path that cannot be written is found before anything
    // is paid for.
    let mut out_file = args.out.as_deref().map(OutFile::open).transpose()?;
    let mut report_file = args.report.as_deref().map(OutFile::open).transpose()?;

    let mut variants = Vec::new();
    for prompt in &args.prompts {
        for model in &models {
            let req_args = RequestArgs {
                model: ModelArgs {
                    model: model.clone(),
                    provider: args.provider,
                },
                prompt_file: PromptFileArgs {
                    prompt_name: Some(prompt.clone()),
                    vars: args.vars.clone(),
                    prompts_dir: args.prompts_dir.clone(),
                },
                temperature: args.temperature,
                max_tokens: args.max_tokens,
                timeout: args.timeout,
                retries: args.retries,
                cache: args.cache,
                no_log: args.no_log,
                max_cost: args.max_cost,
                verbose: args.verbose,
                effort: args.effort,
                cache_prompt: args.cache_prompt,
                ..RequestArgs::default()
            };
            variants.push(Call::new(&req_args, ctx, "eval")?);
        }
    }
    let first = variants[0]
        .prompt
        .as_ref()
        .expect("eval always has a prompt");
    let task = match args.task {
        Some(EvalTask::Classify) => Task::Classify,
        Some(EvalTask::ExtractJson) => Task::ExtractJson,
        Some(EvalTask::Complete) => Task::Complete,
        None if first.meta.labels.is_some() => Task::Classify,
        None if first.schema.is_some() => Task::ExtractJson,
        None => Task::Complete,
    };
    let metric = metric(task, args.metric)?;
    // `--data -` is stdin, read off the async thread so that Ctrl-C still ends the wait.
    let path = args.data.clone();
    let reading = tokio::task::spawn_blocking(move || {
        if path.as_os_str() == "-" {
            crate::input::read_bounded(std::io::stdin())
        } else {
            std::fs::File::open(&path).and_then(crate::input::read_bounded)
        }
    });
    // The eval takes Ctrl-C itself (see the run below): here nothing was sent yet.
    let read = tokio::select! {
        read = reading => read,
        why = crate::signals::stopped() => {
            return Err(Error::new(
                Kind::Interrupted,
                format!("{} while reading --data", why.what()),
            ));
        }
    };
    let bytes = read
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
        .map_err(|e| {
            Error::usage(format!(
                "cannot read --data {}: {}",
                args.data.display(),
                crate::input::io_reason(&e)
            ))
        })?;
    let items = read_data(&args.data, &bytes, metric)?;
    let var_values = crate::prompts::parse_vars(&args.vars)?;

    let mut ready = Vec::new();
    for call in variants {
        ready.push(prepare(call, task, args, &items, &var_values)?);
    }
    let variants = ready;
    if task == Task::Classify {
        warn_unknown_labels(&items, &variants, &args.data);
    }
    // A missing key would fail every item: said once, before anything is sent.
    for v in &variants {
        let target = &v.call.settings.targets[0];
        if target.api_key.is_none() && v.cached.iter().any(|c| !c) {
            return Err(crate::provider::client::missing_key(target.kind));
        }
    }
    check_budget(&variants, args.max_cost)?;

    // Run: one variant after the other, each with its items concurrently.
    let budget = std::cell::RefCell::new(Budget::new(args.max_cost)?);
    let mut progress = Progress::new();
    progress.set_total(variants.len() * items.len());
    let mut done = 0;
    let mut previous: Option<Pool<'_>> = None;
    let mut scored: Vec<Vec<Scored>> = Vec::new();
    let mut all_stats = Vec::new();
    // Ctrl-C or SIGTERM, as `--each-line` takes it: no new requests, a grace period for
    // those in flight (a second signal cuts it short), then a report of what was scored.
    let stop = crate::signals::stopped();
    tokio::pin!(stop);
    let grace = tokio::time::sleep(std::time::Duration::from_secs(3600 * 24 * 365));
    tokio::pin!(grace);
    let mut stopping: Option<(crate::signals::Stop, u32)> = None;
    for v in &variants {
        let started = std::time::Instant::now();
        let mut outcomes: Vec<Option<Result<crate::result::CallResult>>> =
            (0..items.len()).map(|_| None).collect();
        let mut pool = Pool::new(&v.call, &v.job, &budget, args.concurrency, args.rpm)?;
        if let Some(earlier) = &previous {
            pool = pool.after(earlier);
        }
        let mut next = 0;
        loop {
            if stopping.is_none() && next < items.len() && pool.has_room() {
                let req = v.requests[next].clone();
                let admitted = if v.cached[next] {
                    Ok(())
                } else {
                    budget.borrow_mut().admit(next, &v.call, &req)
                };
                match admitted {
                    Ok(()) => pool.start(next, Value::Null, req),
                    Err(e) => {
                        progress.record(next, &Err(e.clone()));
                        done += 1;
                        outcomes[next] = Some(Err(e));
                    }
                }
                next += 1;
                continue;
            }
            let finished = tokio::select! {
                biased;
                why = &mut stop, if stopping.is_none() => {
                    stopping = Some((why, crate::signals::signal_count()));
                    grace.as_mut().reset(tokio::time::Instant::now() + super::each_line::GRACE);
                    if why != crate::signals::Stop::ClosedStdout && !pool.is_empty() {
                        output::warn("interrupted: no new requests; waiting briefly for those in flight");
                    }
                    continue;
                }
                _ = &mut grace, if stopping.is_some() => break,
                _ = crate::signals::signal_after(stopping.map_or(0, |s| s.1)), if stopping.is_some() => break,
                finished = pool.next() => finished,
            };
            let Some((index, _, outcome)) = finished else {
                break;
            };
            // On the bar, "failed" is a failed request; an unusable answer is an answer
            // (scored as invalid).
            match &outcome {
                Err(e) if e.kind == Kind::UnusableAnswer && e.result.is_some() => {
                    let answered = e.result.as_deref().cloned().ok_or_else(|| e.clone());
                    progress.record(index, &answered);
                }
                _ => progress.record(index, &outcome),
            }
            done += 1;
            progress.set_position(done);
            outcomes[index] = Some(outcome);
        }
        // Stopped: the requests still in flight are dropped (each logged as interrupted).
        if stopping.is_some() {
            drop(pool);
        } else {
            previous = Some(pool);
        }
        let list: Vec<Scored> = items
            .iter()
            .zip(outcomes)
            .map(|(item, o)| match o {
                Some(o) => eval_report::score(item, task, metric, o),
                None if stopping.is_some() => eval_report::not_run(),
                None => eval_report::score(
                    item,
                    task,
                    metric,
                    Err(Error::internal("an item was never run")),
                ),
            })
            .collect();
        let s = eval_report::stats(
            v.call
                .prompt
                .as_ref()
                .map(|p| p.label())
                .unwrap_or_default(),
            v.call.settings.targets[0].model.clone(),
            &items,
            &list,
            &v.labels,
            task,
        );
        progress.note(&summary_line(&s, started.elapsed()));
        all_stats.push(s);
        scored.push(list);
    }
    progress.clear();

    let flips = eval_report::flips(&items, &scored);
    // An interrupted eval is no verdict: its gates are not checked.
    let gates = match stopping {
        Some(_) => Vec::new(),
        None => eval_report::gates(&all_stats, args.min_accuracy, args.max_regression),
    };
    let failures: Vec<Failure<'_>> = scored
        .iter()
        .enumerate()
        .flat_map(|(v, list)| {
            let items = &items;
            list.iter()
                .enumerate()
                .filter_map(move |(index, s)| match &s.outcome {
                    Err(e) if s.verdict == Verdict::Error => Some(Failure {
                        variant: v,
                        index,
                        input: items[index].input(),
                        error: e,
                    }),
                    _ => None,
                })
        })
        .collect();
    let report = Report {
        task,
        metric,
        stats: all_stats,
        flips,
        failures,
        gates,
        interrupted: stopping.is_some(),
    };

    if let Some(file) = out_file.as_mut() {
        let mut text = String::new();
        for (v, list) in scored.iter().enumerate() {
            for (index, s) in list.iter().enumerate() {
                // An interrupted eval keeps the lines of the items it scored.
                if s.verdict == Verdict::NotRun {
                    continue;
                }
                text += &out_line(&report, v, index, &items[index], s);
                text.push('\n');
            }
        }
        file.write(&text)?;
    }
    if let Some(file) = report_file.as_mut() {
        file.write(&report.to_markdown())?;
    }
    if args.json.json {
        output::out_line(&report.to_json().to_string());
    } else {
        output::out(&report.to_table());
    }

    if let Some((why, _)) = stopping {
        let scored_items: usize = report.stats.iter().map(|s| s.items).sum();
        let total = report.stats.len() * items.len();
        let mut e = Error::new(
            Kind::Interrupted,
            format!(
                "{}: {scored_items} of {total} item(s) were scored; the report covers only those",
                why.what()
            ),
        )
        .with_hint("no gate was checked; run the eval again for a verdict");
        e.stdout_written = true;
        return Err(e);
    }
    // The exit code: a failed gate is exit 8 (the verdict on the items that were answered);
    // without one, failed requests keep their own code (the first, in variant and item order).
    if let Some(message) = report.failed_gates() {
        let mut e = Error::new(Kind::QualityGate, message);
        if !report.failures.is_empty() {
            e = e.with_hint(format!(
                "{} request(s) also failed (listed in the report); they were not scored",
                report.failures.len()
            ));
        }
        e.stdout_written = true;
        return Err(e);
    }
    if let Some(f) = report.failures.first() {
        let mut e = f.error.clone();
        e.message = format!(
            "{} request(s) failed and were not scored; the first (variant {}, index {}): {}",
            report.failures.len(),
            f.variant,
            f.index,
            e.message
        );
        e.result = None;
        e.stdout_written = true;
        return Err(e);
    }
    Ok(())
}

/// The metric: `--metric` if it fits the task, else the task's default.
fn metric(task: Task, given: Option<EvalMetric>) -> Result<Metric> {
    let m = match (task, given) {
        (Task::Classify, None) => Metric::Label,
        (Task::ExtractJson, None | Some(EvalMetric::JsonEqual)) => Metric::JsonEqual,
        (Task::ExtractJson, Some(EvalMetric::JsonSubset)) => Metric::JsonSubset,
        (Task::Complete, None | Some(EvalMetric::Contains)) => Metric::Contains,
        (Task::Complete, Some(EvalMetric::Exact)) => Metric::Exact,
        (Task::Complete, Some(EvalMetric::Regex)) => Metric::Regex,
        (task, Some(_)) => {
            let takes = match task {
                Task::Classify => "none (the label must equal `expected`)",
                Task::ExtractJson => "json-equal (default) or json-subset",
                Task::Complete => "contains (default), exact or regex",
            };
            return Err(Error::usage(format!(
                "--metric does not fit --task {}: it takes {takes}",
                task.name()
            )));
        }
    };
    Ok(m)
}

/// The data (`--data`'s bytes): every non-blank line a JSON object with `expected`.
fn read_data(path: &Path, bytes: &[u8], metric: Metric) -> Result<Vec<Item>> {
    let shown = path.display();
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::usage(format!(
            "--data {shown} is not valid UTF-8: invalid byte at offset {}",
            e.valid_up_to()
        ))
    })?;
    // A byte-order mark (some editors write one) is not part of the first object.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut items = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = n + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            Error::usage(format!("--data {shown}:{line}: {why}")).with_hint(
                "each line is one JSON object: the template's fields, `input` and `expected`",
            )
        };
        let object = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Err(bad("not a JSON object".into())),
            Err(e) => return Err(bad(format!("not JSON: {e}"))),
        };
        let Some(expected) = object.get("expected").cloned() else {
            return Err(bad("no `expected` field".into()));
        };
        let pattern = match metric {
            Metric::Regex => {
                let Value::String(p) = &expected else {
                    return Err(bad(
                        "`expected` must be a regular expression (a string) with --metric regex"
                            .into(),
                    ));
                };
                let schema = serde_json::json!({"type": "string", "pattern": p});
                let v = crate::jsonx::Validator::new(&schema, "`expected`").map_err(|_| {
                    bad(format!("`expected` is not a valid regular expression: {p}"))
                })?;
                Some(v)
            }
            _ => None,
        };
        if metric == Metric::Label && !expected.is_string() {
            return Err(bad("`expected` must be a label (a string)".into()));
        }
        items.push(Item {
            line,
            object,
            expected,
            pattern,
        });
    }
    if items.is_empty() {
        return Err(Error::usage(format!(
            "--data {shown} has no items: it needs one JSON object per line"
        )));
    }
    Ok(items)
}

/// The variant's job and every item's request; a field the template needs and the item
/// lacks is a usage error naming the line.
fn prepare(
    call: Call,
    task: Task,
    args: &EvalArgs,
    items: &[Item],
    var_values: &HashMap<String, String>,
) -> Result<Variant> {
    let prompt = call.prompt.as_ref().expect("eval always has a prompt");
    let (job, labels) = match task {
        Task::Classify => {
            let labels = prompt.meta.labels.clone().ok_or_else(|| {
                Error::usage(format!(
                    "--task classify needs labels, and {} has none",
                    prompt.path.display()
                ))
                .with_hint("add `labels = [\"a\", \"b\"]` to its front matter")
            })?;
            (Job::Classify(Classify::new(labels.clone())?), labels)
        }
        Task::ExtractJson => (
            Job::Extract(Extract::for_prompt(prompt, args.repair)?),
            Vec::new(),
        ),
        Task::Complete => (Job::Complete, Vec::new()),
    };
    let needs = prompt.variables();
    let mut requests = Vec::with_capacity(items.len());
    let mut cached = Vec::with_capacity(items.len());
    for item in items {
        let at = |e: Error| {
            let mut e = e;
            e.message = format!(
                "--data {}:{}: {}",
                args.data.display(),
                item.line,
                e.message
            );
            e
        };
        for name in &needs {
            if !item.object.contains_key(*name)
                && (*name == "input" || !var_values.contains_key(*name))
            {
                return Err(at(Error::usage(format!(
                    "no `{name}` field, which the template of {} needs",
                    prompt.label()
                ))));
            }
        }
        let vars: HashMap<String, String> = item
            .object
            .iter()
            .map(|(k, v)| (k.clone(), eval_report::text_of(v)))
            .collect();
        let text = item
            .object
            .get("input")
            .map(eval_report::text_of)
            .unwrap_or_default();
        let mut req = call.request_for(&text, Some(&vars)).map_err(at)?;
        job.shape(&mut req);
        let hit = call.settings.cache.is_some()
            && call.client()?.is_cached(&call.settings.targets[0], &req);
        cached.push(hit);
        requests.push(req);
    }
    Ok(Variant {
        call,
        job,
        labels,
        requests,
        cached,
    })
}

/// An `expected` that is in no variant's label set can never be right: probably a typo.
fn warn_unknown_labels(items: &[Item], variants: &[Variant], path: &Path) {
    let known = |e: &str| {
        variants.iter().any(|v| {
            v.labels
                .iter()
                .any(|l| l.to_lowercase() == e.trim().to_lowercase())
        })
    };
    let lines: Vec<String> = items
        .iter()
        .filter(|i| !known(i.expected.as_str().unwrap_or_default()))
        .map(|i| i.line.to_string())
        .collect();
    if !lines.is_empty() {
        output::warn(&format!(
            "--data {}: `expected` is not one of the labels on line(s) {}: those items can never be right",
            path.display(),
            lines.join(", ")
        ));
    }
}

/// `--max-cost` for the whole eval, before anything is sent: every request the cache does
/// not answer, at its worst case (input tokens plus all of `--max-tokens`, with the dearest
/// model it could reach).
fn check_budget(variants: &[Variant], max_cost: Option<f64>) -> Result<()> {
    let Some(limit) = max_cost else {
        return Ok(());
    };
    crate::cost::check_max_cost(limit)?;
    let (mut total, mut sent) = (0.0, 0usize);
    for v in variants {
        for (req, cached) in v.requests.iter().zip(&v.cached) {
            if !cached {
                total += crate::cost::worst_of_targets(&v.call.settings, req)?;
                sent += 1;
            }
        }
    }
    output::debug(&format!(
        "--max-cost: {sent} request(s) to send, up to ${total:.6} in all, within ${limit}?"
    ));
    if total > limit {
        return Err(Error::new(
            Kind::Budget,
            format!(
                "the eval could cost up to ${total:.6} ({sent} request(s), each its input plus all of --max-tokens), above --max-cost ${limit}: nothing was sent"
            ),
        )
        .with_hint("raise --max-cost, lower --max-tokens, use fewer variants or items, or --cache for variants already run"));
    }
    Ok(())
}

/// The line each variant leaves on stderr when it is done.
fn summary_line(s: &eval_report::Stats, took: std::time::Duration) -> String {
    let accuracy = s
        .accuracy
        .map_or_else(|| "–".into(), |a| format!("{:.1}%", a * 100.0));
    let cached = if s.cached > 0 {
        format!(", {} from the cache", s.cached)
    } else {
        String::new()
    };
    format!(
        "llmpipe: eval {} × {}: {} item(s), {} correct ({accuracy}), {} invalid, {} error(s){cached} · {} in / {} out tokens · {} · {:.1} s",
        s.prompt,
        s.model,
        s.items,
        s.correct,
        s.invalid,
        s.errors,
        s.input_tokens,
        s.output_tokens,
        s.cost_usd
            .map_or_else(|| "cost unknown".into(), crate::cost::usd_text),
        took.as_secs_f64()
    )
}

/// One `--out` line: which variant and item, the verdict, then the result (or the error).
fn out_line(report: &Report<'_>, v: usize, index: usize, item: &Item, s: &Scored) -> String {
    let stats = &report.stats[v];
    let mut o = Map::new();
    o.insert("variant".into(), v.into());
    o.insert("prompt".into(), stats.prompt.clone().into());
    o.insert("model".into(), stats.model.clone().into());
    o.insert("index".into(), index.into());
    o.insert("input".into(), Value::Object(item.object.clone()));
    o.insert("expected".into(), item.expected.clone());
    o.insert("got".into(), s.got.clone());
    o.insert(
        "correct".into(),
        s.verdict.scored().map_or(Value::Null, Value::Bool),
    );
    o.insert("invalid".into(), (s.verdict == Verdict::Invalid).into());
    if let Some(r) = s.result()
        && let Ok(Value::Object(fields)) = serde_json::to_value(r)
    {
        for (k, val) in fields {
            o.entry(k).or_insert(val);
        }
    }
    if let Err(e) = &s.outcome {
        o.insert("error".into(), e.to_json());
    }
    Value::Object(o).to_string()
}

/// `--out` and `--report` must not name the `--data` file or each other: writing the
/// report would destroy the labelled data (or the other report).
fn check_distinct(data: &Path, out: Option<&Path>, report: Option<&Path>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| (m.dev(), m.ino()))
    };
    let data_id = (data != Path::new("-")).then(|| id(data)).flatten();
    for (flag, path) in [("--out", out), ("--report", report)] {
        if let Some(p) = path
            && data_id.is_some()
            && id(p) == data_id
        {
            return Err(Error::usage(format!(
                "{flag} {} is the --data file: writing it would replace the labelled data",
                p.display()
            ))
            .with_hint("write the results to another file"));
        }
    }
    if let (Some(o), Some(r)) = (out, report)
        && (o == r || id(o).is_some_and(|i| id(r) == Some(i)))
    {
        return Err(Error::usage(format!(
            "--out and --report name the same file {}: give each its own",
            o.display()
        )));
    }
    Ok(())
}

/// A file the report goes to (`--out`, `--report`): opened before anything is sent, so a
/// path that cannot be written costs nothing; written (replacing what it held) only at the
/// end. A file that this run created and never wrote (the eval failed first) is removed, so
/// that no empty report is left behind to be posted.
struct OutFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    created: bool,
    written: bool,
}

impl OutFile {
    fn open(path: &Path) -> Result<OutFile> {
        let created = !path.exists();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                Error::usage(format!(
                    "cannot write {}: {}",
                    path.display(),
                    crate::input::io_reason(&e)
                ))
            })?;
        Ok(OutFile {
            path: path.to_path_buf(),
            file,
            created,
            written: false,
        })
    }

    fn write(&mut self, text: &str) -> Result<()> {
        let text = crate::secrets::mask(text);
        self.written = true;
        // A regular file is replaced; a device (`/dev/stderr`) is just written to.
        let regular = self.file.metadata().is_ok_and(|m| m.is_file());
        let emptied = if regular {
            self.file.set_len(0)
        } else {
            Ok(())
        };
        emptied
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::usage(format!("cannot write {}: {e}", self.path.display())))
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
