//! Results kept with a project (feature files, matches, scenes, thumbnails).

use super::{now_ms, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Artifact {
    pub project_id: String,
    pub name: String,
    pub content_type: String,
    pub bytes: i64,
    pub blob_key: String,
    pub job_id: Option<String>,
    pub created_at: i64,
}

impl From<Artifact> for splatpod::api::ArtifactInfo {
    fn from(a: Artifact) -> Self {
        splatpod::api::ArtifactInfo {
            project_id: a.project_id,
            name: a.name,
            content_type: a.content_type,
            bytes: a.bytes,
            job_id: a.job_id,
            created_at: a.created_at,
        }
    }
}

const COLUMNS: &str = "project_id, name, content_type, bytes, blob_key, job_id, created_at";

/// What both inserts do when the project already has an artifact of that name: replace it.
const REPLACE_BY_NAME: &str = "ON CONFLICT (project_id, name) DO UPDATE SET \
    content_type = excluded.content_type, bytes = excluded.bytes, blob_key = excluded.blob_key, \
    job_id = excluded.job_id, created_at = excluded.created_at";

/// Records (or replaces) an artifact whose bytes are already in the object store.
pub async fn upsert(
    db: &Db,
    project_id: &str,
    name: &str,
    content_type: &str,
    bytes: i64,
    blob_key: &str,
    job_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO artifacts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) {REPLACE_BY_NAME}"
    ))
    .bind(project_id)
    .bind(name)
    .bind(content_type)
    .bind(bytes)
    .bind(blob_key)
    .bind(job_id)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// As [`upsert`], for a job's worker: recorded only while it still holds the claim `lease` (so a
/// fenced-off worker cannot replace its successor's artifact). Returns whether it was recorded
/// and the blob key it replaced, if any (the caller deletes that blob).
pub async fn upsert_fenced(
    db: &Db,
    lease: super::jobs::Lease<'_>,
    project_id: &str,
    name: &str,
    content_type: &str,
    bytes: i64,
    blob_key: &str,
) -> Result<(bool, Option<String>), sqlx::Error> {
    let before = get(db, project_id, name).await?.map(|a| a.blob_key);
    // The SELECT's WHERE also settles SQLite's INSERT … SELECT … ON CONFLICT parsing ambiguity.
    let r = sqlx::query(&format!(
        "INSERT INTO artifacts ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7 \
         WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $6 AND lease_epoch = $8 \
         AND status = 'IN_PROGRESS') {REPLACE_BY_NAME}"
    ))
    .bind(project_id)
    .bind(name)
    .bind(content_type)
    .bind(bytes)
    .bind(blob_key)
    .bind(lease.id)
    .bind(now_ms())
    .bind(lease.epoch)
    .execute(&db.pool)
    .await?;
    let recorded = r.rows_affected() > 0;
    Ok((recorded, before.filter(|k| recorded && k != blob_key)))
}

pub async fn list(db: &Db, project_id: &str) -> Result<Vec<Artifact>, sqlx::Error> {
    super::fetch_all_keyed(
        db,
        &format!("SELECT {COLUMNS} FROM artifacts WHERE project_id = $1 ORDER BY name"),
        project_id,
    )
    .await
}

pub async fn get(db: &Db, project_id: &str, name: &str) -> Result<Option<Artifact>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM artifacts WHERE project_id = $1 AND name = $2"
    ))
    .bind(project_id)
    .bind(name)
    .fetch_optional(&db.pool)
    .await
}
