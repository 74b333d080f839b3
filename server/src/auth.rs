//! API-key authentication: `Authorization: Bearer KEY` on every write and job call. Keys are
//! looked up by their SHA-256 hash; results are cached for a few seconds so status polling does
//! not hit the database for the key, and a revoked key stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::db::keys::{self, ApiKey};
use crate::db::Db;
use crate::error::ServerError;
use crate::state::AppState;

const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Key hash → (the active key or none, when it was looked up).
type Entries = HashMap<String, (Option<ApiKey>, Instant)>;

#[derive(Clone)]
pub struct KeyCache {
    db: Db,
    entries: Arc<Mutex<Entries>>,
}

impl KeyCache {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            entries: Arc::default(),
        }
    }

    /// The active key matching `secret`, if any.
    pub async fn check(&self, secret: &str) -> Result<Option<ApiKey>, ServerError> {
        let hash = keys::hash_key(secret);
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((key, at)) = entries.get(&hash) {
                if at.elapsed() < CACHE_TTL {
                    return Ok(key.clone());
                }
            }
        }
        let key = keys::find_active(&self.db, &hash).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (key.clone(), Instant::now()));
        Ok(key)
    }
}

/// An authenticated caller (extracting it answers 401 when the key is missing or wrong).
pub struct Authed(pub ApiKey);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServerError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ServerError::Unauthorized)?;
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .unwrap_or(header)
            .trim();
        if secret.is_empty() || secret.len() > 200 {
            return Err(ServerError::Unauthorized);
        }
        match state.keys.check(secret).await? {
            Some(key) => Ok(Authed(key)),
            None => Err(ServerError::Unauthorized),
        }
    }
}
