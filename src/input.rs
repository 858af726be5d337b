//! The input text: PROMPT words, then each `-f` file, then stdin, joined by blank lines.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Gathers the input as the SPEC orders it. Stdin is read when it is not a terminal, or
/// when a PROMPT word is `-`. Every source must be UTF-8; empty sources add nothing.
pub fn gather(words: &[String], files: &[PathBuf]) -> Result<String> {
    let force_stdin = words.iter().any(|w| w == "-");
    let words: Vec<&str> = words
        .iter()
        .filter(|w| *w != "-")
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !words.is_empty() {
        parts.push(words.join(" "));
    }
    for path in files {
        let name = path.display().to_string();
        let bytes = std::fs::File::open(path)
            .and_then(read_bounded)
            .map_err(|e| Error::usage(format!("cannot read {name}: {}", io_reason(&e))))?;
        parts.push(utf8(bytes, &name)?);
    }
    let stdin = std::io::stdin();
    if force_stdin || !stdin.is_terminal() {
        let bytes = read_bounded(stdin.lock())
            .map_err(|e| Error::usage(format!("cannot read stdin: {}", io_reason(&e))))?;
        parts.push(utf8(bytes, "stdin")?);
    }
    parts.retain(|p| !p.is_empty());
    Ok(parts.join("\n\n"))
}

/// The most input read into memory (a request's text, `estimate-cost`, `count-tokens`
/// with `--prompt` or `--exact`): far above any model's context window.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;
/// The most `count-tokens` streams (in bounded memory) before it gives up: endless
/// sources such as `/dev/zero` end with a usage error instead of running forever.
pub const MAX_COUNTED_BYTES: u64 = 1 << 30;

/// Reads all of `reader`, but at most [`MAX_INPUT_BYTES`]: more is an error (which the
/// caller prefixes with "cannot read SOURCE: ").
pub fn read_bounded(reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::other(too_large_message(
            "it",
            MAX_INPUT_BYTES,
        )));
    }
    Ok(bytes)
}

/// A file's bytes, read with the [`read_bounded`] limit (an endless or huge file is an
/// error, never an abort on allocation).
pub fn read_file_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    read_bounded(std::fs::File::open(path)?)
}

pub fn too_large_message(source: &str, limit: u64) -> String {
    format!(
        "{source} is larger than {} MiB, the most llmpipe reads",
        limit >> 20
    )
}

/// Refuses empty input for request commands.
pub fn require_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::usage("the input is empty: nothing to send")
            .with_hint("give the prompt as words, with -f FILE, or on stdin"));
    }
    Ok(())
}

fn utf8(bytes: Vec<u8>, source: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| not_utf8(source, e.utf8_error().valid_up_to() as u64))
}

/// The usage error for a source that is not UTF-8 at byte `at` (from 0).
pub fn not_utf8(source: &str, at: u64) -> Error {
    Error::usage(format!(
        "{source} is not valid UTF-8: invalid byte at offset {at}"
    ))
    .with_hint("convert the text to UTF-8 first (e.g. with iconv)")
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}
