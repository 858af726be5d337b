//! `estimate-cost`: what the request `complete` would send will cost, for one model or a
//! comparison, from the dated price table (or the config file's prices).

use serde_json::Value;

use crate::cli::EstimateArgs;
use crate::config::{Context, RequestOptions, Settings};
use crate::cost::{self, Estimate, InputCount};
use crate::error::{Error, Result};
use crate::models;
use crate::output;
use crate::provider::client::Client;
use crate::tokens::default_threads;

use super::count_tokens::{blocking, inputs, read_all};

pub async fn run(args: &EstimateArgs, ctx: &Context) -> Result<()> {
    output::set_verbose(args.verbose.verbose);
    let env = &ctx.env;
    env.warn_problems();
    let prompt = crate::prompts::load_named(
        args.prompt_file.prompt_name.as_deref(),
        args.prompt_file.prompts_dir.as_deref(),
        &args.prompt_file.vars,
        env,
    )?;
    let meta = prompt.as_ref().map(|p| &p.meta);
    let options = RequestOptions {
        model: (args.model.model.clone()).or_else(|| meta.and_then(|m| m.model.clone())),
        provider: args.model.provider.map(Into::into),
        timeout: args.timeout,
        max_tokens: args.max_tokens.or_else(|| meta.and_then(|m| m.max_tokens)),
        // Checked against the model here (exit 2); with --compare, per model below.
        effort: args.effort.filter(|_| args.compare.is_none()),
        ..Default::default()
    };
    // The config file and the environment are read once (the context), for every model
    // compared: a model only adds its own endpoint and key.
    let base = Settings::resolve(&options, ctx, None)?;
    let output_tokens = args.output_tokens.unwrap_or(base.max_tokens);
    let sources = inputs(&args.input.prompt, &args.input.files);
    let text = blocking(move || read_all(&sources)).await?;
    // The request `complete` would send: a prompt file's system prompt, few-shot turns and
    // templated user message, or the input alone.
    let req = crate::prompts::counted_request(
        prompt.as_ref(),
        args.system.clone(),
        &args.prompt_file.vars,
        text.clone(),
        output_tokens,
    )?;

    let models: Vec<String> = match args.compare.as_deref().map(str::trim) {
        None => vec![base.targets[0].model.clone()],
        Some("all") => models::MODELS.iter().map(|m| m.id.to_string()).collect(),
        Some(list) => {
            let mut names = vec![];
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
            if names.is_empty() {
                return Err(Error::usage(
                    "--compare needs model names separated by commas, or `all`",
                ));
            }
            names
        }
    };

    let threads = default_threads();
    let mut client = None;
    let mut estimates: Vec<Estimate> = Vec::new();
    for name in &models {
        let compared;
        let target = if args.compare.is_some() {
            compared = ctx.target(name, None)?;
            &compared
        } else {
            &base.targets[0]
        };
        // The price first: an unpriced model is the error worth reporting.
        cost::price_of(&base.pricing, &target.model)?;
        if let Some(level) = args.effort
            && args.compare.is_some()
            && let Err(e) = crate::effort::check(level, std::slice::from_ref(target))
        {
            // A comparison leaves out the models the level does not apply to, saying so.
            output::err_line(&format!("llmpipe: note: left out: {}", e.message));
            continue;
        }
        // The output cap the request would carry: `--effort` may raise it for a thinking
        // budget (an explicit --output-tokens is taken as given).
        let output_tokens = match args.output_tokens {
            Some(n) => n,
            None => crate::effort::max_tokens(
                target.kind,
                &target.model,
                &crate::chat::Request {
                    max_tokens: output_tokens,
                    effort: args.effort,
                    ..Default::default()
                },
            ),
        };
        let (counter, _) = cost::estimate_counter(&target.model, target.kind);
        let input = if text.is_empty() {
            // Empty input counts as 0 tokens (the SPEC): there is no request to price.
            InputCount {
                tokens: 0,
                exact: counter.exact(),
                method: counter.method(true).to_string(),
            }
        } else if args.exact && !counter.exact() {
            let client = match &client {
                Some(c) => c,
                None => {
                    env.check()?; // the provider's count sends the key
                    client.insert(Client::new(base.timeout, base.policy.clone())?)
                }
            };
            InputCount {
                tokens: client.count_tokens(target, &req).await?,
                exact: true,
                method: format!("{}_count_tokens", target.kind.name()),
            }
        } else {
            InputCount::offline(&target.model, target.kind, &req, threads).0
        };
        estimates.push(cost::estimate(
            &target.model,
            target.kind,
            &base.pricing,
            input,
            output_tokens,
        )?);
    }
    // Every model compared was left out: nothing is priced, which is no answer.
    if let Some(level) = args.effort
        && estimates.is_empty()
    {
        return Err(Error::usage(format!(
            "--effort {level} applies to none of the models compared ({})",
            models.join(", ")
        ))
        .with_hint("drop --effort, or compare reasoning models that take the level"));
    }
    estimates.sort_by(|a, b| {
        a.total_cost
            .total_cmp(&b.total_cost)
            .then_with(|| a.model.cmp(&b.model))
    });

    if args.json.json {
        let out = if args.compare.is_some() {
            Value::Array(estimates.iter().map(Estimate::to_json).collect())
        } else {
            estimates[0].to_json()
        };
        output::out_line(&out.to_string());
    } else {
        print_table(&estimates);
    }
    Ok(())
}

/// A small table: estimated input counts are marked `~`, as is anything derived from them.
fn print_table(rows: &[Estimate]) {
    // Up to 8 decimals, trailing zeros trimmed: small requests cost fractions of a cent.
    let usd = |x: f64| {
        let s = format!("{x:.8}");
        let s = s.trim_end_matches('0');
        let s = if s.ends_with('.') {
            format!("{s}00")
        } else {
            s.to_string()
        };
        format!("${s}")
    };
    let mut lines = vec![[
        "MODEL".to_string(),
        "INPUT TOK".into(),
        "OUTPUT TOK".into(),
        "INPUT".into(),
        "OUTPUT".into(),
        "TOTAL".into(),
        "CACHED INPUT".into(),
        "BATCH TOTAL".into(),
        "PRICES AS OF".into(),
    ]];
    for e in rows {
        let mark = if e.input.exact { "" } else { "~" };
        lines.push([
            e.model.clone(),
            format!("{mark}{}", e.input.tokens),
            e.output_tokens.to_string(),
            usd(e.input_cost),
            usd(e.output_cost),
            usd(e.total_cost),
            usd(e.cached_input_cost),
            e.batch_total_cost.map_or("-".into(), usd),
            e.prices_as_of.clone().unwrap_or_else(|| "config".into()),
        ]);
    }
    // The first and last columns are text; the numbers between are right-aligned.
    output::table(&lines, |i, n| i != 0 && i + 1 != n);
    if rows.iter().any(|e| !e.input.exact) {
        let methods: Vec<&str> = {
            let mut m: Vec<&str> = rows
                .iter()
                .filter(|e| !e.input.exact)
                .map(|e| e.input.method.as_str())
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        // Output is priced at the cap each request would carry (`--effort` may raise it).
        let output = if rows
            .iter()
            .all(|e| e.output_tokens == rows[0].output_tokens)
        {
            format!("{} tokens", rows[0].output_tokens)
        } else {
            "each row's OUTPUT TOK (the cap its request would carry)".to_string()
        };
        output::err_line(&format!(
            "llmpipe: note: ~ marks estimated input tokens ({}); output is priced at {output}",
            methods.join(", "),
        ));
    }
}
