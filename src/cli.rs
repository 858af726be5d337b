//! The command line as the user typed it (clap derive only). `config.rs` turns it, the
//! environment and the config file into resolved settings; commands never read these
//! types for anything but their own flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Count the input's tokens for a model, offline (exact for OpenAI models)
    CountTokens(CountArgs),
    /// Estimate what the request would cost, before sending it
    EstimateCost(EstimateArgs),
    /// List the model table: encodings, limits, prices and where they come from
    Models(ModelsArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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

    /// System prompt
    #[arg(short = 's', long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Sampling temperature
    #[arg(short = 't', long, value_name = "F")]
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
    #[arg(long, value_name = "SECS")]
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

    /// Request and response diagnostics on stderr (never secrets)
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD
    #[arg(long, value_name = "USD")]
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

    /// Ask the provider's token-counting endpoint where the offline count is an estimate (Anthropic; needs the key)
    #[arg(long)]
    pub exact: bool,

    /// Machine-readable output: {"model","encoding","tokens","exact","method"}
    #[arg(long)]
    pub json: bool,

    /// Counting threads [default: one per core]
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Seconds for the --exact request [default: 120]
    #[arg(long, value_name = "SECS")]
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
    #[arg(long, value_name = "SECS")]
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

impl Cli {
    /// The request options of the command, if it is a request command.
    pub fn request_args(&self) -> Option<&RequestArgs> {
        match &self.command {
            Command::Complete(a) | Command::Stream(a) => Some(a),
            _ => None,
        }
    }
}

/// The clap command, for completions and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
