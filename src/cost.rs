//! What a request will cost, before it is sent: `estimate-cost` and the `--max-cost` guard.
//!
//! Input tokens come from [`crate::tokens`] over the neutral [`Request`] (exact tiktoken
//! counts plus the cookbook's chat overhead for OpenAI, characters over the Claude tokenizer
//! generation's ratio for Anthropic (`models::ClaudeTokenizer`), or the
//! provider's own count), output tokens are what the caller says (`--max-tokens` at most).
//! Prices come from the genai-prices database or the config file. The `cost_usd` of a result
//! is not computed here: it always comes from the usage the provider reports ([`Price::cost`]).

use serde_json::{Value, json};

use crate::chat::Request;
use crate::config::{Pricing, Settings};
use crate::error::{Error, Kind, Result};
use crate::models::{Price, Rates};
use crate::output;
use crate::provider::ProviderKind;
use crate::tokens::{Counter, Encoding};

/// A request's input tokens and how they were counted.
#[derive(Debug, Clone, PartialEq)]
pub struct InputCount {
    pub tokens: u64,
    pub exact: bool,
    pub method: String,
}

/// The counter for pricing `model`: its own, else (a model priced only in the config file,
/// say a local one) `o200k_base`, as the OpenAI cookbook assumes for unknown models; the
/// method then says so.
pub fn estimate_counter(model: &str, provider: ProviderKind) -> (Counter, bool) {
    match Counter::for_model(model, provider, None) {
        Ok(c) => (c, false),
        Err(_) => (Counter::Tiktoken(Encoding::O200kBase), true),
    }
}

impl InputCount {
    /// Offline: the counter over the whole request (system + messages, chat overhead
    /// included, so never exact).
    pub fn offline(
        model: &str,
        provider: ProviderKind,
        req: &Request,
        threads: usize,
    ) -> (InputCount, usize) {
        let (counter, assumed) = estimate_counter(model, provider);
        let c = counter.request_units(req, threads);
        let method = counter.method(true);
        let count = InputCount {
            tokens: counter.tokens(c.units),
            exact: false,
            method: if assumed {
                format!("{method} (o200k_base assumed)")
            } else {
                method.to_string()
            },
        };
        (count, c.images)
    }
}

/// One model's estimate, in the SPEC's shape plus the cached-input and batch figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub model: String,
    pub provider: ProviderKind,
    pub input: InputCount,
    pub output_tokens: u64,
    pub rates: Rates,
    pub input_cost: f64,
    pub output_cost: f64,
    pub total_cost: f64,
    /// The input cost if every input token were a cache hit.
    pub cached_input_cost: f64,
    /// At the database's batch rates; `None` for models priced only by the config file (an
    /// OpenAI-compatible server may have no batch API).
    pub batch_total_cost: Option<f64>,
    /// The date of the price data (see [`crate::prices::Db::as_of`]); `None` when the config
    /// file sets the price.
    pub prices_as_of: Option<String>,
    pub price_source: String,
}

/// USD rounded to 1e-10, as [`Price::cost`] rounds, so printed figures are exact decimals.
/// The one rounding rule for every cost llmpipe reports.
pub fn round_usd(x: f64) -> f64 {
    (x * 1e10).round() / 1e10
}

/// The price of `model`: the config file's, else the table's, else a usage error.
pub fn price_of(pricing: &Pricing, model: &str) -> Result<Price> {
    pricing.lookup(&[model]).ok_or_else(|| {
        Error::usage(format!("no price is known for model {model}")).with_hint(format!(
            "add it to llmpipe.toml:\n[prices.\"{model}\"]\ninput = 0.0   # USD per million tokens\noutput = 0.0"
        ))
    })
}

pub fn estimate(
    model: &str,
    provider: ProviderKind,
    pricing: &Pricing,
    input: InputCount,
    output_tokens: u64,
) -> Result<Estimate> {
    let price = price_of(pricing, model)?;
    let rates = price.rates(input.tokens);
    let usage = crate::chat::Usage {
        input_tokens: input.tokens,
        output_tokens,
        ..Default::default()
    };
    let (i, o) = price
        .parts(&usage, false)
        .ok_or_else(|| unpriceable(model))?;
    let all_cached = crate::chat::Usage {
        cached_input_tokens: input.tokens,
        output_tokens: 0,
        ..usage
    };
    let cached = price
        .parts(&all_cached, false)
        .ok_or_else(|| unpriceable(model))?;
    let from_db = !price.is_config();
    // The data the price came from (the bundled data when a damaged download fell back).
    let origin = price.origin().unwrap_or(&pricing.db().origin);
    Ok(Estimate {
        model: model.to_string(),
        provider,
        output_tokens,
        rates,
        input_cost: round_usd(i),
        output_cost: round_usd(o),
        total_cost: round_usd(i + o),
        cached_input_cost: round_usd(cached.0),
        batch_total_cost: from_db.then(|| price.batch_cost(&usage)),
        prices_as_of: from_db.then(|| origin.as_of().to_string()),
        price_source: if from_db {
            format!("genai-prices, {}", origin.describe())
        } else {
            "config file".to_string()
        },
        input,
    })
}

/// The database has the model but cannot price this usage (not seen with its data).
fn unpriceable(model: &str) -> Error {
    Error::usage(format!(
        "the price database cannot price this request for {model}"
    ))
}

impl Estimate {
    /// The SPEC's members first, then the extras.
    pub fn to_json(&self) -> Value {
        json!({
            "model": self.model,
            "input_tokens": self.input.tokens,
            "output_tokens": self.output_tokens,
            "input_cost_usd": self.input_cost,
            "output_cost_usd": self.output_cost,
            "total_cost_usd": self.total_cost,
            "prices_as_of": self.prices_as_of,
            "provider": self.provider.name(),
            "input_exact": self.input.exact,
            "input_method": self.input.method,
            "cached_input_cost_usd": self.cached_input_cost,
            "batch_total_cost_usd": self.batch_total_cost,
            "prices_per_million": {
                "input": self.rates.input,
                "cached_input": self.rates.cached_input,
                "output": self.rates.output,
            },
            "price_source": self.price_source,
        })
    }
}

/// The `--max-cost` guard: refuses (exit 7) before anything is sent when the estimated cost
/// of `req` (its input tokens plus all of `--max-tokens` as output) is above the budget, for
/// the model or any `--fallback` that could be reached. Offline: Anthropic input is the
/// characters-per-token estimate, and images are not counted (a warning says so).
pub fn check_budget(settings: &Settings, req: &Request, max_cost: Option<f64>) -> Result<()> {
    let Some(budget) = max_cost else {
        return Ok(());
    };
    check_max_cost(budget)?;
    let threads = crate::tokens::default_threads();
    for target in &settings.targets {
        let (cost, input) = worst_case(settings, &target.model, target.kind, req, threads)?;
        if cost > budget {
            let what = if input.exact { "" } else { "estimated " };
            return Err(Error::new(
                Kind::Budget,
                format!(
                    "the request would cost up to ${cost:.6} with {} ({} {what}input tokens ({}) + {} output tokens at most), above --max-cost ${budget}: nothing was sent",
                    target.model, input.tokens, input.method,
                    crate::effort::max_tokens(target.kind, &target.model, req)
                ),
            )
            .with_hint("raise --max-cost, lower --max-tokens, or shorten the input"));
        }
        output::debug(&format!(
            "--max-cost: {} estimated at ${cost:.6} ({} input tokens, {} output at most), within ${budget}",
            target.model,
            input.tokens,
            crate::effort::max_tokens(target.kind, &target.model, req)
        ));
    }
    Ok(())
}

/// The `--max-cost` guard before a follow-up request of one answer (a repair round):
/// `spent` so far plus the worst case of `req` with any model that could be reached must
/// stay within the budget, else nothing more is sent (exit 7).
pub fn check_follow_up(
    settings: &Settings,
    req: &Request,
    spent: f64,
    max_cost: Option<f64>,
) -> Result<()> {
    let Some(budget) = max_cost else {
        return Ok(());
    };
    let worst = worst_of_targets(settings, req)?;
    if spent + worst > budget {
        return Err(over_budget(spent, worst, budget));
    }
    Ok(())
}

/// The most `req` can cost with the model or any `--fallback` that could be reached.
pub fn worst_of_targets(settings: &Settings, req: &Request) -> Result<f64> {
    let threads = crate::tokens::default_threads();
    let mut worst: f64 = 0.0;
    for target in &settings.targets {
        worst = worst.max(worst_case(settings, &target.model, target.kind, req, threads)?.0);
    }
    Ok(worst)
}

/// The exit-7 error for a follow-up request that does not fit.
pub fn over_budget(spent: f64, worst: f64, budget: f64) -> Error {
    Error::new(
        Kind::Budget,
        format!(
            "the next repair was not sent: ${spent:.6} spent or reserved so far plus up to ${worst:.6} for it would pass --max-cost ${budget}"
        ),
    )
    .with_hint("raise --max-cost, lower --repair or --max-tokens")
}

/// Dollars for people: four decimals, or three significant digits for smaller sums (so
/// $0.000027 is not shown as $0.0000), trailing zeros dropped.
pub fn usd_text(c: f64) -> String {
    if !c.is_finite() || c == 0.0 {
        return "$0".into();
    }
    let decimals = if c.abs() >= 0.01 {
        4
    } else {
        (2 - c.abs().log10().floor() as i32).clamp(4, 12) as usize
    };
    let s = format!("{c:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("${s}")
}

/// A total that may miss calls whose price is unknown: `$x`, or
/// `≥ $x (cost unknown for N call(s))`.
pub fn total_text(known: f64, unknown: u64) -> String {
    if unknown == 0 {
        return usd_text(known);
    }
    format!("≥ {} (cost unknown for {unknown} call(s))", usd_text(known))
}

/// `--max-cost` must be a number of dollars.
pub fn check_max_cost(budget: f64) -> Result<()> {
    if !budget.is_finite() || budget < 0.0 {
        return Err(Error::usage(format!(
            "--max-cost must be a number of US dollars, 0 or more, not {budget}"
        )));
    }
    Ok(())
}

/// The most `req` can cost with `model`: its input tokens plus all of `--max-tokens`.
pub fn worst_case(
    settings: &Settings,
    model: &str,
    kind: ProviderKind,
    req: &Request,
    threads: usize,
) -> Result<(f64, InputCount)> {
    let price = price_of(&settings.pricing, model).map_err(|e| Error {
        message: format!("cannot check --max-cost: {}", e.message),
        ..e
    })?;
    let (input, images) = InputCount::offline(model, kind, req, threads);
    if images > 0 {
        output::warn("images are not included in the --max-cost estimate");
    }
    let usage = crate::chat::Usage {
        input_tokens: input.tokens,
        // The cap actually sent: `--effort` may raise it for a thinking budget.
        output_tokens: crate::effort::max_tokens(kind, model, req),
        ..Default::default()
    };
    let (i, o) = price
        .parts(&usage, false)
        .ok_or_else(|| unpriceable(model))?;
    Ok((round_usd(i + o), input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(tokens: u64) -> InputCount {
        InputCount {
            tokens,
            exact: true,
            method: "test".into(),
        }
    }

    #[test]
    fn costs_match_hand_computation() {
        let pricing = Pricing::default();
        // gpt-4o: 2.50 in, 1.25 cached, 10.00 out per million.
        let e = estimate("gpt-4o", ProviderKind::OpenAi, &pricing, count(1000), 500).unwrap();
        assert_eq!(e.input_cost, 0.0025);
        assert_eq!(e.output_cost, 0.005);
        assert_eq!(e.total_cost, 0.0075);
        assert_eq!(e.cached_input_cost, 0.00125);
        assert_eq!(e.batch_total_cost, Some(0.00375));
        assert_eq!(
            e.prices_as_of.as_deref(),
            Some(crate::prices::BUNDLED_AS_OF)
        );
        // claude-haiku-4-5: 1.00 in, 0.10 cache read, 5.00 out; 12,345 in, 1,024 out.
        let e = estimate(
            "claude-haiku-4-5",
            ProviderKind::Anthropic,
            &pricing,
            count(12_345),
            1024,
        )
        .unwrap();
        assert_eq!(e.input_cost, 0.012345);
        assert_eq!(e.output_cost, 0.00512);
        assert_eq!(e.total_cost, 0.017465);
        assert_eq!(e.cached_input_cost, 0.0012345);
        assert_eq!(e.batch_total_cost, Some(0.0087325));
        // claude-sonnet-4-5 above 200K input: 6.00 / 22.50 for the whole request, cache
        // reads scaled with the input rate (0.30 * 2).
        let e = estimate(
            "claude-sonnet-4-5",
            ProviderKind::Anthropic,
            &pricing,
            count(250_000),
            2000,
        )
        .unwrap();
        assert_eq!(e.input_cost, 1.5);
        assert_eq!(e.output_cost, 0.045);
        assert_eq!(e.total_cost, 1.545);
        assert_eq!(e.cached_input_cost, 0.15);
        // gpt-5-nano: 0.05 / 0.40; 1 token in, 0 out.
        let e = estimate("gpt-5-nano", ProviderKind::OpenAi, &pricing, count(1), 0).unwrap();
        assert_eq!(e.total_cost, 0.00000005);
    }

    #[test]
    fn estimates_agree_with_the_billing_path() {
        // The same tokens through Price::cost (what results use) give the same total.
        for m in crate::models::MODELS {
            for (i, o) in [(0, 0), (1234, 567), (300_000, 4096)] {
                let e = estimate(m.id, m.provider, &Pricing::default(), count(i), o).unwrap();
                let u = crate::chat::Usage {
                    input_tokens: i,
                    output_tokens: o,
                    ..Default::default()
                };
                let price = Pricing::default().lookup(&[m.id]).unwrap();
                assert!((e.total_cost - price.cost(&u)).abs() < 1e-9, "{}", m.id);
            }
        }
    }

    #[test]
    fn small_sums_keep_their_digits() {
        assert_eq!(usd_text(0.000027), "$0.000027");
        assert_eq!(usd_text(0.0000271234), "$0.0000271");
        assert_eq!(usd_text(0.0), "$0");
        assert_eq!(usd_text(1.23456), "$1.2346");
        assert_eq!(usd_text(0.5), "$0.5");
        assert_eq!(total_text(0.000027, 0), "$0.000027");
        assert_eq!(total_text(0.0, 2), "≥ $0 (cost unknown for 2 call(s))");
    }

    #[test]
    fn unknown_models_have_no_price() {
        let e = estimate(
            "llama3",
            ProviderKind::OpenAi,
            &Pricing::default(),
            count(1),
            1,
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("llama3"));
    }
}
