//! Configuration values are checked where they are read: a bad config value is exit 3 at
//! `FILE:LINE`, a bad variable is exit 3 naming it; nothing is sent.

use crate::mock::{self, Mock};
use crate::{base, openai, run, tmp};

#[test]
fn bad_config_numbers_are_config_errors_at_their_line() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("hi")]);
    let cases = [
        (
            "[prices.\"gpt-4o\"]\ninput = nan\noutput = 1.0\n",
            2,
            "price",
        ),
        (
            "[prices.\"gpt-4o\"]\ninput = 1.0\noutput = -1.0\n",
            3,
            "price",
        ),
        (
            "[prices.\"gpt-4o\"]\ninput = 1.0\noutput = inf\n",
            3,
            "price",
        ),
        (
            "model = \"gpt-4o\"\n[prices]\n\"gpt-4o\" = { input = 1.0, output = 2.0, cached_input = -0.5 }\n",
            3,
            "price",
        ),
        ("model = \"gpt-4o\"\ntimeout = 0\n", 2, "timeout"),
        ("model = \"gpt-4o\"\ntimeout = -3.5\n", 2, "timeout"),
        ("\nmax_tokens = 0\n", 2, "max_tokens"),
        ("model = \"gpt-4o\"\n\nlog_db = \"\"\n", 3, "log_db"),
    ];
    for (toml, line, what) in cases {
        std::fs::write(dir.path().join("llmpipe.toml"), toml).unwrap();
        for args in [
            vec![
                "complete",
                "--json",
                "-m",
                "gpt-4o",
                "--max-cost",
                "0.01",
                "hi",
            ],
            vec!["complete", "--json", "--dry-run", "hi"],
        ] {
            let out = run(openai(dir.path(), &mock).args(&args)).expect(3);
            assert!(
                out.stderr.contains(&format!("llmpipe.toml:{line}: ")) && out.stderr.contains(what),
                "{toml:?}: {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains("--"),
                "{toml:?} blames a flag: {}",
                out.stderr
            );
            assert_eq!(out.json()["error"]["type"], "config");
        }
    }
    assert_eq!(mock.hits(), 0);
    // The flags keep exit 2.
    std::fs::remove_file(dir.path().join("llmpipe.toml")).unwrap();
    run(openai(dir.path(), &mock).args(["complete", "--timeout", "0", "hi"])).expect(2);
    run(openai(dir.path(), &mock).args(["complete", "--max-tokens", "0", "hi"])).expect(2);
}

#[test]
fn bad_cache_and_retry_variables_are_config_errors() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("hi")]);
    for (var, value) in [
        ("LLMPIPE_CACHE_TTL", "-1"),
        ("LLMPIPE_CACHE_TTL", "abc"),
        ("LLMPIPE_CACHE_TTL", "1.5"),
        ("LLMPIPE_RETRY_BASE_MS", "60001"),
        ("LLMPIPE_RETRY_BASE_MS", "18446744073709551615"),
        ("LLMPIPE_RETRY_BASE_MS", "-5"),
    ] {
        let out = run(openai(dir.path(), &mock)
            .env(var, value)
            .args(["complete", "--json", "--cache", "hi"]))
        .expect(3);
        assert!(out.stderr.contains(var), "{var}={value}: {}", out.stderr);
        assert_eq!(out.json()["error"]["type"], "config");
    }
    assert_eq!(mock.hits(), 0);
}

#[test]
fn a_huge_cache_ttl_means_forever() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("cached answer")]);
    for ttl in ["9223372036854775808", "18446744073709551615"] {
        for _ in 0..2 {
            let out = run(openai(dir.path(), &mock)
                .env("LLMPIPE_CACHE_TTL", ttl)
                .args(["complete", "--cache", "-t", "0", "hi"]))
            .expect(0);
            assert_eq!(out.stdout, "cached answer\n");
        }
    }
    assert_eq!(mock.hits(), 1, "the second and later runs are cache hits");
}

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn prompt_file_versions_are_unambiguous_and_never_hang() {
    let dir = tmp();
    let mock = Mock::start(vec![mock::openai_completion("hi")]);
    write(dir.path(), "prompts/lead/v1.md", "one {{input}}");
    write(dir.path(), "prompts/lead/v01.md", "zero-one {{input}}");
    for spec in ["lead", "lead@v1"] {
        let out =
            run(openai(dir.path(), &mock).args(["complete", "--json", "--prompt", spec, "x"]))
                .expect(2);
        assert!(out.stderr.contains("v01.md"), "{spec}: {}", out.stderr);
    }
    std::fs::remove_file(dir.path().join("prompts/lead/v01.md")).unwrap();
    // A FIFO named like a version is not a prompt file: `prompts list` does not open it.
    let fifo = dir.path().join("prompts/lead/v2.md");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let out = run(crate::base(dir.path())
            .args(["prompts", "list", "--json"])
            .timeout(std::time::Duration::from_secs(10)))
        .expect(0);
        assert!(out.stdout.contains("\"lead\""), "{}", out.stdout);
        run(openai(dir.path(), &mock)
            .args(["complete", "--prompt", "lead", "x"])
            .timeout(std::time::Duration::from_secs(10)))
        .expect(0);
    }
    // Front matter missing its opening +++, and an empty model, are exit 2 at FILE:LINE.
    write(
        dir.path(),
        "prompts/half/v1.md",
        "system = \"s\"\n+++\nhi {{input}}",
    );
    write(
        dir.path(),
        "prompts/nomodel/v1.md",
        "+++\nmodel = \"\"\n+++\nhi {{input}}",
    );
    for (spec, at) in [("half", "v1.md:2: "), ("nomodel", "v1.md:2: ")] {
        let out =
            run(openai(dir.path(), &mock).args(["complete", "--json", "--prompt", spec, "x"]))
                .expect(2);
        assert!(out.stderr.contains(at), "{spec}: {}", out.stderr);
    }
    assert_eq!(mock.hits(), 1);
}

/// An empty model in the config file is a config error at its line, like every other value.
#[test]
fn an_empty_model_in_the_config_file_is_named_by_line() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("llmpipe.toml"),
        "timeout = 30\nmodel = \"\"\n",
    )
    .unwrap();
    let out = run(base(dir.path()).args(["complete", "--dry-run", "hi"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("llmpipe.toml:2:"), "{}", out.stderr);
    assert!(out.stderr.contains("model is empty"), "{}", out.stderr);
}
