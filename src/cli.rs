//! The command line as the user typed it (clap derive only). Argument groups several
//! commands share (the input, the model, the prompt file, `--json`, `-v`) are declared once
//! and flattened; a command rewords a shared flag's help where it means something more
//! specific there (`reword`). A command reads only its own struct, and turns what it asks
//! of the request settings into a plain `config::RequestOptions`, which `config.rs`
//! resolves against the environment and the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RequestOptions;

/// `--concurrency` at most: more requests in flight than any provider's rate limit allows.
pub const MAX_CONCURRENCY: u64 = 1024;
/// `count-tokens -j` at most.
pub const MAX_THREADS: u64 = 64;
/// `logs -n` at most (SQLite's LIMIT is a signed 64-bit number).
pub const MAX_LOG_ROWS: u64 = i64::MAX as u64;

#[derive(Debug, Parser)]
#[command(
    name = "llmpipe",
    version,
    about = "OpenAI and Anthropic models in shell pipelines",
    long_about = "OpenAI and Anthropic models in shell pipelines.\n\n\
        Input is the PROMPT words, then each -f file, then stdin (when it is not a terminal), \
        joined by blank lines. Results go to stdout; diagnostics go to stderr.\n\n\
        Exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration or authentication, \
        4 request rejected, 5 API unavailable, 6 unusable answer, 7 over budget, 8 eval gate failed, \
        130 interrupted (Ctrl-C), 143 terminated (SIGTERM).",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one request and print the whole reply
    Complete(RequestArgs),
    /// Send one request and print the reply as it arrives
    Stream(RequestArgs),
    /// Get a JSON value back, validated against a schema, repaired if needed
    ExtractJson(ExtractArgs),
    /// Get one label from a fixed set back
    Classify(ClassifyArgs),
    /// Count the input's tokens for a model, offline (exact for OpenAI models)
    CountTokens(CountArgs),
    /// Estimate what the request would cost, before sending it
    EstimateCost(EstimateArgs),
    /// List the model table: encodings, limits, prices and where they come from
    Models(ModelsArgs),
    /// List, show and render versioned prompt files
    // `--json` is listed in each subcommand's help where it was before it became global:
    // before `--prompts-dir`.
    #[command(mut_args(reword(&[
        ("json", "Machine-readable output"),
    ])), mut_args(display_order("json", 5)))]
    Prompts {
        #[command(subcommand)]
        action: PromptsAction,

        #[command(flatten)]
        json: JsonArg,
    },
    /// Show the call log, or what it cost (`logs cost`)
    Logs(LogsArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Score prompt versions × models on labelled data; gates for CI (exit 8)
    Eval(EvalArgs),
    /// Large jobs on the providers' Batch APIs: half the price, results within 24 h
    Batch(BatchArgs),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LineFormat {
    #[default]
    Text,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    Openai,
    Anthropic,
}

/// Options every request command takes (the SPEC's table).
#[derive(Debug, Clone, Default, Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model: ModelArgs,

    /// System prompt (replaces a prompt file's)
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    #[command(flatten)]
    pub prompt_file: PromptFileArgs,

    /// Sampling temperature
    #[arg(short = 't', long, value_name = "F", allow_negative_numbers = true)]
    pub temperature: Option<f64>,

    /// Output token cap, always sent [default: config, then 1024]
    #[arg(long, value_name = "N", value_parser = max_tokens)]
    pub max_tokens: Option<u64>,

    /// Stop sequence (repeatable)
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,

    /// Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)
    #[arg(long = "image", value_name = "PATH|URL")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub json: JsonArg,

    /// Seconds per attempt: the whole reply, or a stream's first event and longest silence [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    /// Retries after the first attempt for transient failures [default: 3]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Model to try when the primary fails after its retries (repeatable, in order)
    #[arg(long = "fallback", value_name = "MODEL")]
    pub fallbacks: Vec<String>,

    /// Print the exact HTTP request (secrets redacted) and send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Continue the most recent conversation (its turns are sent as history)
    #[arg(short = 'c', long = "continue", conflicts_with_all = ["cid", "each_line"])]
    pub continue_last: bool,

    /// Continue the conversation with this id (see `llmpipe logs`)
    #[arg(long, value_name = "ID", conflicts_with = "each_line")]
    pub cid: Option<String>,

    /// Answer identical requests (temperature 0 or unset) from the response cache
    #[arg(long)]
    pub cache: bool,

    /// Do not write this call to the call log
    #[arg(long)]
    pub no_log: bool,

    /// One request per non-empty line of stdin and -f files; JSON Lines out, in input order
    #[arg(long)]
    pub each_line: bool,

    /// With --each-line: `text` lines, or `jsonl` objects whose fields are template variables
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        requires = "each_line"
    )]
    pub line_format: LineFormat,

    /// With --each-line: requests in flight
    #[arg(long, value_name = "N", default_value_t = 8, requires = "each_line",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONCURRENCY))]
    pub concurrency: usize,

    /// With --each-line: start at most N requests per minute
    #[arg(long, value_name = "N", requires = "each_line", value_parser = rpm)]
    pub rpm: Option<u32>,

    /// With --each-line: keep the successful lines of an earlier output FILE, run the rest
    #[arg(long, value_name = "FILE", requires = "each_line")]
    pub resume: Option<PathBuf>,

    #[command(flatten)]
    pub verbose: VerboseArg,

    /// Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD
    #[arg(long, value_name = "USD", allow_negative_numbers = true, value_parser = usd)]
    pub max_cost: Option<f64>,

    /// How hard a reasoning model thinks (the levels a model takes vary; see the README)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub effort: Option<crate::effort::Level>,

    /// Mark the stable prefix (tools, system prompt, examples) for the provider's prompt cache; the lifetime only with `=` [default: 5m]
    #[arg(long, value_enum, value_name = "TTL", num_args = 0..=1, require_equals = true,
          default_missing_value = "5m")]
    pub cache_prompt: Option<crate::effort::CacheTtl>,
    #[command(flatten)]
    pub tools: ToolArgs,
}

/// Tool calling (`complete` and `stream`).
#[derive(Debug, Clone, Default, Args)]
pub struct ToolArgs {
    /// A tool the model may call: a JSON or TOML tool file (repeatable)
    #[arg(long = "tool", value_name = "FILE")]
    pub tools: Vec<PathBuf>,

    /// auto, none, required, or a tool's NAME (forcing applies to the first turn only) [default: auto]
    #[arg(long, value_name = "auto|none|required|NAME")]
    pub tool_choice: Option<String>,

    /// Run the calls' commands and send their results back until the model answers
    #[arg(long)]
    pub run_tools: bool,

    /// With --run-tools: model turns at most, then exit 6
    #[arg(long, value_name = "N", default_value_t = 8, requires = "run_tools",
          value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(1..=1000))]
    pub max_tool_rounds: u32,

    /// With --run-tools: seconds a tool may run before it is killed
    #[arg(long, value_name = "SECS", default_value_t = 60.0, requires = "run_tools",
          value_parser = tool_seconds)]
    pub tool_timeout: f64,

    /// With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)
    #[arg(long = "tool-result", value_name = "ID=JSON|@FILE")]
    pub tool_results: Vec<String>,
}

/// `--tool-timeout`: a positive number of seconds.
fn tool_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(v),
        _ => Err("--tool-timeout must be a positive number of seconds".into()),
    }
}

/// `count-tokens`: the input as `complete` would gather it, counted offline.
#[derive(Debug, Clone, Args)]
#[command(mut_args(reword(&[
    ("files", "Add a file's text (repeatable); with two or more, each source is counted on its own"),
    ("model", "Model id or alias: picks the tokenizer [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]"),
    ("provider", "API the model belongs to [default: inferred from the model]"),
    ("prompt_name", "Count the request a prompt file makes of the input (system, few-shot turns, template)"),
    ("json", r#"Machine-readable output: {"model","encoding","tokens","exact","method"}"#),
    ("verbose", "Diagnostics on stderr"),
])))]
pub struct CountArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Count with this tiktoken encoding, whatever the model
    #[arg(long, value_name = "NAME", value_parser = ["o200k_base", "o200k_harmony", "cl100k_base"])]
    pub encoding: Option<String>,

    /// Count the request as the API sees it: system prompt, user message, per-message overhead
    #[arg(long)]
    pub chat: bool,

    /// System prompt (counted with --chat and --exact)
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    #[command(flatten)]
    pub prompt_file: PromptFileArgs,

    /// Ask the provider's token-counting endpoint where the offline count is an estimate (Anthropic; needs the key)
    #[arg(long)]
    pub exact: bool,

    #[command(flatten)]
    pub json: JsonArg,

    /// Counting threads [default: one per core]
    #[arg(short = 'j', long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    pub threads: Option<usize>,

    /// Seconds for the --exact request [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    #[command(flatten)]
    pub verbose: VerboseArg,
}

/// `estimate-cost`: the request `complete` would send, priced from the model table.
#[derive(Debug, Clone, Args)]
#[command(mut_args(reword(&[
    ("provider", "API to use [default: inferred from the model]"),
    ("prompt_name", "Price the request a prompt file makes of the input (system, few-shot turns, template)"),
    ("json", "Machine-readable output (an array with --compare)"),
    ("verbose", "Diagnostics on stderr"),
])))]
pub struct EstimateArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model: ModelArgs,

    /// System prompt
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    #[command(flatten)]
    pub prompt_file: PromptFileArgs,

    /// Output token cap of the request [default: config, then 1024]
    #[arg(long, value_name = "N", value_parser = max_tokens)]
    pub max_tokens: Option<u64>,

    /// Output tokens to price [default: --max-tokens]
    #[arg(long, value_name = "N")]
    pub output_tokens: Option<u64>,

    /// Price the request for these models too, sorted by total (comma-separated, or `all`)
    #[arg(long, value_name = "M1,M2,…|all")]
    pub compare: Option<String>,

    /// The --effort the request would carry: the output cap counted is the one that would
    /// be sent (a Claude thinking budget raises it); a model that does not take the level is
    /// exit 2 (with --compare: left out, with a note)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub effort: Option<crate::effort::Level>,

    /// Count Anthropic input with the provider's token-counting endpoint (needs the key)
    #[arg(long)]
    pub exact: bool,

    #[command(flatten)]
    pub json: JsonArg,

    /// Seconds for the --exact request [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    #[command(flatten)]
    pub verbose: VerboseArg,
}

#[derive(Debug, Clone, Args)]
#[command(mut_args(reword(&[
    ("json", "Machine-readable output: an array of objects"),
])))]
pub struct ModelsArgs {
    #[command(flatten)]
    pub json: JsonArg,

    #[command(subcommand)]
    pub action: Option<ModelsAction>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ModelsAction {
    /// Download the genai-prices database's current data file into llmpipe's data
    /// directory (used from then on instead of the bundled copy)
    Update(ModelsUpdateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ModelsUpdateArgs {
    /// Where to get the data: an http(s) URL (a mirror) or a local file [default: the
    /// database's published feed]
    #[arg(long, value_name = "URL|FILE")]
    pub from: Option<String>,

    /// Seconds per attempt
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,

    /// Retries after the first attempt for retryable failures
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
}

#[derive(Debug, Clone, Args)]
#[command(mut_args(no_tools("extract-json")))]
pub struct ExtractArgs {
    #[command(flatten)]
    pub request: RequestArgs,

    /// JSON Schema file, or a short field list such as 'name, age int, tags [str]'
    #[arg(long, value_name = "FILE|FIELDS")]
    pub schema: Option<String>,

    /// Follow-up requests that show the model its invalid reply and the errors
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repair: u32,

    /// Indent the JSON
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Debug, Clone, Args)]
#[command(mut_args(no_tools("classify")))]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub request: RequestArgs,

    /// The label set, comma-separated (or the prompt file's labels)
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PromptsAction {
    /// Name, latest version, versions and description of every prompt found
    List(PromptsCommon),
    /// Print a prompt file
    Show {
        #[arg(value_name = "NAME[@vN]")]
        prompt: String,
        #[command(flatten)]
        common: PromptsCommon,
    },
    /// Print the messages that would be sent
    Render {
        #[arg(value_name = "NAME[@vN]")]
        prompt: String,
        /// Input words; stdin and -f are read as for request commands
        #[arg(value_name = "INPUT")]
        input: Vec<String>,
        /// Add a file's text to the input (repeatable)
        #[arg(short = 'f', long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
        /// Template variable (repeatable)
        #[arg(long = "var", value_name = "KEY=VALUE")]
        vars: Vec<String>,
        #[command(flatten)]
        common: PromptsCommon,
    },
}

#[derive(Debug, Clone, Args)]
// `--json` is listed where it was before it became global: after `-n` in `logs --help`,
// after `--by` in `logs cost --help`.
#[command(mut_args(reword(&[
    ("json", "Machine-readable output"),
])), mut_args(display_order("json", 1)))]
pub struct LogsArgs {
    #[command(subcommand)]
    pub action: Option<LogsAction>,

    /// How many calls to show (the most recent)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20, display_order = 0,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_LOG_ROWS))]
    pub count: usize,

    #[command(flatten)]
    pub json: JsonArg,

    #[command(flatten)]
    pub filter: LogFilter,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LogsAction {
    /// Sum of cost and tokens, grouped
    Cost {
        /// Group by model, prompt or day
        #[arg(long, value_enum, default_value = "model")]
        by: CostBy,

        #[command(flatten)]
        filter: LogFilter,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostBy {
    Model,
    Prompt,
    Day,
}

#[derive(Debug, Clone, Args)]
pub struct LogFilter {
    /// Only calls to this model (as requested or as reported)
    #[arg(short = 'm', long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Only calls with this prompt file (`name` or `name@vN`)
    #[arg(long, value_name = "NAME[@vN]")]
    pub prompt: Option<String>,

    /// Only calls since a date (2026-11-01) or an age (30m, 2h, 7d, 1w)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Only the calls of one conversation
    #[arg(long, value_name = "ID")]
    pub conversation: Option<String>,

    /// Full-text search in system prompts, inputs and replies
    #[arg(short = 'q', long, value_name = "TEXT")]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PromptsCommon {
    /// Look for prompt files here first
    #[arg(long, value_name = "DIR", display_order = 10)]
    pub prompts_dir: Option<PathBuf>,
}

/// The input: PROMPT words, then each -f file (then stdin), as the SPEC gathers it.
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// Prompt words, joined by spaces; `-` reads stdin even from a terminal
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// Add a file's text to the input (repeatable, in order)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
}

/// The model and the API it is sent to.
#[derive(Debug, Clone, Default, Args)]
pub struct ModelArgs {
    /// Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]
    #[arg(short = 'm', long, value_name = "NAME")]
    pub model: Option<String>,

    /// API to use [default: inferred from the model: claude-* is anthropic, else openai]
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,
}

/// A versioned prompt file and its template variables.
#[derive(Debug, Clone, Default, Args)]
pub struct PromptFileArgs {
    /// Use a versioned prompt file (latest version without @vN)
    #[arg(long = "prompt", value_name = "NAME[@vN]")]
    pub prompt_name: Option<String>,

    /// Template variable for the prompt file (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,
}

/// `--json`, global: a command with subcommands (`prompts`, `logs`) takes it before or
/// after the subcommand. Each command words its help for the shape it prints.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct JsonArg {
    /// Machine-readable output (see the README for the shapes)
    #[arg(long, global = true)]
    pub json: bool,
}

/// `-v`, global like `--json`.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct VerboseArg {
    /// Request and response diagnostics on stderr (never secrets)
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

impl From<ProviderArg> for crate::provider::ProviderKind {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Openai => Self::OpenAi,
            ProviderArg::Anthropic => Self::Anthropic,
        }
    }
}

impl RequestArgs {
    /// What the flags ask of the request settings.
    pub fn options(&self) -> RequestOptions {
        RequestOptions {
            model: self.model.model.clone(),
            provider: self.model.provider.map(Into::into),
            system: self.system.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            timeout: self.timeout,
            retries: self.retries,
            fallbacks: self.fallbacks.clone(),
            stop: self.stop.clone(),
            no_log: self.no_log,
            cache: self.cache,
            effort: self.effort,
            cache_prompt: self.cache_prompt,
        }
    }
}

impl Cli {
    /// The request options of the command, if it is a request command.
    pub fn request_args(&self) -> Option<&RequestArgs> {
        match &self.command {
            Command::Complete(a) | Command::Stream(a) => Some(a),
            Command::ExtractJson(a) => Some(&a.request),
            Command::Classify(a) => Some(&a.request),
            _ => None,
        }
    }

    /// Whether the command handles Ctrl-C and SIGTERM itself, to write what it has: an
    /// `--each-line` run (a line for every item read), `batch` (the provider batches already
    /// created, the results read) and `eval` (the scored items and a partial report). The
    /// others are stopped from outside, which drops the command (see `main`).
    pub fn handles_interrupts(&self) -> bool {
        self.request_args().is_some_and(|a| a.each_line)
            || matches!(self.command, Command::Batch(_) | Command::Eval(_))
    }

    /// Whether `--json` was given, for reporting failures in the same shape.
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Prompts { json, .. } => json.json,
            Command::Logs(a) => a.json.json,
            Command::CountTokens(a) => a.json.json,
            Command::EstimateCost(a) => a.json.json,
            Command::Models(a) => a.json.json,
            Command::Completions { .. } => false,
            Command::Eval(a) => a.json.json,
            Command::Batch(a) => a.json(),
            _ => self.request_args().is_some_and(|a| a.json.json),
        }
    }
}

/// Whether a command line that clap refused asked for `--json` where a command takes it, so
/// the usage error can be reported as the JSON error object too. clap parses it again,
/// leniently (every value is taken as it is, and it goes on past an error where it can);
/// an unknown word, after which clap cannot go on, is left out and the line parsed again.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let cmd = lenient(command());
    // Each round leaves one word out; a line with more unknown words than this is not
    // worth more rounds (each round parses the whole line again).
    for _ in 0..MAX_UNKNOWN_WORDS.min(args.len()) {
        if let Ok(m) = cmd.clone().ignore_errors(true).try_get_matches_from(&args)
            && json_given(&m)
        {
            return true;
        }
        let Err(e) = cmd.clone().try_get_matches_from(&args) else {
            return false;
        };
        let (context, replace) = match e.kind() {
            ErrorKind::UnknownArgument => (ContextKind::InvalidArg, false),
            // A mistyped command: its words are read as `complete` would read them (it
            // takes `--json` and any words), so `llmpipe compleet --json` still answers
            // in JSON.
            ErrorKind::InvalidSubcommand => (ContextKind::InvalidSubcommand, true),
            _ => return false,
        };
        let Some(ContextValue::String(unknown)) = e.get(context) else {
            return false;
        };
        // `--json` where the command takes none (`llmpipe --json complete`): still asked for.
        if unknown == "--json" {
            return true;
        }
        // The first word (after the program name) that is the unknown one, or starts it
        // (`--bogus=1`).
        let at = args.iter().skip(1).position(|a| {
            let a = a.to_string_lossy();
            a == unknown.as_str() || a.starts_with(&format!("{unknown}="))
        });
        match at {
            Some(i) if replace => args[i + 1] = "complete".into(),
            Some(i) => {
                args.remove(i + 1);
            }
            None => return false,
        }
    }
    false
}

/// How many unknown words `json_requested` leaves out before it gives up.
const MAX_UNKNOWN_WORDS: usize = 32;

/// `--json` at this level or below.
fn json_given(m: &clap::ArgMatches) -> bool {
    matches!(m.try_get_one::<bool>("json"), Ok(Some(true)))
        || m.subcommand().is_some_and(|(_, sub)| json_given(sub))
}

/// `cmd` and its subcommands taking any value, so that no bad value ends a parse early.
fn lenient(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        if a.get_action().takes_values() {
            a.value_parser(clap::builder::ValueParser::os_string())
        } else {
            a
        }
    })
    .mut_subcommands(lenient)
}

/// Rewords shared flags' help for one command, keeping their place: `(id, help)` pairs.
fn reword(help: &'static [(&'static str, &'static str)]) -> impl FnMut(clap::Arg) -> clap::Arg {
    move |a| match help.iter().find(|(id, _)| a.get_id() == *id) {
        Some((_, text)) => a.help(*text),
        None => a,
    }
}

/// Puts one argument at `place` in the help (clap lists options by place).
fn display_order(id: &'static str, place: usize) -> impl FnMut(clap::Arg) -> clap::Arg {
    move |a| {
        if a.get_id() == id {
            a.display_order(place)
        } else {
            a
        }
    }
}

/// `--max-tokens`: a whole number, 1 or more.
fn max_tokens(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("--max-tokens must be at least 1".into()),
    }
}

/// `--rpm`: a whole number, 1 or more.
fn rpm(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("--rpm must be at least 1".into()),
    }
}

/// `--max-cost`: a number of dollars, 0 or more (a negative value reaches this check
/// instead of clap's "use -- -1" tip).
fn usd(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("--max-cost must be a positive number of USD (or 0)".into()),
    }
}

/// `--timeout`: a positive number of seconds.
fn seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("--timeout must be a positive number of seconds".into()),
    }
}

/// `eval`: every `--prompt` × every `-m` over labelled data.
#[derive(Debug, Clone, Args)]
#[command(mut_args(reword(&[
    ("json", "One report object: variants, flips, failures, gates"),
])))]
pub struct EvalArgs {
    /// Prompt file version to score (repeatable; the first is the baseline)
    #[arg(long = "prompt", value_name = "NAME@vN", required = true)]
    pub prompts: Vec<String>,

    /// Model to score each prompt with (repeatable) [default: the prompt file's, config, then LLMPIPE_MODEL]
    #[arg(short = 'm', long = "model", value_name = "NAME")]
    pub models: Vec<String>,

    /// API to use [default: inferred from each model]
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,

    /// Labelled data: JSON Lines, each an object with template fields, `input` and `expected` (`-`: stdin)
    #[arg(long, value_name = "FILE.jsonl", required = true)]
    pub data: PathBuf,

    /// What is asked [default: classify with the prompt's labels, extract-json with its schema, else complete]
    #[arg(long, value_enum, value_name = "TASK")]
    pub task: Option<EvalTask>,

    /// How an answer is scored [default: json-equal for extract-json, contains for complete]
    #[arg(long, value_enum, value_name = "METRIC")]
    pub metric: Option<EvalMetric>,

    /// Gate: every variant but the baseline (or the only one) must reach this accuracy (0.9 or 90%)
    #[arg(long, value_name = "X", value_parser = fraction)]
    pub min_accuracy: Option<f64>,

    /// Gate: no variant's accuracy may fall more than this below the baseline's (0.05 or 5%)
    #[arg(long, value_name = "Y", value_parser = fraction)]
    pub max_regression: Option<f64>,

    /// Also write the report as Markdown (for a pull-request comment)
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,

    /// Also write every item's result, one JSON line per variant and item
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: Option<PathBuf>,

    /// Template variable for every item (an item's own fields override it; repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,

    /// Sampling temperature [default: the prompt file's]
    #[arg(short = 't', long, value_name = "F", allow_negative_numbers = true)]
    pub temperature: Option<f64>,

    /// Output token cap, always sent [default: the prompt file's, config, then 1024]
    #[arg(long, value_name = "N", value_parser = max_tokens)]
    pub max_tokens: Option<u64>,

    /// extract-json: follow-up requests that show the model its invalid reply
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repair: u32,

    /// Requests in flight
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONCURRENCY))]
    pub concurrency: usize,

    /// Start at most N requests per minute
    #[arg(long, value_name = "N", value_parser = rpm)]
    pub rpm: Option<u32>,

    /// Seconds per attempt [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    /// Retries after the first attempt for transient failures [default: 3]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Answer identical requests from the response cache (an unchanged variant costs nothing)
    #[arg(long)]
    pub cache: bool,

    /// Do not write the calls to the call log
    #[arg(long)]
    pub no_log: bool,

    /// Refuse to start (exit 7) when the whole eval could cost more than USD (worst case)
    #[arg(long, value_name = "USD", allow_negative_numbers = true, value_parser = usd)]
    pub max_cost: Option<f64>,

    /// How hard a reasoning model thinks, for every variant (each model must take the level)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub effort: Option<crate::effort::Level>,

    /// Mark the stable prefix (system prompt, examples) for the provider's prompt cache; the lifetime only with `=` [default: 5m]
    #[arg(long, value_enum, value_name = "TTL", num_args = 0..=1, require_equals = true,
          default_missing_value = "5m")]
    pub cache_prompt: Option<crate::effort::CacheTtl>,

    #[command(flatten)]
    pub json: JsonArg,

    #[command(flatten)]
    pub verbose: VerboseArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalTask {
    Classify,
    ExtractJson,
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalMetric {
    JsonEqual,
    JsonSubset,
    Contains,
    Exact,
    Regex,
}

/// A gate's threshold: a fraction from 0 to 1, or a percentage (`90%`).
fn fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(v) if v.is_finite() && (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("give a fraction from 0 to 1 (0.9) or a percentage (90%)".into()),
    }
}

/// The clap command, for completions and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_and_its_lenient_copy_are_well_formed() {
        command().debug_assert();
        lenient(command()).debug_assert();
    }

    #[test]
    fn json_is_found_where_a_command_takes_it() {
        let asked = |args: &[&str]| {
            json_requested(
                std::iter::once("llmpipe")
                    .chain(args.iter().copied())
                    .map(std::ffi::OsString::from),
            )
        };
        assert!(asked(&["complete", "--bogus", "-x", "--json"]));
        assert!(asked(&["stream", "-t", "hot", "--json"]));
        assert!(asked(&["logs", "-n", "many", "cost", "--json"]));
        assert!(asked(&["prompts", "render", "--json"]));
        assert!(!asked(&["complete", "--bogus"]));
        assert!(!asked(&["complete", "--", "--json"]));
        assert!(!asked(&["models", "--jsonx"]));
    }
}

#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    #[command(subcommand)]
    pub action: BatchAction,
}

impl BatchArgs {
    pub fn json(&self) -> bool {
        match &self.action {
            BatchAction::Submit(a) => a.request.json.json,
            BatchAction::Status(a) | BatchAction::Cancel(a) => a.json.json,
            BatchAction::Results(a) => a.job.json.json,
            BatchAction::List(a) => a.json.json,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum BatchAction {
    /// Submit one request per input line (read as --each-line reads them) as a batch job
    Submit(Box<BatchSubmitArgs>),
    /// The job's state and counts [ID: default the latest job]
    Status(BatchJobArgs),
    /// The results as JSON Lines, in input order, as an --each-line run writes them
    Results(BatchResultsArgs),
    /// Cancel the job (items not yet run end as `canceled`)
    Cancel(BatchJobArgs),
    /// The jobs submitted from here, newest first
    List(BatchListArgs),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum BatchTask {
    #[default]
    Complete,
    ExtractJson,
    Classify,
}

/// `batch submit`: everything an --each-line run takes, submitted to the Batch API.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("line_format", |a| a.requires(clap::builder::Resettable::<clap::Id>::Reset)),
    mut_arg("resume", |a| a.requires(clap::builder::Resettable::<clap::Id>::Reset)
        .help("Keep the successful lines of an earlier output FILE (live or batch); submit only the rest")),
    mut_arg("line_format", |a| a.help("Items are `text` lines, or `jsonl` objects whose fields are template variables")),
    mut_arg("each_line", |a| a.hide(true)),
    mut_arg("continue_last", |a| a.hide(true)),
    mut_arg("cid", |a| a.hide(true)),
    mut_arg("cache", |a| a.hide(true)),
    mut_arg("no_log", |a| a.hide(true)),
    mut_arg("fallbacks", |a| a.hide(true)),
    // A batch job is paced by the provider: these are refused by their value parser with a
    // message saying so (clap would only say they require --each-line).
    mut_arg("concurrency", |a| a.hide(true).requires(clap::builder::Resettable::<clap::Id>::Reset)
        .value_parser(batch_concurrency).default_value(NOT_PACED).hide_default_value(true)),
    mut_arg("rpm", |a| a.hide(true).requires(clap::builder::Resettable::<clap::Id>::Reset)
        .value_parser(batch_rpm)),
    mut_arg("dry_run", |a| a.help("Print the request lines that would be uploaded; send nothing")),
    mut_arg("max_cost", |a| a.help("Refuse to submit (exit 7) when the whole job could cost more than USD at batch prices")),
    mut_arg("json", |a| a.help(r#"Machine-readable output: {"id","provider","provider_batch_ids","items","submitted_at"}"#)),
)]
pub struct BatchSubmitArgs {
    #[command(flatten)]
    pub request: RequestArgs,

    /// What each item asks for: the text, a JSON value (--schema), or a label (--labels)
    #[arg(long, value_enum, default_value = "complete")]
    pub task: BatchTask,

    /// With --task extract-json: JSON Schema file, or a short field list
    #[arg(long, value_name = "FILE|FIELDS")]
    pub schema: Option<String>,

    /// With --task classify: the label set, comma-separated (or the prompt file's labels)
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub labels: Vec<String>,

    /// Requests per provider batch at most [default: the provider's limit, 50,000 OpenAI, 100,000 Anthropic]
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub batch_size: Option<usize>,

    /// Wait for the job to end and write its results
    #[arg(long)]
    pub wait: bool,

    /// With --wait: seconds between polls [default: 5 s, growing to 60 s]
    #[arg(long, value_name = "SECS", value_parser = poll_seconds)]
    pub poll_interval: Option<f64>,
}

/// The options of a command about one job.
#[derive(Debug, Clone, Args)]
pub struct BatchJobArgs {
    /// Local job id, or a provider batch id (batch_…, msgbatch_…) [default: the latest job]
    #[arg(value_name = "ID")]
    pub id: Option<String>,

    /// Seconds per HTTP attempt [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    /// Retries after the first attempt for transient failures [default: 3]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    #[command(flatten)]
    pub json: JsonArg,

    #[command(flatten)]
    pub verbose: VerboseArg,
}

#[derive(Debug, Clone, Args)]
pub struct BatchResultsArgs {
    #[command(flatten)]
    pub job: BatchJobArgs,

    /// Wait until the job has ended, then write the results
    #[arg(long)]
    pub wait: bool,

    /// With --wait: seconds between polls [default: 5 s, growing to 60 s]
    #[arg(long, value_name = "SECS", value_parser = poll_seconds)]
    pub poll_interval: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchListArgs {
    /// How many jobs to show (the most recent)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub count: usize,

    /// List this provider's newest batches instead (at most 100; any machine, needs the key)
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,

    /// With -p: seconds per HTTP attempt [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    #[command(flatten)]
    pub json: JsonArg,

    #[command(flatten)]
    pub verbose: VerboseArg,
}

/// `--poll-interval`: a positive number of seconds, at most a day.
fn poll_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("--poll-interval must be a positive number of seconds (at most 86400)".into()),
    }
}

/// `batch submit`'s hidden default of `--concurrency`: no value a user gives is taken.
const NOT_PACED: &str = "(paced by the provider)";

const BATCH_PACING: &str = "batch jobs are paced by the provider, which runs the requests in its own time: \
     --concurrency and --rpm do not apply to batch submit (they pace a live `--each-line` run)";

/// `batch submit --concurrency`: refused, whatever the value.
fn batch_concurrency(s: &str) -> Result<usize, String> {
    if s == NOT_PACED {
        return Ok(0);
    }
    Err(BATCH_PACING.into())
}

/// `batch submit --rpm`: refused, whatever the value.
fn batch_rpm(_: &str) -> Result<u32, String> {
    Err(BATCH_PACING.into())
}

/// The hidden default of `--max-tool-rounds` and `--tool-timeout` where tools are refused.
const NO_TOOLS: &str = "(no tools)";

/// The tool flags of a command that refuses tools (`classify`, `extract-json`): left out of
/// its help and completions, still parsed, so that a user who gives one anyway hears that
/// the command takes no tools (`Call` says so for `--tool`, `--tool-choice`, `--run-tools`
/// and `--tool-result`; the two with defaults say it from their value parser).
fn no_tools(command: &'static str) -> impl FnMut(clap::Arg) -> clap::Arg {
    use clap::builder::Resettable;
    move |a| match a.get_id().as_str() {
        "tools" | "tool_choice" | "run_tools" | "tool_results" => a.hide(true),
        "max_tool_rounds" => a
            .hide(true)
            .requires(Resettable::<clap::Id>::Reset)
            .value_parser(move |s: &str| refuse_tools::<u32>(command, s))
            .default_value(NO_TOOLS)
            .hide_default_value(true),
        "tool_timeout" => a
            .hide(true)
            .requires(Resettable::<clap::Id>::Reset)
            .value_parser(move |s: &str| refuse_tools::<f64>(command, s))
            .default_value(NO_TOOLS)
            .hide_default_value(true),
        _ => a,
    }
}

/// Refuses any value but the hidden default.
fn refuse_tools<T: Default>(command: &str, s: &str) -> Result<T, String> {
    if s == NO_TOOLS {
        return Ok(T::default());
    }
    Err(format!(
        "{command} does not take tools: use complete or stream"
    ))
}
