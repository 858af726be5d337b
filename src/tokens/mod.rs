//! Token counting: exact and offline for OpenAI's encodings, a labelled estimate for
//! Anthropic's (whose tokenizer is not public).
//!
//! The exact counter is tiktoken's algorithm (pre-tokenizer split, then byte-pair merges),
//! reimplemented for speed: the vocabularies are static tables built by `build.rs` from
//! tiktoken-rs's copies of the `.tiktoken` files, so nothing is loaded at start-up, and the
//! pre-tokenizer regexes are written out by hand (`pretok.rs`). Special-token strings such as
//! `<|endoftext|>` are plain text (tiktoken's `encode_ordinary`). Counts equal tiktoken's:
//! `tests/data/token_counts.json` holds Python tiktoken's counts, and the unit tests compare
//! with tiktoken-rs on random texts.
//!
//! Requests are counted over the neutral [`Request`] (system + messages), so anything that
//! builds one (a prompt file, say) can be counted and priced the same way.

mod bpe;
pub mod parallel;
mod pretok;
mod table_hash;

use crate::chat::{Part, Request};
use crate::error::{Error, Result};
use crate::provider::ProviderKind;

/// A tiktoken encoding llmpipe can count exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    O200kBase,
    /// gpt-oss: o200k_base plus special tokens, so plain text counts the same.
    O200kHarmony,
    Cl100kBase,
}

pub const ENCODING_NAMES: &[&str] = &["o200k_base", "o200k_harmony", "cl100k_base"];

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "o200k_base" => Some(Encoding::O200kBase),
            "o200k_harmony" => Some(Encoding::O200kHarmony),
            "cl100k_base" => Some(Encoding::Cl100kBase),
            _ => None,
        }
    }

    fn vocab(self) -> &'static bpe::Vocab {
        match self {
            Encoding::O200kBase | Encoding::O200kHarmony => &pretok::O200K,
            Encoding::Cl100kBase => &pretok::CL100K,
        }
    }

    /// The exact token count of `text` (tiktoken `encode_ordinary`), on this thread.
    pub fn count(self, text: &str) -> u64 {
        self.count_bytes(text.as_bytes())
    }

    /// As [`Encoding::count`], for bytes known to be valid UTF-8 (they always are: every
    /// caller validated them; other bytes would still count without panicking).
    pub(crate) fn count_bytes(self, s: &[u8]) -> u64 {
        let vocab = self.vocab();
        let next = match self {
            Encoding::O200kBase | Encoding::O200kHarmony => pretok::next_o200k,
            Encoding::Cl100kBase => pretok::next_cl100k,
        };
        let mut n = 0u64;
        let mut p = 0;
        while p < s.len() {
            // (the clamp only matters for bytes that are not UTF-8: never out of bounds)
            let e = next(s, p).clamp(p + 1, s.len());
            let piece = &s[p..e];
            n += if piece.len() > RUN_FROM {
                count_long(vocab, piece)
            } else {
                vocab.count_piece(piece) as u64
            };
            p = e;
        }
        n
    }
}

/// Pieces longer than this (in bytes) that repeat one character are counted by
/// [`run_count`]'s formula.
const RUN_FROM: usize = 4096;
/// Other pieces longer than this are counted in windows of this size (an approximation:
/// see [`approximated`]); shorter ones are merged whole, exactly.
const WINDOW: usize = 64 << 10;
/// [`run_count`]: the counts of a run are checked to grow by the same number every
/// `RUN_PERIOD` characters from `RUN_BASE` characters on.
const RUN_BASE: usize = 256;
const RUN_PERIOD: usize = 256;

static APPROXIMATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether any count in this process so far was not provably tiktoken's: a pre-tokenizer
/// piece over 64 KiB that is not one repeated character (counted in 64 KiB windows), or a
/// streamed stretch of over 16 MiB without a safe split point (counted in parts). Such
/// input is pathological (one "word" of 64 KiB); the error is a few tokens per window.
pub fn approximated() -> bool {
    APPROXIMATE.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn mark_approximated() {
    APPROXIMATE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A long piece in linear time and constant extra memory (byte-pair merging a piece
/// needs memory in proportion to it: about 40 bytes a byte).
fn count_long(vocab: &bpe::Vocab, piece: &[u8]) -> u64 {
    if let Some(n) = run_count(vocab, piece) {
        return n;
    }
    if piece.len() <= WINDOW {
        return vocab.count_piece(piece) as u64;
    }
    mark_approximated();
    let mut total = 0;
    let mut p = 0;
    while p < piece.len() {
        let mut e = (p + WINDOW).min(piece.len());
        while e < piece.len() && (piece[e] & 0xc0) == 0x80 {
            e += 1;
        }
        total += vocab.count_piece(&piece[p..e]) as u64;
        p = e;
    }
    total
}

/// The exact count of a piece that is one character repeated `n` times (spaces, `a`, NUL,
/// `-`…), without merging it: byte-pair merges of a run settle into a period (the longest
/// run token of that character), so `count(m + P) = count(m) + d` for every `m` from
/// `RUN_BASE` on. The rule is verified here for each run (three periods must agree, else
/// `None` and the caller merges or windows), and the unit tests check it against the
/// reference for every ASCII character and a sample of others at every length.
fn run_count(vocab: &bpe::Vocab, piece: &[u8]) -> Option<u64> {
    let (_, len) = pretok::decode(piece, 0);
    let unit = piece.get(..len).filter(|u| !u.is_empty())?;
    if !piece.len().is_multiple_of(len) || !piece.chunks_exact(len).all(|c| c == unit) {
        return None;
    }
    let n = piece.len() / len;
    if n < RUN_BASE + 3 * RUN_PERIOD {
        return None;
    }
    let count = |chars: usize| vocab.count_piece(&unit.repeat(chars)) as u64;
    let c: Vec<u64> = (0..4).map(|k| count(RUN_BASE + k * RUN_PERIOD)).collect();
    let d = c[1].checked_sub(c[0])?;
    if c[2].checked_sub(c[1]) != Some(d) || c[3].checked_sub(c[2]) != Some(d) {
        return None;
    }
    let (q, r) = ((n - RUN_BASE) / RUN_PERIOD, (n - RUN_BASE) % RUN_PERIOD);
    Some(count(RUN_BASE + r) + q as u64 * d)
}

/// What a model name maps to in tiktoken's tables (`tiktoken/model.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelEncoding {
    Known(Encoding),
    /// A tiktoken encoding llmpipe does not ship (r50k/p50k/gpt2: retired models).
    Unsupported(&'static str),
    Unknown,
}

/// tiktoken's model → encoding rules: exact names first, then prefixes in tiktoken's order
/// (so `gpt-4o-…` and `gpt-4.1-…` are matched before `gpt-4-…`).
pub fn tiktoken_encoding_for_model(model: &str) -> ModelEncoding {
    use Encoding::*;
    const EXACT: &[(&str, Encoding)] = &[
        ("o1", O200kBase),
        ("o3", O200kBase),
        ("o4-mini", O200kBase),
        ("gpt-5", O200kBase),
        ("gpt-4.1", O200kBase),
        ("gpt-4o", O200kBase),
        ("gpt-4", Cl100kBase),
        ("gpt-3.5-turbo", Cl100kBase),
        ("gpt-3.5", Cl100kBase),
        ("gpt-35-turbo", Cl100kBase),
        ("davinci-002", Cl100kBase),
        ("babbage-002", Cl100kBase),
        ("text-embedding-ada-002", Cl100kBase),
        ("text-embedding-3-small", Cl100kBase),
        ("text-embedding-3-large", Cl100kBase),
    ];
    const PREFIX: &[(&str, Encoding)] = &[
        ("o1-", O200kBase),
        ("o3-", O200kBase),
        ("o4-mini-", O200kBase),
        ("gpt-5", O200kBase),
        ("gpt-4.5-", O200kBase),
        ("gpt-4.1-", O200kBase),
        ("chatgpt-4o-", O200kBase),
        ("gpt-4o-", O200kBase),
        ("gpt-4-", Cl100kBase),
        ("gpt-3.5-turbo-", Cl100kBase),
        ("gpt-35-turbo-", Cl100kBase),
        ("gpt-oss-", O200kHarmony),
        ("ft:gpt-4o", O200kBase),
        ("ft:gpt-4", Cl100kBase),
        ("ft:gpt-3.5-turbo", Cl100kBase),
        ("ft:davinci-002", Cl100kBase),
        ("ft:babbage-002", Cl100kBase),
    ];
    const RETIRED: &[(&str, &str)] = &[
        ("text-davinci-00", "p50k_base"),
        ("code-davinci-", "p50k_base"),
        ("code-cushman-", "p50k_base"),
        ("davinci-codex", "p50k_base"),
        ("cushman-codex", "p50k_base"),
        ("text-davinci-edit-001", "p50k_edit"),
        ("code-davinci-edit-001", "p50k_edit"),
        ("text-curie-001", "r50k_base"),
        ("text-babbage-001", "r50k_base"),
        ("text-ada-001", "r50k_base"),
        ("text-similarity-", "r50k_base"),
        ("text-search-", "r50k_base"),
        ("code-search-", "r50k_base"),
        ("gpt2", "gpt2"),
        ("gpt-2", "gpt2"),
    ];
    if let Some((_, e)) = EXACT.iter().find(|(m, _)| *m == model) {
        return ModelEncoding::Known(*e);
    }
    if let Some((_, e)) = PREFIX.iter().find(|(p, _)| model.starts_with(p)) {
        return ModelEncoding::Known(*e);
    }
    if let Some((_, e)) = RETIRED.iter().find(|(p, _)| model.starts_with(p)) {
        return ModelEncoding::Unsupported(e);
    }
    if matches!(model, "davinci" | "curie" | "babbage" | "ada") {
        return ModelEncoding::Unsupported("r50k_base");
    }
    ModelEncoding::Unknown
}

/// How tokens are counted for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Exact, offline.
    Tiktoken(Encoding),
    /// Anthropic: no public tokenizer, so `ceil(chars / ratio)` at the ratio of the model's
    /// tokenizer generation ([`crate::models::ClaudeTokenizer`]).
    Chars(&'static crate::models::ClaudeTokenizer),
}

/// The cookbook's `num_tokens_from_messages` constants (gpt-3.5-turbo-0125, gpt-4, gpt-4o):
/// every message costs 3 tokens plus its fields, and the reply is primed with 3 more.
pub const TOKENS_PER_MESSAGE: u64 = 3;
pub const REPLY_PRIMING: u64 = 3;

impl Counter {
    /// The counter for `model` at `provider`; `encoding` (from `--encoding`) wins. A model
    /// with no known encoding is a usage error that says how to pick one.
    pub fn for_model(
        model: &str,
        provider: ProviderKind,
        encoding: Option<Encoding>,
    ) -> Result<Counter> {
        if let Some(e) = encoding {
            return Ok(Counter::Tiktoken(e));
        }
        if provider == ProviderKind::Anthropic {
            return Ok(Counter::Chars(crate::models::claude_tokenizer(model)));
        }
        if let Some(e) = crate::models::find(model).and_then(|m| m.encoding) {
            return Ok(Counter::Tiktoken(e));
        }
        match tiktoken_encoding_for_model(model) {
            ModelEncoding::Known(e) => Ok(Counter::Tiktoken(e)),
            ModelEncoding::Unsupported(e) => Err(Error::usage(format!(
                "{model} uses the {e} encoding, which llmpipe does not ship"
            ))
            .with_hint(pick_encoding_hint())),
            ModelEncoding::Unknown => Err(Error::usage(format!(
                "no tokenizer is known for model `{model}`"
            ))
            .with_hint(pick_encoding_hint())),
        }
    }

    pub fn exact(self) -> bool {
        matches!(self, Counter::Tiktoken(_))
    }

    pub fn encoding(self) -> Option<Encoding> {
        match self {
            Counter::Tiktoken(e) => Some(e),
            Counter::Chars(_) => None,
        }
    }

    /// Tokens for tiktoken, characters for the estimate: units add up across texts, and
    /// [`Counter::tokens`] turns a total into tokens (the estimate rounds up once).
    pub fn units(self, text: &str, threads: usize) -> u64 {
        match self {
            Counter::Tiktoken(e) => parallel::count_str(e, text, threads),
            Counter::Chars(_) => text.chars().count() as u64,
        }
    }

    /// Units of a chunk of valid UTF-8 (for [`parallel::count_sources`]).
    pub fn chunk_units(self, chunk: &[u8]) -> u64 {
        match self {
            Counter::Tiktoken(e) => e.count_bytes(chunk),
            Counter::Chars(_) => chunk.iter().filter(|&&b| b & 0xc0 != 0x80).count() as u64,
        }
    }

    pub fn tokens(self, units: u64) -> u64 {
        match self {
            Counter::Tiktoken(_) => units,
            Counter::Chars(t) => (units * 10).div_ceil(t.chars_per_token_x10),
        }
    }

    pub fn count_text(self, text: &str, threads: usize) -> u64 {
        self.tokens(self.units(text, threads))
    }

    /// Units of a whole request as the API sees it: for tiktoken, the cookbook's
    /// per-message overhead and reply priming (the documented approximation); for the
    /// estimate, the characters of every text. Images are not counted (see
    /// [`RequestCount::images`]).
    pub fn request_units(self, req: &Request, threads: usize) -> RequestCount {
        let mut total = RequestCount::default();
        if let Some(system) = &req.system {
            let part = Part::Text(system.clone());
            total.add(self.message_units("system", std::iter::once(&part), threads));
        }
        for m in &req.messages {
            total.add(self.message_units(m.role.as_str(), m.content.iter(), threads));
        }
        // Tool definitions are part of the prompt too: counted as their JSON text.
        for t in &req.tools {
            let def = serde_json::to_string(t).unwrap_or_default();
            total.units += self.units(&def, threads);
        }
        if let Counter::Tiktoken(_) = self {
            total.units += REPLY_PRIMING;
        }
        total
    }

    /// Units of one message: its parts plus, for tiktoken, the per-message overhead.
    pub fn message_units<'a>(
        self,
        role: &str,
        parts: impl Iterator<Item = &'a Part>,
        threads: usize,
    ) -> RequestCount {
        let mut count = RequestCount::default();
        if let Counter::Tiktoken(e) = self {
            count.units += TOKENS_PER_MESSAGE + e.count(role);
        }
        for part in parts {
            match part {
                Part::Text(t) => count.units += self.units(t, threads),
                Part::Image(_) => count.images += 1,
                Part::ToolCall(c) => {
                    count.units += self.units(&c.name, threads) + self.units(&c.raw, threads)
                }
                Part::ToolResult(r) => count.units += self.units(&r.content, threads),
                Part::Thinking(v) => count.units += self.units(&v.to_string(), threads),
            }
        }
        count
    }

    /// Short machine-readable name of how the number was made (`method` in the JSON).
    pub fn method(self, chat: bool) -> &'static str {
        match (self, chat) {
            (Counter::Tiktoken(_), false) => "tiktoken",
            (Counter::Tiktoken(_), true) => "tiktoken+chat_overhead",
            (Counter::Chars(t), _) => t.method,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCount {
    pub units: u64,
    /// Images in the request: neither counter prices them (they are tile-priced).
    pub images: usize,
}

impl RequestCount {
    fn add(&mut self, other: RequestCount) {
        self.units += other.units;
        self.images += other.images;
    }
}

pub fn pick_encoding_hint() -> String {
    "pick an encoding with --encoding o200k_base (gpt-4o, gpt-4.1, gpt-5, o1/o3/o4) or \
     --encoding cl100k_base (gpt-4, gpt-3.5-turbo); claude-* models (or -p anthropic) are \
     estimated; `llmpipe models` lists the known models"
        .into()
}

/// The default number of counting threads: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests;
