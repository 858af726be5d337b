//! Flags + environment + `.env` + config file → resolved settings.
//!
//! Precedence, highest first: command-line flags, the config file, the environment (with
//! `.env` filling only variables the environment lacks), built-in defaults. For the model
//! the SPEC puts the config file before `LLMPIPE_MODEL`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{ProviderArg, RequestArgs};
use crate::error::{Error, Result};
use crate::models::{self, Price};
use crate::provider::{MaxTokensField, ProviderKind, Secret, Target, retry};

pub const DEFAULT_MAX_TOKENS: u64 = 1024;
pub const DEFAULT_TIMEOUT_SECS: f64 = 120.0;

/// The process environment, with `.env` from the working directory underneath it.
#[derive(Debug, Default)]
pub struct Env {
    dotenv: HashMap<String, String>,
}

impl Env {
    /// Reads `.env` in the working directory if there is one. It never overrides a
    /// variable that is already set, and is not written into the process environment.
    pub fn load() -> Result<Env> {
        let mut dotenv = HashMap::new();
        match dotenvy::from_path_iter(".env") {
            Ok(iter) => {
                for item in iter {
                    let (k, v) = item.map_err(|e| {
                        Error::config(format!("cannot read .env: {e}"))
                            .with_hint("each line should be KEY=value")
                    })?;
                    dotenv.insert(k, v);
                }
            }
            Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::config(format!("cannot read .env: {e}"))),
        }
        Ok(Env { dotenv })
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|v| !v.trim().is_empty())
    }
}

/// `llmpipe.toml` / `$XDG_CONFIG_HOME/llmpipe/config.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub model: Option<String>,
    pub max_tokens: Option<u64>,
    pub timeout: Option<f64>,
    pub retries: Option<u32>,
    #[serde(default)]
    pub fallback: Vec<String>,
    /// `max_completion_tokens` (default) or `max_tokens`, for OpenAI-compatible servers.
    pub openai_max_tokens_field: Option<String>,
    #[serde(default)]
    pub aliases: HashMap<String, String>,
    #[serde(default)]
    pub prices: HashMap<String, PriceOverride>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
}

impl FileConfig {
    fn locate(env: &Env) -> Option<PathBuf> {
        if let Some(p) = env.get("LLMPIPE_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let local = PathBuf::from("llmpipe.toml");
        if local.is_file() {
            return Some(local);
        }
        let dir = env
            .get("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| env.get("HOME").map(|h| Path::new(&h).join(".config")))?;
        let p = dir.join("llmpipe").join("config.toml");
        p.is_file().then_some(p)
    }

    pub fn load(env: &Env) -> Result<FileConfig> {
        let Some(path) = Self::locate(env) else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        toml::from_str(&text).map_err(|e| {
            let line = unknown_key_line(&text, e.message()).or_else(|| {
                let start = e.span()?.start.min(text.len());
                Some(text[..start].matches('\n').count() + 1)
            });
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            Error::config(format!(
                "{}{at}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })
    }
}

/// serde reports an unknown key against its whole table; point at the key's own line.
fn unknown_key_line(text: &str, message: &str) -> Option<usize> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Prices: config overrides first, then the built-in table.
#[derive(Debug, Default)]
pub struct Pricing {
    overrides: HashMap<String, PriceOverride>,
}

impl Pricing {
    /// The price of the first name that has one (the reported id, then the requested one).
    pub fn lookup(&self, names: &[&str]) -> Option<Price> {
        names.iter().find_map(|n| {
            if let Some(o) = self.overrides.get(*n) {
                return Some(Price {
                    input: o.input,
                    cached_input: o.cached_input.unwrap_or(o.input),
                    cache_write: o.cache_write.unwrap_or(o.input),
                    output: o.output,
                    long_context: None,
                });
            }
            models::find(n).map(|m| m.price)
        })
    }

    /// Whether the config file sets `name`'s price (so the table's date and source do not
    /// apply).
    pub fn overrides(&self, name: &str) -> bool {
        self.overrides.contains_key(name)
    }

    /// Models the config file prices, sorted.
    pub fn configured(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.overrides.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// Everything a request command needs, resolved.
#[derive(Debug)]
pub struct Settings {
    /// The model, then each fallback.
    pub targets: Vec<Target>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: u64,
    pub stop: Vec<String>,
    pub timeout: Duration,
    pub policy: retry::Policy,
    pub pricing: Pricing,
}

impl Settings {
    pub fn resolve(args: &RequestArgs, env: &Env) -> Result<Settings> {
        let file = FileConfig::load(env)?;
        let model = args
            .model
            .clone()
            .or_else(|| file.model.clone())
            .or_else(|| env.get("LLMPIPE_MODEL"))
            .unwrap_or_else(|| models::DEFAULT_MODEL.to_string());
        let field = match env
            .get("LLMPIPE_OPENAI_MAX_TOKENS_FIELD")
            .or_else(|| file.openai_max_tokens_field.clone())
            .as_deref()
        {
            None | Some("max_completion_tokens") => MaxTokensField::MaxCompletionTokens,
            Some("max_tokens") => MaxTokensField::MaxTokens,
            Some(other) => {
                return Err(Error::config(format!(
                    "openai_max_tokens_field is `{other}`: use `max_completion_tokens` or `max_tokens`"
                )));
            }
        };
        let explicit = args.provider.map(|p| match p {
            ProviderArg::Openai => ProviderKind::OpenAi,
            ProviderArg::Anthropic => ProviderKind::Anthropic,
        });
        let fallbacks = if args.fallbacks.is_empty() {
            &file.fallback
        } else {
            &args.fallbacks
        };
        let mut targets = vec![target(&model, explicit, &file, env, field)?];
        for fb in fallbacks {
            targets.push(target(fb, None, &file, env, field)?);
        }

        let max_tokens = args
            .max_tokens
            .or(file.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        if max_tokens == 0 {
            return Err(Error::usage("--max-tokens must be at least 1"));
        }
        if let Some(t) = args.temperature {
            check_temperature(t, &targets)?;
        }
        let secs = args
            .timeout
            .or(file.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        let timeout = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::usage(format!(
                    "--timeout must be a positive number of seconds, not {secs}"
                ))
            })?;
        let mut policy = retry::Policy {
            retries: args.retries.or(file.retries).unwrap_or(3),
            ..Default::default()
        };
        // Tests and impatient users shorten the backoff; the SPEC's 0.5 s is the default.
        if let Some(ms) = env.get("LLMPIPE_RETRY_BASE_MS") {
            let ms: u64 = ms.parse().map_err(|_| {
                Error::config(format!(
                    "LLMPIPE_RETRY_BASE_MS is `{ms}`, not a whole number of milliseconds"
                ))
            })?;
            policy.base_delay = Duration::from_millis(ms);
            policy.max_delay = policy.max_delay.max(policy.base_delay);
        }
        Ok(Settings {
            targets,
            system: args.system.clone(),
            temperature: args.temperature,
            max_tokens,
            stop: args.stop.clone(),
            timeout,
            policy,
            pricing: Pricing {
                overrides: file.prices,
            },
        })
    }
}

/// Resolves an alias (config first, then built-in) and the provider's endpoint and key.
fn target(
    name: &str,
    explicit: Option<ProviderKind>,
    file: &FileConfig,
    env: &Env,
    field: MaxTokensField,
) -> Result<Target> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::usage("the model name is empty"));
    }
    let model = file
        .aliases
        .get(name)
        .map(String::as_str)
        .or_else(|| {
            models::ALIASES
                .iter()
                .find(|(a, _)| *a == name)
                .map(|(_, m)| *m)
        })
        .unwrap_or(name)
        .to_string();
    let kind = explicit.unwrap_or_else(|| models::infer_provider(&model));
    let base_url = env
        .get(kind.base_url_var())
        .unwrap_or_else(|| kind.default_base_url().to_string());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(Error::config(format!(
            "{} is `{base_url}`: it must start with http:// or https://",
            kind.base_url_var()
        )));
    }
    Ok(Target {
        kind,
        model,
        base_url,
        api_key: env.get(kind.key_var()).map(Secret::new),
        max_tokens_field: field,
    })
}

/// Reasoning models reject a non-default temperature with a 400; say so before sending.
fn check_temperature(t: f64, targets: &[Target]) -> Result<()> {
    for target in targets {
        let max = match target.kind {
            ProviderKind::OpenAi => 2.0,
            ProviderKind::Anthropic => 1.0,
        };
        if !(0.0..=max).contains(&t) {
            return Err(Error::usage(format!(
                "--temperature {t} is out of range for {} ({}): use 0 to {max}",
                target.model,
                target.kind.name()
            )));
        }
        if models::find(&target.model).is_some_and(|m| m.reasoning) && t != 1.0 {
            return Err(Error::usage(format!(
                "{} is a reasoning model and accepts only the default temperature: drop -t/--temperature",
                target.model
            )));
        }
    }
    Ok(())
}
