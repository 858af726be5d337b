//! Where bytes go: results to stdout, everything else to stderr.
//!
//! A closed stdout (`llmpipe … | head -c 10`) is the reader saying it has enough, not an
//! error: the process ends quietly with exit 0 (the SPEC), as ripgrep does. Writes to
//! stderr never fail the run.
//!
//! Every write masks the process's known secrets ([`crate::secrets`]): a key a server
//! echoes back can never reach stdout or stderr.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while stdout holds stream text not yet ended by a newline, so an interrupt or a
/// failure can end the line before the diagnostic.
static LINE_OPEN: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Whether stderr is a terminal: retry notices and stream summaries show there by default.
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// Writes `s` to stdout and flushes it, so each streamed delta appears as it arrives.
pub fn out(s: &str) {
    let s = &*crate::secrets::mask(s);
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush()) {
        fail_stdout(e);
    }
    if !s.is_empty() {
        LINE_OPEN.store(!s.ends_with('\n'), Ordering::Relaxed);
    }
}

/// Writes one line (a JSON object, a reply) to stdout.
pub fn out_line(s: &str) {
    let s = &*crate::secrets::mask(s);
    let mut stdout = io::stdout().lock();
    let r = stdout
        .write_all(s.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(e) = r {
        fail_stdout(e);
    }
    LINE_OPEN.store(false, Ordering::Relaxed);
}

/// Ends a half-written stream line so that what follows starts on its own line.
pub fn end_open_line() {
    if LINE_OPEN.swap(false, Ordering::Relaxed) {
        out("\n");
    }
}

fn fail_stdout(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(io::stderr(), "llmpipe: error: cannot write to stdout: {e}");
    std::process::exit(1);
}

/// One diagnostic line on stderr; errors writing it are ignored.
pub fn err_line(s: &str) {
    let s = crate::secrets::mask(s);
    let _ = writeln!(io::stderr().lock(), "{s}");
}

pub fn warn(s: &str) {
    err_line(&format!("llmpipe: warning: {s}"));
}

/// A `-v` diagnostic.
pub fn debug(s: &str) {
    if verbose() {
        err_line(&format!("llmpipe: {s}"));
    }
}

/// Prints rows as aligned columns (two spaces apart); `right(i, n)` says whether column `i`
/// of `n` is right-aligned (numbers).
pub fn table<R: AsRef<[String]>>(rows: &[R], right: impl Fn(usize, usize) -> bool) {
    let n = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let row = row.as_ref();
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if right(i, row.len()) {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out_line(cells.join("  ").trim_end());
    }
}
