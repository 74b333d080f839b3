//! Sends the capture's photos to their project, one photo per request, so a dropped connection
//! loses at most the photo in flight, which is sent again; a large photo goes by the server's
//! resumable upload instead (`tus`), which continues from the bytes the server already has. A photo leaves the offline store only
//! once the server confirmed it by SHA-256 (stored now, or a duplicate of what it already had),
//! so every photo arrives, and arrives once. Without a connection it waits, retrying with
//! backoff and at once when the browser says it is online again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{UploadResult, UploadStatus};
use wasm_bindgen::JsCast;

use super::client::{bearer, body_of, net, saved_key, sleep_ms};
use super::pairing::saved_pairing;
use super::photo::{Photo, Upload};
use super::problem::Problem;
use super::queue::{Queue, SavedScene};
use super::tus::{self, Resumes, RESUMABLE_FROM_BYTES};

/// First wait after a failed attempt; doubled up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i32 = 1000;
const MAX_BACKOFF_MS: i32 = 30_000;
/// A request that has not finished by then is cut and retried.
const REQUEST_TIMEOUT_MS: i32 = 120_000;

/// What became of one attempt.
pub(super) enum Outcome {
    /// The server has exactly these bytes.
    Confirmed,
    /// The server will never take this file: the reason.
    Rejected(String),
    /// Try again later (no connection, server busy).
    Retry(String),
    /// Nothing more can be sent until the person acts (key or pairing refused, project gone).
    Stop(Problem),
}

/// The token that may upload to `project`: the phone's pairing for its project, else the full
/// key this desktop keeps.
pub fn token_for(project: &str) -> Option<String> {
    match saved_pairing() {
        Some(p) if p.project_id == project && !p.expired() => Some(p.token),
        _ => saved_key(),
    }
}

/// The capture's photos, their offline store and the upload loop.
pub struct Sender {
    pub photos: RwSignal<Vec<Photo>>,
    /// Why photos are waiting, when they are (no connection, key refused …).
    pub problem: RwSignal<Option<Problem>>,
    /// The scene trained on this device from the capture, once kept (or restored) there;
    /// "Start over" forgets it with the photos.
    pub scene: RwSignal<Option<SavedScene>, LocalStorage>,
    store: RefCell<Option<Rc<Queue>>>,
    /// The project new photos go to on a desktop, once "Send to the server" made one.
    desktop_target: RefCell<Option<String>>,
    running: Cell<bool>,
    /// Set by the `online` event: stop waiting and try now.
    wake: Cell<bool>,
    /// The last run ended on a [`Outcome::Stop`].
    stopped: Cell<bool>,
    /// Resumable uploads under way, so a retry continues where the last attempt stopped.
    resumes: Resumes,
}

impl Sender {
    pub fn new(photos: RwSignal<Vec<Photo>>) -> Rc<Self> {
        Rc::new(Self {
            photos,
            problem: RwSignal::new(None),
            scene: RwSignal::new_local(None),
            store: RefCell::new(None),
            desktop_target: RefCell::new(None),
            running: Cell::new(false),
            wake: Cell::new(false),
            stopped: Cell::new(false),
            resumes: Resumes::default(),
        })
    }

    pub fn set_store(&self, queue: Queue) {
        *self.store.borrow_mut() = Some(Rc::new(queue));
    }

    pub fn store(&self) -> Option<Rc<Queue>> {
        self.store.borrow().clone()
    }

    /// Where a photo taken now goes: the paired project, else the desktop's project.
    pub fn target(&self) -> Option<String> {
        match saved_pairing() {
            Some(p) if !p.expired() => Some(p.project_id),
            _ => self.desktop_target.borrow().clone(),
        }
    }

    /// Whether the last run stopped on a problem only the person can solve.
    pub fn stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Writes photo `id`'s current record to the store.
    pub async fn persist(&self, id: usize) -> Result<(), String> {
        let record = self
            .photos
            .try_with_untracked(|ps| ps.iter().find(|p| p.id == id).and_then(Photo::record))
            .flatten();
        match (record, self.store()) {
            (Some(r), Some(store)) => store.put(&r).await,
            _ => Ok(()),
        }
    }

    /// Sends every photo without a project (a desktop's capture) to `project`, and new photos
    /// too from now on.
    pub async fn send_all_to(self: &Rc<Self>, project: &str) {
        *self.desktop_target.borrow_mut() = Some(project.to_owned());
        let mut changed = Vec::new();
        self.photos.update(|ps| {
            for p in ps.iter_mut().filter(|p| p.project.is_none()) {
                p.project = Some(project.to_owned());
                if p.upload == Upload::Local {
                    p.upload = Upload::Queued;
                }
                changed.push(p.id);
            }
        });
        for id in changed {
            // Best effort: the photo is in memory and goes now either way.
            let _ = self.persist(id).await;
        }
        self.kick();
    }

    /// The project a desktop's "Send to the server" made for this capture, if any.
    pub fn desktop_project(&self) -> Option<String> {
        self.desktop_target.borrow().clone()
    }

    /// Forgets the desktop's project ("Start over").
    pub fn reset_target(&self) {
        *self.desktop_target.borrow_mut() = None;
    }

    /// Starts the upload loop unless it runs already.
    pub fn kick(self: &Rc<Self>) {
        self.wake.set(true);
        if self.running.get() {
            return;
        }
        self.running.set(true);
        self.stopped.set(false);
        spawn_local(Rc::clone(self).run());
    }

    /// Called on the window's `online` event.
    pub fn online(self: &Rc<Self>) {
        self.kick();
    }

    fn set_upload(&self, id: usize, upload: Upload) -> bool {
        self.photos
            .try_update(|ps| {
                if let Some(p) = ps.iter_mut().find(|p| p.id == id) {
                    p.upload = upload;
                }
            })
            .is_some()
    }

    /// Waits `ms`, or less when woken; false once the page is gone.
    async fn pause(&self, ms: i32) -> bool {
        self.wake.set(false);
        let mut left = ms;
        while left > 0 && !self.wake.get() {
            sleep_ms(250).await;
            left -= 250;
            if self.photos.try_with_untracked(|_| ()).is_none() {
                return false;
            }
        }
        true
    }

    async fn run(self: Rc<Self>) {
        let mut backoff = FIRST_BACKOFF_MS;
        loop {
            let next = self.photos.try_with_untracked(|ps| {
                ps.iter()
                    .filter(|p| p.upload == Upload::Queued)
                    .find_map(|p| {
                        Some((
                            p.id,
                            p.name.clone(),
                            p.sha.clone()?,
                            p.blob.clone()?,
                            p.project.clone()?,
                        ))
                    })
            });
            let Some(Some((id, name, sha, blob, project))) = next else {
                break;
            };
            let Some(token) = token_for(&project) else {
                self.stopped.set(true);
                self.problem.try_set(Some(Problem::new(
                    "Photos are waiting on this device: there is no key or pairing to send them \
                     with. Pair this phone again from the desktop's project page.",
                    format!("no token for project {project}"),
                )));
                break;
            };
            if !self.set_upload(id, Upload::Uploading) {
                break;
            }
            let outcome = if blob.size() >= RESUMABLE_FROM_BYTES {
                tus::send(&token, &project, &blob, &name, &sha, &self.resumes).await
            } else {
                upload_one(&token, &project, &blob, &name, &sha).await
            };
            match outcome {
                Outcome::Confirmed => {
                    backoff = FIRST_BACKOFF_MS;
                    self.problem.try_set(None);
                    if !self.set_upload(id, Upload::Sent) {
                        break;
                    }
                    if let Err(e) = self.persist(id).await {
                        leptos::logging::warn!("marking {name} sent in the store: {e}");
                    }
                }
                Outcome::Rejected(reason) => {
                    if !self.set_upload(id, Upload::Rejected(reason)) {
                        break;
                    }
                    if let Some(store) = self.store() {
                        let _ = store.delete(&sha).await;
                    }
                }
                Outcome::Retry(detail) => {
                    if !self.set_upload(id, Upload::Queued) {
                        break;
                    }
                    let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
                    self.problem.try_set(Some(Problem::new(
                        if online {
                            "Photos are waiting: the server cannot be reached right now. They \
                             are kept on this device and sent as soon as it answers."
                        } else {
                            "No connection. Your photos are kept on this device and will be \
                             sent when you are back online."
                        },
                        detail,
                    )));
                    if !self.pause(backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF_MS);
                }
                Outcome::Stop(p) => {
                    self.stopped.set(true);
                    self.set_upload(id, Upload::Queued);
                    self.problem.try_set(Some(p));
                    break;
                }
            }
        }
        self.running.set(false);
    }
}

/// Aborts `ctrl` after [`REQUEST_TIMEOUT_MS`]; the returned guard cancels the timer.
pub(super) struct Timeout(Option<(web_sys::Window, i32)>);

impl Timeout {
    pub(super) fn start(ctrl: &web_sys::AbortController) -> Timeout {
        let ctrl = ctrl.clone();
        let cb = wasm_bindgen::closure::Closure::once_into_js(move || ctrl.abort());
        Timeout(web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.unchecked_ref(),
                REQUEST_TIMEOUT_MS,
            )
            .ok()
            .map(|h| (w, h))
        }))
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some((w, h)) = &self.0 {
            w.clear_timeout_with_handle(*h);
        }
    }
}

/// Uploads one photo to `project`.
async fn upload_one(
    token: &str,
    project: &str,
    blob: &web_sys::Blob,
    name: &str,
    sha: &str,
) -> Outcome {
    let Ok(form) = web_sys::FormData::new() else {
        return Outcome::Stop(Problem::new(
            "This browser cannot send files.",
            "FormData is not available",
        ));
    };
    if form
        .append_with_blob_and_filename("images", blob, name)
        .is_err()
    {
        return Outcome::Rejected(format!("{name} could not be added to the upload"));
    }
    let ctrl = web_sys::AbortController::new().ok();
    let _timeout = ctrl.as_ref().map(Timeout::start);
    let request = gloo_net::http::Request::post(&format!("/api/projects/{project}/images"))
        .header("Authorization", &bearer(token))
        .abort_signal(ctrl.as_ref().map(|c| c.signal()).as_ref())
        .body(form);
    let response = match request {
        Ok(r) => r.send().await,
        Err(e) => {
            return Outcome::Stop(Problem::new(
                "This browser cannot send files.",
                e.to_string(),
            ))
        }
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(net(e)),
    };
    let status = response.status();
    let paired = saved_pairing().is_some_and(|p| p.token == token);
    match status {
        200 | 201 => {
            let result: UploadResult = match body_of(response).await {
                Ok(r) => r,
                // The answer was cut: the photo may be there; sending again is harmless.
                Err(e) => return Outcome::Retry(e),
            };
            let Some(file) = result.files.into_iter().next() else {
                return Outcome::Retry("the server listed no file".into());
            };
            match file.status {
                UploadStatus::Stored | UploadStatus::Duplicate => {
                    match file.image.map(|i| i.sha256) {
                        Some(s) if s == sha => Outcome::Confirmed,
                        other => Outcome::Retry(format!(
                            "the server has SHA-256 {other:?} for {name}, expected {sha}"
                        )),
                    }
                }
                UploadStatus::Rejected => {
                    Outcome::Rejected(file.error.unwrap_or_else(|| "no reason given".into()))
                }
            }
        }
        400 | 413 | 415 | 422 => Outcome::Rejected(error_text(response).await),
        401 | 403 | 404 => refused(status, error_text(response).await, paired, project),
        _ => Outcome::Retry(format!("HTTP {status}")),
    }
}

/// The server's `error` message of a refusal.
pub(super) async fn error_text(response: gloo_net::http::Response) -> String {
    let status = response.status();
    body_of::<serde_json::Value>(response)
        .await
        .err()
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// A refusal only the person can solve: the key or pairing (401, 403) or the project (404).
pub(super) fn refused(status: u16, detail: String, paired: bool, project: &str) -> Outcome {
    if status == 404 {
        return Outcome::Stop(Problem::new(
            "The project these photos belong to no longer exists on the server. Your photos \
             stay on this device; start over to send them to a new project.",
            format!("HTTP 404 for project {project}: {detail}"),
        ));
    }
    Outcome::Stop(Problem::new(
        if paired {
            "This phone's pairing has ended or was revoked. Your photos stay on this \
             phone: scan a new QR code on the desktop's project page and they will be sent."
        } else {
            "The server refused the API key. Check it under \"Send to the server\"; \
             your photos stay on this device."
        },
        detail,
    ))
}
