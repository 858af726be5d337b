//! `benchmock time`: runs a command N times (after W warm-up runs) and prints, as one JSON
//! object, each run's wall time and the maximum resident set size of the process, both
//! from one `wait4` (so no shell or `time` wrapper is measured).
//!
//! stdin comes from `--stdin FILE` (else /dev/null); stdout goes to `--stdout FILE` (else
//! /dev/null), stderr to `--stderr FILE` (else /dev/null). A run that exits non-zero, or
//! outlives `--max-seconds`, fails the whole measurement (exit 1), with its stderr shown.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{die, Args};

pub struct Run {
    pub wall: Duration,
    pub maxrss_kb: i64,
    pub user: f64,
    pub sys: f64,
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

pub fn run_once(
    cmd: &[String],
    stdin: Option<&str>,
    stdout: &str,
    stderr: &str,
    max: Duration,
) -> Result<Run, String> {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..]);
    c.stdin(match stdin {
        Some(p) => Stdio::from(File::open(p).map_err(|e| format!("{p}: {e}"))?),
        None => Stdio::null(),
    });
    c.stdout(Stdio::from(
        File::create(stdout).map_err(|e| format!("{stdout}: {e}"))?,
    ));
    c.stderr(Stdio::from(
        File::create(stderr).map_err(|e| format!("{stderr}: {e}"))?,
    ));
    let start = Instant::now();
    let child = c
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cmd[0]))?;
    let pid = child.id() as libc::pid_t;
    // A watchdog kills a run that hangs, so every measurement is bounded in time.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(max).is_err() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut status: libc::c_int = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    let _ = tx.send(());
    let _ = watchdog.join();
    if r < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let why = if libc::WIFEXITED(status) {
            format!("exit code {}", libc::WEXITSTATUS(status))
        } else {
            format!(
                "killed by signal {} (limit {} s)",
                libc::WTERMSIG(status),
                max.as_secs()
            )
        };
        let err = std::fs::read_to_string(stderr).unwrap_or_default();
        let tail: String = err
            .chars()
            .rev()
            .take(2000)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        return Err(format!("{} failed: {why}\n{tail}", cmd.join(" ")));
    }
    Ok(Run {
        wall,
        maxrss_kb: ru.ru_maxrss,
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
    })
}

pub fn main(a: &Args) {
    if a.command.is_empty() {
        die("time: give the command after --");
    }
    let runs: usize = a.num("runs", 10);
    let warmup: usize = a.num("warmup", 1);
    let max = Duration::from_secs(a.num("max-seconds", 600));
    let stdout = a.str("stdout").unwrap_or("/dev/null");
    let stderr = a.str("stderr").unwrap_or("/dev/null");
    let mut out = Vec::new();
    for i in 0..warmup + runs {
        match run_once(&a.command, a.str("stdin"), stdout, stderr, max) {
            Ok(r) if i >= warmup => out.push(r),
            Ok(_) => {}
            Err(e) => {
                eprintln!("benchmock: {e}");
                std::process::exit(1);
            }
        }
    }
    let list = |f: &dyn Fn(&Run) -> String| out.iter().map(f).collect::<Vec<_>>().join(",");
    println!(
        "{{\"wall_s\":[{}],\"maxrss_kb\":[{}],\"user_s\":[{}],\"sys_s\":[{}]}}",
        list(&|r| format!("{:.6}", r.wall.as_secs_f64())),
        list(&|r| r.maxrss_kb.to_string()),
        list(&|r| format!("{:.6}", r.user)),
        list(&|r| format!("{:.6}", r.sys)),
    );
}
