//! The job queue. One table serves both backends: a worker claims the oldest runnable job with
//! an atomic `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING` (PostgreSQL adds
//! `FOR UPDATE SKIP LOCKED` so many workers never claim the same row; SQLite has one writer).
//! A claimed job carries a lease the worker renews; an expired lease puts the job back in the
//! queue, which is how a killed server's jobs are picked up again.
//!
//! Fencing: every claim bumps the job's `lease_epoch`, and every write a worker makes for a job
//! (lease renewal, progress, artifacts, its end) is conditioned on the epoch it claimed, so a
//! worker whose lease expired cannot write over its successor's results.

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
    /// Fencing token: which claim of this job a worker holds.
    pub lease_epoch: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub gpu_ms: i64,
    pub cost_usd: f64,
    /// The blob of the last training checkpoint a claim of this job recorded.
    pub checkpoint_key: Option<String>,
}

const COLUMNS: &str = "id, endpoint, status, task, input, output, error, webhook, \
    execution_timeout_ms, ttl_ms, project_id, api_key_id, stage, progress, message, attempts, \
    max_attempts, retried, not_before, worker_id, lease_expires_at, lease_epoch, created_at, started_at, \
    finished_at, gpu_ms, cost_usd, checkpoint_key";

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
    super::fetch_keyed(db, &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"), id).await
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
    claim_where(db, "endpoint", endpoint, worker, lease_ms).await
}

/// Claims the job `id` if it is queued and runnable: a RunPod worker runs exactly the job its
/// control plane handed it, never another one from a shared store.
pub async fn claim_id(
    db: &Db,
    id: &str,
    worker: &str,
    lease_ms: i64,
) -> Result<Option<Job>, sqlx::Error> {
    claim_where(db, "id", id, worker, lease_ms).await
}

/// The claim of the oldest runnable job whose `column` (a fixed name) equals `value`.
async fn claim_where(
    db: &Db,
    column: &str,
    value: &str,
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
         stage = 'starting', message = 'claimed by a worker', lease_epoch = lease_epoch + 1 \
         WHERE id = (SELECT id FROM jobs WHERE {column} = $4 AND status = 'IN_QUEUE' \
         AND not_before <= $3 ORDER BY created_at, id LIMIT 1 {lock}) AND status = 'IN_QUEUE' \
         RETURNING {COLUMNS}"
    ))
    .bind(worker)
    .bind(now + lease_ms)
    .bind(now)
    .bind(value)
    .fetch_optional(&db.pool)
    .await
}

/// Queued, runnable `reconstruct` jobs of a project (the ones a node may forward to a remote
/// backend) created before `before`, oldest first.
pub async fn forwardable(db: &Db, endpoint: &str, before: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM jobs WHERE endpoint = $1 AND status = 'IN_QUEUE' AND task = 'reconstruct' \
         AND project_id IS NOT NULL AND not_before <= $2 AND created_at <= $3 \
         ORDER BY created_at, id LIMIT 8",
    )
    .bind(endpoint)
    .bind(now_ms())
    .bind(before)
    .fetch_all(&db.pool)
    .await
}

/// Puts the running job `id` back in the queue whoever holds it: the RunPod control plane handed
/// it to another worker (the first one was preempted or stopped pinging), and the control plane
/// is the authority. The next claim bumps the epoch, which fences the old holder's writes.
pub async fn take_over(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = super::execute_keyed(
        db,
        "UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, lease_expires_at = NULL, \
         not_before = 0, stage = 'queued', message = 'handed to another worker' \
         WHERE id = $1 AND status = 'IN_PROGRESS'",
        id,
    )
    .await?;
    Ok(r > 0)
}

/// The claim a worker holds: a job id and the epoch its claim set.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub id: &'a str,
    pub epoch: i64,
}

impl Job {
    /// The lease this claimed job's worker holds.
    pub fn lease(&self) -> Lease<'_> {
        Lease {
            id: &self.id,
            epoch: self.lease_epoch,
        }
    }
}

/// The condition every fenced write adds: the job still runs under this claim (id and epoch
/// bound as parameters `$n` and `$n+1`).
fn held(n: usize) -> String {
    format!(
        "id = ${n} AND lease_epoch = ${} AND status = 'IN_PROGRESS'",
        n + 1
    )
}

/// Runs a fenced `UPDATE` whose other parameters `query` binds already: the claim goes in last
/// (the parameters of [`held`]); true when it changed the row, false when the claim is no longer
/// held.
async fn update_held<'q>(
    db: &Db,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    lease: Lease<'q>,
) -> Result<bool, sqlx::Error> {
    let r = query
        .bind(lease.id)
        .bind(lease.epoch)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Renews the lease of a job this worker runs; false when the claim is no longer this worker's
/// (cancelled, e.g. through another server, reclaimed after the lease expired, or gone).
pub async fn heartbeat(db: &Db, lease: Lease<'_>, lease_ms: i64) -> Result<bool, sqlx::Error> {
    update_held(
        db,
        sqlx::query(&format!(
            "UPDATE jobs SET lease_expires_at = $1 WHERE {}",
            held(2)
        ))
        .bind(now_ms() + lease_ms),
        lease,
    )
    .await
}

/// Records progress and appends it to the job's stream (for RunPod's `stream`); false (nothing
/// written) when the claim is no longer held.
pub async fn progress(
    db: &Db,
    lease: Lease<'_>,
    stage: &str,
    percent: f64,
    message: &str,
    chunk: &str,
) -> Result<bool, sqlx::Error> {
    let update = format!(
        "UPDATE jobs SET stage = $1, progress = $2, message = $3, stream_seq = stream_seq + 1 \
         WHERE {} RETURNING id, stream_seq",
        held(4)
    );
    if db.backend == Backend::Postgres {
        // One statement, so a worker frozen mid-write (SIGSTOP, a stalled VM) holds no row lock
        // its successor or the lease check would wait on.
        let r = sqlx::query(&format!(
            "WITH u AS ({update}) INSERT INTO job_stream (job_id, seq, output) \
             SELECT id, stream_seq, $6 FROM u"
        ))
        .bind(stage)
        .bind(percent)
        .bind(message)
        .bind(lease.id)
        .bind(lease.epoch)
        .bind(chunk)
        .execute(&db.pool)
        .await?;
        return Ok(r.rows_affected() > 0);
    }
    let mut tx = db.pool.begin().await?;
    let seq: Option<(String, i64)> = sqlx::query_as(&update)
        .bind(stage)
        .bind(percent)
        .bind(message)
        .bind(lease.id)
        .bind(lease.epoch)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((_, seq)) = seq else {
        return Ok(false);
    };
    sqlx::query("INSERT INTO job_stream (job_id, seq, output) VALUES ($1, $2, $3)")
        .bind(lease.id)
        .bind(seq)
        .bind(chunk)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Stream chunks produced since the previous call (and moves the cursor past them).
pub async fn stream_since_last(db: &Db, id: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    // Take the write lock first (a no-op write waits under SQLite's busy timeout and locks the
    // row in PostgreSQL). A deferred transaction that reads and then writes cannot upgrade in
    // SQLite's WAL mode once another writer committed after its read: it fails at once with
    // "database is locked" instead of waiting.
    sqlx::query("UPDATE jobs SET stream_cursor = stream_cursor WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
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

/// Points the job at the checkpoint blob `key` while `lease` holds; false when the claim was
/// lost (the caller then deletes its blob).
pub async fn set_checkpoint(db: &Db, lease: Lease<'_>, key: &str) -> Result<bool, sqlx::Error> {
    update_held(
        db,
        sqlx::query(&format!(
            "UPDATE jobs SET checkpoint_key = $1 WHERE {}",
            held(2)
        ))
        .bind(key),
        lease,
    )
    .await
}

/// How a run ended, as the worker saw it.
pub struct Finish<'a> {
    pub status: JobStatus,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub gpu_ms: i64,
    pub cost_usd: f64,
}

/// Ends a job this worker holds; does nothing (returns false) if it was cancelled or reclaimed
/// meanwhile.
pub async fn finish(db: &Db, lease: Lease<'_>, f: &Finish<'_>) -> Result<bool, sqlx::Error> {
    update_held(
        db,
        sqlx::query(&format!(
            "UPDATE jobs SET status = $1, output = $2, error = $3, finished_at = $4, \
         gpu_ms = gpu_ms + $5, cost_usd = cost_usd + $6, lease_expires_at = NULL, \
         progress = CASE WHEN $1 = 'COMPLETED' THEN 100 ELSE progress END, \
         stage = CASE WHEN $1 = 'COMPLETED' THEN 'done' ELSE stage END, \
         message = CASE WHEN $1 = 'COMPLETED' THEN 'completed' ELSE $7 END \
         WHERE {}",
            held(8)
        ))
        .bind(f.status.as_str())
        .bind(f.output)
        .bind(f.error)
        .bind(now_ms())
        .bind(f.gpu_ms)
        .bind(f.cost_usd)
        .bind(f.error.unwrap_or("")),
        lease,
    )
    .await
}

/// Puts a failed attempt back in the queue, runnable from `not_before`.
pub async fn requeue_after_failure(
    db: &Db,
    lease: Lease<'_>,
    error: &str,
    not_before: i64,
    gpu_ms: i64,
    cost_usd: f64,
) -> Result<bool, sqlx::Error> {
    update_held(
        db,
        sqlx::query(&format!(
            "UPDATE jobs SET status = 'IN_QUEUE', error = $1, not_before = $2, worker_id = NULL, \
         lease_expires_at = NULL, retried = retried + 1, gpu_ms = gpu_ms + $3, \
         cost_usd = cost_usd + $4, stage = 'queued', message = 'retrying after: ' || $1 \
         WHERE {}",
            held(5)
        ))
        .bind(error)
        .bind(not_before)
        .bind(gpu_ms)
        .bind(cost_usd),
        lease,
    )
    .await
}

/// Cancels a queued or running job; returns the job afterwards (`None` if unknown).
pub async fn cancel(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    super::stamp(
        db,
        "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, message = 'cancelled', \
         lease_expires_at = NULL WHERE id = $2 AND status IN ('IN_QUEUE', 'IN_PROGRESS')",
        id,
    )
    .await?;
    get(db, id).await
}

/// Puts a failed, timed-out or cancelled job back in the queue from scratch.
pub async fn retry(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = super::stamp(
        db,
        "UPDATE jobs SET status = 'IN_QUEUE', attempts = 0, retried = retried + 1, output = NULL, \
         error = NULL, progress = 0, stage = 'queued', message = 'waiting for a worker', \
         not_before = $1, worker_id = NULL, started_at = NULL, finished_at = NULL, \
         created_at = $1 WHERE id = $2 AND status IN ('FAILED', 'TIMED_OUT', 'CANCELLED')",
        id,
    )
    .await?;
    Ok(r > 0)
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
    let rows: Vec<(String, i64)> = super::fetch_all_keyed(
        db,
        "SELECT status, COUNT(*) FROM jobs WHERE endpoint = $1 GROUP BY status",
        endpoint,
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{artifacts, new_id, projects};

    /// A no-op job row for the queue tests.
    fn sleep_job<'a>(
        id: &'a str,
        endpoint: &'a str,
        project_id: Option<&'a str>,
        max_attempts: i64,
    ) -> NewJob<'a> {
        NewJob {
            id,
            endpoint,
            task: "sleep",
            input: "{}",
            webhook: None,
            execution_timeout_ms: None,
            ttl_ms: None,
            project_id,
            api_key_id: None,
            max_attempts,
        }
    }

    /// A worker freezes past its lease, its job is requeued and claimed by a successor: every
    /// write the frozen worker makes afterwards (renewal, progress, artifact, end) is refused, the
    /// successor's stand, and the job ends exactly once.
    async fn stale_writes_are_refused(db: &Db) {
        let ep = format!("e{}", &new_id()[..8]);
        let p = projects::create(db, "fence").await.expect("project");
        let id = new_id();
        insert(db, &sleep_job(&id, &ep, Some(&p.id), 3))
            .await
            .expect("insert");
        let first = claim(db, &ep, "w1", 60_000)
            .await
            .expect("claim")
            .expect("a job");
        assert!(heartbeat(db, first.lease(), 60_000).await.expect("renew"));
        assert!(claim(db, &ep, "w2", 60_000).await.expect("claim").is_none());
        // w1 stops renewing; its lease runs out and housekeeping requeues the job.
        crate::db::execute_keyed(
            db,
            "UPDATE jobs SET lease_expires_at = 1 WHERE id = $1",
            &id,
        )
        .await
        .expect("expire");
        assert!(requeue_orphans(db, None)
            .await
            .expect("requeue")
            .contains(&id));
        let second = claim(db, &ep, "w2", 60_000)
            .await
            .expect("claim")
            .expect("again");
        assert_eq!(second.lease_epoch, first.lease_epoch + 1);

        assert!(progress(db, second.lease(), "s", 50.0, "m", "{}")
            .await
            .expect("progress"));
        let put = |lease, key: &'static str| {
            artifacts::upsert_fenced(db, lease, &p.id, "out.json", "application/json", 1, key)
        };
        assert_eq!(put(second.lease(), "k2").await.expect("put"), (true, None));

        // The frozen worker wakes up.
        assert!(!heartbeat(db, first.lease(), 60_000).await.expect("renew"));
        assert!(!progress(db, first.lease(), "s", 90.0, "m", "{}")
            .await
            .expect("progress"));
        assert_eq!(put(first.lease(), "k1").await.expect("put"), (false, None));
        let stale = Finish {
            status: JobStatus::Completed,
            output: Some("\"stale\""),
            error: None,
            gpu_ms: 1,
            cost_usd: 0.0,
        };
        assert!(!finish(db, first.lease(), &stale).await.expect("finish"));
        assert!(!requeue_after_failure(db, first.lease(), "x", 0, 0, 0.0)
            .await
            .expect("requeue"));
        assert!(set_checkpoint(db, second.lease(), "ckpt-2")
            .await
            .expect("checkpoint"));
        assert!(!set_checkpoint(db, first.lease(), "ckpt-1")
            .await
            .expect("checkpoint"));
        let job = get(db, &id).await.expect("get").expect("job");
        assert_eq!(job.checkpoint_key.as_deref(), Some("ckpt-2"));
        let art = artifacts::get(db, &p.id, "out.json").await.expect("get");
        assert_eq!(art.map(|a| a.blob_key).as_deref(), Some("k2"));

        // The successor replaces its own artifact (the old blob is handed back for deletion)
        // and ends the job, once.
        assert_eq!(
            put(second.lease(), "k3").await.expect("put"),
            (true, Some("k2".to_owned()))
        );
        let done = Finish {
            output: Some("\"fresh\""),
            ..stale
        };
        assert!(finish(db, second.lease(), &done).await.expect("finish"));
        assert!(!finish(db, second.lease(), &done).await.expect("finish"));
        let job = get(db, &id).await.expect("get").expect("job");
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.output.as_deref(), Some("\"fresh\""));
        assert_eq!(job.worker_id.as_deref(), Some("w2"));
        assert_eq!(job.attempts, 2);
        let stream: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_stream WHERE job_id = $1")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .expect("stream");
        assert_eq!(stream, 1, "only the successor's progress chunk");
    }

    /// A fresh SQLite database in `dir`, and PostgreSQL where the suite provides one
    /// (./test.sh sources .ci/postgres.sh).
    async fn test_databases(dir: &std::path::Path) -> Vec<Db> {
        let mut dbs = vec![Db::open(None, dir).await.expect("sqlite")];
        if let Ok(url) = std::env::var("SPLATPOD_TEST_DATABASE_URL") {
            dbs.push(Db::open(Some(&url), dir).await.expect("postgres"));
        }
        dbs
    }

    #[tokio::test]
    async fn fencing_on_sqlite_and_postgres() {
        let dir = tempfile::tempdir().expect("temp dir");
        for db in test_databases(dir.path()).await {
            stale_writes_are_refused(&db).await;
        }
    }

    /// A worker writes progress while a client reads `/stream` in a loop: every read succeeds
    /// (no "database is locked") and the client sees each chunk exactly once, in order.
    async fn stream_reads_beside_a_writer(db: &Db) {
        let ep = format!("e{}", &new_id()[..8]);
        let id = new_id();
        insert(db, &sleep_job(&id, &ep, None, 1))
            .await
            .expect("insert");
        let claimed = claim(db, &ep, "w", 60_000)
            .await
            .expect("claim")
            .expect("a job");
        const CHUNKS: usize = 300;
        let writer = {
            let db = db.clone();
            let (id, epoch) = (claimed.id.clone(), claimed.lease_epoch);
            tokio::spawn(async move {
                for i in 0..CHUNKS {
                    let lease = Lease { id: &id, epoch };
                    let chunk = format!("{i}");
                    assert!(progress(&db, lease, "s", 1.0, "m", &chunk)
                        .await
                        .expect("progress"));
                }
            })
        };
        let mut seen = Vec::new();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let db = db.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..400 {
                        got.extend(stream_since_last(&db, &id).await.expect("stream read"));
                        tokio::task::yield_now().await;
                    }
                    got
                })
            })
            .collect();
        writer.await.expect("writer");
        for r in readers {
            seen.extend(r.await.expect("reader"));
        }
        seen.extend(stream_since_last(db, &id).await.expect("last read"));
        let mut numbers: Vec<usize> = seen.iter().map(|c| c.parse().expect("n")).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..CHUNKS).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn stream_reads_beside_a_writer_on_sqlite_and_postgres() {
        let dir = tempfile::tempdir().expect("temp dir");
        for db in test_databases(dir.path()).await {
            stream_reads_beside_a_writer(&db).await;
        }
    }
    /// A RunPod worker claims the job it was handed, not the queue's oldest; a second worker
    /// handed the same job takes it over, and the first one's writes are fenced off.
    async fn claims_by_id_and_take_over(db: &Db) {
        let ep = format!("e{}", &new_id()[..8]);
        let (older, handed) = (new_id(), new_id());
        for id in [&older, &handed] {
            insert(db, &sleep_job(id, &ep, None, 3))
                .await
                .expect("insert");
        }
        let first = claim_id(db, &handed, "rp1", 60_000)
            .await
            .expect("claim")
            .expect("the handed job");
        assert_eq!(first.id, handed);
        assert!(claim_id(db, &handed, "rp2", 60_000)
            .await
            .expect("claim")
            .is_none());
        let queued = get(db, &older).await.expect("get").expect("job");
        assert_eq!(
            queued.status,
            JobStatus::InQueue,
            "the older job stays queued"
        );

        assert!(take_over(db, &handed).await.expect("take over"));
        assert!(
            !take_over(db, &handed).await.expect("twice"),
            "not running now"
        );
        let second = claim_id(db, &handed, "rp2", 60_000)
            .await
            .expect("claim")
            .expect("taken over");
        assert_eq!(second.lease_epoch, first.lease_epoch + 1);
        assert_eq!(second.attempts, 2);
        assert!(!heartbeat(db, first.lease(), 60_000).await.expect("renew"));
        assert!(heartbeat(db, second.lease(), 60_000).await.expect("renew"));
    }

    #[tokio::test]
    async fn claims_by_id_and_take_over_on_sqlite_and_postgres() {
        let dir = tempfile::tempdir().expect("temp dir");
        for db in test_databases(dir.path()).await {
            claims_by_id_and_take_over(&db).await;
        }
    }
}
