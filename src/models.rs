//! The one model table: provider, tokenizer, limits and reasoning behaviour; prices come
//! from the genai-prices database ([`crate::prices`]), which this table does not repeat.
//!
//! Everything model-specific that the database does not hold lives here, so that adding a
//! model is one row: the tiktoken encoding (PROTOCOLS.md D), the Claude tokenizer generation
//! whose characters-per-token ratio estimates counts, whether it is a reasoning model, and
//! its limits.

use crate::prices::{self, DbPrice};
use crate::provider::ProviderKind;
use crate::tokens::Encoding;

/// The model used when neither `-m`, the config file nor `LLMPIPE_MODEL` names one.
pub const DEFAULT_MODEL: &str = "gpt-4.1-mini";

/// A Claude tokenizer generation: Anthropic's tokenizer is not public, so counts are
/// estimated from characters at this generation's ratio (always `exact: false`).
#[derive(Debug, PartialEq, Eq)]
pub struct ClaudeTokenizer {
    pub name: &'static str,
    /// `method` in count-tokens and estimate-cost output.
    pub method: &'static str,
    /// Characters per token, in tenths (3.5 is 35).
    pub chars_per_token_x10: u64,
    /// Where the ratio comes from.
    pub source: &'static str,
}

/// Claude 3 up to Claude Opus 4.6, Sonnet 4.6 and Haiku 4.5.
pub static CLAUDE_3_TOKENIZER: ClaudeTokenizer = ClaudeTokenizer {
    name: "claude-3",
    method: "chars/3.5 (claude-3 tokenizer)",
    chars_per_token_x10: 35,
    source: "Anthropic glossary: about 3.5 English characters per token (PROTOCOLS.md D)",
};

/// Claude Opus 4.7 and every later model: Anthropic's Opus 4.7 release notes say its new
/// tokenizer uses "roughly 1x to 1.35x as many tokens" for the same text; 3.5 / 1.35 = 2.6
/// keeps the estimate on the high (safe) side for `--max-cost`.
pub static CLAUDE_4_7_TOKENIZER: ClaudeTokenizer = ClaudeTokenizer {
    name: "claude-4.7",
    method: "chars/2.6 (claude-4.7 tokenizer)",
    chars_per_token_x10: 26,
    source: "Anthropic, Claude Opus 4.7 release notes and migration guide: 1.0-1.35x the tokens of earlier models for the same text; 3.5 / 1.35",
};

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
    /// Anthropic: the tokenizer generation whose ratio the estimate uses.
    pub claude_tokenizer: Option<&'static ClaudeTokenizer>,
}

use ProviderKind::{Anthropic as A, OpenAi as O};

const O200K: Option<Encoding> = Some(Encoding::O200kBase);
const C3: Option<&ClaudeTokenizer> = Some(&CLAUDE_3_TOKENIZER);
const C47: Option<&ClaudeTokenizer> = Some(&CLAUDE_4_7_TOKENIZER);

/// Limits as recorded in PROTOCOLS.md E/E.1; the 2026 models' context windows are the
/// genai-prices database's, and their output limits (which the database does not record)
/// their family's (128K), not read on a provider page.
#[rustfmt::skip]
pub static MODELS: &[Model] = &[
    // OpenAI, non-reasoning
    Model { id: "gpt-4o", provider: O, encoding: O200K, reasoning: false, context_window: 128_000, max_output: 16_384, claude_tokenizer: None },
    Model { id: "gpt-4o-mini", provider: O, encoding: O200K, reasoning: false, context_window: 128_000, max_output: 16_384, claude_tokenizer: None },
    Model { id: "gpt-4.1", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, claude_tokenizer: None },
    Model { id: "gpt-4.1-mini", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, claude_tokenizer: None },
    Model { id: "gpt-4.1-nano", provider: O, encoding: O200K, reasoning: false, context_window: 1_047_576, max_output: 32_768, claude_tokenizer: None },
    // OpenAI, reasoning
    Model { id: "gpt-5", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5-mini", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5-nano", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.1", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.2", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.4", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.4-mini", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.4-nano", provider: O, encoding: O200K, reasoning: true, context_window: 400_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.4-pro", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.5", provider: O, encoding: O200K, reasoning: true, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.5-pro", provider: O, encoding: O200K, reasoning: true, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.6-sol", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.6-terra", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "gpt-5.6-luna", provider: O, encoding: O200K, reasoning: true, context_window: 1_050_000, max_output: 128_000, claude_tokenizer: None },
    Model { id: "o3", provider: O, encoding: O200K, reasoning: true, context_window: 200_000, max_output: 100_000, claude_tokenizer: None },
    Model { id: "o4-mini", provider: O, encoding: O200K, reasoning: true, context_window: 200_000, max_output: 100_000, claude_tokenizer: None },
    // Anthropic, current
    Model { id: "claude-opus-5-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-opus-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-opus-4-8", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-opus-4-7", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-sonnet-5-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-sonnet-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-haiku-5-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-fable-5-1", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    Model { id: "claude-fable-5", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C47 },
    // Anthropic, earlier
    Model { id: "claude-opus-4-6", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 128_000, claude_tokenizer: C3 },
    Model { id: "claude-sonnet-4-6", provider: A, encoding: None, reasoning: false, context_window: 1_000_000, max_output: 64_000, claude_tokenizer: C3 },
    Model { id: "claude-opus-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, claude_tokenizer: C3 },
    Model { id: "claude-opus-4-1", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 32_000, claude_tokenizer: C3 },
    Model { id: "claude-sonnet-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, claude_tokenizer: C3 },
    Model { id: "claude-sonnet-4", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, claude_tokenizer: C3 },
    Model { id: "claude-haiku-4-5", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 64_000, claude_tokenizer: C3 },
    Model { id: "claude-3-5-haiku", provider: A, encoding: None, reasoning: false, context_window: 200_000, max_output: 8_192, claude_tokenizer: C3 },
];

/// The Claude tokenizer generation of `model`: the table's, else (a Claude model newer than
/// the table) the newest, whose estimate is the higher one.
pub fn claude_tokenizer(model: &str) -> &'static ClaudeTokenizer {
    find(model)
        .and_then(|m| m.claude_tokenizer)
        .unwrap_or(&CLAUDE_4_7_TOKENIZER)
}

/// Built-in short names; config `[aliases]` adds to and overrides these.
pub static ALIASES: &[(&str, &str)] = &[
    ("4o", "gpt-4o"),
    ("4o-mini", "gpt-4o-mini"),
    ("4.1", "gpt-4.1"),
    ("4.1-mini", "gpt-4.1-mini"),
    // The current model of each Claude family.
    ("opus", "claude-opus-5-5"),
    ("sonnet", "claude-sonnet-5-5"),
    ("haiku", "claude-haiku-5-5"),
    ("fable", "claude-fable-5-1"),
];

/// Looks a model up by id, tolerating the dated ids providers report
/// (`gpt-4o-mini-2024-07-18`, `claude-sonnet-4-5-20250929`) and `-latest` suffixes.
pub fn find(name: &str) -> Option<&'static Model> {
    let exact = |n: &str| MODELS.iter().find(|m| m.id == n);
    exact(name).or_else(|| exact(strip_version_suffix(name)?))
}

/// `name` without its date or `-latest` suffix, if it has one.
pub fn undated(name: &str) -> Option<&str> {
    strip_version_suffix(name)
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

/// Flat rates from `llmpipe.toml`'s `[prices]` (USD per million tokens).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flat {
    pub input: f64,
    /// Cache hits; equal to `input` when the config file does not say.
    pub cached_input: f64,
    /// Cache writes (both TTLs); equal to `input` when the config file does not say.
    pub cache_write: f64,
    pub output: f64,
}

/// A model's price: the database's (dated, with its cache, long-context and batch rates),
/// or the config file's flat rates, which win.
#[derive(Debug, Clone, PartialEq)]
pub enum Price {
    Database(DbPrice),
    Config(Flat),
}

fn tokens(input: u64, output: u64, cached: u64) -> crate::chat::Usage {
    crate::chat::Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: cached,
        ..Default::default()
    }
}

/// Per-million rates derived from costs: rounded to 1e-9 so float noise does not show.
fn per_million(cost: f64, tokens: u64) -> f64 {
    (cost * 1e6 / tokens as f64 * 1e9).round() / 1e9
}

impl Price {
    /// This price at the rates in effect at `when` (a call made then); the default is now.
    pub fn at(mut self, when: std::time::SystemTime) -> Price {
        if let Price::Database(p) = &mut self {
            p.at = Some(when);
        }
        self
    }

    /// Whether the config file sets this price.
    pub fn is_config(&self) -> bool {
        matches!(self, Price::Config(_))
    }

    /// The price data this price was found in (the bundled data when a damaged download
    /// fell back to it); `None` for a config price.
    pub fn origin(&self) -> Option<&'static crate::prices::Origin> {
        match self {
            Price::Database(p) => Some(p.origin()),
            Price::Config(_) => None,
        }
    }

    /// Input and output cost in USD of one request's usage, live or through the Batch
    /// API. `usage.input_tokens` is the whole prompt, including the cache reads and cache
    /// writes, which are billed at their own rates (the 1-hour writes at theirs); above a
    /// long-context threshold the whole request is billed at the higher tier. `None` only
    /// if the database cannot price the usage.
    pub fn parts(&self, usage: &crate::chat::Usage, batch: bool) -> Option<(f64, f64)> {
        match self {
            Price::Database(p) => prices::calculate(p, usage, batch),
            Price::Config(f) => {
                let cached = usage.cached_input_tokens.min(usage.input_tokens);
                let written = usage
                    .cache_write_input_tokens
                    .min(usage.input_tokens - cached);
                let plain = usage.input_tokens - cached - written;
                let input = (plain as f64 * f.input
                    + cached as f64 * f.cached_input
                    + written as f64 * f.cache_write)
                    / 1e6;
                let output = usage.output_tokens as f64 * f.output / 1e6;
                // A server priced in the config file may have no Batch API; half, as the
                // providers bill, when asked.
                let share = if batch { 0.5 } else { 1.0 };
                Some((input * share, output * share))
            }
        }
    }

    /// Cost in USD of one request's usage (see [`Price::parts`]), rounded as every cost
    /// llmpipe reports; `None` only if the database cannot price it.
    pub fn try_cost(&self, usage: &crate::chat::Usage) -> Option<f64> {
        self.parts(usage, false)
            .map(|(i, o)| crate::cost::round_usd(i + o))
    }

    /// Cost in USD of one request's usage (NaN if the database cannot price it, which
    /// [`Price::try_cost`] reports as `None`).
    pub fn cost(&self, usage: &crate::chat::Usage) -> f64 {
        self.try_cost(usage).unwrap_or(f64::NAN)
    }

    /// Cost in USD of one request's usage billed through the provider's Batch API: the
    /// database's batch rates for the model (every usage kind, tiers included).
    pub fn batch_cost(&self, usage: &crate::chat::Usage) -> f64 {
        self.parts(usage, true)
            .map_or(f64::NAN, |(i, o)| crate::cost::round_usd(i + o))
    }

    /// The rates a request with `input_tokens` of input is billed at (the long-context
    /// tier above its threshold).
    pub fn rates(&self, input_tokens: u64) -> Rates {
        if let Price::Config(f) = self {
            return Rates {
                input: f.input,
                cached_input: f.cached_input,
                output: f.output,
            };
        }
        let n = input_tokens.max(1);
        let input = self
            .parts(&tokens(n, 0, 0), false)
            .map_or(f64::NAN, |c| c.0);
        let cached = self
            .parts(&tokens(n, 0, n), false)
            .map_or(f64::NAN, |c| c.0);
        let output = self
            .parts(&tokens(n, 1_000_000, 0), false)
            .map_or(f64::NAN, |c| c.1);
        Rates {
            input: per_million(input, n),
            cached_input: per_million(cached, n),
            output: (output * 1e9).round() / 1e9,
        }
    }

    /// Cache-write rates (5-minute, 1-hour) per million tokens at `input_tokens` of input.
    pub fn cache_write_rates(&self, input_tokens: u64) -> (f64, f64) {
        if let Price::Config(f) = self {
            return (f.cache_write, f.cache_write);
        }
        let n = input_tokens.max(1);
        let write = |one_hour: u64| {
            let u = crate::chat::Usage {
                input_tokens: n,
                cache_write_input_tokens: n,
                cache_write_1h_input_tokens: one_hour,
                ..Default::default()
            };
            self.parts(&u, false)
                .map_or(f64::NAN, |c| per_million(c.0, n))
        };
        (write(0), write(n))
    }

    /// The long-context tier: the input size above which the whole request is billed at
    /// the higher rates, and those rates (up to 2M tokens of input).
    pub fn long_context(&self) -> Option<(u64, Rates)> {
        const TOP: u64 = 2_000_000;
        let base = self.rates(1);
        let tier = self.rates(TOP);
        if base == tier {
            return None;
        }
        let (mut lo, mut hi) = (1, TOP);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.rates(mid) == base {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some((lo, tier))
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

    fn price(model: &str) -> Price {
        crate::config::Pricing::default().lookup(&[model]).unwrap()
    }

    fn usage(input: u64, cached: u64, written: u64, written_1h: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cached,
            cache_write_input_tokens: written,
            cache_write_1h_input_tokens: written_1h,
            reasoning_tokens: None,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn cache_writes_of_both_ttls_and_reads_at_the_models_own_rates() {
        // claude-opus-5-5 in genai-prices' prices.json: input_mtok 4, cache_write_mtok 5,
        // cache_write_1h_mtok 8, cache_read_mtok 0.2, output_mtok 20. 10,000 input tokens
        // of which 2,000 cache reads and 3,000 cache writes (1,000 of them 1-hour).
        let u = usage(10_000, 2_000, 3_000, 1_000, 500);
        let hand =
            (5_000.0 * 4.0 + 2_000.0 * 0.2 + 2_000.0 * 5.0 + 1_000.0 * 8.0 + 500.0 * 20.0) / 1e6;
        close(price("claude-opus-5-5").cost(&u), hand);
        close(hand, 0.0484);
        // claude-sonnet-5-5 reads at a fixed 0.1 (0.05x input 2): 800 of 1,000 cached.
        let u = usage(1_000, 800, 0, 0, 100);
        close(
            price("claude-sonnet-5-5").cost(&u),
            (200.0 * 2.0 + 800.0 * 0.1 + 100.0 * 10.0) / 1e6,
        );
        // gpt-5.6-terra bills OpenAI cache writes (cache_write_mtok 2.5 since 2026-07-30).
        let u = usage(4_000, 1_000, 1_000, 0, 10);
        close(
            price("gpt-5.6-terra").cost(&u),
            (2_000.0 * 2.0 + 1_000.0 * 0.2 + 1_000.0 * 2.5 + 10.0 * 12.0) / 1e6,
        );
    }

    #[test]
    fn a_long_context_tier_bills_the_whole_request_above_its_threshold() {
        // claude-haiku-5-5: input 0.1 / output 0.5 / cache read 0.01; above 100,000 prompt
        // tokens 0.5 / 2.5 / 0.05 for every token of the request.
        let p = price("claude-haiku-5-5");
        close(
            p.cost(&usage(100_000, 0, 0, 0, 1_000)),
            (100_000.0 * 0.1 + 1_000.0 * 0.5) / 1e6,
        );
        close(
            p.cost(&usage(100_001, 50_000, 0, 0, 1_000)),
            (50_001.0 * 0.5 + 50_000.0 * 0.05 + 1_000.0 * 2.5) / 1e6,
        );
        let (above, tier) = p.long_context().unwrap();
        assert_eq!(above, 100_000);
        assert_eq!(
            (tier.input, tier.cached_input, tier.output),
            (0.5, 0.05, 2.5)
        );
        // gpt-5.4: 2.5 / 15 up to 272,000 input tokens, 5 / 22.5 above.
        let p = price("gpt-5.4");
        close(
            p.cost(&usage(272_001, 0, 0, 0, 100)),
            (272_001.0 * 5.0 + 100.0 * 22.5) / 1e6,
        );
        assert_eq!(p.rates(272_000).input, 2.5);
        assert_eq!(p.rates(272_001).output, 22.5);
    }

    #[test]
    fn batch_uses_the_databases_batch_rates() {
        // gpt-5.4's batch variant: input 1.25, cache read 0.13 (not half of 0.25), output 7.5.
        let u = usage(10_000, 4_000, 0, 0, 1_000);
        close(
            price("gpt-5.4").batch_cost(&u),
            (6_000.0 * 1.25 + 4_000.0 * 0.13 + 1_000.0 * 7.5) / 1e6,
        );
        // claude-opus-5-5's: input 2, cache write 2.5, 1-hour 4, read 0.1, output 10.
        let u = usage(10_000, 2_000, 3_000, 1_000, 500);
        close(
            price("claude-opus-5-5").batch_cost(&u),
            (5_000.0 * 2.0 + 2_000.0 * 0.1 + 2_000.0 * 2.5 + 1_000.0 * 4.0 + 500.0 * 10.0) / 1e6,
        );
    }

    #[test]
    fn calls_are_priced_at_the_rates_of_their_date() {
        use std::time::{Duration, UNIX_EPOCH};
        // gpt-5.6-sol: 5 / 30 until 2026-08-21, then 4 / 20 (below its 272K tier).
        let u = usage(100_000, 0, 0, 0, 100_000);
        let before = UNIX_EPOCH + Duration::from_secs(1_785_000_000); // 2026-07-25
        let after = UNIX_EPOCH + Duration::from_secs(1_790_000_000); // 2026-09-21
        close(
            price("gpt-5.6-sol").at(before).cost(&u),
            0.1 * 5.0 + 0.1 * 30.0,
        );
        close(
            price("gpt-5.6-sol").at(after).cost(&u),
            0.1 * 4.0 + 0.1 * 20.0,
        );
    }

    #[test]
    fn config_prices_are_flat() {
        let p = Price::Config(Flat {
            input: 1.0,
            cached_input: 0.5,
            cache_write: 2.0,
            output: 3.0,
        });
        close(
            p.cost(&usage(100, 20, 30, 10, 10)),
            (50.0 + 10.0 + 60.0 + 30.0) / 1e6,
        );
        close(p.batch_cost(&usage(100, 0, 0, 0, 0)), 50.0 / 1e6);
        assert!(p.long_context().is_none());
    }

    #[test]
    fn the_aliases_name_the_current_models_and_every_row_is_priced() {
        let alias = |a: &str| ALIASES.iter().find(|(n, _)| *n == a).unwrap().1;
        assert_eq!(alias("opus"), "claude-opus-5-5");
        assert_eq!(alias("sonnet"), "claude-sonnet-5-5");
        assert_eq!(alias("haiku"), "claude-haiku-5-5");
        for (a, m) in ALIASES {
            assert!(find(m).is_some(), "{a} -> {m} is not in the table");
        }
        for m in MODELS {
            let p = price(m.id);
            assert!(!p.is_config(), "{}", m.id);
            assert_eq!(
                m.claude_tokenizer.is_some(),
                m.provider == ProviderKind::Anthropic
            );
        }
    }
}
