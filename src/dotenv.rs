//! `.env` reading that never echoes a line.
//!
//! A `.env` line usually holds a key, and CI logs are public: a line that cannot be parsed
//! is reported as `.env:LINE: <what is wrong>`, never with its content. Valid lines keep
//! dotenvy's meaning exactly (quotes, escapes, `export KEY=v`, comments, `$VAR`
//! substitution, quoted values over several lines): the file is cut into entries the way
//! dotenvy cuts it, each entry is checked on its own, and the valid ones are handed to
//! dotenvy together. One bad line costs only that line. A UTF-8 byte-order mark is skipped.

/// One line that was not loaded: where, and what is wrong with it (never its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// From 1.
    pub line: usize,
    pub what: &'static str,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub vars: Vec<(String, String)>,
    pub problems: Vec<Problem>,
}

/// A larger `.env` is not read (it is reported instead).
pub const MAX_BYTES: u64 = 1 << 20;

/// What each line must look like, for hints.
pub const EXPECTED: &str = "each line must be KEY=value (letters, digits, `_` and `.` in the name; quote a value that has spaces, e.g. KEY=\"a b\"), `export KEY=value`, or a `#` comment";

pub fn parse(bytes: &[u8]) -> Parsed {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut problems = Vec::new();
    // Lines as text; a line that is not UTF-8 is reported and left out.
    let lines: Vec<String> = bytes
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| match std::str::from_utf8(l) {
            Ok(s) => s.to_string(),
            Err(_) => {
                problems.push(Problem {
                    line: i + 1,
                    what: "the line is not UTF-8 text",
                });
                "\n".to_string()
            }
        })
        .collect();
    let mut good = String::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut entry = String::new();
        let mut state = State::Complete;
        if lines[i].trim_start().starts_with('#') {
            i += 1;
            continue;
        }
        while i < lines.len() {
            entry.push_str(&lines[i]);
            state = end_state(state, &lines[i]);
            i += 1;
            if matches!(state, State::Complete | State::Comment | State::WhiteSpace) {
                break;
            }
        }
        if !matches!(state, State::Complete | State::Comment | State::WhiteSpace) {
            // A quote that never closes: only its own line is lost; go on after it.
            problems.push(Problem {
                line: start + 1,
                what: "a quote opened on this line is never closed",
            });
            i = start + 1;
            continue;
        }
        let valid = dotenvy::from_read_iter(entry.as_bytes()).all(|r| r.is_ok());
        if valid {
            good.push_str(&entry);
            if !entry.ends_with('\n') {
                good.push('\n');
            }
        } else {
            problems.push(Problem {
                line: start + 1,
                what: describe(&entry),
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    let vars = dotenvy::from_read_iter(good.as_bytes())
        .filter_map(Result::ok)
        .collect();
    Parsed { vars, problems }
}

/// What is wrong with an entry dotenvy rejects, from its shape alone.
fn describe(entry: &str) -> &'static str {
    let t = entry.trim_start();
    let lower = t.get(..5).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("set ") {
        return "a Windows `set` command, not KEY=value: drop `set `";
    }
    if lower.starts_with("$env:") {
        return "a PowerShell assignment, not KEY=value: drop `$env:`";
    }
    let t = t.strip_prefix("export ").map_or(t, str::trim_start);
    let name_len = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(t.len());
    let rest = &t[name_len..];
    if name_len == 0 {
        return "the line does not start with a variable name";
    }
    if t.starts_with(|c: char| c.is_ascii_digit()) {
        return "a variable name cannot start with a digit";
    }
    let after = rest.trim_start_matches([' ', '\t']);
    if after.starts_with(':') {
        return "`:` where `=` belongs: write KEY=value";
    }
    if after.starts_with('-') {
        return "a variable name may hold only letters, digits, `_` and `.` (not `-`)";
    }
    let Some(value) = after.strip_prefix('=') else {
        return "no `=` after the variable name: write KEY=value";
    };
    let value = value.trim();
    if value.contains("${") && !value.contains('}') {
        return "a `${` is never closed";
    }
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if single {
            single = c != '\'';
        } else if c == '\\' {
            escaped = true;
        } else if double {
            double = c != '"';
        } else if c == '\'' {
            single = true;
        } else if c == '"' {
            double = true;
        } else if c == ' ' || c == '\t' {
            return "the value has a space: put the value in quotes, or start a comment with ` #`";
        }
    }
    if single || double {
        return "a quote is never closed";
    }
    if value.contains('\\') {
        return "an unknown `\\` escape in the value (only \\\\ \\' \\\" \\$ \\n and `\\ ` are known)";
    }
    "the value is not valid: write KEY=value"
}

/// dotenvy's own way of telling where an entry ends (a quoted value may span lines).
#[derive(Clone, Copy)]
enum State {
    Complete,
    Escape,
    StrongOpen,
    StrongOpenEscape,
    WeakOpen,
    WeakOpenEscape,
    Comment,
    WhiteSpace,
}

fn end_state(prev: State, line: &str) -> State {
    let mut state = prev;
    for c in line.chars() {
        state = match state {
            State::WhiteSpace => match c {
                '#' => return State::Comment,
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::Escape => State::Complete,
            State::Complete => match c {
                c if c.is_whitespace() && c != '\n' && c != '\r' => State::WhiteSpace,
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::WeakOpen => match c {
                '\\' => State::WeakOpenEscape,
                '"' => State::Complete,
                _ => State::WeakOpen,
            },
            State::WeakOpenEscape => State::WeakOpen,
            State::StrongOpen => match c {
                '\\' => State::StrongOpenEscape,
                '\'' => State::Complete,
                _ => State::StrongOpen,
            },
            State::StrongOpenEscape => State::StrongOpen,
            State::Comment => return State::Comment,
        };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-live-XYZ-9f8e7d6c5b4a";

    fn vars(text: &str) -> Vec<(String, String)> {
        let p = parse(text.as_bytes());
        assert!(p.problems.is_empty(), "{text:?}: {:?}", p.problems);
        p.vars
    }

    #[test]
    fn valid_lines_keep_dotenvy_meaning() {
        let text = "\u{feff}# comment\nA=1\nexport B='two words'\nC=\"x\\ny\" # note\n\nD=${A}z\nE=\"multi\nline\"\nF=\n";
        let got = vars(text);
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "x\ny"),
            ("D", "1z"),
            ("E", "multi\nline"),
            ("F", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_lines_cost_only_themselves() {
        let p = parse(b"A=1\nOPENAI_API_KEY: sk-x\nB=2\nC='open\nD=4\n");
        let names: Vec<&str> = p.vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["A", "B", "D"]);
        let lines: Vec<usize> = p.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4]);
    }

    /// Many malformed lines: none loads, each is reported at its line, and no report holds
    /// any part of the secret.
    #[test]
    fn malformed_lines_never_echo_the_secret() {
        let shapes = [
            "OPENAI_API_KEY: {S}",
            "OPENAI_API_KEY:{S}",
            "set OPENAI_API_KEY={S}",
            "SET OPENAI_API_KEY={S}",
            "$env:OPENAI_API_KEY=\"{S}\"",
            "OPENAI_API_KEY={S} extra words",
            "OPENAI-API-KEY={S}",
            "OPENAI_API_KEY=\"{S}",
            "OPENAI_API_KEY='{S}",
            "OPENAI_API_KEY {S}",
            "{S}",
            "1KEY={S}",
            "-KEY={S}",
            "KEY={S}\\q",
            "KEY=${{S}",
            "KEY=\"{S}\"x y",
            "export OPENAI_API_KEY: {S}",
            " \tOPENAI_API_KEY = {S} {S}",
            "KEY==={S} a",
            "= {S}",
            "\"KEY\"={S}",
            "KEY=\\{S}",
        ];
        for shape in shapes {
            for prefix in ["", "A=1\n", "# c\n\n"] {
                let text = format!("{prefix}{}\nZ=9\n", shape.replace("{S}", SECRET));
                let p = parse(text.as_bytes());
                let line = prefix.matches('\n').count() + 1;
                assert!(
                    p.problems.iter().any(|pr| pr.line == line),
                    "{text:?}: {:?}",
                    p.problems
                );
                assert!(
                    p.vars.iter().any(|(k, v)| k == "Z" && v == "9"),
                    "{text:?}: the next line was lost"
                );
                for pr in &p.problems {
                    for part in [SECRET, "sk-live", "XYZ", "9f8e7d"] {
                        assert!(!pr.what.contains(part), "{text:?}: {}", pr.what);
                    }
                }
            }
        }
    }

    #[test]
    fn crlf_lines_load() {
        assert_eq!(
            vars("A=1\r\nB=\"x y\"\r\n"),
            vec![("A".into(), "1".into()), ("B".into(), "x y".into())]
        );
    }

    /// Random files made of `.env` fragments: never a panic, every problem on a real line,
    /// and a problem's text is always one of the fixed descriptions (never file content).
    #[test]
    fn random_files_never_panic_or_echo() {
        const PIECES: &[&str] = &[
            "KEY", "=", "\"", "'", " ", "\t", "#", "\\", "$", "{", "}", "export ", "\n", "\r\n",
            "sk-", "é", ":", "-", "\u{feff}", "set ", "$env:", "\\n", "x",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 40) as usize;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            let p = parse(text.as_bytes());
            let lines = text.split('\n').count();
            for pr in &p.problems {
                assert!(pr.line >= 1 && pr.line <= lines, "{text:?}: {pr:?}");
                assert!(!pr.what.contains("sk-") && !pr.what.contains("KEYx"));
            }
        }
    }

    #[test]
    fn not_utf8_is_reported_not_loaded() {
        let p = parse(b"A=\xff\xfe\nB=2\n");
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].line, 1);
        assert_eq!(p.vars, vec![("B".to_string(), "2".to_string())]);
    }
}
