//! The RunPod-compatible job API under `/v2/{endpoint}/`: the calls and bodies the `runpod`
//! SDK's endpoint client makes (`run`, `runsync`, `status`, `stream`, `cancel`, `retry`,
//! `purge-queue`, `health`), so RunPod clients work by changing the base URL.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Authed;
use crate::db::jobs::{self as q, status, Job, NewJob};
use crate::db::{new_id, projects};
use crate::error::ServerError;
use crate::jobs::input::JobInput;
use crate::jobs::status_body;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    input: Value,
    webhook: Option<String>,
    policy: Option<Policy>,
    /// Accepted for compatibility; Splatpod keeps no per-request S3 settings.
    #[serde(rename = "s3Config")]
    _s3_config: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    execution_timeout: Option<i64>,
    ttl: Option<i64>,
}

fn check_endpoint(st: &AppState, endpoint: &str) -> Result<(), ServerError> {
    if endpoint == st.config.endpoint {
        Ok(())
    } else {
        Err(ServerError::NotFound(format!("no endpoint `{endpoint}`")))
    }
}

async fn submit(
    st: &AppState,
    key_id: &str,
    ip: std::net::IpAddr,
    body: &[u8],
) -> Result<Job, ServerError> {
    st.limits.job_submission(key_id, ip)?;
    let req: RunRequest = serde_json::from_slice(body)
        .map_err(|e| ServerError::BadInput(format!("request body: {e}")))?;
    let input = JobInput::parse(&req.input, st.config.max_url_images)?;
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
    let policy = req.policy.unwrap_or(Policy {
        execution_timeout: None,
        ttl: None,
    });
    for v in [policy.execution_timeout, policy.ttl].into_iter().flatten() {
        if v <= 0 {
            return Err(ServerError::BadInput(
                "policy executionTimeout and ttl are positive milliseconds".into(),
            ));
        }
    }
    let id = new_id();
    let input_text = req.input.to_string();
    let job = q::insert(
        &st.db,
        &NewJob {
            id: &id,
            endpoint: &st.config.endpoint,
            task: input.task.name(),
            input: &input_text,
            webhook: req.webhook.as_deref(),
            execution_timeout_ms: Some(
                policy.execution_timeout.unwrap_or(st.config.job_timeout_ms),
            ),
            ttl_ms: policy.ttl,
            project_id: input.project_id.as_deref(),
            api_key_id: Some(key_id),
            max_attempts: st.config.max_attempts,
        },
    )
    .await?;
    st.jobs.wake();
    Ok(job)
}

pub async fn run(
    State(st): State<AppState>,
    Authed(key): Authed,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let job = submit(&st, &key.id, addr.ip(), &body).await?;
    Ok(Json(json!({ "id": job.id, "status": job.status })))
}

#[derive(Deserialize)]
pub struct Wait {
    /// Milliseconds to wait (RunPod's `?wait=`), capped by the server's runsync bound.
    wait: Option<u64>,
}

pub async fn runsync(
    State(st): State<AppState>,
    Authed(key): Authed,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    Query(wait): Query<Wait>,
    body: Bytes,
) -> Result<Json<Value>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let job = submit(&st, &key.id, addr.ip(), &body).await?;
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

pub async fn status(
    State(st): State<AppState>,
    _auth: Authed,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<Value>, ServerError> {
    Ok(Json(status_body(&find(&st, &endpoint, &id).await?)))
}

pub async fn stream(
    State(st): State<AppState>,
    _auth: Authed,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<Value>, ServerError> {
    find(&st, &endpoint, &id).await?;
    // Chunks first, then the status: a final status means no chunk can follow.
    let chunks = q::stream_since_last(&st.db, &id).await?;
    let job = find(&st, &endpoint, &id).await?;
    let stream: Vec<Value> = chunks
        .iter()
        .map(|c| json!({ "output": serde_json::from_str::<Value>(c).unwrap_or(Value::String(c.clone())) }))
        .collect();
    let mut body = json!({ "id": job.id, "status": job.status, "stream": stream });
    if status::is_final(&job.status) {
        if let Some(e) = &job.error {
            if job.status != status::COMPLETED {
                body["error"] = Value::String(e.clone());
            }
        }
    }
    Ok(Json(body))
}

pub async fn cancel(
    State(st): State<AppState>,
    _auth: Authed,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<Value>, ServerError> {
    find(&st, &endpoint, &id).await?;
    let job = st
        .jobs
        .cancel(&id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no job with id `{id}`")))?;
    Ok(Json(status_body(&job)))
}

pub async fn retry(
    State(st): State<AppState>,
    Authed(key): Authed,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path((endpoint, id)): Path<(String, String)>,
) -> Result<Json<Value>, ServerError> {
    let job = find(&st, &endpoint, &id).await?;
    st.limits.job_submission(&key.id, addr.ip())?;
    if !q::retry(&st.db, &id).await? {
        return Err(ServerError::Conflict(format!(
            "job `{id}` is {}; only FAILED, TIMED_OUT or CANCELLED jobs can be retried",
            job.status
        )));
    }
    st.jobs.wake();
    Ok(Json(json!({ "id": id, "status": status::IN_QUEUE })))
}

pub async fn purge_queue(
    State(st): State<AppState>,
    _auth: Authed,
    Path(endpoint): Path<String>,
) -> Result<Json<Value>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let removed = st.jobs.purge_queue().await?;
    Ok(Json(json!({ "removed": removed, "status": "completed" })))
}

pub async fn health(
    State(st): State<AppState>,
    _auth: Authed,
    Path(endpoint): Path<String>,
) -> Result<Json<Value>, ServerError> {
    check_endpoint(&st, &endpoint)?;
    let counts = q::counts(&st.db, &endpoint).await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let (idle, running) = st.jobs.workers();
    let gpu = match st.adapter() {
        Ok(a) => {
            json!({ "ready": true, "name": a.name, "backend": a.backend, "driver": a.driver, "deviceType": a.device_type })
        }
        Err(e) => json!({ "ready": false, "error": e }),
    };
    Ok(Json(json!({
        "jobs": {
            "completed": count(status::COMPLETED),
            "failed": count(status::FAILED) + count(status::TIMED_OUT),
            "cancelled": count(status::CANCELLED),
            "inProgress": count(status::IN_PROGRESS),
            "inQueue": count(status::IN_QUEUE),
            "retried": q::retried_count(&st.db, &endpoint).await?,
        },
        "workers": { "idle": idle, "running": running },
        "gpu": gpu,
    })))
}
