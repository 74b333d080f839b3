//! Uploaded photos: metadata here, bytes in the object store under `blob_key`.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Image {
    pub id: String,
    pub project_id: String,
    pub sha256: String,
    /// The client's file name, for display only (never used as a path).
    pub file_name: String,
    pub format: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub focal_35mm: Option<f64>,
    pub blob_key: String,
    pub created_at: i64,
}

impl From<Image> for splatpod::api::ImageInfo {
    fn from(i: Image) -> Self {
        splatpod::api::ImageInfo {
            id: i.id,
            project_id: i.project_id,
            sha256: i.sha256,
            file_name: i.file_name,
            format: i.format,
            bytes: i.bytes,
            width: i.width,
            height: i.height,
            focal_35mm: i.focal_35mm,
            created_at: i.created_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, sha256, file_name, format, bytes, width, height, \
                       focal_35mm, blob_key, created_at";

/// Inserts `img`; returns false (and stores nothing) when the project already has these bytes.
pub async fn insert(db: &Db, img: &Image) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(&format!(
        "INSERT INTO images ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (project_id, sha256) DO NOTHING"
    ))
    .bind(&img.id)
    .bind(&img.project_id)
    .bind(&img.sha256)
    .bind(&img.file_name)
    .bind(&img.format)
    .bind(img.bytes)
    .bind(img.width)
    .bind(img.height)
    .bind(img.focal_35mm)
    .bind(&img.blob_key)
    .bind(img.created_at)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn find_by_hash(
    db: &Db,
    project_id: &str,
    sha256: &str,
) -> Result<Option<Image>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM images WHERE project_id = $1 AND sha256 = $2"
    ))
    .bind(project_id)
    .bind(sha256)
    .fetch_optional(&db.pool)
    .await
}

/// The project's images in upload order.
pub async fn list(db: &Db, project_id: &str) -> Result<Vec<Image>, sqlx::Error> {
    super::fetch_all_keyed(
        db,
        &format!("SELECT {COLUMNS} FROM images WHERE project_id = $1 ORDER BY created_at, id"),
        project_id,
    )
    .await
}

/// Removes one image row (used to undo a partly failed upload request).
pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    super::execute_keyed(db, "DELETE FROM images WHERE id = $1", id).await?;
    Ok(())
}
