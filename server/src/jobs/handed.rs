//! Jobs handed to this worker by an outside control plane (RunPod serverless): the control plane
//! picks the job, so the worker adopts exactly that one into its store, runs it here (never
//! another from a shared queue) and reports where its files are. A job a preempted worker left
//! running is taken over; its claim epoch fences the old worker off.

use std::time::Duration;

use splatpod::api::{JobInput, RunpodJobOutput, StoredArtifact};

use super::{runner, JobService};
use crate::db::jobs::{self as q, Job, JobStatus, NewJob};
use crate::db::{artifacts, now_ms};
use crate::error::ServerError;

/// What became of a handed job when it was adopted.
pub enum Adopted {
    /// Queued here (new, or taken over from a worker that stopped): run it.
    Runnable,
    /// It ended already (the control plane handed it again): report that end.
    Ended(Box<Job>),
}

impl JobService {
    /// Records the handed job `id` in this worker's store, or takes over the run a previous
    /// worker left, so [`JobService::run_handed`] can run it.
    pub async fn adopt(
        &self,
        id: &str,
        input: &JobInput,
        max_attempts: i64,
    ) -> Result<Adopted, ServerError> {
        let db = &self.inner.db;
        match q::get(db, id).await? {
            Some(job) if job.status.is_final() => return Ok(Adopted::Ended(Box::new(job))),
            Some(job) => {
                if job.status == JobStatus::InProgress && q::take_over(db, id).await? {
                    tracing::warn!(
                        job = id,
                        previous = job.worker_id.as_deref().unwrap_or("?"),
                        "taking over a job another worker left running"
                    );
                }
            }
            None => {
                let input_text = serde_json::to_string(input)?;
                q::insert(
                    db,
                    &NewJob {
                        id,
                        endpoint: &self.inner.settings.endpoint,
                        task: input.task.name(),
                        input: &input_text,
                        webhook: None,
                        // The control plane enforces its own execution timeout.
                        execution_timeout_ms: None,
                        ttl_ms: None,
                        project_id: input.project_id.as_deref(),
                        api_key_id: None,
                        max_attempts: max_attempts.max(1),
                    },
                )
                .await?;
            }
        }
        Ok(Adopted::Runnable)
    }

    /// Runs the adopted job `id` here until it ends, retrying transient failures after their
    /// backoff; returns the ended job.
    pub async fn run_handed(&self, id: &str) -> Result<Job, ServerError> {
        let inner = &self.inner;
        let ctx = runner::wait_for_gpu(&inner.gpu).await;
        loop {
            let claimed = q::claim_id(
                &inner.db,
                id,
                &inner.settings.worker_id,
                inner.settings.lease_ms,
            )
            .await?;
            if let Some(job) = claimed {
                runner::run_job(self, ctx.as_deref().cloned(), job, None).await;
            }
            let job = q::get(&inner.db, id)
                .await?
                .ok_or_else(|| ServerError::NotFound(format!("job {id} vanished")))?;
            if job.status.is_final() {
                return Ok(job);
            }
            // Queued for a retry: wait out its backoff; running elsewhere (the control plane
            // handed it twice): wait for that run.
            let wait = (job.not_before - now_ms()).clamp(100, 60_000);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }

    /// Stream chunks the job wrote since the last call.
    pub async fn take_stream(&self, id: &str) -> Result<Vec<String>, ServerError> {
        Ok(q::stream_since_last(&self.inner.db, id).await?)
    }

    /// The `output` a RunPod control plane gets for a completed job: its result and the
    /// project's files with their locations.
    pub async fn handed_output(&self, job: &Job) -> Result<RunpodJobOutput, ServerError> {
        let project_id = job.project_id.clone().unwrap_or_default();
        let stored = if project_id.is_empty() {
            Vec::new()
        } else {
            artifacts::list(&self.inner.db, &project_id).await?
        };
        Ok(RunpodJobOutput {
            result: job
                .output
                .as_deref()
                .map(super::output_value)
                .unwrap_or_default(),
            artifacts: stored
                .into_iter()
                .map(|a| StoredArtifact {
                    location: self.inner.blobs.locate(&a.blob_key),
                    name: a.name,
                    content_type: a.content_type,
                    bytes: a.bytes,
                })
                .collect(),
            gpu_seconds: job.gpu_ms as f64 / 1000.0,
            project_id,
        })
    }
}
