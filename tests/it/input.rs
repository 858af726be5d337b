//! The SPEC's input rules: words, -f files, stdin, blank lines between, UTF-8, empty input.

use crate::mock::{self, Mock};
use crate::{openai, run, tmp};

fn sent_text(mock: &Mock) -> String {
    mock.only_request().json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn words_then_files_then_stdin_joined_by_blank_lines() {
    let dir = tmp();
    std::fs::write(dir.path().join("a.txt"), "file a").unwrap();
    std::fs::write(dir.path().join("b.txt"), "file b\n").unwrap();
    std::fs::write(dir.path().join("empty.txt"), "").unwrap();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock)
        .args([
            "complete",
            "-f",
            "a.txt",
            "Summarise",
            "-f",
            "empty.txt",
            "these:",
            "-f",
            "b.txt",
        ])
        .write_stdin("from stdin"))
    .expect(0);
    assert_eq!(
        sent_text(&mock),
        "Summarise these:\n\nfile a\n\nfile b\n\n\nfrom stdin"
    );
}

#[test]
fn stdin_alone_and_empty_stdin() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock)
        .arg("complete")
        .write_stdin("only stdin"))
    .expect(0);
    assert_eq!(sent_text(&mock), "only stdin");
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    run(openai(dir.path(), &mock)
        .args(["complete", "words"])
        .write_stdin(""))
    .expect(0);
    assert_eq!(sent_text(&mock), "words");
}

#[test]
fn empty_input_is_a_usage_error_and_sends_nothing() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    for stdin in ["", "  \n\n "] {
        let out = run(openai(dir.path(), &mock)
            .args(["complete", "--json"])
            .write_stdin(stdin))
        .expect(2);
        assert!(out.stderr.contains("input is empty"), "{}", out.stderr);
        assert_eq!(out.json()["error"]["type"], "usage");
    }
    assert_eq!(mock.hits(), 0);
}

#[test]
fn non_utf8_input_names_the_source_and_the_byte_offset() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("ok")]);
    let out = run(openai(dir.path(), &mock)
        .args(["stream", "x"])
        .write_stdin(b"caf\xc3\xa9 \xff\xfe".to_vec()))
    .expect(2);
    assert!(
        out.stderr
            .contains("stdin is not valid UTF-8: invalid byte at offset 6"),
        "{}",
        out.stderr
    );
    std::fs::write(dir.path().join("bin.dat"), b"\x00\x01\x80abc").unwrap();
    let out = run(openai(dir.path(), &mock).args(["complete", "-f", "bin.dat", "x"])).expect(2);
    assert!(
        out.stderr
            .contains("bin.dat is not valid UTF-8: invalid byte at offset 2"),
        "{}",
        out.stderr
    );
    let out = run(openai(dir.path(), &mock).args(["complete", "-f", "missing.txt", "x"])).expect(2);
    assert!(
        out.stderr.contains("cannot read missing.txt: no such file"),
        "{}",
        out.stderr
    );
    assert_eq!(mock.hits(), 0);
}
