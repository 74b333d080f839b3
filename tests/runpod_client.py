"""The `runpod` PyPI package's endpoint client, unchanged, against a Splatpod server.

Run by tests/server_http.rs with RUNPOD_ENDPOINT_BASE_URL=http://127.0.0.1:PORT/v2 and
RUNPOD_API_KEY set; argv[1] is a project with two photos. Prints ALL OK when every call behaved.
"""
import os
import sys

import runpod  # reads RUNPOD_ENDPOINT_BASE_URL at import

runpod.api_key = os.environ["RUNPOD_API_KEY"]
project = sys.argv[1]
endpoint = runpod.Endpoint("splatpod")

health = endpoint.health()
assert set(health["jobs"]) >= {"completed", "failed", "inProgress", "inQueue", "retried"}, health
assert set(health["workers"]) >= {"idle", "running"}, health
print("health", health)

# run_sync: waits for the job and returns its output.
out = endpoint.run_sync({"task": "features", "project_id": project, "max_side": 320}, timeout=120)
assert out["images"] == 2 and out["pairs"] == 1, out
print("run_sync output", out)

# run + status + output.
job = endpoint.run({"input": {"task": "features", "project_id": project, "max_side": 320}})
first = job.status()
assert first in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED"), first
out = job.output(timeout=120)
assert job.status() == "COMPLETED", job.status()
assert out["images"] == 2, out
print("run/status/output", first, out["matches_per_pair"])

# stream: progress chunks until the job is final.
job = endpoint.run({"task": "features", "project_id": project, "max_side": 320})
chunks = list(job.stream())
assert chunks and all("stage" in c and "progress" in c for c in chunks), chunks
print("stream", len(chunks), "chunks, last", chunks[-1])

# cancel and purge_queue (no request body, as the SDK sends them).
job = endpoint.run({"task": "features", "project_id": project, "max_side": 1600})
queued = endpoint.run({"task": "features", "project_id": project, "max_side": 1600})
purged = endpoint.purge_queue()
assert "removed" in purged, purged
cancelled = job.cancel()
assert cancelled["status"] == "CANCELLED", cancelled
assert job.status() == "CANCELLED"
assert queued.status() == "CANCELLED", queued.status()
print("cancel", cancelled["status"], "purge", purged)

# A bad key is reported as the SDK expects (401 -> RuntimeError).
bad = runpod.Endpoint("splatpod", api_key="sp_wrong")
try:
    bad.health()
except Exception as e:  # the SDK raises on 401
    print("bad key rejected:", type(e).__name__)
else:
    raise AssertionError("a wrong key was accepted")

print("ALL OK")
