-- Resumable (tus 1.0) uploads: one row per upload while it is received and until it expires.
-- The bytes received so far live in a file under DATA_DIR/uploads named by the id; the row says
-- what the file must become (its length, SHA-256 and kind) and whether it was taken in.
-- Portable SQL (SQLite and PostgreSQL).

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length BIGINT NOT NULL,
    frames BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX uploads_project ON uploads (project_id, completed_at);
CREATE INDEX uploads_expiry ON uploads (expires_at);
