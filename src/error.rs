//! The one error type every command returns, its SPEC category and exit code.
//!
//! `Kind` mirrors the SPEC's `error.type` list one to one, so the exit code and the
//! JSON error object are derived from it and can never disagree.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::result::CallResult;

/// The SPEC's error categories (`error.type` in `--json` output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Config,
    Auth,
    Quota,
    Rejected,
    RateLimited,
    Unavailable,
    Timeout,
    UnusableAnswer,
    Budget,
    Interrupted,
    Internal,
    /// `eval` ran, and a quality gate failed (exit 8).
    QualityGate,
    /// A batch item the provider never ran before the 24-hour window closed.
    Expired,
    /// A batch item that was not run because its batch was canceled.
    Canceled,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Config => "config",
            Kind::Auth => "auth",
            Kind::Quota => "quota",
            Kind::Rejected => "rejected",
            Kind::RateLimited => "rate_limited",
            Kind::Unavailable => "unavailable",
            Kind::Timeout => "timeout",
            Kind::UnusableAnswer => "unusable_answer",
            Kind::Budget => "budget",
            Kind::Interrupted => "interrupted",
            Kind::Internal => "internal",
            Kind::QualityGate => "quality_gate",
            Kind::Expired => "expired",
            Kind::Canceled => "canceled",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Internal => 1,
            Kind::Usage => 2,
            Kind::Config | Kind::Auth | Kind::Quota => 3,
            Kind::Rejected => 4,
            Kind::RateLimited | Kind::Unavailable | Kind::Timeout => 5,
            Kind::UnusableAnswer => 6,
            Kind::Budget => 7,
            Kind::Interrupted => crate::signals::interrupted_exit_code(),
            Kind::QualityGate => 8,
            Kind::Expired | Kind::Canceled => 5,
        }
    }
}

/// An error with everything the diagnostic line, the JSON error object and the retry
/// policy need to know about it.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub status: Option<u16>,
    pub provider: Option<&'static str>,
    pub request_id: Option<String>,
    /// Extra lines printed after the message as `hint: …`.
    pub hint: Option<String>,
    /// Whether the retry policy may try this again (before any output was printed).
    pub retryable: bool,
    /// How long the server asked us to wait (`retry-after-ms` / `retry-after`).
    pub retry_after: Option<Duration>,
    /// For exit 6 (and a budget stop after paid repairs): the paid-for result, printed with
    /// this error under `--json`.
    pub result: Option<Box<CallResult>>,
    /// The command already wrote its outcome to stdout (an `--each-line` run).
    pub stdout_written: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            provider: None,
            request_id: None,
            hint: None,
            retryable: false,
            retry_after: None,
            result: None,
            stdout_written: false,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn retryable(mut self, yes: bool) -> Self {
        self.retryable = yes;
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// The body of the SPEC's `{"error": {...}}` object.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            kind: self.kind.as_str(),
            message: &self.message,
            status: self.status,
            provider: self.provider,
            request_id: self.request_id.as_deref(),
            exit_code: self.exit_code(),
        }
    }

    /// [`Error::body`] as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.body()).unwrap_or(Value::Null)
    }

    /// Attaches the paid-for result that this error is about.
    pub fn with_result(mut self, result: CallResult) -> Self {
        self.result = Some(Box::new(result));
        self
    }

    /// The result of what was paid for before this error, unless it carries one already.
    pub fn or_result(mut self, paid: impl FnOnce() -> CallResult) -> Self {
        if self.result.is_none() {
            self.result = Some(Box::new(paid()));
        }
        self
    }
}

/// The SPEC's error object, member for member.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
    pub status: Option<u16>,
    pub provider: Option<&'static str>,
    pub request_id: Option<&'a str>,
    pub exit_code: i32,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
