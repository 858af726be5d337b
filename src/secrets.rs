//! The secrets this process knows (API keys, base-URL passwords) and the one function that
//! masks them in any text before it leaves the process: every stdout/stderr write
//! ([`crate::output`]), every call-log row ([`crate::store`]) and every cached response.
//!
//! Secrets are registered when the environment and `.env` are read, so no later path can
//! forget them. A value shorter than [`MIN_LEN`] characters is not masked: replacing every
//! occurrence of, say, `abc` would mangle ordinary text, and no real API key is that short.

use std::borrow::Cow;
use std::sync::RwLock;

/// Shorter values are not masked (see the module docs).
pub const MIN_LEN: usize = 8;

/// What a masked secret reads as.
pub const MASK: &str = "[REDACTED]";

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `value` (trimmed) as a secret to mask from now on.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_LEN {
        return;
    }
    // As it reads inside a JSON string too (a `"` or `\\` in it is escaped there).
    let escaped = serde_json::to_string(value).unwrap_or_default();
    let escaped = &escaped[1..escaped.len().saturating_sub(1).max(1)];
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for v in [value, escaped] {
        if !v.is_empty() && !known.iter().any(|k| k == v) {
            known.push(v.to_string());
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every known secret replaced by [`MASK`]; borrowed when there is none.
pub fn mask(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = Cow::Owned(out.replace(k.as_str(), MASK));
        }
    }
    out
}

/// Masks in place (for owned strings such as log columns).
pub fn mask_string(s: &mut String) {
    if let Cow::Owned(m) = mask(s) {
        *s = m;
    }
}

/// Masks every string inside a JSON value.
pub fn mask_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => mask_string(s),
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            // Keys too: a server may echo anything anywhere.
            if map.keys().any(|k| matches!(mask(k), Cow::Owned(_))) {
                let old = std::mem::take(map);
                for (k, mut val) in old {
                    mask_json(&mut val);
                    map.insert(mask(&k).into_owned(), val);
                }
            } else {
                map.values_mut().for_each(mask_json);
            }
        }
        _ => {}
    }
}

/// Masks a text that arrives in pieces (a stream's deltas), where a secret may be split
/// across two pieces: the end of a piece that could be the start of a secret is held back
/// until the next piece (or [`StreamMask::finish`]) shows whether it is one.
#[derive(Debug, Default)]
pub struct StreamMask {
    held: String,
}

impl StreamMask {
    /// What of `piece` (and the text held so far) can be written now, masked.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let masked = mask(&self.held).into_owned();
        let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
        let mut keep = 0;
        let bytes = masked.as_bytes();
        for k in known.iter() {
            // The longest proper prefix of `k` that ends the text: the earliest start, in
            // the last `k.len() - 1` bytes, from which the rest of the text begins `k`.
            // (Linear in the key: a mismatch shows at the first byte, almost always.)
            let k = k.as_bytes();
            let from = bytes.len().saturating_sub(k.len().saturating_sub(1));
            if let Some(p) = (from..bytes.len())
                .find(|&p| masked.is_char_boundary(p) && k.starts_with(&bytes[p..]))
            {
                keep = keep.max(bytes.len() - p);
            }
        }
        let split = masked.len() - keep;
        self.held = masked[split..].to_string();
        let mut out = masked;
        out.truncate(split);
        out
    }

    /// The text still held back (not a secret after all).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// `url` with the password of any `user:password@` part replaced by [`MASK`], for display.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    // A user name alone is often a token itself: it is masked too.
    let shown = if userinfo.contains(':') {
        format!("{user}:{MASK}")
    } else {
        MASK.to_string()
    };
    format!(
        "{}{shown}{}",
        &url[..scheme_end + 3],
        &url[scheme_end + 3 + at..]
    )
}

/// The secret part of a URL's userinfo: the password, or a user name standing alone (often
/// a token), as written and percent-decoded.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Ok(u) = reqwest::Url::parse(url) else {
        return Vec::new();
    };
    let raw = match u.password() {
        Some(p) => p,
        None if !u.username().is_empty() => u.username(),
        None => return Vec::new(),
    };
    let decoded = percent_decode(raw);
    let mut v = vec![raw.to_string()];
    if decoded != raw {
        v.push(decoded.clone());
    }
    // The HTTP client sends the userinfo as `Authorization: Basic base64(user:password)`;
    // a gateway that echoes that header must not reveal the password either.
    if u.password().is_some() {
        use base64::Engine;
        let user = percent_decode(u.username());
        for pair in [
            format!("{user}:{decoded}"),
            format!("{}:{raw}", u.username()),
        ] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            if !v.contains(&encoded) {
                v.push(encoded);
            }
        }
    }
    v
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_long_values_only() {
        register("sk-unit-test-secret-value-123");
        register("short");
        let m = mask("a sk-unit-test-secret-value-123 b short");
        assert_eq!(m, "a [REDACTED] b short");
        assert!(matches!(mask("nothing here"), Cow::Borrowed(_)));
        register("sk-quote\"and\\slash-1");
        let shown = serde_json::json!({"m": "k=sk-quote\"and\\slash-1"}).to_string();
        assert_eq!(mask(&shown), r#"{"m":"k=[REDACTED]"}"#);
        let mut v = serde_json::json!({"e": ["x sk-unit-test-secret-value-123"]});
        mask_json(&mut v);
        assert_eq!(v["e"][0], "x [REDACTED]");
    }

    #[test]
    fn a_secret_split_across_pieces_is_masked() {
        register("sk-stream-secret-0123456789");
        let text = "key: sk-stream-secret-0123456789, and so sk-str on";
        for step in 1..8 {
            let mut m = StreamMask::default();
            let mut out = String::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(step) {
                out.push_str(&m.push(&piece.iter().collect::<String>()));
            }
            out.push_str(&m.finish());
            assert_eq!(out, "key: [REDACTED], and so sk-str on", "step {step}");
        }
    }

    #[test]
    fn url_userinfo_is_redacted() {
        assert_eq!(
            redact_url("http://bob:hunter2@host:8/v1?x=@"),
            "http://bob:[REDACTED]@host:8/v1?x=@"
        );
        assert_eq!(redact_url("http://host/v1"), "http://host/v1");
        assert_eq!(redact_url("http://tok@host/"), "http://[REDACTED]@host/");
        assert_eq!(
            url_secrets("http://u:p%40ss@h/"),
            // the password as written and decoded, and `u:p@ss` in Basic auth's base64
            ["p%40ss", "p@ss", "dTpwQHNz", "dTpwJTQwc3M="]
        );
    }
}
