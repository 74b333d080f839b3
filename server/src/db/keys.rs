//! API keys: only a SHA-256 hash of each key is stored; the key itself is shown once.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{new_id, now_ms, Db};

/// A stored key (without the secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Hex SHA-256 of a presented key, the form it is looked up by.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a key named `name`; returns the stored row and the secret (shown once).
pub async fn create(db: &Db, name: &str) -> Result<(ApiKey, String), sqlx::Error> {
    use base64::Engine;
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    let secret = format!(
        "sp_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let key = ApiKey {
        id: new_id(),
        name: name.to_owned(),
        prefix: secret[..10].to_owned(),
        created_at: now_ms(),
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(hash_key(&secret))
    .bind(&key.prefix)
    .bind(key.created_at)
    .execute(&db.pool)
    .await?;
    Ok((key, secret))
}

/// The active (not revoked) key with this hash.
pub async fn find_active(db: &Db, key_hash: &str) -> Result<Option<ApiKey>, sqlx::Error> {
    super::fetch_keyed(
        db,
        "SELECT id, name, prefix, created_at, revoked_at FROM api_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )
    .await
}

pub async fn list(db: &Db) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at",
    )
    .fetch_all(&db.pool)
    .await
}

/// Revokes the key with this id or name; returns how many keys were revoked.
pub async fn revoke(db: &Db, id_or_name: &str) -> Result<u64, sqlx::Error> {
    super::stamp(
        db,
        "UPDATE api_keys SET revoked_at = $1 WHERE (id = $2 OR name = $2) AND revoked_at IS NULL",
        id_or_name,
    )
    .await
}
