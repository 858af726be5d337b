//! tiktoken's pre-tokenizers, written out by hand.
//!
//! tiktoken splits text with a regex (run by fancy-regex) before byte-pair encoding each
//! piece; that regex is most of its running time. These functions return exactly the pieces
//! the regexes return, one alternative at a time in the regexes' order, with the same
//! backtracking outcomes. The regexes, as Python tiktoken and tiktoken-rs define them:
//!
//! o200k_base:
//! ```text
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//! cl100k_base:
//! ```text
//! '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
//! |\s++$|\s*[\r\n]|\s+(?!\S)|\s
//! ```
//! Every character is matched by some alternative, so pieces tile the text. The tests check
//! these functions against tiktoken-rs (which runs the regexes) on random texts.

use super::bpe::Vocab;

include!(concat!(env!("OUT_DIR"), "/tokens_data.rs"));

/// A character's class: the general categories the regexes distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Anything else: punctuation, symbols, controls that are not `\s`, …
    Other,
    /// Lu, Lt: only in o200k's first letter set.
    Upper,
    /// Ll: only in o200k's second letter set.
    Lower,
    /// Lm, Lo: in both of o200k's letter sets (and in `\p{L}`).
    Both,
    /// M: in both of o200k's letter sets but not in `\p{L}`.
    Mark,
    /// N.
    Number,
    /// `\s` (Unicode White_Space), including `\r` and `\n`.
    Space,
    /// Past the end of the text.
    End,
}

const CLASSES: [Class; 7] = [
    Class::Other,
    Class::Upper,
    Class::Lower,
    Class::Both,
    Class::Mark,
    Class::Number,
    Class::Space,
];

fn class_of(cp: u32) -> Class {
    let block = CLASS_STAGE1.get((cp >> 8) as usize).copied().unwrap_or(0) as usize;
    let id = CLASS_STAGE2
        .get(block * 256 + (cp & 0xff) as usize)
        .copied()
        .unwrap_or(0);
    CLASSES[id as usize % CLASSES.len()]
}

/// The classes of the 128 ASCII characters, so the common case is one table load.
static ASCII: [Class; 128] = {
    let mut t = [Class::Other; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = if b.is_ascii_uppercase() {
            Class::Upper
        } else if b.is_ascii_lowercase() {
            Class::Lower
        } else if b.is_ascii_digit() {
            Class::Number
        } else if matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            Class::Space
        } else {
            Class::Other
        };
        i += 1;
    }
    t
};

/// Decodes the character at `i` of valid UTF-8; `(0, 0)` past the end.
#[inline]
pub fn decode(s: &[u8], i: usize) -> (u32, usize) {
    let Some(&b0) = s.get(i) else { return (0, 0) };
    let cont = |k: usize| (s.get(i + k).copied().unwrap_or(0x80) & 0x3f) as u32;
    let b0 = b0 as u32;
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xe0 {
        (((b0 & 0x1f) << 6) | cont(1), 2)
    } else if b0 < 0xf0 {
        (((b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// The class and byte length of the character at `i`.
#[inline]
pub fn at(s: &[u8], i: usize) -> (Class, usize) {
    match s.get(i) {
        None => (Class::End, 0),
        Some(&b) if b < 0x80 => (ASCII[b as usize], 1),
        Some(_) => {
            let (cp, n) = decode(s, i);
            (class_of(cp), n)
        }
    }
}

/// `\p{L}`.
#[inline]
pub fn is_letter(c: Class) -> bool {
    matches!(c, Class::Upper | Class::Lower | Class::Both)
}

/// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
#[inline]
fn is_upper_set(c: Class) -> bool {
    matches!(c, Class::Upper | Class::Both | Class::Mark)
}

/// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
#[inline]
fn is_lower_set(c: Class) -> bool {
    matches!(c, Class::Lower | Class::Both | Class::Mark)
}

/// `[^\r\n\p{L}\p{N}]` (the optional character before a word), for the character `b`
/// starts with.
#[inline]
fn is_prefix(c: Class, b: u8) -> bool {
    match c {
        Class::Other | Class::Mark => true,
        Class::Space => b != b'\r' && b != b'\n',
        _ => false,
    }
}

/// `[^\s\p{L}\p{N}]`.
#[inline]
fn is_punct(c: Class) -> bool {
    matches!(c, Class::Other | Class::Mark)
}

/// The end of the run of characters from `i` whose class satisfies `f`.
#[inline]
fn run(s: &[u8], mut i: usize, f: impl Fn(Class) -> bool) -> usize {
    loop {
        let (c, n) = at(s, i);
        if !f(c) {
            return i;
        }
        i += n;
    }
}

/// The contraction letter (`s t r e v m l d`) the character at `i` case-folds to, or 0.
#[inline]
fn folded(s: &[u8], i: usize) -> (u8, usize) {
    match s.get(i) {
        None => (0, 0),
        Some(&b) if b < 0x80 => (fold(b as char), 1),
        Some(_) => {
            let (cp, n) = decode(s, i);
            (char::from_u32(cp).map_or(0, fold), n)
        }
    }
}

/// `'(?i:s|t|m|d|re|ve|ll)` at `i` (both encodings accept the same seven): its end.
#[inline]
fn contraction(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'\'') {
        return None;
    }
    let (a, n1) = folded(s, i + 1);
    let second = |want: u8| {
        let (b, n2) = folded(s, i + 1 + n1);
        (b == want).then_some(i + 1 + n1 + n2)
    };
    match a {
        b's' | b't' | b'm' | b'd' => Some(i + 1 + n1),
        b'r' | b'v' => second(b'e'),
        b'l' => second(b'l'),
        _ => None,
    }
}

/// o200k: `U* L+ contraction?` from `st` (U, L: the two letter sets above), as a
/// backtracking engine finds it: the greedy `U*` gives back characters until `L+` can match.
fn o200k_lower_word(s: &[u8], st: usize) -> Option<usize> {
    let mut i = st;
    let mut last_in_both: Option<usize> = None;
    let stop = loop {
        let (c, n) = at(s, i);
        match c {
            Class::Upper => i += n,
            Class::Both | Class::Mark => {
                i += n;
                last_in_both = Some(i);
            }
            other => break other,
        }
    };
    let end = if stop == Class::Lower {
        run(s, i, is_lower_set)
    } else {
        // `L+` can only take the last character of the U-run that is also in L; what
        // follows it is Lu/Lt or the character that ended the run, neither in L.
        last_in_both?
    };
    Some(contraction(s, end).unwrap_or(end))
}

/// o200k: `U+ L* contraction?` from `st`.
fn o200k_upper_word(s: &[u8], st: usize) -> Option<usize> {
    if !is_upper_set(at(s, st).0) {
        return None;
    }
    let end = run(s, run(s, st, is_upper_set), is_lower_set);
    Some(contraction(s, end).unwrap_or(end))
}

/// The end of the whitespace run starting at `p`, the start of its last character, the end
/// of its last `\r`/`\n` (if any), and whether it is longer than one character.
struct Spaces {
    end: usize,
    last_start: usize,
    after_newline: Option<usize>,
    several: bool,
}

fn spaces(s: &[u8], p: usize) -> Spaces {
    let mut i = p;
    let mut last_start = p;
    let mut after_newline = None;
    let mut count = 0;
    loop {
        let (c, n) = at(s, i);
        if c != Class::Space {
            break;
        }
        if s[i] == b'\r' || s[i] == b'\n' {
            after_newline = Some(i + 1);
        }
        last_start = i;
        i += n;
        count += 1;
    }
    Spaces {
        end: i,
        last_start,
        after_newline,
        several: count > 1,
    }
}

/// ` ?[^\s\p{L}\p{N}]+` then trailing characters from `tail`: the end, if it matches.
#[inline]
fn punct(s: &[u8], p: usize, tail: &[u8]) -> Option<usize> {
    let q = if s[p] == b' ' && is_punct(at(s, p + 1).0) {
        p + 1
    } else {
        p
    };
    if !is_punct(at(s, q).0) {
        return None;
    }
    let mut e = run(s, q, is_punct);
    while e < s.len() && tail.contains(&s[e]) {
        e += 1;
    }
    Some(e)
}

/// `\p{N}{1,3}` from `p` (which is a number).
#[inline]
fn digits(s: &[u8], p: usize) -> usize {
    let mut e = p;
    for _ in 0..3 {
        let (c, n) = at(s, e);
        if c != Class::Number {
            break;
        }
        e += n;
    }
    e
}

/// The end of the o200k_base piece starting at `p` (`p < s.len()`, `s` valid UTF-8).
pub fn next_o200k(s: &[u8], p: usize) -> usize {
    let (c0, n0) = at(s, p);
    // Alternatives 1 and 2, each first with the optional prefix character, then without.
    let prefix = is_prefix(c0, s[p]);
    if prefix && let Some(e) = o200k_lower_word(s, p + n0) {
        return e;
    }
    if let Some(e) = o200k_lower_word(s, p) {
        return e;
    }
    if prefix && let Some(e) = o200k_upper_word(s, p + n0) {
        return e;
    }
    if let Some(e) = o200k_upper_word(s, p) {
        return e;
    }
    if c0 == Class::Number {
        return digits(s, p);
    }
    if let Some(e) = punct(s, p, b"\r\n/") {
        return e;
    }
    // Only whitespace is left.
    let w = spaces(s, p);
    if let Some(e) = w.after_newline {
        return e; // \s*[\r\n]+
    }
    if w.end == s.len() || !w.several {
        return w.end; // \s+(?!\S) at the end of the text, or \s+
    }
    w.last_start // \s+(?!\S): the last space goes with what follows
}

/// The end of the cl100k_base piece starting at `p` (`p < s.len()`, `s` valid UTF-8).
pub fn next_cl100k(s: &[u8], p: usize) -> usize {
    if let Some(e) = contraction(s, p) {
        return e;
    }
    let (c0, n0) = at(s, p);
    // `[^\r\n\p{L}\p{N}]?+\p{L}++`: the possessive prefix is never given back, which makes
    // no difference here (without it the piece would have to start with a letter).
    let q = if is_prefix(c0, s[p]) { p + n0 } else { p };
    if is_letter(at(s, q).0) {
        return run(s, q, is_letter);
    }
    if c0 == Class::Number {
        return digits(s, p);
    }
    if let Some(e) = punct(s, p, b"\r\n") {
        return e;
    }
    let w = spaces(s, p);
    if w.end == s.len() {
        return w.end; // \s++$
    }
    if let Some(e) = w.after_newline {
        return e; // \s*[\r\n]
    }
    if w.several {
        return w.last_start; // \s+(?!\S)
    }
    w.end // \s
}

/// Whether whole-text splitting is provably unaffected by cutting the text at `b`: the
/// character before is a letter and the one at `b` is neither a letter, a mark nor `'`.
/// Then, under both regexes, the piece holding that letter ends at `b` whatever follows
/// (no alternative continues a word into such a character, and the contraction needs `'`),
/// and no earlier piece looked past it; the piece after starts fresh at `b`, as the regex
/// scan does. So counting the two halves separately gives the whole text's count.
pub fn is_safe_split(s: &[u8], b: usize) -> bool {
    if b == 0 || b >= s.len() || (s[b] & 0xc0) == 0x80 {
        return false;
    }
    let (after, _) = at(s, b);
    if is_letter(after) || after == Class::Mark || s[b] == b'\'' {
        return false;
    }
    let mut a = b - 1;
    while a > 0 && (s[a] & 0xc0) == 0x80 {
        a -= 1;
    }
    is_letter(at(s, a).0)
}
