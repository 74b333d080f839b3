//! The worker pool: claims jobs as slots free up, runs each under its timeout with a lease
//! heartbeat, and records how it ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use splatpod::gpu::GpuContext;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::input::{JobInput, Task};
use super::tasks::{self, TaskError};
use super::{sleep_task, JobService};
use crate::db::jobs::{self as q, Finish, Job, JobStatus};
use crate::db::{now_ms, workers};
use crate::gpu::{read_gpu, GpuState};
use crate::remote::RemoteClient;

/// Waits for the GPU, then claims and starts jobs while slots are free.
pub async fn dispatch(svc: JobService) {
    let inner = &svc.inner;
    let ctx = wait_for_gpu(&inner.gpu).await;
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
    let gpu = ctx.as_ref().map(|c| c.summary().name.clone());
    tracing::info!(
        slots,
        gpu = gpu.as_deref().unwrap_or("none"),
        "job workers ready"
    );
    tokio::spawn(register(svc.clone(), gpu, slots));
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
                    run_job(&svc, ctx.map(|c| *c), job, None).await;
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

/// The GPU once it has started (`None` when it failed to): jobs wait for it.
pub(super) async fn wait_for_gpu(gpu: &crate::gpu::SharedGpu) -> Option<Box<GpuContext>> {
    loop {
        match read_gpu(gpu) {
            GpuState::Ready(ctx) => return Some(ctx),
            GpuState::Failed(_) => return None,
            GpuState::Starting => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Keeps this worker's row in the registry alive (fleet-wide `health`) until the process ends.
async fn register(svc: JobService, gpu: Option<String>, slots: usize) {
    let s = &svc.inner.settings;
    let period = Duration::from_millis((s.lease_ms / 3).max(200) as u64);
    let host = hostname();
    loop {
        let beat = workers::Beat {
            id: &s.worker_id,
            endpoint: &s.endpoint,
            gpu: gpu.as_deref(),
            host: &host,
            slots: slots as i64,
            ttl_ms: s.lease_ms,
        };
        if let Err(e) = workers::beat(&svc.inner.db, &beat).await {
            tracing::warn!("worker heartbeat failed: {e}");
        }
        tokio::time::sleep(period).await;
    }
}

/// This machine's name, for the worker registry.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
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
        if let Err(e) = workers::prune(db).await {
            tracing::warn!("pruning the worker registry failed: {e}");
        }
    }
}

/// What a job's run used where the runner cannot time it: a remote backend's GPU time and
/// cost.
pub(super) struct Usage {
    pub gpu_ms: i64,
    pub cost_usd: f64,
}

enum Outcome {
    Done(serde_json::Value, Option<Usage>),
    Failed(TaskError),
    TimedOut(i64),
    Cancelled,
}

/// Runs a claimed job here, or on `remote` (a backend the forwarder chose), under its timeout
/// and lease, and records how it ended.
pub(super) async fn run_job(
    svc: &JobService,
    ctx: Option<GpuContext>,
    job: Job,
    remote: Option<RemoteClient>,
) {
    let inner = &svc.inner;
    let token = CancellationToken::new();
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(job.id.clone(), token.clone());
    let heartbeat = tokio::spawn(heartbeat(
        svc.clone(),
        job.id.clone(),
        job.lease_epoch,
        token.clone(),
    ));
    let timeout_ms = job.execution_timeout_ms.unwrap_or(i64::MAX).max(1);
    let started = Instant::now();
    tracing::info!(job = %job.id, task = %job.task, attempt = job.attempts, "job started");

    let parsed: Result<JobInput, _> = serde_json::from_str(&job.input)
        .map_err(|e| TaskError::Permanent(format!("stored input is unreadable: {e}")));
    let run = async {
        match (parsed, ctx, remote.as_ref()) {
            (Err(e), _, _) => Err(e),
            (Ok(input), _, Some(client)) => {
                super::forward::run_remote(svc, &job, &input, client, token.clone())
                    .await
                    .map(|(v, usage)| (v, Some(usage)))
            }
            // No GPU work: runs on any worker.
            (Ok(input), _, None) if input.task == Task::Sleep => {
                let out = sleep_task::run(svc, &job, &input, token.clone()).await?;
                serde_json::to_value(out)
                    .map(|v| (v, None))
                    .map_err(|e| TaskError::Permanent(e.to_string()))
            }
            (Ok(_), None, None) => Err(TaskError::Transient(
                "no GPU is available on this server".into(),
            )),
            (Ok(input), Some(ctx), None) => tasks::run(svc, &ctx, &job, &input, token.clone())
                .await
                .map(|v| (v, None)),
        }
    };
    let outcome = tokio::select! {
        r = run => match r {
            Ok((v, usage)) => Outcome::Done(v, usage),
            Err(TaskError::Cancelled) => Outcome::Cancelled,
            Err(e) => Outcome::Failed(e),
        },
        _ = tokio::time::sleep(Duration::from_millis(timeout_ms.min(1 << 40) as u64)) => {
            token.cancel();
            Outcome::TimedOut(timeout_ms)
        }
        _ = token.cancelled() => Outcome::Cancelled,
    };
    heartbeat.abort();
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&job.id);

    let (gpu_ms, cost) = match &outcome {
        Outcome::Done(_, Some(u)) => (u.gpu_ms, u.cost_usd),
        _ => {
            let ms = started.elapsed().as_millis() as i64;
            (
                ms,
                ms as f64 / 3_600_000.0 * inner.settings.gpu_price_per_hour,
            )
        }
    };
    let db = &inner.db;
    let lease = job.lease();
    let finish = |st: JobStatus, output: Option<String>, error: Option<String>| async move {
        let f = Finish {
            status: st,
            output: output.as_deref(),
            error: error.as_deref(),
            gpu_ms,
            cost_usd: cost,
        };
        q::finish(db, lease, &f).await
    };
    let result = match outcome {
        Outcome::Done(v, _) => finish(JobStatus::Completed, Some(v.to_string()), None).await,
        Outcome::TimedOut(ms) => {
            let msg = format!("execution timeout of {ms} ms exceeded");
            finish(JobStatus::TimedOut, None, Some(msg)).await
        }
        Outcome::Cancelled => Ok(false),
        Outcome::Failed(TaskError::Transient(msg)) if job.attempts < job.max_attempts => {
            let backoff = inner.settings.retry_backoff_ms << (job.attempts - 1).clamp(0, 10);
            tracing::warn!(job = %job.id, attempt = job.attempts, backoff_ms = backoff, "job failed, will retry: {msg}");
            let r =
                q::requeue_after_failure(db, lease, &msg, now_ms() + backoff, gpu_ms, cost).await;
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

/// Renews the lease; cancels the run when the job was cancelled elsewhere or reclaimed after
/// this worker's lease expired (its renewal is refused).
async fn heartbeat(svc: JobService, id: String, epoch: i64, token: CancellationToken) {
    let lease = svc.inner.settings.lease_ms;
    let period = Duration::from_millis((lease / 3).max(200) as u64);
    let claim = q::Lease { id: &id, epoch };
    loop {
        tokio::time::sleep(period).await;
        match q::heartbeat(&svc.inner.db, claim, lease).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    job = %id,
                    epoch,
                    "lease lost: lease renewal refused (the job was reclaimed or cancelled)"
                );
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
