//! `classify`: one label from a fixed set (the work is in `job.rs`).

use super::{Call, Job, run_job};
use crate::cli::ClassifyArgs;
use crate::error::{Error, Result};

pub async fn run(args: &ClassifyArgs) -> Result<()> {
    let call = Call::new(&args.request, "classify")?;
    let labels: Vec<String> = if args.labels.is_empty() {
        call.prompt
            .as_ref()
            .and_then(|p| p.meta.labels.clone())
            .ok_or_else(|| {
                Error::usage("classify needs labels: --labels a,b,c or a prompt file with labels")
            })?
    } else {
        args.labels.iter().map(|l| l.trim().to_string()).collect()
    };
    if labels.iter().any(String::is_empty) {
        return Err(Error::usage("--labels: a label is empty"));
    }
    let mut lower: Vec<String> = labels.iter().map(|l| l.to_lowercase()).collect();
    lower.sort();
    lower.dedup();
    if lower.len() != labels.len() {
        return Err(Error::usage(
            "--labels: labels must be unique (ignoring case)",
        ));
    }
    run_job(&args.request, call, Job::Classify { labels }, false).await
}
