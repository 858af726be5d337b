//! The one model table: provider, limits, reasoning behaviour and list prices.
//!
//! Everything model-specific lives here so that adding a model is one row. Prices are USD
//! per million tokens, standard tier, as recorded in shared/PROTOCOLS.md (section E and E.1)
//! with the source of each row; rows marked unverified there say so in `source`.

use crate::provider::ProviderKind;
use crate::tokens::Encoding;

/// The date the prices below were last checked against their sources.
pub const PRICES_AS_OF: &str = "2026-08-21";

/// The model used when neither `-m`, the config file nor `LLMPIPE_MODEL` names one.
pub const DEFAULT_MODEL: &str = "gpt-4.1-mini";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    /// Cache hits (OpenAI cached input, Anthropic cache reads).
    pub cached_input: f64,
    /// Anthropic 5-minute cache writes (1.25x input); equal to `input` where there is none.
    pub cache_write: f64,
    pub output: f64,
    /// A whole request whose input is above `above` tokens is billed at these rates.
    pub long_context: Option<LongContext>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    pub above: u64,
    pub input: f64,
    pub output: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub id: &'static str,
    pub provider: ProviderKind,
    /// The tiktoken encoding (PROTOCOLS.md D); `None` where the tokenizer is not public
    /// (Anthropic), so counts are estimates.
    pub encoding: Option<Encoding>,
    /// Reasoning models take only the default temperature and bill hidden reasoning tokens.
    pub reasoning: bool,
    pub context_window: u64,
    pub max_output: u64,
    pub price: Price,
    /// The page the price was read from.
    pub source: &'static str,
    /// When the row was last checked against `source`.
    pub checked: &'static str,
}

const fn p(input: f64, cached_input: f64, cache_write: f64, output: f64) -> Price {
    Price {
        input,
        cached_input,
        cache_write,
        output,
        long_context: None,
    }
}

use ProviderKind::{Anthropic as A, OpenAi as O};

const O200K: Option<Encoding> = Some(Encoding::O200kBase);
const CHECKED: &str = PRICES_AS_OF;

const OPENAI_PRICING: &str = "platform.openai.com/docs/pricing";
const ANTHROPIC_PRICING: &str = "docs.anthropic.com/en/docs/about-claude/pricing";

#[rustfmt::skip]
pub static MODELS: &[Model] = &[
    // OpenAI, non-reasoning
    Model { id: "gpt-4o", provider: O, encoding: O200K, reasoning: false, context_window: 128_000, max_output: 16_384, price: p(2.50, 1.25, 2.50, 10.00), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-4o-mini", provider: O, encoding: O200K, reasoning: false, context_window: 128_000, max_output: 16_384, price: p(0.15, 0.075, 0.15, 0.60), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-4.1", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, price: p(2.00, 0.50, 2.00, 8.00), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-4.1-mini", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, price: p(0.40, 0.10, 0.40, 1.60), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-4.1-nano", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, price: p(0.10, 0.025, 0.10, 0.40), source: "third-party tables (cached price unverified)", checked: CHECKED },
    // OpenAI, reasoning
    Model { id: "gpt-5", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(1.25, 0.125, 1.25, 10.00), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-5-mini", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(0.25, 0.025, 0.25, 2.00), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-5-nano", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(0.05, 0.005, 0.05, 0.40), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "gpt-5.1", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(1.25, 0.125, 1.25, 10.00), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "gpt-5.2", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(1.75, 0.175, 1.75, 14.00), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "gpt-5.4", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000,
        price: Price { long_context: Some(LongContext { above: 272_000, input: 5.00, output: 22.50 }), ..p(2.50, 0.25, 2.50, 15.00) },
        source: "developers.openai.com/api/docs/models/gpt-5.4", checked: CHECKED },
    Model { id: "gpt-5.4-mini", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(0.75, 0.075, 0.75, 4.50), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "gpt-5.4-nano", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, price: p(0.20, 0.02, 0.20, 1.25), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "gpt-5.5", provider: O, encoding: O200K, reasoning: true, context_window: 1_000_000, max_output: 128_000, price: p(5.00, 0.50, 5.00, 30.00), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "o3", provider: O, encoding: O200K, reasoning: true, context_window: 200_000, max_output: 100_000, price: p(2.00, 0.50, 2.00, 8.00), source: OPENAI_PRICING, checked: CHECKED },
    Model { id: "o4-mini", provider: O, encoding: O200K, reasoning: true, context_window: 200_000, max_output: 100_000, price: p(1.10, 0.275, 1.10, 4.40), source: OPENAI_PRICING, checked: CHECKED },
    // Anthropic
    Model { id: "claude-opus-4-6", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, price: p(5.00, 0.50, 6.25, 25.00), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "claude-sonnet-4-6", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 64_000, price: p(3.00, 0.30, 3.75, 15.00), source: "third-party tables (unverified)", checked: CHECKED },
    Model { id: "claude-opus-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, price: p(5.00, 0.50, 6.25, 25.00), source: ANTHROPIC_PRICING, checked: CHECKED },
    Model { id: "claude-opus-4-1", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 32_000, price: p(15.00, 1.50, 18.75, 75.00), source: ANTHROPIC_PRICING, checked: CHECKED },
    Model { id: "claude-sonnet-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000,
        price: Price { long_context: Some(LongContext { above: 200_000, input: 6.00, output: 22.50 }), ..p(3.00, 0.30, 3.75, 15.00) },
        source: ANTHROPIC_PRICING, checked: CHECKED },
    Model { id: "claude-sonnet-4", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000,
        price: Price { long_context: Some(LongContext { above: 200_000, input: 6.00, output: 22.50 }), ..p(3.00, 0.30, 3.75, 15.00) },
        source: ANTHROPIC_PRICING, checked: CHECKED },
    Model { id: "claude-haiku-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, price: p(1.00, 0.10, 1.25, 5.00), source: ANTHROPIC_PRICING, checked: CHECKED },
    Model { id: "claude-3-5-haiku", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 8_192, price: p(0.80, 0.08, 1.00, 4.00), source: ANTHROPIC_PRICING, checked: CHECKED },
];

/// Built-in short names; config `[aliases]` adds to and overrides these.
pub static ALIASES: &[(&str, &str)] = &[
    ("4o", "gpt-4o"),
    ("4o-mini", "gpt-4o-mini"),
    ("4.1", "gpt-4.1"),
    ("4.1-mini", "gpt-4.1-mini"),
    ("opus", "claude-opus-4-5"),
    ("sonnet", "claude-sonnet-4-5"),
    ("haiku", "claude-haiku-4-5"),
];

/// Looks a model up by id, tolerating the dated ids providers report
/// (`gpt-4o-mini-2024-07-18`, `claude-sonnet-4-5-20250929`) and `-latest` suffixes.
pub fn find(name: &str) -> Option<&'static Model> {
    let exact = |n: &str| MODELS.iter().find(|m| m.id == n);
    exact(name).or_else(|| exact(strip_version_suffix(name)?))
}

fn strip_version_suffix(name: &str) -> Option<&str> {
    if let Some(base) = name.strip_suffix("-latest") {
        return Some(base);
    }
    // -YYYY-MM-DD
    if name.len() > 11 {
        let (base, tail) = name.split_at(name.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && [1, 2, 3, 4, 6, 7, 9, 10]
                .iter()
                .all(|&i| b[i].is_ascii_digit())
        {
            return Some(base);
        }
    }
    // -YYYYMMDD
    if name.len() > 9 {
        let (base, tail) = name.split_at(name.len() - 9);
        if tail.starts_with('-') && tail[1..].bytes().all(|c| c.is_ascii_digit()) {
            return Some(base);
        }
    }
    None
}

/// The provider a model name implies when `-p` is not given.
pub fn infer_provider(model: &str) -> ProviderKind {
    match find(model) {
        Some(m) => m.provider,
        None if model.starts_with("claude") => ProviderKind::Anthropic,
        None => ProviderKind::OpenAi,
    }
}

/// The rates (USD per million tokens) one request is billed at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

impl Price {
    /// The rates for a request with `input_tokens` of input: the long-context tier applies
    /// to the whole request above its threshold and scales the cache rate with it (as
    /// [`Price::cost`] bills).
    pub fn rates(&self, input_tokens: u64) -> Rates {
        match self.long_context {
            Some(t) if input_tokens > t.above => Rates {
                input: t.input,
                cached_input: self.cached_input * t.input / self.input.max(f64::MIN_POSITIVE),
                output: t.output,
            },
            _ => Rates {
                input: self.input,
                cached_input: self.cached_input,
                output: self.output,
            },
        }
    }

    /// Cost in USD of one request's usage. `input_tokens` is the whole prompt, including
    /// the cached and cache-write tokens, which are billed at their own rates.
    pub fn cost(&self, usage: &crate::chat::Usage) -> f64 {
        let (input_rate, output_rate) = match self.long_context {
            Some(t) if usage.input_tokens > t.above => (t.input, t.output),
            _ => (self.input, self.output),
        };
        // Long-context tiers scale cache rates with the input rate.
        let scale = input_rate / self.input.max(f64::MIN_POSITIVE);
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let written = usage
            .cache_write_input_tokens
            .min(usage.input_tokens - cached);
        let plain = usage.input_tokens - cached - written;
        let micro = plain as f64 * input_rate
            + cached as f64 * self.cached_input * scale
            + written as f64 * self.cache_write * scale
            + usage.output_tokens as f64 * output_rate;
        // Round away float noise (1e-10 USD) so printed costs read as exact decimals.
        crate::cost::round_usd(micro / 1e6)
    }

    /// Cost in USD of one request's usage billed through the provider's Batch API.
    pub fn batch_cost(&self, usage: &crate::chat::Usage) -> f64 {
        // Both providers bill batches at 50 % of the live rate on every usage kind.
        crate::cost::round_usd(self.cost(usage) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Usage;

    #[test]
    fn dated_ids_resolve() {
        assert_eq!(find("gpt-4o-mini-2024-07-18").unwrap().id, "gpt-4o-mini");
        assert_eq!(
            find("claude-sonnet-4-5-20250929").unwrap().id,
            "claude-sonnet-4-5"
        );
        assert_eq!(
            find("claude-3-5-haiku-latest").unwrap().id,
            "claude-3-5-haiku"
        );
        assert!(find("gpt-4o-mini-2024").is_none());
        assert!(find("llama3").is_none());
    }

    #[test]
    fn provider_inference() {
        assert_eq!(infer_provider("claude-new-thing"), ProviderKind::Anthropic);
        assert_eq!(infer_provider("llama3.2"), ProviderKind::OpenAi);
        assert_eq!(infer_provider("gpt-5"), ProviderKind::OpenAi);
    }

    #[test]
    fn cost_bills_cache_and_tiers() {
        let sonnet = find("claude-sonnet-4-5").unwrap().price;
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cached_input_tokens: 0,
            cache_write_input_tokens: 0,
            cache_write_1h_input_tokens: 0,
            reasoning_tokens: None,
        };
        // above 200K input: the long-context tier for the whole request
        assert_eq!(sonnet.cost(&u), 6.0 + 22.5);
        let u = Usage {
            input_tokens: 100,
            output_tokens: 10,
            cached_input_tokens: 50,
            cache_write_input_tokens: 20,
            cache_write_1h_input_tokens: 0,
            reasoning_tokens: None,
        };
        let expect = (30.0 * 3.0 + 50.0 * 0.30 + 20.0 * 3.75 + 10.0 * 15.0) / 1e6;
        assert!((sonnet.cost(&u) - expect).abs() < 1e-9);
    }
}
