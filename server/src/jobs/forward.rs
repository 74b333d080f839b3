//! Forwarding to remote backends: `reconstruct` jobs of a project that wait past the queue-time
//! threshold (at once when this node has no GPU) go to the first healthy backend with a free
//! slot. The job is claimed here as `remote:NAME` (lease, heartbeat and fencing as for a local
//! run); its photos are sent to a project on the backend, the job runs there while its
//! progress is mirrored here, and its files come back into the local project. A backend that
//! stops answering fails the attempt transiently, so the job is retried; it is not forwarded
//! while the backend's health check fails, and the local workers take it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use splatpod::api::{JobInput, JobStatus};
use tokio_util::sync::CancellationToken;

use super::runner::{run_job, Usage};
use super::tasks::TaskError;
use super::{fenced, JobService};
use crate::db::jobs::{self as q, Job};
use crate::db::{images, now_ms, projects};
use crate::gpu::{read_gpu, GpuState};
use crate::remote::{RemoteClient, RemoteError};

/// Seconds a health answer stays good.
const HEALTH_TTL: Duration = Duration::from_secs(5);
/// Status polls in a row a backend may miss before the attempt fails.
const MISSED_POLLS: u32 = 10;

impl From<RemoteError> for TaskError {
    fn from(e: RemoteError) -> Self {
        TaskError::Transient(e.to_string())
    }
}

/// Forwards waiting jobs until the process ends (started with the local dispatcher when
/// backends are configured).
pub(super) async fn forwarder(svc: JobService) {
    let inner = &svc.inner;
    let clients: Vec<RemoteClient> = inner
        .settings
        .remotes
        .iter()
        .cloned()
        .map(RemoteClient::new)
        .collect();
    let in_flight: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut health: HashMap<String, (Instant, bool)> = HashMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let local_gpu = !matches!(read_gpu(&inner.gpu), GpuState::Failed(_));
        let wait = if local_gpu {
            inner.settings.remote_after_ms
        } else {
            0
        };
        let ids = match q::forwardable(&inner.db, &inner.settings.endpoint, now_ms() - wait).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("looking for jobs to forward failed: {e}");
                continue;
            }
        };
        for id in ids {
            let mut chosen = None;
            for c in &clients {
                let busy = in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&c.backend.name)
                    .copied()
                    .unwrap_or(0);
                if busy >= c.backend.max_jobs.max(1) {
                    continue;
                }
                let fresh = health
                    .get(&c.backend.name)
                    .filter(|(at, _)| at.elapsed() < HEALTH_TTL)
                    .map(|(_, ok)| *ok);
                let ok = match fresh {
                    Some(ok) => ok,
                    None => {
                        let ok = c.healthy().await;
                        if !ok {
                            tracing::warn!(backend = %c.backend.name, "remote backend unhealthy");
                        }
                        health.insert(c.backend.name.clone(), (Instant::now(), ok));
                        ok
                    }
                };
                if ok {
                    chosen = Some(c.clone());
                    break;
                }
            }
            let Some(client) = chosen else {
                break;
            };
            let worker = format!("remote:{}", client.backend.name);
            let claimed = q::claim_id(&inner.db, &id, &worker, inner.settings.lease_ms).await;
            let job = match claimed {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(job = %id, "claiming a job to forward failed: {e}");
                    continue;
                }
            };
            let name = client.backend.name.clone();
            *in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(name.clone())
                .or_default() += 1;
            tracing::info!(job = %job.id, backend = %name, "forwarding the job");
            let (svc, in_flight) = (svc.clone(), in_flight.clone());
            tokio::spawn(async move {
                run_job(&svc, None, job, Some(client)).await;
                if let Some(n) = in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&name)
                {
                    *n = n.saturating_sub(1);
                }
                svc.wake();
            });
        }
    }
}

/// Records stage + percent (mirrored from the backend) while the claim holds.
async fn report(
    svc: &JobService,
    job: &Job,
    stage: &str,
    percent: f64,
    message: &str,
) -> Result<(), TaskError> {
    let chunk = json!({"stage": stage, "progress": percent, "message": message}).to_string();
    fenced::progress(svc, job, stage, percent, message, &chunk).await
}

/// Runs the job on `client`'s backend: photos there, the job there, its files back here.
pub(super) async fn run_remote(
    svc: &JobService,
    job: &Job,
    input: &JobInput,
    client: &RemoteClient,
    cancel: CancellationToken,
) -> Result<(Value, Usage), TaskError> {
    let inner = &svc.inner;
    let project_id = input
        .project_id
        .clone()
        .or_else(|| job.project_id.clone())
        .ok_or_else(|| TaskError::Permanent("a forwarded job needs a project".into()))?;
    let project = projects::get(&inner.db, &project_id)
        .await?
        .ok_or_else(|| TaskError::Permanent(format!("project {project_id} does not exist")))?;
    let name = client.backend.name.clone();
    let photos = images::list(&inner.db, &project_id).await?;
    report(
        svc,
        job,
        "remote",
        0.0,
        &format!("sending {} photos to {name}", photos.len()),
    )
    .await?;
    let remote = client
        .create_project(&format!("{} (job {} forwarded)", project.name, job.id))
        .await?;
    let result = async {
        // Remote ids to local ones, for the files that name them.
        let mut ids: Vec<(String, String)> = vec![(remote.id.clone(), project_id.clone())];
        for img in &photos {
            if cancel.is_cancelled() {
                return Err(TaskError::Cancelled);
            }
            let bytes = inner.blobs.get(&img.blob_key).await?;
            if let Some(rid) = client.upload(&remote.id, &img.file_name, bytes).await? {
                ids.push((rid, img.id.clone()));
            }
        }
        let mut there = input.clone();
        there.project_id = Some(remote.id.clone());
        there.image_urls = None;
        let rid = client.run(&there).await?;
        let done = follow(svc, job, client, &rid, &cancel).await?;
        if done.status != JobStatus::Completed {
            let why = done
                .error
                .clone()
                .unwrap_or_else(|| done.status.to_string());
            return Err(TaskError::Permanent(format!("on {name}: {why}")));
        }
        let local = |text: &str| {
            ids.iter().fold(text.to_owned(), |t, (from, to)| {
                t.replace(from.as_str(), to)
            })
        };
        let files = client.artifacts(&remote.id).await?;
        let n = files.artifacts.len();
        for (i, a) in files.artifacts.into_iter().enumerate() {
            report(
                svc,
                job,
                "remote",
                99.0,
                &format!("bringing back {} ({} of {n})", a.name, i + 1),
            )
            .await?;
            let bytes = client.download(&remote.id, &a.name).await?;
            let bytes = if a.name.ends_with(".json") {
                local(&String::from_utf8_lossy(&bytes)).into_bytes()
            } else {
                bytes.to_vec()
            };
            fenced::put_artifact(
                svc,
                job,
                &project_id,
                &local(&a.name),
                &a.content_type,
                bytes,
            )
            .await?;
        }
        projects::touch(&inner.db, &project_id).await?;
        let output = done
            .output
            .map(|v| local(&v.to_string()))
            .unwrap_or_default();
        let output = serde_json::from_str(&output).unwrap_or(Value::Null);
        let usage = Usage {
            gpu_ms: (done.gpu_seconds * 1000.0) as i64,
            cost_usd: done.gpu_seconds / 3600.0 * client.backend.gpu_price_per_hour,
        };
        Ok((output, usage))
    }
    .await;
    if let Err(e) = client.delete_project(&remote.id).await {
        tracing::warn!(backend = %name, project = %remote.id, "removing the forwarded project failed: {e}");
    }
    result
}

/// Follows the remote job to its end, mirroring its progress; cancels it there when this job
/// is cancelled.
async fn follow(
    svc: &JobService,
    job: &Job,
    client: &RemoteClient,
    rid: &str,
    cancel: &CancellationToken,
) -> Result<splatpod::api::JobStatusBody, TaskError> {
    let name = &client.backend.name;
    let mut missed = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                if let Err(e) = client.cancel(rid).await {
                    tracing::warn!(backend = %name, job = rid, "cancelling there failed: {e}");
                }
                return Err(TaskError::Cancelled);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        match client.status(rid).await {
            Ok(st) if st.status.is_final() => return Ok(st),
            Ok(st) => {
                missed = 0;
                let stage = st.stage.as_deref().unwrap_or("remote");
                let msg = format!("on {name}: {}", st.message.as_deref().unwrap_or(""));
                report(svc, job, stage, st.progress.min(99.0), &msg).await?;
            }
            Err(e) => {
                missed += 1;
                if missed >= MISSED_POLLS {
                    return Err(TaskError::Transient(format!(
                        "{name} stopped answering: {e}"
                    )));
                }
            }
        }
    }
}
