//! A worker's writes for the job it runs, fenced by its claim (see [`crate::db::jobs`]): once the
//! lease is lost (expired and reclaimed, or cancelled) they are refused and the task stops.

use bytes::Bytes;

use super::tasks::TaskError;
use super::JobService;
use crate::db::artifacts;
use crate::db::jobs::{self as q, Job};

/// Why a fenced write was refused, logged once per refusal: the worker lost the claim.
fn refused(job: &Job, what: &str) -> TaskError {
    tracing::warn!(
        job = %job.id,
        epoch = job.lease_epoch,
        "lease lost: {what} refused (the job was reclaimed or cancelled)"
    );
    TaskError::Cancelled
}

/// Records progress and a stream chunk while the claim holds.
pub(super) async fn progress(
    svc: &JobService,
    job: &Job,
    stage: &str,
    percent: f64,
    message: &str,
    chunk: &str,
) -> Result<(), TaskError> {
    if q::progress(&svc.inner.db, job.lease(), stage, percent, message, chunk).await? {
        Ok(())
    } else {
        Err(refused(job, "progress write"))
    }
}

/// Records stage + percent + message with the stream chunk tasks report them in
/// (`{"stage", "progress", "message"}`), while the claim holds.
pub(super) async fn report(
    svc: &JobService,
    job: &Job,
    stage: &str,
    percent: f64,
    message: &str,
) -> Result<(), TaskError> {
    let chunk =
        serde_json::json!({"stage": stage, "progress": percent, "message": message}).to_string();
    progress(svc, job, stage, percent, message, &chunk).await
}

/// Stores an artifact of `project_id` while the claim holds. The bytes go to a key of their own
/// (job id and claim epoch), so a fenced-off worker never overwrites the blob its successor's
/// record points to; a refused blob is deleted, a replaced one too.
pub(super) async fn put_artifact(
    svc: &JobService,
    job: &Job,
    project_id: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(), TaskError> {
    let inner = &svc.inner;
    let key = format!(
        "projects/{project_id}/artifacts/{}.{}/{name}",
        job.id, job.lease_epoch
    );
    let len = bytes.len() as i64;
    inner.blobs.put(&key, Bytes::from(bytes)).await?;
    let upserted = artifacts::upsert_fenced(
        &inner.db,
        job.lease(),
        project_id,
        name,
        content_type,
        len,
        &key,
    )
    .await;
    match upserted {
        Ok((true, replaced)) => {
            if let Some(old) = replaced {
                if let Err(e) = inner.blobs.delete(&old).await {
                    tracing::warn!(blob = %old, "deleting a replaced artifact failed: {e}");
                }
            }
            Ok(())
        }
        Ok((false, _)) => {
            inner.blobs.delete(&key).await?;
            Err(refused(job, &format!("artifact {name}")))
        }
        Err(e) => {
            let _ = inner.blobs.delete(&key).await;
            Err(e.into())
        }
    }
}

/// The blob key of the checkpoints the claim `job` holds writes (one per claim, so a fenced-off
/// worker never overwrites its successor's).
pub(super) fn checkpoint_key(job: &Job) -> String {
    format!("jobs/{}/train-{}.ckpt", job.id, job.lease_epoch)
}

/// Stores a training checkpoint while the claim holds and points the job at it; the checkpoint
/// an earlier claim left is deleted once this one is recorded. A refused one is deleted.
pub(super) async fn put_checkpoint(
    svc: &JobService,
    job: &Job,
    bytes: Vec<u8>,
) -> Result<(), TaskError> {
    let inner = &svc.inner;
    let key = checkpoint_key(job);
    inner.blobs.put(&key, Bytes::from(bytes)).await?;
    if !q::set_checkpoint(&inner.db, job.lease(), &key).await? {
        inner.blobs.delete(&key).await?;
        return Err(refused(job, "checkpoint"));
    }
    if let Some(old) = job.checkpoint_key.as_deref().filter(|k| *k != key) {
        if let Err(e) = inner.blobs.delete(old).await {
            tracing::warn!(blob = %old, "deleting an earlier claim's checkpoint failed: {e}");
        }
    }
    Ok(())
}
