//! Ctrl-C, SIGTERM and a closed stdout: the three ways a run is told to stop early.
//!
//! `main` installs the handlers before anything else happens, so the default disposition
//! (die at once, losing log rows and `interrupted` lines) never applies. A signal is
//! recorded here and announced to whoever waits ([`stopped`]); a broken stdout pipe is
//! announced the same way, so an `--each-line` run stops starting new items, lets those in
//! flight finish (and be logged), and ends quietly with exit 0.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use tokio::sync::watch;

/// Why the run stops: `SIGINT`, `SIGTERM`, or `PIPE` (stdout was closed by its reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
    ClosedStdout,
}

impl Stop {
    /// How a message says it: "terminated (SIGTERM)" or "interrupted".
    pub fn what(self) -> &'static str {
        match self {
            Stop::Terminate => "terminated (SIGTERM)",
            _ => "interrupted",
        }
    }
}

/// The first stop reason: 0 none, 2 SIGINT, 15 SIGTERM, -1 closed stdout.
static FIRST: AtomicI32 = AtomicI32::new(0);
/// How many signals (not pipe closures) arrived.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

fn events() -> &'static watch::Sender<u32> {
    static TX: OnceLock<watch::Sender<u32>> = OnceLock::new();
    TX.get_or_init(|| watch::channel(0).0)
}

fn record(reason: i32) {
    let _ = FIRST.compare_exchange(0, reason, Ordering::SeqCst, Ordering::SeqCst);
    if reason > 0 {
        SIGNALS.fetch_add(1, Ordering::SeqCst);
    }
    events().send_modify(|n| *n += 1);
}

/// Registers the SIGINT and SIGTERM handlers; call inside the runtime, before any work.
/// A handler that cannot be installed leaves the default behaviour (a warning says so).
pub fn install(rt: &tokio::runtime::Runtime) {
    use tokio::signal::unix::{SignalKind, signal};
    let _guard = rt.enter();
    for (kind, code) in [(SignalKind::interrupt(), 2), (SignalKind::terminate(), 15)] {
        match signal(kind) {
            Ok(mut s) => {
                rt.spawn(async move {
                    while s.recv().await.is_some() {
                        record(code);
                    }
                });
            }
            Err(e) => crate::output::warn(&format!("cannot handle signal {code}: {e}")),
        }
    }
}

/// Called by `output` when stdout's reader has gone away.
pub fn stdout_closed() {
    record(-1);
}

/// Why the run was told to stop, if it was.
pub fn reason() -> Option<Stop> {
    match FIRST.load(Ordering::SeqCst) {
        2 => Some(Stop::Interrupt),
        15 => Some(Stop::Terminate),
        -1 => Some(Stop::ClosedStdout),
        _ => None,
    }
}

/// The number of signals received so far (a second Ctrl-C cuts clean-up short).
pub fn signal_count() -> u32 {
    SIGNALS.load(Ordering::SeqCst)
}

/// The exit code of an interrupted run: 143 after SIGTERM, else 130.
pub fn interrupted_exit_code() -> i32 {
    if FIRST.load(Ordering::SeqCst) == 15 {
        143
    } else {
        130
    }
}

/// Waits until the run is told to stop (at once if it already was).
pub async fn stopped() -> Stop {
    let mut rx = events().subscribe();
    loop {
        if let Some(r) = reason() {
            return r;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for a signal after the first `seen` ones.
pub async fn signal_after(seen: u32) {
    let mut rx = events().subscribe();
    loop {
        if signal_count() > seen {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
