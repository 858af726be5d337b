//! Batch jobs in llmpipe's local database (the call log's file): the job (local id,
//! provider, model, options, provider batch ids), each item's input (so results can be
//! paired with it) or the line it already has (an item that failed before it was sent, or
//! one copied from a `--resume` file), and per provider batch the exact counts once its
//! results were read and whether its spend is in the call log.
//!
//! The tables are created here, beside the call log's, with `IF NOT EXISTS`: they need no
//! schema version of their own.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::provider::batch::Counts;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batch_jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    items INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    created INTEGER NOT NULL,
    options TEXT NOT NULL,
    batches TEXT NOT NULL DEFAULT '[]',
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batch_items (
    job TEXT NOT NULL,
    idx INTEGER NOT NULL,
    part INTEGER,
    input TEXT,
    line TEXT,
    PRIMARY KEY (job, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch_parts (
    batch_id TEXT PRIMARY KEY,
    counts TEXT,
    logged INTEGER NOT NULL DEFAULT 0
);
";

/// What the results need to judge and describe each answer as the live command would.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Options {
    /// `complete`, `extract-json` or `classify`.
    pub task: String,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    pub max_tokens: u64,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub prompt_name: Option<String>,
    pub requested_model: String,
    /// The job's part of every `custom_id`.
    pub tag: String,
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub provider: String,
    pub model: String,
    pub items: u64,
    pub submitted_at: String,
    /// Unix seconds of submission.
    pub created: i64,
    pub options: Options,
    pub batches: Vec<String>,
    pub cancel_requested: bool,
}

pub struct Jobs {
    pub conn: Connection,
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::config(format!("llmpipe's database: {e}"))
}

impl Jobs {
    pub fn open(path: &Path) -> Result<Jobs> {
        let conn = crate::store::open(path).map_err(Error::config)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(Jobs { conn })
    }

    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN").map_err(db_err)
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(db_err)
    }

    pub fn insert_job(&self, job: &JobRow) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO batch_jobs (id, provider, model, items, submitted_at, created, options, batches)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    job.id,
                    job.provider,
                    job.model,
                    job.items as i64,
                    job.submitted_at,
                    job.created,
                    serde_json::to_string(&job.options).unwrap_or_default(),
                    serde_json::to_string(&job.batches).unwrap_or_default(),
                ],
            )
            .map_err(db_err)?;
        Ok(())
    }

    pub fn insert_item(
        &self,
        job: &str,
        index: usize,
        input: Option<&Value>,
        line: Option<&str>,
    ) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO batch_items (job, idx, input, line) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?;
        st.execute(params![
            job,
            index as i64,
            input.map(Value::to_string),
            line
        ])
        .map_err(db_err)?;
        Ok(())
    }

    /// Items `indexes` went into provider batch number `part`.
    pub fn set_part(&self, job: &str, indexes: &[usize], part: usize) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached("UPDATE batch_items SET part = ?3 WHERE job = ?1 AND idx = ?2")
            .map_err(db_err)?;
        for i in indexes {
            st.execute(params![job, *i as i64, part as i64])
                .map_err(db_err)?;
        }
        Ok(())
    }

    pub fn set_batches(&self, job: &str, batches: &[String], items: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE batch_jobs SET batches = ?2, items = ?3 WHERE id = ?1",
                params![
                    job,
                    serde_json::to_string(batches).unwrap_or_default(),
                    items as i64
                ],
            )
            .map_err(db_err)?;
        Ok(())
    }

    pub fn delete(&self, job: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM batch_items WHERE job = ?1", [job])
            .map_err(db_err)?;
        self.conn
            .execute("DELETE FROM batch_jobs WHERE id = ?1", [job])
            .map_err(db_err)?;
        Ok(())
    }

    pub fn set_cancel_requested(&self, job: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE batch_jobs SET cancel_requested = 1 WHERE id = ?1",
                [job],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
        let options: String = r.get(6)?;
        let batches: String = r.get(7)?;
        Ok(JobRow {
            id: r.get(0)?,
            provider: r.get(1)?,
            model: r.get(2)?,
            items: r.get::<_, i64>(3)? as u64,
            submitted_at: r.get(4)?,
            created: r.get(5)?,
            options: serde_json::from_str(&options).unwrap_or_default(),
            batches: serde_json::from_str(&batches).unwrap_or_default(),
            cancel_requested: r.get::<_, i64>(8)? != 0,
        })
    }

    const COLUMNS: &'static str =
        "id, provider, model, items, submitted_at, created, options, batches, cancel_requested";

    /// The job with this local id, or the job holding this provider batch id.
    pub fn find(&self, id: &str) -> Result<Option<JobRow>> {
        let sql = format!(
            "SELECT {} FROM batch_jobs WHERE id = ?1
             OR EXISTS (SELECT 1 FROM json_each(batches) WHERE value = ?1)
             ORDER BY seq DESC LIMIT 1",
            Self::COLUMNS
        );
        self.conn
            .query_row(&sql, [id], Self::row)
            .optional()
            .map_err(db_err)
    }

    pub fn latest(&self) -> Result<Option<JobRow>> {
        Ok(self.list(1)?.into_iter().next())
    }

    pub fn list(&self, n: usize) -> Result<Vec<JobRow>> {
        let sql = format!(
            "SELECT {} FROM batch_jobs ORDER BY seq DESC LIMIT ?1",
            Self::COLUMNS
        );
        let mut st = self.conn.prepare(&sql).map_err(db_err)?;
        st.query_map([n.min(i64::MAX as usize) as i64], Self::row)
            .map_err(db_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db_err)
    }

    /// The item the `line`-th request (from 1) of provider batch `part` was.
    pub fn item_at_line(&self, job: &str, part: usize, line: u64) -> Result<Option<usize>> {
        if line == 0 {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT idx FROM batch_items WHERE job = ?1 AND part = ?2 ORDER BY idx LIMIT 1 OFFSET ?3",
                params![job, part as i64, (line - 1) as i64],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|o| o.map(|i| i as usize))
            .map_err(db_err)
    }

    pub fn exact_counts(&self, batch_id: &str) -> Result<Option<Counts>> {
        let counts: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT counts FROM batch_parts WHERE batch_id = ?1",
                [batch_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        Ok(counts.flatten().and_then(|c| serde_json::from_str(&c).ok()))
    }

    /// The number of the job's items sent in provider batch `part`.
    pub fn items_in_part(&self, job: &str, part: usize) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM batch_items WHERE job = ?1 AND part = ?2",
                params![job, part as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db_err)
    }

    pub fn set_exact_counts(&self, batch_id: &str, counts: &Counts) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO batch_parts (batch_id, counts) VALUES (?1, ?2)
                 ON CONFLICT (batch_id) DO UPDATE SET counts = excluded.counts",
                params![batch_id, serde_json::to_string(counts).unwrap_or_default()],
            )
            .map_err(db_err)?;
        Ok(())
    }

    /// Marks the batch's spend as logged; false if it already was.
    pub fn claim_logging(&self, batch_id: &str) -> Result<bool> {
        self.conn
            .execute(
                "INSERT INTO batch_parts (batch_id, logged) VALUES (?1, 0) ON CONFLICT DO NOTHING",
                [batch_id],
            )
            .map_err(db_err)?;
        let n = self
            .conn
            .execute(
                "UPDATE batch_parts SET logged = 1 WHERE batch_id = ?1 AND logged = 0",
                [batch_id],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }
}
