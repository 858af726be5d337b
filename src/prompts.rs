//! Versioned prompt files: `prompts/<name>/v<N>.md`, TOML front matter between `+++`
//! lines, then the user-message template with `{{input}}` and `{{var}}` placeholders.
//!
//! Every mistake in a file is a usage error (exit 2) reported as `FILE:LINE: message`, so
//! an editor can jump to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::chat::{Message, Role};
use crate::config::{Env, key_line, toml_error_line};
use crate::error::{Error, Result};

/// The front matter keys the SPEC defines; anything else is an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub description: Option<String>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    pub model: Option<String>,
    pub labels: Option<Vec<String>>,
    /// A JSON Schema file, relative to the prompt file.
    pub schema: Option<String>,
    #[serde(default)]
    pub examples: Vec<Example>,
    /// `"5m"`, `"1h"`, `true` (5m) or `false`: as `--cache-prompt` (which overrides it).
    #[serde(default, deserialize_with = "cache_prompt_value")]
    pub cache_prompt: Option<crate::effort::CacheTtl>,
    /// Tool files, relative to the prompt file.
    pub tools: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub input: String,
    pub output: String,
}

#[derive(Debug, Clone)]
pub struct PromptFile {
    pub name: String,
    pub version: u64,
    pub path: PathBuf,
    pub meta: FrontMatter,
    /// The loaded schema file, when `schema` is set.
    pub schema: Option<Value>,
    pub template: String,
    /// The file line (from 1) the template starts on, for error messages.
    template_line: usize,
}

/// Prompt directories in the SPEC's search order: `--prompts-dir`, `LLMPIPE_PROMPTS`
/// (`:`-separated), `./prompts`, `$XDG_CONFIG_HOME/llmpipe/prompts`.
pub fn search_dirs(cli_dir: Option<&Path>, env: &Env) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = cli_dir {
        dirs.push(d.to_path_buf());
    }
    if let Some(list) = env.get("LLMPIPE_PROMPTS") {
        dirs.extend(list.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    dirs.push(PathBuf::from("prompts"));
    let config = env
        .get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(&h).join(".config")));
    if let Some(c) = config {
        dirs.push(c.join("llmpipe").join("prompts"));
    }
    dirs
}

/// `NAME`, `NAME@v2` or `NAME@2`.
pub fn parse_ref(spec: &str) -> Result<(&str, Option<u64>)> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => {
            let digits = v.strip_prefix('v').unwrap_or(v);
            let n_ver = version_number(digits).ok_or_else(|| {
                Error::usage(format!(
                    "--prompt {spec}: the version must be like @v2 or @2"
                ))
            })?;
            (n, Some(n_ver))
        }
        None => (spec, None),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(Error::usage(format!(
            "--prompt {spec}: give a prompt name such as `sentiment` or `sentiment@v2`"
        )));
    }
    Ok((name, version))
}

/// A version number: ASCII digits only (no sign, no spaces), up to u64.
fn version_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The versions of one prompt in one directory, sorted by number (v10 after v9).
///
/// A version file is `v<N>.md` with `N` in ASCII digits, written without leading zeros,
/// so that one number names one file: `v01.md` or a number beyond 2^64 is an error naming
/// the file, not a second `v1`. Names that are not `v<digits>.md` (`notes.md`, `v+3.md`)
/// are not versions. Only regular files count (a FIFO named `v1.md` is never opened).
fn versions_in(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(u64, PathBuf)> = Vec::new();
    let mut padded: Option<(u64, PathBuf)> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(digits) = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_prefix('v')?.strip_suffix(".md"))
        else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Follows symlinks; never opens the file.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let canonical = digits == "0" || !digits.starts_with('0');
        match version_number(digits) {
            Some(n) if canonical => out.push((n, path)),
            Some(n) => padded = Some((n, path)),
            None => {
                return Err(Error::usage(format!(
                    "{}: the version number is larger than {}",
                    path.display(),
                    u64::MAX
                )));
            }
        }
    }
    if let Some((n, path)) = padded {
        let msg = match out.iter().find(|(m, _)| *m == n) {
            Some((_, other)) => format!(
                "{} and {} are both version {n}: remove one (version files are v<N>.md without leading zeros)",
                path.display(),
                other.display()
            ),
            None => format!(
                "{}: version files are v<N>.md without leading zeros: rename it to v{n}.md",
                path.display()
            ),
        };
        return Err(Error::usage(msg));
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// Finds and loads `NAME[@vN]` from the first directory that has the prompt.
pub fn load(spec: &str, dirs: &[PathBuf]) -> Result<PromptFile> {
    let (name, version) = parse_ref(spec)?;
    for dir in dirs {
        let versions = versions_in(&dir.join(name))?;
        if versions.is_empty() {
            continue;
        }
        let chosen = match version {
            Some(v) => versions.iter().find(|(n, _)| *n == v),
            None => versions.last(),
        };
        let Some((n, path)) = chosen else {
            let have: Vec<String> = versions.iter().map(|(n, _)| format!("v{n}")).collect();
            return Err(Error::usage(format!(
                "prompt {name} has no version v{} in {} (it has {})",
                version.unwrap_or(0),
                dir.join(name).display(),
                have.join(", ")
            )));
        };
        return parse_file(name, *n, path);
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::usage(format!(
        "no prompt named {name} (looked for {name}/vN.md in {})",
        searched.join(", ")
    ))
    .with_hint("`llmpipe prompts list` shows the prompts it can find"))
}

/// One row of `prompts list`.
#[derive(Debug)]
pub struct Summary {
    pub name: String,
    pub versions: Vec<u64>,
    pub description: Option<String>,
    pub path: PathBuf,
}

/// Every prompt in the search path; a name found in an earlier directory hides later ones.
pub fn list(dirs: &[PathBuf]) -> Vec<Summary> {
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let versions = match versions_in(&dir.join(&name)) {
                Ok(v) => v,
                Err(e) => {
                    crate::output::warn(&format!("{}; prompt {name} is not listed", e.message));
                    continue;
                }
            };
            let Some((_, latest)) = versions.last() else {
                continue;
            };
            if seen.insert(name.clone(), ()).is_some() {
                continue;
            }
            let description = crate::input::read_file_bounded(latest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|text| {
                    let (fm, _, _) = split_front_matter(&text).ok().flatten()?;
                    toml::from_str::<FrontMatter>(fm).ok()?.description
                });
            out.push(Summary {
                name,
                versions: versions.iter().map(|(n, _)| *n).collect(),
                description,
                path: latest.clone(),
            });
        }
    }
    out
}

/// `(front matter, template, template start line)`, or `None` when the file has no front
/// matter (all of it is the template).
fn split_front_matter(text: &str) -> std::result::Result<Option<(&str, &str, usize)>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    match lines.next() {
        Some(first) if first.trim_end() == "+++" => {}
        _ => return Ok(None),
    }
    let start = text.find('\n').map_or(text.len(), |i| i + 1);
    let mut offset = start;
    for (i, line) in lines.enumerate() {
        if line.trim_end() == "+++" {
            let fm = &text[start..offset];
            let template = &text[offset + line.len()..];
            return Ok(Some((fm, template, i + 3)));
        }
        offset += line.len();
    }
    Err(1)
}

fn parse_file(name: &str, version: u64, path: &Path) -> Result<PromptFile> {
    let shown = path.display().to_string();
    let at = |line: usize, msg: String| Error::usage(format!("{shown}:{line}: {msg}"));
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(Error::usage(format!("{shown} is not a regular file")));
    }
    let bytes = crate::input::read_file_bounded(path).map_err(|e| {
        Error::usage(format!(
            "cannot read {shown}: {}",
            crate::input::io_reason(&e)
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..off].iter().filter(|b| **b == b'\n').count() + 1;
        at(
            line,
            format!("not valid UTF-8 (invalid byte at offset {off})"),
        )
    })?;
    let (fm_text, template, template_line) = match split_front_matter(&text) {
        Ok(Some(parts)) => parts,
        Ok(None) => {
            // A `+++` line with none opening the file: front matter whose first line was
            // lost, which would otherwise be sent as the prompt, TOML and all.
            let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
            if let Some(i) = body.lines().position(|l| l.trim_end() == "+++") {
                return Err(at(
                    i + 1,
                    "a +++ line closes front matter that was never opened: the file must start with a +++ line (or drop this one)".into(),
                ));
            }
            ("", text.as_str(), 1)
        }
        Err(line) => {
            return Err(at(
                line,
                "the front matter opened with +++ is never closed (add a +++ line after it)".into(),
            ));
        }
    };
    let meta: FrontMatter = toml::from_str(fm_text).map_err(|e| {
        // front matter line 1 is file line 2
        let line = toml_error_line(fm_text, &e).unwrap_or(0) + 1;
        at(line, e.message().trim_end().to_string())
    })?;
    let fm_line = |key: &str| key_line(fm_text, key).map_or(1, |l| l + 1);
    if let Some(labels) = &meta.labels {
        if labels.is_empty() || labels.iter().any(|l| l.trim().is_empty()) {
            return Err(at(
                fm_line("labels"),
                "labels must be non-empty strings".into(),
            ));
        }
        let mut seen = labels.clone();
        seen.sort_by_key(|l| l.to_lowercase());
        seen.dedup_by_key(|l| l.to_lowercase());
        if seen.len() != labels.len() {
            return Err(at(
                fm_line("labels"),
                "labels must be unique (ignoring case)".into(),
            ));
        }
    }
    if meta.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        return Err(at(
            fm_line("model"),
            "model is empty: name a model, or drop the line".into(),
        ));
    }
    if let Some(t) = meta.max_tokens
        && t == 0
    {
        return Err(at(
            fm_line("max_tokens"),
            "max_tokens must be at least 1".into(),
        ));
    }
    let schema = match &meta.schema {
        None => None,
        Some(rel) => {
            let schema_path = path.parent().unwrap_or(Path::new(".")).join(rel);
            let line = fm_line("schema");
            if std::fs::metadata(&schema_path).is_ok_and(|m| !m.is_file()) {
                return Err(at(
                    line,
                    format!("schema {} is not a regular file", schema_path.display()),
                ));
            }
            let raw = crate::input::read_file_bounded(&schema_path).map_err(|e| {
                at(
                    line,
                    format!(
                        "cannot read schema {}: {}",
                        schema_path.display(),
                        crate::input::io_reason(&e)
                    ),
                )
            })?;
            Some(serde_json::from_slice(&raw).map_err(|e| {
                at(
                    line,
                    format!("schema {} is not JSON: {e}", schema_path.display()),
                )
            })?)
        }
    };
    // One blank line after the closing +++ is layout, not prompt.
    let (template, template_line) = match template.strip_prefix('\n') {
        Some(rest) => (rest, template_line + 1),
        None => (template, template_line),
    };
    let prompt = PromptFile {
        name: name.to_string(),
        version,
        path: path.to_path_buf(),
        meta,
        schema,
        // The file's final newline is layout too.
        template: template.trim_end_matches(['\n', '\r']).to_string(),
        template_line,
    };
    Ok(prompt)
}

impl PromptFile {
    /// `name@vN`, as the result object's `prompt` field records it.
    pub fn label(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }

    pub fn uses_input(&self) -> bool {
        placeholders(&self.template).any(|(_, name)| name == "input")
    }

    /// The conversation: each example as a user turn (through the same template) and an
    /// assistant turn, then the real input.
    pub fn render(&self, input: &str, vars: &HashMap<String, String>) -> Result<Vec<Message>> {
        let mut messages = Vec::new();
        for ex in &self.meta.examples {
            messages.push(Message::user_text(self.fill(&ex.input, vars)?));
            messages.push(Message {
                role: Role::Assistant,
                content: vec![crate::chat::Part::Text(ex.output.clone())],
            });
        }
        messages.push(Message::user_text(self.fill(input, vars)?));
        Ok(messages)
    }

    /// The template with placeholders filled. Input the template does not place goes
    /// after it, separated by a blank line, so nothing given is dropped.
    fn fill(&self, input: &str, vars: &HashMap<String, String>) -> Result<String> {
        let t = &self.template;
        let mut out = String::with_capacity(t.len() + input.len());
        let mut last = 0;
        for (range, name) in placeholders(t) {
            out.push_str(&t[last..range.start]);
            let value = if name == "input" {
                Some(input)
            } else {
                vars.get(name).map(String::as_str)
            };
            let Some(value) = value else {
                let line = self.template_line + t[..range.start].matches('\n').count();
                return Err(Error::usage(format!(
                    "{}:{line}: variable `{name}` has no value: pass --var {name}=VALUE",
                    self.path.display()
                )));
            };
            out.push_str(value);
            last = range.end;
        }
        out.push_str(&t[last..]);
        if !self.uses_input() && !input.trim().is_empty() {
            if !out.trim().is_empty() {
                let trimmed = out.trim_end().len();
                out.truncate(trimmed);
                out.push_str("\n\n");
            }
            out.push_str(input);
        }
        Ok(out)
    }
}

/// `{{ name }}` placeholders (byte range, name). Anything else between braces, such as
/// `{{ x.y }}` in a code sample, is left as text.
fn placeholders(t: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(open) = t[pos..].find("{{").map(|i| i + pos) {
            let Some(close) = t[open + 2..].find("}}").map(|i| i + open + 2) else {
                pos = t.len();
                return None;
            };
            let inner = t[open + 2..close].trim();
            let ident = !inner.is_empty()
                && inner
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if ident {
                pos = close + 2;
                return Some((open..close + 2, inner));
            }
            pos = open + 2;
        }
        None
    })
}

/// `--var KEY=VALUE` pairs.
pub fn parse_vars(pairs: &[String]) -> Result<HashMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Error::usage(format!("--var {p}: write it as KEY=VALUE"))),
        })
        .collect()
}

/// The prompt file `--prompt` names, if any; `--var` without one is a usage error.
pub fn load_named(
    spec: Option<&str>,
    dir: Option<&Path>,
    vars: &[String],
    env: &Env,
) -> Result<Option<PromptFile>> {
    if spec.is_none() && !vars.is_empty() {
        return Err(Error::usage(
            "--var fills a prompt file's template: add --prompt NAME",
        ));
    }
    spec.map(|spec| load(spec, &search_dirs(dir, env)))
        .transpose()
}

/// The request a prompt file (or none) makes of `text`, as `complete` would send it.
pub fn counted_request(
    prompt: Option<&PromptFile>,
    system: Option<String>,
    vars: &[String],
    text: String,
    max_tokens: u64,
) -> Result<crate::chat::Request> {
    let vars = parse_vars(vars)?;
    let (system, messages) = match prompt {
        Some(p) => (
            system.or_else(|| p.meta.system.clone()),
            p.render(&text, &vars)?,
        ),
        None => (system, vec![Message::user_text(text)]),
    };
    Ok(crate::chat::Request {
        system,
        messages,
        max_tokens,
        ..Default::default()
    })
}

impl PromptFile {
    /// The names the template places, `input` included, each once, in order.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (_, name) in placeholders(&self.template) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// `cache_prompt` in front matter: a lifetime, or a plain switch (`true` is the default 5m).
fn cache_prompt_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<crate::effort::CacheTtl>, D::Error> {
    use crate::effort::CacheTtl;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Switch(bool),
        Ttl(String),
    }
    match Raw::deserialize(d)? {
        Raw::Switch(on) => Ok(on.then_some(CacheTtl::FiveMinutes)),
        Raw::Ttl(t) if t == "5m" => Ok(Some(CacheTtl::FiveMinutes)),
        Raw::Ttl(t) if t == "1h" => Ok(Some(CacheTtl::OneHour)),
        Raw::Ttl(t) => Err(serde::de::Error::custom(format!(
            "cache_prompt must be \"5m\", \"1h\", true or false, not {t:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p/v1.md", text);
        load("p", &[dir.path().to_path_buf()]).unwrap_err().message
    }

    #[test]
    fn broken_files_report_file_and_line() {
        let cases: &[(&str, &str)] = &[
            (
                "+++\ndescription = \"x\"\n",
                "v1.md:1: the front matter opened with +++ is never closed",
            ),
            (
                "+++\ndescription = \"x\"\ncolour = 1\n+++\nhi",
                "v1.md:3: unknown field `colour`",
            ),
            (
                "+++\n\ntemperature = \"hot\"\n+++\nhi",
                "v1.md:3: invalid type",
            ),
            ("+++\nsystem = \"unterminated\n+++\nhi", "v1.md:2:"),
            (
                "+++\nmax_tokens = 0\n+++\nhi",
                "v1.md:2: max_tokens must be at least 1",
            ),
            (
                "+++\nlabels = [\"a\", \"A\"]\n+++\nhi",
                "v1.md:2: labels must be unique",
            ),
            (
                "+++\nlabels = []\n+++\nhi",
                "v1.md:2: labels must be non-empty",
            ),
            (
                "+++\ndescription = \"d\"\nschema = \"missing.json\"\n+++\nhi",
                "v1.md:3: cannot read schema",
            ),
            ("+++\n[[examples]]\ninput = \"a\"\n+++\nhi", "v1.md:"),
        ];
        for (text, want) in cases {
            let got = err_of(text);
            assert!(got.contains(want), "{text:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn latest_version_is_by_number() {
        let dir = tempfile::tempdir().unwrap();
        for v in [1, 2, 9, 10] {
            write(
                dir.path(),
                &format!("s/v{v}.md"),
                &format!("version {v}: {{{{input}}}}"),
            );
        }
        write(dir.path(), "s/notes.md", "ignored");
        let dirs = [dir.path().to_path_buf()];
        assert_eq!(load("s", &dirs).unwrap().version, 10);
        assert_eq!(load("s@v2", &dirs).unwrap().version, 2);
        assert_eq!(load("s@9", &dirs).unwrap().label(), "s@v9");
        let e = load("s@v3", &dirs).unwrap_err().message;
        assert!(e.contains("v1, v2, v9, v10"), "{e}");
        assert!(
            load("nope", &dirs)
                .unwrap_err()
                .message
                .contains("no prompt named nope")
        );
        assert!(parse_ref("s@x").is_err());
        assert!(parse_ref("../s").is_err());
    }

    #[test]
    fn one_number_names_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().to_path_buf()];
        write(dir.path(), "lead/v1.md", "one {{input}}");
        write(dir.path(), "lead/v01.md", "zero-one {{input}}");
        for spec in ["lead", "lead@v1", "lead@1"] {
            let e = load(spec, &dirs).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.message.contains("v01.md") && e.message.contains("v1.md are both version 1"),
                "{}",
                e.message
            );
        }
        std::fs::remove_file(dir.path().join("lead/v01.md")).unwrap();
        write(dir.path(), "lead/v+3.md", "plus three");
        write(dir.path(), "lead/v 4.md", "space four");
        write(dir.path(), "lead/v4294967296.md", "big {{input}}");
        let p = load("lead", &dirs).unwrap();
        assert_eq!(p.label(), "lead@v4294967296");
        assert_eq!(load("lead@v1", &dirs).unwrap().template, "one {{input}}");
        assert!(load("lead@+3", &dirs).is_err());
        assert!(load("lead@v3", &dirs).is_err());
        write(dir.path(), "lead/v99999999999999999999.md", "huge");
        let e = load("lead", &dirs).unwrap_err().message;
        assert!(e.contains("v99999999999999999999.md"), "{e}");
    }

    #[test]
    fn front_matter_mistakes_have_a_line() {
        for (text, want) in [
            (
                "description = \"x\"\nmodel = \"gpt-4o\"\n+++\nhi {{input}}",
                "v1.md:3: a +++ line closes front matter that was never opened",
            ),
            (
                "+++\ndescription = \"x\"\nmodel = \"\"\n+++\nhi",
                "v1.md:3: model is empty",
            ),
        ] {
            let got = err_of(text);
            assert!(got.contains(want), "{text:?}: got {got:?}");
        }
    }

    #[test]
    fn render_fills_examples_and_vars_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "c/v1.md",
            "+++\nsystem = \"sys\"\n[[examples]]\ninput = \"good\"\noutput = \"positive\"\n+++\nLang {{lang}}. Review: {{ input }} {{ not.a.var }}\n",
        );
        let p = load("c", &[dir.path().to_path_buf()]).unwrap();
        let vars = parse_vars(&["lang=en".into()]).unwrap();
        let m = p.render("bad", &vars).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            Message::user_text("Lang en. Review: good {{ not.a.var }}")
        );
        assert_eq!(m[1].role, Role::Assistant);
        assert_eq!(
            m[2],
            Message::user_text("Lang en. Review: bad {{ not.a.var }}")
        );
        let e = p.render("bad", &HashMap::new()).unwrap_err().message;
        assert!(
            e.ends_with("v1.md:7: variable `lang` has no value: pass --var lang=VALUE"),
            "{e}"
        );
    }

    #[test]
    fn a_template_without_input_gets_the_input_appended() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "t/v1.md", "Summarise this:\n");
        let p = load("t", &[dir.path().to_path_buf()]).unwrap();
        assert!(!p.uses_input());
        let m = p.render("text", &HashMap::new()).unwrap();
        assert_eq!(m[0], Message::user_text("Summarise this:\n\ntext"));
    }
}
