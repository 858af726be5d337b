//! `complete` and `stream` with tools: one model turn whose calls are handed to the script,
//! or with `--run-tools` the loop (run the calls, send the results back, ask again) until a
//! reply asks for no tool or `--max-tool-rounds` turns were made.

use std::time::Instant;

use super::call::{Call, ToolSetup};
use super::job::BeforeRepair;
use crate::chat::{Message, Part, Request, Role, ToolChoice};
use crate::error::{Error, Kind, Result};
use crate::provider::client::{Outcome, Sink};
use crate::result::CallResult;
use crate::tools::{self, CallOut, Ran, Transcript};

/// What a streaming caller is told as the loop goes: a call the model made, a tool's result
/// (both as their `stream --json` lines), and the end of a model turn.
pub enum Event<'a> {
    Call(&'a CallOut),
    Result(&'a tools::Run),
    TurnEnd { text: &'a str, calls: usize },
}

pub async fn answer(
    call: &Call,
    setup: &ToolSetup,
    mut req: Request,
    before_repair: &BeforeRepair<'_>,
    mut sink: Option<Sink<'_>>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<CallResult> {
    let started = Instant::now();
    // The call's own turns start with its new user message (earlier ones are history).
    let own_from = req.messages.len().saturating_sub(1);
    let mut outcomes: Vec<Outcome<'_>> = Vec::new();
    let mut listed: Vec<CallOut> = Vec::new();
    let mut round: u32 = 0;
    loop {
        round += 1;
        if round > 1 {
            // A forcing choice applies to the first turn only, or the loop could never end.
            if req.tool_choice.as_ref().is_some_and(ToolChoice::forces) {
                req.tool_choice = Some(ToolChoice::Auto);
            }
            let mut paid = call.result(&outcomes, started);
            decorate(&mut paid, setup, listed.clone(), round - 1, &req, own_from);
            before_repair(&req, &paid).map_err(|e| with_paid(e, &paid))?;
        }
        let s: Option<Sink<'_>> = match sink.as_mut() {
            Some(s) => Some(&mut **s),
            None => None,
        };
        // After a paid turn, a stop (Ctrl-C, SIGTERM) while the next turn is on its way
        // ends the loop with what was paid; an `--each-line` run gives its requests in
        // flight a grace period instead (it drops them itself).
        let mut failed_attempts = 0;
        let sending = call.send_counting(&req, s, &mut failed_attempts);
        let sent = if outcomes.is_empty() || setup.each_line {
            sending.await
        } else {
            tokio::select! {
                biased;
                sent = sending => sent,
                stop = crate::signals::stopped() => Err(interrupted(stop, "while waiting for the model's next turn")),
            }
        };
        let outcome = match sent {
            Ok(o) => o,
            // Earlier rounds were answered and paid for: the error carries what they cost.
            Err(e) if !outcomes.is_empty() => {
                let mut paid = call.result(&outcomes, started);
                // `attempts` counts every HTTP attempt of the loop, this turn's too.
                paid.attempts += failed_attempts;
                decorate(&mut paid, setup, listed, round - 1, &req, own_from);
                return Err(with_paid(e, &paid));
            }
            Err(e) => return Err(e),
        };
        let resp = &outcome.response;
        let calls = resp.tool_calls.clone();
        on_event(Event::TurnEnd {
            text: &resp.text,
            calls: calls.len(),
        });
        let shown: Vec<CallOut> = calls.iter().map(CallOut::of).collect();
        for c in &shown {
            on_event(Event::Call(c));
        }
        let assistant = resp.assistant_message();
        outcomes.push(outcome);
        // Results are matched to calls by id: two calls with one id could not be answered
        // apart (the API refuses such a turn), so the reply is unusable as it is.
        if let Some(id) = duplicate_id(&calls) {
            listed.extend(not_run(shown, setup.run.then_some(round)));
            let mut paid = call.result(&outcomes, started);
            decorate(&mut paid, setup, listed, round, &req, own_from);
            return Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model's reply has two tool calls with the id {id:?}: their results could not be told apart"
                ),
            )
            .with_hint("run it again; the calls are listed in tool_calls, not run")
            .with_result(paid));
        }
        if calls.is_empty() || !setup.run {
            if !setup.run {
                listed = shown;
            }
            break;
        }
        if round >= setup.max_rounds {
            listed.extend(not_run(shown, Some(round)));
            let mut result = call.result(&outcomes, started);
            decorate(&mut result, setup, listed, round, &req, own_from);
            return Err(Error::new(
                Kind::UnusableAnswer,
                format!(
                    "the model was still calling tools after {} round{}",
                    setup.max_rounds,
                    if setup.max_rounds == 1 { "" } else { "s" }
                ),
            )
            .with_hint(
                "raise --max-tool-rounds; the last turn's calls are listed in tool_calls, not run (a failed call cannot be continued with -c)",
            )
            .with_result(result));
        }
        // Ctrl-C (or an `--each-line` run stopping) ends the tools at once: dropping their
        // runs kills each tool's process group.
        let mut done = |r: &tools::Run| on_event(Event::Result(r));
        let runs = tokio::select! {
            runs = tools::run_all(&calls, &setup.specs, setup.timeout, &mut done) => runs,
            stop = crate::signals::stopped() => {
                // The paid reply's calls are listed (with their round, not run), as at the
                // round limit.
                listed.extend(not_run(shown, Some(round)));
                let mut paid = call.result(&outcomes, started);
                let mut req = req;
                req.messages.push(assistant);
                decorate(&mut paid, setup, listed, round, &req, own_from);
                let mut e = interrupted(stop, "while tools were running");
                e.result = Some(Box::new(paid));
                return Err(e);
            }
        };
        listed.extend(shown.into_iter().zip(&runs).map(|(mut c, r)| {
            c.round = Some(round);
            c.ran = Some(Ran {
                exit_code: r.exit_code,
                duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                is_error: r.result.is_error,
            });
            c
        }));
        req.messages.push(assistant);
        req.messages.push(Message {
            role: Role::User,
            content: runs
                .into_iter()
                .map(|r| Part::ToolResult(r.result))
                .collect(),
        });
    }
    let last = outcomes.last().expect("one turn at least");
    let invalid: Vec<String> = if setup.run {
        Vec::new()
    } else {
        last.response
            .tool_calls
            .iter()
            .filter_map(|c| tools::check_call(c, &setup.specs))
            .collect()
    };
    let outcome = call.usable_result(&outcomes, started, req.max_tokens);
    let mut outcome = match outcome {
        Err(e) => Err(e),
        Ok(r) if !invalid.is_empty() => Err(Error::new(
            Kind::UnusableAnswer,
            format!(
                "the model made an invalid tool call: {}",
                invalid.join("; ")
            ),
        )
        .with_result(r)),
        Ok(r) => Ok(r),
    };
    let result = match &mut outcome {
        Ok(r) => Some(r),
        Err(e) => e.result.as_deref_mut(),
    };
    if let Some(r) = result {
        let rounds = round;
        let mut req = req;
        req.messages.push(last.response.assistant_message());
        decorate(r, setup, listed, rounds, &req, own_from);
    }
    outcome
}

/// A turn's calls that were listed but not run, with the round they belong to.
fn not_run(shown: Vec<CallOut>, round: Option<u32>) -> impl Iterator<Item = CallOut> {
    shown.into_iter().map(move |mut c| {
        c.round = round;
        c
    })
}

/// The first id that two of `calls` share.
fn duplicate_id(calls: &[crate::chat::ToolCall]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    calls
        .iter()
        .map(|c| c.id.as_str())
        .find(|id| !seen.insert(*id))
}

/// The error of a loop stopped by a signal (or a closed stdout).
fn interrupted(stop: crate::signals::Stop, when: &str) -> Error {
    Error::new(Kind::Interrupted, format!("{} {when}", stop.what()))
}

fn with_paid(e: Error, paid: &CallResult) -> Error {
    e.or_result(|| paid.clone())
}

/// Adds the calls, the round count (with `--run-tools`) and the transcript for the log.
/// `req` ends with the last reply's assistant turn when there is one to keep.
fn decorate(
    result: &mut CallResult,
    setup: &ToolSetup,
    listed: Vec<CallOut>,
    rounds: u32,
    req: &Request,
    own_from: usize,
) {
    result.tool_calls = (!listed.is_empty() || setup.run).then_some(listed);
    result.tool_rounds = setup.run.then_some(rounds);
    result.transcript = Some(Box::new(Transcript {
        tools: setup.specs.clone(),
        messages: req.messages[own_from.min(req.messages.len())..].to_vec(),
    }));
}
