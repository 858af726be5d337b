//! Where bytes go: results to stdout, everything else to stderr.
//!
//! A closed stdout (`llmpipe … | head -c 10`) is the reader saying it has enough, not an
//! error: the run stops (requests in flight are finished or logged first, see `signals`)
//! and ends quietly with exit 0 (the SPEC). Writes to stderr never fail the run.
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

/// Set once stdout's reader has gone away: later writes are dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when a diagnostic started a new stderr line under an open stream line (terminal).
static STDERR_BROKE_LINE: AtomicBool = AtomicBool::new(false);

/// Whether stdout's reader has gone away (`| head`): the run stops quietly, exit 0.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes `s` to stdout and flushes it, so each streamed delta appears as it arrives.
pub fn out(s: &str) {
    if stdout_closed() {
        return;
    }
    let s = &*crate::secrets::mask(s);
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_all(s.as_bytes()).and_then(|()| stdout.flush()) {
        return fail_stdout(e);
    }
    if !s.is_empty() {
        LINE_OPEN.store(!s.ends_with('\n'), Ordering::Relaxed);
        STDERR_BROKE_LINE.store(false, Ordering::Relaxed);
    }
}

/// Writes one line (a JSON object, a reply) to stdout.
pub fn out_line(s: &str) {
    if stdout_closed() {
        return;
    }
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

/// A closed pipe is not an exit on the spot: the run is told to stop (see `signals`), so
/// requests in flight are finished or logged and the call log is flushed first; `main`
/// then exits 0 without a word.
fn fail_stdout(e: io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        LINE_OPEN.store(false, Ordering::Relaxed);
        crate::signals::stdout_closed();
        return;
    }
    let _ = writeln!(io::stderr(), "llmpipe: error: cannot write to stdout: {e}");
    std::process::exit(1);
}

/// One diagnostic line on stderr; errors writing it are ignored.
/// Under a stream line still open on a terminal, the message starts on a new line of
/// stderr (stdout gets no extra byte for it).
pub fn err_line(s: &str) {
    let s = crate::secrets::mask(s);
    let mut stderr = io::stderr().lock();
    if break_stderr_line(
        LINE_OPEN.load(Ordering::Relaxed),
        STDERR_BROKE_LINE.load(Ordering::Relaxed),
        stderr_is_terminal(),
    ) {
        STDERR_BROKE_LINE.store(true, Ordering::Relaxed);
        let _ = stderr.write_all(b"\n");
    }
    let _ = writeln!(stderr, "{s}");
}

/// Whether a diagnostic must first end the terminal line a stream left open.
fn break_stderr_line(stream_line_open: bool, already_broken: bool, terminal: bool) -> bool {
    stream_line_open && !already_broken && terminal
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

/// A piece of a diagnostic on stderr, without a newline (thinking text as it streams in,
/// with `-v`); keys are masked as in [`err_line`].
pub fn err_piece(s: &str) {
    let _ = io::stderr()
        .lock()
        .write_all(crate::secrets::mask(s).as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_under_an_open_stream_line_starts_on_a_new_terminal_line() {
        assert!(break_stderr_line(true, false, true));
        assert!(!break_stderr_line(true, true, true), "once per open line");
        assert!(!break_stderr_line(false, false, true));
        assert!(
            !break_stderr_line(true, false, false),
            "a file or pipe gets no extra byte"
        );
    }
}
