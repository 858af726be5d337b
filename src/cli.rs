//! The command line as the user typed it (clap derive only). `config.rs` turns it, the
//! environment and the config file into resolved settings; commands never read these
//! types for anything but their own flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
        4 request rejected, 5 API unavailable, 6 unusable answer, 7 over budget, 130 interrupted.",
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
    Prompts {
        #[command(subcommand)]
        action: PromptsAction,
    },
    /// Show the call log, or what it cost (`logs cost`)
    Logs(LogsArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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
    /// Prompt words, joined by spaces; `-` reads stdin even from a terminal
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// Add a file's text to the input (repeatable, in order)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]
    #[arg(short = 'm', long, value_name = "NAME")]
    pub model: Option<String>,

    /// API to use [default: inferred from the model: claude-* is anthropic, else openai]
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,

    /// System prompt (replaces a prompt file's)
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Use a versioned prompt file (latest version without @vN)
    #[arg(long = "prompt", value_name = "NAME[@vN]")]
    pub prompt_name: Option<String>,

    /// Template variable for the prompt file (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,

    /// Sampling temperature
    #[arg(short = 't', long, value_name = "F", allow_negative_numbers = true)]
    pub temperature: Option<f64>,

    /// Output token cap, always sent [default: config, then 1024]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u64>,

    /// Stop sequence (repeatable)
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,

    /// Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)
    #[arg(long = "image", value_name = "PATH|URL")]
    pub images: Vec<String>,

    /// Machine-readable output (see the README for the shapes)
    #[arg(long)]
    pub json: bool,

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
    #[arg(long, value_name = "N", requires = "each_line")]
    pub rpm: Option<u32>,

    /// With --each-line: keep the successful lines of an earlier output FILE, run the rest
    #[arg(long, value_name = "FILE", requires = "each_line")]
    pub resume: Option<PathBuf>,

    /// Request and response diagnostics on stderr (never secrets)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD
    #[arg(long, value_name = "USD", allow_negative_numbers = true, value_parser = usd)]
    pub max_cost: Option<f64>,
}

/// `count-tokens`: the input as `complete` would gather it, counted offline.
#[derive(Debug, Clone, Args)]
pub struct CountArgs {
    /// Prompt words, joined by spaces; `-` reads stdin even from a terminal
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// Add a file's text (repeatable); with two or more, each source is counted on its own
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// Model id or alias: picks the tokenizer [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]
    #[arg(short = 'm', long, value_name = "NAME")]
    pub model: Option<String>,

    /// API the model belongs to [default: inferred from the model]
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,

    /// Count with this tiktoken encoding, whatever the model
    #[arg(long, value_name = "NAME", value_parser = ["o200k_base", "o200k_harmony", "cl100k_base"])]
    pub encoding: Option<String>,

    /// Count the request as the API sees it: system prompt, user message, per-message overhead
    #[arg(long)]
    pub chat: bool,

    /// System prompt (counted with --chat and --exact)
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Count the request a prompt file makes of the input (system, few-shot turns, template)
    #[arg(long = "prompt", value_name = "NAME[@vN]")]
    pub prompt_name: Option<String>,

    /// Template variable for the prompt file (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,

    /// Ask the provider's token-counting endpoint where the offline count is an estimate (Anthropic; needs the key)
    #[arg(long)]
    pub exact: bool,

    /// Machine-readable output: {"model","encoding","tokens","exact","method"}
    #[arg(long)]
    pub json: bool,

    /// Counting threads [default: one per core]
    #[arg(short = 'j', long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    pub threads: Option<usize>,

    /// Seconds for the --exact request [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    /// Diagnostics on stderr
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `estimate-cost`: the request `complete` would send, priced from the model table.
#[derive(Debug, Clone, Args)]
pub struct EstimateArgs {
    /// Prompt words, joined by spaces; `-` reads stdin even from a terminal
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// Add a file's text to the input (repeatable, in order)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]
    #[arg(short = 'm', long, value_name = "NAME")]
    pub model: Option<String>,

    /// API to use [default: inferred from the model]
    #[arg(short = 'p', long, value_enum, value_name = "PROVIDER")]
    pub provider: Option<ProviderArg>,

    /// System prompt
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Price the request a prompt file makes of the input (system, few-shot turns, template)
    #[arg(long = "prompt", value_name = "NAME[@vN]")]
    pub prompt_name: Option<String>,

    /// Template variable for the prompt file (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,

    /// Output token cap of the request [default: config, then 1024]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u64>,

    /// Output tokens to price [default: --max-tokens]
    #[arg(long, value_name = "N")]
    pub output_tokens: Option<u64>,

    /// Price the request for these models too, sorted by total (comma-separated, or `all`)
    #[arg(long, value_name = "M1,M2,…|all")]
    pub compare: Option<String>,

    /// Count Anthropic input with the provider's token-counting endpoint (needs the key)
    #[arg(long)]
    pub exact: bool,

    /// Machine-readable output (an array with --compare)
    #[arg(long)]
    pub json: bool,

    /// Seconds for the --exact request [default: 120]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub timeout: Option<f64>,

    /// Diagnostics on stderr
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ModelsArgs {
    /// Machine-readable output: an array of objects
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
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
pub struct LogsArgs {
    #[command(subcommand)]
    pub action: Option<LogsAction>,

    /// How many calls to show (the most recent)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_LOG_ROWS))]
    pub count: usize,

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
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,

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
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,

    /// Look for prompt files here first
    #[arg(long, value_name = "DIR")]
    pub prompts_dir: Option<PathBuf>,
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

    /// Whether `--json` was given, for reporting failures in the same shape.
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Prompts { action } => match action {
                PromptsAction::List(c)
                | PromptsAction::Show { common: c, .. }
                | PromptsAction::Render { common: c, .. } => c.json,
            },
            Command::Logs(a) => match &a.action {
                Some(LogsAction::Cost { filter, .. }) => filter.json,
                None => a.filter.json,
            },
            Command::CountTokens(a) => a.json,
            Command::EstimateCost(a) => a.json,
            Command::Models(a) => a.json,
            _ => self.request_args().is_some_and(|a| a.json),
        }
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

/// The clap command, for completions and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
