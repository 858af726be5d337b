//! `batch submit|status|results|cancel|list`: large jobs on the providers' own Batch APIs.
//!
//! `submit` reads the items exactly as `--each-line` does (its reader, item parser,
//! request building and `--resume` rules), writes one request entry per item to a spool
//! file, checks `--max-cost` for the whole job at batch prices, records the job and each
//! item's input in the local database, then uploads the entries in provider batches (split
//! at the provider's limits or `--batch-size`). `results` streams each result file into a
//! temporary SQLite table keyed by item index and then writes the `--each-line` lines in
//! input order from it, so memory stays flat however many items there are.
//!
//! Provider differences live in `provider::batch`; every HTTP call goes through the one
//! request loop (`Client::api`, `Client::download`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;
use serde_json::{Value, json};

use super::batch_jobs::{JobRow, Jobs, Options};
use super::call::Call;
use super::classify::Classify;
use super::each_line::{self, Resume};
use super::extract_json::Extract;
use super::job::Job;
use crate::chat::{Request, Usage};
use crate::cli::{BatchAction, BatchArgs, BatchJobArgs, BatchSubmitArgs, BatchTask};
use crate::config::{Context, RequestOptions, Settings};
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::provider::batch::{self as wire, Counts, ItemResult, State};
use crate::provider::client::{Client, Outcome};
use crate::provider::{ProviderKind, Target};
use crate::result::{CallResult, Line as OutLine};

/// The first wait between polls, and the longest.
const FIRST_POLL: Duration = Duration::from_secs(5);
const LAST_POLL: Duration = Duration::from_secs(60);

pub async fn run(args: &BatchArgs, ctx: &Arc<Context>) -> Result<()> {
    // The job being waited for, to say how to fetch it after Ctrl-C.
    let waiting: RefCell<Option<String>> = RefCell::new(None);
    let work = async {
        match &args.action {
            BatchAction::Submit(a) => submit(a, ctx, &waiting).await,
            BatchAction::Status(a) => status(a, ctx, false).await,
            BatchAction::Cancel(a) => status(a, ctx, true).await,
            BatchAction::Results(a) => {
                results(&a.job, ctx, a.wait, a.poll_interval, &waiting).await
            }
            BatchAction::List(a) => {
                output::set_verbose(a.verbose.verbose);
                match a.provider {
                    Some(p) => list_remote(p.into(), a, ctx).await,
                    None => list(a.count, a.json.json, ctx),
                }
            }
        }
    };
    tokio::select! {
        biased;
        r = work => r,
        stop = crate::signals::stopped() => {
            let what = stop.what();
            let mut e = Error::new(Kind::Interrupted, what);
            if let Some(id) = waiting.borrow().as_ref() {
                let (id, submitting) = match id.strip_prefix("submitting ") {
                    Some(id) => (id, true),
                    None => (id.as_str(), false),
                };
                // `submitting JOB [FILE]`: FILE was uploaded and has no batch yet.
                let (id, file) = match id.split_once(' ') {
                    Some((id, file)) => (id, Some(file)),
                    None => (id, None),
                };
                if submitting && let Some(message) = forget_unsubmitted(ctx, id, file, what) {
                    e.message = message;
                    return Err(e);
                }
                e.message = if submitting {
                    format!("{what} while submitting: the provider batches of job {id} submitted so far keep running; the other items were not submitted")
                } else {
                    format!("{what}: stopped waiting; batch job {id} keeps running at the provider")
                };
                e.hint = Some(format!("fetch its results later with `llmpipe batch results {id}` (add --wait to wait)"));
            }
            Err(e)
        }
    }
}

/// Ctrl-C while the first provider batch of job `id` was being created: no batch is
/// recorded, so the job is removed (else it would stand as the latest job, with no batch
/// and no results). The message says what may exist at the provider. `None` when some
/// batch was recorded.
fn forget_unsubmitted(ctx: &Context, id: &str, file: Option<&str>, what: &str) -> Option<String> {
    let jobs = jobs(ctx).ok()?;
    let job = jobs.find(id).ok()??;
    if !job.batches.is_empty() {
        return None;
    }
    jobs.delete(id).ok()?;
    let mut m = format!(
        "{what} while submitting: no provider batch of job {id} was recorded, so the job is removed; a batch created from the request in flight would show in `llmpipe batch list -p {}`",
        job.provider
    );
    if let Some(file) = file {
        m.push_str(&format!(
            "; the uploaded requests file {file} has no batch (OpenAI deletes it after 30 days, or delete it now with DELETE /v1/files/{file})"
        ));
    }
    Some(m)
}

/// The local database, where jobs are recorded.
fn jobs(ctx: &Context) -> Result<Jobs> {
    let path = crate::config::log_db(&ctx.env, ctx.file()?).ok_or_else(|| {
        Error::config(
            "batch jobs are recorded in llmpipe's database, and it has no place: HOME is not set",
        )
        .with_hint("set HOME, XDG_DATA_HOME or LLMPIPE_LOG_DB")
    })?;
    Jobs::open(&path)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh local job id (`lpb_…`: never mistaken for a provider's `batch_…`), and its tag
/// for the `custom_id`s.
fn new_job_id() -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = format!("lpb_{:x}{:04x}", nanos / 1000, std::process::id() & 0xffff);
    let tag = id[id.len().saturating_sub(8)..].to_string();
    (id, tag)
}

/// Removes a spool file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The spool lives in the temporary directory: a failure there is the machine's setup.
fn io_err(what: &str, e: std::io::Error) -> Error {
    Error::config(format!(
        "{what} in {}: {}",
        std::env::temp_dir().display(),
        crate::input::io_reason(&e)
    ))
    .with_hint("set TMPDIR to a writable directory with room for the requests")
}

// ---- submit ----

async fn submit(
    a: &BatchSubmitArgs,
    ctx: &Arc<Context>,
    waiting: &RefCell<Option<String>>,
) -> Result<()> {
    let args = &a.request;
    if args.continue_last || args.cid.is_some() {
        return Err(Error::usage(
            "batch submit does not continue conversations (-c, --cid): each item is a request of its own",
        ));
    }
    if args.tools.run_tools || !args.tools.tool_results.is_empty() {
        return Err(Error::usage(
            "batch submit hands tool calls to the script (they are in each result's tool_calls): --run-tools and --tool-result need a live run",
        ));
    }
    if !args.tools.tools.is_empty() && a.task != BatchTask::Complete {
        return Err(Error::usage(
            "--tool works with batch submit's default task (complete), not with --task extract-json or classify",
        ));
    }
    if a.schema.is_some() && a.task != BatchTask::ExtractJson {
        return Err(Error::usage("--schema needs --task extract-json"));
    }
    if !a.labels.is_empty() && a.task != BatchTask::Classify {
        return Err(Error::usage("--labels needs --task classify"));
    }
    if a.poll_interval.is_some() && !a.wait {
        return Err(Error::usage("--poll-interval needs --wait"));
    }
    let call = Call::new(args, ctx, "batch")?;
    if call.settings.targets.len() > 1 {
        output::warn("--fallback is not used by batch jobs: every item goes to the first model");
    }
    let prompt_name = call.prompt.as_ref().map(|p| p.name.clone());
    let (job, task, schema, labels) = match a.task {
        BatchTask::Complete => (Job::Complete, "complete", None, None),
        BatchTask::ExtractJson => {
            let schema = Extract::schema_for(a.schema.as_deref(), call.prompt.as_ref())?;
            let extract = Extract::for_batch(schema.clone(), prompt_name.as_deref())?;
            (Job::Extract(extract), "extract-json", schema, None)
        }
        BatchTask::Classify => {
            let labels: Vec<String> = if a.labels.is_empty() {
                call.prompt
                    .as_ref()
                    .and_then(|p| p.meta.labels.clone())
                    .ok_or_else(|| {
                        Error::usage(
                            "--task classify needs labels: --labels a,b,c or a prompt file with labels",
                        )
                    })?
            } else {
                a.labels.iter().map(|l| l.trim().to_string()).collect()
            };
            let c = Classify::new(labels.clone())?;
            (Job::Classify(c), "classify", None, Some(labels))
        }
    };
    let target = call.settings.targets[0].clone();

    // The items, exactly as --each-line reads them.
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
            "with a prompt file that places {{input}}, PROMPT words have nowhere to go: use --var",
        ));
    }
    let read_stdin = args.input.prompt.iter().any(|w| w == "-") || !std::io::stdin().is_terminal();
    if args.input.files.is_empty() && !read_stdin {
        return Err(Error::usage(
            "batch submit reads its items from stdin or -f files, one per line",
        ));
    }
    let mut resume = match &args.resume {
        Some(path) => Some(Resume::open(path, job.produces())?),
        None => None,
    };
    if let Some(l) = args.max_cost {
        crate::cost::check_max_cost(l)?;
    }

    let (id, tag) = new_job_id();
    let submitted = SystemTime::now();
    let jobs = if args.dry_run { None } else { Some(jobs(ctx)?) };
    let spool_path = std::env::temp_dir().join(format!("llmpipe-{id}.requests"));
    let spool_guard = TempFile(spool_path.clone());
    let mut spool = if args.dry_run {
        None
    } else {
        // The requests hold the items' text: readable by this user only.
        use std::os::unix::fs::OpenOptionsExt;
        Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&spool_path)
                .map_err(|e| io_err("cannot write the request spool", e))?,
        ))
    };
    let options = Options {
        task: task.into(),
        schema,
        labels,
        max_tokens: call.settings.max_tokens,
        prompt: call.prompt.as_ref().map(crate::prompts::PromptFile::label),
        prompt_name: prompt_name.clone(),
        requested_model: target.model.clone(),
        tag: tag.clone(),
    };
    let job_row = JobRow {
        id: id.clone(),
        provider: target.kind.name().into(),
        model: target.model.clone(),
        items: 0,
        submitted_at: crate::store::rfc3339(submitted),
        created: now_unix(),
        options,
        batches: Vec::new(),
        cancel_requested: false,
    };
    if let Some(j) = &jobs {
        j.begin()?;
        j.insert_job(&job_row)?;
    }

    let (tx, mut rx) = tokio::sync::mpsc::channel::<each_line::Line>(256);
    let files = args.input.files.clone();
    std::thread::spawn(move || each_line::read_lines(files, read_stdin, tx));
    let threads = crate::tokens::default_threads();
    let price = match args.max_cost {
        Some(_) => Some(
            crate::cost::price_of(&call.settings.pricing, &target.model).map_err(|e| Error {
                message: format!("cannot check --max-cost: {}", e.message),
                ..e
            })?,
        ),
        None => None,
    };
    let (mut items, mut requests, mut worst) = (0usize, 0usize, 0.0f64);
    // Lines that cannot become a request, and the first of them.
    let (mut invalid, mut first_invalid) = (0usize, None::<(usize, Error)>);
    while let Some(line) = rx.recv().await {
        items += 1;
        let index = line.index;
        let item = each_line::parse_item(line, args.line_format, &prefix);
        if let Some(r) = resume.as_mut()
            && let Some(copied) = r.take(index, &item.input)?
        {
            if let Some(j) = &jobs {
                j.insert_item(&id, index, Some(&item.input), Some(&copied))?;
            }
            continue;
        }
        let req = match item.request(&call, &job) {
            Ok(req) => req,
            Err(e) => {
                invalid += 1;
                if first_invalid.is_none() {
                    first_invalid = Some((index, e.clone()));
                }
                let line = each_line::item_line(index, &item.input, &Err(e));
                match &jobs {
                    Some(j) => j.insert_item(&id, index, Some(&item.input), Some(&line))?,
                    None => output::out_line(&line),
                }
                continue;
            }
        };
        if let Some(price) = &price {
            let (_, input) =
                crate::cost::worst_case(&call.settings, &target.model, target.kind, &req, threads)?;
            let usage = Usage {
                input_tokens: input.tokens,
                output_tokens: req.max_tokens,
                ..Usage::default()
            };
            worst += price.batch_cost(&usage);
        }
        let entry = wire::entry(&target, &req, &wire::custom_id(index, &tag));
        requests += 1;
        match (&mut spool, &jobs) {
            (Some(spool), Some(j)) => {
                j.insert_item(&id, index, Some(&item.input), None)?;
                writeln!(spool, "{index} {entry}")
                    .map_err(|e| io_err("cannot write the request spool", e))?;
            }
            _ => output::out_line(&entry.to_string()),
        }
        if output::stdout_closed() {
            return Ok(());
        }
    }
    if let Some(r) = resume.as_mut() {
        r.check_end(items)?;
    }
    if let Some(limit) = args.max_cost
        && worst > limit
    {
        return Err(Error::new(
            Kind::Budget,
            format!(
                "the job could cost up to ${worst:.6} at batch prices ({requests} request(s), their input plus --max-tokens of output each), above --max-cost ${limit}: nothing was submitted"
            ),
        )
        .with_hint("raise --max-cost, lower --max-tokens, or submit fewer items"));
    }
    if items == 0 {
        return Err(super::each_line::empty_input());
    }
    if args.dry_run {
        // A dry run ends as the real run would when there is nothing to send.
        if requests == 0
            && let Some((index, first)) = first_invalid
        {
            return Err(no_line_to_send(items, invalid, index, first));
        }
        if requests == 0
            && items > 0
            && let Some(path) = &args.resume
        {
            output::err_line(&format!(
                "llmpipe: dry run: {}; nothing was sent",
                every_item_done(path, items)
            ));
            return Ok(());
        }
        output::err_line(&format!(
            "llmpipe: dry run: {requests} request(s) for {} {}; nothing was sent",
            target.kind.name(),
            target.model
        ));
        return Ok(());
    }
    let jobs = jobs.expect("recorded unless a dry run");
    if requests == 0
        && let Some((index, first)) = first_invalid
    {
        return Err(nothing_to_submit(&jobs, &id, items, invalid, index, first));
    }
    if requests == 0
        && let Some(path) = &args.resume
    {
        // Every item was copied from the --resume file: the complete output is that
        // file's lines, as a live `--each-line --resume` run writes them.
        write_items_and_forget(&jobs, &id)?;
        output::err_line(&format!(
            "llmpipe: {}; no job was recorded and nothing was sent; the complete output is on stdout",
            every_item_done(path, items)
        ));
        return Ok(());
    }
    jobs.set_batches(&id, &[], items as u64)?;
    jobs.commit()?;
    *waiting.borrow_mut() = Some(format!("submitting {id}"));
    let mut spool = spool.expect("a spool unless a dry run");
    spool
        .flush()
        .map_err(|e| io_err("cannot write the request spool", e))?;
    drop(spool);

    // Upload in provider batches.
    let limits = wire::limits(target.kind);
    let per_batch = a.batch_size.unwrap_or(limits.requests).min(limits.requests);
    let max_bytes = limits.bytes - 4096;
    let client = call.client()?;
    let mut batches: Vec<String> = Vec::new();
    let reader = BufReader::new(
        std::fs::File::open(&spool_path).map_err(|e| io_err("cannot read the request spool", e))?,
    );
    let new_upload =
        |part: usize| wire::Upload::new(target.kind, &format!("llmpipe-{id}-{part}.jsonl"));
    let mut upload = new_upload(0);
    let mut indexes: Vec<usize> = Vec::new();
    let mut lines = reader.lines();
    loop {
        let next = lines
            .next()
            .transpose()
            .map_err(|e| io_err("cannot read the request spool", e))?;
        let full = match &next {
            Some(l) => {
                upload.count() > 0
                    && (upload.count() >= per_batch || upload.bytes() + l.len() + 1 > max_bytes)
            }
            None => upload.count() > 0,
        };
        if full {
            let part = batches.len();
            let sending = std::mem::replace(&mut upload, new_upload(part + 1));
            let sent = wire::create(client, &target, sending, &id, &mut |uploaded| {
                // Ctrl-C between the upload and the create names the file left behind.
                *waiting.borrow_mut() = Some(match uploaded {
                    Some(file) => format!("submitting {id} {file}"),
                    None => format!("submitting {id}"),
                });
            })
            .await;
            let state = match sent {
                Ok(s) => s,
                Err(mut e) => {
                    if batches.is_empty() {
                        // Nothing reached the provider: no job to remember.
                        jobs.delete(&id)?;
                    } else {
                        e.message = format!(
                            "{} ({} provider batch(es) were submitted before this failure, under job {id})",
                            e.message,
                            batches.len()
                        );
                        e.hint = Some(format!(
                            "the items of the batches not submitted end as errors: `llmpipe batch results {id}`, then `llmpipe batch submit --resume` with that output; or `llmpipe batch cancel {id}`"
                        ));
                    }
                    return Err(e);
                }
            };
            batches.push(state.id.clone());
            *waiting.borrow_mut() = Some(format!("submitting {id}"));
            jobs.begin()?;
            jobs.set_part(&id, &indexes, part)?;
            jobs.set_batches(&id, &batches, items as u64)?;
            jobs.commit()?;
            output::debug(&format!(
                "submitted {} request(s) as {} batch {}",
                indexes.len(),
                target.kind.name(),
                state.id
            ));
            indexes.clear();
        }
        let Some(l) = next else { break };
        let Some((index, entry)) = l.split_once(' ') else {
            continue;
        };
        indexes.push(index.parse().unwrap_or(0));
        upload.push(entry.as_bytes());
    }
    drop(spool_guard);
    *waiting.borrow_mut() = None;

    if a.request.json.json && !a.wait {
        output::out_line(
            &json!({
                "id": id,
                "provider": target.kind.name(),
                "provider_batch_ids": batches,
                "items": items,
                "submitted_at": job_row.submitted_at,
            })
            .to_string(),
        );
    } else if !a.wait {
        output::out_line(&id);
    }
    output::err_line(&format!(
        "llmpipe: batch job {id}: {items} item(s), {requests} request(s) in {} {} batch(es); results with `llmpipe batch results {id}`",
        batches.len(),
        target.kind.name()
    ));
    if a.wait {
        let job_args = BatchJobArgs {
            id: Some(id.clone()),
            timeout: args.timeout,
            retries: args.retries,
            json: args.json,
            verbose: args.verbose,
        };
        return results(&job_args, ctx, true, a.poll_interval, waiting).await;
    }
    Ok(())
}

// ---- the job a command is about ----

enum Subject {
    Local(Box<JobRow>),
    /// A provider batch id this machine has no record of.
    Bare {
        kind: ProviderKind,
        id: String,
    },
}

impl Subject {
    fn id(&self) -> &str {
        match self {
            Subject::Local(j) => &j.id,
            Subject::Bare { id, .. } => id,
        }
    }
    fn kind(&self) -> ProviderKind {
        match self {
            Subject::Local(j) if j.provider == "anthropic" => ProviderKind::Anthropic,
            Subject::Local(_) => ProviderKind::OpenAi,
            Subject::Bare { kind, .. } => *kind,
        }
    }
    fn batches(&self) -> Vec<String> {
        match self {
            Subject::Local(j) => j.batches.clone(),
            Subject::Bare { id, .. } => vec![id.clone()],
        }
    }
    fn created(&self) -> Option<i64> {
        match self {
            Subject::Local(j) => Some(j.created),
            Subject::Bare { .. } => None,
        }
    }
}

fn resolve(jobs: &Jobs, id: Option<&str>) -> Result<Subject> {
    let Some(id) = id.map(str::trim) else {
        return jobs
            .latest()?
            .map(|j| Subject::Local(Box::new(j)))
            .ok_or_else(|| {
                Error::usage("there is no batch job yet")
                    .with_hint("submit one with `llmpipe batch submit`")
            });
    };
    if let Some(job) = jobs.find(id)? {
        return Ok(Subject::Local(Box::new(job)));
    }
    match wire::kind_of_id(id) {
        Some(kind) if id.len() <= 200 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => {
            Ok(Subject::Bare {
                kind,
                id: id.to_string(),
            })
        }
        _ => Err(Error::usage(format!("no batch job `{}`", id.escape_debug()))
            .with_hint("give a local job id (`llmpipe batch list`), or a provider batch id (batch_…, msgbatch_…)")),
    }
}

/// The client, endpoint and settings to talk to the job's provider.
struct Api {
    client: Client,
    target: Target,
    settings: Settings,
}

fn api(ctx: &Context, subject: &Subject, a: &BatchJobArgs) -> Result<Api> {
    output::set_verbose(a.verbose.verbose);
    ctx.env.check()?;
    let model = match subject {
        Subject::Local(j) => j.model.clone(),
        Subject::Bare { kind, .. } => wire::bare_id_model(*kind).into(),
    };
    let opts = RequestOptions {
        model: Some(model),
        provider: Some(subject.kind()),
        timeout: a.timeout,
        retries: a.retries,
        ..RequestOptions::default()
    };
    let settings = Settings::resolve(&opts, ctx, None)?;
    let client = Client::new(settings.timeout, settings.policy.clone())?;
    Ok(Api {
        client,
        target: settings.targets[0].clone(),
        settings,
    })
}

async fn fetch_states(api: &Api, subject: &Subject) -> Result<Vec<State>> {
    let mut states = Vec::new();
    for id in subject.batches() {
        let body = api
            .client
            .api(
                &api.target,
                &wire::retrieve(&api.target, &id),
                "for the batch status",
                subject.created(),
            )
            .await?;
        states.push(wire::state(api.target.kind, &body)?);
    }
    Ok(states)
}

/// One status word for several provider batches: the least advanced while any runs, else
/// the worst ending.
fn overall(states: &[State]) -> &'static str {
    if states.is_empty() {
        return "ended";
    }
    let order = [
        "validating",
        "in_progress",
        "finalizing",
        "canceling",
        "failed",
        "canceled",
        "expired",
        "ended",
    ];
    order
        .iter()
        .find(|s| states.iter().any(|st| st.status == **s))
        .copied()
        .unwrap_or("in_progress")
}

fn status_value(subject: &Subject, states: &[State], jobs: &Jobs) -> Result<Value> {
    let mut counts = Counts::default();
    for (part, s) in states.iter().enumerate() {
        let exact = if s.terminal() {
            jobs.exact_counts(&s.id)?
        } else {
            None
        };
        let local = match subject {
            Subject::Local(j)
                if s.terminal()
                    && exact.is_none()
                    && (s.status == "failed" || s.downloads.is_empty()) =>
            {
                Some(j)
            }
            _ => None,
        };
        // Before the results are read, an ended batch's items that no result will name (a
        // failed batch ran none; one without a results file has none to read) are counted
        // as `batch results` will write them.
        let mut c = match exact {
            None if local.is_some() && s.downloads.is_empty() => Counts::default(),
            _ => exact.unwrap_or(s.counts),
        };
        if let Some(j) = local {
            let unnamed = jobs.items_in_part(&j.id, part)?.saturating_sub(c.total);
            c.total += unnamed;
            match s.status {
                "canceled" => c.canceled += unnamed,
                "expired" => c.expired += unnamed,
                _ => c.errored += unnamed,
            }
        }
        counts.add(&c);
    }
    let created = states
        .iter()
        .filter_map(|s| s.created_at.clone())
        .min()
        .or_else(|| match subject {
            Subject::Local(j) => Some(j.submitted_at.clone()),
            Subject::Bare { .. } => None,
        });
    let ended = if states.iter().all(State::terminal) {
        states.iter().filter_map(|s| s.ended_at.clone()).max()
    } else {
        None
    };
    let provider_status: Vec<&str> = states.iter().map(|s| s.provider_status.as_str()).collect();
    let mut v = json!({
        "id": subject.id(),
        "provider": subject.kind().name(),
        "status": overall(states),
        "counts": counts,
        "created_at": created,
        "ended_at": ended,
        "provider_status": provider_status.join(","),
        "provider_batch_ids": subject.batches(),
    });
    if let Subject::Local(j) = subject {
        v["items"] = json!(j.items);
    }
    let errors: Vec<Value> = states
        .iter()
        .flat_map(|s| {
            s.errors
                .iter()
                .map(|(code, line, message)| json!({"batch": s.id, "code": code, "line": line, "message": message}))
        })
        .collect();
    if !errors.is_empty() {
        v["errors"] = json!(errors);
    }
    Ok(v)
}

async fn status(a: &BatchJobArgs, ctx: &Arc<Context>, cancel: bool) -> Result<()> {
    let jobs = jobs(ctx)?;
    let subject = resolve(&jobs, a.id.as_deref())?;
    let api = api(ctx, &subject, a)?;
    let mut states = fetch_states(&api, &subject).await?;
    if cancel {
        if states.iter().all(State::terminal) {
            output::warn(&format!(
                "batch job {} has already ended: nothing to cancel",
                subject.id()
            ));
        }
        for s in states.iter_mut().filter(|s| !s.terminal()) {
            let body = api
                .client
                .api(
                    &api.target,
                    &wire::cancel(&api.target, &s.id),
                    "for the cancellation",
                    subject.created(),
                )
                .await?;
            *s = wire::state(api.target.kind, &body)?;
        }
        if let Subject::Local(j) = &subject {
            jobs.set_cancel_requested(&j.id)?;
        }
    }
    let v = status_value(&subject, &states, &jobs)?;
    if a.json.json {
        output::out_line(&v.to_string());
    } else {
        let c = &v["counts"];
        output::out_line(&format!(
            "{} {} {} ({}): {} of {} done · {} succeeded, {} errored, {} canceled, {} expired, {} processing · created {} · ended {}",
            v["id"].as_str().unwrap_or(""),
            v["provider"].as_str().unwrap_or(""),
            v["status"].as_str().unwrap_or(""),
            v["provider_status"].as_str().unwrap_or(""),
            c["succeeded"].as_u64().unwrap_or(0)
                + c["errored"].as_u64().unwrap_or(0)
                + c["canceled"].as_u64().unwrap_or(0)
                + c["expired"].as_u64().unwrap_or(0),
            c["total"],
            c["succeeded"],
            c["errored"],
            c["canceled"],
            c["expired"],
            c["processing"],
            v["created_at"].as_str().unwrap_or("-"),
            v["ended_at"].as_str().unwrap_or("-"),
        ));
        if let Some(errors) = v["errors"].as_array() {
            for e in errors {
                output::out_line(&format!(
                    "  {} line {}: {} {}",
                    e["batch"].as_str().unwrap_or(""),
                    e["line"],
                    e["code"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

fn list(n: usize, json_out: bool, ctx: &Context) -> Result<()> {
    let jobs = jobs(ctx)?;
    let rows = jobs.list(n)?;
    if json_out {
        let v: Vec<Value> = rows
            .iter()
            .map(|j| {
                json!({"id": j.id, "provider": j.provider, "model": j.model,
                       "provider_batch_ids": j.batches, "items": j.items,
                       "submitted_at": j.submitted_at, "task": j.options.task,
                       "cancel_requested": j.cancel_requested})
            })
            .collect();
        output::out_line(&Value::Array(v).to_string());
        return Ok(());
    }
    let mut table = vec![
        ["ID", "PROVIDER", "MODEL", "ITEMS", "SUBMITTED", "BATCHES"]
            .map(String::from)
            .to_vec(),
    ];
    for j in &rows {
        table.push(vec![
            j.id.clone(),
            j.provider.clone(),
            j.model.clone(),
            j.items.to_string(),
            j.submitted_at.clone(),
            j.batches.join(","),
        ]);
    }
    output::table(&table, |col, _| col == 3);
    Ok(())
}

/// `list -p PROVIDER`: the provider's newest batches (one page), from any machine.
async fn list_remote(
    kind: ProviderKind,
    a: &crate::cli::BatchListArgs,
    ctx: &Arc<Context>,
) -> Result<()> {
    let subject = Subject::Bare {
        kind,
        id: String::new(),
    };
    let job_args = BatchJobArgs {
        id: None,
        timeout: a.timeout,
        retries: None,
        json: a.json,
        verbose: a.verbose,
    };
    let api = api(ctx, &subject, &job_args)?;
    let limit = a.count.clamp(1, 100) as u32;
    let body = api
        .client
        .api(
            &api.target,
            &wire::list(&api.target, limit),
            "for the list of batches",
            None,
        )
        .await?;
    let states = wire::list_states(kind, &body)?;
    let values: Vec<Value> = states
        .iter()
        .map(|s| {
            json!({"id": s.id, "provider": kind.name(), "status": s.status,
                   "counts": s.counts, "created_at": s.created_at, "ended_at": s.ended_at,
                   "provider_status": s.provider_status})
        })
        .collect();
    if a.json.json {
        output::out_line(&Value::Array(values).to_string());
        return Ok(());
    }
    let mut table = vec![
        ["ID", "STATUS", "DONE", "TOTAL", "CREATED"]
            .map(String::from)
            .to_vec(),
    ];
    for s in &states {
        table.push(vec![
            s.id.clone(),
            s.status.to_string(),
            s.counts.done().to_string(),
            s.counts.total.to_string(),
            s.created_at.clone().unwrap_or_default(),
        ]);
    }
    output::table(&table, |col, _| col == 2 || col == 3);
    Ok(())
}

// ---- results ----

async fn results(
    a: &BatchJobArgs,
    ctx: &Arc<Context>,
    wait: bool,
    poll: Option<f64>,
    waiting: &RefCell<Option<String>>,
) -> Result<()> {
    if poll.is_some() && !wait {
        return Err(Error::usage("--poll-interval needs --wait"));
    }
    let jobs = jobs(ctx)?;
    let subject = resolve(&jobs, a.id.as_deref())?;
    let api = api(ctx, &subject, a)?;
    let total_items = match &subject {
        Subject::Local(j) => j.items,
        Subject::Bare { .. } => 0,
    };
    let mut interval = poll.map(Duration::from_secs_f64).unwrap_or(FIRST_POLL);
    let bar = (wait && output::stderr_is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let states = loop {
        let states = fetch_states(&api, &subject).await?;
        let mut counts = Counts::default();
        for s in &states {
            counts.add(&s.counts);
        }
        let total = counts.total.max(total_items);
        if states.iter().all(State::terminal) {
            break states;
        }
        let word = overall(&states);
        if !wait {
            let id = subject.id();
            return Err(Error::new(
                Kind::Unavailable,
                format!(
                    "batch job {id} has not ended: {} of {total} done (status {word})",
                    counts.done()
                ),
            )
            .with_hint(format!(
                "wait for it with `llmpipe batch results {id} --wait`, or run this again later"
            )));
        }
        *waiting.borrow_mut() = Some(subject.id().to_string());
        let line = format!(
            "batch {}: {} · {} of {total} done · next look in {:.0} s",
            subject.id(),
            word,
            counts.done(),
            interval.as_secs_f64()
        );
        match &bar {
            Some(b) => b.set_message(line),
            None => output::debug(&line),
        }
        tokio::time::sleep(interval).await;
        if poll.is_none() {
            interval = (interval * 2).min(LAST_POLL);
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    *waiting.borrow_mut() = None;
    // A provider batch id with no local record: its items are not known, so a failed
    // batch has no lines to write.
    if let Subject::Bare { .. } = subject
        && let Some(failed) = states.iter().position(|s| s.status == "failed")
    {
        let refused = refused_batch(&subject, failed, &states[failed], &jobs)?;
        return Err(Error::new(Kind::Rejected, refused.message)
            .with_provider(subject.kind().name())
            .with_hint("nothing was run or billed; fix the input and submit again"));
    }
    // Nor is one that ended without a results file: no line to write is no success.
    if let Subject::Bare { .. } = subject
        && let Some(s) = states.iter().find(|s| s.downloads.is_empty())
    {
        let kind = match s.status {
            "canceled" => Kind::Canceled,
            "expired" => Kind::Expired,
            _ => Kind::Unavailable,
        };
        return Err(Error::new(
            kind,
            format!(
                "{} batch {} ended (status {}) without a results file: there are no results to write",
                subject.kind().name(),
                s.id,
                s.provider_status
            ),
        )
        .with_provider(subject.kind().name())
        .with_hint("its items' outcomes cannot be read: submit them again"));
    }
    write_results(&subject, &states, &api, &jobs).await
}

/// A provider batch that ended `failed`: OpenAI checked the uploaded lines and refused them.
struct Refused {
    /// `openai batch … failed: the provider refused the uploaded requests: <errors>`.
    message: String,
    /// The provider's errors that name an item: `(item index, "code (line l): message")`.
    by_item: HashMap<usize, Vec<String>>,
    /// The first error, as `code (line l, item i): message`.
    first: Option<String>,
    count: usize,
}

/// Gathers a failed batch's errors, each with the item its line names (a local job's).
fn refused_batch(subject: &Subject, part: usize, s: &State, jobs: &Jobs) -> Result<Refused> {
    let mut shown = Vec::new();
    let mut by_item: HashMap<usize, Vec<String>> = HashMap::new();
    for (n, (code, line, message)) in s.errors.iter().take(1000).enumerate() {
        let item = match (subject, line) {
            (Subject::Local(j), Some(l)) => jobs.item_at_line(&j.id, part, *l)?,
            _ => None,
        };
        let place = match (line, item) {
            (Some(l), Some(i)) => format!(" (line {l}, item {i})"),
            (Some(l), None) => format!(" (line {l})"),
            _ => String::new(),
        };
        if let Some(i) = item {
            by_item.entry(i).or_default().push(format!(
                "{code} (line {}): {message}",
                line.unwrap_or_default()
            ));
        }
        if n < 20 {
            shown.push(format!("{code}{place}: {message}"));
        }
    }
    let first = shown.first().cloned();
    if s.errors.len() > shown.len() {
        shown.push(format!("and {} more", s.errors.len() - shown.len()));
    }
    let detail = if shown.is_empty() {
        "no errors were given".to_string()
    } else {
        shown.join("; ")
    };
    Ok(Refused {
        message: format!(
            "{} batch {} failed: the provider refused the uploaded requests: {detail}",
            subject.kind().name(),
            s.id
        ),
        by_item,
        first,
        count: s.errors.len(),
    })
}

/// What an item of a provider batch that no result line named becomes, by how that batch
/// ended.
enum Missing {
    /// The batch ended `failed`: nothing in it ran.
    Refused(Box<Refused>, String),
    Other(Kind, String),
}

impl Missing {
    fn of(subject: &Subject, part: usize, s: &State, jobs: &Jobs) -> Result<Missing> {
        Ok(match s.status {
            "failed" => Missing::Refused(
                Box::new(refused_batch(subject, part, s, jobs)?),
                s.id.clone(),
            ),
            "canceled" => Missing::Other(
                Kind::Canceled,
                format!("not run: the batch {} was canceled", s.id),
            ),
            "expired" => Missing::Other(
                Kind::Expired,
                format!("not run: the batch {} expired (24 h window)", s.id),
            ),
            _ => Missing::Other(
                Kind::Unavailable,
                format!(
                    "the provider returned no result for this item (batch {}, status {})",
                    s.id, s.provider_status
                ),
            ),
        })
    }

    fn kind(&self) -> Kind {
        match self {
            Missing::Refused(..) => Kind::Rejected,
            Missing::Other(kind, _) => *kind,
        }
    }

    /// The error of item `index`.
    fn error(&self, index: usize, provider: ProviderKind) -> Error {
        let message = match self {
            Missing::Other(_, m) => m.clone(),
            Missing::Refused(r, id) => {
                let what = match r.by_item.get(&index) {
                    Some(own) => format!("this item: {}", own.join("; ")),
                    None => match &r.first {
                        Some(first) => format!("the first: {first}"),
                        None => "no errors were given".into(),
                    },
                };
                format!(
                    "not run: {} batch {id} failed, the provider refused its uploaded requests ({} error(s); {what})",
                    provider.name(),
                    r.count
                )
            }
        };
        Error::new(self.kind(), message).with_provider(provider.name())
    }
}

/// What each result line becomes, kept in a temporary table until all are in.
struct Row {
    index: usize,
    part: usize,
    /// `s` succeeded, `e` errored, `c` canceled, `x` expired (the provider's outcome).
    outcome: &'static str,
    code: i32,
    message: Option<String>,
    usage: Usage,
    cost: Option<f64>,
    /// The output line without `index` and `input`.
    rest: String,
}

async fn write_results(subject: &Subject, states: &[State], api: &Api, jobs: &Jobs) -> Result<()> {
    let conn = &jobs.conn;
    let sql = |e: rusqlite::Error| Error::internal(format!("the results table: {e}"));
    conn.execute_batch(
        "PRAGMA temp_store = FILE;
         DROP TABLE IF EXISTS temp.batch_results;
         CREATE TEMP TABLE batch_results (
            idx INTEGER PRIMARY KEY, part INTEGER NOT NULL, outcome TEXT NOT NULL,
            code INTEGER NOT NULL, message TEXT, in_tok INTEGER NOT NULL, out_tok INTEGER NOT NULL,
            cached_tok INTEGER NOT NULL, cost REAL, rest TEXT NOT NULL);",
    )
    .map_err(sql)?;
    let (options, local) = match subject {
        Subject::Local(j) => (j.options.clone(), Some(j)),
        Subject::Bare { .. } => (
            Options {
                task: "complete".into(),
                ..Options::default()
            },
            None,
        ),
    };
    let job = match options.task.as_str() {
        "extract-json" => Job::Extract(Extract::for_batch(
            options.schema.clone(),
            options.prompt_name.as_deref(),
        )?),
        "classify" => Job::Classify(Classify::new(options.labels.clone().unwrap_or_default())?),
        _ => Job::Complete,
    };
    let mut shape = Request::default();
    job.shape(&mut shape);
    let kind = api.target.kind;
    let mut target = api.target.clone();
    // Without the job's record, what was asked for is not known: the reported model stands in.
    target.model = options.requested_model.clone();
    let pricing = &api.settings.pricing;
    let prompt = options.prompt.clone();

    // A local job's lines carry its tag; a bare provider batch id's, any.
    let job_tag = local
        .map(|j| j.options.tag.as_str())
        .filter(|t| !t.is_empty());
    // Lines whose custom_id llmpipe did not write, and lines that are not the API's JSON.
    let (foreign, unreadable) = (std::cell::Cell::new(0u64), std::cell::Cell::new(0u64));
    // Provider batches whose results could not be downloaded, with why: their items become
    // error lines, and the other batches' results are written all the same.
    let mut unread: std::collections::BTreeMap<usize, Error> = Default::default();
    for (part, state) in states.iter().enumerate() {
        conn.execute_batch("BEGIN").map_err(sql)?;
        let mut insert = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO temp.batch_results
                 (idx, part, outcome, code, message, in_tok, out_tok, cached_tok, cost, rest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(sql)?;
        for dl in &state.downloads {
            let call = wire::download(&api.target, dl);
            // A retried download starts the file again: its skipped lines count once.
            let (foreign_before, unreadable_before) = (foreign.get(), unreadable.get());
            let mut on_line = |line: &[u8]| -> Result<()> {
                if line.is_empty() {
                    foreign.set(foreign_before);
                    unreadable.set(unreadable_before);
                    return Ok(());
                }
                let (index, item) = match wire::result_line_of(kind, line, job_tag) {
                    // A line of another job, or for an item the job does not have.
                    Ok(Some((index, _))) if local.is_some_and(|j| index as u64 >= j.items) => {
                        foreign.set(foreign.get() + 1);
                        return Ok(());
                    }
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        foreign.set(foreign.get() + 1);
                        return Ok(());
                    }
                    Err(e) => {
                        output::debug(&format!("a result line is skipped: {}", e.message));
                        unreadable.set(unreadable.get() + 1);
                        return Ok(());
                    }
                };
                let row = judge(
                    index,
                    part,
                    item,
                    &job,
                    &shape,
                    &target,
                    pricing,
                    &prompt,
                    options.max_tokens,
                    // The rates in effect when the job was submitted, not when it is read
                    // (a provider batch id without a local record: when the provider says
                    // the batch was created).
                    local
                        .map(|j| j.created)
                        .or(state.created_unix)
                        .and_then(|t| u64::try_from(t).ok())
                        .filter(|&t| t > 0)
                        .map(|t| std::time::UNIX_EPOCH + std::time::Duration::from_secs(t)),
                );
                insert
                    .execute(params![
                        row.index as i64,
                        row.part as i64,
                        row.outcome,
                        row.code,
                        row.message,
                        row.usage.input_tokens as i64,
                        row.usage.output_tokens as i64,
                        row.usage.cached_input_tokens as i64,
                        row.cost,
                        row.rest,
                    ])
                    .map_err(sql)?;
                Ok(())
            };
            let got = api
                .client
                .download(&api.target, &call, state.created_unix, &mut on_line)
                .await;
            if let Err(e) = got {
                if !unreadable_file(&e) {
                    return Err(e);
                }
                unread.insert(part, e);
                break;
            }
        }
        drop(insert);
        conn.execute_batch("COMMIT").map_err(sql)?;
    }
    if foreign.get() > 0 {
        output::warn(&format!(
            "{} result line(s) name no item of this job (their custom_id is not i<index>-<this job's tag>): skipped",
            foreign.get()
        ));
    }
    if unreadable.get() > 0 {
        output::warn(&format!(
            "{} result line(s) are not the API's JSON and were skipped: their items are error lines (-v shows why)",
            unreadable.get()
        ));
    }

    // What an item no result line named became, by how its provider batch ended.
    let missing: Vec<Missing> = states
        .iter()
        .enumerate()
        .map(|(part, s)| match unread.get(&part) {
            Some(e) => Ok(Missing::Other(
                e.kind,
                format!(
                    "the results of the batch {} could not be downloaded ({}): run `llmpipe batch results {}` again to fetch them",
                    s.id,
                    e.message,
                    // named: without it, the latest job is read, which may be another
                    subject.id()
                ),
            )),
            None => Missing::of(subject, part, s, jobs),
        })
        .collect::<Result<_>>()?;

    // Exact counts, now that every result was read.
    {
        let mut st = conn
            .prepare(
                "SELECT part, outcome, COUNT(*) FROM temp.batch_results GROUP BY part, outcome",
            )
            .map_err(sql)?;
        let mut exact: Vec<Counts> = vec![Counts::default(); states.len()];
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (part, outcome, n) = row.map_err(sql)?;
            let Some(c) = exact.get_mut(part as usize) else {
                continue;
            };
            let n = n as u64;
            c.total += n;
            match outcome.as_str() {
                "s" => c.succeeded += n,
                "c" => c.canceled += n,
                "x" => c.expired += n,
                _ => c.errored += n,
            }
        }
        for (part, (s, c)) in states.iter().zip(exact.iter_mut()).enumerate() {
            if unread.contains_key(&part) {
                continue; // not known until its results are read
            }
            // An item sent in this batch that no line named is an error line too.
            if let Some(j) = local {
                let sent: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM batch_items WHERE job = ?1 AND part = ?2",
                        params![j.id, part as i64],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                let unnamed = (sent as u64).saturating_sub(c.total);
                c.total += unnamed;
                match missing[part].kind() {
                    Kind::Canceled => c.canceled += unnamed,
                    Kind::Expired => c.expired += unnamed,
                    _ => c.errored += unnamed,
                }
            }
            jobs.set_exact_counts(&s.id, c)?;
        }
    }

    // The lines, in input order.
    let query = match local {
        Some(_) => {
            "SELECT i.idx, i.input, i.line, r.rest, r.code, r.message, r.in_tok, r.out_tok, r.cached_tok, r.cost, i.part
             FROM batch_items i LEFT JOIN temp.batch_results r ON r.idx = i.idx
             WHERE i.job = ?1 ORDER BY i.idx"
        }
        None => {
            "SELECT r.idx, NULL, NULL, r.rest, r.code, r.message, r.in_tok, r.out_tok, r.cached_tok, r.cost, r.part
             FROM temp.batch_results r WHERE ?1 IS NOT NULL ORDER BY r.idx"
        }
    };
    let mut st = conn.prepare(query).map_err(sql)?;
    let mut rows = st.query([subject.id()]).map_err(sql)?;
    let mut tally = Tally::default();
    let mut stopped: Option<Error> = None;
    let mut written: u64 = 0;
    while let Some(r) = rows.next().map_err(sql)? {
        if output::stdout_closed() {
            break;
        }
        // Writing a million lines takes a while: now and then the runtime gets a turn, so
        // that a signal is noticed (its handler is a task on this one thread).
        written += 1;
        if written.is_multiple_of(64) {
            tokio::task::yield_now().await;
        }
        if let Some(stop @ (crate::signals::Stop::Interrupt | crate::signals::Stop::Terminate)) =
            crate::signals::reason()
        {
            let what = stop.what();
            let mut e = Error::new(
                Kind::Interrupted,
                format!(
                    "{what} after {} line(s) of the results",
                    tally.ok + tally.failed + tally.copied
                ),
            )
            .with_hint(format!(
                "run `llmpipe batch results {}` again for all of them",
                subject.id()
            ));
            e.stdout_written = true;
            // The spend of every result read is logged first, as below.
            stopped = Some(e);
            break;
        }
        let index = r.get::<_, i64>(0).map_err(sql)? as usize;
        let input: Option<String> = r.get(1).map_err(sql)?;
        let copied: Option<String> = r.get(2).map_err(sql)?;
        let rest: Option<String> = r.get(3).map_err(sql)?;
        if let Some(line) = copied {
            // Decided before anything was sent: a failed item's line, or one from --resume.
            let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            match v.get("error") {
                Some(e) => tally.failed(
                    index,
                    e.get("exit_code").and_then(Value::as_i64).unwrap_or(1) as i32,
                    e.get("message").and_then(Value::as_str).unwrap_or(""),
                ),
                None => tally.copied += 1,
            }
            output::out_line(&line);
            continue;
        }
        let input = input.unwrap_or_default();
        let Some(rest) = rest else {
            let part: Option<i64> = r.get(10).map_err(sql)?;
            let e = match part.and_then(|p| missing.get(p as usize)) {
                Some(m) => m.error(index, kind),
                None => Error::new(
                    Kind::Unavailable,
                    "the provider returned no result for this item",
                )
                .with_provider(kind.name()),
            };
            tally.failed(index, e.exit_code(), &e.message);
            let line = OutLine {
                index: Some(index),
                error: Some(e.body()),
                ..OutLine::default()
            }
            .to_json();
            output::out_line(&compose_with_input(&line, &input));
            continue;
        };
        let code: i32 = r.get(4).map_err(sql)?;
        let usage = Usage {
            input_tokens: r.get::<_, i64>(6).map_err(sql)? as u64,
            output_tokens: r.get::<_, i64>(7).map_err(sql)? as u64,
            cached_input_tokens: r.get::<_, i64>(8).map_err(sql)? as u64,
            ..Usage::default()
        };
        let cost: Option<f64> = r.get(9).map_err(sql)?;
        if code == 0 {
            tally.ok += 1;
        } else {
            let message: Option<String> = r.get(5).map_err(sql)?;
            tally.failed(index, code, message.as_deref().unwrap_or(""));
        }
        tally.add(&usage, cost);
        let line = match local {
            Some(_) => format!("{{\"index\":{index},\"input\":{input},{}", &rest[1..]),
            None => format!("{{\"index\":{index},{}", &rest[1..]),
        };
        output::out_line(&line);
    }
    drop(rows);
    drop(st);
    // The spend of every result read, not only of the lines written (a reader that went
    // away after the first line must not leave the rest of the batch out of the log).
    let mut spend: HashMap<usize, (Usage, f64, u64)> = HashMap::new();
    {
        let mut st = conn
            .prepare(
                "SELECT part, SUM(in_tok), SUM(out_tok), SUM(cached_tok), TOTAL(cost),
                        SUM(in_tok + out_tok > 0)
                 FROM temp.batch_results GROUP BY part",
            )
            .map_err(sql)?;
        let mut rows = st.query([]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            let usage = Usage {
                input_tokens: n(1).map_err(sql)?,
                output_tokens: n(2).map_err(sql)?,
                cached_input_tokens: n(3).map_err(sql)?,
                ..Usage::default()
            };
            spend.insert(
                n(0).map_err(sql)? as usize,
                (usage, r.get::<_, f64>(4).map_err(sql)?, n(5).map_err(sql)?),
            );
        }
    }
    // A batch whose results were not all read is logged once they are, whole.
    spend.retain(|part, _| !unread.contains_key(part));
    log_spend(subject, states, &spend, &options, api, jobs)?;
    if let Some(e) = stopped {
        return Err(e);
    }
    if output::stdout_closed() {
        // Nobody reads on (`| head`): no summary, exit 0, as --each-line.
        return Ok(());
    }
    let items = tally.ok + tally.copied + tally.failed;
    output::err_line(&format!(
        "llmpipe: {items} item(s): {} done, {} failed{} · {} in / {} out tokens · {} at batch prices",
        tally.ok,
        tally.failed,
        if tally.copied > 0 {
            format!(", {} from --resume", tally.copied)
        } else {
            String::new()
        },
        tally.input_tokens,
        tally.output_tokens,
        crate::cost::total_text(tally.cost, tally.cost_unknown)
    ));
    // A provider batch the provider refused makes the run exit 4 with its errors, whatever
    // else failed (SPEC: a job that turns `failed` is exit 4).
    let refused: Vec<&str> = missing
        .iter()
        .filter_map(|m| match m {
            Missing::Refused(r, _) => Some(r.message.as_str()),
            Missing::Other(..) => None,
        })
        .collect();
    if !refused.is_empty() {
        let mut e = Error::new(
            Kind::Rejected,
            format!(
                "{} of {items} item(s) failed; {}",
                tally.failed,
                refused.join("; ")
            ),
        )
        .with_provider(kind.name())
        .with_hint(if unread.is_empty() {
            "nothing in a failed batch was run or billed, and every other result is written above; \
             its items are error lines: fix the input, then redo only them with \
             `llmpipe batch submit --resume RESULTS.jsonl` (or a live `--each-line --resume`)"
                .to_owned()
        } else {
            // A resume now would send the unread batches' items again, and pay twice.
            format!(
                "nothing in a failed batch was run or billed, but the results of another batch \
                 could not be downloaded: run `llmpipe batch results {}` again until they are \
                 read, then redo the failed items with `llmpipe batch submit --resume` on that output",
                subject.id()
            )
        });
        e.stdout_written = true;
        return Err(e);
    }
    // Then a provider batch whose results could not be downloaded: its error's code, and
    // the advice to read the results again (its items may have run and been billed).
    if let Some(first) = unread.values().next() {
        let names: Vec<&str> = unread.keys().map(|p| states[*p].id.as_str()).collect();
        // A provider batch id with no local record: its items are not known, so none of
        // them has a line (and with --json, when no line was written, the error object is).
        let (theirs, others) = match subject {
            Subject::Local(_) => (
                "their items not read are error lines",
                "every other result is written above; ",
            ),
            Subject::Bare { .. } => (
                "their items not read have no line (a provider batch id has no local record of them)",
                "",
            ),
        };
        let mut e = Error::new(
            first.kind,
            format!(
                "{} of {items} item(s) failed; the results of {} batch(es) {} could not be downloaded ({}): {theirs}",
                tally.failed,
                kind.name(),
                names.join(", "),
                first.message
            ),
        )
        .with_provider(kind.name())
        .with_hint(format!(
            "{others}run `llmpipe batch results {}` again later to fetch the missing ones (do not resubmit them: they may have run and been billed)",
            subject.id()
        ));
        e.status = first.status;
        e.stdout_written = items > 0;
        return Err(e);
    }
    match tally.first {
        None => Ok(()),
        Some((index, code, message)) => {
            let mut e = Error::new(
                kind_for_code(code),
                format!(
                    "{} of {items} item(s) failed; the first (index {index}): {message}",
                    tally.failed
                ),
            )
            .with_hint(
                "every result is written above, the failed items as error lines: redo only them \
                 with `llmpipe batch submit --resume RESULTS.jsonl` (or a live `--each-line --resume`)",
            );
            e.stdout_written = true;
            Err(e)
        }
    }
}

/// No line of the input became a request, and some were invalid: nothing is submitted
/// and no job recorded. Every line's outcome goes to stdout as the line a live
/// `--each-line` run writes (an error line per invalid item, in input order), and the run
/// exits as `--each-line` does, with the first failed item's code (2 for bad input).
fn nothing_to_submit(
    jobs: &Jobs,
    id: &str,
    items: usize,
    invalid: usize,
    index: usize,
    first: Error,
) -> Error {
    if let Err(e) = write_items_and_forget(jobs, id) {
        return e;
    }
    no_line_to_send(items, invalid, index, first)
}

/// Writes the lines the job's items already have (error lines, lines copied from
/// `--resume`) in input order, then forgets the job: nothing of it was submitted.
fn write_items_and_forget(jobs: &Jobs, id: &str) -> Result<()> {
    let written = (|| -> rusqlite::Result<()> {
        let mut st = jobs.conn.prepare(
            "SELECT line FROM batch_items WHERE job = ?1 AND line IS NOT NULL ORDER BY idx",
        )?;
        let mut rows = st.query([id])?;
        while let Some(r) = rows.next()? {
            output::out_line(&r.get::<_, String>(0)?);
        }
        Ok(())
    })();
    written
        .map_err(|e| Error::internal(format!("the job's items: {e}")))
        .and_then(|()| jobs.delete(id))
        .and_then(|()| jobs.commit())
}

/// Why nothing is submitted when no line became a request and some were invalid (the
/// same for a dry run).
fn no_line_to_send(items: usize, invalid: usize, index: usize, first: Error) -> Error {
    let mut e = Error::new(
        first.kind,
        format!(
            "nothing was submitted: {invalid} invalid line(s) of {items}, and no line to send (the first, index {index}: {})",
            first.message
        ),
    )
    .with_hint(
        "each line's error is on stdout, as the error line a live --each-line run writes: fix the input, then submit again",
    );
    e.stdout_written = true;
    e
}

/// Whether a failed download is the provider's answer about that one file (an HTTP error
/// after retries, a timeout, a cut connection), so the other batches' results can still be
/// written; a missing key, the local database or an interrupt stop everything.
fn unreadable_file(e: &Error) -> bool {
    matches!(
        e.kind,
        Kind::Rejected | Kind::Unavailable | Kind::Timeout | Kind::RateLimited
    )
}

/// Why nothing is submitted when `--resume FILE` already holds a result for every item.
fn every_item_done(resume: &std::path::Path, items: usize) -> String {
    format!(
        "nothing to submit: every item ({items}) already has a result in {}",
        resume.display()
    )
}

/// `{"index":…,"error":…}` with the input put in after `index`.
fn compose_with_input(line: &str, input: &str) -> String {
    if input.is_empty() {
        return line.to_string();
    }
    match line.find(',') {
        Some(i) => format!("{},\"input\":{input}{}", &line[..i], &line[i..]),
        None => line.to_string(),
    }
}

/// One result line judged as a live answer would be: priced at the batch rate, checked
/// for the task (extract-json, classify), or the item's error.
#[allow(clippy::too_many_arguments)]
fn judge(
    index: usize,
    part: usize,
    item: ItemResult,
    job: &Job,
    shape: &Request,
    target: &Target,
    pricing: &crate::config::Pricing,
    prompt: &Option<String>,
    max_tokens: u64,
    submitted: Option<std::time::SystemTime>,
) -> Row {
    let (outcome, result): (&'static str, Result<CallResult>) = match item {
        ItemResult::Answer(mut response) => {
            crate::provider::finish(target, shape, &mut response);
            let o = Outcome {
                response: *response,
                target,
                attempts: 1,
                cached: false,
            };
            let mut r = CallResult::batch_item(&o, pricing, prompt.clone(), submitted);
            if r.requested_model.is_empty() {
                r.requested_model = r.model.clone();
            }
            // Calls are handed to the script, as a live run without --run-tools does.
            if !o.response.tool_calls.is_empty() {
                r.tool_calls = Some(
                    o.response
                        .tool_calls
                        .iter()
                        .map(crate::tools::CallOut::of)
                        .collect(),
                );
            }
            ("s", job.check(&o.response, r, max_tokens))
        }
        ItemResult::Failed(e) => (
            match e.kind {
                Kind::Canceled => "c",
                Kind::Expired => "x",
                _ => "e",
            },
            Err(e),
        ),
    };
    let (res, err) = match &result {
        Ok(r) => (Some(r), None),
        Err(e) => (e.result.as_deref(), Some(e)),
    };
    let rest = OutLine {
        result: res,
        error: err.map(Error::body),
        ..OutLine::default()
    }
    .to_json();
    Row {
        index,
        part,
        outcome,
        code: err.map_or(0, Error::exit_code),
        message: err.map(|e| e.message.clone()),
        usage: res.map(|r| r.usage).unwrap_or_default(),
        cost: res.and_then(|r| r.cost_usd),
        rest,
    }
}

fn kind_for_code(code: i32) -> Kind {
    match code {
        2 => Kind::Usage,
        3 => Kind::Auth,
        4 => Kind::Rejected,
        5 => Kind::Unavailable,
        6 => Kind::UnusableAnswer,
        7 => Kind::Budget,
        130 | 143 => Kind::Interrupted,
        _ => Kind::Internal,
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    copied: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: f64,
    cost_unknown: u64,
    first: Option<(usize, i32, String)>,
}

impl Tally {
    fn failed(&mut self, index: usize, code: i32, message: &str) {
        self.failed += 1;
        if self.first.is_none() {
            self.first = Some((index, code, message.to_string()));
        }
    }
    fn add(&mut self, usage: &Usage, cost: Option<f64>) {
        if usage.input_tokens + usage.output_tokens == 0 {
            return;
        }
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        match cost {
            Some(c) => self.cost += c,
            None => self.cost_unknown += 1,
        }
    }
}

/// Puts each provider batch's spend into the call log once (one row per provider batch,
/// command `batch`), so `logs cost` counts it.
fn log_spend(
    subject: &Subject,
    states: &[State],
    spend: &HashMap<usize, (Usage, f64, u64)>,
    options: &Options,
    api: &Api,
    jobs: &Jobs,
) -> Result<()> {
    let Some(path) = api.settings.log_path.clone() else {
        return Ok(());
    };
    let logger = crate::store::Logger::start(path);
    for (part, s) in states.iter().enumerate() {
        let Some((usage, cost, answered)) = spend.get(&part) else {
            continue;
        };
        if !jobs.claim_logging(&s.id)? {
            continue;
        }
        let model = if options.requested_model.is_empty() {
            api.target.model.clone()
        } else {
            options.requested_model.clone()
        };
        let summary = json!({"batch": true, "id": subject.id(), "provider_batch_id": s.id,
                             "answered": answered, "usage": usage, "cost_usd": crate::cost::round_usd(*cost)});
        logger.log(crate::store::Record {
            time: crate::store::rfc3339(SystemTime::now()),
            command: "batch".into(),
            provider: Some(subject.kind().name().into()),
            model: Some(model.clone()),
            requested_model: Some(model),
            prompt: options.prompt.clone(),
            system: None,
            messages: json!([]),
            input: format!(
                "batch job {} ({}): {answered} answered request(s)",
                subject.id(),
                s.id
            ),
            reply: None,
            finish_reason: None,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cached_input_tokens: usage.cached_input_tokens,
            cost_usd: Some(crate::cost::round_usd(*cost)),
            latency_ms: None,
            attempts: Some(*answered),
            request_id: Some(s.id.clone()),
            conversation_id: crate::store::new_conversation_id(),
            exit_code: 0,
            error: None,
            cached: false,
            output: summary,
        });
    }
    logger.finish();
    Ok(())
}
