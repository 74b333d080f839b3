-- Phone pairings: an expiring token, stored as its SHA-256 hash (as API keys are), that may only
-- upload to and start jobs on one project. It stops working when it expires, is revoked, its
-- project is deleted, or the key that created it is revoked. Portable SQL (SQLite and PostgreSQL).

CREATE TABLE pairings (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL REFERENCES api_keys(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX pairings_project ON pairings (project_id, created_at);
