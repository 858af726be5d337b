//! The retry policy, in one place: which failures are retried and how long to wait.
//!
//! Classification follows the official SDKs (PROTOCOLS.md section C): 408, 409, 429 and
//! 5xx (529 included) are retried, other 4xx fail at once, OpenAI's `insufficient_quota`
//! 429 is never retried, and `x-should-retry` overrides the status rule.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::error::{Error, Kind};

/// The longest server-requested wait we honour; longer requests end the run (exit 5).
pub const MAX_HONOURED_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Policy {
    /// Retries after the first attempt (`--retries`).
    pub retries: u32,
    /// First backoff delay; doubles each retry up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl Policy {
    /// How long to wait before retry number `retry` (0-based), or the error to stop with
    /// when the server asks for more than we will wait.
    pub fn wait(&self, retry: u32, err: &Error) -> Result<Duration, Error> {
        match err.retry_after {
            Some(d) if d > MAX_HONOURED_WAIT => {
                let mut stop = err.clone();
                stop.retryable = false;
                stop.message = format!(
                    "{} (the server asked to wait {:.0} s before retrying, more than the {} s llmpipe waits)",
                    err.message,
                    d.as_secs_f64().ceil(),
                    MAX_HONOURED_WAIT.as_secs()
                );
                Err(stop)
            }
            Some(d) if !d.is_zero() => Ok(d),
            _ => Ok(self.backoff(retry)),
        }
    }

    /// `min(base * 2^n, max)` shortened by up to 25% of jitter, as the SDKs do, so many
    /// clients that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_delay);
        exp.mul_f64(1.0 - 0.25 * jitter())
    }
}

/// A number in [0, 1) that differs between processes and calls; statistical quality
/// does not matter here.
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        x = now ^ (u64::from(std::process::id()) << 32) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The error category of an HTTP status. `quota` marks OpenAI's `insufficient_quota`.
pub fn classify_status(status: u16, quota: bool, message: String) -> Error {
    let (kind, retryable) = match status {
        401 | 403 => (Kind::Auth, false),
        429 if quota => (Kind::Quota, false),
        429 => (Kind::RateLimited, true),
        408 | 409 => (Kind::Unavailable, true),
        500.. => (Kind::Unavailable, true),
        400..=499 => (Kind::Rejected, false),
        _ => (Kind::Unavailable, false),
    };
    let mut err = Error::new(kind, message).retryable(retryable);
    err.hint = match kind {
        Kind::Auth => Some("check the API key and that it may use this model".into()),
        Kind::Quota => Some("the account has no credit left: add credit, then run again".into()),
        _ => None,
    };
    err
}

/// Applies `x-should-retry` and the `retry-after-ms` / `retry-after` headers.
pub fn apply_server_hints(err: &mut Error, headers: &HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    match get("x-should-retry") {
        Some("true") => err.retryable = true,
        Some("false") => err.retryable = false,
        _ => {}
    }
    err.retry_after = retry_after(get("retry-after-ms"), get("retry-after"), SystemTime::now());
}

/// `retry-after-ms` (milliseconds) wins over `retry-after` (seconds or an HTTP date).
pub fn retry_after(ms: Option<&str>, secs: Option<&str>, now: SystemTime) -> Option<Duration> {
    let finite = |f: f64| (f.is_finite() && f >= 0.0).then_some(f);
    // A wait too long for a Duration (`1e30`) is still a wait: far above the cap.
    let wait = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX);
    if let Some(ms) = ms.and_then(|v| v.parse::<f64>().ok()).and_then(finite) {
        return Some(wait(ms / 1000.0));
    }
    let secs = secs?;
    if let Some(s) = secs.parse::<f64>().ok().and_then(finite) {
        return Some(wait(s));
    }
    let date = httpdate::parse_http_date(secs).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let k = |s, q| {
            let e = classify_status(s, q, String::new());
            (e.kind, e.retryable)
        };
        assert_eq!(k(429, false), (Kind::RateLimited, true));
        assert_eq!(k(429, true), (Kind::Quota, false));
        assert_eq!(k(529, false), (Kind::Unavailable, true));
        assert_eq!(k(409, false), (Kind::Unavailable, true));
        assert_eq!(k(400, false), (Kind::Rejected, false));
        assert_eq!(k(413, false), (Kind::Rejected, false));
        assert_eq!(k(403, false), (Kind::Auth, false));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(Some("250"), Some("7"), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(None, Some("1.5"), now),
            Some(Duration::from_millis(1500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(None, Some(&date), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(Some("x"), Some("nonsense"), now), None);
        assert_eq!(retry_after(None, Some("-3"), now), None);
        assert_eq!(retry_after(Some("1e30"), None, now), Some(Duration::MAX));
        assert_eq!(retry_after(None, Some("1e300"), now), Some(Duration::MAX));
        let mut e = Error::new(Kind::RateLimited, "openai 429").retryable(true);
        e.retry_after = Some(Duration::MAX);
        assert!(Policy::default().wait(0, &e).is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = Policy::default();
        for n in 0..8 {
            let full = (0.5 * 2f64.powi(n as i32)).min(8.0);
            let d = p.backoff(n).as_secs_f64();
            assert!(d <= full && d >= full * 0.75, "retry {n}: {d}");
        }
    }

    #[test]
    fn long_server_wait_stops() {
        let p = Policy::default();
        let mut e = Error::new(Kind::RateLimited, "openai 429").retryable(true);
        e.retry_after = Some(Duration::from_secs(61));
        let stop = p.wait(0, &e).unwrap_err();
        assert!(stop.message.contains("61 s"));
        e.retry_after = Some(Duration::from_millis(20));
        assert_eq!(p.wait(0, &e).unwrap(), Duration::from_millis(20));
    }
}
