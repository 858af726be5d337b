//! `complete` and `stream`: one request, the reply whole or as it arrives.
//! (`complete`'s work is the `Job::Complete` in `job.rs`; streaming is here.)

use std::time::Instant;

use serde_json::json;

use super::job::usable;
use super::{Call, Job, run_job};
use crate::cli::RequestArgs;
use crate::error::Result;
use crate::output;

pub async fn run(args: &RequestArgs, stream: bool) -> Result<()> {
    let call = Call::new(args, if stream { "stream" } else { "complete" })?;
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
    let started = Instant::now();
    let json = args.json;
    let mut sink = |delta: &str| {
        if json {
            output::out_line(&json!({"type": "delta", "text": delta}).to_string());
        } else {
            output::out(delta);
        }
        Ok(())
    };
    let sending = call.sending(req.clone());
    let outcome = match call.send(&req, Some(&mut sink)).await {
        Ok(o) => o,
        Err(e) => {
            sending.log(&Err(e.clone()));
            return Err(e);
        }
    };
    let usable = usable(&outcome.response, req.max_tokens);
    let result = call.result(std::slice::from_ref(&outcome), started);
    sending.log(&usable.clone().map(|()| result.clone()).map_err(|mut e| {
        e.result = Some(Box::new(result.clone()));
        e
    }));
    // `type` first, so each JSON line says what it is at a glance.
    let mut typed = json!({"type": "result"});
    if let (Some(t), Some(r)) = (typed.as_object_mut(), result.as_object()) {
        t.extend(r.clone());
    }
    // stdout is exactly the text and one newline, whatever the flags: the line is ended
    // before the summary (which would otherwise end it and add a second one).
    if usable.is_ok() && !json {
        output::out("\n");
    }
    if output::verbose() || output::stderr_is_terminal() {
        super::summary(&typed);
    }
    if let Err(mut e) = usable {
        e.result = Some(Box::new(typed));
        return Err(e);
    }
    if json {
        output::out_line(&typed.to_string());
    }
    Ok(())
}
