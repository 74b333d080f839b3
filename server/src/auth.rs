//! Authentication: `Authorization: Bearer TOKEN` on every write and job call. A token is either a
//! full API key or a phone pairing token (`pp_…`) limited to one project; both are looked up by
//! their SHA-256 hash and the result is cached for a few seconds so status polling does not hit
//! the database, so a revoked key stops working within that time (a pairing revoked through
//! this server stops at once; other servers sharing the database see it within that time).
//!
//! Handlers state what they accept by their extractor: [`Authed`] is a full key only (a pairing
//! token gets 403), [`Caller`] is either, and the handler then checks the pairing's scope with
//! [`Principal::require_project`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::db::keys::{self, ApiKey};
use crate::db::pairings::{self, Pairing};
use crate::db::{now_ms, Db};
use crate::error::ServerError;

const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A full API key: everything.
    Key(ApiKey),
    /// A phone pairing: uploads (photos, and a scene trained on the phone), image listing and
    /// jobs on its one project only.
    Pairing(Pairing),
}

impl Principal {
    /// Ok when the caller may act on project `project_id` (a key may act on any).
    pub fn require_project(&self, project_id: &str) -> Result<(), ServerError> {
        match self {
            Principal::Key(_) => Ok(()),
            Principal::Pairing(p) if p.project_id == project_id => Ok(()),
            Principal::Pairing(_) => Err(ServerError::Forbidden(
                "this pairing token is limited to another project".into(),
            )),
        }
    }

    /// The identity job submissions are rate-limited under: the key, or the pairing itself
    /// (so one phone cannot use up its desktop key's quota).
    pub fn rate_key(&self) -> String {
        match self {
            Principal::Key(k) => k.id.clone(),
            Principal::Pairing(p) => format!("pairing:{}", p.id),
        }
    }

    /// The API key a job submitted by this caller is recorded under.
    pub fn key_id(&self) -> &str {
        match self {
            Principal::Key(k) => &k.id,
            Principal::Pairing(p) => &p.created_by,
        }
    }
}

/// Token hash → (the principal or none, when it was looked up).
type Entries = HashMap<String, (Option<Principal>, Instant)>;

/// Looks tokens up by hash, with a short cache.
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

    /// The active key or pairing matching `secret`, if any.
    pub async fn check(&self, secret: &str) -> Result<Option<Principal>, ServerError> {
        let hash = keys::hash_key(secret);
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((found, at)) = entries.get(&hash) {
                if at.elapsed() < CACHE_TTL {
                    return Ok(found.clone().filter(unexpired));
                }
            }
        }
        let found = if secret.starts_with(pairings::TOKEN_PREFIX) {
            pairings::find_active(&self.db, &hash)
                .await?
                .map(Principal::Pairing)
        } else {
            keys::find_active(&self.db, &hash)
                .await?
                .map(Principal::Key)
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (found.clone(), Instant::now()));
        Ok(found)
    }

    /// Forgets every cached lookup, so a revocation made here takes effect at once.
    pub fn invalidate(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// A cached pairing may expire while cached; a key does not expire.
fn unexpired(p: &Principal) -> bool {
    match p {
        Principal::Key(_) => true,
        Principal::Pairing(p) => p.expires_at > now_ms(),
    }
}

/// Any authenticated caller, a full key or a pairing (401 when the token is missing or wrong).
pub struct Caller(pub Principal);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    KeyCache: FromRef<S>,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServerError> {
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
        match KeyCache::from_ref(state).check(secret).await? {
            Some(p) => Ok(Caller(p)),
            None => Err(ServerError::Unauthorized),
        }
    }
}

/// A caller with a full API key (401 without a valid token, 403 for a pairing token).
pub struct Authed(pub ApiKey);

impl<S> FromRequestParts<S> for Authed
where
    S: Send + Sync,
    KeyCache: FromRef<S>,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServerError> {
        match Caller::from_request_parts(parts, state).await?.0 {
            Principal::Key(key) => Ok(Authed(key)),
            Principal::Pairing(_) => Err(ServerError::Forbidden(
                "a pairing token only uploads photos and scenes to, lists and starts jobs on its \
                 project; this needs a full API key"
                    .into(),
            )),
        }
    }
}
