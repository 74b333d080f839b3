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

use serde_json::Value;
use splatpod::api::{JobInput, JobStatus};
use tokio_util::sync::CancellationToken;

use super::fenced::{self, report};
use super::runner::{run_job, Usage};
use super::tasks::TaskError;
use super::JobService;
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

/// The configured backends with what the forwarder knows of them: jobs sent and not yet back,
/// and the last health answer.
struct Backends {
    clients: Vec<RemoteClient>,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    health: HashMap<String, (Instant, bool)>,
}

impl Backends {
    fn busy(&self, name: &str) -> usize {
        let map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).copied().unwrap_or(0)
    }

    /// Changes the count of jobs in flight to `name` by one.
    fn count(in_flight: &Mutex<HashMap<String, usize>>, name: &str, up: bool) {
        let mut map = in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(name.to_owned()).or_default();
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
    }

    /// Whether the backend answered its health check (asked at most every [`HEALTH_TTL`]).
    async fn healthy(&mut self, c: &RemoteClient) -> bool {
        let name = &c.backend.name;
        if let Some((at, ok)) = self.health.get(name) {
            if at.elapsed() < HEALTH_TTL {
                return *ok;
            }
        }
        let ok = c.healthy().await;
        if !ok {
            tracing::warn!(backend = %name, "remote backend unhealthy");
        }
        self.health.insert(name.clone(), (Instant::now(), ok));
        ok
    }

    /// The first backend, in the configured order, with a free slot and a good health answer.
    async fn pick(&mut self) -> Option<RemoteClient> {
        for c in self.clients.clone() {
            if self.busy(&c.backend.name) < c.backend.max_jobs.max(1) && self.healthy(&c).await {
                return Some(c);
            }
        }
        None
    }
}

/// Forwards waiting jobs until the process ends (started with the local dispatcher when
/// backends are configured).
pub(super) async fn forwarder(svc: JobService) {
    let inner = &svc.inner;
    let mut backends = Backends {
        clients: inner
            .settings
            .remotes
            .iter()
            .cloned()
            .map(RemoteClient::new)
            .collect(),
        in_flight: Arc::default(),
        health: HashMap::new(),
    };
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
            let Some(client) = backends.pick().await else {
                break;
            };
            let worker = format!("remote:{}", client.backend.name);
            let job = match q::claim_id(&inner.db, &id, &worker, inner.settings.lease_ms).await {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(job = %id, "claiming a job to forward failed: {e}");
                    continue;
                }
            };
            let name = client.backend.name.clone();
            Backends::count(&backends.in_flight, &name, true);
            tracing::info!(job = %job.id, backend = %name, "forwarding the job");
            let (svc, in_flight) = (svc.clone(), backends.in_flight.clone());
            tokio::spawn(async move {
                run_job(&svc, None, job, Some(client)).await;
                Backends::count(&in_flight, &name, false);
                svc.wake();
            });
        }
    }
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
