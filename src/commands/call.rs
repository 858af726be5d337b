//! A request command, resolved once (settings, prompt file, variables, images, conversation,
//! call log, HTTP client) and then used for one request or for every `--each-line` item:
//! building the request for an input, sending it, logging it, and running a job once.

use std::collections::HashMap;
use std::time::Instant;

use super::conversation::Conversation;
use super::job::Job;
use super::record::{self, CallInfo};
use crate::chat::{FinishReason, Message, Part, Request, Response};
use crate::cli::RequestArgs;
use crate::config::{Context, Settings};
use crate::error::{Error, Kind, Result};
use crate::prompts::PromptFile;
use crate::provider::build_request;
use crate::provider::client::{Client, Outcome, Sink};
use crate::result::CallResult;
use crate::{image, input, output};

pub struct Call {
    pub settings: Settings,
    pub prompt: Option<PromptFile>,
    /// `complete`, `stream`, `extract-json`, `classify`: what the log records.
    pub command: &'static str,
    vars: HashMap<String, String>,
    images: Vec<Part>,
    conversation: Conversation,
    logger: Option<crate::store::Logger>,
    client: std::cell::OnceCell<Client>,
    /// Declared tools and how to use them (`complete`, `stream`); `None` without tools.
    pub tools: Option<ToolSetup>,
}

/// The tools of a call and what to do with the model's calls.
pub struct ToolSetup {
    pub specs: Vec<crate::tools::ToolSpec>,
    pub choice: Option<crate::chat::ToolChoice>,
    /// `--run-tools`: run the calls and loop; otherwise hand them to the script.
    pub run: bool,
    pub max_rounds: u32,
    pub timeout: std::time::Duration,
    /// `--tool-result`: the answers to the conversation's pending calls, in call order.
    pub results: Vec<crate::chat::ToolResult>,
    /// An `--each-line` run: it decides itself when a request in flight is dropped.
    pub each_line: bool,
}

impl Call {
    pub fn new(args: &RequestArgs, ctx: &Context, command: &'static str) -> Result<Call> {
        output::set_verbose(args.verbose.verbose);
        // A `.env` line that cannot be parsed stops a request (it may be the key) but not
        // a --dry-run, which sends nothing.
        let env = &ctx.env;
        if args.dry_run {
            env.warn_problems();
        } else {
            env.check()?;
        }
        let prompt = crate::prompts::load_named(
            args.prompt_file.prompt_name.as_deref(),
            args.prompt_file.prompts_dir.as_deref(),
            &args.prompt_file.vars,
            env,
        )?;
        let settings = Settings::resolve(&args.options(), ctx, prompt.as_ref().map(|p| &p.meta))?;
        if !args.dry_run && !args.each_line {
            // The price data is read on another thread while the request is built and sent
            // (an --each-line run reads it with its first answer, off its first request's way).
            settings.pricing.warm(&settings.targets);
        }
        let vars = crate::prompts::parse_vars(&args.prompt_file.vars)?;
        let images = args
            .images
            .iter()
            .map(|spec| image::load(spec).map(Part::Image))
            .collect::<Result<Vec<_>>>()?;
        let conversation = Conversation::resolve(args, &settings, env)?;
        let logger = if args.dry_run {
            None
        } else {
            settings.log_path.clone().map(crate::store::Logger::start)
        };
        let tools = tool_setup(args, command, prompt.as_ref(), &conversation)?;
        Ok(Call {
            settings,
            prompt,
            command,
            vars,
            images,
            conversation,
            logger,
            client: std::cell::OnceCell::new(),
            tools,
        })
    }

    /// The request for one input text; `extra` variables (from a JSONL item) add to and
    /// override `--var`.
    pub fn request_for(
        &self,
        text: &str,
        extra: Option<&HashMap<String, String>>,
    ) -> Result<Request> {
        let answers = self.tools.as_ref().map_or(&[][..], |t| &t.results[..]);
        if !answers.is_empty() && text.trim().is_empty() {
            // Answers to pending calls need no new text.
            let mut request = self.base_request(vec![Message {
                role: crate::chat::Role::User,
                content: answers.iter().cloned().map(Part::ToolResult).collect(),
            }]);
            self.conversation.prepend_to(&mut request, &self.settings);
            return Ok(request);
        }
        let mut messages = match &self.prompt {
            Some(p) => {
                if p.uses_input() {
                    input::require_text(text)?;
                }
                match extra {
                    Some(extra) => {
                        let mut vars = self.vars.clone();
                        vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                        p.render(text, &vars)?
                    }
                    None => p.render(text, &self.vars)?,
                }
            }
            None => {
                input::require_text(text)?;
                vec![Message::user_text(text)]
            }
        };
        if let Some(Part::Text(t)) = messages.last().and_then(|m| m.content.last()) {
            input::require_text(t)?;
        }
        if let Some(last) = messages.last_mut() {
            last.content.splice(0..0, self.images.iter().cloned());
            last.content
                .splice(0..0, answers.iter().cloned().map(Part::ToolResult));
        }
        let mut request = self.base_request(messages);
        self.conversation.prepend_to(&mut request, &self.settings);
        Ok(request)
    }

    /// The request around `messages`: system prompt, settings and tools.
    fn base_request(&self, messages: Vec<Message>) -> Request {
        let system = self
            .settings
            .system
            .clone()
            .or_else(|| self.conversation.system().map(str::to_owned));
        let mut request = Request {
            system,
            messages,
            max_tokens: self.settings.max_tokens,
            temperature: self.settings.temperature,
            stop: self.settings.stop.clone(),
            format: Default::default(),
            effort: self.settings.effort,
            cache_prompt: self.settings.cache_prompt,
            prompt_cache_key: self
                .settings
                .cache_prompt
                .and(self.prompt.as_ref())
                .map(prompt_cache_key),
            tools: Vec::new(),
            tool_choice: None,
        };
        if let Some(t) = &self.tools {
            request.tools = t.specs.iter().map(crate::tools::ToolSpec::def).collect();
            request.tool_choice = t.choice.clone();
        }
        request
    }

    /// The request for a single run: the SPEC's input (words, files, stdin). Stdin is read
    /// off the async thread, so a signal while it waits still ends the run properly.
    pub async fn single_request(&self, args: &RequestArgs) -> Result<Request> {
        let (words, files) = (args.input.prompt.clone(), args.input.files.clone());
        let text = tokio::task::spawn_blocking(move || input::gather(&words, &files))
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("reading the input failed: {e}"))))?;
        self.request_for(&text, None)
    }

    /// Marks `req` as about to be sent: the returned guard logs it with its outcome, or,
    /// if it is dropped first (Ctrl-C, SIGTERM, a closed stdout), as interrupted, so every
    /// request sent has its row in the call log.
    pub fn sending(&self, req: Request) -> Sending<'_> {
        Sending {
            call: self,
            req: Some(req),
            paid: std::cell::RefCell::new(None),
        }
    }

    /// Records one answered (or failed) request in the call log.
    pub fn log(&self, req: &Request, outcome: &Result<CallResult>) {
        let Some(logger) = &self.logger else { return };
        let primary = &self.settings.targets[0];
        let info = CallInfo {
            command: self.command,
            requested_model: &primary.model,
            provider: primary.kind.name(),
            prompt: self.prompt_label(),
            conversation_id: &self.conversation.id,
        };
        logger.log(record::record(&info, req, outcome));
    }

    pub fn client(&self) -> Result<&Client> {
        if self.client.get().is_none() {
            let mut client = Client::new(self.settings.timeout, self.settings.policy.clone())?;
            if let Some(cache) = &self.settings.cache {
                client = client.with_cache(cache.clone());
            }
            let _ = self.client.set(client);
        }
        Ok(self.client.get().expect("client was just built"))
    }

    /// `--dry-run`: the exact request to the first model, instead of sending it.
    pub fn dry_run(&self, req: &Request, stream: bool) -> String {
        build_request(&self.settings.targets[0], req, stream)
            .redacted()
            .to_string()
    }

    /// `--dry-run` for a single request: printed indented.
    pub fn print_dry_run(&self, req: &Request, stream: bool) -> Result<()> {
        let http = build_request(&self.settings.targets[0], req, stream);
        let shown = serde_json::to_string_pretty(&http.redacted())
            .map_err(|e| Error::internal(e.to_string()))?;
        output::out_line(&shown);
        Ok(())
    }

    /// Sends through the one request path (retries, fallback); streamed when `sink` is set.
    pub async fn send(&self, req: &Request, sink: Option<Sink<'_>>) -> Result<Outcome<'_>> {
        self.client()?.send(&self.settings.targets, req, sink).await
    }

    /// [`Call::send`], adding the HTTP attempts of a failed call to `made`.
    pub async fn send_counting(
        &self,
        req: &Request,
        sink: Option<Sink<'_>>,
        made: &mut u32,
    ) -> Result<Outcome<'_>> {
        let mut n = 0;
        let sent = self
            .client()?
            .send_counting(&self.settings.targets, req, sink, &mut n)
            .await;
        if sent.is_err() {
            *made += n;
        }
        sent
    }

    /// The result for one or more calls that made one answer (a first reply and its
    /// repairs): the answer is the last call's; usage, cost and attempts add up.
    pub fn result(&self, calls: &[Outcome<'_>], started: Instant) -> CallResult {
        CallResult::from_calls(
            calls,
            started.elapsed(),
            &self.settings.pricing,
            self.prompt_label(),
        )
    }

    /// The result of `calls` (the last gave the answer), or exit 6 carrying it when the
    /// answer is unusable (refused, empty, all of `max_tokens` spent thinking).
    pub fn usable_result(
        &self,
        calls: &[Outcome<'_>],
        started: Instant,
        max_tokens: u64,
    ) -> Result<CallResult> {
        let checked = calls.last().map_or(Ok(()), |last| {
            // The cap that was sent: `--effort` may have raised it for a thinking budget.
            let sent = Request {
                max_tokens,
                effort: self.settings.effort,
                ..Default::default()
            };
            let target = last.target;
            let max_tokens = crate::effort::max_tokens(target.kind, &target.model, &sent);
            usable(&last.response, max_tokens)
        });
        let result = self.result(calls, started);
        match checked {
            Ok(()) => Ok(result),
            Err(e) => Err(e.with_result(result)),
        }
    }

    fn prompt_label(&self) -> Option<String> {
        self.prompt.as_ref().map(PromptFile::label)
    }
}

/// A request on its way: logged exactly once, with its outcome or as interrupted.
pub struct Sending<'c> {
    call: &'c Call,
    req: Option<Request>,
    /// The result of the calls already answered (before a repair round), so an
    /// interrupted answer is logged with what it cost.
    paid: std::cell::RefCell<Option<CallResult>>,
}

impl Sending<'_> {
    pub fn request(&self) -> &Request {
        // Only `log` (which consumes the guard) takes the request out.
        self.req.as_ref().expect("a request until logged")
    }

    /// Records what has been paid for so far (usage and cost of the calls answered).
    pub fn paid(&self, result: &CallResult) {
        *self.paid.borrow_mut() = Some(result.clone());
    }

    pub fn log(mut self, outcome: &Result<CallResult>) {
        if let Some(req) = self.req.take() {
            self.call.log(&req, outcome);
        }
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if let Some(req) = self.req.take() {
            let mut e = Error::new(Kind::Interrupted, "interrupted before the reply arrived");
            e.result = self.paid.borrow_mut().take().map(Box::new);
            self.call.log(&req, &Err(e));
        }
    }
}

/// Runs a job once, or per input line with `--each-line`, and prints its result.
pub async fn run_job(args: &RequestArgs, call: Call, job: Job, pretty: bool) -> Result<()> {
    if args.each_line {
        return super::each_line::run(args, &call, &job).await;
    }
    let mut req = call.single_request(args).await?;
    job.shape(&mut req);
    if args.dry_run {
        return call.print_dry_run(&req, false);
    }
    crate::cost::check_budget(&call.settings, &req, args.max_cost)?;
    let sending = call.sending(req);
    let before_repair = |next: &Request, paid: &CallResult| {
        sending.paid(paid);
        let spent = paid.cost_usd.unwrap_or(0.0);
        crate::cost::check_follow_up(&call.settings, next, spent, args.max_cost)
    };
    let outcome = job
        .answer(&call, sending.request().clone(), &before_repair)
        .await;
    sending.log(&outcome);
    let result = outcome?;
    if output::verbose() {
        output::end_open_line();
        output::err_line(&result.summary());
    }
    if args.json.json {
        output::out_line(&result.to_json_line());
    } else {
        output::out_line(&job.plain(&result, pretty));
    }
    Ok(())
}

/// OpenAI's `prompt_cache_key` for a prompt file: `name@vN`, the name shortened so the key
/// stays within the API's 64 characters.
fn prompt_cache_key(p: &PromptFile) -> String {
    const MAX: usize = 64;
    let version = format!("@v{}", p.version);
    let name: String = p
        .name
        .chars()
        .take(MAX.saturating_sub(version.chars().count()))
        .collect();
    format!("{name}{version}")
}

/// Exit 6: the model answered (and was paid) but there is nothing to use.
pub(super) fn usable(r: &Response, max_tokens: u64) -> Result<()> {
    let unusable = |msg: String| Err(Error::new(Kind::UnusableAnswer, msg));
    if r.finish_reason == FinishReason::Refusal {
        let why = r.refusal.as_deref().unwrap_or(r.text.as_str()).trim();
        return unusable(if why.is_empty() {
            "the model refused to answer".into()
        } else {
            format!("the model refused to answer: {why}")
        });
    }
    if r.text.trim().is_empty() && r.tool_calls.is_empty() {
        if r.finish_reason == FinishReason::Length {
            let reasoning = r
                .usage
                .reasoning_tokens
                .filter(|n| *n > 0)
                .map(|n| format!(" ({n} of them on reasoning)"))
                .unwrap_or_default();
            return Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model used all {max_tokens} output tokens{reasoning} before writing any text"
                ),
            )
            .with_hint("raise --max-tokens"));
        }
        if r.finish_reason == FinishReason::ContentFilter {
            return unusable("the reply was withheld by the provider's content filter".into());
        }
        return unusable("the model returned an empty answer".into());
    }
    Ok(())
}

/// The call's tools: `--tool` files and the prompt file's `tools`, else the conversation's;
/// `--tool-choice`, `--run-tools` and the answers given with `--tool-result`, checked
/// against the conversation's pending calls.
fn tool_setup(
    args: &RequestArgs,
    command: &str,
    prompt: Option<&PromptFile>,
    conversation: &Conversation,
) -> Result<Option<ToolSetup>> {
    let t = &args.tools;
    let asked =
        !t.tools.is_empty() || t.tool_choice.is_some() || t.run_tools || !t.tool_results.is_empty();
    let from_prompt = prompt.and_then(|p| p.meta.tools.as_ref().map(|list| (p, list)));
    // `batch` hands calls to the script (it refuses --run-tools and --tool-result itself).
    if !matches!(command, "complete" | "stream" | "batch") {
        if asked || from_prompt.is_some() {
            return Err(Error::usage(format!(
                "{command} does not take tools: use complete or stream"
            )));
        }
        // Its tool turns could not be sent without the tools (both APIs refuse that).
        if conversation.tools().is_some() {
            return Err(Error::usage(format!(
                "conversation {} used tools: continue it with complete or stream",
                conversation.id
            )));
        }
        return Ok(None);
    }
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    if let Some((p, list)) = from_prompt {
        let dir = p.path.parent().unwrap_or(std::path::Path::new("."));
        files.extend(list.iter().map(|f| dir.join(f)));
    }
    files.extend(t.tools.iter().cloned());
    let mut specs = crate::tools::load_all(&files)?;
    if specs.is_empty() {
        specs = conversation.tools().unwrap_or_default();
    }
    let pending = conversation.pending_calls();
    if !t.tool_results.is_empty() && !args.continue_last && args.cid.is_none() {
        return Err(Error::usage(
            "--tool-result answers the calls of an earlier reply: add -c (or --cid ID)",
        ));
    }
    if specs.is_empty() {
        if !t.tool_results.is_empty() && (args.continue_last || args.cid.is_some()) {
            return Err(Error::usage(
                "--tool-result: the conversation's last reply asked for no tool calls",
            ));
        }
        if asked {
            return Err(Error::usage(
                "no tools declared: give one with --tool FILE (or tools = [...] in the prompt file)",
            ));
        }
        return Ok(None);
    }
    let choice = t
        .tool_choice
        .as_deref()
        .map(|c| crate::tools::parse_choice(c, &specs))
        .transpose()?;
    let mut given: Vec<(String, String)> = Vec::new();
    for spec in &t.tool_results {
        let (id, content) = crate::tools::parse_result_arg(spec)?;
        if given.iter().any(|(g, _)| *g == id) {
            return Err(Error::usage(format!("--tool-result {id} is given twice")));
        }
        given.push((id, content));
    }
    if !given.is_empty() && !args.continue_last && args.cid.is_none() {
        return Err(Error::usage(
            "--tool-result answers the calls of an earlier reply: add -c (or --cid ID)",
        ));
    }
    if let Some((id, _)) = given
        .iter()
        .find(|(id, _)| !pending.iter().any(|c| c.id == *id))
    {
        return Err(Error::usage(if pending.is_empty() {
            format!("--tool-result {id}: the conversation's last reply asked for no tool calls")
        } else {
            format!(
                "--tool-result {id}: no such pending call (pending: {})",
                pending
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
    }
    let missing: Vec<&str> = pending
        .iter()
        .filter(|c| !given.iter().any(|(id, _)| *id == c.id))
        .map(|c| c.id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "the conversation's last reply has unanswered tool calls: {} (answer every one with --tool-result ID=JSON)",
            missing.join(", ")
        )));
    }
    let results = pending
        .iter()
        .filter_map(|c| {
            let (_, content) = given.iter().find(|(id, _)| *id == c.id)?;
            Some(crate::chat::ToolResult {
                id: c.id.clone(),
                name: c.name.clone(),
                content: content.clone(),
                is_error: false,
            })
        })
        .collect();
    Ok(Some(ToolSetup {
        specs,
        choice,
        run: t.run_tools,
        max_rounds: t.max_tool_rounds,
        timeout: std::time::Duration::from_secs_f64(t.tool_timeout),
        results,
        each_line: args.each_line,
    }))
}
