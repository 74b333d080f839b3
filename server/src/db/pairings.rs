//! Phone pairings: expiring, revocable tokens scoped to one project, stored hashed.

use super::keys::hash_key;
use super::{new_id, now_ms, Db};

/// Prefix of every pairing token; tells the authenticator which table to look in.
pub const TOKEN_PREFIX: &str = "pp_";

/// A stored pairing (the token itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pairing {
    pub id: String,
    pub project_id: String,
    /// The API key that created it; the pairing dies with that key.
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "p.id, p.project_id, p.created_by, p.created_at, p.expires_at, p.revoked_at";

/// A fresh 256-bit URL-safe token with the pairing prefix.
fn new_token() -> String {
    use base64::Engine;
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// Creates a pairing for `project_id` by key `created_by`, valid until `expires_at` (ms);
/// returns the row and the token (shown once).
pub async fn create(
    db: &Db,
    project_id: &str,
    created_by: &str,
    expires_at: i64,
) -> Result<(Pairing, String), sqlx::Error> {
    let token = new_token();
    let pairing = Pairing {
        id: new_id(),
        project_id: project_id.to_owned(),
        created_by: created_by.to_owned(),
        created_at: now_ms(),
        expires_at,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO pairings (id, project_id, token_hash, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&pairing.id)
    .bind(&pairing.project_id)
    .bind(hash_key(&token))
    .bind(&pairing.created_by)
    .bind(pairing.created_at)
    .bind(pairing.expires_at)
    .execute(&db.pool)
    .await?;
    Ok((pairing, token))
}

/// The pairing with this token hash if it is unexpired, unrevoked and its creating key is
/// still active.
pub async fn find_active(db: &Db, token_hash: &str) -> Result<Option<Pairing>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM pairings p JOIN api_keys k ON k.id = p.created_by \
         WHERE p.token_hash = $1 AND p.revoked_at IS NULL AND p.expires_at > $2 \
         AND k.revoked_at IS NULL"
    ))
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await
}

/// Every pairing of a project, newest first (expired and revoked ones included).
pub async fn list(db: &Db, project_id: &str) -> Result<Vec<Pairing>, sqlx::Error> {
    super::fetch_all_keyed(
        db,
        &format!(
        "SELECT {COLUMNS} FROM pairings p WHERE p.project_id = $1 ORDER BY p.created_at DESC, p.id"
    ),
        project_id,
    )
    .await
}

/// Revokes pairing `id` of `project_id`; returns whether an unrevoked pairing was revoked.
pub async fn revoke(db: &Db, project_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE pairings SET revoked_at = $1 \
         WHERE id = $2 AND project_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(id)
    .bind(project_id)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}
