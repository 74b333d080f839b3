//! Capture page (`/capture`): the person takes photos with the camera (or picks them from the
//! gallery); each is kept on the device at once (the offline store, keyed by SHA-256), checked
//! on the GPU — sharpness, feature count and matches to the previous photo, with a verdict
//! ("blurry", "low overlap", "little texture") — and sent to its project when there is one
//! (a paired phone's project, or the one a desktop's "Send to the server" creates).
//!
//! Photos are analysed one after another in the order they were added, by one
//! [`CaptureAnalyzer`] created when the page opens the GPU; the last analysed photo's
//! descriptors are kept for the next one's overlap. Each photo is decoded by the engine
//! (`images::decode_image`, longer side capped at 1600 px) before the analysis; a file that is
//! not a photo, or a page without WebGPU, gets its own message on its card.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::features::{CaptureAnalyzer, Descriptors};
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions};

use super::browser_helpers::{next_frame, now_ms, webgpu_exposed};
use super::capture_list::{photo_list, LOW_OVERLAP_MATCHES};
use super::client::sleep_ms;
use super::device_train::DeviceTrainPanel;
use super::pairing::saved_pairing;
use super::photo::{Analysis, Photo, PhotoState, Upload};
use super::problem::{problem_view, Problem};
use super::queue::{sha256_hex, Queue};
use super::sender::Sender;
use super::upload::UploadPanel;
use super::video::Scorer;
use super::video_panel::{video_panel, FrameSink};

/// Features kept per photo: enough for overlap, few enough for a phone to stay responsive.
const MAX_FEATURES: u32 = 4096;

/// Where the browser's GPU stands.
#[derive(Clone, Debug, PartialEq)]
enum GpuState {
    Checking,
    Ready,
    /// WebGPU is missing, or offers no usable adapter; the reason is technical detail.
    Unavailable(String),
}

impl GpuState {
    fn as_str(&self) -> &'static str {
        match self {
            GpuState::Checking => "checking",
            GpuState::Ready => "ready",
            GpuState::Unavailable(_) => "unavailable",
        }
    }
}

/// The page's state, shared by the file handlers, the store and the analysis queue.
struct Capture {
    gpu_state: RwSignal<GpuState>,
    /// Set when photos cannot be kept on this device.
    store_problem: RwSignal<Option<Problem>>,
    sender: Rc<Sender>,
    gpu: RefCell<Option<(GpuContext, Rc<CaptureAnalyzer>)>>,
    /// The last analysed photo's descriptors.
    previous: RefCell<Option<Descriptors>>,
    /// Photos waiting for the GPU: (id, bytes, name).
    queue: RefCell<VecDeque<(usize, web_sys::Blob, String)>>,
    busy: Cell<bool>,
    /// Bumped by "Start over", so a photo analysed across it does not become `previous`.
    generation: Cell<u64>,
    next_id: Cell<usize>,
    /// When the last photo was taken: each photo gets a later time, so the list keeps the
    /// order photos were taken in across a reload.
    last_added: Cell<f64>,
    /// Object URLs of the thumbnails, revoked when the page is left (shared with the cleanup,
    /// which must be `Send`).
    urls: Arc<Mutex<Vec<String>>>,
}

/// Revokes (and forgets) the thumbnails' object URLs.
fn revoke_all(urls: &Mutex<Vec<String>>) {
    if let Ok(mut urls) = urls.lock() {
        for url in urls.drain(..) {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    }
}

/// The bytes of `blob`.
pub(super) async fn read_bytes(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
    wasm_bindgen_futures::JsFuture::from(blob.array_buffer())
        .await
        .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
        .map_err(|e| format!("{e:?}"))
}

impl Capture {
    fn new(sender: Rc<Sender>) -> Rc<Self> {
        Rc::new(Self {
            gpu_state: RwSignal::new(GpuState::Checking),
            store_problem: RwSignal::new(None),
            sender,
            gpu: RefCell::new(None),
            previous: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            generation: Cell::new(0),
            next_id: Cell::new(0),
            last_added: Cell::new(0.0),
            urls: Arc::new(Mutex::new(Vec::new())),
        })
    }

    fn photos(&self) -> RwSignal<Vec<Photo>> {
        self.sender.photos
    }

    fn new_id(&self) -> usize {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    fn next_added(&self) -> f64 {
        let t = js_sys::Date::now().max(self.last_added.get() + 1.0);
        self.last_added.set(t);
        t
    }

    fn keep_url(&self, url: &Option<String>) {
        if let (Some(url), Ok(mut urls)) = (url, self.urls.lock()) {
            urls.push(url.clone());
        }
    }

    /// Changes photo `id`; false once the page has been left.
    fn update_photo(&self, id: usize, f: impl FnOnce(&mut Photo)) -> bool {
        self.photos()
            .try_update(|photos| {
                if let Some(p) = photos.iter_mut().find(|p| p.id == id) {
                    f(p);
                }
            })
            .is_some()
    }

    fn set_state(&self, id: usize, state: PhotoState) -> bool {
        self.update_photo(id, |p| p.state = state)
    }

    /// Opens the GPU and compiles the analyzer's kernels, then analyses whatever was added
    /// meanwhile.
    async fn open_gpu(self: Rc<Self>) {
        let state = if !webgpu_exposed() {
            GpuState::Unavailable("navigator.gpu is not defined".into())
        } else {
            match GpuContext::new_for_large_scenes().await {
                Ok(ctx) => {
                    let analyzer = CaptureAnalyzer::new(&ctx, MAX_FEATURES);
                    *self.gpu.borrow_mut() = Some((ctx, Rc::new(analyzer)));
                    GpuState::Ready
                }
                Err(e) => GpuState::Unavailable(e.to_string()),
            }
        };
        if self.gpu_state.try_set(state).is_some() {
            // Page left meanwhile.
            return;
        }
        self.drain().await;
    }

    /// Opens the offline store and lists what it kept (photos of an earlier visit, the ones
    /// not yet sent first of all), then starts sending.
    async fn open_store(self: Rc<Self>) {
        let queue = match Queue::open().await {
            Ok(q) => q,
            Err(e) => {
                self.store_problem.try_set(Some(Problem::new(
                    "Photos cannot be kept on this device (is this a private window?). Keep \
                     this page open until every photo shows \"Sent\".",
                    e,
                )));
                return;
            }
        };
        let records = match queue.all().await {
            Ok(r) => r,
            Err(e) => {
                self.store_problem.try_set(Some(Problem::new(
                    "The photos kept on this device could not be read. New photos are still kept.",
                    e,
                )));
                Vec::new()
            }
        };
        self.sender.set_store(queue);
        let restored: Vec<Photo> = records
            .into_iter()
            .map(|r| Photo::restored(self.new_id(), r))
            .collect();
        for p in &restored {
            self.last_added.set(self.last_added.get().max(p.added));
            self.keep_url(&p.thumb);
            if let (PhotoState::Queued, Some(blob)) = (&p.state, &p.blob) {
                self.queue
                    .borrow_mut()
                    .push_back((p.id, blob.clone(), p.name.clone()));
            }
        }
        if self
            .photos()
            .try_update(|photos| {
                // Photos added while the store opened are saved by their own task.
                let added = std::mem::take(photos);
                photos.extend(restored);
                photos.extend(added);
            })
            .is_none()
        {
            return;
        }
        // Photos taken before this phone was paired go to the paired project.
        match saved_pairing() {
            Some(p) if !p.expired() => self.sender.send_all_to(&p.project_id).await,
            _ => self.sender.kick(),
        }
        self.drain().await;
    }

    /// Adds the picked files to the list, then keeps, checks and sends each.
    fn add_files(self: &Rc<Self>, files: web_sys::FileList) {
        let picked = (0..files.length())
            .filter_map(|i| files.get(i))
            .map(|file| (file.name(), web_sys::Blob::from(file)))
            .collect();
        self.add_blobs(picked);
    }

    /// Adds photos (name, bytes) to the list, then keeps, checks and sends each: picked files
    /// and the frames kept from a video alike.
    fn add_blobs(self: &Rc<Self>, picked: Vec<(String, web_sys::Blob)>) {
        let mut added = Vec::new();
        let mut photos = Vec::new();
        for (name, blob) in picked {
            let thumb = web_sys::Url::create_object_url_with_blob(&blob).ok();
            self.keep_url(&thumb);
            let id = self.new_id();
            photos.push(Photo {
                id,
                name: name.clone(),
                thumb,
                state: PhotoState::Queued,
                sha: None,
                blob: Some(blob.clone()),
                added: self.next_added(),
                project: None,
                upload: Upload::Saving,
            });
            added.push((id, blob, name));
        }
        self.photos().update(|list| list.extend(photos));
        spawn_local(Rc::clone(self).keep_and_check(added));
    }

    /// Hashes and stores each new photo, one after another, then queues it for the GPU check
    /// and the upload.
    async fn keep_and_check(self: Rc<Self>, added: Vec<(usize, web_sys::Blob, String)>) {
        // Photos taken while the page opens wait for the store rather than go unsaved.
        while self.sender.store().is_none() {
            match self.store_problem.try_with_untracked(Option::is_some) {
                None => return,
                Some(true) => break,
                Some(false) => sleep_ms(50).await,
            }
        }
        for (id, blob, name) in added {
            let sha = match read_bytes(&blob).await {
                Ok(bytes) => sha256_hex(&bytes),
                Err(e) => {
                    let message = format!("{name} could not be read: {e}");
                    if !self.update_photo(id, |p| {
                        p.state = PhotoState::Failed {
                            kind: "read",
                            message: format!(
                                "{name} could not be read on this device. Take it again."
                            ),
                            detail: e.clone(),
                        };
                        p.upload = Upload::Rejected(message);
                    }) {
                        return;
                    }
                    continue;
                }
            };
            let duplicate = self
                .photos()
                .try_with_untracked(|ps| ps.iter().any(|p| p.sha.as_deref() == Some(&sha)));
            match duplicate {
                None => return,
                Some(true) => {
                    // The same photo twice: it is listed (and sent) once.
                    self.photos().update(|ps| ps.retain(|p| p.id != id));
                    continue;
                }
                Some(false) => {}
            }
            let project = self.sender.target();
            if !self.update_photo(id, |p| {
                p.sha = Some(sha);
                p.upload = if project.is_some() {
                    Upload::Queued
                } else {
                    Upload::Local
                };
                p.project = project;
            }) {
                return;
            }
            if let Err(e) = self.sender.persist(id).await {
                self.store_problem.try_set(Some(Problem::new(
                    "A photo could not be kept on this device (is it full?). Keep this page \
                     open until every photo shows \"Sent\".",
                    e,
                )));
            }
            self.queue.borrow_mut().push_back((id, blob, name));
            self.sender.kick();
            spawn_local(Rc::clone(&self).drain());
        }
    }

    /// Analyses queued photos one at a time, in order, until the queue is empty. Waits (returns)
    /// while the GPU is still being opened: `open_gpu` calls it again.
    async fn drain(self: Rc<Self>) {
        if self.busy.get() {
            return;
        }
        match self.gpu_state.try_get_untracked() {
            None | Some(GpuState::Checking) => return,
            Some(_) => {}
        }
        self.busy.set(true);
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some((id, blob, name)) = next else {
                break;
            };
            if !self.analyze(id, &blob, &name).await {
                // The page was left.
                self.queue.borrow_mut().clear();
                break;
            }
            // Kept with the photo, so a reload need not check it again.
            let _ = self.sender.persist(id).await;
        }
        self.busy.set(false);
    }

    /// Reads, decodes and analyses one photo; false once the page has been left.
    async fn analyze(&self, id: usize, blob: &web_sys::Blob, name: &str) -> bool {
        if !self.set_state(id, PhotoState::Analyzing) {
            return false;
        }
        next_frame().await;
        let fail = |kind: &'static str, message: String, detail: String| {
            self.set_state(
                id,
                PhotoState::Failed {
                    kind,
                    message,
                    detail,
                },
            )
        };
        let bytes = match read_bytes(blob).await {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    "read",
                    format!("{name} could not be read on this device. Take it again."),
                    e,
                )
            }
        };
        let start = now_ms();
        let decoded = decode_image(&bytes, Some(name), &DecodeOptions::default());
        drop(bytes);
        let img = match decoded {
            Ok(img) => img,
            Err(e) => {
                return fail(
                    "format",
                    format!(
                        "{name} could not be read as a photo. Take it again, or choose a JPEG \
                         or PNG photo."
                    ),
                    e.to_string(),
                )
            }
        };
        let decode_ms = now_ms() - start;
        let gpu = self
            .gpu
            .borrow()
            .as_ref()
            .map(|(ctx, analyzer)| (ctx.clone(), Rc::clone(analyzer)));
        let Some((ctx, analyzer)) = gpu else {
            let detail = match self.gpu_state.try_get_untracked() {
                Some(GpuState::Unavailable(reason)) => reason,
                _ => "no GPU".to_owned(),
            };
            return fail(
                "no-webgpu",
                format!(
                    "{name} ({}×{}) was not checked: WebGPU is not available here. It can still \
                     be sent.",
                    img.width, img.height
                ),
                detail,
            );
        };
        // Taken out while the GPU works (no borrow across the await); put back on failure.
        let previous = self.previous.borrow_mut().take();
        let generation = self.generation.get();
        let start = now_ms();
        let result = analyzer
            .analyze(&ctx, &img.gray, img.width, img.height, previous.as_ref())
            .await;
        let analysis_ms = now_ms() - start;
        let current = self.generation.get() == generation;
        match result {
            Ok(q) => {
                if current {
                    *self.previous.borrow_mut() = Some(q.descriptors);
                }
                self.set_state(
                    id,
                    PhotoState::Done(Analysis {
                        width: img.width,
                        height: img.height,
                        sharpness: q.sharpness,
                        features: q.feature_count,
                        matches_to_previous: q.matches_to_previous,
                        decode_ms,
                        analysis_ms,
                    }),
                )
            }
            Err(e) => {
                if current {
                    *self.previous.borrow_mut() = previous;
                }
                fail(
                    "gpu",
                    format!(
                        "{name} could not be checked: the GPU failed. It can still be sent; \
                         reload the page to check the next photos."
                    ),
                    e.to_string(),
                )
            }
        }
    }

    /// Forgets the capture, on this device too (the next photo starts a new one). Photos not
    /// yet sent are lost, so the person is asked first.
    fn clear(&self) {
        let unsent = self
            .photos()
            .with_untracked(|ps| ps.iter().filter(|p| p.upload != Upload::Sent).count());
        if unsent > 0 {
            let question = format!(
                "{unsent} photos have not reached the server yet and will be deleted from this \
                 device. Start over anyway?"
            );
            let yes = web_sys::window()
                .and_then(|w| w.confirm_with_message(&question).ok())
                .unwrap_or(false);
            if !yes {
                return;
            }
        }
        self.generation.set(self.generation.get() + 1);
        self.queue.borrow_mut().clear();
        *self.previous.borrow_mut() = None;
        self.sender.reset_target();
        self.sender.scene.set(None);
        // A photo being analysed finishes into nothing.
        self.photos().update(Vec::clear);
        revoke_all(&self.urls);
        if let Some(store) = self.sender.store() {
            let problem = self.store_problem;
            spawn_local(async move {
                let cleared = match store.clear().await {
                    Ok(()) => store.clear_scene().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = cleared {
                    problem.try_set(Some(Problem::new(
                        "The photos kept on this device could not be deleted.",
                        e,
                    )));
                }
            });
        }
    }
}

/// Frames kept from a video join the list as photos; they are scored with the check's GPU
/// sharpness kernel, or on the CPU where the page has no WebGPU.
struct CaptureFrames(Rc<Capture>);

impl FrameSink for CaptureFrames {
    fn scorer(&self) -> Option<Scorer> {
        match self.0.gpu_state.try_get_untracked()? {
            GpuState::Checking => None,
            GpuState::Ready => Some(
                self.0
                    .gpu
                    .borrow()
                    .as_ref()
                    .map_or(Scorer::Cpu, |(ctx, a)| {
                        Scorer::Gpu(ctx.clone(), Rc::clone(a))
                    }),
            ),
            GpuState::Unavailable(_) => Some(Scorer::Cpu),
        }
    }

    fn add_frame(&self, name: String, jpeg: web_sys::Blob) -> bool {
        if self.0.photos().try_with_untracked(|_| ()).is_none() {
            return false;
        }
        self.0.add_blobs(vec![(name, jpeg)]);
        true
    }
}

/// The summary line: how many photos, how many sent, how many waiting.
fn summary(photos: &[Photo]) -> (usize, usize, usize, String) {
    let total = photos.len();
    let sent = photos.iter().filter(|p| p.upload == Upload::Sent).count();
    let waiting = photos.iter().filter(|p| p.upload.pending()).count();
    let local = photos.iter().filter(|p| p.upload == Upload::Local).count();
    let text = match total {
        0 => "No photos yet.".to_owned(),
        _ if local > 0 => format!("{total} photos, kept on this device until you send them."),
        _ => format!("{total} photos · {sent} sent · {waiting} waiting to be sent"),
    };
    (total, sent, waiting, text)
}

/// Where pairing stands on this device, shown at the top of the page.
fn pairing_line() -> impl IntoView {
    match saved_pairing() {
        Some(p) if !p.expired() => view! {
            <p class="paired ok" id="capture-paired">{p.describe()}</p>
        }
        .into_any(),
        Some(p) => problem_view(
            "capture-pairing-ended",
            Problem::new(
                "This phone's pairing has ended. Photos you take stay on this phone; scan a new \
                 QR code on the desktop's project page to send them.",
                format!("expired at {}", p.expires_at),
            ),
        )
        .into_any(),
        None => ().into_any(),
    }
}

/// The `/capture` page.
#[component]
pub fn CapturePage() -> impl IntoView {
    let sender = Sender::new(RwSignal::new(Vec::new()));
    let capture = Capture::new(Rc::clone(&sender));
    let photos = sender.photos;
    let gpu = capture.gpu_state;
    let store_problem = capture.store_problem;
    let connection = sender.problem;
    spawn_local(Rc::clone(&capture).open_store());
    spawn_local(Rc::clone(&capture).open_gpu());
    {
        let urls = Arc::clone(&capture.urls);
        on_cleanup(move || revoke_all(&urls));
    }
    {
        let sender = Rc::clone(&sender);
        let handle = window_event_listener(leptos::ev::online, move |_| sender.online());
        on_cleanup(move || handle.remove());
    }

    let on_files = {
        let capture = Rc::clone(&capture);
        move |ev: web_sys::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(files) = input.files() {
                capture.add_files(files);
            }
            // The same file picked again fires `change` again.
            input.set_value("");
        }
    };
    let on_camera = on_files.clone();
    let on_clear = {
        let capture = Rc::clone(&capture);
        move |_| capture.clear()
    };
    let counts = Memo::new(move |_| photos.with(|ps| summary(ps)));

    view! {
        <section class="card capture" id="capture" data-gpu=move || gpu.with(|g| g.as_str())>
            <h2>"Capture"</h2>
            {pairing_line()}
            <p class="muted">
                "Walk around the object and take a photo every step or two, so that each photo "
                "overlaps the one before. Each photo is kept on this device until the server has "
                "it, and checked on your device's GPU: keep the sharp ones with good overlap."
            </p>
            <div class="capture-actions">
                <label class="file-pick button-like big camera">
                    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M4 7h3l2-3h6l2 3h3a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z" />
                        <circle cx="12" cy="13" r="4" />
                    </svg>
                    "Take photos"
                    <input
                        type="file"
                        id="capture-camera"
                        accept="image/*"
                        capture="environment"
                        multiple
                        on:change=on_camera
                    />
                </label>
                <label class="file-pick button-like">
                    "Choose from gallery"
                    <input
                        type="file"
                        id="capture-files"
                        accept="image/*"
                        multiple
                        on:change=on_files
                    />
                </label>
                <button type="button" class="button-like" id="capture-clear" on:click=on_clear>
                    "Start over"
                </button>
            </div>
            {video_panel(Rc::new(CaptureFrames(Rc::clone(&capture))))}
            <p
                id="capture-summary"
                role="status"
                data-total=move || counts.with(|c| c.0.to_string())
                data-sent=move || counts.with(|c| c.1.to_string())
                data-waiting=move || counts.with(|c| c.2.to_string())
            >
                {move || counts.with(|c| c.3.clone())}
            </p>
            {move || connection.get().map(|p| problem_view("capture-connection", p))}
            {move || store_problem.get().map(|p| problem_view("capture-store", p))}
            {move || match gpu.get() {
                GpuState::Checking => {
                    view! { <p class="muted" id="capture-gpu">"Opening the GPU…"</p> }.into_any()
                }
                GpuState::Ready => view! { <p class="ok" id="capture-gpu">"GPU ready."</p> }.into_any(),
                GpuState::Unavailable(reason) => view! {
                    <div class="warn" id="webgpu-missing" role="alert">
                        <p><strong>"WebGPU is not available here."</strong></p>
                        <p>
                            "Splatpod checks photos with your device's GPU through WebGPU. Please "
                            "open Splatpod in a recent Chrome, Edge or Safari, or turn WebGPU on in "
                            "your browser's settings. Photos can still be uploaded unchecked."
                        </p>
                        <details><summary>"Details"</summary><code>{reason}</code></details>
                    </div>
                }
                .into_any(),
            }}
            {photo_list(photos)}
            <p class="muted capture-help">
                "Blurry: sharpness well below this capture's median. Low overlap: fewer than "
                {LOW_OVERLAP_MATCHES} " matches to the previous photo. Photos are scaled to "
                "1600 px on the longer side before the check."
            </p>
        </section>
        <DeviceTrainPanel sender=Rc::clone(&sender) />
        <UploadPanel sender=sender />
    }
}
