//! What every process of a node shares, whatever it runs: where its data is kept, its persistent
//! secrets and its stop signal.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::blob::BlobStore;
use crate::db::Db;
use crate::error::ServerError;

/// Where the server keeps its data; shared by every subcommand that touches it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the SQLite database, local blobs and the server's secrets (created if missing).
    #[arg(
        long,
        global = true,
        env = "SPLATPOD_DATA_DIR",
        default_value = "splatpod-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user:pass@host/db) instead of SQLite in --data-dir.
    #[arg(long, global = true, env = "SPLATPOD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// S3-compatible blob store URL (s3://bucket/prefix; AWS_* variables give endpoint and
    /// credentials) instead of --data-dir/blobs.
    #[arg(long, global = true, env = "SPLATPOD_BLOB_URL")]
    pub blob_url: Option<String>,
}

impl StoreArgs {
    /// Creates the data folder if missing and opens the database in it (or at --database-url).
    pub async fn open_db(&self) -> Result<Db, ServerError> {
        tokio::fs::create_dir_all(&self.data_dir).await?;
        Ok(Db::open(self.database_url.as_deref(), &self.data_dir).await?)
    }

    /// The database (as [`StoreArgs::open_db`]) and the blob store.
    pub async fn open(&self) -> Result<(Db, BlobStore), ServerError> {
        let db = self.open_db().await?;
        let blobs = BlobStore::open(self.blob_url.as_deref(), &self.data_dir)?;
        Ok((db, blobs))
    }
}

/// Reads a random token kept in `path` (the webhook secret, the node id), creating it
/// (owner-only) the first time.
pub fn persistent_token(path: &Path) -> Result<String, ServerError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_owned();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    let secret = hex::encode(raw);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)?.write_all(secret.as_bytes())?;
    Ok(secret)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
