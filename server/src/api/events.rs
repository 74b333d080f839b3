//! `GET /api/jobs/{id}/events`: live progress as Server-Sent Events (`progress` events with the
//! status body, then one `done` event when the job is final). Polls the database, so it sees
//! jobs run by any worker.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use splatpod::api::ErrorBody;

use crate::auth::Caller;
use crate::db::jobs as q;
use crate::error::ServerError;
use crate::jobs::status_body;
use crate::state::AppState;

/// The job's progress stream; a pairing token may follow jobs on its own project.
#[utoipa::path(
    get,
    path = "/api/jobs/{id}/events",
    operation_id = "job_events",
    tag = "jobs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Server-Sent Events, each `data` a `JobStatusBody` \
            (sent when it changes), then one `done` event when the job is final", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such job", body = ErrorBody)
    )
)]
pub async fn events(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ServerError> {
    let job = q::get(&st.db, &id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no job with id `{id}`")))?;
    super::runpod::require_job_scope(&caller, &job)?;
    // State: (last body sent, finished).
    let stream = futures::stream::unfold(
        (st, id, String::new(), false),
        |(st, id, last, done)| async move {
            if done {
                return None;
            }
            loop {
                let job = match q::get(&st.db, &id).await {
                    Ok(Some(j)) => j,
                    Ok(None) => {
                        let ev = Event::default().event("error").data("job was deleted");
                        return Some((Ok(ev), (st, id, last, true)));
                    }
                    Err(e) => {
                        let ev = Event::default().event("error").data(e.to_string());
                        return Some((Ok(ev), (st, id, last, true)));
                    }
                };
                let body = status_body(&job);
                let fingerprint = format!(
                    "{}|{}|{:?}|{:?}",
                    job.status, job.progress, job.stage, job.message
                );
                let fin = job.status.is_final();
                if fingerprint != last || fin {
                    let name = if fin { "done" } else { "progress" };
                    let data = serde_json::to_string(&body).unwrap_or_default();
                    let ev = Event::default().event(name).data(data);
                    return Some((Ok(ev), (st, id, fingerprint, fin)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
