//! Share links: an unguessable token that reads one project's viewer data, nothing else.

use super::{now_ms, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Share {
    pub token: String,
    pub project_id: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "token, project_id, created_at, expires_at, revoked_at";

/// A new 256-bit URL-safe token.
pub fn new_token() -> String {
    use base64::Engine;
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub async fn create(
    db: &Db,
    project_id: &str,
    expires_at: Option<i64>,
) -> Result<Share, sqlx::Error> {
    let share = Share {
        token: new_token(),
        project_id: project_id.to_owned(),
        created_at: now_ms(),
        expires_at,
        revoked_at: None,
    };
    sqlx::query(&format!(
        "INSERT INTO shares ({COLUMNS}) VALUES ($1, $2, $3, $4, NULL)"
    ))
    .bind(&share.token)
    .bind(&share.project_id)
    .bind(share.created_at)
    .bind(share.expires_at)
    .execute(&db.pool)
    .await?;
    Ok(share)
}

pub async fn list(db: &Db, project_id: &str) -> Result<Vec<Share>, sqlx::Error> {
    super::fetch_all_keyed(
        db,
        &format!("SELECT {COLUMNS} FROM shares WHERE project_id = $1 ORDER BY created_at"),
        project_id,
    )
    .await
}

/// The share if it exists, is not revoked and has not expired.
pub async fn find_valid(db: &Db, token: &str) -> Result<Option<Share>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM shares WHERE token = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)"
    ))
    .bind(token)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await
}

/// Revokes the share; returns whether an active share was revoked.
pub async fn revoke(db: &Db, token: &str) -> Result<bool, sqlx::Error> {
    let r = super::stamp(
        db,
        "UPDATE shares SET revoked_at = $1 WHERE token = $2 AND revoked_at IS NULL",
        token,
    )
    .await?;
    Ok(r > 0)
}
