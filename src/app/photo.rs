//! One photo of a capture as the capture page knows it: its GPU check, where its upload stands,
//! and its record in the offline store.

use serde::{Deserialize, Serialize};

use super::queue::Record;

/// The signals of one analysed photo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub width: u32,
    pub height: u32,
    pub sharpness: f32,
    pub features: usize,
    /// `None` for the first photo analysed.
    pub matches_to_previous: Option<usize>,
    pub decode_ms: f64,
    /// Sharpness, features and matching on the GPU, incl. uploads and readbacks.
    pub analysis_ms: f64,
}

/// Where one photo's GPU check stands.
#[derive(Clone, Debug, PartialEq)]
pub enum PhotoState {
    Queued,
    Analyzing,
    Done(Analysis),
    /// `kind` (`read`, `format`, `no-webgpu` or `gpu`) becomes the card's `data-kind`.
    Failed {
        kind: &'static str,
        /// What happened and what to do, in plain words.
        message: String,
        /// The engine's or the browser's own message.
        detail: String,
    },
    /// Sent before a reload, so its bytes are no longer on this device to check.
    NotChecked,
}

impl PhotoState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PhotoState::Queued => "queued",
            PhotoState::Analyzing => "analyzing",
            PhotoState::Done(_) => "done",
            PhotoState::Failed { .. } => "error",
            PhotoState::NotChecked => "unchecked",
        }
    }
}

/// Where one photo's upload stands (`data-upload` on its card).
#[derive(Clone, Debug, PartialEq)]
pub enum Upload {
    /// Being hashed and written to this device's store.
    Saving,
    /// Kept on this device; no project to send it to yet.
    Local,
    /// Waiting its turn (or for the connection) to go to its project.
    Queued,
    Uploading,
    /// The server has it (stored now or before).
    Sent,
    /// The server refused the file itself; the reason.
    Rejected(String),
}

impl Upload {
    pub fn as_str(&self) -> &'static str {
        match self {
            Upload::Saving => "saving",
            Upload::Local => "local",
            Upload::Queued => "queued",
            Upload::Uploading => "uploading",
            Upload::Sent => "sent",
            Upload::Rejected(_) => "rejected",
        }
    }

    /// Words for the card's badge.
    pub fn label(&self) -> &'static str {
        match self {
            Upload::Saving => "Saving…",
            Upload::Local => "On this device",
            Upload::Queued => "Queued",
            Upload::Uploading => "Uploading…",
            Upload::Sent => "Sent",
            Upload::Rejected(_) => "Not accepted",
        }
    }

    /// Still to reach the server.
    pub fn pending(&self) -> bool {
        matches!(self, Upload::Saving | Upload::Queued | Upload::Uploading)
    }
}

/// One photo of the list.
#[derive(Clone, Debug, PartialEq)]
pub struct Photo {
    pub id: usize,
    pub name: String,
    /// An object URL of the photo, for its thumbnail.
    pub thumb: Option<String>,
    pub state: PhotoState,
    /// SHA-256 of its bytes, once hashed.
    pub sha: Option<String>,
    /// The photo's bytes (a picked `File` or the copy from the store).
    pub blob: Option<web_sys::Blob>,
    /// Milliseconds since the epoch when it was taken.
    pub added: f64,
    /// The project it goes to.
    pub project: Option<String>,
    pub upload: Upload,
}

impl Photo {
    /// Its record for the offline store (`None` before it is hashed, or once refused by the
    /// server, which keeps nothing to retry). A sent photo's bytes are left out.
    pub fn record(&self) -> Option<Record> {
        if matches!(self.upload, Upload::Rejected(_)) {
            return None;
        }
        let sent = self.upload == Upload::Sent;
        Some(Record {
            sha: self.sha.clone()?,
            name: self.name.clone(),
            added: self.added,
            project: self.project.clone(),
            sent,
            analysis: match &self.state {
                PhotoState::Done(a) => serde_json::to_string(a).ok(),
                _ => None,
            },
            blob: if sent { None } else { self.blob.clone() },
        })
    }

    /// A photo restored from the store after a reload.
    pub fn restored(id: usize, r: Record) -> Photo {
        let state = match r.analysis.as_deref().map(serde_json::from_str::<Analysis>) {
            Some(Ok(a)) => PhotoState::Done(a),
            _ if r.blob.is_some() => PhotoState::Queued,
            _ => PhotoState::NotChecked,
        };
        let upload = match (r.sent, &r.project, &r.blob) {
            (true, _, _) => Upload::Sent,
            (false, _, None) => {
                Upload::Rejected("the photo's bytes were not kept on this device".into())
            }
            (false, Some(_), Some(_)) => Upload::Queued,
            (false, None, Some(_)) => Upload::Local,
        };
        let thumb = r
            .blob
            .as_ref()
            .and_then(|b| web_sys::Url::create_object_url_with_blob(b).ok());
        Photo {
            id,
            name: r.name,
            thumb,
            state,
            sha: Some(r.sha),
            blob: r.blob,
            added: r.added,
            project: r.project,
            upload,
        }
    }
}
