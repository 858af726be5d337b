//! The response cache: an identical deterministic request (temperature 0 or unset) is
//! answered from here, and nothing is sent or paid. Entries live in the call log's SQLite
//! file (its `cache` table) or, for runners that share them, in Redis.
//!
//! A cache is a shortcut, never a failure: anything that goes wrong is one warning, and
//! after the first failure to reach it the run goes on without it (a hung server would
//! otherwise hold up every request). One connection serves the whole process.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use crate::chat::{Request, Response};
use crate::output;

/// How long a cached response stays valid by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 86_400);

/// How long a Redis cache may take to connect, and then to answer or take a command.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1500);

pub struct Cache {
    store: Store,
    ttl: Duration,
    warned: AtomicBool,
    off: AtomicBool,
}

enum Store {
    Sqlite {
        path: PathBuf,
        conn: Mutex<Option<rusqlite::Connection>>,
    },
    Redis {
        client: redis::Client,
        /// The URL without its password, for messages.
        shown: String,
        conn: Mutex<Option<redis::Connection>>,
    },
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.store {
            Store::Sqlite { path, .. } => write!(f, "Cache(sqlite {})", path.display()),
            Store::Redis { shown, .. } => write!(f, "Cache({shown})"),
        }
    }
}

/// Only requests that are deterministic enough are cached: temperature 0 or unset.
pub fn cacheable(req: &Request) -> bool {
    req.temperature.is_none_or(|t| t == 0.0)
}

/// The key: a hash of the endpoint and the exact body, which never holds the API key.
pub fn key(url: &str, body: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Cache {
    /// Entries in the SQLite file at `path` (the call log's).
    pub fn sqlite(path: PathBuf, ttl: Duration) -> Cache {
        Cache::new(
            Store::Sqlite {
                path,
                conn: Mutex::new(None),
            },
            ttl,
        )
    }

    /// Entries in Redis at `url` (`redis://` or `rediss://`).
    pub fn redis(url: &str, ttl: Duration) -> Result<Cache, String> {
        let client = redis::Client::open(url).map_err(|e| {
            format!(
                "LLMPIPE_CACHE_URL ({}): {e}",
                crate::secrets::redact_url(url)
            )
        })?;
        let store = Store::Redis {
            client,
            shown: crate::secrets::redact_url(url),
            conn: Mutex::new(None),
        };
        Ok(Cache::new(store, ttl))
    }

    fn new(store: Store, ttl: Duration) -> Cache {
        Cache {
            store,
            ttl,
            warned: AtomicBool::new(false),
            off: AtomicBool::new(false),
        }
    }

    /// Whether the cache is still in use this run.
    pub fn on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    /// The stored answer for `key`, if there is a valid one.
    pub fn lookup(&self, key: &str) -> Option<Response> {
        if !self.on() {
            return None;
        }
        match self.get(key) {
            Ok(Some(stored)) => match serde_json::from_str::<Response>(&stored) {
                Ok(response) => Some(response),
                Err(e) => {
                    self.trouble(&format!("unreadable entry: {e}"));
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Stores `response` under `key`; the known secrets are masked first.
    pub fn store(&self, key: &str, response: &Response) {
        if !self.on() {
            return;
        }
        let stored = serde_json::to_string(response).unwrap_or_default();
        let stored = crate::secrets::mask(&stored);
        if let Err(e) = self.put(key, &stored) {
            self.failed(&e);
        }
    }

    /// After a failure to reach the cache, the run goes on without it.
    fn failed(&self, e: &str) {
        self.off.store(true, Ordering::Relaxed);
        self.trouble(e);
    }

    fn trouble(&self, e: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            output::warn(&format!(
                "response cache unavailable, continuing without it: {e}"
            ));
        }
    }

    fn get(&self, key: &str) -> Result<Option<String>, String> {
        match &self.store {
            Store::Sqlite { path, conn } => with_sqlite(path, conn, |c| {
                c.query_row(
                    "SELECT response FROM cache WHERE key = ?1 AND expires > ?2",
                    params![key, unix_now()],
                    |r| r.get(0),
                )
                .optional()
            }),
            Store::Redis {
                client,
                shown,
                conn,
            } => with_redis(client, shown, conn, |c| {
                redis::cmd("GET").arg(format!("llmpipe:{key}")).query(c)
            }),
        }
    }

    fn put(&self, key: &str, value: &str) -> Result<(), String> {
        let secs = self.ttl.as_secs();
        match &self.store {
            Store::Sqlite { path, conn } => with_sqlite(path, conn, |c| {
                let expires = unix_now().saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
                c.execute(
                    "INSERT OR REPLACE INTO cache (key, expires, response) VALUES (?1, ?2, ?3)",
                    params![key, expires, value],
                )
                .map(drop)
            }),
            Store::Redis {
                client,
                shown,
                conn,
            } => with_redis(client, shown, conn, |c| {
                redis::cmd("SET")
                    .arg(format!("llmpipe:{key}"))
                    .arg(value)
                    .arg("EX")
                    .arg(secs.max(1))
                    .query::<()>(c)
            }),
        }
    }
}

/// Runs `f` on the process's one SQLite connection, opening it on first use.
fn with_sqlite<T>(
    path: &std::path::Path,
    slot: &Mutex<Option<rusqlite::Connection>>,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, String> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(crate::store::open(path)?);
    }
    let conn = slot.as_ref().ok_or("no connection")?;
    f(conn).map_err(|e| e.to_string())
}

/// Runs `f` on the process's one Redis connection, opening it on first use.
fn with_redis<T>(
    client: &redis::Client,
    shown: &str,
    slot: &Mutex<Option<redis::Connection>>,
    f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
) -> Result<T, String> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        let conn = client
            .get_connection_with_timeout(REDIS_TIMEOUT)
            .map_err(|e| format!("cannot reach {shown}: {e}"))?;
        conn.set_read_timeout(Some(REDIS_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(REDIS_TIMEOUT)))
            .map_err(|e| format!("{shown}: {e}"))?;
        *slot = Some(conn);
    }
    let conn = slot.as_mut().ok_or("no connection")?;
    f(conn).map_err(|e| format!("{shown}: {e}"))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{FinishReason, Usage};

    fn response(text: &str) -> Response {
        Response {
            text: text.into(),
            finish_reason: FinishReason::Stop,
            provider_finish_reason: None,
            refusal: None,
            usage: Usage::default(),
            model: "m".into(),
            request_id: None,
            tool_input: None,
            reasoning: None,
            tool_calls: Vec::new(),
            thinking: Vec::new(),
        }
    }

    #[test]
    fn sqlite_entries_expire_and_share_one_connection() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::sqlite(dir.path().join("c.db"), Duration::from_secs(60));
        assert_eq!(cache.lookup("k"), None);
        cache.store("k", &response("v"));
        assert_eq!(cache.lookup("k").map(|r| r.text).as_deref(), Some("v"));
        let stale = Cache::sqlite(dir.path().join("c.db"), Duration::ZERO);
        stale.store("k", &response("old"));
        assert_eq!(cache.lookup("k"), None);
        assert!(cache.on() && stale.on());
    }

    #[test]
    fn an_unreachable_cache_is_off_after_one_failure() {
        // A directory cannot be opened as a database.
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::sqlite(dir.path().to_path_buf(), DEFAULT_TTL);
        assert_eq!(cache.lookup("k"), None);
        assert!(!cache.on());
    }
}
