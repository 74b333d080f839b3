//! The storage side of resumable uploads: each upload's bytes so far in `DATA_DIR/uploads/ID.part`
//! (the file's length is the upload's offset), appended as they arrive and synced when a request
//! ends however it ends, one writer per upload at a time, and once complete checked against its
//! SHA-256 and taken in as a photo or a video exactly as the multipart uploads are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedMutexGuard;

use crate::db::uploads::{self, Upload};
use crate::error::ServerError;

/// How long a PATCH may wait for another request on the same upload to finish.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// A request body that sends nothing for this long is ended (its bytes so far are kept), so a
/// half-open connection does not hold its upload.
const IDLE_BODY: Duration = Duration::from_secs(60);
/// A partial file with no upload row is removed once it is this old.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// One lock per upload being written, so two requests never append to the same file.
#[derive(Clone, Default)]
pub struct Locks(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

/// Held while a request writes an upload.
pub struct Writing(#[allow(dead_code)] OwnedMutexGuard<()>);

impl Locks {
    /// Waits (a while) until no other request writes upload `id`.
    pub async fn acquire(&self, id: &str) -> Result<Writing, ServerError> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, l| Arc::strong_count(l) > 1);
            Arc::clone(map.entry(id.to_owned()).or_default())
        };
        match tokio::time::timeout(LOCK_WAIT, lock.lock_owned()).await {
            Ok(guard) => Ok(Writing(guard)),
            Err(_) => Err(ServerError::Locked(
                "this upload is still being received on another connection; ask for its \
                 offset (HEAD) again in a moment"
                    .into(),
            )),
        }
    }
}

/// Where the bytes of upload `id` are kept (ids are server-made UUIDs, never client text).
pub fn part_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.part"))
}

/// Bytes received so far for upload `id` (0 when nothing is on disk).
pub async fn offset(dir: &Path, id: &str) -> Result<u64, ServerError> {
    match tokio::fs::metadata(part_path(dir, id)).await {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Creates the empty file of a new upload.
pub async fn create(dir: &Path, id: &str) -> Result<(), ServerError> {
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::File::create(part_path(dir, id)).await?;
    Ok(())
}

/// Removes an upload's bytes (a missing file is fine).
pub async fn remove(dir: &Path, id: &str) {
    match tokio::fs::remove_file(part_path(dir, id)).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(upload = id, "removing a partial upload: {e}"),
    }
}

/// How a request body ended.
pub enum Received {
    /// All of it was stored; the new offset.
    Complete(u64),
    /// The connection ended or stalled mid-body; what arrived before is stored.
    Cut { offset: u64, reason: String },
}

/// Appends `body` to upload `id`, whose file holds `start` bytes, refusing to grow it past
/// `length` (413, and the file is put back to `start`). Every byte that arrived is kept and
/// synced to disk, also when the connection is cut.
pub async fn append(
    dir: &Path,
    id: &str,
    start: u64,
    length: u64,
    body: Body,
) -> Result<Received, ServerError> {
    let path = part_path(dir, id);
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .await?;
    let mut stream = body.into_data_stream();
    let mut offset = start;
    let mut cut = None;
    let mut over = false;
    loop {
        let chunk = match tokio::time::timeout(IDLE_BODY, stream.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                cut = Some(format!("the connection ended mid-body ({e})"));
                break;
            }
            Err(_) => {
                cut = Some(format!("no bytes for {} s", IDLE_BODY.as_secs()));
                break;
            }
        };
        if offset + chunk.len() as u64 > length {
            over = true;
            break;
        }
        file.write_all(&chunk).await?;
        offset += chunk.len() as u64;
    }
    file.flush().await?;
    if over {
        file.set_len(start).await?;
        file.sync_data().await?;
        return Err(ServerError::TooLarge(format!(
            "the body goes past the upload's declared length of {length} bytes; nothing of it \
             was kept"
        )));
    }
    file.sync_data().await?;
    Ok(match cut {
        Some(reason) => Received::Cut { offset, reason },
        None => Received::Complete(offset),
    })
}

/// Lower-case hex SHA-256 of the file at `path`, read on a blocking thread.
pub async fn sha256_file(path: PathBuf) -> Result<String, ServerError> {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok::<_, std::io::Error>(hex::encode(hasher.finalize()))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("hashing thread failed: {e}")))?
    .map_err(ServerError::from)
}

/// Reads a complete photo upload into memory (it is at most the image limit).
pub async fn read(dir: &Path, id: &str) -> Result<Bytes, ServerError> {
    Ok(Bytes::from(tokio::fs::read(part_path(dir, id)).await?))
}

/// Removes expired uploads (rows and bytes) and partial files whose upload is gone (its project
/// was deleted); best effort, called when an upload is created.
pub async fn sweep(db: &crate::db::Db, dir: &Path) {
    match uploads::expired(db, 100).await {
        Ok(ids) => {
            for id in ids {
                remove(dir, &id).await;
                if let Err(e) = uploads::delete(db, &id).await {
                    tracing::warn!(upload = %id, "removing an expired upload: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("listing expired uploads: {e}"),
    }
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".part")) else {
            continue;
        };
        let old = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ORPHAN_AGE);
        if old && matches!(uploads::exists(db, id).await, Ok(false)) {
            remove(dir, id).await;
        }
    }
}

/// Whether an upload's row says it was taken in.
pub fn is_complete(u: &Upload) -> bool {
    u.completed_at.is_some()
}
