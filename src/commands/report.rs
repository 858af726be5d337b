//! How a failed command reports: the message (and hint) on stderr, and with `--json` one
//! JSON object on stdout in the command's own shape, so `| jq` never reads nothing.

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::output;
use crate::result::Line;

/// How a command's output is shaped, for reporting a failure in the same shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub json: bool,
    /// JSON Lines with a `type` member (stream --json).
    pub typed_lines: bool,
}

impl Shape {
    pub fn of(cli: &Cli) -> Shape {
        let json = cli.json();
        Shape {
            json,
            typed_lines: json && matches!(cli.command, Command::Stream(_)),
        }
    }
}

pub fn report(err: &Error, shape: Shape) {
    output::end_open_line();
    output::err_line(&format!("llmpipe: error: {}", err.message));
    if let Some(hint) = &err.hint {
        output::err_line(&format!("hint: {hint}"));
    }
    if shape.json && !err.stdout_written {
        let result = err.result.as_deref();
        let kind = match (shape.typed_lines, result) {
            (false, _) => None,
            (true, Some(_)) => Some("result"),
            (true, None) => Some("error"),
        };
        let line = Line {
            kind,
            result,
            error: Some(err.body()),
            ..Line::default()
        };
        output::out_line(&line.to_json());
    }
}
