//! The job queue. One table serves both backends: a worker claims the oldest runnable job with
//! an atomic `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING` (PostgreSQL adds
//! `FOR UPDATE SKIP LOCKED` so many workers never claim the same row; SQLite has one writer).
//! A claimed job carries a lease the worker renews; an expired lease puts the job back in the
//! queue, which is how a killed server's jobs are picked up again.

use serde::Serialize;

use super::{now_ms, Backend, Db};

pub use splatpod::api::JobStatus;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub endpoint: String,
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    pub task: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub webhook: Option<String>,
    pub execution_timeout_ms: Option<i64>,
    pub ttl_ms: Option<i64>,
    pub project_id: Option<String>,
    pub api_key_id: Option<String>,
    pub stage: Option<String>,
    pub progress: f64,
    pub message: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub retried: i64,
    pub not_before: i64,
    pub worker_id: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub gpu_ms: i64,
    pub cost_usd: f64,
}

const COLUMNS: &str = "id, endpoint, status, task, input, output, error, webhook, \
    execution_timeout_ms, ttl_ms, project_id, api_key_id, stage, progress, message, attempts, \
    max_attempts, retried, not_before, worker_id, lease_expires_at, created_at, started_at, \
    finished_at, gpu_ms, cost_usd";

/// What a new job needs.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub endpoint: &'a str,
    pub task: &'a str,
    pub input: &'a str,
    pub webhook: Option<&'a str>,
    pub execution_timeout_ms: Option<i64>,
    pub ttl_ms: Option<i64>,
    pub project_id: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    pub max_attempts: i64,
}

pub async fn insert(db: &Db, j: &NewJob<'_>) -> Result<Job, sqlx::Error> {
    let now = now_ms();
    sqlx::query_as(&format!(
        "INSERT INTO jobs (id, endpoint, status, task, input, webhook, execution_timeout_ms, \
         ttl_ms, project_id, api_key_id, max_attempts, not_before, created_at, stage, message) \
         VALUES ($1, $2, 'IN_QUEUE', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 'queued', \
         'waiting for a worker') RETURNING {COLUMNS}"
    ))
    .bind(j.id)
    .bind(j.endpoint)
    .bind(j.task)
    .bind(j.input)
    .bind(j.webhook)
    .bind(j.execution_timeout_ms)
    .bind(j.ttl_ms)
    .bind(j.project_id)
    .bind(j.api_key_id)
    .bind(j.max_attempts)
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

pub async fn list(db: &Db, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM jobs ORDER BY created_at DESC, id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Claims the oldest runnable job of `endpoint` for `worker` with a lease of `lease_ms`.
pub async fn claim(
    db: &Db,
    endpoint: &str,
    worker: &str,
    lease_ms: i64,
) -> Result<Option<Job>, sqlx::Error> {
    let now = now_ms();
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::query_as(&format!(
        "UPDATE jobs SET status = 'IN_PROGRESS', worker_id = $1, lease_expires_at = $2, \
         started_at = COALESCE(started_at, $3), attempts = attempts + 1, \
         stage = 'starting', message = 'claimed by a worker' \
         WHERE id = (SELECT id FROM jobs WHERE endpoint = $4 AND status = 'IN_QUEUE' \
         AND not_before <= $3 ORDER BY created_at, id LIMIT 1 {lock}) AND status = 'IN_QUEUE' \
         RETURNING {COLUMNS}"
    ))
    .bind(worker)
    .bind(now + lease_ms)
    .bind(now)
    .bind(endpoint)
    .fetch_optional(&db.pool)
    .await
}

/// Renews the lease of a job this worker runs; false when the job is no longer this worker's
/// running job (cancelled, e.g. through another server, or gone).
pub async fn heartbeat(
    db: &Db,
    id: &str,
    worker: &str,
    lease_ms: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 \
         WHERE id = $2 AND worker_id = $3 AND status = 'IN_PROGRESS'",
    )
    .bind(now_ms() + lease_ms)
    .bind(id)
    .bind(worker)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Records progress and appends it to the job's stream (for RunPod's `stream`).
pub async fn progress(
    db: &Db,
    id: &str,
    stage: &str,
    percent: f64,
    message: &str,
    chunk: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE jobs SET stage = $1, progress = $2, message = $3, stream_seq = stream_seq + 1 \
         WHERE id = $4 AND status = 'IN_PROGRESS' RETURNING stream_seq",
    )
    .bind(stage)
    .bind(percent)
    .bind(message)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(seq) = seq {
        sqlx::query("INSERT INTO job_stream (job_id, seq, output) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(seq)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Stream chunks produced since the previous call (and moves the cursor past them).
pub async fn stream_since_last(db: &Db, id: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let cursor: Option<i64> = sqlx::query_scalar("SELECT stream_cursor FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(cursor) = cursor else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, output FROM job_stream WHERE job_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(id)
    .bind(cursor)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((last, _)) = rows.last() {
        sqlx::query("UPDATE jobs SET stream_cursor = $1 WHERE id = $2")
            .bind(*last)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.into_iter().map(|(_, o)| o).collect())
}

/// How a run ended, as the worker saw it.
pub struct Finish<'a> {
    pub status: JobStatus,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub gpu_ms: i64,
    pub cost_usd: f64,
}

/// Ends a job this worker holds; does nothing (returns false) if it was cancelled meanwhile.
pub async fn finish(db: &Db, id: &str, worker: &str, f: &Finish<'_>) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = $1, output = $2, error = $3, finished_at = $4, \
         gpu_ms = gpu_ms + $5, cost_usd = cost_usd + $6, lease_expires_at = NULL, \
         progress = CASE WHEN $1 = 'COMPLETED' THEN 100 ELSE progress END, \
         stage = CASE WHEN $1 = 'COMPLETED' THEN 'done' ELSE stage END, \
         message = CASE WHEN $1 = 'COMPLETED' THEN 'completed' ELSE $7 END \
         WHERE id = $8 AND worker_id = $9 AND status = 'IN_PROGRESS'",
    )
    .bind(f.status.as_str())
    .bind(f.output)
    .bind(f.error)
    .bind(now_ms())
    .bind(f.gpu_ms)
    .bind(f.cost_usd)
    .bind(f.error.unwrap_or(""))
    .bind(id)
    .bind(worker)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Puts a failed attempt back in the queue, runnable from `not_before`.
pub async fn requeue_after_failure(
    db: &Db,
    id: &str,
    worker: &str,
    error: &str,
    not_before: i64,
    gpu_ms: i64,
    cost_usd: f64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'IN_QUEUE', error = $1, not_before = $2, worker_id = NULL, \
         lease_expires_at = NULL, retried = retried + 1, gpu_ms = gpu_ms + $3, \
         cost_usd = cost_usd + $4, stage = 'queued', message = 'retrying after: ' || $1 \
         WHERE id = $5 AND worker_id = $6 AND status = 'IN_PROGRESS'",
    )
    .bind(error)
    .bind(not_before)
    .bind(gpu_ms)
    .bind(cost_usd)
    .bind(id)
    .bind(worker)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Cancels a queued or running job; returns the job afterwards (`None` if unknown).
pub async fn cancel(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, message = 'cancelled', \
         lease_expires_at = NULL WHERE id = $2 AND status IN ('IN_QUEUE', 'IN_PROGRESS')",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&db.pool)
    .await?;
    get(db, id).await
}

/// Puts a failed, timed-out or cancelled job back in the queue from scratch.
pub async fn retry(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'IN_QUEUE', attempts = 0, retried = retried + 1, output = NULL, \
         error = NULL, progress = 0, stage = 'queued', message = 'waiting for a worker', \
         not_before = $1, worker_id = NULL, started_at = NULL, finished_at = NULL, \
         created_at = $1 WHERE id = $2 AND status IN ('FAILED', 'TIMED_OUT', 'CANCELLED')",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Cancels every queued job of `endpoint`; returns their ids.
pub async fn purge_queue(db: &Db, endpoint: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, message = 'purged from the queue' \
         WHERE endpoint = $2 AND status = 'IN_QUEUE' RETURNING id",
    )
    .bind(now_ms())
    .bind(endpoint)
    .fetch_all(&db.pool)
    .await
}

/// Queued jobs whose time-to-live ran out before they started become `TIMED_OUT`.
pub async fn expire_ttl(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE jobs SET status = 'TIMED_OUT', finished_at = $1, \
         error = 'the job waited longer than its ttl', message = 'ttl expired' \
         WHERE status = 'IN_QUEUE' AND ttl_ms IS NOT NULL AND created_at + ttl_ms < $1 \
         RETURNING id",
    )
    .bind(now_ms())
    .fetch_all(&db.pool)
    .await
}

/// Requeues running jobs whose lease ran out (a worker that died) and, with `worker`, those of
/// that worker (a restart of this node); returns their ids.
pub async fn requeue_orphans(db: &Db, worker: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, lease_expires_at = NULL, \
         stage = 'queued', message = 'requeued after its worker stopped' \
         WHERE status = 'IN_PROGRESS' AND (worker_id = $1 OR lease_expires_at < $2) RETURNING id",
    )
    .bind(worker)
    .bind(now_ms())
    .fetch_all(&db.pool)
    .await
}

/// Job counts by status for `health`.
pub async fn counts(db: &Db, endpoint: &str) -> Result<Vec<(JobStatus, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM jobs WHERE endpoint = $1 GROUP BY status")
            .bind(endpoint)
            .fetch_all(&db.pool)
            .await?;
    rows.into_iter()
        .map(|(s, n)| {
            JobStatus::parse(&s)
                .map(|s| (s, n))
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown job status `{s}`").into()))
        })
        .collect()
}

/// Jobs that were retried at least once.
pub async fn retried_count(db: &Db, endpoint: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE endpoint = $1 AND retried > 0")
        .bind(endpoint)
        .fetch_one(&db.pool)
        .await
}
