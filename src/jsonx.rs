//! Getting a JSON value out of a model's reply, and checking it against a schema.
//!
//! Replies come wrapped in code fences, with a sentence before or after, or with trailing
//! commas. `extract` finds the value without guessing at its content; `Validator` reports
//! schema errors as `/path: message` lines a model can act on in a repair round.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The JSON value in `text`: the whole text, else the inside of a ```json fence, else the
/// first `{…}` or `[…]` that parses, each also tried with trailing commas removed.
pub fn extract(text: &str) -> std::result::Result<Value, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the reply is empty".into());
    }
    let mut candidates: Vec<&str> = vec![text];
    if let Some(inner) = fenced(text) {
        candidates.insert(0, inner);
    }
    for c in &candidates {
        if let Some(v) = parse_lenient(c) {
            return Ok(v);
        }
    }
    // A value embedded in prose: parse from each opening bracket, ignoring what follows.
    for (i, ch) in text
        .char_indices()
        .filter(|(_, c)| *c == '{' || *c == '[')
        .take(64)
    {
        let _ = ch;
        if let Some(v) = first_value(&text[i..]) {
            return Ok(v);
        }
    }
    let first_error = serde_json::from_str::<Value>(text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(format!("the reply is not JSON ({first_error})"))
}

/// The content of the first ``` fence (with or without a language tag).
fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let end = body.find("```").unwrap_or(body.len());
    Some(body[..end].trim())
}

fn parse_lenient(s: &str) -> Option<Value> {
    serde_json::from_str(s)
        .ok()
        .or_else(|| serde_json::from_str(&strip_trailing_commas(s)).ok())
}

/// The first complete JSON value at the start of `s`, whatever follows it.
fn first_value(s: &str) -> Option<Value> {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    if let Some(Ok(v)) = it.next() {
        return Some(v);
    }
    let cleaned = strip_trailing_commas(s);
    let mut it = serde_json::Deserializer::from_str(&cleaned).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) => Some(v),
        _ => None,
    }
}

/// Removes commas that directly precede `}` or `]` (outside strings).
fn strip_trailing_commas(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// A compiled schema.
pub struct Validator {
    inner: jsonschema::Validator,
}

impl Validator {
    /// `source` names the schema in messages (a file, a prompt file).
    pub fn new(schema: &Value, source: &str) -> Result<Validator> {
        let inner = jsonschema::validator_for(schema)
            .map_err(|e| Error::usage(format!("{source} is not a valid JSON Schema: {e}")))?;
        Ok(Validator { inner })
    }

    /// Every violation as `/path: message`, empty when the value is valid.
    pub fn errors(&self, value: &Value) -> Vec<String> {
        self.inner
            .iter_errors(value)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() { "/".into() } else { path };
                format!("{path}: {e}")
            })
            .collect()
    }
}

/// How many arrays a field-list type may nest (`[[str]]` is 2): the parser recurses.
pub const MAX_FIELD_DEPTH: usize = 32;

/// The `--schema` field list: `name, age int, tags [str], note? str`. Types: `str`
/// (default), `int`, `num`, `bool`, `obj`, `[T]` for arrays; `?` after a name makes the
/// field nullable (the strict subset needs every field present).
pub fn schema_from_fields(spec: &str) -> Result<Value> {
    let mut props = Map::new();
    let mut required = Vec::new();
    for field in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let mut words = field.split_whitespace();
        let raw_name = words.next().unwrap_or_default();
        let ty = words.collect::<Vec<_>>().join(" ");
        let (name, optional) = match raw_name.strip_suffix('?') {
            Some(n) => (n, true),
            None => (raw_name, false),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::usage(format!(
                "--schema: `{field}` is not `name [type]` (types: str, int, num, bool, obj, [T])"
            )));
        }
        if ty.matches('[').count() > MAX_FIELD_DEPTH {
            return Err(Error::usage(format!(
                "--schema: the type of {name} nests more than {MAX_FIELD_DEPTH} arrays"
            ))
            .with_hint("use a JSON Schema file for deep structures"));
        }
        let mut t = field_type(if ty.is_empty() { "str" } else { &ty }).ok_or_else(|| {
            Error::usage(format!(
                "--schema: unknown type `{ty}` for {name} (use str, int, num, bool, obj or [T])"
            ))
        })?;
        if optional {
            let base = t["type"].clone();
            t["type"] = json!([base, "null"]);
        }
        props.insert(name.to_string(), t);
        required.push(Value::String(name.to_string()));
    }
    if props.is_empty() {
        return Err(Error::usage("--schema: no fields given"));
    }
    Ok(json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    }))
}

fn field_type(ty: &str) -> Option<Value> {
    let ty = ty.trim();
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return Some(json!({"type": "array", "items": field_type(inner)?}));
    }
    let name = match ty {
        "str" | "string" => "string",
        "int" | "integer" => "integer",
        "num" | "number" | "float" => "number",
        "bool" | "boolean" => "boolean",
        "obj" | "object" => return Some(json!({"type": "object"})),
        _ => return None,
    };
    Some(json!({"type": name}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_in_awkward_replies() {
        let cases = [
            ("{\"a\": 1}", json!({"a": 1})),
            ("```json\n{\"a\": 1}\n```", json!({"a": 1})),
            ("```\n[1, 2]\n```\nHope this helps!", json!([1, 2])),
            (
                "Sure! Here it is: {\"a\": {\"b\": [1, 2,]},} Let me know.",
                json!({"a": {"b": [1, 2]}}),
            ),
            ("{\"s\": \"a, } b\", }", json!({"s": "a, } b"})),
            ("The answer: [\"x\"] and more [1]", json!(["x"])),
            ("  \"just a string\"  ", json!("just a string")),
            ("I think {not json} but {\"k\": true}", json!({"k": true})),
        ];
        for (text, want) in cases {
            assert_eq!(extract(text).unwrap(), want, "{text}");
        }
        for bad in ["", "no json here", "{\"a\": ", "```json\n{oops}\n```"] {
            assert!(extract(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_list_schema() {
        let s = schema_from_fields("name, age int, tags [str], note? str").unwrap();
        assert_eq!(s["properties"]["age"], json!({"type": "integer"}));
        assert_eq!(
            s["properties"]["tags"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(s["properties"]["note"], json!({"type": ["string", "null"]}));
        assert_eq!(s["required"], json!(["name", "age", "tags", "note"]));
        assert!(crate::provider::strict_compatible(&s));
        assert!(schema_from_fields("a uuid").is_err());
        assert!(schema_from_fields(" , ").is_err());
        let deep = |n: usize| format!("a {}str{}", "[".repeat(n), "]".repeat(n));
        assert!(schema_from_fields(&deep(MAX_FIELD_DEPTH)).is_ok());
        let err = schema_from_fields(&deep(7000)).unwrap_err();
        assert!(
            err.message.contains("nests more than 32"),
            "{}",
            err.message
        );
    }

    #[test]
    fn validator_reports_paths() {
        let v = Validator::new(&schema_from_fields("name, age int").unwrap(), "s").unwrap();
        assert!(v.errors(&json!({"name": "a", "age": 3})).is_empty());
        let errs = v.errors(&json!({"name": "a", "age": "3", "x": 1}));
        assert!(errs.iter().any(|e| e.starts_with("/age:")), "{errs:?}");
        assert!(Validator::new(&json!({"type": 12}), "s").is_err());
    }
}
