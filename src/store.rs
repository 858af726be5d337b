//! The call log: one SQLite file under `$XDG_DATA_HOME/llmpipe/` (which also holds the
//! response cache's table, see `cache.rs`).
//!
//! Logging a call costs one append: each record goes as one JSON line to a spool file beside
//! the database (`log.db.spool`), written with one `write` under a shared lock, so it is on
//! disk (in the OS's hands) before the process can exit and survives a kill. The spool is
//! moved into SQLite in batches, by a background thread when it has grown, and always
//! before the log is read (`logs`, `-c`). Moving claims the spool by renaming it, waits for
//! any append in progress (exclusive lock), inserts its rows and records its name in one
//! transaction, then deletes it: a crash at any point neither loses nor doubles a row.
//!
//! Logging must never slow or fail a request: records go over a channel to a writer thread
//! that batches them into transactions, and anything that goes wrong there is a warning.
//! Many llmpipe processes may write at once: WAL mode and a busy timeout make them wait for
//! each other instead of failing.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use crate::output;

/// Bumped when `SCHEMA` changes; stored in the file's `user_version`.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    command TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    requested_model TEXT,
    prompt TEXT,
    system TEXT,
    messages TEXT NOT NULL,
    input TEXT NOT NULL,
    reply TEXT,
    finish_reason TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    latency_ms INTEGER,
    attempts INTEGER,
    request_id TEXT,
    conversation_id TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    error TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    output TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_conversation ON calls (conversation_id, id);
CREATE INDEX IF NOT EXISTS calls_time ON calls (time);
CREATE VIRTUAL TABLE IF NOT EXISTS calls_fts USING fts5(
    system, input, reply, content='calls', content_rowid='id'
);
-- The full-text index is brought up to date when it is searched (index_for_search), not
-- on every insert: an insert trigger made each logged call rewrite a dozen index pages.
DROP TRIGGER IF EXISTS calls_fts_insert;
CREATE TABLE IF NOT EXISTS spools_moved (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS fts_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_up_to INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    expires INTEGER NOT NULL,
    response TEXT NOT NULL
);
";

/// One answered (or failed) request, as logged. Never holds a key or a header.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub time: String,
    pub command: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub requested_model: Option<String>,
    pub prompt: Option<String>,
    pub system: Option<String>,
    /// The request's messages as JSON (`[{"role","content"}]`, text only).
    pub messages: Value,
    /// The new user turn (what a continued conversation replays).
    pub input: String,
    pub reply: Option<String>,
    pub finish_reason: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
    pub attempts: Option<u64>,
    pub request_id: Option<String>,
    pub conversation_id: String,
    pub exit_code: i32,
    pub error: Option<String>,
    pub cached: bool,
    /// The JSON object the command printed (result or error), for `logs --json`.
    pub output: Value,
}

impl Record {
    /// Masks the known secrets ([`crate::secrets`]) in every text column: a key a server
    /// echoed in an error or a reply is never written to the log.
    pub fn mask_secrets(&mut self) {
        use crate::secrets::{mask_json, mask_string};
        for s in [
            &mut self.time,
            &mut self.command,
            &mut self.input,
            &mut self.conversation_id,
        ] {
            mask_string(s);
        }
        for s in [
            &mut self.provider,
            &mut self.model,
            &mut self.requested_model,
            &mut self.prompt,
            &mut self.system,
            &mut self.reply,
            &mut self.finish_reason,
            &mut self.request_id,
            &mut self.error,
        ]
        .into_iter()
        .flatten()
        {
            mask_string(s);
        }
        mask_json(&mut self.messages);
        mask_json(&mut self.output);
    }
}

/// The default database: `$XDG_DATA_HOME/llmpipe/log.db` (`~/.local/share/…`).
pub fn default_path(env: &crate::config::Env) -> Option<PathBuf> {
    let base = env
        .get("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(&h).join(".local/share")))?;
    Some(base.join("llmpipe").join("log.db"))
}

pub fn open(path: &Path) -> Result<Connection, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Several processes may create the file at once; switching it to WAL needs a moment
    // alone with it, which the busy timeout does not always cover, so try a few times.
    let mut tries = 0;
    loop {
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let setup = conn.busy_timeout(Duration::from_secs(10)).and_then(|()| {
            // Set up once per file (WAL mode persists), not on every start.
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version < SCHEMA_VERSION {
                conn.pragma_update(None, "journal_mode", "WAL")?;
                let tx = conn.unchecked_transaction()?;
                tx.execute_batch(SCHEMA)?;
                // A version-1 file indexed every row by trigger: all of it is searchable.
                let indexed: i64 = if version >= 1 {
                    tx.query_row("SELECT COALESCE(MAX(id), 0) FROM calls", [], |r| r.get(0))?
                } else {
                    0
                };
                tx.execute(
                    "INSERT OR IGNORE INTO fts_state (id, indexed_up_to) VALUES (1, ?1)",
                    [indexed],
                )?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
                tx.commit()?;
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
        });
        match setup {
            Ok(()) => return Ok(conn),
            Err(e) if tries < 20 && is_busy(&e) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10 * tries));
            }
            Err(e) => return Err(format!("cannot set up {}: {e}", path.display())),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn insert(conn: &Connection, r: &Record) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO calls (time, command, provider, model, requested_model, prompt, system,
            messages, input, reply, finish_reason, input_tokens, output_tokens,
            cached_input_tokens, cost_usd, latency_ms, attempts, request_id, conversation_id,
            exit_code, error, cached, output)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21, ?22, ?23)",
        params![
            r.time,
            r.command,
            r.provider,
            r.model,
            r.requested_model,
            r.prompt,
            r.system,
            r.messages.to_string(),
            r.input,
            r.reply,
            r.finish_reason,
            r.input_tokens as i64,
            r.output_tokens as i64,
            r.cached_input_tokens as i64,
            r.cost_usd,
            r.latency_ms.map(|v| v as i64),
            r.attempts.map(|v| v as i64),
            r.request_id,
            r.conversation_id,
            r.exit_code,
            r.error,
            r.cached,
            r.output.to_string(),
        ],
    )?;
    Ok(())
}

/// The spool is moved into SQLite by the background thread once it holds this much.
const SPOOL_MOVE_AT: u64 = 256 << 10;

/// The spool file of the call log at `db`.
pub fn spool_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".spool");
    PathBuf::from(name)
}

/// Appends one record to the spool: one line, one `write`, under a shared lock on the file
/// the path names at that moment (a mover may have just renamed it away). Returns the
/// spool's size after the write.
fn append(spool: &Path, line: &[u8]) -> std::io::Result<u64> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    for _ in 0..100 {
        // Never open a FIFO or a device in its place: it could block, or never end.
        if std::fs::symlink_metadata(spool).is_ok_and(|m| !m.is_file()) {
            return Err(std::io::Error::other(format!(
                "{} is not a regular file",
                spool.display()
            )));
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(spool)?;
        f.lock_shared()?;
        let same = match std::fs::metadata(spool) {
            Ok(m) => m.ino() == f.metadata()?.ino() && m.dev() == f.metadata()?.dev(),
            Err(_) => false,
        };
        if same {
            f.write_all(line)?;
            return Ok(f.metadata()?.len());
        }
    }
    Err(std::io::Error::other("the spool kept being moved away"))
}

/// Moves every row waiting in the spool (and in spools a crashed mover left behind) into
/// the database. Safe to run from several processes at once.
pub fn move_spool(conn: &Connection, db: &Path) -> Result<(), String> {
    let spool = spool_path(db);
    let dir = db.parent().unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.moving-",
        spool.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut claimed = Vec::new();
    // Spools claimed by a mover that died: their lock is free.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                claimed.push(e.path());
            }
        }
    }
    let mine = dir.join(format!(
        "{prefix}{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    if std::fs::symlink_metadata(&spool).is_ok_and(|m| !m.is_file()) {
        output::warn(&format!(
            "{} is not a regular file: calls logged there are not read (remove it)",
            spool.display()
        ));
        return Ok(());
    }
    match std::fs::rename(&spool, &mine) {
        Ok(()) => move_one(conn, &mine, true)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot move {}: {e}", spool.display())),
    }
    for path in claimed {
        move_one(conn, &path, false)?;
    }
    Ok(())
}

/// Moves one claimed spool. `mine`: just claimed by this call, so appends still in
/// progress on it are waited for; any other claim is taken only if nobody holds it.
fn move_one(conn: &Connection, path: &Path, mine: bool) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(()); // not one of ours
    }
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(()); // another mover finished it
    };
    if mine {
        file.lock().map_err(|e| e.to_string())?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.to_string()),
        }
    }
    // Another mover may have finished this file while we waited for it.
    let meta = file.metadata().map_err(|e| e.to_string())?;
    match std::fs::metadata(path) {
        Ok(m) if m.ino() == meta.ino() && m.dev() == meta.dev() => {}
        _ => return Ok(()),
    }
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    // Read a line at a time inside the transaction: a long run's spool can hold many MB,
    // and reading it whole (or parsing it into a list first) made memory grow with it.
    let read_err = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let sql_err = |e: rusqlite::Error| format!("cannot move the spool into the call log: {e}");
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let done = tx
        .query_row(
            "SELECT 1 FROM spools_moved WHERE name = ?1",
            [&name],
            |_| Ok(()),
        )
        .optional()
        .map_err(sql_err)?
        .is_some();
    if !done {
        use std::io::BufRead as _;
        let mut reader = std::io::BufReader::with_capacity(64 << 10, &file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
                break;
            }
            let record = line.strip_suffix(b"\n").unwrap_or(&line);
            if record.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Record>(record) {
                Ok(r) => insert(&tx, &r).map_err(sql_err)?,
                Err(e) => output::warn(&format!(
                    "a line of the call log's spool {} is not a record and is skipped: {e}",
                    path.display()
                )),
            }
        }
        tx.execute("INSERT INTO spools_moved (name) VALUES (?1)", [&name])
            .map_err(sql_err)?;
    }
    tx.commit().map_err(sql_err)?;
    // Deleted only once its rows are committed; a crash before this line leaves a file
    // whose name the database already lists as moved.
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Opens the call log and moves the spool into it first, for reading.
pub fn open_for_reading(path: &Path) -> Result<Connection, String> {
    let conn = open(path)?;
    move_spool(&conn, path)?;
    Ok(conn)
}

/// Logs calls: each record is appended to the spool at once (see the module docs). Once
/// the spool has grown past [`SPOOL_MOVE_AT`] (seen at start or after an append), a thread
/// moves it into SQLite, overlapping the request; a single call usually starts none.
pub struct Logger {
    db: PathBuf,
    spool: PathBuf,
    warned: std::sync::atomic::AtomicBool,
    mover: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Logger {
    pub fn start(db: PathBuf) -> Logger {
        let spool = spool_path(&db);
        if let Some(dir) = db.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let logger = Logger {
            db,
            warned: std::sync::atomic::AtomicBool::new(false),
            mover: std::sync::Mutex::new(None),
            spool,
        };
        if std::fs::metadata(&logger.spool).is_ok_and(|m| m.len() >= SPOOL_MOVE_AT) {
            logger.start_move();
        }
        logger
    }

    /// Starts moving the spool into SQLite on a thread of its own, unless a move is running.
    fn start_move(&self) {
        let mut mover = self.mover.lock().unwrap_or_else(|e| e.into_inner());
        if mover.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        if let Some(done) = mover.take() {
            let _ = done.join();
        }
        let db = self.db.clone();
        *mover = Some(std::thread::spawn(move || {
            if let Err(e) = open(&db).and_then(|c| move_spool(&c, &db)) {
                output::warn(&format!("the call log is behind: {e}"));
            }
        }));
    }

    pub fn log(&self, mut record: Record) {
        record.mask_secrets();
        let mut line = serde_json::to_vec(&record).unwrap_or_default();
        line.push(b'\n');
        match append(&self.spool, &line) {
            Ok(size) if size >= SPOOL_MOVE_AT => self.start_move(),
            Ok(_) => {}
            Err(e) => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    output::warn(&format!(
                        "the call log {} is not written: {}: {e}",
                        self.db.display(),
                        self.spool.display()
                    ));
                }
            }
        }
    }

    /// Waits for a move in progress to commit.
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        let mover = self.mover.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = mover {
            let _ = h.join();
        }
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.close();
    }
}

/// A previous turn of a conversation: what the user sent and what came back.
#[derive(Debug, Clone)]
pub struct Turn {
    pub input: String,
    pub reply: String,
    pub system: Option<String>,
    /// The logged `messages` column (a call with tools keeps its tool turns there).
    pub messages: Option<Value>,
}

pub fn last_conversation(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT conversation_id FROM calls WHERE exit_code = 0 ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .optional()
}

/// The successful turns of a conversation, oldest first.
pub fn turns(conn: &Connection, conversation: &str) -> rusqlite::Result<Vec<Turn>> {
    let mut stmt = conn.prepare(
        "SELECT input, reply, system, messages FROM calls
         WHERE conversation_id = ?1 AND exit_code = 0 AND reply IS NOT NULL ORDER BY id",
    )?;
    stmt.query_map([conversation], |r| {
        Ok(Turn {
            input: r.get(0)?,
            reply: r.get(1)?,
            system: r.get(2)?,
            messages: r
                .get::<_, String>(3)
                .ok()
                .and_then(|m| serde_json::from_str(&m).ok()),
        })
    })?
    .collect()
}

/// Adds the calls logged since the last search to the full-text index, in one write
/// transaction (so concurrent searches never index a row twice).
pub fn index_for_search(conn: &Connection) -> rusqlite::Result<()> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let done: i64 = tx.query_row(
        "SELECT indexed_up_to FROM fts_state WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    let last: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM calls", [], |r| r.get(0))?;
    if last > done {
        tx.execute(
            "INSERT INTO calls_fts (rowid, system, input, reply)
             SELECT id, system, input, reply FROM calls WHERE id > ?1 AND id <= ?2",
            [done, last],
        )?;
        tx.execute(
            "UPDATE fts_state SET indexed_up_to = ?1 WHERE id = 1",
            [last],
        )?;
    }
    tx.commit()
}

/// `logs` filters.
#[derive(Debug, Default)]
pub struct Filter {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub since: Option<String>,
    pub conversation: Option<String>,
    pub text: Option<String>,
}

impl Filter {
    fn sql(&self) -> (String, Vec<String>) {
        let mut clauses = Vec::new();
        let mut args = Vec::new();
        if let Some(m) = &self.model {
            args.push(m.clone());
            args.push(m.clone());
            clauses.push(format!(
                "(model = ?{} OR requested_model = ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        if let Some(p) = &self.prompt {
            // `name` matches every version, `name@v2` one
            args.push(p.clone());
            args.push(format!("{p}@%"));
            clauses.push(format!(
                "(prompt = ?{} OR prompt LIKE ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        if let Some(s) = &self.since {
            args.push(s.clone());
            clauses.push(format!("time >= ?{}", args.len()));
        }
        if let Some(c) = &self.conversation {
            args.push(c.clone());
            clauses.push(format!("conversation_id = ?{}", args.len()));
        }
        if let Some(q) = &self.text {
            args.push(fts_query(q));
            clauses.push(format!(
                "id IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?{})",
                args.len()
            ));
        }
        let sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (sql, args)
    }
}

/// Each word of a free-text query as an FTS5 phrase, so punctuation in it is not syntax.
fn fts_query(q: &str) -> String {
    q.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of `logs`.
#[derive(Debug)]
pub struct Row {
    pub id: i64,
    pub time: String,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: Option<f64>,
    pub exit_code: i32,
    pub cached: bool,
    pub conversation_id: String,
    pub reply: Option<String>,
    pub error: Option<String>,
    pub output: String,
}

/// The last `limit` matching calls, oldest first.
pub fn rows(conn: &Connection, filter: &Filter, limit: usize) -> rusqlite::Result<Vec<Row>> {
    if filter.text.is_some() {
        index_for_search(conn)?;
    }
    let (clause, args) = filter.sql();
    let sql = format!(
        "SELECT id, time, model, prompt, input_tokens, output_tokens, cost_usd, exit_code, cached,
                conversation_id, reply, error, output
         FROM calls {clause} ORDER BY id DESC LIMIT {limit}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows: Vec<Row> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(Row {
                id: r.get(0)?,
                time: r.get(1)?,
                model: r.get(2)?,
                prompt: r.get(3)?,
                input_tokens: r.get(4)?,
                output_tokens: r.get(5)?,
                cost_usd: r.get(6)?,
                exit_code: r.get(7)?,
                cached: r.get(8)?,
                conversation_id: r.get(9)?,
                reply: r.get(10)?,
                error: r.get(11)?,
                output: r.get(12)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.reverse();
    Ok(rows)
}

/// One group of `logs cost`.
#[derive(Debug)]
pub struct CostGroup {
    pub key: String,
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    /// Calls that were paid for (tokens used, or cut off in flight) at an unknown price.
    pub cost_unknown: i64,
}

/// Spend grouped by `by` (`model`, `prompt` or `day`).
pub fn cost(conn: &Connection, filter: &Filter, by: &str) -> rusqlite::Result<Vec<CostGroup>> {
    if filter.text.is_some() {
        index_for_search(conn)?;
    }
    let key = match by {
        "prompt" => "COALESCE(prompt, '-')",
        "day" => "substr(time, 1, 10)",
        _ => "COALESCE(model, '-')",
    };
    let (clause, args) = filter.sql();
    let sql = format!(
        "SELECT {key} AS k, COUNT(*), SUM(input_tokens), SUM(output_tokens), COALESCE(SUM(cost_usd), 0),
                SUM(cost_usd IS NULL AND (input_tokens + output_tokens > 0 OR exit_code IN (130, 143)))
         FROM calls {clause} GROUP BY k ORDER BY SUM(cost_usd) DESC, k"
    );
    let mut stmt = conn.prepare(&sql)?;
    stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok(CostGroup {
            key: r.get(0)?,
            calls: r.get(1)?,
            input_tokens: r.get(2)?,
            output_tokens: r.get(3)?,
            cost_usd: r.get(4)?,
            cost_unknown: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
        })
    })?
    .collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC); sorts as text in time order.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `--since`: a date or time (`2026-11-01`, `2026-11-01T12:00:00Z`) or an age (`30m`,
/// `2h`, `7d`, `1w`).
pub fn parse_since(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        return Some(s.to_string());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        "w" => n.checked_mul(7 * 86_400),
        _ => return None,
    }?;
    // An age before 1970 is no age at all (and would overflow): a usage error.
    let when = SystemTime::now().checked_sub(Duration::from_secs(secs))?;
    when.duration_since(UNIX_EPOCH).ok()?;
    Some(rfc3339(when))
}

/// A fresh conversation id: time and process, so ids sort by creation.
pub fn new_conversation_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("c{:x}{:05x}", nanos / 1000, std::process::id() & 0xfffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_764_075_600)),
            "2025-11-25T13:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("2026-11-01").unwrap(), "2026-11-01");
        assert!(parse_since("2h").unwrap() < rfc3339(SystemTime::now()));
        assert!(parse_since("2x").is_none());
        assert!(parse_since("h").is_none());
        assert!(parse_since("18446744073709551615m").is_none());
        assert!(parse_since("18446744073709551615s").is_none());
    }

    #[test]
    fn log_round_trip_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let logger = Logger::start(path.clone());
        for (i, model) in ["gpt-4o", "claude-haiku-4-5", "gpt-4o"].iter().enumerate() {
            logger.log(Record {
                time: format!("2026-11-2{i}T10:00:00Z"),
                command: "complete".into(),
                model: Some(model.to_string()),
                input: format!("question {i} about \"rust\""),
                reply: Some(format!("answer {i}")),
                conversation_id: "c1".into(),
                cost_usd: Some(0.5),
                output_tokens: 10,
                messages: serde_json::json!([]),
                output: serde_json::json!({"n": i}),
                ..Default::default()
            });
        }
        logger.finish();
        let conn = open_for_reading(&path).unwrap();
        let all = rows(&conn, &Filter::default(), 10).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].output, "{\"n\":0}");
        let f = Filter {
            model: Some("gpt-4o".into()),
            ..Default::default()
        };
        assert_eq!(rows(&conn, &f, 10).unwrap().len(), 2);
        let f = Filter {
            text: Some("\"rust\" question".into()),
            since: Some("2026-11-21".into()),
            ..Default::default()
        };
        assert_eq!(rows(&conn, &f, 10).unwrap().len(), 2);
        let by_model = cost(&conn, &Filter::default(), "model").unwrap();
        assert_eq!(by_model[0].key, "gpt-4o");
        assert_eq!(by_model[0].calls, 2);
        assert_eq!(turns(&conn, "c1").unwrap().len(), 3);
        assert_eq!(last_conversation(&conn).unwrap().as_deref(), Some("c1"));
    }

    #[test]
    fn search_indexes_new_calls_and_a_version_1_file_keeps_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        // A file as version 1 wrote it: every row indexed by an insert trigger.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE calls (id INTEGER PRIMARY KEY, time TEXT NOT NULL, command TEXT NOT NULL,
                    provider TEXT, model TEXT, requested_model TEXT, prompt TEXT, system TEXT,
                    messages TEXT NOT NULL, input TEXT NOT NULL, reply TEXT, finish_reason TEXT,
                    input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
                    cached_input_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, latency_ms INTEGER,
                    attempts INTEGER, request_id TEXT, conversation_id TEXT NOT NULL,
                    exit_code INTEGER NOT NULL, error TEXT, cached INTEGER NOT NULL DEFAULT 0,
                    output TEXT NOT NULL);
                 CREATE VIRTUAL TABLE calls_fts USING fts5(system, input, reply, content='calls', content_rowid='id');
                 CREATE TRIGGER calls_fts_insert AFTER INSERT ON calls BEGIN
                    INSERT INTO calls_fts (rowid, system, input, reply) VALUES (new.id, new.system, new.input, new.reply);
                 END;
                 CREATE TABLE cache (key TEXT PRIMARY KEY, expires INTEGER NOT NULL, response TEXT NOT NULL);
                 INSERT INTO calls (time, command, messages, input, conversation_id, exit_code, output)
                    VALUES ('2026-11-20T10:00:00Z', 'complete', '[]', 'old walrus', 'c0', 0, '{}');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let logger = Logger::start(path.clone());
        for i in 0..3 {
            logger.log(Record {
                time: format!("2026-11-2{i}T11:00:00Z"),
                command: "complete".into(),
                input: format!("new walrus {i}"),
                conversation_id: "c1".into(),
                messages: serde_json::json!([]),
                output: serde_json::json!({}),
                ..Default::default()
            });
        }
        logger.finish();
        let conn = open_for_reading(&path).unwrap();
        let trigger: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(trigger, 0, "logging no longer indexes on insert");
        let walrus = Filter {
            text: Some("walrus".into()),
            ..Default::default()
        };
        assert_eq!(rows(&conn, &walrus, 10).unwrap().len(), 4);
        // Searching again indexes nothing twice.
        assert_eq!(rows(&conn, &walrus, 10).unwrap().len(), 4);
        assert_eq!(cost(&conn, &walrus, "model").unwrap()[0].calls, 4);
    }

    /// A mover that died before committing leaves its claimed file, which the next move
    /// takes over; one that died after committing leaves a file whose rows are not added
    /// twice. A line cut short is skipped, the rest kept.
    #[test]
    fn claimed_spools_of_dead_movers_are_moved_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("log.db");
        let record = |input: &str| Record {
            time: "2026-11-29T10:00:00Z".into(),
            command: "complete".into(),
            input: input.into(),
            conversation_id: "c".into(),
            messages: serde_json::json!([]),
            output: serde_json::json!({}),
            ..Default::default()
        };
        let line = |r: &Record| format!("{}\n", serde_json::to_string(r).unwrap());
        let conn = open(&db).unwrap();
        let before = dir.path().join("log.db.spool.moving-1-1");
        std::fs::write(&before, line(&record("lost mover")) + "{\"cut").unwrap();
        let after = dir.path().join("log.db.spool.moving-2-2");
        std::fs::write(&after, line(&record("already moved"))).unwrap();
        conn.execute(
            "INSERT INTO spools_moved (name) VALUES ('log.db.spool.moving-2-2')",
            [],
        )
        .unwrap();
        append(&spool_path(&db), line(&record("fresh")).as_bytes()).unwrap();
        move_spool(&conn, &db).unwrap();
        move_spool(&conn, &db).unwrap();
        let inputs: Vec<String> = conn
            .prepare("SELECT input FROM calls ORDER BY input")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(inputs, ["fresh", "lost mover"]);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("spool"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// A long run's spool is moved into SQLite as it grows, not only when the log is read.
    #[test]
    fn a_growing_spool_is_moved_by_the_logger() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("log.db");
        let logger = Logger::start(db.clone());
        for i in 0..400 {
            logger.log(Record {
                time: "2026-11-29T10:00:00Z".into(),
                command: "complete".into(),
                input: format!("{i} {}", "x".repeat(2000)),
                conversation_id: "c".into(),
                messages: serde_json::json!([]),
                output: serde_json::json!({}),
                ..Default::default()
            });
        }
        logger.finish();
        let conn = open(&db).unwrap();
        let moved: i64 = conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
            .unwrap();
        assert!(moved >= 100, "{moved} of 400 moved while logging");
        let conn = open_for_reading(&db).unwrap();
        let all: i64 = conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
            .unwrap();
        assert_eq!(all, 400);
    }
}
