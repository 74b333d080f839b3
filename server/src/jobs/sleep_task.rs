//! The `sleep` task: no GPU work, only the queue's side of a job (claim, lease renewals, fenced
//! progress, a fenced artifact, the fenced end). Fleet tests and queue benchmarks run it.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::input::JobInput;
use super::tasks::TaskError;
use super::{fenced, JobService};
use crate::db::jobs::Job;
use crate::db::projects;

/// Longest sleep a job may ask for (ms).
pub const MAX_SLEEP_MS: u32 = 60_000;

/// Milliseconds between progress writes.
const STEP_MS: u64 = 100;

/// The `output` of a sleep job, also stored as its artifact: who ran it under which claim.
#[derive(Debug, Serialize)]
pub struct SleepOutput {
    pub project_id: String,
    pub slept_ms: u64,
    pub worker: String,
    pub epoch: i64,
    pub artifact: String,
}

pub(super) async fn run(
    svc: &JobService,
    job: &Job,
    input: &JobInput,
    cancel: CancellationToken,
) -> Result<SleepOutput, TaskError> {
    let project_id = input
        .project_id
        .clone()
        .or_else(|| job.project_id.clone())
        .ok_or_else(|| TaskError::Permanent("a sleep job needs `project_id`".into()))?;
    if projects::get(&svc.inner.db, &project_id).await?.is_none() {
        return Err(TaskError::Permanent(format!(
            "project {project_id} does not exist (deleted?)"
        )));
    }
    let total = u64::from(input.iterations.unwrap_or(1000).min(MAX_SLEEP_MS));
    let mut slept = 0;
    while slept < total {
        let pct = 100.0 * slept as f64 / total as f64;
        let chunk = json!({"stage": "sleep", "progress": pct}).to_string();
        fenced::progress(svc, job, "sleep", pct, &format!("slept {slept} ms"), &chunk).await?;
        let step = STEP_MS.min(total - slept);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(step)) => {}
            _ = cancel.cancelled() => return Err(TaskError::Cancelled),
        }
        slept += step;
    }
    let name = format!("sleep-{}.json", job.id);
    let out = SleepOutput {
        project_id: project_id.clone(),
        slept_ms: total,
        worker: svc.inner.settings.worker_id.clone(),
        epoch: job.lease_epoch,
        artifact: name.clone(),
    };
    let body = serde_json::to_vec(&out).map_err(|e| TaskError::Permanent(e.to_string()))?;
    fenced::put_artifact(svc, job, &project_id, &name, "application/json", body).await?;
    Ok(out)
}
