//! Resumable uploads: what each upload must become; the bytes themselves are on disk.

use super::{now_ms, Db};

/// One resumable upload.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Upload {
    pub id: String,
    pub project_id: String,
    /// `photo` or `video`.
    pub kind: String,
    /// The client's file name, display text only.
    pub file_name: String,
    /// Lower-case hex SHA-256 the whole file must have.
    pub sha256: String,
    /// The whole file's length in bytes.
    pub length: i64,
    /// Frames to keep from a video.
    pub frames: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set once the file was checked and taken into the project.
    pub completed_at: Option<i64>,
}

const COLUMNS: &str = "id, project_id, kind, file_name, sha256, length, frames, created_at, \
                       expires_at, completed_at";

pub async fn insert(db: &Db, u: &Upload) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO uploads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&u.id)
    .bind(&u.project_id)
    .bind(&u.kind)
    .bind(&u.file_name)
    .bind(&u.sha256)
    .bind(u.length)
    .bind(u.frames)
    .bind(u.created_at)
    .bind(u.expires_at)
    .bind(u.completed_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The upload `id` of `project_id`, expired or not.
pub async fn get(db: &Db, project_id: &str, id: &str) -> Result<Option<Upload>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploads WHERE id = $1 AND project_id = $2"
    ))
    .bind(id)
    .bind(project_id)
    .fetch_optional(&db.pool)
    .await
}

/// Whether upload `id` still exists (its project may have been deleted meanwhile).
pub async fn exists(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    Ok(n > 0)
}

/// Unfinished, unexpired uploads of a project (the cap on open uploads).
pub async fn count_open(db: &Db, project_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM uploads \
         WHERE project_id = $1 AND completed_at IS NULL AND expires_at > $2",
    )
    .bind(project_id)
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await
}

/// Pushes the expiry of an upload being written to `expires_at`.
pub async fn extend(db: &Db, id: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE uploads SET expires_at = $1 WHERE id = $2")
        .bind(expires_at)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Marks an upload taken in.
pub async fn complete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    super::stamp(db, "UPDATE uploads SET completed_at = $1 WHERE id = $2", id).await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    super::execute_keyed(db, "DELETE FROM uploads WHERE id = $1", id).await?;
    Ok(())
}

/// Ids of up to `limit` expired uploads, to sweep.
pub async fn expired(db: &Db, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM uploads WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2")
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}
