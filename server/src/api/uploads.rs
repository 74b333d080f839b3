//! `POST /api/projects/{id}/images`: multipart upload (field `images`, many files), each file
//! decoded and checked before it is stored; duplicates by content hash are reported, not stored.

use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::BytesMut;
use splatpod::api::{ImageList, UploadResult, UploadStatus, UploadedFile};

use super::projects::require;
use crate::auth::Caller;
use crate::db::images::{self, Image};
use crate::error::ServerError;
use crate::ingest::{display_name, ingest_image, Ingested};
use crate::state::AppState;

fn multipart_error(e: MultipartError) -> ServerError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ServerError::TooLarge(format!("upload too large: {}", e.body_text()))
    } else {
        ServerError::BadInput(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// Images stored so far by one request, removed again if the request as a whole fails (too
/// many files, a malformed body), so a refused request leaves the project as it was.
struct Undo<'a> {
    st: &'a AppState,
    stored: Vec<Image>,
}

impl Undo<'_> {
    async fn run(self) {
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

async fn receive(
    st: &AppState,
    id: &str,
    mut multipart: Multipart,
    new_images: &mut Vec<Image>,
) -> Result<(StatusCode, Json<UploadResult>), ServerError> {
    let max_bytes = st.config.max_image_bytes;
    let mut results = Vec::new();
    let mut first_error: Option<ServerError> = None;
    let (mut stored, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
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
        match outcome {
            Ok(Ingested::Stored(img)) => {
                stored += 1;
                new_images.push(img.clone());
                results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Stored,
                    image: Some(img.into()),
                    error: None,
                });
            }
            Ok(Ingested::Duplicate(img)) => {
                duplicates += 1;
                results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Duplicate,
                    image: Some(img.into()),
                    error: None,
                });
            }
            Err(e) if e.status().is_client_error() => {
                rejected += 1;
                results.push(UploadedFile {
                    file_name: name,
                    status: UploadStatus::Rejected,
                    image: None,
                    error: Some(e.to_string()),
                });
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if files == 0 {
        return Err(ServerError::BadInput(
            "no files: send one or more in the multipart field `images`".into(),
        ));
    }
    if stored == 0 && duplicates == 0 {
        if let Some(e) = first_error {
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
    if stored > 0 {
        crate::db::projects::touch(&st.db, id).await?;
    }
    let code = if stored > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(UploadResult {
            stored,
            duplicates,
            rejected,
            files: results,
        }),
    ))
}

/// The project's photos; a pairing token may list its own project's.
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
