//! `models`: the model table (encodings, limits, prices, sources, check dates), with the
//! config file's price overrides applied and its extra models added.

use serde_json::{Value, json};

use crate::cli::ModelsArgs;
use crate::config::Context;
use crate::error::Result;
use crate::models::{self, MODELS};
use crate::output;

pub fn run(args: &ModelsArgs, ctx: &Context) -> Result<()> {
    ctx.env.warn_problems();
    // Prices come from the config file and the table alone: no endpoint, key or cache.
    let pricing = ctx.pricing()?;
    let mut rows: Vec<Value> = Vec::new();
    for m in MODELS {
        let configured = pricing.overrides(m.id);
        let price = pricing.lookup(&[m.id]).unwrap_or(m.price);
        let aliases: Vec<&str> = models::ALIASES
            .iter()
            .filter(|(_, id)| *id == m.id)
            .map(|(a, _)| *a)
            .collect();
        rows.push(json!({
            "model": m.id,
            "provider": m.provider.name(),
            "aliases": aliases,
            "encoding": m.encoding.map(|e| e.name()),
            "context_window": m.context_window,
            "max_output": m.max_output,
            "reasoning": m.reasoning,
            "input_per_million": price.input,
            "cached_input_per_million": price.cached_input,
            "output_per_million": price.output,
            "long_context": price.long_context.map(|t| json!({
                "above_input_tokens": t.above, "input_per_million": t.input, "output_per_million": t.output,
            })),
            "batch_discount": 0.5,
            "price_source": if configured { "config file" } else { m.source },
            "checked": if configured { None } else { Some(m.checked) },
        }));
    }
    for name in pricing.configured() {
        if models::find(name).is_some() {
            continue;
        }
        let Some(price) = pricing.lookup(&[name]) else {
            continue;
        };
        rows.push(json!({
            "model": name,
            "provider": models::infer_provider(name).name(),
            "aliases": [],
            "encoding": null,
            "context_window": null,
            "max_output": null,
            "reasoning": null,
            "input_per_million": price.input,
            "cached_input_per_million": price.cached_input,
            "output_per_million": price.output,
            "long_context": null,
            "batch_discount": null,
            "price_source": "config file",
            "checked": null,
        }));
    }
    if args.json.json {
        output::out_line(&Value::Array(rows).to_string());
        return Ok(());
    }
    let header = [
        "MODEL",
        "PROVIDER",
        "ENCODING",
        "CONTEXT",
        "MAX OUT",
        "IN $/M",
        "CACHED $/M",
        "OUT $/M",
        "CHECKED",
        "ALIASES",
        "SOURCE",
    ];
    let num = |v: &Value| match v {
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    let text = |v: &Value| v.as_str().map_or("-".to_string(), str::to_string);
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in &rows {
        let aliases: Vec<&str> = r["aliases"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        lines.push(vec![
            text(&r["model"]),
            text(&r["provider"]),
            r["encoding"].as_str().unwrap_or("(estimated)").to_string(),
            num(&r["context_window"]),
            num(&r["max_output"]),
            format!("{:.3}", r["input_per_million"].as_f64().unwrap_or(0.0)),
            format!(
                "{:.3}",
                r["cached_input_per_million"].as_f64().unwrap_or(0.0)
            ),
            format!("{:.3}", r["output_per_million"].as_f64().unwrap_or(0.0)),
            text(&r["checked"]),
            if aliases.is_empty() {
                "-".into()
            } else {
                aliases.join(",")
            },
            text(&r["price_source"]),
        ]);
    }
    output::table(&lines, |i, _| (3..=7).contains(&i));
    Ok(())
}
