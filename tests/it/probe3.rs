//! probe3: hostile tests of the in-stream error classification, batch results past a
//! failed download, and the price-data check.

use crate::mock::{self, Mock};
use crate::{openai, run, tmp};

/// An OpenAI-compatible stream that fails before any text with this error payload.
fn failed_stream(payload: serde_json::Value) -> mock::Reply {
    mock::sse(
        vec![format!("data: {payload}\n\n"), "data: [DONE]\n\n".into()],
        &[],
    )
}

/// A model the server does not have, said inside the stream with its HTTP code (vLLM's
/// `{"object":"error",…,"code":404}`, a gateway's `{"error":{…,"code":404}}`), falls back
/// to the next `--fallback` model as an HTTP 404 does; a 400 said so does not.
#[test]
fn an_in_stream_404_falls_back_as_an_http_404_does() {
    use serde_json::json;
    let dir = tmp();
    for payload in [
        json!({"object": "error", "message": "The model `nope` does not exist.", "type": "NotFoundError", "param": null, "code": 404}),
        json!({"error": {"message": "The model `nope` does not exist.", "code": 404}}),
        json!({"error": {"message": "The model `nope` does not exist.", "type": "None", "code": "404"}}),
    ] {
        let mock = Mock::start(vec![
            failed_stream(payload.clone()),
            mock::openai_stream(&["Hello"]),
        ]);
        let out = run(openai(dir.path(), &mock).args([
            "stream",
            "--json",
            "-m",
            "nope",
            "--fallback",
            "gpt-4o-mini",
            "x",
        ]))
        .expect(0);
        assert_eq!(mock.hits(), 2, "{payload}: {}", out.stderr);
        assert!(
            out.stderr.contains("falling back to gpt-4o-mini")
                && out.stderr.contains("does not exist"),
            "{payload}: {}",
            out.stderr
        );
        let last = out.lines().last().cloned().unwrap();
        assert_eq!(last["text"], "Hello", "{payload}: {}", out.stdout);
        assert_eq!(last["attempts"], 2);
    }
    // A 400 said in the stream is the caller's to fix: no fallback, exit 4.
    let mock = Mock::start(vec![
        failed_stream(
            json!({"object": "error", "message": "too long", "type": "BadRequestError", "param": null, "code": 400}),
        ),
        mock::openai_stream(&["Hello"]),
    ]);
    let out = run(openai(dir.path(), &mock).args([
        "stream",
        "--json",
        "-m",
        "local",
        "--fallback",
        "gpt-4o-mini",
        "x",
    ]))
    .expect(4);
    assert_eq!(mock.hits(), 1);
    let last = out.lines().last().cloned().unwrap();
    assert_eq!(last["error"]["type"], "rejected");
    assert_eq!(last["error"]["status"], 400, "the payload's own HTTP code");
}
