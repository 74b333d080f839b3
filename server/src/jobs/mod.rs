//! The job service: submission, cancellation and the in-process worker pool that runs engine
//! tasks on the GPU, with timeouts, bounded retries, leases (so a killed server's jobs are
//! requeued) and signed webhooks.

mod fenced;
mod forward;
mod handed;
pub mod input;
mod reconstruct_task;
mod runner;
mod sfm_task;
mod sleep_task;
mod tasks;
mod train_task;
mod webhook;

pub use handed::Adopted;
pub use runner::hostname;
pub use tasks::SCENE_NAMES;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::blob::BlobStore;
use crate::db::jobs::{self as q, Job, JobStatus};
use crate::db::{now_ms, Db};
use crate::error::ServerError;
use crate::gpu::SharedGpu;
use crate::net::HostGuard;
use splatpod::api::JobStatusBody;

/// Settings of the worker pool.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub endpoint: String,
    pub worker_id: String,
    pub max_concurrent: Option<usize>,
    pub lease_ms: i64,
    pub retry_backoff_ms: i64,
    pub gpu_price_per_hour: f64,
    pub webhook_secret: String,
    pub max_image_bytes: usize,
    /// The operator's bounds on every job's work.
    pub caps: input::JobCaps,
    /// `image_urls` may name `s3://` objects, read with this node's `AWS_*` settings (RunPod
    /// workers only: see [`input::validate`]).
    pub s3_inputs: bool,
    /// Backends heavy jobs may be forwarded to ([`crate::remote`]).
    pub remotes: Vec<crate::remote::RemoteBackend>,
    /// Milliseconds a job waits for a local slot before it may be forwarded.
    pub remote_after_ms: i64,
}

#[derive(Clone)]
pub struct JobService {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    blobs: BlobStore,
    gpu: SharedGpu,
    guard: HostGuard,
    settings: JobSettings,
    running: Mutex<HashMap<String, CancellationToken>>,
    wake: Notify,
}

impl JobService {
    pub fn new(
        db: Db,
        blobs: BlobStore,
        gpu: SharedGpu,
        guard: HostGuard,
        settings: JobSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                blobs,
                gpu,
                guard,
                settings,
                running: Mutex::default(),
                wake: Notify::new(),
            }),
        }
    }

    /// Starts housekeeping (ttl expiry, requeueing jobs of workers that stopped) and, with
    /// `worker`, requeues this node's interrupted jobs and starts the dispatcher that runs jobs
    /// here (an API-only node passes false).
    pub async fn start(&self, worker: bool) -> Result<(), ServerError> {
        if worker {
            let requeued =
                q::requeue_orphans(&self.inner.db, Some(&self.inner.settings.worker_id)).await?;
            if !requeued.is_empty() {
                tracing::warn!(jobs = ?requeued, "requeued jobs interrupted by a previous stop");
            }
            tokio::spawn(runner::dispatch(self.clone()));
            if !self.inner.settings.remotes.is_empty() {
                tokio::spawn(forward::forwarder(self.clone()));
            }
        }
        tokio::spawn(runner::housekeeping(self.clone()));
        Ok(())
    }

    /// A clean stop of a worker: its running jobs go back to the queue at once (not after their
    /// lease) and it leaves the registry.
    pub async fn stop_worker(&self) -> Result<(), ServerError> {
        let id = &self.inner.settings.worker_id;
        let requeued = q::requeue_orphans(&self.inner.db, Some(id)).await?;
        if !requeued.is_empty() {
            tracing::info!(jobs = ?requeued, "requeued this worker's jobs");
        }
        crate::db::workers::remove(&self.inner.db, id).await?;
        Ok(())
    }

    /// Wakes the dispatcher (a job was queued).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Cancels a job; a running one on this node stops at its next await point.
    pub async fn cancel(&self, id: &str) -> Result<Option<Job>, ServerError> {
        let before = q::get(&self.inner.db, id).await?;
        let Some(before) = before else {
            return Ok(None);
        };
        let job = q::cancel(&self.inner.db, id).await?;
        if let Some(token) = self.running_token(id) {
            token.cancel();
        }
        if let Some(job) = &job {
            if !before.status.is_final() && job.status == JobStatus::Cancelled {
                self.send_webhook(job);
            }
        }
        Ok(job)
    }

    /// Cancels every queued job of this endpoint (webhooks get the final bodies); returns how
    /// many.
    pub async fn purge_queue(&self) -> Result<usize, ServerError> {
        let ids = q::purge_queue(&self.inner.db, &self.inner.settings.endpoint).await?;
        for id in &ids {
            if let Some(job) = q::get(&self.inner.db, id).await? {
                self.send_webhook(&job);
            }
        }
        Ok(ids.len())
    }

    fn running_token(&self, id: &str) -> Option<CancellationToken> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Waits until the job is final or `max` passes; returns the job then.
    pub async fn wait_final(&self, id: &str, max: Duration) -> Result<Option<Job>, ServerError> {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let job = q::get(&self.inner.db, id).await?;
            match &job {
                Some(j) if !j.status.is_final() => {}
                _ => return Ok(job),
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(job);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Job slots (`idle`, `running`) across every live worker of this endpoint, for `health`.
    pub async fn workers(&self) -> Result<(u64, u64), ServerError> {
        Ok(crate::db::workers::slot_counts(&self.inner.db, &self.inner.settings.endpoint).await?)
    }

    fn send_webhook(&self, job: &Job) {
        if let Some(url) = job.webhook.clone() {
            let body = status_body(job);
            let guard = self.inner.guard.clone();
            let secret = self.inner.settings.webhook_secret.clone();
            let id = job.id.clone();
            tokio::spawn(async move {
                webhook::deliver(&guard, &secret, &url, &id, &body).await;
            });
        }
    }
}

/// A stored job output (JSON text) as a value; text that is not JSON stays a string.
pub fn output_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The RunPod-shaped status body of a job, plus Splatpod's progress fields.
pub fn status_body(job: &Job) -> JobStatusBody {
    let now = now_ms();
    let delay = match job.started_at {
        Some(s) => s - job.created_at,
        None if job.status == JobStatus::InQueue => now - job.created_at,
        None => job.finished_at.unwrap_or(now) - job.created_at,
    };
    let execution = match job.started_at {
        Some(s) => job.finished_at.unwrap_or(now) - s,
        None => 0,
    };
    JobStatusBody {
        id: job.id.clone(),
        status: job.status,
        delay_time: delay.max(0),
        execution_time: execution.max(0),
        progress: job.progress,
        stage: job.stage.clone(),
        message: job.message.clone(),
        task: job.task.clone(),
        project_id: job.project_id.clone(),
        attempts: job.attempts,
        retries: job.retried,
        gpu_seconds: job.gpu_ms as f64 / 1000.0,
        cost_usd: job.cost_usd,
        worker: job.worker_id.clone(),
        output: job.output.as_deref().map(output_value),
        error: job
            .error
            .clone()
            .filter(|_| job.status != JobStatus::Completed),
    }
}
