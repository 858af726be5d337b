//! What a request command asks of one input, whether it runs once or per `--each-line`
//! item. Each command's own part lives in its file; this only dispatches.

use super::call::Call;
use super::classify::Classify;
use super::extract_json::Extract;
use crate::chat::{Request, Response};
use crate::error::Result;
use crate::result::CallResult;

/// The `--max-cost` check before a follow-up request: the request and what is paid so far.
pub type BeforeRepair<'a> = dyn Fn(&Request, &CallResult) -> Result<()> + 'a;

pub enum Job {
    /// `complete` and `stream`: the text.
    Complete,
    /// `extract-json`: a JSON value, valid against the schema if there is one.
    Extract(Extract),
    /// `classify`: one label of the set.
    Classify(Classify),
}

impl Job {
    /// Adds the job's instruction to the system prompt and sets the output format.
    pub fn shape(&self, req: &mut Request) {
        match self {
            Job::Complete => {}
            Job::Extract(e) => e.shape(req),
            Job::Classify(c) => c.shape(req),
        }
    }

    /// Sends `req` (and any follow-ups the job makes) and returns the result with the job's
    /// own member (`json`, `label`). An unusable answer is exit 6 with the paid-for result
    /// attached to the error.
    ///
    /// `before_repair` is asked before each repair round is sent, with the repair request
    /// and the result paid for so far; an error from it (`--max-cost`) ends the answer with
    /// that error, carrying the paid-for result.
    pub async fn answer(
        &self,
        call: &Call,
        req: Request,
        before_repair: &BeforeRepair<'_>,
    ) -> Result<CallResult> {
        match self {
            Job::Complete if call.tools.is_some() => {
                let setup = call.tools.as_ref().expect("checked");
                let mut quiet = |_: super::tool_loop::Event<'_>| {};
                super::tool_loop::answer(call, setup, req, before_repair, None, &mut quiet).await
            }
            Job::Complete => {
                let started = std::time::Instant::now();
                let outcome = call.send(&req, None).await?;
                call.usable_result(std::slice::from_ref(&outcome), started, req.max_tokens)
            }
            Job::Extract(e) => e.answer(call, req, before_repair).await,
            Job::Classify(c) => c.answer(call, req).await,
        }
    }

    /// The plain (not `--json`) output of a result.
    pub fn plain(&self, result: &CallResult, pretty: bool) -> String {
        match self {
            // The text (if any), then one JSON line per call handed to the script.
            Job::Complete => match &result.tool_calls {
                Some(calls) if result.tool_rounds.is_none() && !calls.is_empty() => {
                    let mut lines: Vec<String> = Vec::new();
                    if !result.text.is_empty() {
                        lines.push(result.text.clone());
                    }
                    lines.extend(calls.iter().map(|c| c.line(None)));
                    lines.join("\n")
                }
                _ => result.text.clone(),
            },
            Job::Classify(_) => result.label.clone().unwrap_or_default(),
            Job::Extract(_) => {
                let value = result.json.as_ref().unwrap_or(&serde_json::Value::Null);
                if pretty {
                    serde_json::to_string_pretty(value)
                } else {
                    serde_json::to_string(value)
                }
                .unwrap_or_default()
            }
        }
    }

    /// The member a successful result of this job has (what `--resume` looks for).
    pub fn produces(&self) -> &'static str {
        match self {
            Job::Complete => "text",
            Job::Extract(_) => "json",
            Job::Classify(_) => "label",
        }
    }

    /// A batch item's answer (its result already priced), judged as a live answer is:
    /// unusable (refused, empty), or for extract-json and classify not valid, is exit 6
    /// carrying the paid-for result. No repair rounds: a batch answer is final.
    pub fn check(
        &self,
        response: &Response,
        result: CallResult,
        max_tokens: u64,
    ) -> Result<CallResult> {
        if let Err(e) = super::call::usable(response, max_tokens) {
            return Err(e.with_result(result));
        }
        match self {
            Job::Complete => Ok(result),
            Job::Extract(e) => e.check(&response.text, result),
            Job::Classify(c) => c.check(&response.text, result),
        }
    }
}
