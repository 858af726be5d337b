//! `models`: the model table (encodings, tokenizers, limits) with prices from the
//! genai-prices database (or the config file's overrides), the config file's extra models,
//! and what each alias means. `models update` fetches the database's current data file.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{ModelsAction, ModelsArgs, ModelsUpdateArgs};
use crate::config::Context;
use crate::error::{Error, Kind, Result};
use crate::models::{self, MODELS, Price};
use crate::output;
use crate::prices;
use crate::provider::client::Client;
use crate::provider::retry;

pub async fn run(args: &ModelsArgs, ctx: &Context) -> Result<()> {
    ctx.env.warn_problems();
    match &args.action {
        Some(ModelsAction::Update(update_args)) => update(update_args, args.json.json, ctx).await,
        None => list(args, ctx),
    }
}

/// Every alias: the config file's, then the built-in ones it does not redefine.
fn aliases(ctx: &Context) -> Result<Vec<(String, String)>> {
    let file = ctx.file()?;
    let mut all: Vec<(String, String)> = file
        .aliases
        .iter()
        .map(|(a, m)| (a.clone(), m.clone()))
        .collect();
    all.sort();
    for (a, m) in models::ALIASES {
        if !file.aliases.contains_key(*a) {
            all.push((a.to_string(), m.to_string()));
        }
    }
    Ok(all)
}

fn price_fields(price: Option<&Price>, origin: &prices::Origin) -> Value {
    let Some(price) = price else {
        return json!({
            "priced": false,
            "input_per_million": null,
            "cached_input_per_million": null,
            "cache_write_per_million": null,
            "cache_write_1h_per_million": null,
            "output_per_million": null,
            "long_context": null,
            "batch_input_per_million": null,
            "batch_output_per_million": null,
            "price_source": null,
            "prices_as_of": null,
        });
    };
    let r = price.rates(1);
    let (write, write_1h) = price.cache_write_rates(1);
    // Batch rates below any long-context threshold: 1,000 tokens of input, then of output.
    let batch = |input: u64, output: u64| {
        let u = crate::chat::Usage {
            input_tokens: input,
            output_tokens: output,
            ..Default::default()
        };
        price.parts(&u, true)
    };
    let from_db = !price.is_config();
    // The data the price came from (the bundled data when a damaged download fell back).
    let origin = price.origin().unwrap_or(origin);
    json!({
        "priced": true,
        "input_per_million": r.input,
        "cached_input_per_million": r.cached_input,
        "cache_write_per_million": write,
        "cache_write_1h_per_million": write_1h,
        "output_per_million": r.output,
        "long_context": price.long_context().map(|(above, t)| json!({
            "above_input_tokens": above,
            "input_per_million": t.input,
            "cached_input_per_million": t.cached_input,
            "output_per_million": t.output,
        })),
        "batch_input_per_million": if from_db { batch(1_000, 0).map(|(i, _)| (i * 1e12).round() / 1e9) } else { None },
        "batch_output_per_million": if from_db { batch(1, 1_000).map(|(_, o)| (o * 1e12).round() / 1e9) } else { None },
        "price_source": if from_db { format!("genai-prices, {}", origin.describe()) } else { "config file".into() },
        "prices_as_of": if from_db { Some(origin.as_of()) } else { None },
    })
}

fn list(args: &ModelsArgs, ctx: &Context) -> Result<()> {
    let pricing = ctx.pricing()?;
    let origin = &pricing.db().origin;
    let aliases = aliases(ctx)?;
    let mut rows: Vec<Value> = Vec::new();
    let mut push = |row: Value, price: Value| {
        let mut row = row;
        if let (Some(r), Value::Object(p)) = (row.as_object_mut(), price) {
            r.extend(p);
        }
        rows.push(row);
    };
    for m in MODELS {
        let price = pricing.lookup(&[m.id]);
        let names: Vec<&str> = aliases
            .iter()
            .filter(|(_, id)| id == m.id)
            .map(|(a, _)| a.as_str())
            .collect();
        push(
            json!({
                "model": m.id,
                "provider": m.provider.name(),
                "aliases": names,
                "encoding": m.encoding.map(|e| e.name()),
                "tokenizer": m.claude_tokenizer.map(|t| format!("{} (chars/{})", t.name, t.chars_per_token_x10 as f64 / 10.0)),
                "context_window": m.context_window,
                "max_output": m.max_output,
                "reasoning": m.reasoning,
            }),
            price_fields(price.as_ref(), origin),
        );
    }
    for name in pricing.configured() {
        if models::find(name).is_some() {
            continue;
        }
        let names: Vec<&str> = aliases
            .iter()
            .filter(|(_, id)| id == name)
            .map(|(a, _)| a.as_str())
            .collect();
        push(
            json!({
                "model": name,
                "provider": models::infer_provider(name).name(),
                "aliases": names,
                "encoding": null,
                "tokenizer": null,
                "context_window": null,
                "max_output": null,
                "reasoning": null,
            }),
            price_fields(pricing.lookup(&[name]).as_ref(), origin),
        );
    }
    if args.json.json {
        output::out_line(&Value::Array(rows).to_string());
        return Ok(());
    }
    let header = [
        "MODEL",
        "PROVIDER",
        "TOKENIZER",
        "CONTEXT",
        "MAX OUT",
        "IN $/M",
        "CACHED $/M",
        "WRITE $/M",
        "OUT $/M",
        "LONG CONTEXT",
        "ALIASES",
    ];
    let num = |v: &Value| match v {
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    let usd = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
    let text = |v: &Value| v.as_str().map_or("-".to_string(), str::to_string);
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in &rows {
        let aliases: Vec<&str> = r["aliases"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let tier = &r["long_context"];
        lines.push(vec![
            text(&r["model"]),
            text(&r["provider"]),
            r["encoding"]
                .as_str()
                .or(r["tokenizer"].as_str())
                .unwrap_or("(estimated)")
                .to_string(),
            num(&r["context_window"]),
            num(&r["max_output"]),
            usd(&r["input_per_million"]),
            usd(&r["cached_input_per_million"]),
            usd(&r["cache_write_per_million"]),
            usd(&r["output_per_million"]),
            if tier.is_null() {
                "-".into()
            } else {
                format!(
                    ">{}: {}/{}",
                    tier["above_input_tokens"],
                    usd(&tier["input_per_million"]),
                    usd(&tier["output_per_million"])
                )
            },
            if aliases.is_empty() {
                "-".into()
            } else {
                aliases.join(",")
            },
        ]);
    }
    output::table(&lines, |i, _| (3..=8).contains(&i));
    let mut meaning = vec![vec!["ALIAS".to_string(), "MODEL".to_string()]];
    meaning.extend(aliases.iter().map(|(a, m)| vec![a.clone(), m.clone()]));
    output::out_line("");
    output::table(&meaning, |_, _| false);
    // Rows a damaged downloaded file left to the bundled data.
    let ours = format!("genai-prices, {}", origin.describe());
    let fell_back = rows
        .iter()
        .filter(|r| {
            r["price_source"]
                .as_str()
                .is_some_and(|s| s.starts_with("genai-prices") && s != ours)
        })
        .count();
    if fell_back > 0 {
        let bundled = prices::Origin::Bundled;
        output::out_line(&format!(
            "\nprices: genai-prices database, {} is damaged: {fell_back} model(s) priced from the {} data, prices as of {}; run `llmpipe models update` again",
            origin.describe(),
            bundled.describe(),
            bundled.as_of()
        ));
        return Ok(());
    }
    output::out_line(&format!(
        "\nprices: genai-prices database, {}, prices as of {}; batch rates and 1-hour cache writes in --json; `llmpipe models update` fetches the current data",
        origin.describe(),
        origin.as_of()
    ));
    Ok(())
}

/// `models update`: fetch, check, and atomically install the price data.
async fn update(args: &ModelsUpdateArgs, json_out: bool, ctx: &Context) -> Result<()> {
    let Some(path) = prices::data_file(&ctx.env) else {
        return Err(Error::config(
            "llmpipe has no data directory: set XDG_DATA_HOME or HOME",
        ));
    };
    let source = args.from.as_deref().unwrap_or(prices::REMOTE_DATA_URL);
    let remote = source.starts_with("http://") || source.starts_with("https://");
    let bytes = if remote {
        if !args.timeout.is_finite() || args.timeout <= 0.0 {
            return Err(Error::usage(format!(
                "--timeout must be a number of seconds above 0, not {}",
                args.timeout
            )));
        }
        let policy = retry::Policy {
            retries: args.retries,
            ..retry::Policy::default()
        };
        let client = Client::new(Duration::from_secs_f64(args.timeout.min(86_400.0)), policy)?;
        client.get(source, "price data").await?
    } else {
        let file = source.strip_prefix("file://").unwrap_or(source);
        read_bounded(file)?
    };
    let compact = prices::compact(&bytes).map_err(|e| {
        let kind = if remote {
            Kind::Unavailable
        } else {
            Kind::Usage
        };
        Error::new(
            kind,
            format!(
                "{} is not usable genai-prices data ({e}): nothing was changed",
                crate::secrets::redact_url(source)
            ),
        )
        .with_hint(
            "check --from: it must be the genai-prices v2 data file (prices/new_data/v2/data.json)",
        )
    })?;
    let calc = prices::validate(&compact).map_err(|e| Error::internal(e.to_string()))?;
    let counts: Vec<(String, usize)> = prices::PROVIDERS
        .iter()
        .map(|id| {
            let n = calc
                .providers()
                .filter(|p| p.id() == *id)
                .map(|p| p.models().count())
                .sum();
            (id.to_string(), n)
        })
        .collect();
    write_atomically(&path, &compact)?;
    let date = crate::store::rfc3339(std::time::SystemTime::now())[..10].to_string();
    if json_out {
        output::out_line(
            &json!({
                "updated": true,
                "path": path.display().to_string(),
                "source": crate::secrets::redact_url(source),
                "date": date,
                "models": counts.iter().map(|(p, n)| (p.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            })
            .to_string(),
        );
    } else {
        output::out_line(&format!(
            "price data updated from {}: {} OpenAI and {} Anthropic models, saved to {} (used from now on)",
            crate::secrets::redact_url(source),
            counts[0].1,
            counts[1].1,
            path.display()
        ));
    }
    Ok(())
}

/// A local data file, read up to the size an API reply may have (a device or a huge file
/// is refused, not read into memory).
fn read_bounded(file: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let limit = crate::provider::client::MAX_RESPONSE_BYTES;
    let unreadable =
        |e: std::io::Error| Error::usage(format!("cannot read the price data file {file}: {e}"));
    // A FIFO or a socket would block the open (for ever, with no writer): refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(file).map_err(unreadable)?.file_type();
        if kind.is_fifo() || kind.is_socket() {
            return Err(Error::usage(format!(
                "cannot read the price data file {file}: a pipe or socket, not a regular file"
            )));
        }
    }
    let mut data = Vec::new();
    std::fs::File::open(file)
        .map_err(unreadable)?
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    if data.len() > limit {
        return Err(Error::usage(format!(
            "the price data file {file} is larger than {} MiB: not a genai-prices data file",
            limit >> 20
        )));
    }
    Ok(data)
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so
/// a reader sees the old file or the new one, never half of one.
fn write_atomically(path: &std::path::Path, data: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::config(format!(
            "cannot write the price data to {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
