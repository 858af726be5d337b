//! Reasoning effort and prompt caching: which effort levels a model takes and how its API
//! is asked for them (PROTOCOLS.md H), the thinking budget derived from a level, and the
//! prompt-cache lifetimes `--cache-prompt` offers.
//!
//! Kept apart from the price table (`models.rs`): a capability is keyed by model id and
//! family here, so a model the table does not price still gets the right request fields.

use std::fmt;

use serde::Deserialize;

use crate::chat::Request;
use crate::error::{Error, Result};
use crate::provider::{ProviderKind, Target};

/// An `--effort` level, as the APIs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
    Max,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Minimal => "minimal",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Xhigh => "xhigh",
            Level::Max => "max",
        }
    }

    /// The thinking budget (`budget_tokens`) a level stands for on Claude models with
    /// extended (budget) thinking; the API takes at least 1,024.
    pub fn budget_tokens(self) -> u64 {
        match self {
            Level::None | Level::Minimal | Level::Low => 1_024,
            Level::Medium => 4_096,
            Level::High => 16_384,
            Level::Xhigh | Level::Max => 32_768,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use Level::{High, Low, Max, Medium, Minimal, None as NoEffort, Xhigh};

/// How a model is asked to think, and the levels it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// OpenAI `reasoning_effort`.
    ReasoningEffort(&'static [Level]),
    /// Anthropic `thinking: {"type": "adaptive"}` with `output_config.effort`.
    Adaptive(&'static [Level]),
    /// Anthropic `thinking: {"type": "enabled", "budget_tokens": N}`, N from the level.
    Budget(&'static [Level]),
    /// A known model that takes no level (it does not reason, or predates the setting).
    NoReasoning,
    /// A model llmpipe does not know (a local or compatible server's): the level is sent
    /// as asked, in the provider's field, unchecked.
    Unknown,
}

impl Mechanism {
    /// The levels the model takes; `None` when unknown (anything goes).
    pub fn levels(self) -> Option<&'static [Level]> {
        match self {
            Mechanism::ReasoningEffort(l) | Mechanism::Adaptive(l) | Mechanism::Budget(l) => {
                Some(l)
            }
            Mechanism::NoReasoning => Some(&[]),
            Mechanism::Unknown => None,
        }
    }

    /// Whether the request turns Anthropic thinking on (no prefill, temperature 1).
    pub fn thinks(self) -> bool {
        matches!(self, Mechanism::Adaptive(_) | Mechanism::Budget(_))
    }
}

// OpenAI (PROTOCOLS.md H.1 and the model pages): o-series low–high; gpt-5 adds minimal;
// gpt-5.1 has none instead; gpt-5.2 and later add xhigh; the pro models think hard only.
const O_SERIES: &[Level] = &[Low, Medium, High];
const GPT5: &[Level] = &[Minimal, Low, Medium, High];
const GPT5_PRO: &[Level] = &[High];
const GPT51: &[Level] = &[NoEffort, Low, Medium, High];
const GPT52_ON: &[Level] = &[NoEffort, Low, Medium, High, Xhigh];
const GPT52_ON_PRO: &[Level] = &[Medium, High, Xhigh];
// Anthropic (PROTOCOLS.md H.2, platform.claude.com effort page): max from Opus/Sonnet 4.6,
// xhigh from Opus 4.7 and Sonnet 5; budget models take the three classic levels.
const CLAUDE_BUDGET: &[Level] = &[Low, Medium, High];
const CLAUDE_46: &[Level] = &[Low, Medium, High, Max];
const CLAUDE_47_ON: &[Level] = &[Low, Medium, High, Xhigh, Max];
const CLAUDE_HAIKU_5: &[Level] = &[Low, Medium, High];

/// How `model` at `kind` is asked to think.
pub fn mechanism(kind: ProviderKind, model: &str) -> Mechanism {
    let model = model.trim().to_ascii_lowercase();
    // `openai/…`, `anthropic/…` from gateways.
    let model = model.rsplit('/').next().unwrap_or(&model);
    match kind {
        ProviderKind::OpenAi => openai(model),
        ProviderKind::Anthropic => anthropic(model),
    }
}

fn openai(model: &str) -> Mechanism {
    // The first o1 releases predate `reasoning_effort`.
    if ["o1-mini", "o1-preview"]
        .iter()
        .any(|p| model.starts_with(p))
    {
        return Mechanism::NoReasoning;
    }
    let o_series = ["o1", "o3", "o4"]
        .iter()
        .any(|p| model == *p || model.starts_with(&format!("{p}-")));
    if o_series {
        return Mechanism::ReasoningEffort(O_SERIES);
    }
    if let Some(rest) = model.strip_prefix("gpt-5") {
        let (minor, suffix) = match rest.strip_prefix('.') {
            Some(r) => {
                let digits = r.chars().take_while(char::is_ascii_digit).count();
                (r[..digits].parse::<u32>().ok(), &r[digits..])
            }
            None => (Some(0), rest),
        };
        let Some(minor) = minor else {
            return Mechanism::Unknown;
        };
        if !(suffix.is_empty() || suffix.starts_with('-')) {
            return Mechanism::Unknown;
        }
        if suffix.starts_with("-chat") {
            return Mechanism::NoReasoning;
        }
        let pro = suffix.starts_with("-pro");
        return Mechanism::ReasoningEffort(match (minor, pro) {
            (0, false) => GPT5,
            (0, true) => GPT5_PRO,
            (1, false) => GPT51,
            (1, true) => GPT5_PRO,
            (_, false) => GPT52_ON,
            (_, true) => GPT52_ON_PRO,
        });
    }
    if ["gpt-4", "gpt-3.5", "chatgpt-4o"]
        .iter()
        .any(|p| model.starts_with(p))
    {
        return Mechanism::NoReasoning;
    }
    Mechanism::Unknown
}

/// A Claude model's family and generation: ids are `claude-FAMILY-MAJOR[-MINOR][-DATE]`
/// (4.x and later) or `claude-MAJOR[-MINOR]-FAMILY[-DATE]` (3.x). `None` for an id that
/// is neither, or a family llmpipe does not know.
/// A Claude model's family and version, read from its id (`claude-opus-4-7`, dated or not).
pub fn claude(model: &str) -> Option<(&str, (u32, u32))> {
    // `anthropic/claude-…` from gateways.
    let rest = model.rsplit('/').next()?.strip_prefix("claude-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    let number = |s: &str| s.parse::<u32>().ok().filter(|n| *n < 100);
    let (family, major, minor) = match parts.as_slice() {
        [f, maj, tail @ ..] if number(f).is_none() && number(maj).is_some() => {
            (*f, number(maj)?, tail.first().and_then(|m| number(m)))
        }
        [maj, min, f, ..] if number(maj).is_some() && number(min).is_some() => {
            (*f, number(maj)?, number(min))
        }
        [maj, f, ..] if number(maj).is_some() => (*f, number(maj)?, Some(0)),
        _ => return None,
    };
    matches!(family, "opus" | "sonnet" | "haiku" | "fable" | "mythos")
        .then_some((family, (major, minor.unwrap_or(0))))
}

fn anthropic(model: &str) -> Mechanism {
    let Some((family, version)) = claude(model) else {
        return Mechanism::Unknown;
    };
    if version < (3, 7) {
        return Mechanism::NoReasoning;
    }
    if version < (4, 6) {
        // Sonnet 3.7, Opus 4 / 4.1 / 4.5, Sonnet 4 / 4.5, Haiku 4.5: extended thinking.
        return Mechanism::Budget(CLAUDE_BUDGET);
    }
    Mechanism::Adaptive(match family {
        "haiku" => CLAUDE_HAIKU_5,
        "opus" | "sonnet" if version == (4, 6) => CLAUDE_46,
        "sonnet" if version < (5, 0) => CLAUDE_46,
        _ => CLAUDE_47_ON,
    })
}

/// Exit 2 unless every model the request may go to takes `level`, naming the levels the
/// first one that does not takes.
pub fn check(level: Level, targets: &[Target]) -> Result<()> {
    for t in targets {
        let m = mechanism(t.kind, &t.model);
        let Some(levels) = m.levels() else {
            crate::output::debug(&format!(
                "--effort {level}: {} is not in llmpipe's table; sent unchecked",
                t.model
            ));
            continue;
        };
        if levels.contains(&level) {
            continue;
        }
        let what = if levels.is_empty() {
            format!(
                "{} ({}) takes no --effort level (it is not a reasoning model, or predates the setting)",
                t.model,
                t.kind.name()
            )
        } else {
            let list: Vec<&str> = levels.iter().map(|l| l.as_str()).collect();
            format!(
                "{} ({}) does not take --effort {level}; it takes: {}",
                t.model,
                t.kind.name(),
                list.join(", ")
            )
        };
        return Err(Error::usage(what).with_hint(if levels.is_empty() {
            "drop --effort, or pick a reasoning model"
        } else {
            "pick one of those levels"
        }));
    }
    Ok(())
}

/// The output cap actually sent to `kind`/`model` for `req`: on Claude models with budget
/// thinking, a `--max-tokens` not above the budget gets the budget added (the API needs
/// `budget_tokens < max_tokens`). `--max-cost` counts this cap.
pub fn max_tokens(kind: ProviderKind, model: &str, req: &Request) -> u64 {
    match (kind, req.effort) {
        (ProviderKind::Anthropic, Some(level))
            if matches!(mechanism(kind, model), Mechanism::Budget(_)) =>
        {
            let budget = level.budget_tokens();
            if budget >= req.max_tokens {
                // Not past the model's output limit (which is above every budget).
                let limit = crate::models::find(model).map_or(u64::MAX, |m| m.max_output);
                req.max_tokens
                    .saturating_add(budget)
                    .min(limit.max(budget + 1))
            } else {
                req.max_tokens
            }
        }
        _ => req.max_tokens,
    }
}

/// Whether `req` has thinking on at this Anthropic model (so no prefill, no forced tool,
/// temperature 1): asked for with `--effort`, or on by default (the 5.x generation, Fable
/// and Mythos think unless told not to).
pub fn anthropic_thinks(model: &str, req: &Request) -> bool {
    let asked = req.effort.is_some() && {
        let m = mechanism(ProviderKind::Anthropic, model);
        m.thinks() || m == Mechanism::Unknown
    };
    asked || thinks_by_default(model)
}

/// Whether `level` makes this model think in a way that takes only the default temperature
/// (Claude thinking: PROTOCOLS.md H.2).
pub fn fixes_temperature(kind: ProviderKind, model: &str, level: Level) -> bool {
    kind == ProviderKind::Anthropic
        && anthropic_thinks(
            model,
            &Request {
                effort: Some(level),
                ..Default::default()
            },
        )
}

/// Claude models that think when `thinking` is not sent.
pub fn thinks_by_default(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    claude(&model).is_some_and(|(family, v)| v >= (5, 0) || matches!(family, "fable" | "mythos"))
}

/// Whether an Anthropic model takes an assistant prefill: the 4.6 generation and later
/// answer it with a 400 (PROTOCOLS.md H.2, Anthropic's 4.6 migration guide), thinking or
/// not. A model llmpipe cannot place is assumed to take it.
pub fn anthropic_takes_prefill(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    claude(&model).is_none_or(|(_, v)| v < (4, 6))
}

/// Whether adaptive thinking must ask for `display: "summarized"` to return any thinking
/// text: Opus 4.7 and later default to `omitted` (the 4.6 models to summarized).
pub fn needs_summarized_display(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    claude(&model).is_none_or(|(_, v)| v > (4, 6))
}

/// How long the provider keeps a cached prompt prefix (`--cache-prompt[=5m|=1h]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
pub enum CacheTtl {
    #[default]
    #[serde(rename = "5m")]
    #[value(name = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    #[value(name = "1h")]
    OneHour,
}

impl CacheTtl {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheTtl::FiveMinutes => "5m",
            CacheTtl::OneHour => "1h",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::{Anthropic as A, OpenAi as O};

    #[test]
    fn the_lineup_has_its_levels() {
        let levels = |k, m| mechanism(k, m).levels().map(<[Level]>::to_vec);
        assert_eq!(levels(O, "o3"), Some(vec![Low, Medium, High]));
        assert_eq!(levels(O, "o1"), Some(vec![Low, Medium, High]));
        assert_eq!(levels(O, "o1-mini"), Some(vec![]));
        assert_eq!(
            levels(O, "o4-mini-2025-04-16"),
            Some(vec![Low, Medium, High])
        );
        assert_eq!(levels(O, "gpt-5-mini"), Some(GPT5.to_vec()));
        assert_eq!(levels(O, "gpt-5.1"), Some(GPT51.to_vec()));
        assert_eq!(levels(O, "gpt-5.4-mini"), Some(GPT52_ON.to_vec()));
        assert_eq!(levels(O, "gpt-5.5-pro"), Some(GPT52_ON_PRO.to_vec()));
        assert_eq!(levels(O, "gpt-5.6"), Some(GPT52_ON.to_vec()));
        assert_eq!(levels(O, "gpt-5-chat-latest"), Some(vec![]));
        assert_eq!(levels(O, "gpt-4o-mini"), Some(vec![]));
        assert_eq!(levels(O, "llama3.2"), None);
        assert_eq!(levels(O, "gpt-50"), None);
        assert_eq!(mechanism(A, "claude-3-5-haiku"), Mechanism::NoReasoning);
        assert_eq!(
            mechanism(A, "claude-3-7-sonnet-20250219"),
            Mechanism::Budget(CLAUDE_BUDGET)
        );
        for m in [
            "claude-sonnet-4-5-20250929",
            "claude-haiku-4-5",
            "claude-opus-4-1",
            "claude-opus-4-5",
            "claude-sonnet-4",
            "claude-opus-4-20250514",
        ] {
            assert_eq!(mechanism(A, m), Mechanism::Budget(CLAUDE_BUDGET), "{m}");
        }
        assert_eq!(
            mechanism(A, "claude-opus-4-6"),
            Mechanism::Adaptive(CLAUDE_46)
        );
        assert_eq!(
            mechanism(A, "claude-sonnet-4-6"),
            Mechanism::Adaptive(CLAUDE_46)
        );
        for m in [
            "claude-opus-4-7",
            "claude-opus-4-8",
            "claude-opus-5",
            "claude-opus-5-5",
            "claude-sonnet-5",
            "claude-sonnet-5-5-20260928",
            "claude-fable-5-1",
        ] {
            assert_eq!(mechanism(A, m), Mechanism::Adaptive(CLAUDE_47_ON), "{m}");
        }
        assert_eq!(
            mechanism(A, "claude-haiku-5-5"),
            Mechanism::Adaptive(CLAUDE_HAIKU_5)
        );
        assert_eq!(mechanism(A, "claude-custom"), Mechanism::Unknown);
    }

    #[test]
    fn prefill_and_default_thinking_by_generation() {
        assert!(anthropic_takes_prefill("claude-sonnet-4-5-20250929"));
        assert!(anthropic_takes_prefill("claude-3-5-haiku"));
        assert!(anthropic_takes_prefill("claude-custom"));
        assert!(!anthropic_takes_prefill("claude-sonnet-4-6"));
        assert!(!anthropic_takes_prefill("anthropic/claude-sonnet-4-6"));
        assert!(!anthropic_takes_prefill("claude-opus-5-5"));
        assert!(!thinks_by_default("claude-opus-4-8"));
        assert!(thinks_by_default("claude-sonnet-5"));
        assert!(thinks_by_default("claude-haiku-5-5"));
        assert!(thinks_by_default("claude-fable-5-1"));
        assert!(!needs_summarized_display("claude-opus-4-6"));
        assert!(needs_summarized_display("claude-opus-4-7"));
        assert!(needs_summarized_display("claude-sonnet-5-5"));
    }

    #[test]
    fn budget_raises_the_cap_only_where_needed() {
        let req = |max_tokens, effort| Request {
            max_tokens,
            effort,
            ..Default::default()
        };
        assert_eq!(
            max_tokens(A, "claude-sonnet-4-5", &req(1024, Some(Low))),
            2048
        );
        assert_eq!(
            max_tokens(A, "claude-sonnet-4-5", &req(8000, Some(Medium))),
            8000
        );
        assert_eq!(
            max_tokens(A, "claude-sonnet-4-5", &req(16_384, Some(High))),
            32_768
        );
        // claude-opus-4-1 writes at most 32,000 tokens.
        assert_eq!(
            max_tokens(A, "claude-opus-4-1", &req(16_384, Some(High))),
            32_000
        );
        assert_eq!(
            max_tokens(A, "claude-opus-4-8", &req(1024, Some(High))),
            1024
        );
        assert_eq!(max_tokens(O, "gpt-5", &req(1024, Some(High))), 1024);
        assert_eq!(max_tokens(A, "claude-sonnet-4-5", &req(1024, None)), 1024);
    }
}
