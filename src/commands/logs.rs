//! `logs` and `logs cost`: what was asked, answered and spent, from the call log.

use serde_json::{Value, json};

use crate::cli::{CostBy, LogFilter, LogsAction, LogsArgs};
use crate::config::Context;
use crate::error::{Error, Result};
use crate::output;
use crate::store::{self, Filter};

pub fn run(args: &LogsArgs, ctx: &Context) -> Result<()> {
    // The filters are checked before anything is read: a bad one is a usage error even
    // when nothing was logged yet.
    filter(match &args.action {
        Some(LogsAction::Cost { filter, .. }) => filter,
        None => &args.filter,
    })?;
    ctx.env.warn_problems();
    let path = crate::config::log_db(&ctx.env, ctx.file()?)
        .ok_or_else(|| Error::config("no call log: set HOME or XDG_DATA_HOME"))?;
    if !path.exists() && !store::spool_path(&path).exists() {
        output::warn(&format!(
            "no calls logged yet ({} does not exist)",
            path.display()
        ));
        return Ok(());
    }
    let conn = store::open_for_reading(&path).map_err(Error::config)?;
    let read_err =
        |e: rusqlite::Error| Error::config(format!("cannot read {}: {e}", path.display()));
    match &args.action {
        None => {
            let rows = store::rows(&conn, &filter(&args.filter)?, args.count).map_err(read_err)?;
            if args.json.json {
                for r in &rows {
                    output::out_line(&r.output);
                }
                return Ok(());
            }
            output::out_line(&format!(
                "{:>5}  {:20}  {:26}  {:>13}  {:>10}  {:>4}  {:20}  REPLY",
                "ID", "TIME", "MODEL", "TOKENS IN/OUT", "COST", "EXIT", "CONVERSATION"
            ));
            for r in &rows {
                let text = match (&r.reply, &r.error) {
                    (_, Some(e)) => format!("error: {e}"),
                    (Some(t), None) => t.clone(),
                    (None, None) => String::new(),
                };
                // Masked before it is cut short (rows logged before keys were masked).
                let text = crate::secrets::mask(&text);
                let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let mut short: String = one_line.chars().take(60).collect();
                if text.contains(super::record::LOG_CUT_MARK) {
                    short.push_str(" [cut in the log]");
                }
                let model = match (&r.model, &r.prompt) {
                    (Some(m), Some(p)) => format!("{m} ({p})"),
                    (Some(m), None) => m.clone(),
                    (None, _) => "-".into(),
                };
                output::out_line(&format!(
                    "{:>5}  {:20}  {:26}  {:>13}  {:>10}  {:>4}  {:20}  {short}{}",
                    r.id,
                    r.time,
                    model,
                    format!("{}/{}", r.input_tokens, r.output_tokens),
                    r.cost_usd.map_or("-".into(), crate::cost::usd_text),
                    r.exit_code,
                    r.conversation_id,
                    if r.cached { " (cached)" } else { "" }
                ));
            }
            Ok(())
        }
        Some(LogsAction::Cost { by, filter: f }) => {
            let by = match by {
                CostBy::Model => "model",
                CostBy::Prompt => "prompt",
                CostBy::Day => "day",
            };
            let groups = store::cost(&conn, &filter(f)?, by).map_err(read_err)?;
            let total = groups.iter().fold((0, 0, 0, 0.0, 0), |t, g| {
                (
                    t.0 + g.calls,
                    t.1 + g.input_tokens,
                    t.2 + g.output_tokens,
                    t.3 + g.cost_usd,
                    t.4 + g.cost_unknown,
                )
            });
            let round = |c: f64| (c * 1e10).round() / 1e10;
            // A sum that misses calls of unknown price is not the cost: `cost_usd` is null
            // then, and `known_cost_usd` holds what is known.
            let cost = |c: f64, unknown: i64| {
                if unknown > 0 {
                    json!({"cost_usd": null, "known_cost_usd": round(c), "cost_unknown_calls": unknown})
                } else {
                    json!({"cost_usd": round(c)})
                }
            };
            if args.json.json {
                let rows: Vec<Value> = groups
                    .iter()
                    .map(|g| {
                        let mut row = json!({by: g.key, "calls": g.calls, "input_tokens": g.input_tokens,
                               "output_tokens": g.output_tokens});
                        if let (Some(r), Value::Object(c)) = (row.as_object_mut(), cost(g.cost_usd, g.cost_unknown)) {
                            r.extend(c);
                        }
                        row
                    })
                    .collect();
                let mut t =
                    json!({"calls": total.0, "input_tokens": total.1, "output_tokens": total.2});
                if let (Some(r), Value::Object(c)) = (t.as_object_mut(), cost(total.3, total.4)) {
                    r.extend(c);
                }
                output::out_line(
                    &json!({
                        "by": by,
                        "groups": rows,
                        "total": t,
                    })
                    .to_string(),
                );
                return Ok(());
            }
            let shown = |c: f64, unknown: i64| {
                let s = crate::cost::usd_text(c);
                let s = s.trim_start_matches('$');
                if unknown > 0 {
                    format!("≥ {s} (+{unknown} unknown)")
                } else {
                    s.to_string()
                }
            };
            let width = groups.iter().map(|g| g.key.len()).max().unwrap_or(5).max(5);
            output::out_line(&format!(
                "{:width$}  {:>6}  {:>12}  {:>12}  {:>12}",
                by.to_uppercase(),
                "CALLS",
                "INPUT",
                "OUTPUT",
                "COST USD"
            ));
            for g in &groups {
                output::out_line(&format!(
                    "{:width$}  {:>6}  {:>12}  {:>12}  {:>12}",
                    g.key,
                    g.calls,
                    g.input_tokens,
                    g.output_tokens,
                    shown(g.cost_usd, g.cost_unknown)
                ));
            }
            output::out_line(&format!(
                "{:width$}  {:>6}  {:>12}  {:>12}  {:>12}",
                "total",
                total.0,
                total.1,
                total.2,
                shown(total.3, total.4)
            ));
            if total.4 > 0 {
                output::warn(&format!(
                    "cost unknown for {} call(s): their models have no price (add them under [prices] in llmpipe.toml)",
                    total.4
                ));
            }
            Ok(())
        }
    }
}

fn filter(f: &LogFilter) -> Result<Filter> {
    let since = match &f.since {
        Some(s) => Some(store::parse_since(s).ok_or_else(|| {
            Error::usage(format!(
                "--since {s}: give a date (2026-11-01) or an age (30m, 2h, 7d, 1w) since 1970"
            ))
        })?),
        None => None,
    };
    if f.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
        return Err(Error::usage(
            "-q/--query is empty: give the words to search for",
        ));
    }
    Ok(Filter {
        model: f.model.clone(),
        prompt: f.prompt.clone(),
        since,
        conversation: f.conversation.clone(),
        text: f.query.clone(),
    })
}
