//! `POST /api/projects/{id}/videos`: one video (multipart field `video`) and an optional
//! `frames` count or `quality` preset; the sharpest frame of each equal time window becomes a
//! photo of the project, checked and deduplicated exactly as an uploaded photo.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use splatpod::api::ErrorBody;
use splatpod::api::{Quality, VideoUploadResult};
use splatpod::images::keyframes::MAX_VIDEO_FRAMES;
use tokio::io::AsyncWriteExt;

use super::projects::require;
use super::uploads::{multipart_error, Tally, Undo};
use crate::auth::Caller;
use crate::error::ServerError;
use crate::ingest::{display_name, ingest_image};
use crate::state::AppState;
use crate::video::{extract, Clip};

/// The form, once received: the clip on disk, its display stem and the frame count.
struct VideoForm {
    clip: Clip,
    /// The client's file name without extension, display text only (frames are `STEM-0001.jpg`).
    stem: String,
    frames: u32,
}

/// A small text field's value (`frames`, `quality`), at most 64 bytes.
async fn text_field(field: axum::extract::multipart::Field<'_>) -> Result<String, ServerError> {
    let name = field.name().unwrap_or_default().to_owned();
    let text = field.text().await.map_err(multipart_error)?;
    if text.len() > 64 {
        return Err(ServerError::BadInput(format!(
            "the field `{name}` is too long"
        )));
    }
    Ok(text.trim().to_owned())
}

pub(super) fn parse_frames(text: &str) -> Result<u32, ServerError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_VIDEO_FRAMES).contains(&n) => Ok(n),
        _ => Err(ServerError::BadInput(format!(
            "`frames` must be a whole number from 1 to {MAX_VIDEO_FRAMES}, not `{text}`"
        ))),
    }
}

pub(super) fn parse_quality(text: &str) -> Result<u32, ServerError> {
    Quality::from_name(text)
        .map(Quality::video_frames)
        .ok_or_else(|| {
            ServerError::BadInput(format!(
                "`quality` must be low, medium or high, not `{text}`"
            ))
        })
}

/// A display name without its extension: the frames' name stem.
pub(super) fn stem_of(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s.to_owned(),
        _ => name.to_owned(),
    }
}

/// Reads the form, writing the video straight to its temporary folder.
async fn receive(st: &AppState, mut multipart: Multipart) -> Result<VideoForm, ServerError> {
    let mut clip: Option<(Clip, String)> = None;
    let (mut frames, mut quality) = (None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("video") => {
                if clip.is_some() {
                    return Err(ServerError::BadInput(
                        "send one video per request in the field `video`".into(),
                    ));
                }
                let name = display_name(field.file_name().unwrap_or("clip"));
                let stem = stem_of(&name);
                let c = Clip::new(&st.config.video)?;
                let mut file = tokio::fs::File::create(c.input()).await?;
                let mut bytes = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    bytes += chunk.len();
                    file.write_all(&chunk).await?;
                }
                file.flush().await?;
                if bytes == 0 {
                    return Err(ServerError::BadInput(format!("{name}: empty file")));
                }
                clip = Some((c, stem));
            }
            Some("frames") => frames = Some(parse_frames(&text_field(field).await?)?),
            Some("quality") => quality = Some(parse_quality(&text_field(field).await?)?),
            other => {
                return Err(ServerError::BadInput(format!(
                    "unexpected form field `{}`; send the file in `video`, and optionally \
                     `frames` or `quality`",
                    other.unwrap_or("")
                )))
            }
        }
    }
    let (clip, stem) = clip.ok_or_else(|| {
        ServerError::BadInput("no video: send one in the multipart field `video`".into())
    })?;
    let frames = frames
        .or(quality)
        .unwrap_or(Quality::default().video_frames());
    Ok(VideoForm { clip, stem, frames })
}

/// Keeps the sharpest frame of each window of the uploaded video as a photo; a pairing token
/// may upload to its own project.
#[utoipa::path(
    post,
    path = "/api/projects/{id}/videos",
    operation_id = "upload_video",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body(content = inline(super::openapi::VideoUploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Frames kept and stored as photos", body = VideoUploadResult),
        (status = 200, description = "Frames kept, none new (all duplicates or rejected)", body = VideoUploadResult),
        (status = 400, description = "A malformed form, no `video`, or a bad `frames` or `quality`", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 413, description = "Over the upload limit, or decoding took too long", body = ErrorBody),
        (status = 415, description = "Not a readable video", body = ErrorBody),
        (status = 503, description = "The server has no ffmpeg", body = ErrorBody)
    )
)]
pub async fn upload(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<VideoUploadResult>), ServerError> {
    caller.require_project(&id)?;
    require(&st, &id).await?;
    // Refuse before receiving a large body the server could not read anyway.
    st.config.video.check().await?;
    let multipart = multipart.map_err(|e| ServerError::BadInput(e.body_text()))?;
    let form = receive(&st, multipart).await?;
    let (code, result) = ingest_clip(&st, &id, form.clip, &form.stem, form.frames).await?;
    Ok((code, Json(result)))
}

/// Keeps the sharpest frame of each of `frames` windows of `clip` as a photo of project `id`
/// (`STEM-0001.jpg`, …), each checked and deduplicated as an uploaded photo; shared by the
/// multipart and the resumable upload.
pub(super) async fn ingest_clip(
    st: &AppState,
    id: &str,
    clip: Clip,
    stem: &str,
    frames: u32,
) -> Result<(StatusCode, VideoUploadResult), ServerError> {
    let extracted = extract(&st.config.video, &clip, frames).await?;
    drop(clip);
    let max_bytes = st.config.max_image_bytes;
    let mut undo = Undo {
        st,
        stored: Vec::new(),
    };
    let mut tally = Tally::default();
    for (k, frame) in extracted.frames.iter().enumerate() {
        let name = format!("{stem}-{:04}.jpg", k + 1);
        tracing::debug!(
            candidate = frame.candidate,
            sharpness = frame.sharpness,
            "{name}"
        );
        let outcome =
            ingest_image(&st.db, &st.blobs, id, &name, frame.jpeg.clone(), max_bytes).await;
        if let Err(e) = tally.add(name, outcome, &mut undo.stored) {
            undo.run().await;
            return Err(e);
        }
    }
    let (code, upload) = match tally.finish(st, id).await {
        Ok(r) => r,
        Err(e) => {
            undo.run().await;
            return Err(e);
        }
    };
    tracing::info!(
        project = %id,
        candidates = extracted.candidates,
        kept = extracted.frames.len(),
        "video frames extracted"
    );
    Ok((
        code,
        VideoUploadResult {
            duration_s: extracted.duration_s,
            frames_requested: frames,
            frames_extracted: extracted.frames.len() as u32,
            upload,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_parse() {
        assert!(matches!(parse_frames("10"), Ok(10)));
        assert!(matches!(parse_frames("0"), Err(ServerError::BadInput(_))));
        assert!(matches!(parse_frames("301"), Err(ServerError::BadInput(_))));
        assert!(matches!(parse_frames("ten"), Err(ServerError::BadInput(_))));
        assert!(matches!(parse_quality("low"), Ok(30)));
        assert!(matches!(parse_quality("high"), Ok(100)));
        assert!(matches!(
            parse_quality("best"),
            Err(ServerError::BadInput(_))
        ));
    }
}
