//! `POST /api/projects/{id}/images`: multipart upload (field `images`, many files), each file
//! decoded and checked before it is stored; duplicates by content hash are reported, not stored.

use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::BytesMut;
use splatpod::api::{ErrorBody, ImageList, UploadResult, UploadStatus, UploadedFile};

use super::projects::require;
use crate::auth::Caller;
use crate::db::images::{self, Image};
use crate::error::ServerError;
use crate::ingest::{display_name, ingest_image, Ingested};
use crate::state::AppState;

/// A multipart failure as the client's fault: 413 past the body limit, else 400.
pub(super) fn multipart_error(e: MultipartError) -> ServerError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ServerError::TooLarge(format!("upload too large: {}", e.body_text()))
    } else {
        ServerError::BadInput(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// Images stored so far by one request, removed again if the request as a whole fails (too
/// many files, a malformed body), so a refused request leaves the project as it was.
pub(super) struct Undo<'a> {
    pub(super) st: &'a AppState,
    pub(super) stored: Vec<Image>,
}

impl Undo<'_> {
    pub(super) async fn run(self) {
        for img in self.stored {
            if let Err(e) = images::delete(&self.st.db, &img.id).await {
                tracing::error!(image = %img.id, "undoing a failed upload: {e}");
                continue;
            }
            if let Err(e) = self.st.blobs.delete(&img.blob_key).await {
                tracing::warn!(image = %img.id, "removing an unused blob: {e}");
            }
        }
    }
}

/// Stores the uploaded photos; a pairing token may upload to its own project.
#[utoipa::path(
    post,
    path = "/api/projects/{id}/images",
    operation_id = "upload_images",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body(content = inline(super::openapi::PhotoUploadForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "At least one photo stored; per file: stored, duplicate or rejected", body = UploadResult),
        (status = 200, description = "Nothing new stored: every file a duplicate (or some rejected)", body = UploadResult),
        (status = 400, description = "A malformed form or an unexpected field", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 413, description = "Every file over the size limit, or too many files", body = ErrorBody),
        (status = 415, description = "Every file unreadable as a photo", body = ErrorBody)
    )
)]
pub async fn upload(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<UploadResult>), ServerError> {
    caller.require_project(&id)?;
    require(&st, &id).await?;
    let multipart = multipart.map_err(|e| ServerError::BadInput(e.body_text()))?;
    let mut undo = Undo {
        st: &st,
        stored: Vec::new(),
    };
    match receive(&st, &id, multipart, &mut undo.stored).await {
        Ok(r) => Ok(r),
        Err(e) => {
            undo.run().await;
            Err(e)
        }
    }
}

/// The outcome of the files of one upload so far: per-file results and counts, and the
/// first client-side refusal (the answer when nothing at all was usable).
#[derive(Default)]
pub(super) struct Tally {
    results: Vec<UploadedFile>,
    stored: u64,
    duplicates: u64,
    rejected: u64,
    files: usize,
    first_error: Option<ServerError>,
}

impl Tally {
    /// Records what became of file `name`; a server fault ends the request.
    pub(super) fn add(
        &mut self,
        name: String,
        outcome: Result<Ingested, ServerError>,
        new_images: &mut Vec<Image>,
    ) -> Result<(), ServerError> {
        self.files += 1;
        match outcome {
            Ok(Ingested::Stored(img)) => {
                self.stored += 1;
                new_images.push(img.clone());
                self.results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Stored,
                    image: Some(img.into()),
                    error: None,
                });
            }
            Ok(Ingested::Duplicate(img)) => {
                self.duplicates += 1;
                self.results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Duplicate,
                    image: Some(img.into()),
                    error: None,
                });
            }
            Err(e) if e.status().is_client_error() => {
                self.rejected += 1;
                self.results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Rejected,
                    image: None,
                    error: Some(e.to_string()),
                });
                self.first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The answer: an error when no file was usable, else the status (201 when something new
    /// was stored) and the result; touches the project when it changed.
    pub(super) async fn finish(
        self,
        st: &AppState,
        id: &str,
    ) -> Result<(StatusCode, UploadResult), ServerError> {
        let files = self.files;
        if self.stored == 0 && self.duplicates == 0 {
            if let Some(e) = self.first_error {
                // Nothing usable: answer with the (first) reason as the status.
                return Err(if files == 1 {
                    e
                } else {
                    match e {
                        ServerError::TooLarge(_) => ServerError::TooLarge(format!(
                            "all {files} files were rejected; first: {e}"
                        )),
                        _ => ServerError::UnsupportedMedia(format!(
                            "all {files} files were rejected; first: {e}"
                        )),
                    }
                });
            }
        }
        if self.stored > 0 {
            crate::db::projects::touch(&st.db, id).await?;
        }
        let code = if self.stored > 0 {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((
            code,
            UploadResult {
                stored: self.stored,
                duplicates: self.duplicates,
                rejected: self.rejected,
                files: self.results,
            },
        ))
    }
}

async fn receive(
    st: &AppState,
    id: &str,
    mut multipart: Multipart,
    new_images: &mut Vec<Image>,
) -> Result<(StatusCode, Json<UploadResult>), ServerError> {
    let max_bytes = st.config.max_image_bytes;
    let mut tally = Tally::default();
    let mut files = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("images") | Some("images[]") => {}
            other => {
                return Err(ServerError::BadInput(format!(
                    "unexpected form field `{}`; send files in the field `images`",
                    other.unwrap_or("")
                )))
            }
        }
        files += 1;
        if files > st.config.max_files_per_upload {
            return Err(ServerError::TooLarge(format!(
                "more than {} files in one upload",
                st.config.max_files_per_upload
            )));
        }
        let name = display_name(field.file_name().unwrap_or("image"));
        let mut buf = BytesMut::new();
        let mut too_big = false;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if buf.len() + chunk.len() > max_bytes {
                too_big = true;
                // Keep reading to the end of this part without storing it.
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        let outcome = if too_big {
            Err(ServerError::TooLarge(format!(
                "{name}: over the {max_bytes}-byte image limit"
            )))
        } else {
            ingest_image(&st.db, &st.blobs, id, &name, buf.freeze(), max_bytes).await
        };
        tally.add(name, outcome, new_images)?;
    }
    if files == 0 {
        return Err(ServerError::BadInput(
            "no files: send one or more in the multipart field `images`".into(),
        ));
    }
    let (code, result) = tally.finish(st, id).await?;
    Ok((code, Json(result)))
}

/// The project's photos; a pairing token may list its own project's.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/images",
    operation_id = "list_images",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project's photos", body = ImageList),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn list(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<ImageList>, ServerError> {
    caller.require_project(&id)?;
    require(&st, &id).await?;
    let imgs = images::list(&st.db, &id).await?;
    Ok(Json(ImageList {
        images: imgs.into_iter().map(Into::into).collect(),
    }))
}
