//! Every price llmpipe reports comes from the genai-prices database (Pydantic's maintained
//! price data: dated prices, cache-write and cache-read rates, long-context tiers, batch
//! variants), so costs match the database exactly.
//!
//! Only the OpenAI and Anthropic part of the data is kept ([`compact`]): the crate's whole
//! file takes tens of milliseconds to decode. The copy bundled in the binary
//! (`data/genai-prices.json`, made from the crate's bundled file by [`compact`]) always works
//! offline; `llmpipe models update` puts a newer one in the data directory ([`data_file`]),
//! checked by the crate's calculator, which is used from then on.
//!
//! Pricing a call reads only the model's own entry: the model is picked as the calculator
//! picks it (the first whose match rule matches), and [`fast_cost`] applies the database's
//! rules to the token kinds llmpipe reports (unit tests check every bundled model, live and
//! batch, at several dates and usages, against the crate's calculator on its whole file).
//! Data it does not read (a kind of constraint or price it does not know) is priced by the
//! calculator itself ([`Db::calculator`]). The data is read on first use ([`db`]), and a
//! request command starts that on another thread while it builds and sends its request
//! ([`warm`]), so start-up does not pay for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use genai_prices::{Calculator, PriceRequest, Usage, UsageKey};
use serde_json::value::RawValue;

use crate::chat;
use crate::provider::ProviderKind;

/// The OpenAI and Anthropic part of the crate's bundled `data/prices.json`.
pub static BUNDLED: &[u8] = include_bytes!("../data/genai-prices.json");
/// Which release of the database [`BUNDLED`] was taken from.
pub const BUNDLED_VERSION: &str = "genai-prices 0.2.1";
/// The latest price change the bundled data records (its newest `start_date`): how
/// current it is.
pub const BUNDLED_AS_OF: &str = "2026-10-19";
/// The database's published data feed (the crate's `REMOTE_DATA_URL`).
pub const REMOTE_DATA_URL: &str = genai_prices::REMOTE_DATA_URL;
/// The providers llmpipe talks to, as the database names them.
pub const PROVIDERS: [&str; 2] = ["openai", "anthropic"];
/// The downloaded data's file name in the data directory.
pub const FILE_NAME: &str = "prices.json";

/// The database's id of a provider.
pub fn provider_id(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
    }
}

/// Where `models update` puts the data: llmpipe's data directory (`$XDG_DATA_HOME/llmpipe/`,
/// beside the default call log).
pub fn data_file(env: &crate::config::Env) -> Option<PathBuf> {
    crate::store::default_path(env).map(|p| p.with_file_name(FILE_NAME))
}

/// The data in use: the two providers' JSON, scanned once (each model kept as its raw
/// text with its parsed match rule). Pricing a model decodes only its provider with the
/// models that could match its name (see [`Db::calculator`]): the calculator's whole-data
/// decode (tens of milliseconds) is never on the way.
pub struct Db {
    providers: Vec<Provider>,
    pub origin: Origin,
    calculators: Mutex<HashMap<(&'static str, Vec<usize>), Made>>,
    /// Some part of the data did not decode (a downloaded file damaged after `models
    /// update` checked it): a name it leaves unpriced is looked up in the bundled data.
    damaged: AtomicBool,
}

/// One provider of the data, as raw JSON text; its models are split up on first use.
struct Provider {
    id: String,
    /// Its members but `models` and `extractors` (which pricing does not read).
    fields: Vec<(String, &'static RawValue)>,
    raw_models: &'static RawValue,
    models: OnceLock<Vec<RawModel>>,
    /// Some of its models did not parse (see [`Db::damaged`]).
    damaged: AtomicBool,
}

impl Provider {
    /// Its models, each as raw text with its parsed match rule (a model that does not
    /// parse is left out: `models update` refuses such data, so only a damaged file has one).
    fn models(&self) -> &[RawModel] {
        self.models.get_or_init(|| {
            let raws: Vec<&'static RawValue> = serde_json::from_str(self.raw_models.get())
                .unwrap_or_else(|_| {
                    self.damaged.store(true, Ordering::Relaxed);
                    Vec::new()
                });
            raws.into_iter()
                .filter_map(|raw| {
                    let Ok(head) = serde_json::from_str::<ModelHead>(raw.get()) else {
                        self.damaged.store(true, Ordering::Relaxed);
                        return None;
                    };
                    Some(RawModel {
                        id: head.id,
                        rule: Rule::parse(head.rule),
                        raw,
                    })
                })
                .collect()
        })
    }
}

struct RawModel {
    id: String,
    rule: Rule,
    raw: &'static RawValue,
}

#[derive(serde::Deserialize)]
struct ModelHead {
    #[serde(default)]
    id: String,
    #[serde(rename = "match", borrow)]
    rule: Option<&'static RawValue>,
}

/// A model's match rule as the data writes it (`{"or": [{"equals": "…"}, …]}`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuleData {
    Or(Vec<RuleData>),
    And(Vec<RuleData>),
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    Regex(String),
}

/// A match rule, lowercased, for [`Rule::may_match`]: a regex is kept as its literal prefix.
#[derive(Debug, PartialEq)]
enum Rule {
    Or(Vec<Rule>),
    And(Vec<Rule>),
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// A regex, with the lowercased literal prefix its matches start with (if any).
    Regex {
        prefix: Option<String>,
        pattern: String,
    },
    /// Anything that could not be read: counts as matching, never matches exactly.
    Any,
}

impl Rule {
    fn parse(raw: Option<&RawValue>) -> Rule {
        raw.and_then(|r| serde_json::from_str::<RuleData>(r.get()).ok())
            .map_or(Rule::Any, Rule::from)
    }

    /// Whether the rule could match `folded` (the lowercased name): literal rules are
    /// evaluated as the calculator does; a regex counts when `folded` starts with the
    /// pattern's literal prefix after `^` (or when it has none).
    fn may_match(&self, folded: &str) -> bool {
        match self {
            Rule::Or(rules) => rules.iter().any(|r| r.may_match(folded)),
            Rule::And(rules) => rules.iter().all(|r| r.may_match(folded)),
            Rule::Equals(v) => folded == v,
            Rule::StartsWith(v) => folded.starts_with(v.as_str()),
            Rule::EndsWith(v) => folded.ends_with(v.as_str()),
            Rule::Contains(v) => folded.contains(v.as_str()),
            Rule::Regex { prefix, .. } => prefix
                .as_ref()
                .is_none_or(|p| folded.starts_with(p.as_str())),
            Rule::Any => true,
        }
    }

    /// Whether the rule matches `raw` (as given) and `folded` (lowercased) exactly as the
    /// calculator decides: literals compared with the lowercased name, a regex run on the
    /// name as given. `None` when a regex does not compile or run.
    fn matches(&self, raw: &str, folded: &str) -> Option<bool> {
        Some(match self {
            Rule::Or(rules) => {
                for r in rules {
                    if r.matches(raw, folded)? {
                        return Some(true);
                    }
                }
                false
            }
            Rule::And(rules) => {
                for r in rules {
                    if !r.matches(raw, folded)? {
                        return Some(false);
                    }
                }
                true
            }
            Rule::Regex { prefix, pattern } => {
                if prefix
                    .as_ref()
                    .is_some_and(|p| !folded.starts_with(p.as_str()))
                {
                    return Some(false);
                }
                fancy_regex::Regex::new(pattern).ok()?.is_match(raw).ok()?
            }
            Rule::Any => return None,
            literal => literal.may_match(folded),
        })
    }
}

impl From<RuleData> for Rule {
    fn from(d: RuleData) -> Rule {
        match d {
            RuleData::Or(r) => Rule::Or(r.into_iter().map(Rule::from).collect()),
            RuleData::And(r) => Rule::And(r.into_iter().map(Rule::from).collect()),
            RuleData::Equals(v) => Rule::Equals(v.to_lowercase()),
            RuleData::StartsWith(v) => Rule::StartsWith(v.to_lowercase()),
            RuleData::EndsWith(v) => Rule::EndsWith(v.to_lowercase()),
            RuleData::Contains(v) => Rule::Contains(v.to_lowercase()),
            RuleData::Regex(p) => Rule::Regex {
                prefix: regex_prefix(&p),
                pattern: p,
            },
        }
    }
}

/// A calculator made for one set of candidate models (`None`: it does not decode).
type Made = Option<Arc<Calculator>>;

#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Bundled,
    /// Downloaded by `models update`; `date` is when (the file's modification time, UTC).
    Downloaded {
        path: PathBuf,
        date: String,
    },
}

impl Origin {
    /// The date of the data: the bundled data's latest recorded price change, or when the
    /// downloaded file was fetched.
    pub fn as_of(&self) -> &str {
        match self {
            Origin::Bundled => BUNDLED_AS_OF,
            Origin::Downloaded { date, .. } => date,
        }
    }

    /// `bundled (genai-prices 0.2.1)` or `downloaded 2026-11-29 (PATH)`.
    pub fn describe(&self) -> String {
        match self {
            Origin::Bundled => format!("bundled ({BUNDLED_VERSION})"),
            Origin::Downloaded { path, date } => {
                format!("downloaded {date} ({})", path.display())
            }
        }
    }
}

static DB: OnceLock<Db> = OnceLock::new();

/// The price data, read on first use: the downloaded file when there is one and it is
/// sound, else (with a warning for a broken file) the bundled data.
pub fn db(file: Option<&Path>) -> &'static Db {
    DB.get_or_init(|| load(file))
}

/// Starts reading the data on another thread, and finding the prices of `names`
/// (provider, model): a request command calls this before it sends, so the price is ready
/// when the answer is.
pub fn warm(file: Option<PathBuf>, names: Vec<(&'static str, String)>) {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::Relaxed) {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("prices".into())
        .spawn(move || {
            let db = db(file.as_deref());
            for (provider, name) in names {
                find(db, provider, &name);
            }
        });
}

fn load(file: Option<&Path>) -> Db {
    if let Some(path) = file {
        match std::fs::read(path) {
            // Read once per process: the parts borrow it for the process's life.
            Ok(bytes) => match parse(Box::leak(bytes.into_boxed_slice())) {
                Ok(providers) => {
                    let date = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .map(|t| crate::store::rfc3339(t)[..10].to_string())
                        .unwrap_or_else(|_| "(unknown date)".into());
                    return Db::new(
                        providers,
                        Origin::Downloaded {
                            path: path.to_path_buf(),
                            date,
                        },
                    );
                }
                Err(e) => crate::output::warn(&format!(
                    "the downloaded price data {} is broken ({e}); using the bundled data ({BUNDLED_VERSION}) instead: run `llmpipe models update` again",
                    path.display()
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => crate::output::warn(&format!(
                "cannot read the downloaded price data {}: {e}; using the bundled data ({BUNDLED_VERSION})",
                path.display()
            )),
        }
    }
    Db::new(
        parse(BUNDLED).expect("the bundled price data is sound"),
        Origin::Bundled,
    )
}

/// The providers of a data file, which must hold both of llmpipe's with models. The data
/// lives as long as the process (it is read once), so the raw parts borrow it.
fn parse(data: &'static [u8]) -> Result<Vec<Provider>, String> {
    let all: Vec<HashMap<String, &'static RawValue>> = serde_json::from_slice(data)
        .map_err(|e| format!("not a genai-prices data file (an array of providers): {e}"))?;
    let mut providers = Vec::new();
    for mut p in all {
        let id: String = p
            .get("id")
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default();
        if !PROVIDERS.contains(&id.as_str()) {
            continue;
        }
        let Some(raw_models) = p.remove("models") else {
            continue;
        };
        // Pricing always names the provider by its id: the rules that find a provider
        // (and the extractors) are not needed, and their regexes need not be compiled.
        for k in ["extractors", "model_match", "provider_match", "api_pattern"] {
            p.remove(k);
        }
        let mut fields: Vec<(String, &'static RawValue)> = p.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        providers.push(Provider {
            id,
            fields,
            raw_models,
            models: OnceLock::new(),
            damaged: AtomicBool::new(false),
        });
    }
    for id in PROVIDERS {
        let listed = providers.iter().any(|p| {
            p.id == id && p.raw_models.get().starts_with('[') && p.raw_models.get() != "[]"
        });
        if !listed {
            return Err(format!("it has no {id} models"));
        }
    }
    Ok(providers)
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Db {
    fn new(providers: Vec<Provider>, origin: Origin) -> Db {
        Db {
            providers,
            origin,
            calculators: Mutex::new(HashMap::new()),
            damaged: AtomicBool::new(false),
        }
    }

    /// A calculator for `name` at `provider`: the provider with only the models whose
    /// match rules could match `name` (a superset: rules this does not evaluate count as
    /// matching), in the data's order, so the calculator picks the model it would pick
    /// from the whole data. `None` when nothing could match or that part does not decode.
    fn calculator(&self, provider: &'static str, name: &str) -> Option<Arc<Calculator>> {
        let p = self.providers.iter().find(|p| p.id == provider)?;
        let folded = name.to_lowercase();
        let dashed = dash_compact_dates(&folded);
        let models = p.models();
        let candidates: Vec<usize> = (0..models.len())
            .filter(|&i| models[i].rule.may_match(&folded) || models[i].rule.may_match(&dashed))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        // Names with the same candidates (an id and its dated form) share a calculator.
        let key = (provider, candidates);
        if let Some(c) = self.calculators.lock().ok()?.get(&key) {
            return c.clone();
        }
        let made = self.make_calculator(p, &key.1, name);
        if let Ok(mut map) = self.calculators.lock() {
            map.insert(key, made.clone());
        }
        made
    }

    fn make_calculator(&self, p: &Provider, candidates: &[usize], name: &str) -> Made {
        // `api_pattern` is required; a request that names its provider never matches it.
        let mut json = String::from("[{\"api_pattern\":\"^$\",");
        for (k, v) in &p.fields {
            json.push_str(&serde_json::to_string(k).ok()?);
            json.push(':');
            json.push_str(v.get());
            json.push(',');
        }
        json.push_str("\"models\":[");
        for (n, &i) in candidates.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            json.push_str(p.models()[i].raw.get());
        }
        json.push_str("]}]");
        let bytes = json.into_bytes();
        match Calculator::from_json(bytes) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                self.damaged.store(true, Ordering::Relaxed);
                crate::output::warn(&format!(
                    "the price data ({}) cannot price {name}: {e}",
                    self.origin.describe()
                ));
                None
            }
        }
    }
}

/// The lowercased literal text a regex's matches must start with (after `^`); `None` when
/// it has no anchor or an alternation (anything could match).
fn regex_prefix(pattern: &str) -> Option<String> {
    let rest = pattern.strip_prefix('^')?;
    if rest.contains('|') {
        return None;
    }
    let mut prefix = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        let literal = match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => e,
                _ => break,
            },
            '.' | '[' | ']' | '(' | ')' | '*' | '+' | '?' | '{' | '$' | '^' => break,
            c => c,
        };
        // A literal that may be absent (or repeated) ends the fixed prefix.
        if matches!(chars.peek(), Some('*' | '?' | '{' | '+')) {
            break;
        }
        prefix.push(literal);
    }
    // Regexes match the name as given: compared lowercased, this stays a superset.
    Some(prefix.to_lowercase())
}

/// Whether eight digits `YYYYMMDD` are a date of the calendar.
fn real_date(d: &str) -> bool {
    let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let (y, m, day) = (n(0..4), n(4..6), n(6..8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day)
}

/// `-20251211` written `-2025-12-11`, as the calculator retries a name that does not match.
fn dash_compact_dates(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < b.len() {
        let run = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        // As the crate's pattern: `-20YYMMDD` followed by `-`, `:` or the end.
        if b[i] == b'-'
            && run == 8
            && b[i + 1..].starts_with(b"20")
            && matches!(b.get(i + 9), None | Some(b'-' | b':'))
            && real_date(&name[i + 1..i + 9])
        {
            let d = &name[i + 1..i + 9];
            out.push_str(&format!("-{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
            i += 9;
        } else {
            let c = name[i..].chars().next().unwrap_or('-');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Keeps the OpenAI and Anthropic providers of a genai-prices data file, without their
/// descriptions and comments (which nothing reads).
pub fn compact(data: &[u8]) -> Result<Vec<u8>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Array(providers) = value else {
        return Err("not a genai-prices data file: expected an array of providers".into());
    };
    let mut kept = Vec::new();
    for mut p in providers {
        let id = p.get("id").and_then(|v| v.as_str()).unwrap_or_default();
        if !PROVIDERS.contains(&id) {
            continue;
        }
        if let Some(o) = p.as_object_mut() {
            for k in ["description", "price_comments", "pricing_urls"] {
                o.remove(k);
            }
            if let Some(serde_json::Value::Array(models)) = o.get_mut("models") {
                for m in models.iter_mut().filter_map(|m| m.as_object_mut()) {
                    m.remove("description");
                    m.remove("price_comments");
                }
            }
        }
        kept.push(p);
    }
    let out = serde_json::to_vec(&serde_json::Value::Array(kept)).map_err(|e| e.to_string())?;
    validate(&out)?;
    Ok(out)
}

/// Decodes the whole data as the calculator does (every rule, price and date checked) and
/// checks that both providers are there with models.
pub fn validate(data: &[u8]) -> Result<Calculator, String> {
    let providers = parse(Box::leak(data.to_vec().into_boxed_slice()))?;
    for p in &providers {
        for m in p.models() {
            if let Some(why) = absurd_price(m.raw.get()) {
                return Err(format!("{} model {}: {why}", p.id, m.id));
            }
        }
    }
    Calculator::from_json(data).map_err(|e| e.to_string())
}

/// The highest rate taken as a price (USD per million tokens, or per thousand requests or
/// searches): far above any real one, so that only a broken or hand-edited file trips it.
pub const MAX_RATE: f64 = 1_000_000.0;

/// Whether `rate` can be a price: finite, from 0 to [`MAX_RATE`] (the price data's rates and
/// `llmpipe.toml`'s alike).
pub fn is_rate(rate: f64) -> bool {
    rate.is_finite() && (0.0..=MAX_RATE).contains(&rate)
}

/// Why a model's prices cannot be right, if they cannot: a rate that is negative, not
/// finite or absurdly large ([`MAX_RATE`]). Such data is refused by `models update`, and a
/// file placed by hand that has one is not used for that model ([`find`] prices it from
/// the bundled data, with a warning), so a price is never silently wrong. Tier thresholds,
/// constraints and conditions are not rates; data that is not JSON is left to the parser.
fn absurd_price(raw: &str) -> Option<String> {
    fn walk(v: &serde_json::Value, key: &str, in_prices: bool) -> Option<String> {
        match v {
            serde_json::Value::Number(n) if in_prices => (!is_rate(n.as_f64().unwrap_or(f64::NAN)))
                .then(|| format!("{key} is {n}, not a price")),
            serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
                if in_prices && matches!(k.as_str(), "start" | "constraint" | "when") {
                    return None;
                }
                let key = if in_prices { k.as_str() } else { key };
                walk(x, key, in_prices || k == "prices")
            }),
            serde_json::Value::Array(a) => a.iter().find_map(|x| walk(x, key, in_prices)),
            _ => None,
        }
    }
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    walk(&v, "prices", false)
}

/// A model picked from a file that is not the bundled data, checked before its price is
/// used: an absurd one marks the provider's data damaged (so [`find`] falls back to the
/// bundled data) and is said once.
fn sane(db: &Db, p: &Provider, m: &RawModel) -> bool {
    if db.origin == Origin::Bundled {
        return true;
    }
    let Some(why) = absurd_price(m.raw.get()) else {
        return true;
    };
    p.damaged.store(true, Ordering::Relaxed);
    warn_once(format!(
        "the price data ({}) has an absurd price for {} ({why}): it is not used",
        db.origin.describe(),
        m.id
    ));
    false
}

/// A warning about the price data, said once however often the same name is looked up.
fn warn_once(message: String) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said.contains(&message) {
        crate::output::warn(&message);
        said.push(message);
    }
}

/// A database price: the model as the database matches it, at the time of the call.
#[derive(Debug, Clone)]
pub struct DbPrice {
    pub provider: &'static str,
    /// The name the price was found under (a reported, dated id matches too).
    pub name: String,
    /// The database's id of the model.
    pub model_id: String,
    /// When the call was made (the rates in effect then); `None` is now.
    pub at: Option<SystemTime>,
    /// The model's data, priced by [`fast_cost`]; else the calculator prices the name.
    raw: Option<&'static RawValue>,
    calc: Option<Arc<Calculator>>,
    /// The data it was found in: the calculator prices what [`fast_cost`] does not read at
    /// the call's date or for its batch variant.
    db: &'static Db,
}

impl DbPrice {
    /// The data the price was found in: the bundled data when a damaged downloaded file
    /// fell back to it (see [`find`]).
    pub fn origin(&self) -> &'static Origin {
        &self.db.origin
    }
}

impl PartialEq for DbPrice {
    fn eq(&self, other: &DbPrice) -> bool {
        (self.provider, &self.name, &self.model_id, self.at)
            == (other.provider, &other.name, &other.model_id, other.at)
    }
}

const PROBE: chat::Usage = chat::Usage {
    input_tokens: 1_000_000,
    output_tokens: 1_000_000,
    cached_input_tokens: 0,
    cache_write_input_tokens: 0,
    cache_write_1h_input_tokens: 0,
    reasoning_tokens: None,
};

/// The database's price of `name` at `provider`, if it has one with token rates. The model
/// is the first of the provider's whose rule matches the lowercased name (then the name
/// with compact dates written out), as the calculator picks it; data this does not read
/// is left to the calculator.
pub fn find(db: &'static Db, provider: &'static str, name: &str) -> Option<DbPrice> {
    let found = find_in(db, provider, name);
    if found.is_none()
        && db.origin != Origin::Bundled
        && (db.damaged.load(Ordering::Relaxed)
            || db
                .providers
                .iter()
                .any(|p| p.damaged.load(Ordering::Relaxed)))
    {
        static BUNDLED_DB: OnceLock<Db> = OnceLock::new();
        let bundled = BUNDLED_DB.get_or_init(|| {
            Db::new(
                parse(BUNDLED).expect("the bundled price data is sound"),
                Origin::Bundled,
            )
        });
        let priced = find_in(bundled, provider, name);
        // A model only the downloaded file lists has no bundled price: said as it is.
        let instead = match priced {
            Some(_) => "is priced from the bundled data",
            None => "has no price in the bundled data either",
        };
        warn_once(format!(
            "the downloaded price data ({}) is damaged: {name} {instead} ({BUNDLED_VERSION}); run `llmpipe models update` again",
            db.origin.describe()
        ));
        return priced;
    }
    found
}

fn find_in(db: &'static Db, provider: &'static str, name: &str) -> Option<DbPrice> {
    let p = db.providers.iter().find(|p| p.id == provider)?;
    let folded = name.to_lowercase();
    let pick = |subject: &str| -> Option<Option<&RawModel>> {
        for m in p.models() {
            if m.rule.matches(subject, subject)? {
                return Some(Some(m));
            }
        }
        Some(None)
    };
    let picked = match pick(&folded) {
        Some(None) => {
            let dashed = dash_compact_dates(&folded);
            if dashed == folded {
                Some(None)
            } else {
                pick(&dashed)
            }
        }
        other => other,
    };
    let date = date_of(None);
    let price = match picked {
        Some(Some(m)) if !sane(db, p, m) => return None,
        Some(Some(m)) => match fast_cost(m.raw.get(), &PROBE, &date, false) {
            Some((i, o)) => {
                // A model the database lists without token prices (an audio or image
                // model) has no price llmpipe could use: never a guess.
                if i + o <= 0.0 {
                    return None;
                }
                DbPrice {
                    provider,
                    name: name.to_string(),
                    model_id: m.id.clone(),
                    at: None,
                    raw: Some(m.raw),
                    calc: None,
                    db,
                }
            }
            None => slow_find(db, provider, name)?,
        },
        Some(None) => return None,
        None => slow_find(db, provider, name)?,
    };
    Some(price)
}

/// [`find`] through the calculator, for data [`fast_cost`] does not read.
fn slow_find(db: &'static Db, provider: &'static str, name: &str) -> Option<DbPrice> {
    let calc = db.calculator(provider, name)?;
    let probe = usage(&PROBE);
    let found = calc
        .calculate(&PriceRequest::new(name, &probe).with_provider_id(provider))
        .ok()?;
    if let Some(p) = db.providers.iter().find(|p| p.id == provider)
        && let Some(m) = p.models().iter().find(|m| m.id == found.model_id)
        && !sane(db, p, m)
    {
        return None;
    }
    if found.total_price <= 0.0 || found.provider_id != provider {
        return None;
    }
    Some(DbPrice {
        provider,
        name: name.to_string(),
        model_id: found.model_id,
        at: None,
        raw: None,
        calc: Some(calc),
        db,
    })
}

/// A model's prices as the data writes them (what [`fast_cost`] reads).
#[derive(serde::Deserialize)]
struct ModelPrices {
    prices: PricesData,
    #[serde(default)]
    price_variants: Vec<VariantData>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PricesData {
    Conditional(Vec<ConditionalData>),
    Direct(HashMap<String, RateData>),
}

#[derive(serde::Deserialize)]
struct ConditionalData {
    #[serde(default)]
    constraint: Option<HashMap<String, serde_json::Value>>,
    prices: HashMap<String, RateData>,
}

#[derive(serde::Deserialize)]
struct VariantData {
    when: HashMap<String, String>,
    prices: HashMap<String, RateData>,
    #[serde(default)]
    constraint: Option<HashMap<String, serde_json::Value>>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RateData {
    Flat(f64),
    Tiered { base: f64, tiers: Vec<TierData> },
}

#[derive(serde::Deserialize)]
struct TierData {
    start: f64,
    price: f64,
}

/// Whether a constraint is in effect on `date` (`YYYY-MM-DD`, UTC); `None` for a kind this
/// does not read (the calculator then prices the model).
fn in_effect(c: Option<&HashMap<String, serde_json::Value>>, date: &str) -> Option<bool> {
    let Some(c) = c else {
        return Some(true);
    };
    if c.keys().any(|k| k != "start_date" && k != "type") {
        return None;
    }
    let start = c.get("start_date")?.as_str()?;
    let ok = start.len() == 10 && start.as_bytes()[4] == b'-' && start.as_bytes()[7] == b'-';
    ok.then(|| date >= start)
}

/// Input and output cost of one request from a model's raw data, by the database's rules
/// (the rates in effect on `date`, the batch variant's rates where it has them, the tier
/// the whole prompt falls in, each part of the prompt at its own rate). `None` for data
/// this does not read; the calculator then prices it ([`calculate`]).
fn fast_cost(raw: &str, u: &chat::Usage, date: &str, batch: bool) -> Option<(f64, f64)> {
    let m: ModelPrices = serde_json::from_str(raw).ok()?;
    let standard = match &m.prices {
        PricesData::Direct(p) => p,
        PricesData::Conditional(list) => {
            let mut chosen = None;
            for c in list.iter().rev() {
                if in_effect(c.constraint.as_ref(), date)? {
                    chosen = Some(&c.prices);
                    break;
                }
            }
            chosen.or(list.first().map(|c| &c.prices))?
        }
    };
    let mut rates: HashMap<&str, &RateData> =
        standard.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if batch {
        let mut overridden: Vec<&str> = Vec::new();
        for v in &m.price_variants {
            if !in_effect(v.constraint.as_ref(), date)? {
                continue;
            }
            if !v
                .when
                .iter()
                .all(|(k, val)| k == "processing" && val == "batch")
            {
                continue;
            }
            for (k, r) in &v.prices {
                if !overridden.contains(&k.as_str()) {
                    rates.insert(k.as_str(), r);
                    overridden.push(k.as_str());
                }
            }
        }
    }
    if rates
        .keys()
        .any(|k| k.starts_with("requests") || *k == "cache_write_5m_mtok")
    {
        return None;
    }
    let input = u.input_tokens;
    let read = u.cached_input_tokens.min(input);
    let written = u.cache_write_input_tokens.min(input - read);
    let written_1h = u.cache_write_1h_input_tokens.min(written);
    let has = |k: &str| rates.contains_key(k);
    let leaf_1h = if has("cache_write_1h_mtok") {
        written_1h
    } else {
        0
    };
    let leaf_write = if has("cache_write_mtok") {
        written - leaf_1h
    } else {
        0
    };
    let leaf_read = if has("cache_read_mtok") { read } else { 0 };
    let leaf_input = input - leaf_read - leaf_1h - leaf_write;
    let total_input = input as f64;
    let cost = |k: &str, count: u64| -> f64 {
        let count = count as f64;
        let rate = match rates.get(k) {
            None => return 0.0,
            Some(RateData::Flat(r)) => *r,
            Some(RateData::Tiered { base, tiers }) if count > 0.0 => {
                let mut sorted: Vec<&TierData> = tiers.iter().collect();
                sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
                sorted
                    .iter()
                    .rev()
                    .find(|t| total_input > t.start)
                    .map_or(*base, |t| t.price)
            }
            Some(RateData::Tiered { base, .. }) => *base,
        };
        rate * count / 1e6
    };
    // Summed in price-key order, as the calculator sums.
    let mut input_cost = 0.0;
    input_cost += cost("cache_read_mtok", leaf_read);
    input_cost += cost("cache_write_1h_mtok", leaf_1h);
    input_cost += cost("cache_write_mtok", leaf_write);
    input_cost += cost("input_mtok", leaf_input);
    let output_cost = cost("output_mtok", u.output_tokens);
    Some((input_cost, output_cost))
}

/// The date (`YYYY-MM-DD`, UTC) whose rates apply to a call made at `at` (now if `None`).
fn date_of(at: Option<SystemTime>) -> String {
    crate::store::rfc3339(at.unwrap_or_else(SystemTime::now))[..10].to_string()
}

/// One request's usage in the database's terms: `input_tokens` is the whole prompt, of
/// which cache reads and cache writes (and the 1-hour part of the writes) are billed at
/// their own rates where the model has them. Parts larger than the whole are capped, as
/// the providers never bill more than the prompt.
pub fn usage(u: &chat::Usage) -> Usage {
    let input = u.input_tokens;
    let cached = u.cached_input_tokens.min(input);
    let written = u.cache_write_input_tokens.min(input - cached);
    let written_1h = u.cache_write_1h_input_tokens.min(written);
    Usage::from([
        (UsageKey::INPUT_TOKENS, input as f64),
        (UsageKey::CACHE_READ_TOKENS, cached as f64),
        (UsageKey::CACHE_WRITE_TOKENS, written as f64),
        (UsageKey::CACHE_WRITE_1H_TOKENS, written_1h as f64),
        (UsageKey::OUTPUT_TOKENS, u.output_tokens as f64),
    ])
}

/// Input and output cost in USD of `usage` at `price`, live or through the Batch API.
pub fn calculate(price: &DbPrice, u: &chat::Usage, batch: bool) -> Option<(f64, f64)> {
    let made;
    let calc = match (price.raw, &price.calc) {
        (_, Some(calc)) => calc,
        (Some(raw), None) => {
            if let Some(c) = fast_cost(raw.get(), u, &date_of(price.at), batch) {
                return Some(c);
            }
            // Data the fast path does not read at this date or for this variant.
            made = price.db.calculator(price.provider, &price.name)?;
            &made
        }
        (None, None) => return None,
    };
    let usage = usage(u);
    let mut req = PriceRequest::new(&price.name, &usage).with_provider_id(price.provider);
    if let Some(at) = price.at {
        req = req.with_timestamp(at);
    }
    if batch {
        req = req.with_price_context("processing", "batch");
    }
    let c = calc.calculate(&req).ok()?;
    Some((c.input_price, c.output_price))
}

/// The models the database prices for `provider`, in its order.
pub fn models(db: &Db, provider: &str) -> Vec<String> {
    db.providers
        .iter()
        .filter(|p| p.id == provider)
        .flat_map(|p| p.models().iter().map(|m| m.id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> &'static Db {
        db(None)
    }

    #[test]
    fn the_bundled_data_prices_as_the_crates_whole_file() {
        // Every OpenAI and Anthropic model (and dated, suffixed and upper-case forms of its
        // id) prices the same through llmpipe's lookup (the compact copy, only the models
        // that could match decoded) as through the crate's whole bundled file: live and
        // batch, before and after dated price changes, below and above long-context tiers.
        let full = Calculator::bundled();
        let times = [
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_735_689_600), // 2025-01-01
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_798_761_600), // 2027-01-01
        ];
        let usages = [
            chat::Usage {
                input_tokens: 1_234,
                output_tokens: 567,
                cached_input_tokens: 200,
                cache_write_input_tokens: 300,
                cache_write_1h_input_tokens: 100,
                reasoning_tokens: None,
            },
            chat::Usage {
                input_tokens: 300_000,
                output_tokens: 10,
                ..Default::default()
            },
            chat::Usage {
                input_tokens: 250_000,
                output_tokens: 0,
                cached_input_tokens: 100_000,
                cache_write_input_tokens: 50_000,
                cache_write_1h_input_tokens: 50_000,
                reasoning_tokens: None,
            },
        ];
        let probe = Usage::from([
            (UsageKey::INPUT_TOKENS, 1_000_000.0),
            (UsageKey::OUTPUT_TOKENS, 1_000_000.0),
        ]);
        let (mut priced, mut unpriced) = (0, 0);
        for provider in PROVIDERS {
            for id in models(bundled(), provider) {
                let names = [
                    id.clone(),
                    format!("{id}-20261001"),
                    format!("{id}-2026-10-01"),
                    format!("{id}-latest"),
                    id.to_uppercase(),
                ];
                for name in names {
                    let theirs_now = full
                        .calculate(&PriceRequest::new(&name, &probe).with_provider_id(provider));
                    let Some(ours) = find(bundled(), provider, &name) else {
                        assert!(
                            theirs_now.is_err()
                                || theirs_now.as_ref().is_ok_and(
                                    |c| c.total_price <= 0.0 || c.provider_id != provider
                                ),
                            "{name}: unpriced here, {theirs_now:?} in the crate"
                        );
                        unpriced += 1;
                        continue;
                    };
                    assert_eq!(theirs_now.unwrap().model_id, ours.model_id, "{name}");
                    assert!(ours.raw.is_some(), "{name} is left to the calculator");
                    for at in times {
                        let ours = ours.clone();
                        let ours = DbPrice {
                            at: Some(at),
                            ..ours
                        };
                        for u in &usages {
                            for batch in [false, true] {
                                let g = usage(u);
                                let mut r = PriceRequest::new(&name, &g)
                                    .with_provider_id(provider)
                                    .with_timestamp(at);
                                if batch {
                                    r = r.with_price_context("processing", "batch");
                                }
                                let theirs =
                                    full.calculate(&r).map(|c| (c.input_price, c.output_price));
                                match (calculate(&ours, u, batch), theirs) {
                                    (Some(a), Ok(b)) => assert!(
                                        (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12,
                                        "{name} at {at:?} batch {batch}: {a:?} vs {b:?}"
                                    ),
                                    (a, b) => panic!("{name}: {a:?} vs {b:?}"),
                                }
                            }
                        }
                    }
                    priced += 1;
                }
            }
        }
        assert!(priced > 300 && unpriced > 0, "{priced} {unpriced}");
    }

    #[test]
    fn regex_rules_are_matched_by_their_literal_prefix() {
        let rule = |p: &str| {
            let raw = serde_json::to_string(&serde_json::json!({ "regex": p })).unwrap();
            Rule::parse(Some(&RawValue::from_string(raw).unwrap()))
        };
        let may_match = |r: &Rule, name: &str| r.may_match(name);
        assert!(may_match(
            &rule("^claude-fable-5-\\d{8}$"),
            "claude-fable-5-20261001"
        ));
        assert!(!may_match(
            &rule("^claude-fable-5-\\d{8}$"),
            "claude-opus-5"
        ));
        assert!(may_match(
            &rule("^gpt-5\\.6-luna-\\d{4}"),
            "gpt-5.6-luna-2026-01-01"
        ));
        assert!(!may_match(
            &rule("^gpt-5\\.6-luna-\\d{4}"),
            "gpt-5x6-luna-2026-01-01"
        ));
        assert!(may_match(&rule("^o[134]"), "o3"));
        assert!(may_match(&rule("^ab?c"), "ac"));
        assert!(may_match(&rule("^a|b"), "b"));
        assert!(may_match(&rule("x"), "anything"));
        let parsed = |j: &str| Rule::parse(Some(&RawValue::from_string(j.into()).unwrap()));
        assert!(
            parsed(r#"{"or": [{"equals": "GPT-X"}, {"starts_with": "y"}]}"#).may_match("gpt-x")
        );
        assert!(!parsed(r#"{"and": [{"contains": "a"}, {"ends_with": "z"}]}"#).may_match("ab"));
        assert_eq!(parsed(r#"{"something_new": 1}"#), Rule::Any);
        assert_eq!(
            dash_compact_dates("claude-x-20250514"),
            "claude-x-2025-05-14"
        );
        assert_eq!(dash_compact_dates("a-123-b"), "a-123-b");
    }

    #[test]
    fn data_the_fast_path_does_not_read_is_priced_by_the_calculator() {
        // A time-of-day price (3 / 4 between 06:00 and 18:00 UTC, else 1 / 2).
        let data = r#"[
          {"id": "openai", "name": "OpenAI", "api_pattern": "x", "models": [
            {"id": "m1", "match": {"equals": "m1"}, "prices": [
              {"prices": {"input_mtok": 1, "output_mtok": 2}},
              {"constraint": {"start_time": "06:00:00Z", "end_time": "18:00:00Z"},
               "prices": {"input_mtok": 3, "output_mtok": 4}}]}]},
          {"id": "anthropic", "name": "Anthropic", "api_pattern": "y", "models": [
            {"id": "c1", "match": {"starts_with": "c1"}, "prices": {"input_mtok": 5, "output_mtok": 6}}]}
        ]"#;
        let db: &'static Db = Box::leak(Box::new(Db::new(
            parse(Box::leak(data.as_bytes().to_vec().into_boxed_slice())).unwrap(),
            Origin::Bundled,
        )));
        let p = find(db, "openai", "m1").unwrap();
        assert!(p.raw.is_none() && p.calc.is_some());
        let noon = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_798_804_800); // 2027-01-01T12:00Z
        let night = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_798_772_400); // 03:00Z
        let u = chat::Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Default::default()
        };
        let at = |t| DbPrice {
            at: Some(t),
            ..p.clone()
        };
        assert_eq!(calculate(&at(noon), &u, false), Some((3.0, 4.0)));
        assert_eq!(calculate(&at(night), &u, false), Some((1.0, 2.0)));
        let c = find(db, "anthropic", "c1-20270101").unwrap();
        assert!(c.raw.is_some());
        assert_eq!(calculate(&c, &u, true), Some((5.0, 6.0)));
    }

    #[test]
    fn bundled_as_of_is_the_latest_dated_change() {
        let text = std::str::from_utf8(BUNDLED).unwrap();
        let latest = text
            .match_indices("\"start_date\":\"")
            .map(|(i, m)| &text[i + m.len()..i + m.len() + 10])
            .max()
            .unwrap();
        assert_eq!(latest, BUNDLED_AS_OF);
    }

    #[test]
    fn compact_keeps_two_providers_and_validates() {
        let out = compact(BUNDLED).unwrap();
        let calc = validate(&out).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            serde_json::from_slice::<serde_json::Value>(BUNDLED).unwrap()
        );
        let ids: Vec<&str> = calc.providers().map(|p| p.id()).collect();
        assert_eq!(ids, ["anthropic", "openai"]);
        assert!(compact(b"{not json").is_err());
        assert!(compact(b"{}").is_err());
        // No OpenAI or Anthropic provider in it.
        assert!(compact(br#"[]"#).unwrap_err().contains("no openai models"));
    }

    #[test]
    fn unknown_and_tokenless_models_have_no_price() {
        assert!(find(bundled(), "openai", "llama3").is_none());
        assert!(find(bundled(), "anthropic", "gpt-4o").is_none());
        assert!(find(bundled(), "openai", "whisper-1").is_none());
        let p = find(bundled(), "anthropic", "claude-sonnet-5-5-20261001").unwrap();
        assert_eq!(p.model_id, "claude-sonnet-5-5");
    }

    #[test]
    fn probe_fast_cost_agrees_with_the_crate_on_hostile_usages_names_and_dates() {
        // Every bundled model at every date its data names (the day itself and the day
        // before), for zero, over-reported (cached > input, 1h > writes), tier-boundary and
        // huge usages, live and batch: llmpipe's figure is the crate's on its whole file.
        let full = Calculator::bundled();
        let day = |d: &str| {
            let n = |r: std::ops::Range<usize>| d[r].parse::<i64>().unwrap();
            let (y, m, dd) = (n(0..4), n(5..7), n(8..10));
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
            let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(days as u64 * 86_400)
        };
        let text = std::str::from_utf8(BUNDLED).unwrap();
        let mut dates: Vec<&str> = text
            .match_indices("\"start_date\":\"")
            .map(|(i, m)| &text[i + m.len()..i + m.len() + 10])
            .collect();
        dates.extend(["2023-01-01", "2030-06-30"]);
        dates.sort_unstable();
        dates.dedup();
        let mut times = Vec::new();
        for d in &dates {
            let t = day(d);
            times.push(t);
            times.push(t - std::time::Duration::from_secs(1));
        }
        let u = |input, cached, written, w1h, output| chat::Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cached,
            cache_write_input_tokens: written,
            cache_write_1h_input_tokens: w1h,
            reasoning_tokens: None,
        };
        let usages = [
            u(0, 0, 0, 0, 0),
            u(10, 50, 0, 0, 1),
            u(100, 60, 70, 80, 5),
            u(1_000, 0, 500, 500, 0),
            u(1_000, 0, 500, 900, 0),
            u(100_000, 1, 0, 0, 7),
            u(100_001, 1, 1, 1, 7),
            u(200_000, 0, 0, 0, 1),
            u(200_001, 0, 0, 0, 1),
            u(272_000, 1_000, 0, 0, 1),
            u(272_001, 1_000, 0, 0, 1),
            u(u64::MAX / 4, u64::MAX / 8, u64::MAX / 16, 3, u64::MAX / 4),
            u(1 << 53, (1 << 52) + 1, 12_345, 678, (1 << 53) + 1),
        ];
        let mut checked = 0;
        for provider in PROVIDERS {
            for id in models(bundled(), provider) {
                for name in [id.clone(), format!("{}-20250929", id.to_uppercase())] {
                    let Some(ours) = find(bundled(), provider, &name) else {
                        continue;
                    };
                    for &at in &times {
                        let ours = DbPrice {
                            at: Some(at),
                            ..ours.clone()
                        };
                        for us in &usages {
                            for batch in [false, true] {
                                let g = usage(us);
                                let mut r = PriceRequest::new(&name, &g)
                                    .with_provider_id(provider)
                                    .with_timestamp(at);
                                if batch {
                                    r = r.with_price_context("processing", "batch");
                                }
                                let theirs =
                                    full.calculate(&r).map(|c| (c.input_price, c.output_price));
                                let mine = calculate(&ours, us, batch);
                                match (mine, theirs) {
                                    (Some(a), Ok(b)) => {
                                        let near = |x: f64, y: f64| {
                                            (x - y).abs() <= 1e-12_f64.max(y.abs() * 1e-12)
                                        };
                                        assert!(
                                            near(a.0, b.0) && near(a.1, b.1),
                                            "{name} at {at:?} batch {batch} {us:?}: {a:?} vs {b:?}"
                                        );
                                    }
                                    (a, b) => panic!("{name} at {at:?} {us:?}: {a:?} vs {b:?}"),
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn probe_a_batch_variant_the_fast_path_does_not_read_is_priced_by_the_calculator() {
        // The live price is plain (the fast path prices it), but the batch variant has a
        // time-of-day constraint, which only the calculator reads: the batch cost must come
        // from the calculator, not be unknown.
        let data = r#"[
          {"id": "openai", "name": "OpenAI", "api_pattern": "x", "models": [
            {"id": "m1", "match": {"equals": "m1"}, "prices": {"input_mtok": 2, "output_mtok": 4},
             "price_variants": [{"when": {"processing": "batch"},
               "constraint": {"start_time": "00:00:00Z", "end_time": "12:00:00Z"},
               "prices": {"input_mtok": 1, "output_mtok": 2}}]}]},
          {"id": "anthropic", "name": "Anthropic", "api_pattern": "y", "models": [
            {"id": "c1", "match": {"starts_with": "c1"}, "prices": {"input_mtok": 5, "output_mtok": 6}}]}
        ]"#;
        let db: &'static Db = Box::leak(Box::new(Db::new(
            parse(Box::leak(data.as_bytes().to_vec().into_boxed_slice())).unwrap(),
            Origin::Bundled,
        )));
        let p = find(db, "openai", "m1").unwrap();
        let morning = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_798_772_400); // 2027-01-01T03:00Z
        let evening = morning + std::time::Duration::from_secs(15 * 3600);
        let u = chat::Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Default::default()
        };
        let at = |t| DbPrice {
            at: Some(t),
            ..p.clone()
        };
        assert_eq!(calculate(&at(morning), &u, false), Some((2.0, 4.0)));
        assert_eq!(calculate(&at(morning), &u, true), Some((1.0, 2.0)));
        assert_eq!(calculate(&at(evening), &u, true), Some((2.0, 4.0)));
    }

    #[test]
    fn probe_odd_names_pick_the_crates_model() {
        // Names the compact-date retry treats differently if it is not the crate's rule
        // (a year outside 20xx, a date followed by something other than `-`, `:` or the
        // end), provider prefixes and case: llmpipe prices them as the crate does.
        let full = Calculator::bundled();
        let probe = Usage::from([
            (UsageKey::INPUT_TOKENS, 1_000_000.0),
            (UsageKey::OUTPUT_TOKENS, 1_000_000.0),
        ]);
        for provider in PROVIDERS {
            for id in models(bundled(), provider) {
                let names = [
                    format!("{id}-20240806x"),
                    format!("{id}-19991231"),
                    format!("{id}-20240806.5"),
                    format!("{id}-20240806:ft-x"),
                    format!("{id}-20241306"),
                    format!("{provider}/{id}"),
                    format!("{id}-2024-08-06"),
                    format!(" {id}"),
                ];
                for name in names {
                    let theirs = full
                        .calculate(&PriceRequest::new(&name, &probe).with_provider_id(provider))
                        .ok()
                        .filter(|c| c.total_price > 0.0 && c.provider_id == provider)
                        .map(|c| (c.model_id, c.input_price, c.output_price));
                    let ours = find(bundled(), provider, &name).map(|p| {
                        let (i, o) = calculate(&p, &PROBE, false).unwrap();
                        (p.model_id, i, o)
                    });
                    assert_eq!(ours, theirs, "{name}");
                }
            }
        }
    }

    /// Only rates count, and only absurd ones: the bundled data has none (so a real file
    /// never trips the check), and a negative, non-finite or huge rate anywhere under
    /// `prices` (tiers and batch variants included) does.
    #[test]
    fn absurd_prices_are_found_and_the_bundled_data_has_none() {
        let db = bundled();
        for p in &db.providers {
            for m in p.models() {
                assert_eq!(absurd_price(m.raw.get()), None, "{}", m.id);
            }
        }
        let ok = r#"{"id":"m","prices":[{"constraint":{"start_date":"2025-01-01"},"prices":{"input_mtok":{"base":1,"tiers":[{"start":200000000,"price":2}]},"output_mtok":0}}],"price_variants":[{"when":{"processing":"batch"},"prices":{"input_mtok":0.5}}],"context_window":100000000}"#;
        assert_eq!(absurd_price(ok), None);
        for (bad, why) in [
            (r#"{"prices":{"input_mtok":-1}}"#, "input_mtok is -1"),
            (r#"{"prices":{"output_mtok":1e300}}"#, "output_mtok is 1e"),
            (
                r#"{"prices":{"input_mtok":{"base":1,"tiers":[{"start":5,"price":-2}]}}}"#,
                "price is -2",
            ),
            (
                r#"{"prices":[{"prices":{"input_mtok":1}},{"prices":{"cache_read_mtok":-0.1}}]}"#,
                "cache_read_mtok is -0.1",
            ),
            (
                r#"{"prices":{},"price_variants":[{"when":{"processing":"batch"},"prices":{"output_mtok":-5}}]}"#,
                "output_mtok is -5",
            ),
        ] {
            let got = absurd_price(bad).unwrap_or_else(|| panic!("{bad}"));
            assert!(got.starts_with(why), "{bad}: {got}");
        }
        assert!(validate(br#"[{"id":"openai","models":[{"id":"a","match":{"equals":"a"},"prices":{"input_mtok":-1}}]},{"id":"anthropic","models":[{"id":"b","match":{"equals":"b"},"prices":{"input_mtok":1}}]}]"#)
            .unwrap_err()
            .contains("openai model a: input_mtok is -1"));
    }
}
