//! Capture page (`/capture`): the person picks photos (or takes them one at a time with the
//! camera) and each is checked on the GPU as it arrives: sharpness, feature count and matches
//! to the previous photo, with a verdict ("blurry", "low overlap", "little texture").
//!
//! Photos are analysed one after another in the order they were added, by one
//! [`CaptureAnalyzer`] created when the page opens the GPU; the last analysed photo's
//! descriptors are kept for the next one's overlap. Each photo is decoded by the engine
//! (`images::decode_image`, longer side capped at 1600 px) before the analysis; a file that is
//! not a photo, or a page without WebGPU, gets its own message in the list.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::features::{CaptureAnalyzer, Descriptors};
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions};

use super::browser::{next_frame, now_ms, webgpu_exposed};
use super::upload::UploadPanel;

/// Features kept per photo: enough for overlap, few enough for a phone to stay responsive.
const MAX_FEATURES: u32 = 4096;

/// Fewer matches to the previous photo than this: "low overlap".
const LOW_OVERLAP_MATCHES: usize = 30;

/// Fewer features than this: "little texture".
const FEW_FEATURES: usize = 200;

/// Sharpness below this fraction of the capture's median: "blurry".
const BLURRY_FRACTION: f32 = 0.4;

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

/// The signals of one analysed photo.
#[derive(Clone, Debug, PartialEq)]
struct Analysis {
    width: u32,
    height: u32,
    sharpness: f32,
    features: usize,
    /// `None` for the first photo analysed.
    matches_to_previous: Option<usize>,
    decode_ms: f64,
    /// Sharpness, features and matching on the GPU, incl. uploads and readbacks.
    analysis_ms: f64,
}

/// Where one photo of the list stands.
#[derive(Clone, Debug, PartialEq)]
enum PhotoState {
    Queued,
    Analyzing,
    Done(Analysis),
    /// `kind` (`read`, `format`, `no-webgpu` or `gpu`) becomes the row's `data-kind`.
    Failed {
        kind: &'static str,
        message: String,
    },
}

impl PhotoState {
    fn as_str(&self) -> &'static str {
        match self {
            PhotoState::Queued => "queued",
            PhotoState::Analyzing => "analyzing",
            PhotoState::Done(_) => "done",
            PhotoState::Failed { .. } => "error",
        }
    }
}

/// One row of the list.
#[derive(Clone, Debug, PartialEq)]
struct Photo {
    id: usize,
    name: String,
    /// An object URL of the file, once it decoded as a photo.
    thumb: Option<String>,
    state: PhotoState,
}

/// The page's reactive state (all `Copy` handles).
#[derive(Clone, Copy)]
struct Ui {
    gpu: RwSignal<GpuState>,
    photos: RwSignal<Vec<Photo>>,
}

/// The page's non-reactive state, shared by the file handlers and the analysis queue.
struct Capture {
    ui: Ui,
    gpu: RefCell<Option<(GpuContext, Rc<CaptureAnalyzer>)>>,
    /// The last analysed photo's descriptors.
    previous: RefCell<Option<Descriptors>>,
    queue: RefCell<VecDeque<(usize, web_sys::File)>>,
    /// Every file of this capture, in order, for "Send to the server".
    files: RefCell<Vec<web_sys::File>>,
    busy: Cell<bool>,
    /// Bumped by "Start over", so a photo analysed across it does not become `previous`.
    generation: Cell<u64>,
    next_id: Cell<usize>,
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

/// The median sharpness of the analysed photos (`None` before the first).
fn median_sharpness(photos: &[Photo]) -> Option<f32> {
    let mut values: Vec<f32> = photos
        .iter()
        .filter_map(|p| match &p.state {
            PhotoState::Done(a) if a.sharpness.is_finite() => Some(a.sharpness),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        0.5 * (values[mid - 1] + values[mid])
    })
}

/// The verdict on one photo: a CSS class (`ok` or `warn`) and the words shown.
fn verdict(a: &Analysis, median: Option<f32>) -> (&'static str, String) {
    let mut problems = Vec::new();
    if median.is_some_and(|m| a.sharpness < BLURRY_FRACTION * m) {
        problems.push("blurry");
    }
    if a.features < FEW_FEATURES {
        problems.push("little texture");
    }
    if a.matches_to_previous
        .is_some_and(|m| m < LOW_OVERLAP_MATCHES)
    {
        problems.push("low overlap");
    }
    if problems.is_empty() {
        ("ok", "good".to_owned())
    } else {
        ("warn", problems.join(", "))
    }
}

impl Capture {
    fn new(ui: Ui) -> Rc<Self> {
        Rc::new(Self {
            ui,
            gpu: RefCell::new(None),
            previous: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            files: RefCell::new(Vec::new()),
            busy: Cell::new(false),
            generation: Cell::new(0),
            next_id: Cell::new(0),
            urls: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Sets photo `id`'s state (and thumbnail); false once the page has been left.
    fn set_photo(&self, id: usize, state: PhotoState, thumb: Option<String>) -> bool {
        self.ui
            .photos
            .try_update(|photos| {
                if let Some(p) = photos.iter_mut().find(|p| p.id == id) {
                    p.state = state;
                    if thumb.is_some() {
                        p.thumb = thumb;
                    }
                }
            })
            .is_some()
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
        if self.ui.gpu.try_set(state).is_some() {
            // Page left meanwhile.
            return;
        }
        self.drain().await;
    }

    /// Adds the picked files to the list and the queue.
    fn add_files(self: &Rc<Self>, files: web_sys::FileList) {
        let mut added = Vec::new();
        for i in 0..files.length() {
            let Some(file) = files.get(i) else {
                continue;
            };
            let id = self.next_id.get();
            self.next_id.set(id + 1);
            added.push(Photo {
                id,
                name: file.name(),
                thumb: None,
                state: PhotoState::Queued,
            });
            self.files.borrow_mut().push(file.clone());
            self.queue.borrow_mut().push_back((id, file));
        }
        self.ui.photos.update(|photos| photos.extend(added));
        spawn_local(Rc::clone(self).drain());
    }

    /// Analyses queued photos one at a time, in order, until the queue is empty. Waits (returns)
    /// while the GPU is still being opened: `open_gpu` calls it again.
    async fn drain(self: Rc<Self>) {
        if self.busy.get() {
            return;
        }
        match self.ui.gpu.try_get_untracked() {
            None | Some(GpuState::Checking) => return,
            Some(_) => {}
        }
        self.busy.set(true);
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some((id, file)) = next else {
                break;
            };
            if !self.analyze(id, file).await {
                // The page was left.
                self.queue.borrow_mut().clear();
                break;
            }
        }
        self.busy.set(false);
    }

    /// Reads, decodes and analyses one photo; false once the page has been left.
    async fn analyze(&self, id: usize, file: web_sys::File) -> bool {
        if !self.set_photo(id, PhotoState::Analyzing, None) {
            return false;
        }
        next_frame().await;
        let name = file.name();
        let fail = |kind: &'static str, message: String| {
            self.set_photo(id, PhotoState::Failed { kind, message }, None)
        };
        let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
            Err(e) => return fail("read", format!("{name} could not be read: {e:?}")),
        };
        let start = now_ms();
        let decoded = decode_image(&bytes, Some(&name), &DecodeOptions::default());
        drop(bytes);
        let img = match decoded {
            Ok(img) => img,
            Err(e) => {
                return fail(
                    "format",
                    format!("{name} could not be read as a photo: {e}"),
                )
            }
        };
        let decode_ms = now_ms() - start;
        let thumb = web_sys::Url::create_object_url_with_blob(&file).ok();
        if let (Some(url), Ok(mut urls)) = (&thumb, self.urls.lock()) {
            urls.push(url.clone());
        }
        let gpu = self
            .gpu
            .borrow()
            .as_ref()
            .map(|(ctx, analyzer)| (ctx.clone(), Rc::clone(analyzer)));
        let Some((ctx, analyzer)) = gpu else {
            let detail = match self.ui.gpu.try_get_untracked() {
                Some(GpuState::Unavailable(reason)) => reason,
                _ => "no GPU".to_owned(),
            };
            return self.set_photo(
                id,
                PhotoState::Failed {
                    kind: "no-webgpu",
                    message: format!(
                        "{name} ({}×{}) was not checked: WebGPU is not available here \
                         (details: {detail}).",
                        img.width, img.height
                    ),
                },
                thumb,
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
                self.set_photo(
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
                    thumb,
                )
            }
            Err(e) => {
                if current {
                    *self.previous.borrow_mut() = previous;
                }
                self.set_photo(
                    id,
                    PhotoState::Failed {
                        kind: "gpu",
                        message: format!("{name} could not be checked: the GPU failed: {e}"),
                    },
                    thumb,
                )
            }
        }
    }

    /// Forgets the list and the previous photo (the next photo starts a new capture).
    fn clear(&self) {
        self.generation.set(self.generation.get() + 1);
        self.queue.borrow_mut().clear();
        self.files.borrow_mut().clear();
        *self.previous.borrow_mut() = None;
        // A photo being analysed finishes into nothing.
        self.ui.photos.update(Vec::clear);
        revoke_all(&self.urls);
    }
}

/// One row of the list.
fn photo_row(photo: Photo, median: Option<f32>) -> impl IntoView {
    let state = photo.state.as_str();
    let thumb = photo.thumb.map(|src| {
        view! { <img class="capture-thumb" src=src alt="" loading="lazy" /> }
    });
    let (kind, cells) = match photo.state {
        PhotoState::Queued => (
            None,
            view! { <td class="capture-note muted" colspan="5">"Waiting…"</td> }.into_any(),
        ),
        PhotoState::Analyzing => (
            None,
            view! { <td class="capture-note muted" colspan="5">"Checking…"</td> }.into_any(),
        ),
        PhotoState::Failed { kind, message } => (
            Some(kind),
            view! { <td class="capture-note capture-error bad" colspan="5" role="alert">{message}</td> }
                .into_any(),
        ),
        PhotoState::Done(a) => {
            let (class, words) = verdict(&a, median);
            let matches = a
                .matches_to_previous
                .map_or("–".to_owned(), |m| m.to_string());
            let data_matches = a.matches_to_previous.map(|m| m.to_string());
            let title = format!(
                "{}×{} px; decoded in {:.0} ms",
                a.width, a.height, a.decode_ms
            );
            (
                None,
                view! {
                    <td class="capture-sharpness">{format!("{:.4}", a.sharpness)}</td>
                    <td class="capture-features" data-value=a.features.to_string()>
                        {a.features.to_string()}
                    </td>
                    <td class="capture-matches" data-value=data_matches>{matches}</td>
                    <td
                        class="capture-ms"
                        data-value=format!("{:.1}", a.analysis_ms)
                        data-decode-ms=format!("{:.1}", a.decode_ms)
                        title=title
                    >
                        {format!("{:.0} ms", a.analysis_ms)}
                    </td>
                    <td class=format!("capture-verdict {class}")>{words}</td>
                }
                .into_any(),
            )
        }
    };
    view! {
        <tr class="capture-photo" data-state=state data-kind=kind>
            <td class="capture-name">{thumb}<span>{photo.name}</span></td>
            {cells}
        </tr>
    }
}

/// The `/capture` page.
#[component]
pub fn CapturePage() -> impl IntoView {
    let ui = Ui {
        gpu: RwSignal::new(GpuState::Checking),
        photos: RwSignal::new(Vec::new()),
    };
    let capture = Capture::new(ui);
    spawn_local(Rc::clone(&capture).open_gpu());
    {
        let urls = Arc::clone(&capture.urls);
        on_cleanup(move || revoke_all(&urls));
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
    let files: Rc<dyn Fn() -> Vec<web_sys::File>> = {
        let capture = Rc::clone(&capture);
        Rc::new(move || capture.files.borrow().clone())
    };

    view! {
        <section class="card capture" id="capture" data-gpu=move || ui.gpu.with(|g| g.as_str())>
            <h2>"Capture"</h2>
            <p class="muted">
                "Walk around the object and take a photo every step or two, so that each photo "
                "overlaps the one before. Each photo is checked on your device's GPU: keep the "
                "sharp ones with good overlap."
            </p>
            <div class="capture-bar">
                <label class="file-pick">
                    "Take a photo "
                    <input
                        type="file"
                        id="capture-camera"
                        accept="image/*"
                        capture="environment"
                        on:change=on_camera
                    />
                </label>
                <label class="file-pick">
                    "Choose photos "
                    <input
                        type="file"
                        id="capture-files"
                        accept="image/*"
                        multiple
                        on:change=on_files
                    />
                </label>
                <button type="button" id="capture-clear" on:click=on_clear>"Start over"</button>
            </div>
            {move || match ui.gpu.get() {
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
                        <p class="muted">"Details: " {reason}</p>
                    </div>
                }
                .into_any(),
            }}
            <table class="capture-list" id="capture-list">
                <thead>
                    <tr>
                        <th>"Photo"</th>
                        <th title="Variance of the Laplacian: higher is sharper">"Sharpness"</th>
                        <th>"Features"</th>
                        <th title="Matches to the previous photo">"Matches"</th>
                        <th title="Time on the GPU">"Time"</th>
                        <th>"Verdict"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let photos = ui.photos.get();
                        let median = median_sharpness(&photos);
                        photos
                            .into_iter()
                            .map(|p| photo_row(p, median))
                            .collect_view()
                    }}
                </tbody>
            </table>
            <p class="muted capture-help">
                "Blurry: sharpness well below this capture's median. Low overlap: fewer than "
                {LOW_OVERLAP_MATCHES} " matches to the previous photo. Photos are scaled to "
                "1600 px on the longer side before the check."
            </p>
        </section>
        <UploadPanel files=files />
    }
}
