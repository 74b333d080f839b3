//! Taking a photo into a project: check it decodes, hash it, store its bytes, record it. Shared
//! by multipart uploads and a job's `image_urls`, so both apply the same checks.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use splatpod::images::{decode_image, DecodeOptions};

use crate::blob::BlobStore;
use crate::db::images::{self, Image};
use crate::db::{new_id, now_ms, Db};
use crate::error::ServerError;

/// What happened to one file.
pub enum Ingested {
    Stored(Image),
    /// The project already has these exact bytes; nothing new was stored.
    Duplicate(Image),
}

/// A display-safe version of a client file name: the last path component, printable
/// characters only, at most 200 of them. It is only ever stored as text.
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "image".to_owned()
    } else {
        clean
    }
}

fn format_of(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "png"
    } else {
        "unknown"
    }
}

/// Validates and stores one image in `project_id`. Decoding happens on a blocking thread;
/// the blob is written before the row, so a crash leaves at worst an unreferenced blob.
pub async fn ingest_image(
    db: &Db,
    blobs: &BlobStore,
    project_id: &str,
    raw_name: &str,
    bytes: Bytes,
    max_bytes: usize,
) -> Result<Ingested, ServerError> {
    let name = display_name(raw_name);
    if bytes.is_empty() {
        return Err(ServerError::BadInput(format!("{name}: empty file")));
    }
    if bytes.len() > max_bytes {
        return Err(ServerError::TooLarge(format!(
            "{name}: {} bytes is over the {max_bytes}-byte image limit",
            bytes.len()
        )));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(existing) = images::find_by_hash(db, project_id, &sha256).await? {
        return Ok(Ingested::Duplicate(existing));
    }
    let check = bytes.clone();
    let hint = name.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        // Full decode (no downscale) proves the whole file is readable.
        let opts = DecodeOptions {
            max_side: None,
            ..DecodeOptions::default()
        };
        decode_image(&check, Some(&hint), &opts).map(|d| (d.width, d.height, d.focal.focal_35mm))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("decoder thread failed: {e}")))?;
    let (width, height, focal) = match decoded {
        Ok(v) => v,
        Err(splatpod::images::ImageError::TooLarge { .. }) => {
            return Err(ServerError::TooLarge(format!(
                "{name}: image dimensions exceed the pixel limit"
            )))
        }
        Err(e) => {
            return Err(ServerError::UnsupportedMedia(format!(
                "{name}: not a readable JPEG or PNG image ({e})"
            )))
        }
    };
    let format = format_of(&bytes);
    let ext = if format == "png" { "png" } else { "jpg" };
    let blob_key = format!("projects/{project_id}/images/{sha256}.{ext}");
    let image = Image {
        id: new_id(),
        project_id: project_id.to_owned(),
        sha256,
        file_name: name,
        format: format.to_owned(),
        bytes: bytes.len() as i64,
        width: width as i64,
        height: height as i64,
        focal_35mm: focal.map(f64::from),
        blob_key: blob_key.clone(),
        created_at: now_ms(),
    };
    blobs.put(&blob_key, bytes).await?;
    if images::insert(db, &image).await? {
        Ok(Ingested::Stored(image))
    } else {
        // Raced with an identical upload: the other row stands (same bytes, same blob key).
        let existing = images::find_by_hash(db, project_id, &image.sha256)
            .await?
            .ok_or_else(|| ServerError::Internal("duplicate image vanished".into()))?;
        Ok(Ingested::Duplicate(existing))
    }
}
