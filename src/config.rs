//! Flags + environment + `.env` + config file → resolved settings.
//!
//! The environment (with `.env`) and the config file are read once per process into a
//! [`Context`], which `commands::run` hands to the command. A request command turns its own
//! flags into [`RequestOptions`] (a plain struct, no clap type) and [`Settings::resolve`]
//! resolves those against the context; commands that only need prices or a model's
//! endpoint ask the context directly ([`Context::pricing`], [`Context::target`]).
//!
//! Precedence, highest first: command-line flags, the config file, the environment (with
//! `.env` filling only variables the environment lacks), built-in defaults. For the model
//! the SPEC puts the config file before `LLMPIPE_MODEL`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::cache::Cache;

use crate::error::{Error, Result};
use crate::models::{self, Flat, Price};
use crate::prompts::FrontMatter;
use crate::provider::{MaxTokensField, ProviderKind, Secret, Target, retry};

/// The proxy variables the HTTP client (reqwest) honours; their passwords are secrets.
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

pub const DEFAULT_MAX_TOKENS: u64 = 1024;
pub const DEFAULT_TIMEOUT_SECS: f64 = 120.0;

/// The process environment, with `.env` from the working directory underneath it.
#[derive(Debug, Default)]
pub struct Env {
    dotenv: HashMap<String, String>,
    /// `.env` lines that were not loaded (never their content: a line may hold a key).
    problems: Vec<crate::dotenv::Problem>,
}

impl Env {
    /// Reads `.env` in the working directory if there is one. It never overrides a
    /// variable that is already set, and is not written into the process environment.
    /// Lines that cannot be parsed are skipped and remembered (see [`Env::check`]). The
    /// keys and base-URL passwords found are registered with [`crate::secrets`].
    pub fn read() -> Env {
        let mut env = Env::default();
        // Never opened unless it is a regular file of sane size (a FIFO would hang).
        let read = std::fs::metadata(".env").and_then(|m| {
            if !m.is_file() {
                Err(std::io::Error::other("not a regular file"))
            } else if m.len() > crate::dotenv::MAX_BYTES {
                Err(std::io::Error::other("too large"))
            } else {
                std::fs::read(".env")
            }
        });
        match read {
            Ok(bytes) => {
                let parsed = crate::dotenv::parse(&bytes);
                env.dotenv = parsed.vars.into_iter().collect();
                env.problems = parsed.problems;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => env.problems.push(crate::dotenv::Problem {
                line: 0,
                what: "the file cannot be read (it must be a readable regular file of at most 1 MiB)",
            }),
        }
        for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
            if let Some(key) = env.get(kind.key_var()) {
                crate::secrets::register(&key);
            }
        }
        let urls = ["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "LLMPIPE_CACHE_URL"];
        for var in urls.into_iter().chain(PROXY_VARS) {
            if let Some(url) = env.get(var) {
                for s in crate::secrets::url_secrets(url.trim()) {
                    crate::secrets::register(&s);
                }
            }
        }
        env
    }

    fn describe(p: &crate::dotenv::Problem) -> String {
        if p.line == 0 {
            format!(".env: {}", p.what)
        } else {
            format!(".env:{}: {}", p.line, p.what)
        }
    }

    /// One warning per `.env` line that was not loaded.
    pub fn warn_problems(&self) {
        for p in &self.problems {
            let note = if p.line == 0 {
                "it is ignored"
            } else {
                "the line is ignored (not shown: it may hold a key)"
            };
            crate::output::warn(&format!("{}; {note}", Self::describe(p)));
        }
    }

    /// For commands that send a request with a key: a `.env` with a line that could not
    /// be loaded is a configuration error (the line may be the key, or the base URL).
    pub fn check(&self) -> Result<()> {
        let Some(first) = self.problems.first() else {
            return Ok(());
        };
        let more = match self.problems.len() {
            1 => String::new(),
            2 => " (1 more line has a problem)".to_string(),
            n => format!(" ({} more lines have problems)", n - 1),
        };
        Err(Error::config(format!(
            "{}; no request was sent{more}",
            Self::describe(first)
        ))
        .with_hint(format!(
            "fix .env (its lines are not shown: they may hold keys): {}",
            crate::dotenv::EXPECTED
        )))
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
    #[serde(default, deserialize_with = "check::model")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "check::max_tokens")]
    pub max_tokens: Option<u64>,
    #[serde(default, deserialize_with = "check::timeout")]
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
    /// Context windows in tokens, for models the table lacks (conversation trimming).
    #[serde(default)]
    pub context_windows: HashMap<String, u64>,
    /// Write the call log (default true).
    pub log: Option<bool>,
    /// The call log's path (default `$XDG_DATA_HOME/llmpipe/log.db`).
    #[serde(default, deserialize_with = "check::log_db")]
    pub log_db: Option<PathBuf>,
    /// Use the response cache without `--cache`.
    pub cache: Option<bool>,
    /// Seconds a cached response stays valid (default 7 days).
    pub cache_ttl: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    #[serde(deserialize_with = "check::price")]
    pub input: f64,
    #[serde(deserialize_with = "check::price")]
    pub output: f64,
    #[serde(default, deserialize_with = "check::opt_price")]
    pub cached_input: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_price")]
    pub cache_write: Option<f64>,
}

/// Config values checked as they are read, so a bad one is reported at its own line
/// (`llmpipe.toml:LINE: …`, exit 3) rather than later against a flag nobody passed.
mod check {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use std::path::PathBuf;

    /// A price must be finite and not negative: `nan`, `inf` or `-1` would disable
    /// `--max-cost` (every comparison with NaN is false). Nor may it be above 1,000,000
    /// USD per million tokens, the limit the price data has too: a rate like `1e308` makes
    /// every cost infinite, reported as `null` as if the model had no price.
    pub fn price<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let v = f64::deserialize(d)?;
        if crate::prices::is_rate(v) {
            Ok(v)
        } else {
            Err(D::Error::custom(format!(
                "a price must be a finite number of dollars per million tokens, from 0 to {}, not {v}",
                crate::prices::MAX_RATE
            )))
        }
    }

    pub fn opt_price<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        price(d).map(Some)
    }

    pub fn max_tokens<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match u64::deserialize(d)? {
            0 => Err(D::Error::custom("max_tokens must be at least 1")),
            n => Ok(Some(n)),
        }
    }

    pub fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let secs = f64::deserialize(d)?;
        match std::time::Duration::try_from_secs_f64(secs) {
            Ok(t) if !t.is_zero() => Ok(Some(secs)),
            _ => Err(D::Error::custom(format!(
                "timeout must be a positive number of seconds, not {secs}"
            ))),
        }
    }

    pub fn model<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let m = String::deserialize(d)?;
        if m.trim().is_empty() {
            return Err(D::Error::custom(
                "model is empty: give a model id or alias, or leave the key out",
            ));
        }
        Ok(Some(m))
    }

    pub fn log_db<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        let p = PathBuf::deserialize(d)?;
        if p.as_os_str().is_empty() {
            return Err(D::Error::custom(
                "log_db is empty: give the call log's path, or set `log = false` to turn the log off",
            ));
        }
        Ok(Some(p))
    }
}

/// A cache TTL at or above this (100 years) means "forever" and is capped here, so that
/// adding it to the clock can never wrap.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The most `LLMPIPE_RETRY_BASE_MS` may be (one minute): the first retry waits about this.
pub const MAX_RETRY_BASE_MS: u64 = 60_000;

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
        let text = crate::input::read_file_bounded(&path)
            .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
            .map_err(|e| {
                Error::config(format!(
                    "cannot read config file {}: {}",
                    path.display(),
                    crate::input::io_reason(&e)
                ))
            })?;
        toml::from_str(&text).map_err(|e| {
            let at = toml_error_line(&text, &e)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            Error::config(format!(
                "{}{at}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })
    }
}

/// The line (from 1) a TOML error is about. serde reports an unknown key against its whole
/// table, so that case points at the key's own line.
pub fn toml_error_line(text: &str, e: &toml::de::Error) -> Option<usize> {
    let unknown = e
        .message()
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next());
    unknown.and_then(|key| key_line(text, key)).or_else(|| {
        let start = e.span()?.start.min(text.len());
        Some(text[..start].matches('\n').count() + 1)
    })
}

/// The line (from 1) where `key = …` is set at the start of a line.
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Prices: config overrides first, then the genai-prices database (the downloaded copy in
/// the data directory when there is one, else the bundled one; decoded on first use).
#[derive(Debug, Default)]
pub struct Pricing {
    overrides: HashMap<String, PriceOverride>,
    /// The data `llmpipe models update` downloaded (used when it exists).
    data_file: Option<PathBuf>,
}

impl Pricing {
    /// The price of the first name that has one (the reported id, then the requested one):
    /// the config file's prices of any of the names win over the database's.
    pub fn lookup(&self, names: &[&str]) -> Option<Price> {
        // A dated or `-latest` form of a configured id is that model too (the config file
        // names `gpt-4o`, the call asks for or reports `gpt-4o-2024-08-06`).
        let configured = names
            .iter()
            .find_map(|n| self.overrides.get(*n))
            .or_else(|| {
                names
                    .iter()
                    .find_map(|n| self.overrides.get(models::undated(n)?))
            });
        if let Some(o) = configured {
            return Some(Price::Config(Flat {
                input: o.input,
                cached_input: o.cached_input.unwrap_or(o.input),
                cache_write: o.cache_write.unwrap_or(o.input),
                output: o.output,
            }));
        }
        names.iter().find_map(|n| {
            let provider = crate::prices::provider_id(models::infer_provider(n));
            crate::prices::find(self.db(), provider, n).map(Price::Database)
        })
    }

    /// The price data in use (decoded on first use).
    pub fn db(&self) -> &'static crate::prices::Db {
        crate::prices::db(self.data_file.as_deref())
    }

    /// Starts reading the price data on another thread, with the calculators of the
    /// `targets`' models that the config file does not price (see [`crate::prices::warm`]).
    pub fn warm(&self, targets: &[Target]) {
        let names = targets
            .iter()
            .filter(|t| !self.overrides.contains_key(&t.model))
            .map(|t| {
                let provider = models::infer_provider(&t.model);
                (crate::prices::provider_id(provider), t.model.clone())
            })
            .collect::<Vec<_>>();
        if !names.is_empty() {
            crate::prices::warm(self.data_file.clone(), names);
        }
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

/// What a command reads from the machine, once per process: the environment with `.env`
/// (read up front; each command applies its own rule to `.env` problems, see
/// [`Env::warn_problems`] and [`Env::check`]), and the config file, read the first time a
/// command asks for it (so a command that does not use it is not stopped by a broken one)
/// and never again.
#[derive(Debug, Default)]
pub struct Context {
    pub env: Env,
    file: std::sync::OnceLock<FileConfig>,
}

impl Context {
    pub fn read() -> Context {
        Context {
            env: Env::read(),
            file: std::sync::OnceLock::new(),
        }
    }

    /// The config file (empty when there is none), read on first use.
    pub fn file(&self) -> Result<&FileConfig> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let file = FileConfig::load(&self.env)?;
        Ok(self.file.get_or_init(|| file))
    }

    /// Prices: the config file's overrides over the built-in table.
    pub fn pricing(&self) -> Result<Pricing> {
        Ok(Pricing {
            overrides: self.file()?.prices.clone(),
            data_file: crate::prices::data_file(&self.env),
        })
    }

    /// A model name (or alias) resolved to its provider, endpoint and key.
    pub fn target(&self, name: &str, provider: Option<ProviderKind>) -> Result<Target> {
        let file = self.file()?;
        let field = max_tokens_field(&self.env, file)?;
        target(name, provider, file, &self.env, field)
    }
}

/// What a command asks of the request settings, from its own flags: `None` and empty mean
/// "not given" (the prompt file, the config file, the environment or the default decide).
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    pub model: Option<String>,
    pub provider: Option<ProviderKind>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    /// Seconds per attempt.
    pub timeout: Option<f64>,
    pub retries: Option<u32>,
    pub fallbacks: Vec<String>,
    pub stop: Vec<String>,
    pub no_log: bool,
    pub cache: bool,
    /// `--effort`.
    pub effort: Option<crate::effort::Level>,
    /// `--cache-prompt[=TTL]`.
    pub cache_prompt: Option<crate::effort::CacheTtl>,
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
    /// Where calls are logged; `None` with `--no-log` or `log = false`.
    pub log_path: Option<PathBuf>,
    /// The response cache, when `--cache` (or config) asks for it.
    pub cache: Option<Arc<Cache>>,
    /// The primary model's context window, when known.
    pub context_window: Option<u64>,
    /// `--effort`, checked against every target.
    pub effort: Option<crate::effort::Level>,
    /// `--cache-prompt`, else the prompt file's `cache_prompt`.
    pub cache_prompt: Option<crate::effort::CacheTtl>,
}

impl Settings {
    /// `prompt` holds a prompt file's defaults: they rank below the flags and above the
    /// config file.
    pub fn resolve(
        opts: &RequestOptions,
        ctx: &Context,
        prompt: Option<&FrontMatter>,
    ) -> Result<Settings> {
        let (env, file) = (&ctx.env, ctx.file()?);
        let none = FrontMatter::default();
        let prompt = prompt.unwrap_or(&none);
        let model = opts
            .model
            .clone()
            .or_else(|| prompt.model.clone())
            .or_else(|| file.model.clone())
            .or_else(|| env.get("LLMPIPE_MODEL"))
            .unwrap_or_else(|| models::DEFAULT_MODEL.to_string());
        let field = max_tokens_field(env, file)?;
        let explicit = opts.provider;
        let fallbacks = if opts.fallbacks.is_empty() {
            &file.fallback
        } else {
            &opts.fallbacks
        };
        let mut targets = vec![target(&model, explicit, file, env, field)?];
        for fb in fallbacks {
            targets.push(target(fb, None, file, env, field)?);
        }

        let max_tokens = opts
            .max_tokens
            .or(prompt.max_tokens)
            .or(file.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        if max_tokens == 0 {
            return Err(Error::usage("--max-tokens must be at least 1"));
        }
        if let Some(level) = opts.effort {
            crate::effort::check(level, &targets)?;
        }
        let temperature = match (opts.temperature, prompt.temperature) {
            (Some(t), _) => {
                check_temperature(t, &targets)?;
                Some(t)
            }
            // A prompt file is meant to be portable across models: its temperature is
            // dropped, with a warning, for a model that cannot take it.
            (None, Some(t)) => match check_temperature(t, &targets) {
                Ok(()) => Some(t),
                Err(e) => {
                    crate::output::warn(&format!("the prompt file's temperature is not sent: {e}"));
                    None
                }
            },
            (None, None) => None,
        };
        let temperature = effort_temperature(temperature, opts, &targets)?;
        let secs = opts
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
            retries: opts.retries.or(file.retries).unwrap_or(3),
            ..Default::default()
        };
        // Tests and impatient users shorten the backoff; the SPEC's 0.5 s is the default.
        if let Some(ms) = env.get("LLMPIPE_RETRY_BASE_MS") {
            let ms: u64 = ms
                .trim()
                .parse()
                .ok()
                .filter(|&n| n <= MAX_RETRY_BASE_MS)
                .ok_or_else(|| {
                    Error::config(format!(
                        "LLMPIPE_RETRY_BASE_MS is `{ms}`: it must be a whole number of milliseconds from 0 to {MAX_RETRY_BASE_MS}"
                    ))
                })?;
            policy.base_delay = Duration::from_millis(ms);
            policy.max_delay = policy.max_delay.max(policy.base_delay);
        }
        let log_path = if opts.no_log || file.log == Some(false) {
            None
        } else {
            log_db(env, file)
        };
        let env_ttl = match env.get("LLMPIPE_CACHE_TTL") {
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                Error::config(format!(
                    "LLMPIPE_CACHE_TTL is `{v}`: it must be a whole number of seconds, 0 or more"
                ))
            })?),
            None => None,
        };
        let ttl = env_ttl
            .or(file.cache_ttl)
            .map(Duration::from_secs)
            .unwrap_or(crate::cache::DEFAULT_TTL)
            .min(MAX_CACHE_TTL);
        let cache = if opts.cache || file.cache == Some(true) {
            match env.get("LLMPIPE_CACHE_URL") {
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                    match Cache::redis(&url, ttl) {
                        Ok(c) => Some(Arc::new(c)),
                        Err(e) => {
                            crate::output::warn(&format!("response cache off: {e}"));
                            None
                        }
                    }
                }
                Some(other) => {
                    crate::output::warn(&format!(
                        "response cache off: LLMPIPE_CACHE_URL must be redis://…, not `{}`",
                        crate::secrets::redact_url(&other)
                    ));
                    None
                }
                None => log_path
                    .clone()
                    .or_else(|| crate::store::default_path(env))
                    .map(|p| Arc::new(Cache::sqlite(p, ttl))),
            }
        } else {
            None
        };
        let primary = &targets[0].model;
        let context_window = file
            .context_windows
            .get(primary)
            .copied()
            .or_else(|| models::find(primary).map(|m| m.context_window));
        Ok(Settings {
            log_path,
            cache,
            context_window,
            targets,
            system: opts.system.clone().or_else(|| prompt.system.clone()),
            temperature,
            max_tokens,
            stop: opts.stop.clone(),
            timeout,
            policy,
            pricing: Pricing {
                overrides: file.prices.clone(),
                data_file: crate::prices::data_file(env),
            },
            effort: opts.effort,
            cache_prompt: opts.cache_prompt.or(prompt.cache_prompt),
        })
    }
}

/// With `--effort`, Claude thinks, and thinking takes only temperature 1 (PROTOCOLS.md
/// H.2): another `-t` is a usage error; a prompt file's is dropped with a warning.
fn effort_temperature(
    temperature: Option<f64>,
    opts: &RequestOptions,
    targets: &[Target],
) -> Result<Option<f64>> {
    let Some(t) = temperature.filter(|t| *t != 1.0) else {
        return Ok(temperature);
    };
    let Some(level) = opts.effort else {
        return Ok(temperature);
    };
    let thinking = targets
        .iter()
        .find(|target| crate::effort::fixes_temperature(target.kind, &target.model, level));
    let Some(target) = thinking else {
        return Ok(temperature);
    };
    let why = format!(
        "with --effort, {} thinks, and thinking takes only temperature 1, not {t}",
        target.model
    );
    if opts.temperature.is_some() {
        return Err(Error::usage(why).with_hint("drop -t/--temperature, or drop --effort"));
    }
    crate::output::warn(&format!("the prompt file's temperature is not sent: {why}"));
    Ok(None)
}

/// The call log: `LLMPIPE_LOG_DB`, the config file's `log_db`, `$XDG_DATA_HOME/llmpipe/log.db`.
pub fn log_db(env: &Env, file: &FileConfig) -> Option<PathBuf> {
    env.get("LLMPIPE_LOG_DB")
        .map(PathBuf::from)
        .or_else(|| file.log_db.clone())
        .or_else(|| crate::store::default_path(env))
}

/// How OpenAI requests name the output cap: `LLMPIPE_OPENAI_MAX_TOKENS_FIELD`, then the
/// config file's `openai_max_tokens_field`.
fn max_tokens_field(env: &Env, file: &FileConfig) -> Result<MaxTokensField> {
    match env
        .get("LLMPIPE_OPENAI_MAX_TOKENS_FIELD")
        .or_else(|| file.openai_max_tokens_field.clone())
        .as_deref()
    {
        None | Some("max_completion_tokens") => Ok(MaxTokensField::MaxCompletionTokens),
        Some("max_tokens") => Ok(MaxTokensField::MaxTokens),
        Some(other) => Err(Error::config(format!(
            "openai_max_tokens_field is `{other}`: use `max_completion_tokens` or `max_tokens`"
        ))),
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
    check_base_url(kind, &base_url)?;
    Ok(Target {
        kind,
        model,
        base_url,
        api_key: env.get(kind.key_var()).map(Secret::new),
        max_tokens_field: field,
    })
}

/// A base URL is parsed before anything is sent: one that is not a valid http(s) URL is a
/// configuration error (exit 3), never a connection failure to retry. Its password is
/// never shown. OpenAI authenticates with `Authorization: Bearer`, so a `user:password@`
/// (which would go out as a second, Basic, `Authorization` header) is refused there;
/// Anthropic's key travels in `x-api-key`, so there the userinfo is sent as Basic auth for
/// a gateway in front of the API.
fn check_base_url(kind: ProviderKind, base_url: &str) -> Result<()> {
    let var = kind.base_url_var();
    let shown = crate::secrets::redact_url(base_url);
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(Error::config(format!(
            "{var} is `{shown}`: it must start with http:// or https://"
        )));
    }
    // `http:///v1` would parse with `v1` as the host: an empty authority is no host.
    let after_scheme = base_url.split_once("://").map_or("", |(_, rest)| rest);
    if after_scheme.is_empty() || after_scheme.starts_with('/') {
        return Err(
            Error::config(format!("{var} is `{shown}`: it has no host")).with_hint(format!(
                "set {var} to an address such as {}",
                kind.default_base_url()
            )),
        );
    }
    let url = reqwest::Url::parse(base_url).map_err(|e| {
        // The text is shown only when it holds no userinfo (which could be a password).
        let what = if base_url.contains('@') {
            String::new()
        } else {
            format!(" `{base_url}`")
        };
        Error::config(format!("{var}{what} is not a valid URL: {e}")).with_hint(format!(
            "set {var} to an address such as {}",
            kind.default_base_url()
        ))
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("{var} `{shown}` has no host")));
    }
    if kind == ProviderKind::OpenAi && (!url.username().is_empty() || url.password().is_some()) {
        return Err(Error::config(format!(
            "{var} `{shown}` carries a user name or password: the OpenAI API takes the key as `Authorization: Bearer`, and a URL's user:password would be sent as a second, conflicting `Authorization` header"
        ))
        .with_hint(format!("remove the `user:password@` part from {var}; put the key in OPENAI_API_KEY")));
    }
    Ok(())
}

/// Reasoning models reject a non-default temperature with a 400; say so before sending.
fn check_temperature(t: f64, targets: &[Target]) -> Result<()> {
    for target in targets {
        let max = target.kind.max_temperature();
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
