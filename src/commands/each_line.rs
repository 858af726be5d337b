//! `--each-line`: one request per input line, many in flight, one output line per item in
//! input order, nothing lost.
//!
//! A reader thread feeds lines through a bounded channel (input is read lazily, so memory
//! stays flat however long the input is). The scheduler keeps up to `--concurrency`
//! requests in flight (fewer while the provider rate-limits, see `client::Gate`), and writes
//! each item's line as soon as every earlier item is written; it stops reading when the
//! items waiting for an earlier one fill a window of `max(4 × concurrency, 64)`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;

use super::call::Call;
use super::job::Job;
use crate::chat::Request;
use crate::cli::{LineFormat, RequestArgs};
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::result::{CallResult, Line as OutLine};

/// How long in-flight requests may finish after Ctrl-C before they are written as
/// interrupted.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// One non-empty input line, or why it could not be read.
pub(super) struct Line {
    pub(super) index: usize,
    pub(super) text: std::result::Result<String, Error>,
    /// Where it is, for messages: its 1-based line number in its source (blank lines
    /// count, as editors and `sed -n Np` count), and the source (a file's name, `stdin`).
    pub(super) line_no: usize,
    pub(super) source: std::sync::Arc<str>,
}

type Pending<'a> = Pin<Box<dyn Future<Output = (usize, Value, Result<CallResult>)> + 'a>>;

pub async fn run(args: &RequestArgs, call: &Call, job: &Job) -> Result<()> {
    let words: Vec<&str> = args
        .input
        .prompt
        .iter()
        .filter(|w| *w != "-")
        .map(String::as_str)
        .collect();
    let prefix = words.join(" ");
    if !prefix.is_empty() && call.prompt.as_ref().is_some_and(|p| p.uses_input()) {
        return Err(Error::usage(
            "with --each-line and a prompt file that places {{input}}, PROMPT words have nowhere to go: use --var",
        ));
    }
    let read_stdin = args.input.prompt.iter().any(|w| w == "-") || !std::io::stdin().is_terminal();
    if args.input.files.is_empty() && !read_stdin {
        return Err(Error::usage(
            "--each-line reads its items from stdin or -f files, one per line",
        ));
    }
    let mut resume = match &args.resume {
        Some(path) => Some(Resume::open(path, job.produces())?),
        None => None,
    };

    let budget = std::cell::RefCell::new(Budget::new(args.max_cost)?);
    let budget = &budget;
    let window = (args.concurrency * 4).max(64);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Line>(window);
    let files = args.input.files.clone();
    std::thread::spawn(move || read_lines(files, read_stdin, tx));

    let mut progress = Progress::new();
    let mut inflight = Pool::new(call, job, budget, args.concurrency, args.rpm)?;
    let mut finished: BTreeMap<usize, String> = BTreeMap::new();
    let mut inputs: BTreeMap<usize, Value> = BTreeMap::new();
    let (mut next_read, mut next_write) = (0usize, 0usize);
    let mut input_done = false;
    let mut stopping = false;
    let stop = crate::signals::stopped();
    tokio::pin!(stop);
    let grace = tokio::time::sleep(Duration::from_secs(3600 * 24 * 365));
    tokio::pin!(grace);

    loop {
        // The Ctrl-C branch is always pending, so `select!` never runs out of branches:
        // the end of the run is decided here.
        if inflight.is_empty() && (input_done || stopping) {
            break;
        }
        let can_start =
            !input_done && !stopping && inflight.has_room() && next_read - next_write < window;
        tokio::select! {
            biased;
            why = &mut stop, if !stopping => {
                stopping = true;
                grace.as_mut().reset(tokio::time::Instant::now() + GRACE);
                if why != crate::signals::Stop::ClosedStdout {
                    output::warn("interrupted: no new requests; waiting briefly for those in flight");
                }
            }
            _ = &mut grace, if stopping => break,
            Some((index, input, outcome)) = inflight.next(), if !inflight.is_empty() => {
                let line = item_line(index, &input, &outcome);
                progress.record(index, &outcome);
                inputs.remove(&index);
                finished.insert(index, line);
                flush(&mut finished, &mut next_write);
            }
            line = rx.recv(), if can_start => {
                let Some(line) = line else {
                    input_done = true;
                    continue;
                };
                next_read += 1;
                let index = line.index;
                let item = parse_item(line, args.line_format, &prefix);
                if let Some(r) = resume.as_mut()
                    && let Some(copied) = r.take(index, &item.input)?
                {
                    progress.copied();
                    finished.insert(index, copied);
                    flush(&mut finished, &mut next_write);
                    continue;
                }
                // Items that end before a request is sent get their line at once.
                let req = item
                    .request(call, job)
                    .and_then(|req| budget.borrow_mut().admit(index, call, &req).map(|()| req));
                let req = match req {
                    Ok(req) if !args.dry_run => req,
                    other => {
                        let line = match other {
                            Ok(req) => call.dry_run(&req, false),
                            Err(e) => {
                                progress.record(index, &Err(e.clone()));
                                item_line(index, &item.input, &Err(e))
                            }
                        };
                        finished.insert(index, line);
                        flush(&mut finished, &mut next_write);
                        continue;
                    }
                };
                inputs.insert(index, item.input.clone());
                inflight.start(index, item.input, req);
            }
        }
    }

    if stopping {
        // Every item read so far gets a line: its result if done, else `interrupted`.
        // Dropping the requests still in flight logs each as interrupted.
        drop(inflight);
        for (index, input) in std::mem::take(&mut inputs) {
            let err = Error::new(Kind::Interrupted, "interrupted before this item finished");
            progress.record(index, &Err(err.clone()));
            finished.insert(index, item_line(index, &input, &Err(err)));
        }
        flush(&mut finished, &mut next_write);
        let mut e = Error::new(Kind::Interrupted, "interrupted");
        e.stdout_written = true;
        if output::stdout_closed() {
            // Nobody reads on: no more lines, no summary; `main` exits 0 quietly.
            if let Some(bar) = progress.bar.take() {
                bar.finish_and_clear();
            }
            return Err(e);
        }
        // The earlier results the resume file still holds are paid for: copy them all (no
        // request is sent), so the output never holds less than the file did.
        if let Some(r) = resume.as_mut() {
            let seen = crate::signals::signal_count();
            while r.has_more() && !output::stdout_closed() {
                let line = tokio::select! {
                    // Input that stalls (a slow pipe) is not waited for long.
                    line = tokio::time::timeout(GRACE, rx.recv()) => line.ok().flatten(),
                    // A second Ctrl-C cuts the copying short.
                    _ = crate::signals::signal_after(seen) => None,
                };
                let Some(line) = line else { break };
                next_read += 1;
                let index = line.index;
                let item = parse_item(line, args.line_format, &prefix);
                let copied = match r.take(index, &item.input)? {
                    Some(copied) => {
                        progress.copied();
                        copied
                    }
                    None => {
                        let err =
                            Error::new(Kind::Interrupted, "not sent: the run was interrupted");
                        progress.record(index, &Err(err.clone()));
                        item_line(index, &item.input, &Err(err))
                    }
                };
                finished.insert(index, copied);
                flush(&mut finished, &mut next_write);
            }
        }
        progress.finish(next_read);
        e.message = format!(
            "{}: {next_write} line(s) written; --resume with this output runs the rest",
            crate::signals::reason().map_or("interrupted", crate::signals::Stop::what)
        );
        return Err(e);
    }
    if let Some(r) = resume.as_mut() {
        r.check_end(next_read)?;
    }
    if next_read == 0 {
        // The SPEC's empty input: a usage error, as for one request (and `batch submit`).
        if let Some(bar) = progress.bar.take() {
            bar.finish_and_clear();
        }
        return Err(empty_input());
    }
    progress.finish(next_read);
    match progress.first_failure.take() {
        None => Ok(()),
        Some((index, mut e)) => {
            e.message = format!(
                "{} of {next_read} item(s) failed; the first (index {index}): {}",
                progress.failed, e.message
            );
            e.result = None;
            e.stdout_written = true;
            Err(e)
        }
    }
}

/// The sending part of a run, which `--each-line` and `eval` both feed: up to
/// `--concurrency` requests in flight (fewer while the provider rate-limits, see
/// `client::Gate`), started no faster than `--rpm`, each sent, answered by its job (with
/// repairs inside the `--max-cost` budget) and logged; `next` gives back each item's typed
/// outcome as it finishes, its spend settled in the budget. The caller admits an item to the
/// budget (`Budget::admit`) before it starts it.
pub(super) struct Pool<'a> {
    call: &'a Call,
    job: &'a Job,
    budget: &'a std::cell::RefCell<Budget>,
    gate: &'a crate::provider::client::Gate,
    rpm_gap: Option<Duration>,
    rpm_next: tokio::time::Instant,
    inflight: FuturesUnordered<Pending<'a>>,
}

impl<'a> Pool<'a> {
    pub(super) fn new(
        call: &'a Call,
        job: &'a Job,
        budget: &'a std::cell::RefCell<Budget>,
        concurrency: usize,
        rpm: Option<u32>,
    ) -> Result<Pool<'a>> {
        let gate = call.client()?.gate();
        gate.start(concurrency);
        Ok(Pool {
            call,
            job,
            budget,
            gate,
            rpm_gap: rpm.map(|n| Duration::from_secs_f64(60.0 / f64::from(n))),
            rpm_next: tokio::time::Instant::now(),
            inflight: FuturesUnordered::new(),
        })
    }

    /// Continues `earlier`'s `--rpm` schedule (a run of several pools, one after another,
    /// keeps to one rate).
    pub(super) fn after(mut self, earlier: &Pool<'_>) -> Self {
        self.rpm_next = self.rpm_next.max(earlier.rpm_next);
        self
    }

    /// Whether another request may start now.
    pub(super) fn has_room(&self) -> bool {
        self.inflight.len() < self.gate.limit()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    /// Starts item `index` (already admitted to the budget).
    pub(super) fn start(&mut self, index: usize, input: Value, req: Request) {
        let slot = self.rpm_gap.map(|gap| {
            let now = tokio::time::Instant::now();
            let at = self.rpm_next.max(now);
            self.rpm_next = at + gap;
            at
        });
        let (call, job, budget) = (self.call, self.job, self.budget);
        self.inflight.push(Box::pin(async move {
            if let Some(at) = slot {
                tokio::time::sleep_until(at).await;
            }
            let sending = call.sending(req);
            let before_repair = |next: &Request, paid: &CallResult| {
                sending.paid(paid);
                let spent = paid.cost_usd.unwrap_or(0.0);
                budget.borrow_mut().admit_repair(index, call, next, spent)
            };
            let outcome = job
                .answer(call, sending.request().clone(), &before_repair)
                .await;
            sending.log(&outcome);
            (index, input, outcome)
        }));
    }

    /// The next item to finish (`None` when none is in flight), its spend settled.
    pub(super) async fn next(&mut self) -> Option<(usize, Value, Result<CallResult>)> {
        let done = self.inflight.next().await?;
        self.budget.borrow_mut().settle(done.0, &done.2);
        Some(done)
    }
}

/// `--max-cost` over a whole run: an item starts only if the spend so far, the worst case
/// of the requests in flight and its own worst case stay within the budget. Once one does
/// not, no further item starts; each gets a `budget` error line (exit 7).
pub(super) struct Budget {
    limit: Option<f64>,
    spent: f64,
    in_flight: BTreeMap<usize, f64>,
    exhausted: bool,
}

impl Budget {
    pub(super) fn new(limit: Option<f64>) -> Result<Budget> {
        if let Some(l) = limit {
            crate::cost::check_max_cost(l)?;
        }
        Ok(Budget {
            limit,
            spent: 0.0,
            in_flight: BTreeMap::new(),
            exhausted: false,
        })
    }

    pub(super) fn admit(&mut self, index: usize, call: &Call, req: &Request) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let skipped = |why: String| Err(Error::new(Kind::Budget, why));
        if self.exhausted {
            return skipped(format!(
                "not sent: --max-cost ${limit} was reached earlier in the run"
            ));
        }
        let cost = crate::cost::worst_of_targets(&call.settings, req)?;
        // (A sum of no f64 is -0.0, shown as "$-0.000000".)
        let reserved: f64 = self.in_flight.values().fold(0.0, |a, b| a + b);
        if self.spent + reserved + cost > limit {
            self.exhausted = true;
            return skipped(format!(
                "not sent: ${:.6} spent and ${reserved:.6} in flight, plus up to ${cost:.6} for this item, would pass --max-cost ${limit}",
                self.spent
            ));
        }
        self.in_flight.insert(index, cost);
        Ok(())
    }

    /// Before a repair round of item `index`, which has cost `spent` so far: the run's
    /// spend, the other items in flight, this item's spend and the repair's worst case must
    /// fit. The item's reservation becomes its spend plus the repair's worst case.
    fn admit_repair(&mut self, index: usize, call: &Call, req: &Request, spent: f64) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let cost = crate::cost::worst_of_targets(&call.settings, req)?;
        let others: f64 = self
            .in_flight
            .iter()
            .filter(|(i, _)| **i != index)
            .map(|(_, c)| c)
            .sum();
        if self.spent + others + spent + cost > limit {
            self.exhausted = true;
            return Err(crate::cost::over_budget(
                self.spent + others + spent,
                cost,
                limit,
            ));
        }
        self.in_flight.insert(index, spent + cost);
        Ok(())
    }

    fn settle(&mut self, index: usize, outcome: &Result<CallResult>) {
        self.in_flight.remove(&index);
        let result = match outcome {
            Ok(r) => Some(r),
            Err(e) => e.result.as_deref(),
        };
        self.spent += result.and_then(|r| r.cost_usd).unwrap_or(0.0);
    }
}

/// Writes every finished line that has no unfinished item before it.
fn flush(finished: &mut BTreeMap<usize, String>, next_write: &mut usize) {
    while let Some(line) = finished.remove(next_write) {
        output::out_line(&line);
        *next_write += 1;
    }
}

/// `{"index","input",…result…}` or `{"index","input",…,"error":{…}}`.
pub(super) fn item_line(index: usize, input: &Value, outcome: &Result<CallResult>) -> String {
    let (result, error) = match outcome {
        Ok(r) => (Some(r), None),
        Err(e) => (e.result.as_deref(), Some(e.body())),
    };
    OutLine {
        index: Some(index),
        input: Some(input),
        result,
        error,
        ..OutLine::default()
    }
    .to_json()
}

/// An item ready to become a request.
pub(super) struct Item {
    /// What the output line shows as `input`: the line, or the JSONL object.
    pub(super) input: Value,
    /// The text for `{{input}}` and the extra template variables, or why there is none.
    content: std::result::Result<(String, Option<HashMap<String, String>>), Error>,
}

impl Item {
    pub(super) fn request(&self, call: &Call, job: &Job) -> Result<Request> {
        let (text, vars) = self.content.as_ref().map_err(Clone::clone)?;
        let mut req = call.request_for(text, vars.as_ref())?;
        job.shape(&mut req);
        Ok(req)
    }
}

pub(super) fn parse_item(line: Line, format: LineFormat, prefix: &str) -> Item {
    let Line {
        text,
        line_no,
        source,
        ..
    } = line;
    // The item's place in the user's input, 1-based (`index` is not a line number).
    let at = || format!("line {line_no} of {source}");
    let raw = match text {
        Ok(raw) => raw,
        Err(e) => {
            return Item {
                input: Value::Null,
                content: Err(e),
            };
        }
    };
    let with_prefix = |item: &str| {
        if prefix.is_empty() {
            item.to_string()
        } else {
            format!("{prefix}\n\n{item}")
        }
    };
    match format {
        LineFormat::Text => Item {
            content: Ok((with_prefix(&raw), None)),
            input: Value::String(raw),
        },
        LineFormat::Jsonl => match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(obj)) => {
                let as_text = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let vars: HashMap<String, String> =
                    obj.iter().map(|(k, v)| (k.clone(), as_text(v))).collect();
                let text = obj.get("input").map(as_text).unwrap_or_default();
                Item {
                    content: Ok((with_prefix(&text), Some(vars))),
                    input: Value::Object(obj),
                }
            }
            Ok(_) => Item {
                content: Err(Error::usage(format!(
                    "{} is not a JSON object (--line-format jsonl)",
                    at()
                ))),
                input: Value::String(raw),
            },
            Err(e) => Item {
                content: Err(Error::usage(format!(
                    "{} is not JSON (--line-format jsonl): {e}",
                    at()
                ))),
                input: Value::String(raw),
            },
        },
    }
}

/// Reads -f files, then stdin, line by line; every non-blank line is an item.
pub(super) fn read_lines(files: Vec<PathBuf>, stdin: bool, tx: tokio::sync::mpsc::Sender<Line>) {
    let mut index = 0;
    let mut send =
        |text: std::result::Result<String, Error>, line_no: usize, source: &std::sync::Arc<str>| {
            let source = source.clone();
            let ok = tx
                .blocking_send(Line {
                    index,
                    text,
                    line_no,
                    source,
                })
                .is_ok();
            index += 1;
            ok
        };
    let mut sources: Vec<(std::sync::Arc<str>, Box<dyn Read>)> = Vec::new();
    for path in files {
        let name: std::sync::Arc<str> = path.display().to_string().into();
        match std::fs::File::open(&path) {
            Ok(f) => sources.push((name, Box::new(f))),
            Err(e) => {
                let msg = format!(
                    "cannot read {}: {}",
                    path.display(),
                    crate::input::io_reason(&e)
                );
                if !send(Err(Error::usage(msg)), 0, &name) {
                    return;
                }
            }
        }
    }
    if stdin {
        sources.push(("stdin".into(), Box::new(std::io::stdin())));
    }
    for (name, source) in sources {
        let mut reader = BufReader::with_capacity(64 * 1024, source);
        let mut buf = Vec::new();
        let mut offset = 0usize;
        let mut line_no = 0usize;
        loop {
            buf.clear();
            line_no += 1;
            let limit = crate::input::MAX_INPUT_BYTES;
            let n = match reader.by_ref().take(limit + 1).read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(n) if n as u64 > limit => {
                    let what = format!("a line of {name}");
                    send(
                        Err(Error::usage(crate::input::too_large_message(&what, limit))),
                        line_no,
                        &name,
                    );
                    break;
                }
                Ok(n) => n,
                Err(e) => {
                    send(
                        Err(Error::usage(format!("cannot read {name}: {e}"))),
                        line_no,
                        &name,
                    );
                    break;
                }
            };
            let start = offset;
            offset += n;
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = match std::str::from_utf8(line) {
                Ok(t) if t.trim().is_empty() => continue,
                Ok(t) => Ok(t.to_string()),
                Err(e) => Err(Error::usage(format!(
                    "{name} is not valid UTF-8: invalid byte at offset {}",
                    start + e.valid_up_to()
                ))),
            };
            if !send(text, line_no, &name) {
                return;
            }
        }
    }
}

/// An earlier output file, read in step with the input (both are in index order), so a
/// resumed run needs no more memory than a fresh one.
///
/// Every line must be one of ours: a JSON object with `index` and `input`; anything else
/// (a directory, binary data, a file of another shape) is a usage error, never silently
/// ignored. Only the last line may be cut off (an interrupted writer leaves no newline).
/// A line is a success, and copied, only if it has no `error` and has what this command
/// produces (`text`, `json` or `label`).
pub(super) struct Resume {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    /// What a successful line of this command holds.
    produces: &'static str,
    /// Lines read so far (for messages).
    line_no: usize,
    /// The next successful line: index, input, the line as written.
    next: Option<(usize, Value, String)>,
}

impl Resume {
    pub(super) fn open(path: &Path, produces: &'static str) -> Result<Resume> {
        let cannot = |why: String| {
            Error::usage(format!(
                "cannot read --resume file {}: {why}",
                path.display()
            ))
        };
        if path.is_dir() {
            return Err(cannot("it is a directory".into())
                .with_hint("give the output file of the earlier --each-line run"));
        }
        // It is read twice (checked first, then copied): only a regular file can be.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(cannot("it is not a regular file".into())
                .with_hint("give the output file of the earlier --each-line run"));
        }
        let open = || -> Result<Box<dyn BufRead>> {
            let file =
                std::fs::File::open(path).map_err(|e| cannot(crate::input::io_reason(&e)))?;
            Ok(Box::new(BufReader::new(file)))
        };
        // Read through once first: a file that is not ours is refused before anything is
        // sent, not part-way through a paid run.
        let mut check = Resume::from_reader(path, open()?, produces)?;
        while check.has_more() {
            check.advance()?;
        }
        Resume::from_reader(path, open()?, produces)
    }

    fn from_reader(
        path: &Path,
        reader: Box<dyn BufRead>,
        produces: &'static str,
    ) -> Result<Resume> {
        let mut r = Resume {
            path: path.to_path_buf(),
            reader,
            produces,
            line_no: 0,
            next: None,
        };
        r.advance()?;
        Ok(r)
    }

    fn not_ours(&self, why: &str) -> Error {
        Error::usage(format!(
            "--resume file {} is not the output of an --each-line run: line {} {why}",
            self.path.display(),
            self.line_no
        ))
        .with_hint("give the file an earlier `llmpipe … --each-line` run wrote to stdout")
    }

    /// Moves to the next successful line; error lines, lines without this command's
    /// result, and a cut-off last line (from an interrupted run), are not done and run
    /// again.
    fn advance(&mut self) -> Result<()> {
        self.next = None;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let limit = crate::input::MAX_INPUT_BYTES;
            let n = (&mut self.reader)
                .take(limit + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| {
                    Error::usage(format!(
                        "cannot read --resume file {}: {}",
                        self.path.display(),
                        crate::input::io_reason(&e)
                    ))
                })?;
            if n == 0 {
                return Ok(());
            }
            if n as u64 > limit {
                return Err(Error::usage(format!(
                    "cannot read --resume file {}: {}",
                    self.path.display(),
                    crate::input::too_large_message("a line of it", limit)
                )));
            }
            self.line_no += 1;
            let complete = buf.ends_with(b"\n");
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = std::str::from_utf8(line)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(t).ok());
            // The last line of an interrupted run may be cut off (no newline): it just runs
            // again. It still starts like one of ours; anything else is not our file.
            let cut_off = !complete && line.trim_ascii_start().starts_with(b"{");
            let obj = match parsed {
                Some(Value::Object(obj)) => obj,
                _ if cut_off => return Ok(()),
                Some(_) => return Err(self.not_ours("is not a JSON object")),
                None if std::str::from_utf8(line).is_err() => {
                    return Err(self.not_ours("is not UTF-8 text"));
                }
                None => return Err(self.not_ours("is not JSON")),
            };
            let (Some(index), Some(input)) =
                (obj.get("index").and_then(Value::as_u64), obj.get("input"))
            else {
                return Err(self.not_ours("has no `index` and `input`"));
            };
            let succeeded = !obj.contains_key("error")
                && match self.produces {
                    "json" => obj.contains_key("json"),
                    key => obj.get(key).is_some_and(Value::is_string),
                };
            if !succeeded {
                continue;
            }
            let Ok(index) = usize::try_from(index) else {
                return Err(self.not_ours("has an impossible `index`"));
            };
            let text = String::from_utf8_lossy(line).into_owned();
            self.next = Some((index, input.clone(), text));
            return Ok(());
        }
    }

    /// Whether successful lines remain to be copied.
    pub(super) fn has_more(&self) -> bool {
        self.next.is_some()
    }

    /// The earlier line for item `index`, if it succeeded. A line whose input differs is
    /// a different run: a usage error.
    pub(super) fn take(&mut self, index: usize, input: &Value) -> Result<Option<String>> {
        while let Some((i, _, _)) = &self.next
            && *i < index
        {
            self.advance()?;
        }
        match self.next.take() {
            Some((i, earlier, line)) if i == index => {
                if &earlier != input {
                    return Err(self.mismatch(format!(
                        "item {index} there is {earlier}, here it is {input}"
                    )));
                }
                self.advance()?;
                Ok(Some(line))
            }
            other => {
                self.next = other;
                Ok(None)
            }
        }
    }

    pub(super) fn check_end(&mut self, items: usize) -> Result<()> {
        match &self.next {
            Some((i, _, _)) if *i >= items => Err(self.mismatch(format!(
                "it has results for item {i}, but the input has {items} item(s)"
            ))),
            _ => Ok(()),
        }
    }

    fn mismatch(&self, detail: String) -> Error {
        let mut e = Error::usage(format!(
            "--resume file {} does not match this input: {detail}",
            self.path.display()
        ));
        e.stdout_written = true;
        e
    }
}

/// The SPEC's empty input for a run of many: no item at all.
pub fn empty_input() -> Error {
    Error::usage("the input has no items (no non-empty lines)")
        .with_hint("give one item per line, on stdin or with -f FILE")
}

/// Counts for the progress bar (on a terminal) and the summary line (always).
pub(super) struct Progress {
    started: Instant,
    ok: usize,
    copied: usize,
    failed: usize,
    input_tokens: u64,
    output_tokens: u64,
    cost: f64,
    /// Answered calls whose price is unknown (`cost_usd: null`).
    cost_unknown: u64,
    first_failure: Option<(usize, Error)>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub(super) fn new() -> Progress {
        let bar = output::stderr_is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            started: Instant::now(),
            ok: 0,
            copied: 0,
            failed: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost: 0.0,
            cost_unknown: 0,
            first_failure: None,
            bar,
        }
    }

    pub(super) fn record(&mut self, index: usize, outcome: &Result<CallResult>) {
        let result = match outcome {
            Ok(r) => {
                self.ok += 1;
                Some(r)
            }
            Err(e) => {
                self.failed += 1;
                if self.first_failure.as_ref().is_none_or(|(i, _)| index < *i) {
                    self.first_failure = Some((index, e.clone()));
                }
                e.result.as_deref()
            }
        };
        if let Some(r) = result {
            self.input_tokens += r.usage.input_tokens;
            self.output_tokens += r.usage.output_tokens;
            match r.cost_usd {
                Some(c) => self.cost += c,
                None => self.cost_unknown += 1,
            }
        }
        self.update();
    }

    fn copied(&mut self) {
        self.copied += 1;
        self.update();
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            (self.ok + self.failed) as f64 / secs
        } else {
            0.0
        };
        let copied = if self.copied > 0 {
            format!(", {} from --resume", self.copied)
        } else {
            String::new()
        };
        format!(
            "{} done, {} failed{copied} · {rate:.1}/s · {} in / {} out tokens · {} · {secs:.1} s",
            self.ok,
            self.failed,
            self.input_tokens,
            self.output_tokens,
            crate::cost::total_text(self.cost, self.cost_unknown)
        )
    }

    fn update(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(self.line());
        }
    }

    /// Makes the bar count towards `total` items (a run that knows its size, like `eval`).
    pub(super) fn set_total(&self, total: usize) {
        if let Some(bar) = &self.bar
            && let Ok(style) =
                indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} · {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
            bar.set_length(total as u64);
        }
    }

    /// Sets the bar's position (items finished so far).
    pub(super) fn set_position(&self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    /// A line on stderr that does not tear the bar.
    pub(super) fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| output::err_line(line)),
            None => output::err_line(line),
        }
    }

    /// Removes the bar, without the summary line.
    pub(super) fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn finish(&mut self, items: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        output::err_line(&format!("llmpipe: {items} item(s): {}", self.line()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(bytes: &[u8], produces: &'static str) -> Result<Resume> {
        Resume::from_reader(
            Path::new("earlier.jsonl"),
            Box::new(std::io::Cursor::new(bytes.to_vec())),
            produces,
        )
    }

    /// Reads every line the way a run does, whatever the outcome.
    fn read_all(bytes: &[u8], produces: &'static str) -> Result<Vec<usize>> {
        let mut r = resume(bytes, produces)?;
        let mut done = Vec::new();
        for i in 0..16 {
            let input = Value::String(format!("item {i}"));
            if r.take(i, &input)?.is_some() {
                done.push(i);
            }
        }
        r.check_end(16)?;
        Ok(done)
    }

    #[test]
    fn resume_lines_count_only_with_this_commands_result() {
        let file = b"{\"index\":0,\"input\":\"item 0\",\"text\":\"a\"}\n\
{\"index\":1,\"input\":\"item 1\"}\n\
{\"index\":2,\"input\":\"item 2\",\"label\":\"x\"}\n\
{\"index\":3,\"input\":\"item 3\",\"text\":\"a\",\"error\":{}}\n\
\n\
{\"index\":4,\"input\":\"item 4\",\"json\":null}\n\
{\"index\":5,\"inp";
        assert_eq!(read_all(file, "text").unwrap(), vec![0]);
        assert_eq!(read_all(file, "label").unwrap(), vec![2]);
        assert_eq!(read_all(file, "json").unwrap(), vec![4]);
        // only a last line may be cut off
        let cut_in_the_middle =
            b"{\"index\":0,\"inp\n{\"index\":1,\"input\":\"item 1\",\"text\":\"a\"}\n";
        assert!(read_all(cut_in_the_middle, "text").is_err());
        for other in [
            &b"\xff\xfe\x00garbage\n"[..],
            b"[1,2]\n",
            b"{\"a\":1}\n",
            b"plain text\n",
        ] {
            let e = read_all(other, "text").unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{other:?}");
        }
        assert_eq!(read_all(b"", "text").unwrap(), Vec::<usize>::new());
        // binary data without a single newline is not a cut-off line of ours
        assert!(read_all(b"\x89PNG\x00\x01", "text").is_err());
        assert!(read_all(b"hello", "text").is_err());
        assert_eq!(
            read_all(b"{\"index\":0,\"in", "text").unwrap(),
            Vec::<usize>::new()
        );
    }

    /// A quick property: reading a resume file never panics, whatever its bytes (a
    /// deterministic generator, so a failure reproduces).
    #[test]
    fn resume_reading_never_panics_on_arbitrary_bytes() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: &[&[u8]] = &[
            b"{\"index\":",
            b"0",
            b"1",
            b"18446744073709551615",
            b"-1",
            b"1e400",
            b"\"input\":\"item 0\"",
            b"\"input\":\"item 1\"",
            b"\"text\":\"t\"",
            b"\"json\":{}",
            b"\"label\":null",
            b"\"error\":{}",
            b",",
            b"}",
            b"\n",
            b"\r\n",
            b"\xff",
            b"\xe2\x82",
            b"[",
            b" ",
            b"\"",
        ];
        for _ in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..next() % 48 {
                if next() % 4 == 0 {
                    bytes.push(next() as u8);
                } else {
                    bytes.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
                }
            }
            for produces in ["text", "json", "label"] {
                let _ = read_all(&bytes, produces);
            }
        }
    }
}
