//! Loading scenes into the viewer: from a picked file, from a URL (progressively, showing the
//! splats that arrived so far), or parsed elsewhere; installing a scene on the GPU and framing it.

use std::rc::Rc;

use glam::Vec3;
use leptos::prelude::*;
use splatpod::formats::{load_scene, GaussianScene, ProgressiveLoader};
use splatpod::render::{percentile_box, GpuScene, Renderer};
use wasm_bindgen::JsCast;

use crate::browser_helpers::next_frame;

use super::{GpuState, Viewer, ViewerError, FRAMING_SAMPLES};

/// `1234567` → `"1,234,567"`.
pub(super) fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The last path segment of a URL, as the file-name hint for format detection and messages.
pub(super) fn name_from_url(url: &str) -> String {
    if url.starts_with("data:") {
        return "the data: URL".to_owned();
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() {
        "the downloaded file".to_owned()
    } else {
        name.to_owned()
    }
}

/// `url` for messages: at most 80 characters.
pub(super) fn short_url(url: &str) -> String {
    match url.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &url[..cut]),
        None => url.to_owned(),
    }
}

/// The box the initial view frames: the 5th–95th percentile box of (a sample of) the centres.
pub(super) fn framing_box(scene: &GaussianScene) -> (Vec3, Vec3) {
    let stride = scene.positions.len().div_ceil(FRAMING_SAMPLES).max(1);
    let sample: Vec<[f32; 3]> = scene.positions.iter().step_by(stride).copied().collect();
    percentile_box(&sample, 0.05)
}

impl Viewer {
    /// Uploads `scene` and makes it the one shown, or explains why it cannot be. `reframe`
    /// frames the new scene; a download in progress keeps the view the person has chosen.
    pub(super) fn install(&self, scene: GaussianScene, reframe: bool) {
        let frame = framing_box(&scene);
        self.install_framed(scene, frame, reframe);
    }

    /// [`Viewer::install`] with the box to frame given (`lo`, `hi`) rather than taken from the
    /// scene.
    pub(super) fn install_framed(
        &self,
        scene: GaussianScene,
        (lo, hi): (Vec3, Vec3),
        reframe: bool,
    ) {
        let ctx = match self.gpu.borrow().as_ref() {
            Some(gpu) => gpu.ctx.clone(),
            None => {
                *self.pending.borrow_mut() = Some((scene, Some((lo, hi))));
                return;
            }
        };
        let count = scene.len();
        let renderer = GpuScene::upload(&ctx, &scene).and_then(|s| Renderer::new(&ctx, s));
        drop(scene);
        match renderer {
            Ok(renderer) => {
                *self.renderer.borrow_mut() = Some(renderer);
                self.generation.set(self.generation.get() + 1);
                if reframe || self.home.get().is_none() {
                    self.home.set(Some((lo, hi)));
                    self.orbit.set(self.home_orbit((lo, hi)));
                }
                self.ui.splats.set(Some(count));
                self.ui.frame_ms.set(None);
                self.ui.status.set(String::new());
                self.dirty.set(true);
            }
            // The previous scene, if any, stays on screen.
            Err(e) => {
                self.fail_load(ViewerError::from_gpu(&e));
            }
        }
    }

    /// Parses `bytes` (named `name`) and shows the scene.
    pub(super) async fn load_bytes(self: &Rc<Self>, seq: u64, bytes: Vec<u8>, name: String) {
        if self.load_seq.get() != seq {
            return;
        }
        self.ui.status.set(format!("Reading {name}…"));
        next_frame().await;
        if self.load_seq.get() != seq {
            return;
        }
        let parsed = load_scene(&bytes, Some(&name));
        drop(bytes);
        let scene = match parsed {
            Ok(scene) => scene,
            Err(e) => {
                self.fail_load(unreadable_scene(&name, &e));
                return;
            }
        };
        self.show_parsed(seq, scene, name).await;
    }

    /// Shows a parsed scene once the GPU is ready (or explains why it cannot be shown).
    pub(super) async fn show_parsed(self: &Rc<Self>, seq: u64, scene: GaussianScene, name: String) {
        if self.load_seq.get() != seq {
            return;
        }
        // The page may have been left while parsing.
        let Some(gpu_state) = self.ui.gpu.try_get_untracked() else {
            return;
        };
        match gpu_state {
            GpuState::Unavailable => {
                self.ui.splats.set(Some(scene.len()));
                self.ui.status.set(format!(
                    "{name} read, but it cannot be shown without WebGPU."
                ));
            }
            GpuState::Checking => {
                self.ui.status.set("Waiting for the GPU…".into());
                *self.pending.borrow_mut() = Some((scene, None));
            }
            GpuState::Ready => {
                self.ui.status.set(format!("Uploading {name} to the GPU…"));
                next_frame().await;
                if self.load_seq.get() == seq {
                    self.install(scene, true);
                }
            }
        }
    }

    /// Clears the loading status and shows `error`; the previous scene, if any, stays on screen.
    fn fail_load(&self, error: ViewerError) {
        self.ui.status.set(String::new());
        self.set_error(error);
    }

    /// Starts a new load: clears the error and bumps the sequence number; returns it.
    pub(super) fn begin_load(&self) -> u64 {
        let seq = self.load_seq.get() + 1;
        self.load_seq.set(seq);
        self.ui.error.set(None);
        seq
    }

    pub(super) async fn load_file(self: Rc<Self>, file: web_sys::File) {
        let seq = self.begin_load();
        let name = file.name();
        self.ui.status.set(format!("Opening {name}…"));
        let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
            Err(e) => {
                self.fail_load(ViewerError::new(
                    "format",
                    format!("{name} could not be read: {e:?}"),
                ));
                return;
            }
        };
        self.load_bytes(seq, bytes, name).await;
    }

    pub(super) async fn load_url(self: Rc<Self>, url: String) {
        let url = url.trim().to_owned();
        if url.is_empty() {
            return;
        }
        let seq = self.begin_load();
        let shown = short_url(&url);
        self.ui.status.set(format!("Downloading {shown}…"));
        let fail = |msg: String| {
            self.fail_load(ViewerError::new(
                "network",
                format!("The scene could not be downloaded from {shown}: {msg}"),
            ));
        };
        let response = match gloo_net::http::Request::get(&url).send().await {
            Ok(r) => r,
            Err(e) => return fail(e.to_string()),
        };
        if !response.ok() {
            return fail(format!(
                "HTTP {} {}",
                response.status(),
                response.status_text()
            ));
        }
        let name = name_from_url(&url);
        let Some(body) = response.body() else {
            let bytes = match response.binary().await {
                Ok(b) => b,
                Err(e) => return fail(e.to_string()),
            };
            return self.load_bytes(seq, bytes, name).await;
        };
        let reader: web_sys::ReadableStreamDefaultReader = match body.get_reader().dyn_into() {
            Ok(r) => r,
            Err(e) => return fail(format!("{e:?}")),
        };
        // Show what has arrived: binary PLY and .splat grow as the bytes come in; the finished
        // file is then checked whole, exactly like a picked file.
        let mut loader = ProgressiveLoader::new(Some(&name));
        let mut shown = 0usize;
        loop {
            let chunk = match wasm_bindgen_futures::JsFuture::from(reader.read()).await {
                Ok(c) => c,
                Err(e) => return fail(format!("{e:?}")),
            };
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                break;
            }
            if self.load_seq.get() != seq {
                return;
            }
            let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) else {
                continue;
            };
            let bytes = js_sys::Uint8Array::new(&value).to_vec();
            if let Err(e) = loader.push(&bytes) {
                return self.fail_load(unreadable_scene(&name, &e));
            }
            let have = loader.scene().len();
            let total = loader
                .declared()
                .map_or(String::new(), |d| format!(" of {d}"));
            self.ui.status.set(format!(
                "Downloading {shown_url}: {} MB, {have}{total} splats…",
                loader.received() >> 20,
                shown_url = short_url(&url)
            ));
            // Re-upload when the scene has doubled, so the total upload work stays linear.
            let ready = matches!(self.ui.gpu.try_get_untracked(), Some(GpuState::Ready));
            if ready && have >= 1024 && have >= 2 * shown {
                self.install(loader.scene().clone(), shown == 0);
                shown = have;
                next_frame().await;
            }
        }
        match loader.finish() {
            Ok(scene) if shown > 0 => {
                self.ui.status.set(String::new());
                self.install(scene, false);
            }
            Ok(scene) => self.show_parsed(seq, scene, name).await,
            Err(e) => {
                self.fail_load(unreadable_scene(&name, &e));
            }
        }
    }
}

/// The error of a file `name` that is not a readable splat scene (`e`: the parser's reason).
fn unreadable_scene(name: &str, e: &impl std::fmt::Display) -> ViewerError {
    ViewerError::new(
        "format",
        format!("{name} could not be read as a splat scene: {e}"),
    )
}
