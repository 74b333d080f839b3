//! `GET /openapi.json`: OpenAPI 3.1 description of the API (kept next to the router; a test
//! checks that every route the server answers is described here).

use axum::Json;
use serde_json::{json, Map, Value};

/// (method, path, summary, needs a key) for every API route.
pub const OPERATIONS: &[(&str, &str, &str, bool)] = &[
    ("post", "/api/projects", "Create a project: {\"name\"}", true),
    ("get", "/api/projects", "List projects (?limit, ?offset)", true),
    ("get", "/api/projects/{id}", "One project with image, artifact and job counts (a pairing token: its project)", true),
    ("delete", "/api/projects/{id}", "Delete a project, its images, artifacts and shares", true),
    ("post", "/api/projects/{id}/images", "Upload photos (multipart, field `images`, many files); each is decoded and checked; duplicates by SHA-256 are reported (a pairing token: its project)", true),
    ("post", "/api/projects/{id}/videos", "Upload one video (multipart, field `video`; optional `frames` 1-300 or `quality` low/medium/high = 30/50/100, default 50); the sharpest frame of each equal time window is kept and ingested as a photo (415 for an unreadable video, 503 when the server lacks ffmpeg; a pairing token: its project)", true),
    ("options", "/api/projects/{id}/uploads", "Resumable uploads (tus 1.0.0): Tus-Version, Tus-Extension: creation, Tus-Max-Size (no key)", false),
    ("post", "/api/projects/{id}/uploads", "Create a resumable upload (tus 1.0.0 creation): Tus-Resumable: 1.0.0, Upload-Length, Upload-Metadata with base64 `filename`, `sha256` (of the whole file, required), `kind` photo (default) or video, and for a video `frames` or `quality` -> 201 and Location (413 over the photo or upload limit; a pairing token: its project)", true),
    ("options", "/api/projects/{id}/uploads/{upload}", "As OPTIONS on /uploads (no key)", false),
    ("head", "/api/projects/{id}/uploads/{upload}", "Bytes the server has of a resumable upload: Upload-Offset, Upload-Length (404 unknown, 410 expired)", true),
    ("patch", "/api/projects/{id}/uploads/{upload}", "Append to a resumable upload: Content-Type: application/offset+octet-stream, Upload-Offset (409 on a mismatch, 413 past Upload-Length, 412 without Tus-Resumable: 1.0.0); bytes of a cut request are kept; the PATCH that completes the file checks its SHA-256 (460 on a mismatch, nothing kept) and ingests it as the multipart upload does, then answers 204", true),
    ("get", "/api/projects/{id}/images", "List a project's photos (a pairing token: its project)", true),
    ("get", "/api/projects/{id}/artifacts", "List artifacts (feature files, matches, scene, thumbnail)", true),
    ("get", "/api/projects/{id}/artifacts/{name}", "Download an artifact", true),
    ("put", "/api/projects/{id}/artifacts/{name}", "Import a splat scene as scene.ply, scene.spz or scene.splat", true),
    ("post", "/api/projects/{id}/colmap", "Import a COLMAP model (cameras, images, points3D; .bin or .txt) posing the project's photos, for the train job", true),
    ("get", "/api/projects/{id}/start-view", "Where the project's viewer starts: a capture camera's eye, target and up, or null without camera poses (a pairing token: its project)", true),
    ("post", "/api/projects/{id}/shares", "Create a read-only share link: {\"expires_in_s\"?} -> token, url (/s/TOKEN), embed_url (/embed/TOKEN, a viewer-only page for an iframe) and an SVG QR code of url", true),
    ("get", "/api/projects/{id}/shares", "List share links", true),
    ("delete", "/api/shares/{token}", "Revoke a share link", true),
    ("post", "/api/projects/{id}/pairings", "Pair a phone: {\"expires_in_s\"?} (default 3600, at most 86400) -> an expiring token that may only upload to, list and start jobs on this project, its link /pair#TOKEN and an SVG QR code of the link", true),
    ("get", "/api/projects/{id}/pairings", "List the project's pairings (without tokens)", true),
    ("delete", "/api/projects/{id}/pairings/{pairing}", "Revoke a pairing: its token stops working", true),
    ("get", "/api/pairing", "With a pairing token: the paired project and the token's expiry", true),
    ("get", "/api/s/{token}", "Shared project's viewer data (no key; token only)", false),
    ("get", "/api/s/{token}/{name}", "Shared scene or thumbnail (no key; token only)", false),
    ("get", "/api/jobs/{id}/events", "Job progress as Server-Sent Events (a pairing token: jobs on its project)", true),
    ("post", "/v2/{endpoint}/run", "Queue a job: {\"input\", \"webhook\"?, \"policy\"?: {\"executionTimeout\", \"ttl\"}} (a pairing token: its project, no webhook)", true),
    ("post", "/v2/{endpoint}/runsync", "Queue a job and wait (bounded, ?wait=ms) for it (a pairing token: as run)", true),
    ("get", "/v2/{endpoint}/status/{id}", "Job status, output or error, progress, stage (a pairing token: jobs on its project)", true),
    ("get", "/v2/{endpoint}/stream/{id}", "Progress chunks since the previous call", true),
    ("post", "/v2/{endpoint}/cancel/{id}", "Cancel a queued or running job", true),
    ("post", "/v2/{endpoint}/retry/{id}", "Requeue a failed, timed-out or cancelled job", true),
    ("post", "/v2/{endpoint}/purge-queue", "Cancel every queued job", true),
    ("get", "/v2/{endpoint}/health", "Job counts by status, workers, GPU", true),
    ("get", "/health", "Liveness", false),
    ("get", "/readiness", "Readiness: 200 with the GPU adapter once it is up, else 503", false),
    ("get", "/openapi.json", "This document", false),
];

pub async fn spec() -> Json<Value> {
    let mut paths = Map::new();
    for &(method, path, summary, auth) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK (JSON)"},
                "400": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
            },
        });
        if auth {
            op["security"] = json!([{"bearer": []}]);
            op["responses"]["401"] = json!({"$ref": "#/components/responses/Error"});
            op["responses"]["403"] = json!({"$ref": "#/components/responses/Error"});
        }
        let entry = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[method] = op;
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Splatpod API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Projects, uploads, artifacts, share links and RunPod-compatible jobs. Errors are {\"error\": message, \"status\": code}; 413 for oversize uploads, 415 for unreadable images or videos, 429 with Retry-After when rate-limited."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A key from `splatpod-server keys create --name N`, or a pairing token (`pp_…`, from POST /api/projects/{id}/pairings) limited to one project: 403 elsewhere"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                "required": ["error", "status"]
            }}}}}
        }
    }))
}
