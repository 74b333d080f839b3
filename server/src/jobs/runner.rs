//! The worker pool: claims jobs as slots free up, runs each under its timeout with a lease
//! heartbeat, and records how it ended.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use splatpod::gpu::GpuContext;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::input::JobInput;
use super::tasks::{self, TaskError};
use super::JobService;
use crate::db::jobs::{self as q, Finish, Job, JobStatus};
use crate::db::now_ms;
use crate::state::{read_gpu, GpuState};

/// Waits for the GPU, then claims and starts jobs while slots are free.
pub async fn dispatch(svc: JobService) {
    let inner = &svc.inner;
    let ctx = loop {
        match read_gpu(&inner.gpu) {
            GpuState::Ready(ctx) => break Some(ctx),
            GpuState::Failed(_) => break None,
            GpuState::Starting => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let software = ctx
        .as_ref()
        .is_some_and(|c| c.summary().device_type.to_lowercase().contains("cpu"));
    let slots = match inner.settings.max_concurrent {
        Some(n) => n.max(1),
        None if software || ctx.is_none() => 1,
        None => match gpu_memory_mib().await {
            Some(mib) => slots_for_memory(mib),
            None => 2,
        },
    };
    inner.slots.store(slots, Ordering::Relaxed);
    tracing::info!(slots, "job workers ready");
    let sem = Arc::new(Semaphore::new(slots));
    loop {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            return;
        };
        let claimed = q::claim(
            &inner.db,
            &inner.settings.endpoint,
            &inner.settings.worker_id,
            inner.settings.lease_ms,
        )
        .await;
        match claimed {
            Ok(Some(job)) => {
                let svc = svc.clone();
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    svc.inner.busy.fetch_add(1, Ordering::Relaxed);
                    run_job(&svc, ctx.map(|c| *c), job).await;
                    svc.inner.busy.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                    svc.wake();
                });
            }
            Ok(None) => {
                drop(permit);
                // Other servers (PostgreSQL scale-out) can queue jobs too: poll as well.
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), inner.wake.notified()).await;
            }
            Err(e) => {
                drop(permit);
                tracing::error!("claiming a job failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// GPU memory one job may use: a features job at 1600 px with the doubled first octave needs
/// well under 2 GiB; training (when it lands) much more. One slot per 8 GiB, at most 4.
const JOB_MEMORY_MIB: u64 = 8 * 1024;

fn slots_for_memory(mib: u64) -> usize {
    (mib / JOB_MEMORY_MIB).clamp(1, 4) as usize
}

/// Total memory of the first GPU, where `nvidia-smi` can tell (wgpu does not report it).
async fn gpu_memory_mib() -> Option<u64> {
    let run = tokio::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.total", "--format=csv,noheader,nounits"])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Expires queued jobs past their ttl and requeues jobs whose worker stopped renewing.
pub async fn housekeeping(svc: JobService) {
    let period = Duration::from_millis((svc.inner.settings.lease_ms / 2).max(500) as u64);
    loop {
        tokio::time::sleep(period).await;
        let db = &svc.inner.db;
        match q::expire_ttl(db).await {
            Ok(ids) => {
                for id in ids {
                    if let Ok(Some(job)) = q::get(db, &id).await {
                        svc.send_webhook(&job);
                    }
                }
            }
            Err(e) => tracing::warn!("ttl expiry failed: {e}"),
        }
        match q::requeue_orphans(db, None).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(jobs = ?ids, "requeued jobs whose worker stopped");
                svc.wake();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("lease check failed: {e}"),
        }
    }
}

enum Outcome {
    Done(serde_json::Value),
    Failed(TaskError),
    TimedOut(i64),
    Cancelled,
}

async fn run_job(svc: &JobService, ctx: Option<GpuContext>, job: Job) {
    let inner = &svc.inner;
    let token = CancellationToken::new();
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(job.id.clone(), token.clone());
    let heartbeat = tokio::spawn(heartbeat(svc.clone(), job.id.clone(), token.clone()));
    let timeout_ms = job.execution_timeout_ms.unwrap_or(i64::MAX).max(1);
    let started = Instant::now();
    tracing::info!(job = %job.id, task = %job.task, attempt = job.attempts, "job started");

    let outcome = match ctx {
        None => Outcome::Failed(TaskError::Transient(
            "no GPU is available on this server".into(),
        )),
        Some(ctx) => {
            let parsed: Result<JobInput, _> = serde_json::from_str(&job.input)
                .map_err(|e| TaskError::Permanent(format!("stored input is unreadable: {e}")));
            match parsed {
                Err(e) => Outcome::Failed(e),
                Ok(input) => {
                    let run = tasks::run(svc, &ctx, &job, &input, token.clone());
                    tokio::select! {
                        r = run => match r {
                            Ok(v) => Outcome::Done(v),
                            Err(TaskError::Cancelled) => Outcome::Cancelled,
                            Err(e) => Outcome::Failed(e),
                        },
                        _ = tokio::time::sleep(Duration::from_millis(timeout_ms.min(1 << 40) as u64)) => {
                            token.cancel();
                            Outcome::TimedOut(timeout_ms)
                        }
                        _ = token.cancelled() => Outcome::Cancelled,
                    }
                }
            }
        }
    };
    heartbeat.abort();
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&job.id);

    let gpu_ms = started.elapsed().as_millis() as i64;
    let cost = gpu_ms as f64 / 3_600_000.0 * inner.settings.gpu_price_per_hour;
    let worker = &inner.settings.worker_id;
    let db = &inner.db;
    let job_id = job.id.as_str();
    let finish = |st: JobStatus, output: Option<String>, error: Option<String>| async move {
        let f = Finish {
            status: st,
            output: output.as_deref(),
            error: error.as_deref(),
            gpu_ms,
            cost_usd: cost,
        };
        q::finish(db, job_id, worker, &f).await
    };
    let result = match outcome {
        Outcome::Done(v) => finish(JobStatus::Completed, Some(v.to_string()), None).await,
        Outcome::TimedOut(ms) => {
            let msg = format!("execution timeout of {ms} ms exceeded");
            finish(JobStatus::TimedOut, None, Some(msg)).await
        }
        Outcome::Cancelled => Ok(false),
        Outcome::Failed(TaskError::Transient(msg)) if job.attempts < job.max_attempts => {
            let backoff = inner.settings.retry_backoff_ms << (job.attempts - 1).clamp(0, 10);
            tracing::warn!(job = %job.id, attempt = job.attempts, backoff_ms = backoff, "job failed, will retry: {msg}");
            let r = q::requeue_after_failure(
                db,
                &job.id,
                worker,
                &msg,
                now_ms() + backoff,
                gpu_ms,
                cost,
            )
            .await;
            let wake = svc.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(backoff.max(0) as u64)).await;
                wake.wake();
            });
            return log_db(&job.id, r);
        }
        Outcome::Failed(e) => finish(JobStatus::Failed, None, Some(e.to_string())).await,
    };
    if let Ok(true) = result {
        if let Ok(Some(done)) = q::get(db, &job.id).await {
            tracing::info!(job = %job.id, status = %done.status, ms = gpu_ms, "job ended");
            svc.send_webhook(&done);
        }
    }
    log_db(&job.id, result);
}

fn log_db(id: &str, r: Result<bool, sqlx::Error>) {
    if let Err(e) = r {
        tracing::error!(job = id, "recording the job's end failed: {e}");
    }
}

/// Renews the lease; cancels the run when the job was cancelled elsewhere.
async fn heartbeat(svc: JobService, id: String, token: CancellationToken) {
    let lease = svc.inner.settings.lease_ms;
    let period = Duration::from_millis((lease / 3).max(200) as u64);
    loop {
        tokio::time::sleep(period).await;
        match q::heartbeat(&svc.inner.db, &id, &svc.inner.settings.worker_id, lease).await {
            Ok(true) => {}
            Ok(false) => {
                token.cancel();
                return;
            }
            Err(e) => tracing::warn!(job = %id, "lease renewal failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_follow_gpu_memory() {
        assert_eq!(super::slots_for_memory(4 * 1024), 1);
        assert_eq!(super::slots_for_memory(24 * 1024), 3);
        assert_eq!(super::slots_for_memory(80 * 1024), 4);
    }
}
