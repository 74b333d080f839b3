//! The worker registry: every process that runs jobs (a `serve` node with its pool, or a
//! `worker`) keeps a row alive with its heartbeat, so `health` can count the whole fleet and
//! say which GPU each worker has.

use serde::Serialize;

use super::{now_ms, Db};

/// One worker process as it registered itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Worker {
    pub id: String,
    pub endpoint: String,
    /// GPU adapter name, `None` where the worker has no usable GPU.
    pub gpu: Option<String>,
    pub host: String,
    /// Jobs it runs at once.
    pub slots: i64,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// The row counts as alive until then.
    pub expires_at: i64,
    /// Jobs it runs now.
    pub running: i64,
}

/// What a worker says about itself at each heartbeat.
pub struct Beat<'a> {
    pub id: &'a str,
    pub endpoint: &'a str,
    pub gpu: Option<&'a str>,
    pub host: &'a str,
    pub slots: i64,
    /// How long the row stays alive without another beat.
    pub ttl_ms: i64,
}

/// Registers or renews a worker.
pub async fn beat(db: &Db, b: &Beat<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO workers (id, endpoint, gpu, host, slots, started_at, heartbeat_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, gpu = excluded.gpu, \
         host = excluded.host, slots = excluded.slots, heartbeat_at = excluded.heartbeat_at, \
         expires_at = excluded.expires_at",
    )
    .bind(b.id)
    .bind(b.endpoint)
    .bind(b.gpu)
    .bind(b.host)
    .bind(b.slots)
    .bind(now)
    .bind(now + b.ttl_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Removes a worker that stops cleanly.
pub async fn remove(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    super::execute_keyed(db, "DELETE FROM workers WHERE id = $1", id).await?;
    Ok(())
}

/// Live workers of `endpoint` with the jobs each runs now.
pub async fn alive(db: &Db, endpoint: &str) -> Result<Vec<Worker>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.id, w.endpoint, w.gpu, w.host, w.slots, w.started_at, w.heartbeat_at, \
         w.expires_at, (SELECT COUNT(*) FROM jobs j WHERE j.worker_id = w.id \
         AND j.status = 'IN_PROGRESS') AS running \
         FROM workers w WHERE w.endpoint = $1 AND w.expires_at > $2 ORDER BY w.started_at, w.id",
    )
    .bind(endpoint)
    .bind(now_ms())
    .fetch_all(&db.pool)
    .await
}

/// Drops rows of workers that stopped long ago (a day past their expiry).
pub async fn prune(db: &Db) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM workers WHERE expires_at < $1")
        .bind(now_ms() - 86_400_000)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// Free and busy job slots across the live fleet of `endpoint`, for `health`.
pub async fn slot_counts(db: &Db, endpoint: &str) -> Result<(u64, u64), sqlx::Error> {
    let workers = alive(db, endpoint).await?;
    let slots: i64 = workers.iter().map(|w| w.slots).sum();
    let running: i64 = workers.iter().map(|w| w.running.min(w.slots)).sum();
    Ok(((slots - running).max(0) as u64, running.max(0) as u64))
}
