//! Properties of the parsers that read what others wrote: server event streams, prompt
//! files, config files, JSON in model replies and the `--schema` field list (label matching
//! is in `commands/fuzz_tests.rs`, next to the private `job` module).
//!
//! Each runs PROPTEST_CASES cases (256 by default) in the normal `cargo test`; `fuzz/run`
//! runs them for minutes with many more. A failure is shrunk to a small input and saved in
//! `proptest-regressions/` beside this file: commit it, it is replayed first from then on.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use crate::config::{FileConfig, toml_error_line};
use crate::jsonx::{extract, schema_from_fields};
use crate::provider::sse::{Event, Parser};

// ---- SSE ----

/// An event as the parser handed it over, kept: `(event, data)`.
type Owned = (Option<String>, String);

fn parse_chunks(chunks: &[&[u8]]) -> Vec<Owned> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    let mut keep = |e: Event<'_>| out.push((e.event.map(str::to_owned), e.data.to_owned()));
    for c in chunks {
        p.push(c, &mut keep);
    }
    p.finish(&mut keep);
    out
}

/// Bytes that look like an event stream often enough to reach every branch: field names,
/// comments, all three line endings, multi-byte UTF-8 (to be split), and raw noise.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"id: 7".to_vec()),
        Just(b"retry: 10".to_vec()),
        Just(b": keep-alive".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just("h\u{e9}llo \u{1F600}".as_bytes().to_vec()),
        Just(b"{\"type\":\"ping\"}".to_vec()),
        Just(b"[DONE]".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

/// The input cut at the given points (any number, anywhere, repeated points allowed).
fn cut<'a>(input: &'a [u8], points: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = points.iter().map(|i| i.index(input.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in at {
        out.push(&input[last..p]);
        last = p;
    }
    out.push(&input[last..]);
    out
}

/// One event as a server would frame it, with a chosen line ending.
fn frame_event(name: &Option<String>, lines: &[String], eol: &str, comment: bool) -> String {
    let mut s = String::new();
    if comment {
        s += &format!(": ping{eol}");
    }
    if let Some(n) = name {
        s += &format!("event: {n}{eol}");
    }
    for l in lines {
        s += &format!("data: {l}{eol}");
    }
    s + eol
}

/// Found by `sse_any_chunking_gives_the_events_of_the_whole`: a `\r` ending one chunk and a
/// `\n` alone in the next made the parser also swallow the `\n` after it, the blank line
/// that ends the event, so two events came out as one.
#[test]
fn sse_a_crlf_split_across_chunks_keeps_the_next_blank_line() {
    let input = b"data: a\r\n\ndata: b\n\n";
    let want: Vec<Owned> = vec![(None, "a".into()), (None, "b".into())];
    assert_eq!(parse_chunks(&[input]), want);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(parse_chunks(&bytes), want);
    assert_eq!(
        parse_chunks(&[b"data: a\r", b"", b"\n", b"\ndata: b\n\n"]),
        want
    );
}

proptest! {
    #[test]
    fn sse_any_chunking_gives_the_events_of_the_whole(
        input in sse_bytes(),
        points in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let whole = parse_chunks(&[&input]);
        prop_assert_eq!(&parse_chunks(&cut(&input, &points)), &whole);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&parse_chunks(&bytes), &whole);
    }

    #[test]
    fn sse_arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let whole = parse_chunks(&[&input]);
        let halves = input.split_at(input.len() / 2);
        prop_assert_eq!(parse_chunks(&[halves.0, halves.1]), whole);
    }

    /// What a server frames comes back: name, and data lines joined with `\n`, whatever the
    /// line endings, comments and chunking.
    #[test]
    fn sse_framed_events_come_back(
        events in prop::collection::vec(
            (
                prop::option::of("[a-z_]{1,16}"),
                prop::collection::vec("[^\r\n]{0,24}", 1..4),
                prop::sample::select(vec!["\n", "\r\n", "\r"]),
                any::<bool>(),
            ),
            0..8,
        ),
        points in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let text: String = events
            .iter()
            .map(|(name, lines, eol, comment)| frame_event(name, lines, eol, *comment))
            .collect();
        let want: Vec<Owned> = events
            .iter()
            .map(|(name, lines, _, _)| (name.clone(), lines.join("\n")))
            .collect();
        prop_assert_eq!(parse_chunks(&cut(text.as_bytes(), &points)), want);
    }
}

// ---- the stream's JSON scanner ----

/// Text made of JSON's pieces, often enough valid to reach every branch of the scanner.
fn json_ish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"k\"".to_string()),
        Just("\"a\\u00e9\\n\"".to_string()),
        Just("\\".to_string()),
        Just("\"".to_string()),
        Just(" ".to_string()),
        "-?[0-9]{1,3}(\\.[0-9]{1,2})?([eE][+-]?[0-9])?",
        Just("true".to_string()),
        Just("null".to_string()),
        Just("nul".to_string()),
        "[ -~]{0,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

proptest! {
    /// The scanner never takes JSON that serde_json refuses (a wrong guess there would
    /// let a broken event through the stream's hot path).
    #[test]
    fn scanner_takes_nothing_serde_json_refuses(text in json_ish()) {
        let mut s = crate::provider::scan::Scanner::new(&text);
        if s.skip().is_some() && s.end().is_some() {
            prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(), "{:?}", text);
        }
    }
}

// ---- prompt files ----

/// `FILE:LINE: ` at the start of an error, with LINE inside the file.
fn assert_file_line(message: &str, path: &Path, text: &[u8]) -> Result<(), TestCaseError> {
    let shown = path.display().to_string();
    let rest = message.strip_prefix(&format!("{shown}:"));
    prop_assert!(rest.is_some(), "no FILE: in {:?}", message);
    let digits: String = rest
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let line: usize = digits.parse().unwrap_or(0);
    let lines = text.iter().filter(|b| **b == b'\n').count() + 1;
    prop_assert!(
        (1..=lines).contains(&line),
        "line {} of a {}-line file: {:?}",
        line,
        lines,
        message
    );
    Ok(())
}

fn prompt_text() -> impl Strategy<Value = String> {
    let fm_line = prop_oneof![
        Just("description = \"d\"".to_string()),
        Just("system = \"be brief\"".to_string()),
        Just("system = \"unterminated".to_string()),
        Just("model = \"gpt-4o\"".to_string()),
        Just("model = \"\"".to_string()),
        Just("temperature = 0.5".to_string()),
        Just("temperature = \"hot\"".to_string()),
        Just("max_tokens = 0".to_string()),
        Just("max_tokens = 12".to_string()),
        Just("max_tokens = -1".to_string()),
        Just("labels = [\"a\", \"b\"]".to_string()),
        Just("labels = []".to_string()),
        Just("labels = [\"a\", \"A\"]".to_string()),
        Just("labels = [\" \"]".to_string()),
        Just("schema = \"missing.json\"".to_string()),
        Just("[[examples]]".to_string()),
        Just("input = \"in {{input}}\"".to_string()),
        Just("output = \"out\"".to_string()),
        Just("colour = 1".to_string()),
        Just("+++".to_string()),
        Just(String::new()),
        "[ -~]{0,24}",
    ];
    let template_piece = prop_oneof![
        Just("{{input}}".to_string()),
        Just("{{ input }}".to_string()),
        Just("{{ name }}".to_string()),
        Just("{{ x.y }}".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("\n".to_string()),
        Just("+++\n".to_string()),
        "\\PC{0,16}",
    ];
    (
        prop::sample::select(vec!["+++\n", "+++\r\n", "\u{feff}+++\n", ""]),
        prop::collection::vec(fm_line, 0..10),
        prop::sample::select(vec!["+++\n", "+++\n\n", "+++", ""]),
        prop::collection::vec(template_piece, 0..8),
    )
        .prop_map(|(open, fm, close, template)| {
            let fm: String = fm.iter().map(|l| format!("{l}\n")).collect();
            format!("{open}{fm}{close}{}", template.concat())
        })
}

/// Loads `bytes` as prompt `p` version 1; errors must name the file and a line of it, and a
/// loaded prompt renders or fails the same way.
fn check_prompt(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p").join("v1.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    match crate::prompts::load("p", &[dir.path().to_path_buf()]) {
        Err(e) => assert_file_line(&e.message, &path, bytes)?,
        Ok(p) => {
            if let Err(e) = p.render("the input", &HashMap::new()) {
                assert_file_line(&e.message, &path, bytes)?;
            }
            let vars = HashMap::from([("name".to_string(), "v".to_string())]);
            let _ = p.render("", &vars);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn prompt_files_never_panic_and_errors_carry_file_and_line(text in prompt_text()) {
        check_prompt(text.as_bytes())?;
    }

    #[test]
    fn arbitrary_prompt_text_never_panics(text in "\\PC{0,200}") {
        check_prompt(text.as_bytes())?;
    }

    #[test]
    fn arbitrary_prompt_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_prompt(&bytes)?;
    }
}

// ---- config files ----

fn config_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("model = \"gpt-4o\"".to_string()),
        Just("model = \"\"".to_string()),
        Just("max_tokens = 0".to_string()),
        Just("max_tokens = 18446744073709551615".to_string()),
        Just("max_tokens = -3".to_string()),
        Just("timeout = 0".to_string()),
        Just("timeout = nan".to_string()),
        Just("timeout = -inf".to_string()),
        Just("timeout = 1e308".to_string()),
        Just("retries = 4294967296".to_string()),
        Just("fallback = [\"claude-haiku-4-5\", 3]".to_string()),
        Just("openai_max_tokens_field = \"max_tokens\"".to_string()),
        Just("log = true".to_string()),
        Just("log_db = \"\"".to_string()),
        Just("cache = \"yes\"".to_string()),
        Just("cache_ttl = 9223372036854775807".to_string()),
        Just("cache_ttl = 9223372036854775808".to_string()),
        Just("[aliases]".to_string()),
        Just("fast = \"gpt-4o-mini\"".to_string()),
        Just("[prices.my-model]".to_string()),
        Just("input = 1.5".to_string()),
        Just("output = nan".to_string()),
        Just("cached_input = -1".to_string()),
        Just("[context_windows]".to_string()),
        Just("my-model = 128000".to_string()),
        Just("colour = 1".to_string()),
        Just("[[fallback]]".to_string()),
        Just("model = \"unterminated".to_string()),
        "[ -~]{0,24}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

fn check_config(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = toml::from_str::<FileConfig>(text) {
        let line = toml_error_line(text, &e);
        let lines = text.matches('\n').count() + 1;
        prop_assert!(
            line.is_some_and(|l| (1..=lines).contains(&l)),
            "line {:?} of {} for {:?}",
            line,
            lines,
            e.message()
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn config_files_never_panic_and_errors_carry_a_line(text in config_text()) {
        check_config(&text)?;
    }

    #[test]
    fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
        check_config(&text)?;
    }
}

// ---- JSON salvage ----

/// JSON values whose floats survive a text round trip exactly (serde_json without
/// `float_roundtrip` may differ in the last bit on arbitrary doubles) and whose strings
/// hold no backquote (a ``` inside a fenced value ends the fence, in Markdown too).
fn json_value() -> impl Strategy<Value = Value> {
    let text = "[^`]{0,12}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 4.0)),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((text, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Words around a value in a reply: no brackets and no fences of their own.
fn prose() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("Sure! Here it is:".to_string()),
        Just("Here is the JSON you asked for.\n".to_string()),
        Just("\n\nHope this helps!".to_string()),
        "[^`{}\\[\\]]{0,40}",
    ]
}

proptest! {
    #[test]
    fn extract_never_panics(text in "\\PC{0,300}") {
        let _ = extract(&text);
    }

    #[test]
    fn extract_never_panics_on_bracket_soup(text in "[{}\\[\\]\",:`a-z0-9 \\\\\n]{0,200}") {
        let _ = extract(&text);
    }

    /// Any value in a ```json fence, with words around it, pretty or compact.
    #[test]
    fn extract_finds_a_fenced_value(
        v in json_value(),
        pretty in any::<bool>(),
        tag in prop::sample::select(vec!["json", "JSON", ""]),
        before in prose(),
        after in prose(),
    ) {
        let body = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        let text = format!("{before}\n```{tag}\n{body}\n```\n{after}");
        prop_assert_eq!(extract(&text), Ok(v));
    }

    /// An object or array in prose, with no fence: found from its opening bracket.
    #[test]
    fn extract_finds_a_value_in_prose(
        v in json_value().prop_filter("an object or array", |v| v.is_object() || v.is_array()),
        pretty in any::<bool>(),
        before in prose(),
        after in prose(),
    ) {
        let body = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        let text = format!("{before} {body} {after}");
        prop_assert_eq!(extract(&text), Ok(v));
    }
}

// ---- the --schema field list ----

fn field_type() -> impl Strategy<Value = (String, Value)> {
    let base = prop::sample::select(vec![
        ("str", "string"),
        ("string", "string"),
        ("int", "integer"),
        ("num", "number"),
        ("bool", "boolean"),
    ])
    .prop_map(|(t, j)| (t.to_string(), serde_json::json!({ "type": j })));
    (base, 0usize..5).prop_map(|((t, j), depth)| {
        let mut text = t;
        let mut schema = j;
        for _ in 0..depth {
            text = format!("[{text}]");
            schema = serde_json::json!({"type": "array", "items": schema});
        }
        (text, schema)
    })
}

proptest! {
    #[test]
    fn schema_field_list_never_panics(spec in "\\PC{0,200}") {
        let _ = schema_from_fields(&spec);
    }

    #[test]
    fn schema_field_list_never_panics_on_its_own_syntax(spec in "[a-z?,\\[\\] ]{0,200}") {
        let _ = schema_from_fields(&spec);
    }

    /// A well-formed list gives every field, in order, with its type.
    #[test]
    fn schema_field_lists_build_their_schema(
        fields in prop::collection::btree_map("[a-z_][a-z0-9_-]{0,10}", (field_type(), any::<bool>()), 1..8),
    ) {
        let spec: Vec<String> = fields
            .iter()
            .map(|(name, ((ty, _), optional))| format!("{name}{} {ty}", if *optional { "?" } else { "" }))
            .collect();
        let schema = schema_from_fields(&spec.join(", ")).unwrap();
        let names: Vec<&String> = fields.keys().collect();
        prop_assert_eq!(
            schema["required"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>(),
            names.iter().map(|n| n.as_str()).collect::<Vec<_>>()
        );
        for (name, ((_, want), optional)) in &fields {
            let mut want = want.clone();
            if *optional {
                want["type"] = serde_json::json!([want["type"].clone(), "null"]);
            }
            prop_assert_eq!(&schema["properties"][name], &want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Nesting deeper than any real schema is an error, not a stack overflow (which would
    /// abort the whole test run).
    #[test]
    fn schema_field_list_deep_nesting_is_an_error(depth in 1_000usize..200_000) {
        let spec = format!("a {}str{}", "[".repeat(depth), "]".repeat(depth));
        prop_assert!(schema_from_fields(&spec).is_err());
    }
}

// ---- a stream's text, event after event (the scanner's template across events) ----

/// Text with what can fool a template that compares events around their text: quotes and
/// backslashes (an escaped quote or a backslash ending the text), `/`, control characters,
/// multi-byte and astral characters, `u` and hex digits that make escapes look alike.
fn stream_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("/".to_string()),
        Just("\n".to_string()),
        Just("\u{1}".to_string()),
        Just("\u{7f}".to_string()),
        Just("\u{e9}".to_string()),
        Just("\u{1F600}".to_string()),
        Just("\u{2028}".to_string()),
        Just("u".to_string()),
        Just("d83d".to_string()),
        "[a-z ]{0,4}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

/// How `t` is written between its quotes: as serde_json writes it, every UTF-16 unit as a
/// `\u` escape, other escapes for the same characters, raw (invalid when it holds a quote,
/// a backslash or a control character), or cut after half (maybe inside an escape).
fn string_body(t: &str, style: u8) -> String {
    let json = serde_json::to_string(t).unwrap();
    let json = &json[1..json.len() - 1];
    match style % 5 {
        0 => json.to_string(),
        1 => t.encode_utf16().map(|u| format!("\\u{u:04x}")).collect(),
        2 => t
            .chars()
            .map(|c| match c {
                '/' => "\\/".to_string(),
                '"' => "\\u0022".into(),
                '\\' => "\\u005C".into(),
                c if (c as u32) < 0x20 => format!("\\u{:04X}", c as u32),
                c => c.to_string(),
            })
            .collect(),
        3 => t.to_string(),
        _ => {
            let cut = (0..=json.len() / 2)
                .rev()
                .find(|&c| json.is_char_boundary(c))
                .unwrap_or(0);
            json[..cut].to_string()
        }
    }
}

/// An OpenAI chunk around the quoted text `t`: mostly the usual one (so the template is
/// used), else one that differs in what it means (a finish reason, usage, another model, a
/// refusal, a second choice, a key with an escape, a repeated key, an error, whitespace).
fn openai_chunk(shape: u8, t: &str) -> String {
    let usual = |choice: &str, rest: &str| {
        format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o","choices":[{choice}],"usage":{rest}}}"#
        )
    };
    let one = |delta: &str, finish: &str| {
        format!(r#"{{"index":0,"delta":{{{delta}}},"logprobs":null,"finish_reason":{finish}}}"#)
    };
    let content = format!(r#""content":{t}"#);
    match shape % 14 {
        0..=4 => usual(&one(&content, "null"), "null"),
        5 => usual(&one(&content, r#""length""#), "null"),
        6 => usual(
            &one(&content, "null"),
            r#"{"prompt_tokens":3,"completion_tokens":4}"#,
        ),
        7 => usual(&one(&content, "null"), "null").replace("gpt-4o", "gpt-4o-2"),
        8 => usual(
            &one(&format!(r#"{content},"refusal":"no""#), "null"),
            "null",
        ),
        9 => usual(
            &format!(
                r#"{},{{"index":1,"delta":{{"content":"B"}}}}"#,
                one(&content, "null")
            ),
            "null",
        ),
        10 => usual(&one(&format!(r#""cont\u0065nt":{t}"#), "null"), "null"),
        11 => usual(
            &one(&format!(r#"{content},"content":"dup""#), "null"),
            "null",
        ),
        12 => format!(
            r#"{{"choices":[{}],"error":{{"message":"boom"}}}}"#,
            one(&content, "null")
        ),
        _ => format!(r#" {{ "choices" : [ {{ "delta" : {{ "content" : {t} }} }} ] }} "#),
    }
}

/// An Anthropic event around the quoted text `t`, mostly a text delta.
fn anthropic_event(shape: u8, t: &str) -> String {
    let delta = |index: u8, delta: String| {
        format!(r#"{{"type":"content_block_delta","index":{index},"delta":{{{delta}}}}}"#)
    };
    match shape % 12 {
        0..=4 => delta(0, format!(r#""type":"text_delta","text":{t}"#)),
        5 => delta(1, format!(r#""type":"text_delta","text":{t}"#)),
        6 => delta(0, format!(r#""type":"thinking_delta","thinking":{t}"#)),
        7 => format!(r#"{{"type":"error","error":{{"type":"overloaded_error","message":{t}}}}}"#),
        8 => format!(
            r#"{{"type":"content_block_start","index":0,"content_block":{{"type":"text","text":{t}}}}}"#
        ),
        9 => delta(0, format!(r#""type":"text_delta","text":{t},"text":"dup""#)),
        10 => delta(0, format!(r#""type":"text_delt\u0061","text":{t}"#)),
        _ => format!(
            r#" {{ "type" : "content_block_delta" , "delta" : {{ "type" : "text_delta" , "text" : {t} }} }} "#
        ),
    }
}

/// The text serde_json reads from one OpenAI chunk (the chunk struct refuses a known key
/// given twice), or `None` for an event that fails the stream.
fn openai_reference(data: &str) -> Option<String> {
    let v: Value = serde_json::from_str(data).ok()?;
    if v.get("error").is_some_and(|e| !e.is_null()) || data.contains(r#""content":"dup""#) {
        return None;
    }
    let mut text = String::new();
    for c in v["choices"].as_array()? {
        match &c["delta"]["content"] {
            Value::String(s) => text.push_str(s),
            Value::Null => {}
            _ => return None,
        }
    }
    Some(text)
}

/// The text serde_json reads from one Anthropic event, or `None` for one that fails it.
fn anthropic_reference(data: &str) -> Option<String> {
    let v: Value = serde_json::from_str(data).ok()?;
    match v["type"].as_str()? {
        "error" => None,
        "content_block_delta" if v["delta"]["type"] == "text_delta" => {
            v["delta"]["text"].as_str().map(str::to_owned)
        }
        "content_block_start" => Some(v["content_block"]["text"].as_str()?.to_owned()),
        _ => Some(String::new()),
    }
}

fn stream_events(
    kind: crate::provider::ProviderKind,
    events: &[(u8, String, u8)],
) -> Result<(), TestCaseError> {
    use crate::provider::{Deltas, ProviderKind, StreamParser};
    let mut parser = StreamParser::new(kind);
    for (shape, text, style) in events {
        let t = format!("\"{}\"", string_body(text, *style));
        let (data, want) = match kind {
            ProviderKind::OpenAi => {
                let d = openai_chunk(*shape, &t);
                let want = openai_reference(&d);
                (d, want)
            }
            ProviderKind::Anthropic => {
                let d = anthropic_event(*shape, &t);
                let want = anthropic_reference(&d);
                (d, want)
            }
        };
        let mut out = Deltas::default();
        let got = parser.on_event(
            &Event {
                event: None,
                data: &data,
            },
            &mut out,
        );
        prop_assert_eq!(got.is_ok(), want.is_some(), "{}", data);
        let Some(want) = want else {
            return Ok(());
        };
        prop_assert_eq!(out.text(), want.as_str(), "{}", data);
    }
    Ok(())
}

proptest! {
    /// Each event's text is what serde_json reads from it, whatever came before: an event
    /// that looks like the last one around its text is never taken for it wrongly.
    #[test]
    fn openai_stream_text_is_serde_jsons_event_after_event(
        events in prop::collection::vec((any::<u8>(), stream_text(), any::<u8>()), 1..10)
    ) {
        stream_events(crate::provider::ProviderKind::OpenAi, &events)?;
    }

    #[test]
    fn anthropic_stream_text_is_serde_jsons_event_after_event(
        events in prop::collection::vec((any::<u8>(), stream_text(), any::<u8>()), 1..10)
    ) {
        stream_events(crate::provider::ProviderKind::Anthropic, &events)?;
    }
}
