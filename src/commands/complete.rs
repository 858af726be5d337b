//! `complete` and `stream`: one request, the reply whole or as it arrives. `complete`'s
//! work is `Job::Complete`; streaming is here.

use std::time::Instant;

use serde_json::json;

use super::call::{Call, run_job};
use super::job::Job;
use crate::cli::RequestArgs;
use crate::config::Context;
use crate::error::Result;
use crate::output;
use crate::provider::Deltas;

pub async fn run(args: &RequestArgs, ctx: &Context, stream: bool) -> Result<()> {
    let call = Call::new(args, ctx, if stream { "stream" } else { "complete" })?;
    if !stream || args.each_line {
        // `stream --each-line` runs each item as `complete`: interleaved deltas of many
        // items would be unreadable.
        return run_job(args, call, Job::Complete, false).await;
    }
    let req = call.single_request(args).await?;
    if args.dry_run {
        return call.print_dry_run(&req, true);
    }
    crate::cost::check_budget(&call.settings, &req, args.max_cost)?;
    if let Some(setup) = &call.tools {
        return stream_with_tools(args, &call, setup, req).await;
    }
    let started = Instant::now();
    let json = args.json.json;
    // A key the server echoes is masked even when split across deltas.
    let mut masker = crate::secrets::StreamMask::default();
    // Each delta is its own JSON line, but all the deltas of one network read go out in
    // one write.
    let shown = |delta: &str, out: &mut String| {
        if delta.is_empty() {
            return;
        }
        if json {
            out.push_str(&json!({"type": "delta", "text": delta}).to_string());
            out.push('\n');
        } else {
            out.push_str(delta);
        }
    };
    // Plain text is masked and written as one piece; `--json` has a line per delta.
    let mut out = String::new();
    let mut sink = |deltas: &Deltas| {
        out.clear();
        if json {
            for delta in deltas.iter() {
                shown(&masker.push(delta), &mut out);
            }
        } else {
            out.push_str(&masker.push(deltas.text()));
        }
        if !out.is_empty() {
            output::out(&out);
        }
        Ok(())
    };
    let sending = call.sending(req.clone());
    let sent = call.send(&req, Some(&mut sink)).await;
    let mut rest = String::new();
    shown(&masker.finish(), &mut rest);
    if !rest.is_empty() {
        output::out(&rest);
    }
    let outcome = match sent {
        Ok(o) => o,
        Err(e) => {
            sending.log(&Err(e.clone()));
            return Err(e);
        }
    };
    let outcome = call.usable_result(std::slice::from_ref(&outcome), started, req.max_tokens);
    sending.log(&outcome);
    // stdout is exactly the text and one newline, whatever the flags: the line is ended
    // before the summary (which would otherwise end it and add a second one).
    if outcome.is_ok() && !json {
        output::out("\n");
    }
    let shown = match &outcome {
        Ok(r) => Some(r),
        Err(e) => e.result.as_deref(),
    };
    if let Some(r) = shown
        && (output::verbose() || output::stderr_is_terminal())
    {
        output::end_open_line();
        output::err_line(&r.summary());
    }
    let result = outcome?;
    if json {
        output::out_line(&result.typed_line());
    }
    Ok(())
}

/// `stream` with tools: each turn's text streamed, then its calls (plain: one JSON line
/// each; `--json`: `tool_call` lines), and with `--run-tools` each tool's `tool_result`
/// line as it finishes; the result line last.
async fn stream_with_tools(
    args: &RequestArgs,
    call: &Call,
    setup: &super::call::ToolSetup,
    req: crate::chat::Request,
) -> Result<()> {
    use super::tool_loop::Event;
    use std::cell::RefCell;
    let json = args.json.json;
    // A key the server echoes is masked even when split across deltas; what the masker
    // holds back is let out at the end of each turn.
    let masker = RefCell::new(crate::secrets::StreamMask::default());
    let shown = |delta: &str, out: &mut String| {
        if delta.is_empty() {
            return;
        }
        if json {
            out.push_str(&json!({"type": "delta", "text": delta}).to_string());
            out.push('\n');
        } else {
            out.push_str(delta);
        }
    };
    let mut out = String::new();
    let mut sink = |deltas: &Deltas| {
        out.clear();
        if json {
            for delta in deltas.iter() {
                shown(&masker.borrow_mut().push(delta), &mut out);
            }
        } else {
            out.push_str(&masker.borrow_mut().push(deltas.text()));
        }
        if !out.is_empty() {
            output::out(&out);
        }
        Ok(())
    };
    let sending = call.sending(req.clone());
    let before = |next: &crate::chat::Request, paid: &crate::result::CallResult| {
        sending.paid(paid);
        let spent = paid.cost_usd.unwrap_or(0.0);
        crate::cost::check_follow_up(&call.settings, next, spent, args.max_cost)
    };
    let mut on_event = |ev: Event<'_>| match ev {
        Event::TurnEnd { text, calls } => {
            let mut rest = String::new();
            shown(&masker.borrow_mut().finish(), &mut rest);
            // Plain: the turn's text ends its line before the call lines or the next turn.
            if !json && !text.is_empty() && calls > 0 {
                rest.push('\n');
            }
            if !rest.is_empty() {
                output::out(&rest);
            }
        }
        Event::Call(c) => {
            if json {
                output::out_line(&c.line(Some("tool_call")));
            } else if !setup.run {
                output::out_line(&c.line(None));
            }
        }
        Event::Result(r) => {
            if json {
                output::out_line(&crate::tools::result_line(r));
            }
        }
    };
    let outcome =
        super::tool_loop::answer(call, setup, req, &before, Some(&mut sink), &mut on_event).await;
    let mut rest = String::new();
    shown(&masker.borrow_mut().finish(), &mut rest);
    if !rest.is_empty() {
        output::out(&rest);
    }
    sending.log(&outcome);
    let ends_in_text = match &outcome {
        Ok(r) => r
            .tool_calls
            .as_ref()
            .is_none_or(|c| c.is_empty() || setup.run),
        Err(_) => false,
    };
    if ends_in_text && !json {
        output::out("\n");
    }
    let shown = match &outcome {
        Ok(r) => Some(r),
        Err(e) => e.result.as_deref(),
    };
    if let Some(r) = shown
        && (output::verbose() || output::stderr_is_terminal())
    {
        output::end_open_line();
        output::err_line(&r.summary());
    }
    let result = outcome?;
    if json {
        output::out_line(&result.typed_line());
    }
    Ok(())
}
