//! A strict JSON scanner for the stream's hot path: it reads the few fields a text delta
//! needs and skips the rest without building anything.
//!
//! It never decides what serde_json would decide differently: every method returns `None`
//! on anything it does not handle itself (a key with an escape, nesting deeper than
//! [`MAX_DEPTH`], malformed JSON of any kind), and the caller then parses the event with
//! serde_json, whose answer (or error) is the one that counts. A unit test holds the two to
//! the same results on mutated events.
//!
//! [`Template`] goes one step further for the events of one stream, which mostly differ only
//! in their text: an event equal to the last usual one around its text string is that event
//! with other text, and only the text is scanned ([`string_body`]).

use std::borrow::Cow;

/// Deeper than this is left to serde_json (which has its own recursion limit).
const MAX_DEPTH: u32 = 32;

/// Bytes that may stand in a string as they are: not `"`, `\\` or a control character.
static PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = false;
        b += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

pub struct Scanner<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Scanner {
            text,
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not taken.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// `null`, taken if it is next.
    pub fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        self.literal(b"null")?;
        Some(true)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.s.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// The raw text between a string's quotes, and whether it holds an escape.
    fn raw_string(&mut self) -> Option<(&'a str, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        let mut j = start;
        loop {
            // Plain bytes are passed by a table look-up each: most strings here are short
            // keys, for which that beats a vectorised search.
            while PLAIN[*self.s.get(j)? as usize] {
                j += 1;
            }
            match self.s[j] {
                b'"' => {
                    self.i = j + 1;
                    // Cut at ASCII quotes: on character boundaries of the `str`.
                    return Some((self.text.get(start..j)?, escaped));
                }
                // An escape, checked as serde_json checks one it skips (a string that is
                // kept is decoded by serde_json itself, surrogates and all).
                b'\\' => {
                    escaped = true;
                    j += match *self.s.get(j + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' if self.s.get(j + 2..j + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                        _ => return None,
                    };
                }
                // JSON forbids raw control characters in strings.
                _ => return None,
            }
        }
    }

    /// A string, borrowed when it has no escape; an escaped one is decoded by serde_json
    /// (so every escape rule is serde_json's own).
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        let before = self.i;
        let (raw, escaped) = self.raw_string()?;
        if !escaped {
            return Some(Cow::Borrowed(raw));
        }
        let quoted = self.text.get(before..self.i)?;
        let quoted = quoted.trim_start_matches([' ', '\t', '\n', '\r']);
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    }

    /// A string and where it stands in the text (its quotes included).
    pub fn string_at(&mut self) -> Option<(Cow<'a, str>, std::ops::Range<usize>)> {
        self.peek()?;
        let from = self.i;
        let text = self.string()?;
        Some((text, from..self.i))
    }

    /// The members of an object that are among `known`: `f` gets each with its index in
    /// `known`, the scanner at its value, and must take that value. Other members are
    /// skipped; a known member given twice is passed on (serde_json refuses it).
    pub fn members(
        &mut self,
        known: &[&str],
        mut f: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        let mut seen = 0u32;
        self.object(|s, key| {
            let Some(k) = known.iter().position(|&n| n == key) else {
                return s.skip();
            };
            if seen & (1 << k) != 0 {
                return None;
            }
            seen |= 1 << k;
            f(s, k)
        })
    }

    /// The members of an object: `f` gets each key (one without escapes) with the scanner
    /// at its value, and must take that value.
    pub fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.deeper()?;
        if self.peek()? == b'}' {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            let (key, escaped) = self.raw_string()?;
            if escaped {
                return None;
            }
            self.eat(b':')?;
            f(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The elements of an array: `f` is called with the scanner at each one.
    pub fn array(&mut self, mut f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.deeper()?;
        if self.peek()? == b']' {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            f(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Skips any one value, checking it is well-formed JSON.
    pub fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.raw_string().map(|_| ()),
            b'{' => self.object(|s, _| s.skip()),
            b'[' => self.array(Self::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let from = s.i;
            while s.s.get(s.i).is_some_and(u8::is_ascii_digit) {
                s.i += 1;
            }
            (s.i > from).then_some(())
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        if self.s.get(self.i) == Some(&b'0') {
            self.i += 1;
        } else {
            digits(self)?;
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            digits(self)?;
        }
        // serde_json reads a number only up to where it ends; anything glued to it (`01`,
        // `1x`) is then an error there. Leave those to it.
        match self.s.get(self.i) {
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') => None,
            _ => Some(()),
        }
    }
}

/// The text of a string whose body (what stands between its quotes) is `body`: `None` if
/// that is not a whole JSON string body (a raw quote or control character, a bad or cut
/// escape), which the scanner would read otherwise.
pub fn string_body(body: &str) -> Option<Cow<'_, str>> {
    let b = body.as_bytes();
    let mut j = 0;
    let mut escaped = false;
    while j < b.len() {
        if PLAIN[b[j] as usize] {
            j += 1;
            continue;
        }
        if b[j] != b'\\' {
            return None;
        }
        escaped = true;
        j += match *b.get(j + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
            b'u' if b.get(j + 2..j + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
            _ => return None,
        };
    }
    if !escaped {
        return Some(Cow::Borrowed(body));
    }
    let quoted = format!("\"{body}\"");
    serde_json::from_str::<String>(&quoted).ok().map(Cow::Owned)
}

/// The last usual event of a stream, cut around its text. A stream's usual events differ
/// only in their text (OpenAI's `{"id":…,"choices":[{"index":0,"delta":{"content":"…"},…}]}`,
/// Anthropic's text deltas): an event that is byte for byte the same around a valid string
/// body is the same event with that text, as JSON's grammar has it, so its text is taken
/// without reading the rest again.
#[derive(Debug, Default)]
pub struct Template {
    /// Up to and with the text's opening quote.
    prefix: String,
    /// From the text's closing quote on.
    suffix: String,
}

impl Template {
    /// Remembers `data`, whose text is the string at `quoted` (its quotes included).
    pub fn set(&mut self, data: &str, quoted: std::ops::Range<usize>) {
        let (Some(prefix), Some(suffix)) = (
            data.get(..quoted.start + 1),
            data.get(quoted.end.saturating_sub(1)..),
        ) else {
            return self.clear();
        };
        if quoted.end < quoted.start + 2 {
            return self.clear();
        }
        self.prefix.clear();
        self.prefix.push_str(prefix);
        self.suffix.clear();
        self.suffix.push_str(suffix);
    }

    pub fn clear(&mut self) {
        self.prefix.clear();
        self.suffix.clear();
    }

    #[cfg(test)]
    pub fn prefix_is_empty(&self) -> bool {
        self.prefix.is_empty()
    }

    /// The text of `data` if it is the remembered event with other text.
    pub fn text<'a>(&self, data: &'a str) -> Option<Cow<'a, str>> {
        if self.prefix.is_empty() || data.len() < self.prefix.len() + self.suffix.len() {
            return None;
        }
        let body = data
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        string_body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut s = Scanner::new(text);
        s.skip().is_some() && s.end().is_some()
    }

    #[test]
    fn accepts_only_what_serde_json_accepts() {
        let cases = [
            "{}",
            "[]",
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\"y",{"b":{}}]}"#,
            " { \"a\" : 1 } ",
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "\"a\u{1}b\"",
            "\"\\q\"",
            "[1 2]",
            "nul",
            "truex",
            "\"\\",
            "\"unterminated",
            "{\"a\":1}}",
            "-0.0e-0",
            "1E5",
            "[[[[]]]]",
            r#"["\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t", "\ud800"]"#,
            r#""\u12""#,
            r#""\u12g4""#,
        ];
        let mutants = crate::provider::openai::tests::mutations(&cases);
        for c in cases
            .iter()
            .copied()
            .chain(mutants.iter().map(String::as_str))
        {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(c).is_ok();
            // The scanner never takes what serde_json refuses; it takes all that serde_json
            // takes, except keys with escapes, which it leaves to serde_json.
            if skips(c) || !c.contains('\\') {
                assert_eq!(skips(c), serde, "{c:?}");
            }
        }
    }

    #[test]
    fn strings_decode_as_serde_json_does() {
        for c in [r#""plain""#, r#""a\nb\u00e9\ud83d\ude00""#, r#""\/\\\"""#] {
            let want: String = serde_json::from_str(c).unwrap();
            assert_eq!(Scanner::new(c).string().unwrap(), want);
        }
        assert!(Scanner::new(r#""\ud800""#).string().is_none());
        assert!(Scanner::new(r#""\x""#).string().is_none());
    }

    /// A string body is taken exactly when serde_json reads `"body"` as a string, and to
    /// the same text.
    #[test]
    fn string_bodies_are_what_serde_json_reads() {
        let bodies = [" The quick", r#"a\"b\\c\nd\u00e9\ud83d\ude00\/"#, "", "é😀"];
        for b in crate::provider::openai::tests::mutations(&bodies) {
            let serde = serde_json::from_str::<String>(&format!("\"{b}\"")).ok();
            let ours = string_body(&b).map(Cow::into_owned);
            // A body with a raw quote may read as a string with more after it: never ours.
            if b.contains('"') {
                assert!(ours.is_none() || serde == ours, "{b:?}");
            } else {
                assert_eq!(ours, serde, "{b:?}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde_json() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(!skips(&deep));
        let ok = "[".repeat(30) + &"]".repeat(30);
        assert!(skips(&ok));
    }
}
