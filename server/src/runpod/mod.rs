//! `splatpod-server runpod-worker`: a RunPod serverless worker. It takes jobs from RunPod's
//! control plane ([`protocol`]), runs each through the same job service and kernels as `serve`
//! and `worker`, streams its progress, and posts the output with the locations of its files.
//! The store is the network volume (`/runpod-volume/splatpod`: SQLite + blobs) or PostgreSQL +
//! S3, shared by the endpoint's workers, so a job a preempted worker left resumes from its last
//! checkpoint on the next one.

pub mod protocol;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};
use splatpod::api::JobInput;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::db::jobs::{Job, JobStatus};
use crate::error::ServerError;
use crate::jobs::input::validate;
use crate::jobs::{output_value, Adopted, JobService};
use crate::net::HostGuard;
use crate::node::{shutdown_signal, StoreArgs};
use crate::worker::{job_service, JobArgs};
use protocol::{ControlPlane, ProtocolError, TakenJob, Urls};

/// `runpod-worker`: the RunPod serverless worker. RunPod sets the `RUNPOD_*` variables.
#[derive(Debug, Args)]
pub struct RunpodWorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Job-take URL (`$ID` is replaced by the worker id).
    #[arg(long, env = "RUNPOD_WEBHOOK_GET_JOB")]
    pub get_job_url: String,
    /// Result URL (`$RUNPOD_POD_ID`: the worker id; `$ID`: the job id).
    #[arg(long, env = "RUNPOD_WEBHOOK_POST_OUTPUT")]
    pub post_output_url: String,
    /// Stream URL for progress chunks (same placeholders).
    #[arg(long, env = "RUNPOD_WEBHOOK_POST_STREAM")]
    pub post_stream_url: Option<String>,
    /// Heartbeat URL (`$RUNPOD_POD_ID`: the worker id).
    #[arg(long, env = "RUNPOD_WEBHOOK_PING")]
    pub ping_url: Option<String>,
    /// Milliseconds between heartbeats.
    #[arg(long, env = "RUNPOD_PING_INTERVAL", default_value_t = 10_000)]
    pub ping_interval_ms: u64,
    /// This worker's id; default: a random one.
    #[arg(long, env = "RUNPOD_POD_ID")]
    pub pod_id: Option<String>,
    /// Sent as `Authorization` on every control-plane request.
    #[arg(
        long,
        env = "RUNPOD_AI_API_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    pub api_key: String,
    /// Jobs this worker runs at once.
    #[arg(long, env = "SPLATPOD_RUNPOD_CONCURRENCY", default_value_t = 1)]
    pub concurrency: usize,
    /// Retries of a job whose attempt failed transiently, on this worker.
    #[arg(long, env = "SPLATPOD_JOB_RETRIES", default_value_t = 2)]
    pub job_retries: i64,
    /// Where RunPod mounts the endpoint's network volume: when it is there, the worker's store
    /// (SQLite, photos, artifacts, checkpoints) is its `splatpod` folder, whatever --data-dir
    /// says (the image's default is /data, which a new worker would not find again).
    #[arg(long, env = "SPLATPOD_RUNPOD_VOLUME", default_value = "/runpod-volume")]
    pub volume: PathBuf,
    /// Milliseconds to wait after the control plane had no job for this worker.
    #[arg(long, env = "SPLATPOD_RUNPOD_IDLE_MS", default_value_t = 1000)]
    pub idle_ms: u64,
}

/// The data folder: the network volume's `splatpod` folder when RunPod mounted one, else
/// `--data-dir`.
fn data_dir(store: &StoreArgs, volume: &Path) -> PathBuf {
    if volume.is_dir() {
        volume.join("splatpod")
    } else {
        store.data_dir.clone()
    }
}

/// What the job loop shares with the heartbeat and the stop channel.
#[derive(Clone)]
struct Worker {
    plane: Arc<ControlPlane>,
    jobs: JobService,
    running: Arc<Mutex<BTreeSet<String>>>,
    max_url_images: usize,
    max_attempts: i64,
}

/// Takes and runs jobs until SIGTERM or Ctrl-C.
pub async fn run(mut args: RunpodWorkerArgs) -> Result<(), ServerError> {
    args.store.data_dir = data_dir(&args.store, &args.volume);
    args.jobs.s3_inputs = true;
    let (db, blobs) = args.store.open().await?;
    let guard = HostGuard::new(&args.jobs.allow_hosts).map_err(ServerError::BadInput)?;
    let worker_id = match &args.pod_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => format!("runpod-{}", &crate::db::new_id()[..12]),
    };
    let plane = ControlPlane::new(&Urls {
        get_job: &args.get_job_url,
        post_output: &args.post_output_url,
        post_stream: args.post_stream_url.as_deref(),
        ping: args.ping_url.as_deref(),
        worker_id: &worker_id,
        api_key: &args.api_key,
    })
    .map_err(|e| ServerError::Internal(format!("HTTP client: {e}")))?;
    let gpu = crate::gpu::start();
    // No dispatcher: this worker runs only the jobs the control plane hands it.
    let jobs = job_service(
        &args.jobs,
        &args.store.data_dir,
        worker_id.clone(),
        db,
        blobs,
        gpu,
        guard,
    )?;
    let worker = Worker {
        plane: Arc::new(plane),
        jobs,
        running: Arc::default(),
        max_url_images: args.jobs.max_url_images,
        max_attempts: 1 + args.job_retries.clamp(0, 20),
    };
    tracing::info!(worker = %worker_id, data = %args.store.data_dir.display(), "RunPod worker started");
    let interval = Duration::from_millis(args.ping_interval_ms.max(100));
    let pings = tokio::spawn(heartbeat(worker.clone(), interval));
    let stops = tokio::spawn(stop_channel(worker.clone()));
    tokio::select! {
        _ = take_jobs(worker.clone(), args.concurrency.max(1), Duration::from_millis(args.idle_ms)) => {}
        _ = shutdown_signal() => {}
    }
    pings.abort();
    stops.abort();
    // Jobs still running stay in the store under this worker's lease: the control plane hands
    // them to another worker, which takes them over from their last checkpoint.
    tracing::info!(worker = %worker_id, "RunPod worker stopped");
    Ok(())
}

/// Asks for jobs while a slot is free and runs each in its own task.
async fn take_jobs(worker: Worker, slots: usize, idle: Duration) {
    let sem = Arc::new(Semaphore::new(slots));
    loop {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            return;
        };
        let busy = !worker.running_ids().is_empty();
        match worker.plane.take(busy).await {
            Ok(Some(job)) => {
                worker.set_running(&job.id, true);
                let w = worker.clone();
                tokio::spawn(async move {
                    let id = job.id.clone();
                    w.handle(job).await;
                    w.set_running(&id, false);
                    drop(permit);
                });
            }
            Ok(None) => tokio::time::sleep(idle).await,
            Err(e @ ProtocolError::TooMany { .. }) => {
                tracing::warn!("{e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => {
                tracing::warn!("taking a job failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Pings every `interval` with the jobs in progress.
async fn heartbeat(worker: Worker, interval: Duration) {
    loop {
        if let Err(e) = worker.plane.ping(&worker.running_ids(), interval).await {
            tracing::warn!("heartbeat failed: {e}");
        }
        tokio::time::sleep(interval).await;
    }
}

/// Cancels the jobs the control plane asks to stop.
async fn stop_channel(worker: Worker) {
    loop {
        match worker.plane.stop_signals().await {
            Ok(ids) => {
                for id in ids {
                    tracing::info!(job = %id, "the control plane stops the job");
                    if let Err(e) = worker.jobs.cancel(&id).await {
                        tracing::warn!(job = %id, "cancelling failed: {e}");
                    }
                }
            }
            Err(e) => {
                tracing::debug!("stop channel: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

impl Worker {
    fn running_ids(&self) -> Vec<String> {
        let set = self.running.lock().unwrap_or_else(|p| p.into_inner());
        set.iter().cloned().collect()
    }

    fn set_running(&self, id: &str, on: bool) {
        let mut set = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if on {
            set.insert(id.to_owned());
        } else {
            set.remove(id);
        }
    }

    /// Runs one handed job to its end and posts the result; bad input gets `{"error"}` at once.
    async fn handle(&self, taken: TakenJob) {
        let id = taken.id.clone();
        let body = match self.run_to_end(taken).await {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(e) => json!({ "error": e.to_string() }),
        };
        if let Err(e) = self.plane.post_result(&id, &body).await {
            tracing::error!(job = %id, "the control plane never got the result: {e}");
        }
    }

    /// The result body for the job (`None` for a job cancelled here: the control plane stopped
    /// it and wants no result).
    async fn run_to_end(&self, taken: TakenJob) -> Result<Option<Value>, ServerError> {
        let input: JobInput = serde_json::from_value(taken.input)
            .map_err(|e| ServerError::BadInput(format!("invalid job input: {e}")))?;
        validate(&input, self.max_url_images, true)?;
        let job = match self
            .jobs
            .adopt(&taken.id, &input, self.max_attempts)
            .await?
        {
            Adopted::Ended(job) => *job,
            Adopted::Runnable => {
                tracing::info!(job = %taken.id, task = input.task.name(), "job taken");
                let done = CancellationToken::new();
                let forward =
                    tokio::spawn(forward_stream(self.clone(), taken.id.clone(), done.clone()));
                let ended = self.jobs.run_handed(&taken.id).await;
                done.cancel();
                if let Err(e) = forward.await {
                    tracing::warn!(job = %taken.id, "stream forwarder: {e}");
                }
                ended?
            }
        };
        self.result_body(&job).await
    }

    async fn result_body(&self, job: &Job) -> Result<Option<Value>, ServerError> {
        Ok(match job.status {
            JobStatus::Completed => {
                let out = self.jobs.handed_output(job).await?;
                Some(json!({ "output": out }))
            }
            JobStatus::Cancelled => None,
            other => {
                let msg = job.error.clone().unwrap_or_else(|| other.to_string());
                Some(json!({ "error": msg }))
            }
        })
    }

    /// Posts the stream chunks written since the last call.
    async fn flush_stream(&self, id: &str) {
        match self.jobs.take_stream(id).await {
            Ok(chunks) => {
                for c in chunks {
                    if let Err(e) = self.plane.post_stream(id, &output_value(&c)).await {
                        tracing::warn!(job = id, "streaming a chunk failed: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!(job = id, "reading the stream failed: {e}"),
        }
    }
}

/// Forwards a running job's progress chunks to the control plane as they come, and the last
/// ones once `done` (a chunk read is always posted: the read moves the stream's cursor).
async fn forward_stream(worker: Worker, id: String, done: CancellationToken) {
    loop {
        tokio::select! {
            _ = done.cancelled() => {
                worker.flush_stream(&id).await;
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => worker.flush_stream(&id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_volume_is_the_default_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = |d: &str| StoreArgs {
            data_dir: PathBuf::from(d),
            database_url: None,
            blob_url: None,
        };
        assert_eq!(
            data_dir(&store("/data"), dir.path()),
            dir.path().join("splatpod")
        );
        let missing = dir.path().join("absent");
        assert_eq!(data_dir(&store("/data"), &missing), PathBuf::from("/data"));
    }
}
