//! Tools the model may call: tool files (`--tool FILE`, a prompt file's `tools = [...]`),
//! checking a call's arguments, and running a call's command (`--run-tools`) safely: an
//! argv array (never a shell), the arguments JSON on stdin, a scrubbed environment, output
//! bounded, a timeout that kills the tool's whole process group.
//!
//! Nothing here knows a provider's wire format: calls and results are `chat` types.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::chat::{ToolCall, ToolChoice, ToolDef, ToolResult};
use crate::error::{Error, Result};
use crate::output;

/// A tool's stdout kept at most (longer is cut, with a note the model sees).
/// The SPEC says 100 KB: 100,000 bytes, not 100 KiB.
pub const MAX_TOOL_OUTPUT: usize = 100_000;

/// Tools of one turn running at once (the rest wait for a free slot).
const MAX_RUNNING: usize = 16;

/// How long a tool's output may stay open after the tool exited.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// A tool's stderr line longer than this is passed on in pieces.
const MAX_STDERR_LINE: usize = 8 * 1024;

/// One declared tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
    /// The argv to run, a relative program path already resolved against the tool file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

impl ToolSpec {
    pub fn def(&self) -> ToolDef {
        ToolDef {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

/// The keys of a tool file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolFile {
    name: Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    command: Option<Value>,
}

/// Whether `name` matches `^[a-zA-Z0-9_-]{1,64}$` (both APIs' rule).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Loads and checks one tool file (JSON, or TOML with the same keys). Every mistake is a
/// usage error naming the file (and the line, for TOML).
pub fn load(path: &Path) -> Result<ToolSpec> {
    let shown = path.display().to_string();
    let bad = |line: Option<usize>, msg: String| {
        let at = match line {
            Some(l) => format!("{shown}:{l}"),
            None => shown.clone(),
        };
        Error::usage(format!("tool file {at}: {msg}"))
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(bad(None, "not a regular file".into()));
    }
    let raw = crate::input::read_file_bounded(path).map_err(|e| {
        bad(
            None,
            format!("cannot read it: {}", crate::input::io_reason(&e)),
        )
    })?;
    let text = String::from_utf8(raw).map_err(|e| {
        bad(
            None,
            format!("not UTF-8 (byte offset {})", e.utf8_error().valid_up_to()),
        )
    })?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let file: ToolFile = if is_toml {
        toml::from_str::<ToolFile>(&text).map_err(|e| {
            let line = crate::config::toml_error_line(&text, &e);
            bad(line, format!("not valid TOML: {}", e.message().trim_end()))
        })?
    } else {
        serde_json::from_str::<ToolFile>(&text).map_err(|e| {
            let what = if e.is_data() {
                "not a tool"
            } else {
                "not valid JSON"
            };
            bad(Some(e.line()), format!("{what}: {e}"))
        })?
    };
    // The line of a key, for TOML (JSON errors after parsing name the file only).
    let line_of = |key: &str| {
        if is_toml {
            crate::config::key_line(&text, key)
        } else {
            None
        }
    };
    let name = match &file.name {
        Value::String(n) if valid_name(n) => n.clone(),
        other => {
            return Err(bad(
                line_of("name"),
                format!(
                    "name {} must match ^[a-zA-Z0-9_-]{{1,64}}$",
                    serde_json::to_string(other).unwrap_or_default()
                ),
            ));
        }
    };
    let parameters = match file.parameters {
        None => serde_json::json!({"type": "object", "properties": {}}),
        Some(p @ Value::Object(_)) if p.get("type").and_then(Value::as_str) == Some("object") => p,
        Some(_) => {
            return Err(bad(
                line_of("parameters"),
                "parameters must be a JSON Schema with an object root ({\"type\": \"object\", …})"
                    .into(),
            ));
        }
    };
    crate::jsonx::Validator::new(&parameters, &format!("the parameters of {shown}"))?;
    let command = match file.command {
        None => None,
        Some(Value::Array(items))
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.contains('\0')))
                && items[0].as_str().is_some_and(|s| !s.is_empty()) =>
        {
            let mut argv: Vec<String> = items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect();
            argv[0] = resolve_program(&argv[0], path);
            Some(argv)
        }
        Some(_) => {
            return Err(bad(
                line_of("command"),
                "command must be a non-empty array of strings (an argv, never a shell string)"
                    .into(),
            ));
        }
    };
    Ok(ToolSpec {
        name,
        description: file.description,
        parameters,
        command,
    })
}

/// A program path with a `/` that is relative is relative to the tool file's folder; a bare
/// name (`date`) is looked up in `PATH` when run.
fn resolve_program(program: &str, tool_file: &Path) -> String {
    let p = Path::new(program);
    if p.is_absolute() || !program.contains('/') {
        return program.to_string();
    }
    let dir = tool_file.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let joined: PathBuf = dir.join(p);
    joined.to_string_lossy().into_owned()
}

/// Loads every tool file, in order; the same name twice is a usage error.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<ToolSpec>> {
    let mut tools: Vec<ToolSpec> = Vec::new();
    let mut from: Vec<&PathBuf> = Vec::new();
    for path in paths {
        let t = load(path)?;
        if let Some(i) = tools.iter().position(|o| o.name == t.name) {
            return Err(Error::usage(format!(
                "tool name {} is declared twice: in {} and in {}",
                t.name,
                from[i].display(),
                path.display()
            )));
        }
        tools.push(t);
        from.push(path);
    }
    Ok(tools)
}

/// `--tool-choice auto|none|required|NAME`; NAME must be a declared tool.
pub fn parse_choice(spec: &str, tools: &[ToolSpec]) -> Result<ToolChoice> {
    let choice = match spec.trim() {
        "auto" => ToolChoice::Auto,
        "none" => ToolChoice::None,
        "required" => ToolChoice::Required,
        name if tools.iter().any(|t| t.name == name) => ToolChoice::Named(name.to_string()),
        name => {
            let known: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::usage(format!(
                "--tool-choice {name}: not auto, none, required or a declared tool ({})",
                if known.is_empty() {
                    "no tools are declared".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    };
    Ok(choice)
}

/// What is wrong with a call, if anything: an unknown tool, arguments that are not a JSON
/// object, or arguments the tool's schema refuses.
pub fn check_call(call: &ToolCall, tools: &[ToolSpec]) -> Option<String> {
    let Some(spec) = tools.iter().find(|t| t.name == call.name) else {
        return Some(format!("unknown tool {:?}", call.name));
    };
    let Some(args) = call.arguments() else {
        return Some(format!(
            "the arguments of {} are not a JSON object: {}",
            call.name,
            short(&call.raw)
        ));
    };
    let validator = crate::jsonx::Validator::new(&spec.parameters, &spec.name).ok()?;
    let errors = validator.errors(&Value::Object(args));
    if errors.is_empty() {
        None
    } else {
        Some(format!(
            "the arguments of {} fail its schema: {}",
            call.name,
            errors.join("; ")
        ))
    }
}

/// A name the model made up is shown quoted and escaped (it could hold control characters).
fn shown_name(name: &str) -> String {
    if valid_name(name) {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// One tool run (or a call that could not run), as the result object reports it.
#[derive(Debug, Clone)]
pub struct Run {
    pub result: ToolResult,
    pub exit_code: Option<i32>,
    pub duration: Duration,
    pub bytes: usize,
}

/// Runs one call. Never fails: anything that goes wrong is an error result for the model.
pub async fn run(call: &ToolCall, tools: &[ToolSpec], timeout: Duration) -> Run {
    let started = Instant::now();
    let done = |content: String, is_error: bool, exit_code: Option<i32>, bytes: usize| Run {
        result: ToolResult {
            id: call.id.clone(),
            name: call.name.clone(),
            content,
            is_error,
        },
        exit_code,
        duration: started.elapsed(),
        bytes,
    };
    if let Some(problem) = check_call(call, tools) {
        return done(problem, true, None, 0);
    }
    let spec = tools
        .iter()
        .find(|t| t.name == call.name)
        .expect("checked above");
    let Some(argv) = spec.command.as_ref().filter(|a| !a.is_empty()) else {
        return done(
            format!("tool {} has no command: llmpipe cannot run it", call.name),
            true,
            None,
            0,
        );
    };
    // One line, ended, so `read` in a shell script gets it too.
    let args = format!("{}\n", Value::Object(call.arguments().unwrap_or_default()));
    match spawn_and_wait(argv, &args, call, timeout).await {
        Ok((status, stdout, bytes)) => {
            let content = tool_text(&stdout, bytes);
            match status {
                Some(0) => done(content, false, Some(0), bytes),
                Some(code) => done(
                    format!(
                        "the tool exited with code {code}{}",
                        if content.is_empty() {
                            String::new()
                        } else {
                            format!(": {content}")
                        }
                    ),
                    true,
                    Some(code),
                    bytes,
                ),
                None => done("the tool was killed by a signal".into(), true, None, bytes),
            }
        }
        Err(why) => done(why, true, None, 0),
    }
}

/// The tool's stdout as text: lossy UTF-8 with a note, cut at [`MAX_TOOL_OUTPUT`] with a note.
fn tool_text(kept: &[u8], total: usize) -> String {
    let mut lossy = false;
    let mut text = match std::str::from_utf8(kept) {
        Ok(t) => t.to_string(),
        // A cut inside a character is not the tool's fault: drop the partial character.
        Err(e) if total > kept.len() && e.error_len().is_none() => {
            String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned()
        }
        Err(_) => {
            lossy = true;
            String::from_utf8_lossy(kept).into_owned()
        }
    };
    // Replacement characters take three bytes each: the text stays within the bound too.
    let mut cut = total > kept.len();
    if text.len() > MAX_TOOL_OUTPUT {
        let mut end = MAX_TOOL_OUTPUT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    if lossy {
        text.push_str(
            "\n[llmpipe: the tool's output was not valid UTF-8; invalid bytes were replaced with U+FFFD]",
        );
    }
    if cut {
        text.push_str(&format!(
            "\n[llmpipe: output cut at {} KB; the tool wrote {total} bytes]",
            MAX_TOOL_OUTPUT / 1000
        ));
    }
    text
}

/// Kills the tool's process group when dropped before the tool was reaped (a timeout,
/// Ctrl-C dropping the run), so no grandchild outlives it.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) with a negative pid signals the process group we created.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The environment a tool gets: the parent's minus the API keys and every `LLMPIPE_*`.
fn scrubbed_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            k != "OPENAI_API_KEY" && k != "ANTHROPIC_API_KEY" && !k.starts_with("LLMPIPE_")
        })
        .collect()
}

/// Runs `argv` with `input` on stdin; returns the exit code (None: killed by a signal), the
/// first [`MAX_TOOL_OUTPUT`] bytes of stdout and how many it wrote in all.
async fn spawn_and_wait(
    argv: &[String],
    input: &str,
    call: &ToolCall,
    timeout: Duration,
) -> std::result::Result<(Option<i32>, Vec<u8>, usize), String> {
    use std::process::Stdio;
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(scrubbed_env())
        .env("LLMPIPE_TOOL_NAME", &call.name)
        .env("LLMPIPE_TOOL_CALL_ID", &call.id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let mut guard = GroupGuard {
        pgid: child.id().and_then(|p| i32::try_from(p).ok()),
    };
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let name = call.name.clone();
    let feed = async {
        if let Some(mut s) = stdin.take() {
            let _ = s.write_all(input.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    };
    // Kept outside the reading future, so that what was read survives giving up on a pipe
    // that something outside the tool's group still holds open.
    let captured: std::cell::RefCell<(Vec<u8>, usize)> = Default::default();
    let read_out = async {
        if let Some(out) = stdout.as_mut() {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match out.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (kept, total) = &mut *captured.borrow_mut();
                        *total += n;
                        let room = MAX_TOOL_OUTPUT.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
        }
    };
    let pass_err = async {
        if let Some(mut err) = stderr {
            // Line by line, a line longer than MAX_STDERR_LINE in pieces: never unbounded.
            let mut pending: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 8 * 1024];
            let show = |line: &[u8]| {
                let line = String::from_utf8_lossy(line);
                output::err_line(&format!("[{name}] {}", line.trim_end_matches('\r')));
            };
            loop {
                let n = match err.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                while let Some(at) = memchr::memchr(b'\n', &pending) {
                    show(&pending[..at]);
                    pending.drain(..=at);
                }
                if pending.len() >= MAX_STDERR_LINE {
                    show(&pending);
                    pending.clear();
                }
            }
            if !pending.is_empty() {
                show(&pending);
            }
        }
    };
    // The tool's exit ends the run even if something it started still holds its stdout or
    // stderr open: after a short grace, that leftover group is killed (while it has members,
    // its id cannot have been reused).
    let leftover = std::cell::Cell::new(false);
    let work = async {
        let io = async {
            tokio::join!(feed, read_out, pass_err);
        };
        tokio::pin!(io);
        let mut io_done = false;
        let status = tokio::select! {
            () = &mut io => {
                io_done = true;
                child.wait().await
            }
            s = child.wait() => s,
        };
        if !io_done && tokio::time::timeout(EXIT_GRACE, &mut io).await.is_err() {
            leftover.set(true);
            if let Some(pgid) = guard.pgid {
                // SAFETY: kill(2) on the process group we created, which still has
                // members (they hold the pipes open).
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            // A process that left the group (`setsid`) may hold the pipes still: the
            // tool has exited, so its output is what was read by now.
            let _ = tokio::time::timeout(EXIT_GRACE, &mut io).await;
        }
        status
    };
    let finished = tokio::time::timeout(timeout, work).await;
    let (kept, total) = captured.take();
    match finished {
        Ok(status) => {
            // Reaped: the group id may be reused now, never signal it again.
            guard.pgid = None;
            if leftover.get() {
                output::debug(&format!(
                    "tool {}: processes it left behind holding its output were killed",
                    call.name
                ));
            }
            let status = status.map_err(|e| format!("waiting for the tool failed: {e}"))?;
            Ok((status.code(), kept, total))
        }
        Err(_) => {
            guard.kill();
            Err(format!(
                "the tool did not finish within {} s and was killed",
                fmt_secs(timeout)
            ))
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

/// Runs the calls of one turn concurrently; results in call order. `on_done` hears of each
/// run as it finishes (the `stream --json` line); with `-v`, one stderr line per run.
pub async fn run_all(
    calls: &[ToolCall],
    tools: &[ToolSpec],
    timeout: Duration,
    on_done: &mut dyn FnMut(&Run),
) -> Vec<Run> {
    use futures_util::StreamExt;
    // At most MAX_RUNNING at once: a reply with hundreds of calls must not run out of
    // processes or file descriptors (each run holds three pipes).
    let mut pending = futures_util::stream::iter(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| async move { (i, run(c, tools, timeout).await) }),
    )
    .buffer_unordered(MAX_RUNNING);
    let mut runs: Vec<Option<Run>> = vec![None; calls.len()];
    while let Some((i, r)) = pending.next().await {
        if output::verbose() {
            output::debug(&format!(
                "tool {} ({:?}): exit {}, {} ms, {} bytes{}",
                shown_name(&r.result.name),
                r.result.id,
                r.exit_code
                    .map_or_else(|| "none".to_string(), |c| c.to_string()),
                r.duration.as_millis(),
                r.bytes,
                if r.result.is_error { ", error" } else { "" }
            ));
        }
        on_done(&r);
        runs[i] = Some(r);
    }
    runs.into_iter().flatten().collect()
}

/// A call as the result object and the output lines show it: `{"id","name","arguments"}`
/// (arguments parsed; the text as written when it is not a JSON object), and with
/// `--run-tools` the round it was made in and how its run went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOut {
    pub id: String,
    pub name: String,
    pub arguments: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ran: Option<Ran>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ran {
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub is_error: bool,
}

impl CallOut {
    pub fn of(call: &ToolCall) -> CallOut {
        CallOut {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call
                .arguments()
                .map_or_else(|| Value::String(call.raw.clone()), Value::Object),
            round: None,
            ran: None,
        }
    }

    /// The plain-stdout line, and (with `kind`) the `stream --json` line.
    pub fn line(&self, kind: Option<&str>) -> String {
        let mut v = serde_json::json!({});
        if let Some(k) = kind {
            v["type"] = Value::String(k.into());
        }
        v["id"] = Value::String(self.id.clone());
        v["name"] = Value::String(self.name.clone());
        v["arguments"] = self.arguments.clone();
        v.to_string()
    }
}

/// `stream --json`'s `{"type":"tool_result",…}` line.
pub fn result_line(run: &Run) -> String {
    serde_json::json!({
        "type": "tool_result",
        "id": run.result.id,
        "name": run.result.name,
        "is_error": run.result.is_error,
        "exit_code": run.exit_code,
        "content": run.result.content,
    })
    .to_string()
}

/// What the call log keeps of a call that used tools, so `-c` can continue it: the tools,
/// and the turns this call added (its user message, every tool round, the last reply).
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub tools: Vec<ToolSpec>,
    pub messages: Vec<crate::chat::Message>,
}

impl Transcript {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "tools": self.tools,
            "turn": self.messages.iter().map(message_json).collect::<Vec<_>>(),
        })
    }

    /// Read back from the log; `None` for a record without one.
    pub fn from_json(v: &Value) -> Option<Transcript> {
        let tools = serde_json::from_value(v.get("tools")?.clone()).ok()?;
        let messages = v
            .get("turn")?
            .as_array()?
            .iter()
            .map(message_from_json)
            .collect::<Option<Vec<_>>>()?;
        Some(Transcript { tools, messages })
    }

    /// The calls of the last reply (what `--tool-result` must answer).
    pub fn pending_calls(&self) -> Vec<ToolCall> {
        match self.messages.last() {
            Some(m) if m.role == crate::chat::Role::Assistant => m
                .content
                .iter()
                .filter_map(|p| match p {
                    crate::chat::Part::ToolCall(c) => Some(c.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn message_json(m: &crate::chat::Message) -> Value {
    use crate::chat::Part;
    let parts: Vec<Value> = m
        .content
        .iter()
        .map(|p| match p {
            Part::Text(t) => serde_json::json!({"text": t}),
            // Images are not kept in the log (as for any continued turn).
            Part::Image(_) => serde_json::json!({"text": "[image]"}),
            Part::ToolCall(c) => serde_json::json!({"tool_call": c}),
            Part::ToolResult(r) => serde_json::json!({"tool_result": r}),
            Part::Thinking(b) => serde_json::json!({"thinking": b}),
        })
        .collect();
    serde_json::json!({"role": m.role.as_str(), "parts": parts})
}

fn message_from_json(v: &Value) -> Option<crate::chat::Message> {
    use crate::chat::{Part, Role};
    let role = match v.get("role")?.as_str()? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    let content = v
        .get("parts")?
        .as_array()?
        .iter()
        .map(|p| {
            if let Some(t) = p.get("text") {
                return Some(Part::Text(t.as_str()?.to_string()));
            }
            if let Some(c) = p.get("tool_call") {
                return serde_json::from_value(c.clone()).ok().map(Part::ToolCall);
            }
            if let Some(r) = p.get("tool_result") {
                return serde_json::from_value(r.clone()).ok().map(Part::ToolResult);
            }
            p.get("thinking").cloned().map(Part::Thinking)
        })
        .collect::<Option<Vec<_>>>()?;
    Some(crate::chat::Message { role, content })
}

/// `--tool-result ID=JSON|@FILE`: the id, and the content (a JSON string's text, any other
/// JSON value as compact JSON, a file's text as it is).
pub fn parse_result_arg(spec: &str) -> Result<(String, String)> {
    let Some((id, value)) = spec.split_once('=') else {
        return Err(Error::usage(format!(
            "--tool-result {spec}: expected ID=JSON or ID=@FILE"
        )));
    };
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::usage(format!(
            "--tool-result {spec}: the call id is empty"
        )));
    }
    let content = if let Some(file) = value.strip_prefix('@') {
        let raw = crate::input::read_file_bounded(Path::new(file)).map_err(|e| {
            Error::usage(format!(
                "--tool-result {id}: cannot read {file}: {}",
                crate::input::io_reason(&e)
            ))
        })?;
        String::from_utf8(raw).map_err(|e| {
            Error::usage(format!(
                "--tool-result {id}: {file} is not UTF-8 (byte offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?
    } else {
        match serde_json::from_str::<Value>(value) {
            Ok(Value::String(s)) => s,
            Ok(v) => v.to_string(),
            Err(e) => {
                return Err(Error::usage(format!(
                    "--tool-result {id}: the value is not JSON ({e}); quote text as a JSON string, or use @FILE"
                )));
            }
        }
    };
    Ok((id.to_string(), content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("get_weather-2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(65)));
        assert!(valid_name(&"x".repeat(64)));
    }

    #[test]
    fn output_notes() {
        assert_eq!(tool_text(b"ok", 2), "ok");
        assert!(tool_text(b"a\xffb", 3).contains("not valid UTF-8"));
        // Bytes that are not UTF-8 become U+FFFD (3 bytes each): still at most the bound.
        let binary = tool_text(&[0xff; MAX_TOOL_OUTPUT], MAX_TOOL_OUTPUT);
        let kept = binary.split("\n[llmpipe:").next().unwrap();
        assert!(kept.len() <= MAX_TOOL_OUTPUT, "{}", kept.len());
        assert!(binary.contains("not valid UTF-8") && binary.contains("output cut at 100 KB"));
        let cut = tool_text(&[b'a'; 10], 20);
        assert!(cut.starts_with("aaaaaaaaaa\n[llmpipe: output cut"));
        assert!(cut.contains("20 bytes"));
    }

    #[test]
    fn checks_calls() {
        let tools = vec![ToolSpec {
            name: "t".into(),
            description: None,
            parameters: serde_json::json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}),
            command: None,
        }];
        let call = |name: &str, raw: &str| ToolCall {
            id: "1".into(),
            name: name.into(),
            raw: raw.into(),
        };
        assert_eq!(check_call(&call("t", r#"{"a":"x"}"#), &tools), None);
        assert!(
            check_call(&call("u", "{}"), &tools)
                .unwrap()
                .contains("unknown")
        );
        assert!(
            check_call(&call("t", "{"), &tools)
                .unwrap()
                .contains("not a JSON object")
        );
        assert!(
            check_call(&call("t", "{}"), &tools)
                .unwrap()
                .contains("schema")
        );
    }
}
