//! Resumable uploads over the tus 1.0 core protocol with its `creation` extension:
//! `POST /api/projects/{id}/uploads` (`Upload-Length`, `Upload-Metadata` with `filename`,
//! `sha256` of the whole file and `kind` photo or video) creates one, `HEAD …/uploads/{upload}`
//! says how many bytes the server has (`Upload-Offset`), `PATCH` appends from there. When the
//! last byte is in, the file must have the declared SHA-256 (else 460 and nothing is kept) and is
//! then taken in exactly as a multipart photo or video upload; only then does the last PATCH
//! answer 204, so a client may forget its copy on that answer.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use splatpod::api::ErrorBody;
use splatpod::api::Quality;
use splatpod::images::keyframes::MAX_VIDEO_FRAMES;

use super::projects::require;
use super::uploads::Tally;
use super::videos::{ingest_clip, parse_frames, parse_quality, stem_of};
use crate::auth::Caller;
use crate::db::uploads::{self, Upload};
use crate::db::{new_id, now_ms};
use crate::error::ServerError;
use crate::ingest::{display_name, ingest_image};
use crate::resumable::{self, is_complete, Received, Writing};
use crate::state::AppState;
use crate::video::Clip;

/// The protocol version spoken, sent in `Tus-Resumable` and `Tus-Version`.
pub const TUS_VERSION: &str = "1.0.0";
/// Unfinished uploads one project may have at once (each holds disk space).
const MAX_OPEN_PER_PROJECT: i64 = 64;
/// The content type of every PATCH body.
const PATCH_TYPE: &str = "application/offset+octet-stream";

/// What an upload becomes once complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Photo,
    Video,
}

impl Kind {
    fn parse(s: &str) -> Result<Kind, ServerError> {
        match s {
            "photo" => Ok(Kind::Photo),
            "video" => Ok(Kind::Video),
            other => Err(ServerError::BadInput(format!(
                "Upload-Metadata `kind` must be photo or video, not `{other}`"
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Photo => "photo",
            Kind::Video => "video",
        }
    }
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
fn parse_metadata(raw: &str) -> Result<Vec<(String, String)>, ServerError> {
    use base64::Engine;
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        if key.is_empty() || out.iter().any(|(k, _)| k == key) {
            return Err(ServerError::BadInput(format!(
                "Upload-Metadata: empty or repeated key in `{pair}`"
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| {
                ServerError::BadInput(format!("Upload-Metadata `{key}` is not base64: {e}"))
            })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ServerError::BadInput(format!("Upload-Metadata `{key}` is not UTF-8 text"))
        })?;
        out.push((key.to_owned(), text));
    }
    Ok(out)
}

/// What a new upload declares about its file.
#[derive(Debug, PartialEq)]
struct Declared {
    name: String,
    sha256: String,
    kind: Kind,
    frames: Option<u32>,
}

fn declared(meta: &[(String, String)]) -> Result<Declared, ServerError> {
    let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim());
    let sha256 = get("sha256")
        .map(str::to_ascii_lowercase)
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ServerError::BadInput(
                "Upload-Metadata needs `sha256`: the whole file's SHA-256 as 64 hex digits".into(),
            )
        })?;
    let kind = get("kind").map_or(Ok(Kind::Photo), Kind::parse)?;
    let frames = match (kind, get("frames"), get("quality")) {
        (Kind::Photo, None, None) => None,
        (Kind::Photo, _, _) => {
            return Err(ServerError::BadInput(
                "`frames` and `quality` apply to videos only".into(),
            ))
        }
        (Kind::Video, Some(f), _) => Some(parse_frames(f)?),
        (Kind::Video, None, Some(q)) => Some(parse_quality(q)?),
        (Kind::Video, None, None) => Some(Quality::default().video_frames()),
    };
    let fallback = if kind == Kind::Photo { "image" } else { "clip" };
    Ok(Declared {
        name: display_name(get("filename").unwrap_or(fallback)),
        sha256,
        kind,
        frames,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A non-negative whole number header, when present.
fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ServerError> {
    header_str(headers, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ServerError::BadInput(format!("`{name}` must be a whole number, not `{v}`"))
            })
        })
        .transpose()
}

/// Every request but OPTIONS must say it speaks tus 1.0.0 (412 otherwise).
fn check_version(headers: &HeaderMap) -> Result<(), ServerError> {
    match header_str(headers, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        Some(v) => Err(ServerError::Precondition(format!(
            "this server speaks tus {TUS_VERSION}, not `{v}`"
        ))),
        None => Err(ServerError::Precondition(format!(
            "send `Tus-Resumable: {TUS_VERSION}` with every upload request"
        ))),
    }
}

fn with_headers(status: StatusCode, headers: &[(&'static str, String)]) -> Response {
    let mut res = status.into_response();
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            res.headers_mut().insert(*k, v);
        }
    }
    res
}

#[utoipa::path(
    options,
    path = "/api/projects/{id}/uploads",
    operation_id = "upload_options",
    params(("id" = String, Path, description = "Project id")),
    tag = "uploads",
    responses(
        (status = 204, description = "What the server supports", headers(
            ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation`"),
            ("Tus-Max-Size" = u64, description = "The largest upload, in bytes")
        ))
    )
)]
/// `OPTIONS`: what this server supports (no authentication, as tus asks).
pub async fn options(State(st): State<AppState>) -> Response {
    with_headers(
        StatusCode::NO_CONTENT,
        &[
            ("tus-version", TUS_VERSION.into()),
            ("tus-extension", "creation".into()),
            ("tus-max-size", st.config.max_upload_bytes.to_string()),
        ],
    )
}

/// `OPTIONS` on an upload: as on the collection.
#[utoipa::path(
    options,
    path = "/api/projects/{id}/uploads/{upload}",
    operation_id = "upload_item_options",
    params(("id" = String, Path, description = "Project id"),
        ("upload" = String, Path, description = "Upload id (the last segment of `Location`)")),
    tag = "uploads",
    responses(
        (status = 204, description = "What the server supports", headers(
            ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation`"),
            ("Tus-Max-Size" = u64, description = "The largest upload, in bytes")
        ))
    )
)]
pub async fn options_upload(st: State<AppState>) -> Response {
    options(st).await
}

#[utoipa::path(
    post,
    path = "/api/projects/{id}/uploads",
    operation_id = "create_upload",
    tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The file's size in bytes"),
        ("Upload-Metadata" = String, Header, description = "Comma-separated `key base64(value)`: \
            `filename`, `sha256` (hex, of the whole file; required), `kind` (`photo`, default, or \
            `video`) and for a video `frames` or `quality`")
    ),
    responses(
        (status = 201, description = "Created; send the bytes with PATCH to `Location`", headers(
            ("Location" = String, description = "The upload's address"),
            ("Upload-Offset" = u64, description = "`0`")
        )),
        (status = 400, description = "Missing or invalid `Upload-Length` or `Upload-Metadata`", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 412, description = "Without `Tus-Resumable: 1.0.0`", body = ErrorBody),
        (status = 413, description = "Over the photo or upload size limit", body = ErrorBody),
        (status = 429, description = "Too many unfinished uploads in the project", body = ErrorBody),
        (status = 503, description = "A video, and the server has no ffmpeg", body = ErrorBody)
    )
)]
/// `POST`: a new upload of `Upload-Length` bytes into project `id`.
pub async fn create(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    caller.require_project(&id)?;
    require(&st, &id).await?;
    let length = match header_u64(&headers, "upload-length")? {
        Some(n) => n,
        None if headers.contains_key("upload-defer-length") => {
            return Err(ServerError::BadInput(
                "a deferred length is not supported: send `Upload-Length`".into(),
            ))
        }
        None => return Err(ServerError::BadInput("send `Upload-Length`".into())),
    };
    let meta = parse_metadata(header_str(&headers, "upload-metadata").unwrap_or_default())?;
    let file = declared(&meta)?;
    if length == 0 {
        return Err(ServerError::BadInput(format!("{}: empty file", file.name)));
    }
    let limit = match file.kind {
        Kind::Photo => st.config.max_image_bytes,
        Kind::Video => st.config.max_upload_bytes,
    } as u64;
    if length > limit {
        return Err(ServerError::TooLarge(format!(
            "{}: {length} bytes is over the {limit}-byte limit for a {}",
            file.name,
            file.kind.as_str()
        )));
    }
    if file.kind == Kind::Video {
        // Refuse before receiving a large body the server could not read anyway.
        st.config.video.check().await?;
    }
    if uploads::count_open(&st.db, &id).await? >= MAX_OPEN_PER_PROJECT {
        return Err(ServerError::RateLimited { retry_after_s: 60 });
    }
    let dir = st.config.upload_dir.clone();
    let db = st.db.clone();
    tokio::spawn(async move { resumable::sweep(&db, &dir).await });
    let now = now_ms();
    let upload = Upload {
        id: new_id(),
        project_id: id.clone(),
        kind: file.kind.as_str().into(),
        file_name: file.name,
        sha256: file.sha256,
        length: length as i64,
        frames: file.frames.map(i64::from),
        created_at: now,
        expires_at: now + st.config.upload_expiry_ms,
        completed_at: None,
    };
    resumable::create(&st.config.upload_dir, &upload.id).await?;
    if let Err(e) = uploads::insert(&st.db, &upload).await {
        resumable::remove(&st.config.upload_dir, &upload.id).await;
        return Err(e.into());
    }
    Ok(with_headers(
        StatusCode::CREATED,
        &[
            (
                "location",
                format!("/api/projects/{id}/uploads/{}", upload.id),
            ),
            ("upload-offset", "0".into()),
        ],
    ))
}

/// Upload `upload` of project `id`: 404 when unknown, 410 (and removed) once expired.
async fn find(st: &AppState, id: &str, upload: &str) -> Result<Upload, ServerError> {
    let u = uploads::get(&st.db, id, upload).await?.ok_or_else(|| {
        ServerError::NotFound(format!(
            "no upload {upload} in this project: create a new one"
        ))
    })?;
    if u.expires_at <= now_ms() {
        resumable::remove(&st.config.upload_dir, &u.id).await;
        uploads::delete(&st.db, &u.id).await?;
        return Err(ServerError::Gone(format!(
            "upload {upload} expired before it was finished: create a new one"
        )));
    }
    Ok(u)
}

/// Bytes the server holds for `u`: all of them once it was taken in.
async fn held(st: &AppState, u: &Upload) -> Result<u64, ServerError> {
    if is_complete(u) {
        Ok(u.length as u64)
    } else {
        resumable::offset(&st.config.upload_dir, &u.id).await
    }
}

fn offsets(status: StatusCode, offset: u64, length: i64) -> Response {
    with_headers(
        status,
        &[
            ("upload-offset", offset.to_string()),
            ("upload-length", length.to_string()),
            ("cache-control", "no-store".into()),
        ],
    )
}

#[utoipa::path(
    head,
    path = "/api/projects/{id}/uploads/{upload}",
    operation_id = "upload_offset",
    tag = "uploads",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id"),
        ("upload" = String, Path, description = "Upload id (the last segment of `Location`)"), ("Tus-Resumable" = String, Header, description = "`1.0.0`")),
    responses(
        (status = 200, description = "The bytes the server has", headers(
            ("Upload-Offset" = u64, description = "Bytes received"),
            ("Upload-Length" = u64, description = "The file's size")
        )),
        (status = 404, description = "No such upload (no body: HEAD)"),
        (status = 410, description = "Expired before it was finished (no body: HEAD)"),
        (status = 412, description = "Without `Tus-Resumable: 1.0.0` (no body: HEAD)")
    )
)]
/// `HEAD`: how many bytes of the upload the server has.
pub async fn head(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path((id, upload)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    caller.require_project(&id)?;
    let u = find(&st, &id, &upload).await?;
    let offset = held(&st, &u).await?;
    Ok(offsets(StatusCode::OK, offset, u.length))
}

#[utoipa::path(
    patch,
    path = "/api/projects/{id}/uploads/{upload}",
    operation_id = "upload_append",
    tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("upload" = String, Path, description = "Upload id (the last segment of `Location`)"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes start: what HEAD reported")
    ),
    request_body(description = "The next bytes of the file", content(("application/offset+octet-stream"))),
    responses(
        (status = 204, description = "Stored; the request that completes the file also checked its \
            SHA-256 and took it in as the multipart upload does", headers(
            ("Upload-Offset" = u64, description = "Bytes received"),
            ("Upload-Length" = u64, description = "The file's size")
        )),
        (status = 400, description = "Missing or invalid `Upload-Offset`, or the finished file is not a readable photo or video", body = ErrorBody),
        (status = 404, description = "No such upload", body = ErrorBody),
        (status = 408, description = "The body stopped early; the bytes that arrived are kept", body = ErrorBody),
        (status = 409, description = "`Upload-Offset` differs from the bytes the server has", body = ErrorBody),
        (status = 410, description = "Expired before it was finished", body = ErrorBody),
        (status = 412, description = "Without `Tus-Resumable: 1.0.0`", body = ErrorBody),
        (status = 413, description = "Past `Upload-Length`, or a finished file over a limit", body = ErrorBody),
        (status = 415, description = "Not `application/offset+octet-stream`, or an unreadable photo or video", body = ErrorBody),
        (status = 423, description = "Another request is writing this upload", body = ErrorBody),
        (status = 460, description = "The finished file's SHA-256 differs from the declared one; nothing is kept", body = ErrorBody),
        (status = 503, description = "A video, and the server has no ffmpeg", body = ErrorBody)
    )
)]
/// `PATCH`: appends the body at `Upload-Offset`; the request that brings the last byte also
/// checks and takes in the file.
pub async fn patch(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path((id, upload)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if content_type != Some(PATCH_TYPE) {
        return Err(ServerError::UnsupportedMedia(format!(
            "send the bytes as `Content-Type: {PATCH_TYPE}`"
        )));
    }
    let offset = header_u64(&headers, "upload-offset")?
        .ok_or_else(|| ServerError::BadInput("send `Upload-Offset`".into()))?;
    caller.require_project(&id)?;
    let u = find(&st, &id, &upload).await?;
    let writing = st.uploads.acquire(&u.id).await?;
    // Another request may have finished or removed it while this one waited.
    let u = find(&st, &id, &upload).await?;
    let length = u.length as u64;
    let have = held(&st, &u).await?;
    if have != offset {
        return Err(ServerError::Conflict(format!(
            "Upload-Offset {offset} does not match the {have} bytes the server has: ask for \
             the offset (HEAD) and send from there"
        )));
    }
    if is_complete(&u) {
        return Ok(offsets(StatusCode::NO_CONTENT, length, u.length));
    }
    if let Some(n) = header_u64(&headers, header::CONTENT_LENGTH.as_str())? {
        if offset.saturating_add(n) > length {
            return Err(ServerError::TooLarge(format!(
                "{n} more bytes at offset {offset} go past the upload's declared length of \
                 {length} bytes"
            )));
        }
    }
    uploads::extend(&st.db, &u.id, now_ms() + st.config.upload_expiry_ms).await?;
    let dir = st.config.upload_dir.clone();
    let now = match resumable::append(&dir, &u.id, offset, length, body).await? {
        Received::Cut { offset, reason } => {
            tracing::info!(upload = %u.id, offset, "resumable upload cut: {reason}");
            return Err(ServerError::Incomplete(format!(
                "{reason}; {offset} bytes are stored, resume from there"
            )));
        }
        Received::Complete(n) => n,
    };
    if now < length {
        return Ok(offsets(StatusCode::NO_CONTENT, now, u.length));
    }
    // Taking the file in runs on its own task, so it finishes even if the client goes away.
    let task = tokio::spawn(finish(st.clone(), u.clone(), writing));
    task.await
        .map_err(|e| ServerError::Internal(format!("upload completion failed: {e}")))??;
    Ok(offsets(StatusCode::NO_CONTENT, length, u.length))
}

/// Checks the complete file's SHA-256 and takes it in; on any failure the upload is removed
/// (the client starts again, or learns the file is refused).
async fn finish(st: AppState, u: Upload, _writing: Writing) -> Result<(), ServerError> {
    let dir = &st.config.upload_dir;
    let outcome = async {
        let sha = resumable::sha256_file(resumable::part_path(dir, &u.id)).await?;
        if sha != u.sha256 {
            return Err(ServerError::Checksum(format!(
                "{}: the bytes received have SHA-256 {sha}, not the declared {}; nothing was \
                 kept, upload the file again",
                u.file_name, u.sha256
            )));
        }
        match u.kind.as_str() {
            "video" => take_video(&st, &u).await,
            _ => take_photo(&st, &u).await,
        }
    }
    .await;
    match outcome {
        Ok(()) => {
            uploads::complete(&st.db, &u.id).await?;
            resumable::remove(dir, &u.id).await;
            Ok(())
        }
        Err(e) => {
            resumable::remove(dir, &u.id).await;
            if let Err(d) = uploads::delete(&st.db, &u.id).await {
                tracing::error!(upload = %u.id, "removing a failed upload: {d}");
            }
            Err(e)
        }
    }
}

/// As one photo of a multipart upload: same checks, same deduplication.
async fn take_photo(st: &AppState, u: &Upload) -> Result<(), ServerError> {
    let bytes = resumable::read(&st.config.upload_dir, &u.id).await?;
    let outcome = ingest_image(
        &st.db,
        &st.blobs,
        &u.project_id,
        &u.file_name,
        bytes,
        st.config.max_image_bytes,
    )
    .await;
    let mut tally = Tally::default();
    tally.add(u.file_name.clone(), outcome, &mut Vec::new())?;
    tally.finish(st, &u.project_id).await?;
    Ok(())
}

/// As a multipart video upload: the clip's sharpest frames become photos.
async fn take_video(st: &AppState, u: &Upload) -> Result<(), ServerError> {
    let clip = Clip::new(&st.config.video)?;
    let part = resumable::part_path(&st.config.upload_dir, &u.id);
    if tokio::fs::rename(&part, clip.input()).await.is_err() {
        // Another file system: copy instead.
        tokio::fs::copy(&part, clip.input()).await?;
    }
    let frames = u
        .frames
        .and_then(|f| u32::try_from(f).ok())
        .unwrap_or(Quality::default().video_frames())
        .clamp(1, MAX_VIDEO_FRAMES);
    ingest_clip(st, &u.project_id, clip, &stem_of(&u.file_name), frames).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(raw: &str) -> Result<Declared, ServerError> {
        declared(&parse_metadata(raw)?)
    }

    #[test]
    fn metadata_parses() {
        // "a.jpg", 64 × "ab", "photo" in base64.
        let sha = "ab".repeat(32);
        let raw = format!(
            "filename YS5qcGc=, sha256 {}, kind cGhvdG8=, empty",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sha)
        );
        let d = meta(&raw).expect("valid");
        assert_eq!(
            d,
            Declared {
                name: "a.jpg".into(),
                sha256: sha.clone(),
                kind: Kind::Photo,
                frames: None,
            }
        );
        let sha64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sha);
        let video = meta(&format!("sha256 {sha64},kind dmlkZW8=,quality bG93")).expect("video");
        assert_eq!((video.kind, video.frames), (Kind::Video, Some(30)));
        assert_eq!(video.name, "clip");
        assert!(meta("filename YS5qcGc=").is_err(), "no sha256");
        assert!(meta(&format!("sha256 {sha64},sha256 {sha64}")).is_err());
        assert!(meta("sha256 !!!").is_err());
        assert!(
            meta(&format!("sha256 {sha64},kind bW9kZWw=")).is_err(),
            "kind model"
        );
        assert!(meta(&format!("sha256 {sha64},quality bG93")).is_err());
    }
}
