//! Hostile streams against the stream's hot path (the SSE parser, the JSON scanner and its
//! template, the decoder's batches, the sink): what reaches stdout is always what serde_json
//! reads from the events, byte for byte, and no key ever shows.

use serde_json::{Value, json};

use crate::mock::{self, Mock, Reply};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, anthropic, openai, run, tmp};

/// The text serde_json reads from OpenAI events (each `data`), up to `[DONE]`.
fn openai_reference(datas: &[String]) -> String {
    let mut text = String::new();
    for d in datas {
        if d.trim().starts_with("[DONE]") {
            break;
        }
        let v: Value = serde_json::from_str(d).unwrap();
        for c in v["choices"].as_array().into_iter().flatten() {
            if let Some(t) = c["delta"]["content"].as_str() {
                text.push_str(t);
            }
        }
    }
    text
}

/// The text serde_json reads from Anthropic events, up to `message_stop`.
fn anthropic_reference(datas: &[String]) -> String {
    let mut text = String::new();
    for d in datas {
        let v: Value = serde_json::from_str(d).unwrap();
        match v["type"].as_str() {
            Some("message_stop") => break,
            Some("content_block_delta") if v["delta"]["type"] == "text_delta" => {
                text.push_str(v["delta"]["text"].as_str().unwrap())
            }
            Some("content_block_start") if v["content_block"]["type"] == "text" => {
                text.push_str(v["content_block"]["text"].as_str().unwrap_or(""))
            }
            _ => {}
        }
    }
    text
}

/// Frames `datas` as SSE with line ends that change from event to event (LF, CRLF, CR),
/// some data split over several `data:` lines where JSON allows it (between tokens),
/// comments, and cuts the bytes into pieces of `n`.
fn framed(names: &[Option<&str>], datas: &[String], n: usize) -> Reply {
    let mut bytes = Vec::new();
    for (i, d) in datas.iter().enumerate() {
        let eol = ["\n", "\r\n", "\r"][i % 3];
        if i % 4 == 1 {
            bytes.extend_from_slice(format!(": keep-alive{eol}").as_bytes());
        }
        if let Some(name) = names.get(i).copied().flatten() {
            bytes.extend_from_slice(format!("event: {name}{eol}").as_bytes());
        }
        // A data split at the first `,` that stands between tokens (`,"`) on every fifth.
        match d.find(",\"").filter(|_| i % 5 == 2) {
            Some(at) => bytes.extend_from_slice(
                format!("data: {}{eol}data:{}{eol}{eol}", &d[..at + 1], &d[at + 1..]).as_bytes(),
            ),
            None => bytes.extend_from_slice(format!("data: {d}{eol}{eol}").as_bytes()),
        }
    }
    mock::rechunk(mock::sse(vec![String::from_utf8(bytes).unwrap()], &[]), n)
}

/// Texts whose escapes and characters make a template's guess go wrong if it can: an
/// escaped quote or backslash at the end, `\u` escapes, surrogate pairs, control characters,
/// multi-byte characters (cut by the chunking), the key itself in pieces (twice: split in
/// two places).
fn hostile_texts(key: &str) -> Vec<String> {
    vec![
        "plain".into(),
        "ends in a quote \"".into(),
        "ends in a backslash \\".into(),
        "\\\"".into(),
        "\u{1F600} surrogates and \u{e9}".into(),
        "tab\tnewline\ncr\rnul\u{0}bell\u{7}".into(),
        String::new(),
        "/ \u{2028} \u{7f}".into(),
        "key ".into(),
        key[..9].into(),
        key[9..].into(),
        " then ".into(),
        key[..20].into(),
        key[20..].into(),
        " end".into(),
    ]
}

/// A body written with every character of `t` as a `\u` escape (surrogate pairs for astral
/// characters): the same text to serde_json, other bytes to a template.
fn all_escaped(t: &str) -> String {
    let body: String = t.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
    format!("\"{body}\"")
}

fn openai_events() -> Vec<String> {
    let chunk = |content: String| {
        format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{{"index":0,"delta":{{"content":{content}}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
        )
    };
    let mut datas = vec![
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#.to_string(),
    ];
    for (i, t) in hostile_texts(OPENAI_KEY).iter().enumerate() {
        let quoted = if i % 2 == 0 {
            serde_json::to_string(t).unwrap()
        } else {
            all_escaped(t)
        };
        datas.push(chunk(quoted));
    }
    // The same shape with what changes meaning: a second choice, a key with an escape,
    // whitespace, a finish reason, usage.
    datas.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"A"},"logprobs":null,"finish_reason":null},{"index":1,"delta":{"content":"B"}}],"usage":null}"#.into());
    datas.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"cont\u0065nt":"C"},"logprobs":null,"finish_reason":null}],"usage":null}"#.into());
    datas.push(chunk("\"D\"".into()).replace(":{\"content\"", ": {\"content\""));
    datas.push(chunk("\"E\"".into()));
    datas.push(
        chunk("\"F\"".into()).replace("\"finish_reason\":null", "\"finish_reason\":\"stop\""),
    );
    datas.push(r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":21,"total_tokens":30}}"#.into());
    datas.push("[DONE]".into());
    // After the end: never read.
    datas.push(chunk("\"AFTER\"".into()));
    datas
}

fn anthropic_events() -> Vec<String> {
    let delta = |index: u64, text: String| {
        format!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{text}}}}}"#
        )
    };
    let mut datas = vec![
        json!({"type": "message_start", "message": {"id": "msg_01", "type": "message",
            "role": "assistant", "content": [], "model": "claude-sonnet-4-5-20250929",
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 1}}})
        .to_string(),
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
            .into(),
    ];
    for (i, t) in hostile_texts(ANTHROPIC_KEY).iter().enumerate() {
        let quoted = if i % 2 == 1 {
            serde_json::to_string(t).unwrap()
        } else {
            all_escaped(t)
        };
        datas.push(delta(0, quoted));
    }
    datas.push(r#"{"type":"ping"}"#.into());
    datas.push(delta(1, "\"block 1\"".into()));
    datas.push(delta(1, "\"X\"".into()).replace("text_delta", "thinking_delta"));
    datas.push(delta(1, "\"Y\"".into()).replace("content_block_delta", "content_block_stop"));
    datas.push(
        delta(1, "\"Z\"".into())
            .replace("\"type\":\"text_delta\",", "\"type\":\"text_delt\\u0061\","),
    );
    datas.push(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":89}}"#.into());
    datas.push(r#"{"type":"message_stop"}"#.into());
    datas.push(delta(1, "\"AFTER\"".into()));
    datas
}

#[test]
fn hostile_openai_streams_print_exactly_what_serde_json_reads() {
    let datas = openai_events();
    let want = openai_reference(&datas).replace(OPENAI_KEY, "[REDACTED]");
    assert!(want.contains("AB") && want.contains('C') && want.contains("DEF"));
    let dir = tmp();
    for n in [1, 2, 7, 64, 1 << 20] {
        let mock = Mock::start(vec![framed(&[], &datas, n)]);
        let out =
            run(openai(dir.path(), &mock).args(["stream", "-m", "gpt-4o-mini", "x"])).expect(0);
        assert_eq!(out.stdout, format!("{want}\n"), "pieces of {n}");
        let out =
            run(openai(dir.path(), &mock).args(["stream", "--json", "-m", "gpt-4o-mini", "x"]))
                .expect(0);
        let lines = out.lines();
        let (result, deltas) = lines.split_last().unwrap();
        let streamed: String = deltas
            .iter()
            .map(|l| {
                assert_eq!(l["type"], "delta", "{l}");
                l["text"].as_str().unwrap()
            })
            .collect();
        assert_eq!(streamed, want, "pieces of {n}");
        assert_eq!(result["text"], want);
        assert_eq!(result["finish_reason"], "stop");
        assert_eq!(result["usage"]["output_tokens"], 21);
    }
}

#[test]
fn hostile_anthropic_streams_print_exactly_what_serde_json_reads() {
    let datas = anthropic_events();
    // `event:` names that disagree with the data's type: the data's type counts.
    let names: Vec<Option<&str>> = (0..datas.len())
        .map(|i| Some(["content_block_delta", "ping", "error", "message_stop"][i % 4]))
        .collect();
    let want = anthropic_reference(&datas).replace(ANTHROPIC_KEY, "[REDACTED]");
    assert!(want.ends_with("block 1Z"), "{want}");
    let dir = tmp();
    for n in [1, 3, 64, 1 << 20] {
        let mock = Mock::start(vec![framed(&names, &datas, n)]);
        let out = run(anthropic(dir.path(), &mock).args(["stream", "-m", "claude-haiku-4-5", "x"]))
            .expect(0);
        assert_eq!(out.stdout, format!("{want}\n"), "pieces of {n}");
        let out = run(anthropic(dir.path(), &mock).args([
            "stream",
            "--json",
            "-m",
            "claude-haiku-4-5",
            "x",
        ]))
        .expect(0);
        let lines = out.lines();
        let (result, deltas) = lines.split_last().unwrap();
        let streamed: String = deltas.iter().map(|l| l["text"].as_str().unwrap()).collect();
        assert_eq!(streamed, want, "pieces of {n}");
        assert_eq!(result["text"], want);
        assert_eq!(result["usage"]["output_tokens"], 89);
    }
}

/// With `-v` the thinking streams to stderr as it arrives: a key the server echoes there,
/// split across `thinking_delta`s, is masked as it is on stdout.
#[test]
fn a_key_echoed_in_streamed_thinking_is_masked_on_stderr() {
    let event = |data: Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap()
        )
    };
    let thinking = |t: &str| {
        event(json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": t}}))
    };
    let events = vec![
        event(
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message",
            "role": "assistant", "content": [], "model": "claude-opus-4-6",
            "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        event(json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}})),
        thinking("the key is "),
        thinking(&ANTHROPIC_KEY[..12]),
        thinking(&ANTHROPIC_KEY[12..]),
        thinking(" and sk-"),
        event(json!({"type": "content_block_stop", "index": 0})),
        event(json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "text", "text": ""}})),
        event(json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": "ok"}})),
        event(json!({"type": "content_block_stop", "index": 1})),
        event(
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 7}}),
        ),
        event(json!({"type": "message_stop"})),
    ];
    let dir = tmp();
    let mock = Mock::start(vec![mock::sse(events, &[])]);
    let out =
        run(anthropic(dir.path(), &mock).args(["stream", "-v", "-m", "claude-opus-4-6", "x"]))
            .expect(0);
    assert_eq!(out.stdout, "ok\n");
    assert!(
        out.stderr
            .contains("llmpipe: thinking:\nthe key is [REDACTED] and sk-\n"),
        "{}",
        out.stderr
    );
}

/// A compatible server that ignores `stream: true` answers with the whole completion as
/// JSON; a media type is case-insensitive (RFC 9110), so `Application/JSON` is JSON too.
#[test]
fn a_whole_json_answer_to_a_stream_is_taken_whatever_the_case_of_its_media_type() {
    let body = json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1}});
    let dir = tmp();
    let mock = Mock::start(vec![mock::full(
        200,
        &[("content-type", "Application/JSON; charset=utf-8")],
        body.to_string(),
    )]);
    let out = run(openai(dir.path(), &mock).args(["stream", "-m", "gpt-4o-mini", "x"])).expect(0);
    assert_eq!(out.stdout, "whole\n");
    assert_eq!(mock.hits(), 1);
}

/// A byte order mark opening the stream is dropped (the WHATWG rules), so the first event
/// is not lost (compatible servers put text in the first chunk).
#[test]
fn a_byte_order_mark_before_the_first_event_loses_nothing() {
    let chunk = |content: &str, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]})
        )
    };
    let events = vec![
        format!("\u{FEFF}{}", chunk("Hel", Value::Null)),
        chunk("lo", json!("stop")),
        "data: [DONE]\n\n".to_string(),
    ];
    let dir = tmp();
    for n in [1, 2, 1 << 20] {
        let mock = Mock::start(vec![mock::rechunk(mock::sse(events.clone(), &[]), n)]);
        let out =
            run(openai(dir.path(), &mock).args(["stream", "-m", "gpt-4o-mini", "x"])).expect(0);
        assert_eq!(out.stdout, "Hello\n", "pieces of {n}");
    }
}
