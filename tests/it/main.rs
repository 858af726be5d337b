//! One integration-test binary: the real `llmpipe` binary against local mock servers.

mod mock;

mod batch;
mod batch_api;
mod batch_edges;
mod batch_mock;
mod bounds;
mod completions;
mod config;
mod core;
mod effort;
mod errors;
mod eval;
mod fixes;
mod hygiene;
mod input;
mod leftovers;
mod memory;
mod money;
mod prices;
mod probe;
mod probe3;
mod probe_batch;
mod probe_fixes;
mod probe_prices;
mod probe_stream;
mod request_loop;
mod resilience;
mod secrets;
mod settings;
mod structured;
mod tokens;
mod tools;
mod validation;
mod wire;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

pub const OPENAI_KEY: &str = "sk-test-openai-CANARY-0123456789abcdef";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-CANARY-0123456789abcdef";

/// Everything a finished run left behind.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {:?}", self.stdout))
    }
    pub fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }
    /// Asserts the exit code and that no key leaked anywhere.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        for key in [OPENAI_KEY, ANTHROPIC_KEY] {
            assert!(
                !self.stdout.contains(key) && !self.stderr.contains(key),
                "key leaked"
            );
        }
        self
    }
}

/// The binary in an environment of its own: the host's variables are cleared (no keys, base
/// URLs, proxies, config, call log, cache or XDG directories from the machine running the
/// tests), HOME and the XDG directories point into `dir`, which is also the working
/// directory, and retry waits are short. Tests add what they need on top.
pub fn base_std(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llmpipe"));
    cmd.env_clear()
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env("XDG_DATA_HOME", dir.join(".local/share"))
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env("TMPDIR", dir)
        .env("LLMPIPE_RETRY_BASE_MS", "5");
    cmd
}

pub fn openai_std(dir: &Path, mock: &mock::Mock) -> std::process::Command {
    let mut cmd = base_std(dir);
    cmd.env("OPENAI_BASE_URL", format!("{}/v1", mock.url))
        .env("OPENAI_API_KEY", OPENAI_KEY);
    cmd
}

pub fn base(dir: &Path) -> Command {
    Command::from_std(base_std(dir))
}

pub fn openai(dir: &Path, mock: &mock::Mock) -> Command {
    Command::from_std(openai_std(dir, mock))
}

pub fn anthropic(dir: &Path, mock: &mock::Mock) -> Command {
    let mut cmd = base_std(dir);
    cmd.env("ANTHROPIC_BASE_URL", &mock.url)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY);
    Command::from_std(cmd)
}

pub fn run(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("run llmpipe");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}
