//! `count-tokens`: the input's tokens for a model, offline, streamed in bounded memory.
//!
//! The input is gathered as `complete` gathers it (PROMPT words, each `-f` file, stdin,
//! joined by blank lines). With two or more `-f` files each source is counted on its own,
//! one line each, then the total. `--chat` counts the request around the input (system
//! prompt, the user message, the cookbook's per-message overhead); `--exact` asks the
//! provider where the offline count is only an estimate.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::chat::{Message, Request};
use crate::cli::CountArgs;
use crate::config::{Context, RequestOptions, Settings};
use crate::error::{Error, Result};
use crate::output;
use crate::provider::client::Client;
use crate::tokens::parallel::{self, Source};
use crate::tokens::{Counter, Encoding, default_threads};

/// One source of input text.
#[derive(Debug, Clone)]
pub(super) enum Input {
    Words(String),
    File(PathBuf),
    Stdin,
}

impl Input {
    fn label(&self) -> String {
        match self {
            Input::Words(_) => "<words>".into(),
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
        }
    }

    fn open(&self) -> Result<Source<'static>> {
        let reader: Box<dyn Read + Send> = match self {
            Input::Words(w) => Box::new(std::io::Cursor::new(w.clone().into_bytes())),
            Input::File(p) => Box::new(std::fs::File::open(p).map_err(|e| {
                Error::usage(format!(
                    "cannot read {}: {}",
                    p.display(),
                    crate::input::io_reason(&e)
                ))
            })?),
            Input::Stdin => Box::new(std::io::stdin()),
        };
        let name = match self {
            Input::File(p) => p.display().to_string(),
            _ => "stdin".into(),
        };
        Ok(Source { name, reader })
    }
}

/// The sources in the SPEC's order: words, each file, then stdin when it is not a terminal
/// (or a word is `-`).
pub(super) fn inputs(words: &[String], files: &[PathBuf]) -> Vec<Input> {
    let force_stdin = words.iter().any(|w| w == "-");
    let words: Vec<&str> = words
        .iter()
        .filter(|w| *w != "-")
        .map(String::as_str)
        .collect();
    let mut out = Vec::new();
    if !words.is_empty() {
        out.push(Input::Words(words.join(" ")));
    }
    out.extend(files.iter().cloned().map(Input::File));
    if force_stdin || !std::io::stdin().is_terminal() {
        out.push(Input::Stdin);
    }
    out
}

/// Runs blocking work (reading stdin, counting megabytes) off the async thread, so Ctrl-C
/// (which `main` selects on) still ends the command at once.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("counting failed: {e}"))))
}

/// The whole text of `inputs`, joined as `input::gather` joins them (for requests that
/// must carry it).
pub(super) fn read_all(inputs: &[Input]) -> Result<String> {
    let mut parts = Vec::new();
    for input in inputs {
        let src = input.open()?;
        let bytes = crate::input::read_bounded(src.reader).map_err(|e| {
            Error::usage(format!(
                "cannot read {}: {}",
                src.name,
                crate::input::io_reason(&e)
            ))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| crate::input::not_utf8(&src.name, e.utf8_error().valid_up_to() as u64))?;
        if !text.is_empty() {
            parts.push(text);
        }
    }
    Ok(parts.join("\n\n"))
}

/// The request the input is counted in when there is no prompt file: the `--system` prompt
/// and an empty user message where the input goes. With `--prompt NAME@vN`, `run` builds
/// the prompt file's whole request instead (`counted_request`: system, few-shot turns,
/// the template with the input in place).
fn frame(system: Option<String>, max_tokens: u64) -> Request {
    Request {
        system,
        messages: vec![Message::user_text(String::new())],
        max_tokens,
        ..Default::default()
    }
}

fn with_input(mut req: Request, text: String) -> Request {
    if let Some(m) = req.messages.last_mut() {
        *m = Message::user_text(text);
    }
    req
}

pub async fn run(args: &CountArgs, ctx: &Context) -> Result<()> {
    output::set_verbose(args.verbose.verbose);
    let env = &ctx.env;
    env.warn_problems();
    let prompt = crate::prompts::load_named(
        args.prompt_file.prompt_name.as_deref(),
        args.prompt_file.prompts_dir.as_deref(),
        &args.prompt_file.vars,
        env,
    )?;
    let options = RequestOptions {
        model: (args.model.model.clone())
            .or_else(|| prompt.as_ref().and_then(|p| p.meta.model.clone())),
        provider: args.model.provider.map(Into::into),
        timeout: args.timeout,
        ..Default::default()
    };
    let settings = Settings::resolve(&options, ctx, None)?;
    let target = &settings.targets[0];
    let encoding = args.encoding.as_deref().and_then(Encoding::from_name);
    let counter = Counter::for_model(&target.model, target.kind, encoding)?;
    let threads = args.threads.unwrap_or_else(default_threads);
    let use_endpoint = args.exact && !counter.exact();
    // A prompt file's request is counted whole, as the API would see it.
    let chat = args.chat || use_endpoint || prompt.is_some();
    let frame = frame(args.system.clone(), settings.max_tokens);

    let all = inputs(&args.input.prompt, &args.input.files);
    let per_source = args.input.files.len() >= 2 && prompt.is_none();
    let client = if use_endpoint {
        env.check()?; // the provider's count sends the key
        Some(Client::new(settings.timeout, settings.policy.clone())?)
    } else {
        None
    };
    let mut rows: Vec<(String, u64)> = Vec::new();
    if let Some(p) = &prompt {
        // Rendered in memory: the template places the input among its own text.
        let text = blocking(move || read_all(&all)).await?;
        let req = crate::prompts::counted_request(
            Some(p),
            args.system.clone(),
            &args.prompt_file.vars,
            text,
            settings.max_tokens,
        )?;
        let tokens = match &client {
            Some(client) => client.count_tokens(target, &req).await?,
            None => counter.tokens(counter.request_units(&req, threads).units),
        };
        rows.push((p.label(), tokens));
    } else {
        let groups: Vec<(String, Vec<Input>)> = if per_source {
            all.into_iter().map(|i| (i.label(), vec![i])).collect()
        } else {
            vec![("-".into(), all)]
        };

        for (label, group) in groups {
            let optional = !matches!(group.first(), Some(Input::File(_)));
            let (tokens, empty) = match &client {
                Some(client) => {
                    let text = blocking(move || read_all(&group)).await?;
                    if text.is_empty() {
                        (0, true)
                    } else {
                        let req = with_input(frame.clone(), text);
                        (client.count_tokens(target, &req).await?, false)
                    }
                }
                None => {
                    let sources = group.iter().map(Input::open).collect::<Result<Vec<_>>>()?;
                    let t = blocking(move || {
                        let units = move |c: &[u8]| counter.chunk_units(c);
                        parallel::count_sources(sources, threads, &units)
                    })
                    .await?;
                    let overhead = if chat {
                        counter.request_units(&frame, threads).units
                    } else {
                        0
                    };
                    (counter.tokens(t.units + overhead), t.bytes == 0)
                }
            };
            // Empty input counts as 0 (the SPEC): nothing would be sent. An empty stdin or
            // words source adds no line of its own.
            let tokens = if empty { 0 } else { tokens };
            if per_source && empty && optional {
                continue;
            }
            rows.push((label, tokens));
        }
    }

    // A pathological piece (one 64 KiB "word") was counted in windows: not exact.
    let windowed = !use_endpoint && crate::tokens::approximated();
    let exact = use_endpoint || (counter.exact() && !chat && !windowed);
    let method = if use_endpoint {
        format!("{}_count_tokens", target.kind.name())
    } else if windowed {
        format!("{}+windowed", counter.method(chat))
    } else {
        counter.method(chat).to_string()
    };
    if windowed {
        output::err_line(
            "llmpipe: note: the input has a run of over 64 KiB with no word boundary; it was counted in windows, so the count may differ from tiktoken's by a few tokens per 64 KiB",
        );
    }
    if !counter.exact() && !use_endpoint {
        output::err_line(&format!(
            "llmpipe: note: an estimate for {} ({method}): its tokenizer is not public; --exact asks the provider",
            target.model
        ));
    } else if chat && !use_endpoint {
        output::err_line(
            "llmpipe: note: includes the chat format overhead from OpenAI's cookbook (3 tokens per message, 3 for the reply): an approximation",
        );
    }

    let total: u64 = rows.iter().map(|(_, n)| n).sum();
    let model = if args.encoding.is_some() && args.model.model.is_none() {
        Value::Null
    } else {
        json!(target.model)
    };
    if args.json.json {
        let mut obj = json!({
            "model": model,
            "encoding": counter.encoding().map(Encoding::name),
            "tokens": total,
            "exact": exact,
            "method": method,
        });
        if per_source {
            obj["files"] = rows
                .iter()
                .map(|(f, n)| json!({"file": f, "tokens": n}))
                .collect();
        }
        output::out_line(&obj.to_string());
    } else if per_source {
        for (label, n) in &rows {
            output::out_line(&format!("{n}\t{label}"));
        }
        output::out_line(&format!("{total}\ttotal"));
    } else {
        output::out_line(&total.to_string());
    }
    Ok(())
}
