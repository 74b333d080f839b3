//! The RunPod-compatible job API under `/v2/{endpoint}/`: the calls and bodies the `runpod`
//! SDK's endpoint client makes (`run`, `runsync`, `status`, `stream`, `cancel`, `retry`,
//! `purge-queue`, `health`), so RunPod clients work by changing the base URL.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use splatpod::api::ErrorBody;
use splatpod::api::{
    EndpointHealth, GpuHealth, JobAccepted, JobCounts, JobInput, JobPolicy, JobStatusBody,
    PurgeResult, RunRequest, StreamBody, StreamChunk, WorkerCounts,
};

use crate::auth::{Authed, Caller, Principal};
use crate::db::jobs::{self as q, Job, JobStatus, NewJob};
use crate::db::{new_id, projects};
use crate::error::ServerError;
use crate::jobs::input::validate;
use crate::jobs::{output_value, status_body};
use crate::state::AppState;

fn check_endpoint(st: &AppState, endpoint: &str) -> Result<(), ServerError> {
    if endpoint == st.config.endpoint {
        Ok(())
    } else {
        Err(ServerError::NotFound(format!("no endpoint `{endpoint}`")))
    }
}

/// Ok when `caller` may read or follow `job`: a key any job, a pairing only jobs on its
/// project.
pub(crate) fn require_job_scope(caller: &Principal, job: &Job) -> Result<(), ServerError> {
    match (caller, &job.project_id) {
        (Principal::Key(_), _) => Ok(()),
        (Principal::Pairing(_), Some(p)) => caller.require_project(p),
        (Principal::Pairing(_), None) => Err(ServerError::Forbidden(
            "a pairing token reads only jobs on its project".into(),
        )),
    }
}

/// A pairing token starts jobs only on its own project, and without a webhook (it may not make
/// the server call out).
fn require_submit_scope(caller: &Principal, req: &RunRequest) -> Result<(), ServerError> {
    if let Principal::Pairing(_) = caller {
        let Some(project) = &req.input.project_id else {
            return Err(ServerError::Forbidden(
                "a pairing token starts jobs only on its project (`project_id`)".into(),
            ));
        };
        caller.require_project(project)?;
        if req.webhook.is_some() {
            return Err(ServerError::Forbidden(
                "a pairing token cannot set a webhook".into(),
            ));
        }
    }
    Ok(())
}

async fn submit(
    st: &AppState,
    caller: &Principal,
    ip: std::net::IpAddr,
    body: &[u8],
) -> Result<Job, ServerError> {
    st.limits.job_submission(&caller.rate_key(), ip)?;
    let req: RunRequest = serde_json::from_slice(body)
        .map_err(|e| ServerError::BadInput(format!("invalid request body: {e}")))?;
    let input = &req.input;
    validate(input, st.config.max_url_images, false)?;
    require_submit_scope(caller, &req)?;
    if let Some(p) = &input.project_id {
        if projects::get(&st.db, p).await?.is_none() {
            return Err(ServerError::NotFound(format!("no project with id `{p}`")));
        }
    }
    if let Some(url) = &req.webhook {
        st.guard
            .check(url)
            .await
            .map_err(|e| ServerError::BadInput(format!("webhook: {e}")))?;
    }
    let policy = req.policy.clone().unwrap_or_default();
    for v in [policy.execution_timeout, policy.ttl].into_iter().flatten() {
        if v <= 0 {
            return Err(ServerError::BadInput(
                "policy executionTimeout and ttl are positive milliseconds".into(),
            ));
        }
    }
    queue(
        st,
        input,
        req.webhook.as_deref(),
        &policy,
        Some(caller.key_id()),
    )
    .await
}

/// Stores a checked job `input` in the queue with the server's timeout and retry settings and
/// wakes the dispatcher; the server's own follow-up jobs (an import's thumbnail) come this way
/// too.
pub(crate) async fn queue(
    st: &AppState,
    input: &JobInput,
    webhook: Option<&str>,
    policy: &JobPolicy,
    api_key_id: Option<&str>,
) -> Result<Job, ServerError> {
    let id = new_id();
    let input_text = serde_json::to_string(input)?;
    let job = q::insert(
        &st.db,
        &NewJob {
            id: &id,
            endpoint: &st.config.endpoint,
            task: input.task.name(),
            input: &input_text,
            webhook,
            execution_timeout_ms: Some(
                policy.execution_timeout.unwrap_or(st.config.job_timeout_ms),
            ),
            ttl_ms: policy.ttl,
            project_id: input.project_id.as_deref(),
            api_key_id,
            max_attempts: st.config.max_attempts,
        },
    )
    .await?;
    st.jobs.wake();
    Ok(job)
}

#[utoipa::path(
    post,
    path = "/v2/{endpoint}/run",
    operation_id = "run",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)")),
    request_body = RunRequest,
    responses(
        (status = 200, description = "Queued", body = JobAccepted),
        (status = 400, description = "Not a valid job request (unknown fields are refused)", body = ErrorBody),
        (status = 404, description = "No such endpoint or project", body = ErrorBody),
        (status = 429, description = "Too many job submissions; see `Retry-After`", body = ErrorBody)
    )
)]
/// Queues a job; a pairing token may queue jobs on its own project.
pub async fn run(
    State(st): State<AppState>,
    Caller(caller): Caller,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    body: Bytes,
) -> Result<Json<JobAccepted>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let job = submit(&st, &caller, addr.ip(), &body).await?;
    Ok(Json(JobAccepted {
        id: job.id,
        status: job.status,
    }))
}

/// `runsync`'s query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Wait {
    /// Milliseconds to wait (RunPod's `?wait=`), capped by the server's runsync bound.
    wait: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v2/{endpoint}/runsync",
    operation_id = "runsync",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)"), Wait),
    request_body = RunRequest,
    responses(
        (status = 200, description = "The job's status once final, or when the wait ends", body = JobStatusBody),
        (status = 400, description = "Not a valid job request (unknown fields are refused)", body = ErrorBody),
        (status = 404, description = "No such endpoint or project", body = ErrorBody),
        (status = 429, description = "Too many job submissions; see `Retry-After`", body = ErrorBody)
    )
)]
/// Queues a job and waits for it; a pairing token may do so on its own project.
pub async fn runsync(
    State(st): State<AppState>,
    Caller(caller): Caller,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    Query(wait): Query<Wait>,
    body: Bytes,
) -> Result<Json<JobStatusBody>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let job = submit(&st, &caller, addr.ip(), &body).await?;
    let bound = Duration::from_secs(st.config.runsync_wait_s);
    let max = wait
        .wait
        .map(Duration::from_millis)
        .map_or(bound, |w| w.min(bound));
    let job = st.jobs.wait_final(&job.id, max).await?.unwrap_or(job);
    Ok(Json(status_body(&job)))
}

async fn find(st: &AppState, endpoint: &str, id: &str) -> Result<Job, ServerError> {
    check_endpoint(st, endpoint)?;
    match q::get(&st.db, id).await? {
        Some(j) if j.endpoint == endpoint => Ok(j),
        _ => Err(ServerError::NotFound(format!("no job with id `{id}`"))),
    }
}

#[utoipa::path(
    method(get, post),
    path = "/v2/{endpoint}/status/{id}",
    operation_id = "status",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)"),
        ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Status, progress, stage, and the output or error", body = JobStatusBody),
        (status = 404, description = "No such endpoint or job", body = ErrorBody)
    )
)]
/// A job's status; a pairing token may read jobs on its own project.
pub async fn status(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<JobStatusBody>, ServerError> {
    let job = find(&st, &endpoint, &id).await?;
    require_job_scope(&caller, &job)?;
    Ok(Json(status_body(&job)))
}

/// Progress chunks since the previous call.
#[utoipa::path(
    method(get, post),
    path = "/v2/{endpoint}/stream/{id}",
    operation_id = "stream",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)"),
        ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The chunks since the previous call and the status", body = StreamBody),
        (status = 404, description = "No such endpoint or job", body = ErrorBody)
    )
)]
pub async fn stream(
    State(st): State<AppState>,
    _auth: Authed,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<StreamBody>, ServerError> {
    find(&st, &endpoint, &id).await?;
    // Chunks first, then the status: a final status means no chunk can follow.
    let chunks = q::stream_since_last(&st.db, &id).await?;
    let job = find(&st, &endpoint, &id).await?;
    let stream = chunks
        .iter()
        .map(|c| StreamChunk {
            output: output_value(c),
        })
        .collect();
    let error = job
        .error
        .filter(|_| job.status.is_final() && job.status != JobStatus::Completed);
    Ok(Json(StreamBody {
        id: job.id,
        status: job.status,
        stream,
        error,
    }))
}

/// Cancels a queued or running job.
#[utoipa::path(
    post,
    path = "/v2/{endpoint}/cancel/{id}",
    operation_id = "cancel",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)"),
        ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job's status after cancelling", body = JobStatusBody),
        (status = 404, description = "No such endpoint or job", body = ErrorBody)
    )
)]
pub async fn cancel(
    State(st): State<AppState>,
    _auth: Authed,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<JobStatusBody>, ServerError> {
    find(&st, &endpoint, &id).await?;
    let job = st
        .jobs
        .cancel(&id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no job with id `{id}`")))?;
    Ok(Json(status_body(&job)))
}

/// Requeues a failed, timed-out or cancelled job.
#[utoipa::path(
    post,
    path = "/v2/{endpoint}/retry/{id}",
    operation_id = "retry",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)"),
        ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Queued again", body = JobAccepted),
        (status = 404, description = "No such endpoint or job", body = ErrorBody),
        (status = 409, description = "The job is not failed, timed out or cancelled", body = ErrorBody),
        (status = 429, description = "Too many job submissions; see `Retry-After`", body = ErrorBody)
    )
)]
pub async fn retry(
    State(st): State<AppState>,
    Authed(key): Authed,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<JobAccepted>, ServerError> {
    let job = find(&st, &endpoint, &id).await?;
    st.limits.job_submission(&key.id, addr.ip())?;
    if !q::retry(&st.db, &id).await? {
        return Err(ServerError::Conflict(format!(
            "job `{id}` is {}; only FAILED, TIMED_OUT or CANCELLED jobs can be retried",
            job.status
        )));
    }
    st.jobs.wake();
    Ok(Json(JobAccepted {
        id,
        status: JobStatus::InQueue,
    }))
}

/// Cancels every queued job.
#[utoipa::path(
    post,
    path = "/v2/{endpoint}/purge-queue",
    operation_id = "purge_queue",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)")),
    responses(
        (status = 200, description = "How many queued jobs were cancelled", body = PurgeResult),
        (status = 404, description = "No such endpoint", body = ErrorBody)
    )
)]
pub async fn purge_queue(
    State(st): State<AppState>,
    _auth: Authed,
    Path(endpoint): Path<String>,
) -> Result<Json<PurgeResult>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let removed = st.jobs.purge_queue().await?;
    Ok(Json(PurgeResult {
        removed: removed as u64,
        status: "completed".into(),
    }))
}

/// Job counts by status, worker slots and the GPU.
#[utoipa::path(
    get,
    path = "/v2/{endpoint}/health",
    operation_id = "endpoint_health",
    tag = "jobs",
    security(("bearer" = [])),
    params(("endpoint" = String, Path, description = "The job endpoint name (`/health` reports it)")),
    responses(
        (status = 200, description = "Counts, workers and GPU", body = EndpointHealth),
        (status = 404, description = "No such endpoint", body = ErrorBody)
    )
)]
pub async fn health(
    State(st): State<AppState>,
    _auth: Authed,
    Path(endpoint): Path<String>,
) -> Result<Json<EndpointHealth>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let counts = q::counts(&st.db, &endpoint).await?;
    let count = |s: JobStatus| {
        counts
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, n)| *n as u64)
    };
    let (idle, running) = st.jobs.workers().await?;
    let gpu = match st.adapter() {
        Ok(a) => GpuHealth {
            ready: true,
            name: Some(a.name),
            backend: Some(a.backend),
            driver: Some(a.driver),
            device_type: Some(a.device_type),
            error: None,
        },
        Err(e) => GpuHealth {
            ready: false,
            name: None,
            backend: None,
            driver: None,
            device_type: None,
            error: Some(e),
        },
    };
    Ok(Json(EndpointHealth {
        jobs: JobCounts {
            completed: count(JobStatus::Completed),
            failed: count(JobStatus::Failed) + count(JobStatus::TimedOut),
            cancelled: count(JobStatus::Cancelled),
            in_progress: count(JobStatus::InProgress),
            in_queue: count(JobStatus::InQueue),
            retried: q::retried_count(&st.db, &endpoint).await?.max(0) as u64,
        },
        workers: WorkerCounts { idle, running },
        gpu,
    }))
}
