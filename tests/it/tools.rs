//! Tool calling on both providers, streamed and not: calls handed to the script, the
//! `--run-tools` loop, its safety rules, `--tool-result` continuation, bad tool files. The
//! mock checks tool turns as the real APIs do (`mock::tool_checked`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mock::{self, Mock, MockCall, Reply};
use crate::{ANTHROPIC_KEY, OPENAI_KEY, Out, anthropic, openai, run, tmp};

#[derive(Clone, Copy, Debug, PartialEq)]
enum P {
    OpenAi,
    Anthropic,
}

const BOTH: [P; 2] = [P::OpenAi, P::Anthropic];

fn llmpipe(p: P, dir: &Path, mock: &Mock, stream: bool) -> assert_cmd::Command {
    let mut c = match p {
        P::OpenAi => openai(dir, mock),
        P::Anthropic => anthropic(dir, mock),
    };
    c.arg(if stream { "stream" } else { "complete" });
    c.args([
        "-m",
        if p == P::OpenAi {
            "gpt-4o-mini"
        } else {
            "claude-sonnet-4-5"
        },
    ]);
    c
}

fn calls(p: P, stream: bool, text: Option<&str>, list: &[MockCall<'_>]) -> Reply {
    match (p, stream) {
        (P::OpenAi, false) => mock::openai_tool_calls(text, list, "tool_calls"),
        (P::OpenAi, true) => mock::openai_tool_stream(text, list),
        (P::Anthropic, false) => mock::anthropic_tool_calls(text, list, true),
        (P::Anthropic, true) => mock::anthropic_tool_stream(text, list, true),
    }
}

fn text(p: P, stream: bool, t: &str) -> Reply {
    match (p, stream) {
        (P::OpenAi, false) => mock::openai_completion(t),
        (P::OpenAi, true) => mock::openai_stream(&[t]),
        (P::Anthropic, false) => mock::anthropic_message(t),
        (P::Anthropic, true) => mock::anthropic_stream(&[t]),
    }
}

/// The tool results of the request's last turn: `(id, content, is_error)` in order, read
/// the way each API carries them.
fn results_sent(p: P, body: &Value) -> Vec<(String, String, bool)> {
    let msgs = body["messages"].as_array().unwrap();
    match p {
        P::OpenAi => {
            let start = msgs.iter().rposition(|m| m["role"] == "assistant").unwrap() + 1;
            msgs[start..]
                .iter()
                .filter(|m| m["role"] == "tool")
                .map(|m| {
                    let c = m["content"].as_str().unwrap().to_string();
                    let err = c.starts_with("error:");
                    (m["tool_call_id"].as_str().unwrap().to_string(), c, err)
                })
                .collect()
        }
        P::Anthropic => msgs.last().unwrap()["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| {
                (
                    b["tool_use_id"].as_str().unwrap().to_string(),
                    b["content"].as_str().unwrap().to_string(),
                    b["is_error"] == true,
                )
            })
            .collect(),
    }
}

/// A tool file `<name>.json` and its `sh` script `<name>.sh` in `dir`.
fn tool(dir: &Path, name: &str, script: &str) {
    let sh = dir.join(format!("{name}.sh"));
    std::fs::write(&sh, format!("#!/bin/sh\n{script}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let def = json!({
        "name": name,
        "description": format!("The {name} tool"),
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": false},
        "command": [format!("./{name}.sh")],
    });
    std::fs::write(dir.join(format!("{name}.json")), def.to_string()).unwrap();
}

fn id(p: P, n: u32) -> String {
    match p {
        P::OpenAi => format!("call_{n}"),
        P::Anthropic => format!("toolu_0{n}"),
    }
}

#[test]
fn a_call_is_handed_to_the_script_and_nothing_runs() {
    for p in BOTH {
        for stream in [false, true] {
            let dir = tmp();
            tool(dir.path(), "weather", "touch ran-marker; echo sunny");
            let id1 = id(p, 1);
            let mock = Mock::start(vec![mock::tool_checked(
                p == P::Anthropic,
                vec![calls(
                    p,
                    stream,
                    Some("Checking."),
                    &[(&id1, "weather", r#"{"city":"Paris"}"#)],
                )],
            )]);
            let out = run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "weather.json",
                "--json",
                "Weather in Paris?",
            ]))
            .expect(0);
            let lines = out.lines();
            let result = lines.last().unwrap();
            assert_eq!(result["finish_reason"], "tool_calls", "{p:?} {stream}");
            assert_eq!(result["text"], "Checking.");
            assert_eq!(
                result["tool_calls"],
                json!([{"id": id1, "name": "weather", "arguments": {"city": "Paris"}}])
            );
            if stream {
                let call_line = lines.iter().find(|l| l["type"] == "tool_call").unwrap();
                assert_eq!(call_line["id"], id1.as_str());
                assert_eq!(call_line["arguments"]["city"], "Paris");
            }
            assert!(
                !dir.path().join("ran-marker").exists(),
                "a tool ran without --run-tools"
            );
            // the wire format of the declared tool
            let body = mock.only_request().json();
            match p {
                P::OpenAi => {
                    assert_eq!(body["tools"][0]["type"], "function");
                    assert_eq!(body["tools"][0]["function"]["name"], "weather");
                    assert_eq!(
                        body["tools"][0]["function"]["parameters"]["required"][0],
                        "city"
                    );
                    assert_eq!(body["tools"][0]["function"]["strict"], true);
                }
                P::Anthropic => {
                    assert_eq!(body["tools"][0]["name"], "weather");
                    assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
                }
            }
            // plain stdout: the text, then one JSON line per call
            let plain = run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "weather.json",
                "Weather in Paris?",
            ]))
            .expect(0);
            let plain_lines: Vec<&str> = plain.stdout.lines().collect();
            assert_eq!(
                plain_lines[0], "Checking.",
                "{p:?} {stream}: {:?}",
                plain.stdout
            );
            let call: Value = serde_json::from_str(plain_lines[1]).unwrap();
            assert_eq!(
                call,
                json!({"id": id1, "name": "weather", "arguments": {"city": "Paris"}})
            );
            assert_eq!(plain_lines.len(), 2);
            assert!(!dir.path().join("ran-marker").exists());
        }
    }
}

/// OpenAI reports `stop` for a forced call: still `tool_calls`.
#[test]
fn a_forced_openai_call_reports_tool_calls() {
    let dir = tmp();
    tool(dir.path(), "weather", "echo sunny");
    let mock = Mock::start(vec![mock::openai_tool_calls(
        None,
        &[("call_1", "weather", r#"{"city":"Oslo"}"#)],
        "stop",
    )]);
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--tool",
        "weather.json",
        "--tool-choice",
        "weather",
        "--json",
        "hi",
    ]))
    .expect(0);
    assert_eq!(out.json()["finish_reason"], "tool_calls");
    assert_eq!(out.json()["provider_finish_reason"], "stop");
    let body = mock.only_request().json();
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "weather"}})
    );
}

#[test]
fn parallel_calls_run_concurrently_and_go_back_in_order_in_one_turn() {
    for p in BOTH {
        for stream in [false, true] {
            let dir = tmp();
            tool(dir.path(), "slow", "sleep 2; cat");
            let (a, b) = (id(p, 1), id(p, 2));
            let mock = Mock::start(vec![mock::tool_checked(
                p == P::Anthropic,
                vec![
                    calls(
                        p,
                        stream,
                        None,
                        &[
                            (&a, "slow", r#"{"city":"A"}"#),
                            (&b, "slow", r#"{"city":"B"}"#),
                        ],
                    ),
                    text(p, stream, "Both done."),
                ],
            )]);
            let started = Instant::now();
            let out = run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "slow.json",
                "--run-tools",
                "--json",
                "go",
            ]))
            .expect(0);
            assert!(
                started.elapsed() < Duration::from_millis(3800),
                "the two calls did not run concurrently ({:?})",
                started.elapsed()
            );
            let lines = out.lines();
            let result = lines.last().unwrap();
            assert_eq!(result["text"], "Both done.", "{p:?} {stream}");
            assert_eq!(result["tool_rounds"], 2);
            assert_eq!(result["attempts"], 2);
            let listed = result["tool_calls"].as_array().unwrap();
            assert_eq!(listed.len(), 2);
            for (c, want) in listed.iter().zip([&a, &b]) {
                assert_eq!(c["id"], want.as_str());
                assert_eq!(c["round"], 1);
                assert_eq!(c["exit_code"], 0);
                assert_eq!(c["is_error"], false);
                assert!(c["duration_ms"].as_u64().unwrap() >= 1900);
            }
            if stream {
                let results: Vec<&Value> = lines
                    .iter()
                    .filter(|l| l["type"] == "tool_result")
                    .collect();
                assert_eq!(results.len(), 2);
                // in the order they finished: find A's by its id
                let of_a = results.iter().find(|r| r["id"] == a.as_str()).unwrap();
                assert_eq!(of_a["content"], "{\"city\":\"A\"}\n");
            }
            let reqs = mock.requests();
            assert_eq!(reqs.len(), 2);
            let sent = results_sent(p, &reqs[1].json());
            assert_eq!(
                sent,
                vec![
                    (a.clone(), "{\"city\":\"A\"}\n".to_string(), false),
                    (b.clone(), "{\"city\":\"B\"}\n".to_string(), false)
                ]
            );
            if p == P::Anthropic {
                // the thinking block of the turn with calls goes back unchanged
                let msgs = reqs[1].json()["messages"].clone();
                let assistant = &msgs[msgs.as_array().unwrap().len() - 2];
                assert_eq!(
                    assistant["content"][0],
                    json!({"type": "thinking", "thinking": "Let me call tools.", "signature": "sig-abc"})
                );
            }
        }
    }
}

#[test]
fn a_three_turn_loop_sums_usage_and_forces_only_the_first_turn() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "weather", r#"echo "sunny in $(cat)""#);
        let (a, b) = (id(p, 1), id(p, 2));
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                // models often write a blank text block before their calls
                calls(
                    p,
                    false,
                    Some("\n\n"),
                    &[(&a, "weather", r#"{"city":"Paris"}"#)],
                ),
                calls(p, false, None, &[(&b, "weather", r#"{"city":"Rome"}"#)]),
                text(p, false, "Sunny in both."),
            ],
        )]);
        let out = run(llmpipe(p, dir.path(), &mock, false).args([
            "--tool",
            "weather.json",
            "--run-tools",
            "--tool-choice",
            "required",
            "--json",
            "compare",
        ]))
        .expect(0);
        let r = out.json();
        assert_eq!(r["tool_rounds"], 3);
        assert_eq!(r["tool_calls"][1]["round"], 2);
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 3);
        let first_in = match p {
            P::OpenAi => 50 * 2 + 19,
            P::Anthropic => 100 * 2 + 412,
        };
        assert_eq!(r["usage"]["input_tokens"], first_in);
        let (forced, auto) = match p {
            P::OpenAi => (json!("required"), json!("auto")),
            P::Anthropic => (json!({"type": "any"}), json!({"type": "auto"})),
        };
        assert_eq!(reqs[0].json()["tool_choice"], forced);
        assert_eq!(reqs[1].json()["tool_choice"], auto);
        let sent = results_sent(p, &reqs[2].json());
        assert_eq!(sent[0].1, "sunny in {\"city\":\"Rome\"}\n");
    }
}

#[test]
fn the_round_limit_is_exit_6_after_exactly_n_requests() {
    for p in BOTH {
        for stream in [false, true] {
            let dir = tmp();
            tool(dir.path(), "weather", "echo sunny");
            let a = id(p, 1);
            let mock = Mock::start(vec![calls(
                p,
                stream,
                None,
                &[(&a, "weather", r#"{"city":"X"}"#)],
            )]);
            let out = run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "weather.json",
                "--run-tools",
                "--max-tool-rounds",
                "3",
                "--json",
                "loop",
            ]))
            .expect(6);
            assert_eq!(mock.hits(), 3, "{p:?} {stream}");
            let r = out.lines().last().unwrap().clone();
            assert!(
                r["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("the model was still calling tools after 3 rounds")
            );
            assert_eq!(r["tool_rounds"], 3);
            let listed = r["tool_calls"].as_array().unwrap();
            assert_eq!(listed.len(), 3);
            // the last turn's call is listed, not run
            assert_eq!(listed[2]["round"], 3);
            assert!(listed[2].get("exit_code").is_none());
            assert_eq!(listed[1]["exit_code"], 0);
        }
    }
}

#[test]
fn a_failing_or_missing_tool_is_an_error_result_never_a_crash() {
    for p in BOTH {
        for stream in [false, true] {
            let dir = tmp();
            tool(
                dir.path(),
                "broken",
                "echo boom; echo 'on stderr' >&2; exit 3",
            );
            std::fs::write(
                dir.path().join("nocmd.json"),
                r#"{"name":"nocmd","parameters":{"type":"object","properties":{}}}"#,
            )
            .unwrap();
            let (a, b, c, d) = (id(p, 1), id(p, 2), id(p, 3), id(p, 4));
            let mock = Mock::start(vec![mock::tool_checked(
                p == P::Anthropic,
                vec![
                    calls(
                        p,
                        stream,
                        None,
                        &[
                            (&a, "broken", r#"{"city":"X"}"#),
                            (&b, "nocmd", "{}"),
                            (&c, "nosuch", "{}"),
                            (&d, "broken", r#"{"town":"X"}"#),
                        ],
                    ),
                    text(p, stream, "Sorry."),
                ],
            )]);
            let out = run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "broken.json",
                "--tool",
                "nocmd.json",
                "--run-tools",
                "--json",
                "-v",
                "go",
            ]))
            .expect(0);
            assert!(out.stderr.contains("[broken] on stderr"), "{}", out.stderr);
            assert!(
                out.stderr.contains("tool broken"),
                "-v line: {}",
                out.stderr
            );
            let sent = results_sent(p, &mock.requests()[1].json());
            assert_eq!(sent.len(), 4, "{p:?} {stream}");
            assert!(sent.iter().all(|(_, _, err)| *err), "{sent:?}");
            assert!(sent[0].1.contains("exited with code 3") && sent[0].1.contains("boom"));
            assert!(sent[1].1.contains("no command"));
            assert!(sent[2].1.contains("unknown tool"));
            assert!(sent[3].1.contains("schema"));
            let r = out.lines().last().unwrap().clone();
            assert_eq!(r["tool_calls"][0]["exit_code"], 3);
            assert_eq!(r["tool_calls"][0]["is_error"], true);
        }
    }
}

#[test]
fn a_hung_tool_is_killed_at_its_timeout() {
    for p in BOTH {
        let dir = tmp();
        // a grandchild holding stdout open must not keep the run waiting either
        tool(dir.path(), "hang", "sleep 30 & sleep 30");
        let a = id(p, 1);
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                calls(p, false, None, &[(&a, "hang", r#"{"city":"X"}"#)]),
                text(p, false, "ok"),
            ],
        )]);
        let started = Instant::now();
        let out = run(llmpipe(p, dir.path(), &mock, false).args([
            "--tool",
            "hang.json",
            "--run-tools",
            "--tool-timeout",
            "0.5",
            "--json",
            "go",
        ]))
        .expect(0);
        assert!(started.elapsed() < Duration::from_secs(10));
        let sent = results_sent(p, &mock.requests()[1].json());
        assert!(
            sent[0].2 && sent[0].1.contains("did not finish within 0.5 s"),
            "{sent:?}"
        );
        assert_eq!(out.json()["tool_calls"][0]["exit_code"], Value::Null);
    }
}

#[test]
fn a_tool_sees_no_key_and_no_llmpipe_variable() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "envdump", "env");
        let a = id(p, 1);
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                calls(p, false, None, &[(&a, "envdump", r#"{"city":"X"}"#)]),
                text(p, false, "ok"),
            ],
        )]);
        run(llmpipe(p, dir.path(), &mock, false)
            .env("LLMPIPE_MODEL", "gpt-4o-mini")
            .env("OPENAI_API_KEY", OPENAI_KEY)
            .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
            .env("SOME_OTHER", "kept")
            .args(["--tool", "envdump.json", "--run-tools", "go"]))
        .expect(0);
        let sent = results_sent(p, &mock.requests()[1].json());
        let env = &sent[0].1;
        assert!(!env.contains(OPENAI_KEY) && !env.contains(ANTHROPIC_KEY));
        assert!(!env.contains("API_KEY"), "{env}");
        let llmpipe_vars: Vec<&str> = env
            .lines()
            .filter(|l| l.starts_with("LLMPIPE_"))
            .map(|l| l.split('=').next().unwrap())
            .collect();
        let mut sorted = llmpipe_vars.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["LLMPIPE_TOOL_CALL_ID", "LLMPIPE_TOOL_NAME"],
            "{env}"
        );
        assert!(env.contains(&format!("LLMPIPE_TOOL_CALL_ID={a}")));
        assert!(env.contains("LLMPIPE_TOOL_NAME=envdump"));
        assert!(env.contains("SOME_OTHER=kept"));
    }
}

#[test]
fn tool_output_is_cut_and_made_utf8_with_notes() {
    let dir = tmp();
    tool(
        dir.path(),
        "big",
        "head -c 200000 /dev/zero | tr '\\0' 'a'; printf '\\377'",
    );
    tool(dir.path(), "bad", "printf 'ok\\377'");
    let mock = Mock::start(vec![mock::tool_checked(
        false,
        vec![
            calls(
                P::OpenAi,
                false,
                None,
                &[
                    ("call_1", "big", r#"{"city":"X"}"#),
                    ("call_2", "bad", r#"{"city":"X"}"#),
                ],
            ),
            text(P::OpenAi, false, "ok"),
        ],
    )]);
    run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--tool",
        "big.json",
        "--tool",
        "bad.json",
        "--run-tools",
        "go",
    ]))
    .expect(0);
    let sent = results_sent(P::OpenAi, &mock.requests()[1].json());
    assert!((100_000..100_200).contains(&sent[0].1.len()));
    assert!(
        sent[0]
            .1
            .contains("output cut at 100 KB; the tool wrote 200001 bytes")
    );
    assert!(sent[1].1.starts_with("ok\u{fffd}"));
    assert!(sent[1].1.contains("not valid UTF-8"));
}

#[test]
fn tool_results_continue_the_conversation() {
    for p in BOTH {
        for stream in [false, true] {
            let dir = tmp();
            tool(dir.path(), "weather", "touch ran-marker");
            let (a, b) = (id(p, 1), id(p, 2));
            let mock = Mock::start(vec![mock::tool_checked(
                p == P::Anthropic,
                vec![
                    calls(
                        p,
                        stream,
                        Some("Let me look."),
                        &[
                            (&a, "weather", r#"{"city":"A"}"#),
                            (&b, "weather", r#"{"city":"B"}"#),
                        ],
                    ),
                    text(p, stream, "A is sunny, B rainy."),
                ],
            )]);
            run(llmpipe(p, dir.path(), &mock, stream).args([
                "--tool",
                "weather.json",
                "Weather in A and B?",
            ]))
            .expect(0);
            // every pending call must be answered
            let missing = run(llmpipe(p, dir.path(), &mock, stream).args([
                "-c",
                "--tool-result",
                &format!("{a}=\"sunny\""),
            ]))
            .expect(2);
            assert!(missing.stderr.contains(&b), "{}", missing.stderr);
            let unknown = run(llmpipe(p, dir.path(), &mock, stream).args([
                "-c",
                "--tool-result",
                &format!("{a}=1"),
                "--tool-result",
                &format!("{b}=2"),
                "--tool-result",
                "nope=3",
            ]))
            .expect(2);
            assert!(unknown.stderr.contains("nope"));
            // a new question without answering is refused before anything is sent
            run(llmpipe(p, dir.path(), &mock, stream).args(["-c", "and C?"])).expect(2);
            assert_eq!(mock.hits(), 1);
            std::fs::write(dir.path().join("b.json"), r#"{"weather":"rain"}"#).unwrap();
            let out = run(llmpipe(p, dir.path(), &mock, stream).args([
                "-c",
                "--tool-result",
                &format!("{b}=@b.json"),
                "--tool-result",
                &format!("{a}=\"sunny\""),
                "--json",
            ]))
            .expect(0);
            let r = out.lines().last().unwrap().clone();
            assert_eq!(r["text"], "A is sunny, B rainy.", "{p:?} {stream}");
            let reqs = mock.requests();
            assert_eq!(reqs.len(), 2);
            let body = reqs[1].json();
            // the tools are reused from the conversation
            assert!(body["tools"].as_array().is_some_and(|t| t.len() == 1));
            let sent = results_sent(p, &body);
            assert_eq!(
                sent,
                vec![
                    (a.clone(), "sunny".to_string(), false),
                    (b.clone(), r#"{"weather":"rain"}"#.to_string(), false)
                ]
            );
            if p == P::Anthropic {
                let msgs = body["messages"].as_array().unwrap();
                assert_eq!(msgs[1]["content"][0]["type"], "thinking");
                assert_eq!(msgs[1]["content"][0]["signature"], "sig-abc");
            }
            assert!(!dir.path().join("ran-marker").exists());
            // the other commands cannot carry the tool turns on
            let other = run(crate::base(dir.path())
                .env(
                    if p == P::OpenAi {
                        "OPENAI_API_KEY"
                    } else {
                        "ANTHROPIC_API_KEY"
                    },
                    "k",
                )
                .args(["classify", "--labels", "a,b", "-c", "which?"]))
            .expect(2);
            assert!(other.stderr.contains("used tools"), "{}", other.stderr);
            assert_eq!(mock.hits(), 2);
        }
    }
}

#[test]
fn invalid_arguments_are_exit_6_without_run_tools() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "weather", "echo x");
        let a = id(p, 1);
        let mock = Mock::start(vec![calls(
            p,
            false,
            None,
            &[(&a, "weather", r#"{"town":"X"}"#)],
        )]);
        let out = run(llmpipe(p, dir.path(), &mock, false).args([
            "--tool",
            "weather.json",
            "--json",
            "go",
        ]))
        .expect(6);
        let r = out.json();
        assert_eq!(r["error"]["type"], "unusable_answer");
        assert_eq!(r["tool_calls"][0]["id"], a.as_str());
        assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 0);
    }
    // OpenAI arguments that are not JSON at all
    let dir = tmp();
    tool(dir.path(), "weather", "echo x");
    let mock = Mock::start(vec![mock::openai_tool_calls(
        None,
        &[("call_1", "weather", "{\"city\": ")],
        "tool_calls",
    )]);
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--tool",
        "weather.json",
        "--json",
        "go",
    ]))
    .expect(6);
    assert_eq!(out.json()["tool_calls"][0]["arguments"], "{\"city\": ");
}

fn bad_tool(dir: &Path, file: &str, content: &str) -> Out {
    std::fs::write(dir.join(file), content).unwrap();
    let mock = Mock::start(vec![mock::openai_completion("never")]);
    let out = run(openai(dir, &mock).args(["complete", "--tool", file, "hi"])).expect(2);
    assert_eq!(mock.hits(), 0);
    assert!(out.stderr.contains(file), "{file}: {}", out.stderr);
    out
}

#[test]
fn malformed_tool_files_are_usage_errors_naming_the_file() {
    let dir = tmp();
    let d = dir.path();
    bad_tool(d, "a.json", "{\"name\": ");
    let out = bad_tool(
        d,
        "b.toml",
        "name = \"ok\"\nparameters = { type = \"object\" }\ncommand = [\n",
    );
    assert!(out.stderr.contains("b.toml:"), "{}", out.stderr);
    bad_tool(
        d,
        "c.json",
        r#"{"name":"has space","parameters":{"type":"object"}}"#,
    );
    bad_tool(
        d,
        "d.json",
        r#"{"name":"ok","parameters":{"type":"string"}}"#,
    );
    bad_tool(d, "e.json", r#"{"name":"ok","parameters":[]}"#);
    bad_tool(d, "f.json", r#"{"name":"ok","command":"rm -rf /"}"#);
    bad_tool(d, "g.json", r#"{"name":"ok","command":[]}"#);
    bad_tool(d, "h.json", r#"{"name":"ok","command":["a", 1]}"#);
    let out = bad_tool(d, "i.toml", "name = \"ok\"\ncommand = \"ls\"\n");
    assert!(out.stderr.contains("i.toml:2"), "{}", out.stderr);
    bad_tool(d, "j.json", r#"{"name":"ok","bogus":1}"#);
    // duplicate names
    std::fs::write(d.join("x.json"), r#"{"name":"same"}"#).unwrap();
    std::fs::write(d.join("y.toml"), "name = \"same\"\n").unwrap();
    let mock = Mock::start(vec![mock::openai_completion("never")]);
    let out =
        run(openai(d, &mock).args(["complete", "--tool", "x.json", "--tool", "y.toml", "hi"]))
            .expect(2);
    assert!(out.stderr.contains("same") && out.stderr.contains("twice"));
    // a TOML tool file is fine
    std::fs::write(
        d.join("ok.toml"),
        "name = \"ok\"\ndescription = \"d\"\ncommand = [\"./x.sh\"]\n[parameters]\ntype = \"object\"\n",
    )
    .unwrap();
    run(openai(d, &mock).args([
        "complete",
        "--tool",
        "ok.toml",
        "--tool-choice",
        "nosuch",
        "hi",
    ]))
    .expect(2);
    assert_eq!(mock.hits(), 0);
}

#[test]
fn dry_run_shows_the_tools_and_runs_nothing() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "weather", "touch ran-marker");
        let mock = Mock::start(vec![mock::openai_completion("never")]);
        let out = run(llmpipe(p, dir.path(), &mock, false).args([
            "--tool",
            "weather.json",
            "--tool-choice",
            "none",
            "--run-tools",
            "--dry-run",
            "hi",
        ]))
        .expect(0);
        let body = &out.json()["body"];
        match p {
            P::OpenAi => {
                assert_eq!(body["tools"][0]["function"]["name"], "weather");
                assert_eq!(body["tool_choice"], "none");
            }
            P::Anthropic => {
                assert_eq!(body["tools"][0]["input_schema"]["required"][0], "city");
                assert_eq!(body["tool_choice"], json!({"type": "none"}));
            }
        }
        assert_eq!(mock.hits(), 0);
        assert!(!dir.path().join("ran-marker").exists());
    }
}

#[test]
fn prompt_files_declare_tools_relative_to_themselves() {
    let dir = tmp();
    let pdir = dir.path().join("prompts/weather");
    std::fs::create_dir_all(&pdir).unwrap();
    tool(&pdir, "weather", "echo sunny");
    std::fs::write(
        pdir.join("v1.md"),
        "+++\ndescription = \"d\"\ntools = [\"weather.json\"]\n+++\nWeather: {{input}}\n",
    )
    .unwrap();
    let mock = Mock::start(vec![mock::tool_checked(
        false,
        vec![
            calls(
                P::OpenAi,
                false,
                None,
                &[("call_1", "weather", r#"{"city":"X"}"#)],
            ),
            text(P::OpenAi, false, "Sunny."),
        ],
    )]);
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--prompt",
        "weather",
        "--run-tools",
        "Paris",
    ]))
    .expect(0);
    assert_eq!(out.stdout, "Sunny.\n");
    let sent = results_sent(P::OpenAi, &mock.requests()[1].json());
    assert_eq!(sent[0].1, "sunny\n");
}

#[test]
fn each_line_runs_one_loop_per_item() {
    let dir = tmp();
    tool(dir.path(), "weather", "echo sunny");
    let mock = Mock::start(vec![mock::dynamic(|req, _| {
        let body = req.json();
        let last = body["messages"].as_array().unwrap().last().unwrap().clone();
        let reply = if last["role"] == "tool" {
            mock::openai_completion("done")
        } else {
            mock::openai_tool_calls(
                None,
                &[("call_1", "weather", r#"{"city":"X"}"#)],
                "tool_calls",
            )
        };
        (reply, Duration::ZERO)
    })]);
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false)
        .args(["--tool", "weather.json", "--run-tools", "--each-line"])
        .write_stdin("a\nb\n"))
    .expect(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["text"], "done");
        assert_eq!(l["tool_rounds"], 2);
    }
    assert_eq!(mock.hits(), 4);
}

/// The mock refuses what the real APIs refuse, so the tests above prove the requests are
/// right.
#[test]
fn the_mock_rejects_what_the_apis_reject() {
    let call = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "t", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "t", "arguments": "{}"}}]});
    let tool = |id: &str| json!({"role": "tool", "tool_call_id": id, "content": "x"});
    let user = json!({"role": "user", "content": "hi"});
    let oa = |msgs: Vec<Value>| mock::openai_tool_problem(&json!({ "messages": msgs }));
    assert_eq!(
        oa(vec![
            user.clone(),
            call.clone(),
            tool("call_1"),
            tool("call_2")
        ]),
        None
    );
    assert!(
        oa(vec![user.clone(), call.clone(), tool("call_1")])
            .unwrap()
            .contains("call_2")
    );
    assert!(
        oa(vec![
            user.clone(),
            call.clone(),
            tool("call_1"),
            tool("call_2"),
            tool("call_9")
        ])
        .is_some()
    );
    assert!(
        oa(vec![
            user.clone(),
            call.clone(),
            tool("call_1"),
            tool("call_9")
        ])
        .is_some()
    );
    assert!(oa(vec![user.clone(), tool("call_1")]).is_some());

    let uses = json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}},
        {"type": "tool_use", "id": "toolu_2", "name": "t", "input": {}}]});
    let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "x"});
    let text = json!({"type": "text", "text": "more"});
    let an = |msgs: Vec<Value>| {
        mock::anthropic_tool_problem(&json!({ "messages": msgs, "tools": [{"name": "t"}] }))
    };
    assert!(
        mock::anthropic_tool_problem(&json!({ "messages": [user.clone(), uses.clone()] }))
            .unwrap()
            .contains("must define tools")
    );
    let answer = |blocks: Vec<Value>| json!({"role": "user", "content": blocks});
    assert_eq!(
        an(vec![
            user.clone(),
            uses.clone(),
            answer(vec![result("toolu_1"), result("toolu_2"), text.clone()])
        ]),
        None
    );
    assert!(
        an(vec![
            user.clone(),
            uses.clone(),
            answer(vec![result("toolu_1")])
        ])
        .unwrap()
        .contains("toolu_2")
    );
    assert!(
        an(vec![
            user.clone(),
            uses.clone(),
            answer(vec![
                result("toolu_1"),
                result("toolu_2"),
                result("toolu_9")
            ])
        ])
        .unwrap()
        .contains("toolu_9")
    );
    assert!(
        an(vec![
            user.clone(),
            uses.clone(),
            answer(vec![text.clone(), result("toolu_1"), result("toolu_2")])
        ])
        .unwrap()
        .contains("come before")
    );
    assert!(an(vec![user.clone(), uses.clone(), user.clone()]).is_some());
}

#[test]
fn ctrl_c_kills_running_tools_and_exits_130() {
    use std::io::Read;
    use std::process::Stdio;
    for each_line in [false, true] {
        let dir = tmp();
        // the tool and a grandchild both record their pids, then hang
        tool(
            dir.path(),
            "hang",
            "sleep 60 & echo $! > child.pid; echo $$ > tool.pid; wait",
        );
        let mock = Mock::start(vec![mock::openai_tool_calls(
            None,
            &[("call_1", "hang", r#"{"city":"X"}"#)],
            "tool_calls",
        )]);
        let mut cmd = crate::openai_std(dir.path(), &mock);
        cmd.args([
            "complete",
            "-m",
            "gpt-4o-mini",
            "--tool",
            "hang.json",
            "--run-tools",
        ]);
        if each_line {
            cmd.arg("--each-line");
        } else {
            cmd.arg("go");
        }
        let mut child = cmd
            .stdin(if each_line {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(b"item\n").unwrap();
        }
        let started = Instant::now();
        let pid_file = |f: &str| {
            std::fs::read_to_string(dir.path().join(f))
                .ok()
                .filter(|s| !s.trim().is_empty())
        };
        while (pid_file("tool.pid").is_none() || pid_file("child.pid").is_none())
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pids: Vec<String> = ["tool.pid", "child.pid"]
            .iter()
            .map(|f| pid_file(f).expect("the tool started").trim().to_string())
            .collect();
        std::process::Command::new("sh")
            .args(["-c", &format!("kill -INT {}", child.id())])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "each_line {each_line}");
        assert!(started.elapsed() < Duration::from_secs(20));
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        if each_line {
            assert!(out.contains("interrupted"), "{out}");
        }
        std::thread::sleep(Duration::from_millis(100));
        for pid in &pids {
            // gone, or a zombie waiting for a reaper (no init reaps in some containers)
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            assert!(
                state.is_none_or(|s| s == 'Z' || s == 'X'),
                "process {pid} of the tool survived Ctrl-C: {stat}"
            );
        }
    }
}

/// The example tools in `tools/` work as shipped, from any working directory.
#[test]
fn the_example_tools_work_out_of_the_box() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    for p in BOTH {
        let dir = tmp();
        let (a, b) = (id(p, 1), id(p, 2));
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                calls(
                    p,
                    false,
                    None,
                    &[
                        (&a, "utc_time", "{}"),
                        (
                            &b,
                            "word_count",
                            r#"{"text":"one two\nthree \"four\" caf\u00e9"}"#,
                        ),
                    ],
                ),
                text(p, false, "It is now; five words."),
            ],
        )]);
        let out = run(llmpipe(p, dir.path(), &mock, false)
            .arg("--tool")
            .arg(examples.join("utc_time.json"))
            .arg("--tool")
            .arg(examples.join("word_count.toml"))
            .args([
                "--run-tools",
                "--json",
                "What time is it, and how many words?",
            ]))
        .expect(0);
        assert_eq!(out.json()["tool_rounds"], 2);
        let sent = results_sent(p, &mock.requests()[1].json());
        assert!(
            !sent[0].2 && sent[0].1.starts_with("{\"utc\": \"20"),
            "{sent:?}"
        );
        assert!(sent[0].1.trim_end().ends_with("Z\"}"));
        assert_eq!(sent[1].1, "{\"words\": 5}\n");
        let body = mock.requests()[0].json();
        let strict = match p {
            P::OpenAi => &body["tools"][1]["function"]["strict"],
            P::Anthropic => &body["tools"][1]["strict"],
        };
        assert_eq!(
            strict,
            &json!(true),
            "{p:?}: the examples are in the strict subset"
        );
    }
}

/// A failure after a paid round reports what was paid (and still exits with its own code).
#[test]
fn a_failure_in_a_later_round_carries_what_was_paid() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "weather", "echo sunny");
        let a = id(p, 1);
        let refused = match p {
            P::OpenAi => mock::openai_error(400, "invalid_request_error", None, "no"),
            P::Anthropic => mock::anthropic_error(400, "invalid_request_error", "no"),
        };
        let mock = Mock::start(vec![
            calls(p, false, None, &[(&a, "weather", r#"{"city":"X"}"#)]),
            refused,
        ]);
        let out = run(llmpipe(p, dir.path(), &mock, false).args([
            "--tool",
            "weather.json",
            "--run-tools",
            "--json",
            "go",
        ]))
        .expect(4);
        let r = out.json();
        assert_eq!(r["error"]["type"], "rejected");
        assert_eq!(r["tool_rounds"], 1);
        assert_eq!(r["tool_calls"][0]["exit_code"], 0);
        assert!(r["usage"]["input_tokens"].as_u64().unwrap() > 0);
        assert_eq!(mock.hits(), 2);
    }
}

/// Plain `stream` output: each turn's text on its own line; the calls are not printed when
/// llmpipe runs them.
#[test]
fn plain_stream_with_run_tools_prints_the_turns_text() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "weather", "echo sunny");
        let a = id(p, 1);
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                calls(
                    p,
                    true,
                    Some("Checking."),
                    &[(&a, "weather", r#"{"city":"X"}"#)],
                ),
                text(p, true, "Sunny."),
            ],
        )]);
        let out = run(llmpipe(p, dir.path(), &mock, true).args([
            "--tool",
            "weather.json",
            "--run-tools",
            "go",
        ]))
        .expect(0);
        assert_eq!(out.stdout, "Checking.\nSunny.\n", "{p:?}");
    }
}

/// A tool that exits while something it started still holds its stdout open is done when it
/// exits (after a short grace), not at its timeout.
#[test]
fn a_tool_that_leaves_a_process_behind_ends_when_it_exits() {
    let dir = tmp();
    tool(dir.path(), "bg", "sleep 30 & echo $! > bg.pid; echo done");
    let mock = Mock::start(vec![mock::tool_checked(
        false,
        vec![
            calls(
                P::OpenAi,
                false,
                None,
                &[("call_1", "bg", r#"{"city":"X"}"#)],
            ),
            text(P::OpenAi, false, "ok"),
        ],
    )]);
    let started = Instant::now();
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--tool",
        "bg.json",
        "--run-tools",
        "--json",
        "go",
    ]))
    .expect(0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.json()["tool_calls"][0]["exit_code"], 0);
    let sent = results_sent(P::OpenAi, &mock.requests()[1].json());
    assert_eq!(sent[0], ("call_1".to_string(), "done\n".to_string(), false));
    let pid = std::fs::read_to_string(dir.path().join("bg.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .chars()
        .next();
    assert!(
        state.is_none_or(|s| s == 'Z' || s == 'X'),
        "left behind: {stat}"
    );
}

/// `stream --json`: a `tool_result` line as each tool finishes (the fast one first), while
/// the results still go back to the model in call order.
#[test]
fn stream_json_reports_each_tool_as_it_finishes() {
    for p in BOTH {
        let dir = tmp();
        tool(dir.path(), "slow", "sleep 1; echo slow");
        tool(dir.path(), "fast", "echo fast");
        let (a, b) = (id(p, 1), id(p, 2));
        let mock = Mock::start(vec![mock::tool_checked(
            p == P::Anthropic,
            vec![
                calls(
                    p,
                    true,
                    None,
                    &[
                        (&a, "slow", r#"{"city":"X"}"#),
                        (&b, "fast", r#"{"city":"Y"}"#),
                    ],
                ),
                text(p, true, "ok"),
            ],
        )]);
        let out = run(llmpipe(p, dir.path(), &mock, true).args([
            "--tool",
            "slow.json",
            "--tool",
            "fast.json",
            "--run-tools",
            "--json",
            "go",
        ]))
        .expect(0);
        let kinds: Vec<String> = out
            .lines()
            .iter()
            .map(|l| match l["type"].as_str().unwrap() {
                "tool_call" | "tool_result" => format!(
                    "{}:{}",
                    l["type"].as_str().unwrap(),
                    l["name"].as_str().unwrap()
                ),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "tool_call:slow",
                "tool_call:fast",
                "tool_result:fast",
                "tool_result:slow",
                "delta",
                "result"
            ],
            "{p:?}"
        );
        let sent = results_sent(p, &mock.requests()[1].json());
        assert_eq!(sent[0].1, "slow\n");
        assert_eq!(sent[1].1, "fast\n");
    }
}

/// `--max-cost` covers every round: a round whose request (here, a large tool result) would
/// go over the budget is not sent; exit 7 with what was paid.
#[test]
fn max_cost_is_checked_before_every_round() {
    let dir = tmp();
    tool(
        dir.path(),
        "big",
        "i=0; while [ $i -lt 2000 ]; do echo 'many words of tool output here'; i=$((i+1)); done",
    );
    let mock = Mock::start(vec![mock::tool_checked(
        false,
        vec![
            calls(
                P::OpenAi,
                false,
                None,
                &[("call_1", "big", r#"{"city":"X"}"#)],
            ),
            text(P::OpenAi, false, "never"),
        ],
    )]);
    let out = run(llmpipe(P::OpenAi, dir.path(), &mock, false).args([
        "--tool",
        "big.json",
        "--run-tools",
        "--max-tokens",
        "10",
        "--max-cost",
        "0.0005",
        "--json",
        "go",
    ]))
    .expect(7);
    assert_eq!(mock.hits(), 1);
    let r = out.json();
    assert_eq!(r["error"]["type"], "budget");
    assert_eq!(r["tool_calls"][0]["exit_code"], 0);
}
