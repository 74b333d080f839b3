//! Projects: a named set of photos and what was computed from them.

use super::{new_id, now_ms, Db};

/// A project as the API returns it, with its counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub image_count: i64,
    pub artifact_count: i64,
    pub job_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Project> for splatpod::api::Project {
    fn from(p: Project) -> Self {
        splatpod::api::Project {
            id: p.id,
            name: p.name,
            image_count: p.image_count,
            artifact_count: p.artifact_count,
            job_count: p.job_count,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

const SELECT: &str = "SELECT p.id, p.name, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM images i WHERE i.project_id = p.id) AS image_count, \
    (SELECT COUNT(*) FROM artifacts a WHERE a.project_id = p.id) AS artifact_count, \
    (SELECT COUNT(*) FROM jobs j WHERE j.project_id = p.id) AS job_count \
    FROM projects p";

pub async fn create(db: &Db, name: &str) -> Result<Project, sqlx::Error> {
    let id = new_id();
    let now = now_ms();
    sqlx::query("INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)")
        .bind(&id)
        .bind(name)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(Project {
        id,
        name: name.to_owned(),
        image_count: 0,
        artifact_count: 0,
        job_count: 0,
        created_at: now,
        updated_at: now,
    })
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Project>, sqlx::Error> {
    super::fetch_keyed(db, &format!("{SELECT} WHERE p.id = $1"), id).await
}

pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<Vec<Project>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} ORDER BY p.created_at DESC, p.id LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
}

/// Marks the project as changed now.
pub async fn touch(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    super::stamp(db, "UPDATE projects SET updated_at = $1 WHERE id = $2", id).await?;
    Ok(())
}

/// The owner's view settings of a project: the saved start view (JSON) and the up axis (wire
/// name), each if set; `None` without the project.
pub async fn view_settings(
    db: &Db,
    id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    super::fetch_keyed(
        db,
        "SELECT start_view, up_axis FROM projects WHERE id = $1",
        id,
    )
    .await
}

/// Sets (or with `None` clears) the project's saved start view (JSON).
pub async fn set_start_view(db: &Db, id: &str, view: Option<&str>) -> Result<(), sqlx::Error> {
    let sql = "UPDATE projects SET start_view = $1, updated_at = $2 WHERE id = $3";
    set_view_setting(db, sql, view, id).await
}

/// Sets the project's up axis (wire name) and clears its saved start view, which was taken
/// about the old one.
pub async fn set_up_axis(db: &Db, id: &str, axis: &str) -> Result<(), sqlx::Error> {
    let sql = "UPDATE projects SET up_axis = $1, start_view = NULL, updated_at = $2 WHERE id = $3";
    set_view_setting(db, sql, Some(axis), id).await
}

/// Runs an update of a view setting of project `id`: `$1` the new value, `$2` the time now
/// (`updated_at`), `$3` the project.
async fn set_view_setting(
    db: &Db,
    sql: &str,
    value: Option<&str>,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(sql)
        .bind(value)
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes the project row (images, artifacts and shares cascade); returns whether it existed.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = super::execute_keyed(db, "DELETE FROM projects WHERE id = $1", id).await?;
    Ok(r > 0)
}
