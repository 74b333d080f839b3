-- Splatpod schema. Portable SQL: the same file runs on SQLite and PostgreSQL (sqlx Any driver).
-- Times are Unix milliseconds (BIGINT); ids are text; blobs live in the object store.

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    focal_35mm DOUBLE PRECISION,
    blob_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, sha256)
);
CREATE INDEX images_project ON images (project_id, created_at);

CREATE TABLE artifacts (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    blob_key TEXT NOT NULL,
    job_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE shares (
    token TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX shares_project ON shares (project_id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    status TEXT NOT NULL,
    task TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    webhook TEXT,
    execution_timeout_ms BIGINT,
    ttl_ms BIGINT,
    project_id TEXT,
    api_key_id TEXT,
    stage TEXT,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    message TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    retried BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    worker_id TEXT,
    lease_expires_at BIGINT,
    stream_cursor BIGINT NOT NULL DEFAULT 0,
    stream_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    gpu_ms BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs (endpoint, status, not_before, created_at);

CREATE TABLE job_stream (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    output TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
