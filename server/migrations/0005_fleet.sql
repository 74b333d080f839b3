-- Scale-out: fencing tokens for job leases and the worker registry behind fleet-wide health.
-- Portable SQL (SQLite and PostgreSQL).

-- Bumped by every claim: a worker's writes for a job carry the epoch it claimed, so one whose
-- lease expired (its job reclaimed by a successor) can no longer write progress, artifacts or
-- results.
ALTER TABLE jobs ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;

-- One row per worker process (a `serve` node with its worker pool, or `worker`), renewed by its
-- heartbeat; a row past `expires_at` is a worker that stopped.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    gpu TEXT,
    host TEXT NOT NULL,
    slots BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX workers_endpoint ON workers (endpoint, expires_at);
