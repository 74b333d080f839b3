-- Training checkpoints, fenced like artifacts. Portable SQL (SQLite and PostgreSQL).

-- The blob of the job's last checkpoint. Each claim writes its checkpoints under a key of its own
-- (`jobs/JOB/train-EPOCH.ckpt`) and records it here only while it holds the claim, so a worker
-- whose lease expired can neither overwrite its successor's checkpoint nor point the job at its
-- own.
ALTER TABLE jobs ADD COLUMN checkpoint_key TEXT;
