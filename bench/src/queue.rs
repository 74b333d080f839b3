//! `splatpod-bench queue`: throughput of the job queue itself. N concurrent workers (each
//! with its own worker id, sharing one connection pool as worker processes share the database)
//! claim no-op jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and end them through the fenced
//! `finish`, until the queue is empty; jobs per second per N go to `bench/results/queue.json`.
//! Every job must be claimed and completed exactly once, or the run fails.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Map};

use splatpod_server::db::jobs::{self as q, Finish, JobStatus, NewJob};
use splatpod_server::db::{new_id, Backend, Db};

use crate::error::BenchError;

#[derive(Debug, Args)]
pub struct QueueBenchArgs {
    /// Database to measure (PostgreSQL for a fleet; a sqlite:// URL works too). Its jobs table
    /// gets throw-away rows under a fresh endpoint name, deleted afterwards.
    #[arg(long, env = "SPLATPOD_DATABASE_URL")]
    pub database_url: String,
    /// Worker counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 2, 4, 8, 16])]
    pub workers: Vec<usize>,
    /// Jobs queued per worker count.
    #[arg(long, default_value_t = 2000)]
    pub jobs: usize,
    #[arg(long, default_value = "bench/results/queue.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

/// One measured round: jobs/s and claim latency percentiles (ms).
struct Round {
    jobs_per_s: f64,
    claim_p50_ms: f64,
    claim_p99_ms: f64,
}

pub async fn run(args: QueueBenchArgs) -> Result<(), BenchError> {
    let scratch = std::env::temp_dir().join(format!("splatpod-queuebench-{}", new_id()));
    std::fs::create_dir_all(&scratch)?;
    let db = Db::open(Some(&args.database_url), &scratch).await?;
    let version: String = match db.backend {
        Backend::Postgres => {
            let show = |what: &'static str| {
                let db = db.clone();
                async move {
                    sqlx::query_scalar::<_, String>(&format!("SHOW {what}"))
                        .fetch_one(&db.pool)
                        .await
                }
            };
            format!(
                "PostgreSQL {} on loopback (fsync {}, synchronous_commit {})",
                show("server_version").await?,
                show("fsync").await?,
                show("synchronous_commit").await?
            )
        }
        Backend::Sqlite => "SQLite".into(),
    };
    let mut fields = Map::new();
    fields.insert("name".into(), json!("queue"));
    fields.insert(
        "device".into(),
        json!(format!(
            "{} CPU cores, {version}; workers are tasks of one {} process sharing a 16-connection pool",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if cfg!(debug_assertions) { "debug-build" } else { "release-build" }
        )),
    );
    fields.insert("commit".into(), json!(args.commit));
    fields.insert("jobs_per_round".into(), json!(args.jobs));
    fields.insert(
        "task".into(),
        json!("no-op: claim (lease, epoch) then fenced finish, no work between"),
    );
    let mut best = 0.0f64;
    for &n in &args.workers {
        let r = round(&db, n.max(1), args.jobs).await?;
        println!(
            "{n:>2} workers: {:.0} jobs/s, claim p50 {:.2} ms, p99 {:.2} ms",
            r.jobs_per_s, r.claim_p50_ms, r.claim_p99_ms
        );
        fields.insert(
            format!("workers_{n}_jobs_per_s"),
            json!(r.jobs_per_s.round()),
        );
        fields.insert(format!("workers_{n}_claim_p50_ms"), json!(r.claim_p50_ms));
        fields.insert(format!("workers_{n}_claim_p99_ms"), json!(r.claim_p99_ms));
        best = best.max(r.jobs_per_s);
    }
    fields.insert("best_jobs_per_s".into(), json!(best.round()));
    let _ = std::fs::remove_dir_all(&scratch);
    crate::results::merge_into(&args.out, fields)?;
    Ok(())
}

async fn round(db: &Db, workers: usize, jobs: usize) -> Result<Round, BenchError> {
    let endpoint = format!("queuebench-{}", &new_id()[..8]);
    let input = r#"{"task":"sleep","iterations":1}"#;
    for _ in 0..jobs {
        let id = new_id();
        q::insert(
            db,
            &NewJob {
                id: &id,
                endpoint: &endpoint,
                task: "sleep",
                input,
                webhook: None,
                execution_timeout_ms: None,
                ttl_ms: None,
                project_id: None,
                api_key_id: None,
                max_attempts: 1,
            },
        )
        .await?;
    }
    let finished = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let db = db.clone();
        let endpoint = endpoint.clone();
        let finished = finished.clone();
        handles.push(tokio::spawn(async move {
            let me = format!("bench-worker-{w}");
            let mut claims_us = Vec::new();
            loop {
                let t = Instant::now();
                let Some(job) = q::claim(&db, &endpoint, &me, 30_000).await? else {
                    return Ok::<_, sqlx::Error>(claims_us);
                };
                claims_us.push(t.elapsed().as_micros() as u64);
                let f = Finish {
                    status: JobStatus::Completed,
                    output: Some("null"),
                    error: None,
                    gpu_ms: 0,
                    cost_usd: 0.0,
                };
                if q::finish(&db, job.lease(), &f).await? {
                    finished.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut lat = Vec::with_capacity(jobs);
    for h in handles {
        let got = h
            .await
            .map_err(|e| BenchError::Failed(format!("worker task: {e}")))??;
        lat.extend(got);
    }
    let secs = start.elapsed().as_secs_f64();
    let done = finished.load(Ordering::Relaxed) as usize;
    let completed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE endpoint = $1 AND status = 'COMPLETED' AND attempts = 1",
    )
    .bind(&endpoint)
    .fetch_one(&db.pool)
    .await?;
    sqlx::query("DELETE FROM jobs WHERE endpoint = $1")
        .bind(&endpoint)
        .execute(&db.pool)
        .await?;
    if lat.len() != jobs || done != jobs || completed != jobs as i64 {
        return Err(BenchError::Failed(format!(
            "{workers} workers: {} claims, {done} finishes, {completed} completed once, of {jobs}",
            lat.len()
        )));
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        let i = ((lat.len() - 1) as f64 * p).round() as usize;
        (lat[i] as f64 / 10.0).round() / 100.0
    };
    Ok(Round {
        jobs_per_s: jobs as f64 / secs,
        claim_p50_ms: pct(0.5),
        claim_p99_ms: pct(0.99),
    })
}
