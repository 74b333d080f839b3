//! Blob storage through `object_store`: a local folder (`DATA_DIR/blobs`) by default, any
//! S3-compatible bucket by URL (`s3://bucket/prefix`, credentials and endpoint from the usual
//! `AWS_*` environment variables). Keys are built by the server from ids and hashes only.

use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};

use crate::error::ServerError;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    /// Where keys live, for people and other tools: the local folder or the bucket URL.
    base: String,
}

/// The `AWS_*` environment as `object_store` options (endpoint, region, credentials).
fn aws_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// Reads the object at `url` (`s3://bucket/key`, with the `AWS_*` settings), refusing one over
/// `limit` bytes before downloading it: photos a RunPod job names in its bucket.
pub async fn read_object_url(url: &str, limit: usize) -> Result<Bytes, ServerError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| ServerError::BadInput(format!("object URL `{url}`: {e}")))?;
    let (store, path) = object_store::parse_url_opts(&parsed, aws_env())?;
    let size = match store.head(&path).await {
        Ok(meta) => meta.size,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ServerError::NotFound(format!("no object at {url}")))
        }
        Err(e) => return Err(e.into()),
    };
    if size as u64 > limit as u64 {
        return Err(ServerError::TooLarge(format!(
            "{url} is {size} bytes, over the limit of {limit}"
        )));
    }
    Ok(store.get(&path).await?.bytes().await?)
}

impl BlobStore {
    /// Opens the store at `url`, or `data_dir/blobs` when none is given.
    pub fn open(url: Option<&str>, data_dir: &std::path::Path) -> Result<Self, ServerError> {
        match url {
            None => {
                let dir = data_dir.join("blobs");
                std::fs::create_dir_all(&dir)?;
                let store = LocalFileSystem::new_with_prefix(&dir)?;
                let base = std::path::absolute(&dir).unwrap_or(dir);
                Ok(Self {
                    store: Arc::new(store),
                    prefix: ObjPath::default(),
                    base: base.display().to_string(),
                })
            }
            Some(u) => {
                let parsed = url::Url::parse(u)
                    .map_err(|e| ServerError::BadInput(format!("blob store URL `{u}`: {e}")))?;
                let (store, prefix) = object_store::parse_url_opts(&parsed, aws_env())?;
                Ok(Self {
                    store: Arc::from(store),
                    prefix,
                    base: u.trim_end_matches('/').to_owned(),
                })
            }
        }
    }

    fn path(&self, key: &str) -> ObjPath {
        if self.prefix.as_ref().is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Where the blob `key` is, as a path or URL another tool can open (RunPod job outputs
    /// name their files so).
    pub fn locate(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    /// Stores `bytes` under `key` (atomically: readers never see a partial blob).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ServerError> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, ServerError> {
        match self.store.get(&self.path(key)).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(ServerError::NotFound(format!(
                "stored object {key} is missing"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes one blob (a missing one is fine).
    pub async fn delete(&self, key: &str) -> Result<(), ServerError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes every blob under `prefix` (a project's folder).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), ServerError> {
        use futures::TryStreamExt;
        let base = self.path(prefix);
        let paths: Vec<_> = self
            .store
            .list(Some(&base))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for p in paths {
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
