//! Sends one large photo by the server's resumable upload (tus 1.0): the upload is created once
//! with the photo's SHA-256, then sent in [`CHUNK_BYTES`] PATCHes; after a dropped connection
//! the next attempt asks the server (HEAD) how many bytes it kept and goes on from there. The
//! last PATCH answers 204 only after the server has checked the whole file's SHA-256 and taken
//! it in, and only that confirms the photo (so the offline store keeps it until then).

use std::cell::RefCell;
use std::collections::HashMap;

use gloo_net::http::{Method, RequestBuilder, Response};

use super::client::{bearer, net};
use super::pairing::saved_pairing;
use super::problem::Problem;
use super::sender::{error_text, refused, Outcome, Timeout};

/// Photos from this size on go by resumable upload (smaller ones in one request).
pub const RESUMABLE_FROM_BYTES: f64 = 256.0 * 1024.0;
/// Bytes per PATCH: a dropped connection costs at most one chunk even behind a proxy that
/// buffers request bodies.
const CHUNK_BYTES: f64 = 1024.0 * 1024.0;
const TUS_VERSION: &str = "1.0.0";

/// Upload URLs of resumable uploads under way, by the photo's SHA-256.
pub type Resumes = RefCell<HashMap<String, String>>;

/// `text` as tus metadata wants it: base64 of its UTF-8 bytes.
fn b64(text: &str) -> String {
    let latin1: String = text.bytes().map(char::from).collect();
    web_sys::window()
        .and_then(|w| w.btoa(&latin1).ok())
        .unwrap_or_default()
}

/// Sends one tus request (with the request timeout); a network failure is a retry.
async fn call(
    method: Method,
    url: &str,
    token: &str,
    headers: &[(&str, String)],
    body: Option<web_sys::Blob>,
) -> Result<Response, Outcome> {
    let ctrl = web_sys::AbortController::new().ok();
    let _timeout = ctrl.as_ref().map(Timeout::start);
    let mut req = RequestBuilder::new(url)
        .method(method)
        .header("Authorization", &bearer(token))
        .header("Tus-Resumable", TUS_VERSION)
        .abort_signal(ctrl.as_ref().map(|c| c.signal()).as_ref());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = match body {
        Some(b) => req.body(b),
        None => req.build(),
    }
    .map_err(|e| {
        Outcome::Stop(Problem::new(
            "This browser cannot send files.",
            e.to_string(),
        ))
    })?;
    req.send().await.map_err(|e| Outcome::Retry(net(e)))
}

fn offset_of(res: &Response) -> Option<f64> {
    res.headers()
        .get("upload-offset")
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// How many bytes the server holds of the upload at `url`; `None` when it has forgotten it
/// (expired, refused, unknown).
async fn held(url: &str, token: &str, paired: bool, project: &str) -> Result<Option<f64>, Outcome> {
    let res = call(Method::HEAD, url, token, &[], None).await?;
    match res.status() {
        200 => Ok(offset_of(&res)),
        404 | 410 => Ok(None),
        s @ (401 | 403) => Err(refused(s, format!("HTTP {s}"), paired, project)),
        s => Err(Outcome::Retry(format!(
            "HTTP {s} asking for the upload's offset"
        ))),
    }
}

/// Creates the upload of `blob` in `project`: its URL.
async fn create(
    token: &str,
    project: &str,
    blob: &web_sys::Blob,
    name: &str,
    sha: &str,
    paired: bool,
) -> Result<String, Outcome> {
    let metadata = format!(
        "filename {},sha256 {},kind {}",
        b64(name),
        b64(sha),
        b64("photo")
    );
    let res = call(
        Method::POST,
        &format!("/api/projects/{project}/uploads"),
        token,
        &[
            ("Upload-Length", format!("{}", blob.size())),
            ("Upload-Metadata", metadata),
        ],
        None,
    )
    .await?;
    match res.status() {
        201 => res
            .headers()
            .get("location")
            .ok_or_else(|| Outcome::Retry("the server gave no upload URL".into())),
        400 | 413 | 415 => Err(Outcome::Rejected(error_text(res).await)),
        s @ (401 | 403 | 404) => Err(refused(s, error_text(res).await, paired, project)),
        s => Err(Outcome::Retry(format!("HTTP {s} creating the upload"))),
    }
}

/// Sends `blob` (SHA-256 `sha`) to `project`, continuing an upload in `resumes` if there is one.
pub async fn send(
    token: &str,
    project: &str,
    blob: &web_sys::Blob,
    name: &str,
    sha: &str,
    resumes: &Resumes,
) -> Outcome {
    let paired = saved_pairing().is_some_and(|p| p.token == token);
    let forget = || {
        resumes.borrow_mut().remove(sha);
    };
    let known = resumes.borrow().get(sha).cloned();
    let (url, mut offset) = match known {
        Some(url) => match held(&url, token, paired, project).await {
            Ok(Some(o)) => (url, o),
            Ok(None) => {
                forget();
                return Outcome::Retry("the server no longer has the partial upload".into());
            }
            Err(o) => return o,
        },
        None => match create(token, project, blob, name, sha, paired).await {
            Ok(url) => {
                resumes.borrow_mut().insert(sha.to_owned(), url.clone());
                (url, 0.0)
            }
            Err(o) => return o,
        },
    };
    let size = blob.size();
    loop {
        let end = (offset + CHUNK_BYTES).min(size);
        let Ok(chunk) = blob.slice_with_f64_and_f64(offset, end) else {
            return Outcome::Rejected(format!("{name} could not be read from this device"));
        };
        let res = match call(
            Method::PATCH,
            &url,
            token,
            &[
                ("Content-Type", "application/offset+octet-stream".into()),
                ("Upload-Offset", format!("{offset}")),
            ],
            Some(chunk),
        )
        .await
        {
            Ok(r) => r,
            // The server keeps what arrived; the next attempt asks how much.
            Err(o) => return o,
        };
        match res.status() {
            204 => match offset_of(&res) {
                Some(o) if o >= size => {
                    forget();
                    return Outcome::Confirmed;
                }
                Some(o) if o > offset => offset = o,
                _ => return Outcome::Retry("the server did not move the upload's offset".into()),
            },
            // Out of step (an earlier request got further than its answer said): ask.
            409 => match held(&url, token, paired, project).await {
                Ok(Some(o)) => offset = o,
                Ok(None) => {
                    forget();
                    return Outcome::Retry("the server no longer has the partial upload".into());
                }
                Err(o) => return o,
            },
            // The body stalled (408): the server kept what arrived; the next attempt asks.
            408 => return Outcome::Retry(error_text(res).await),
            // The bytes arrived damaged (460), the upload expired, or the request was malformed:
            // start again (the photo stays on this device).
            400 | 404 | 410 | 460 => {
                forget();
                return Outcome::Retry(error_text(res).await);
            }
            413 | 415 | 422 => {
                forget();
                return Outcome::Rejected(error_text(res).await);
            }
            s @ (401 | 403) => return refused(s, error_text(res).await, paired, project),
            s => return Outcome::Retry(format!("HTTP {s}")),
        }
    }
}
