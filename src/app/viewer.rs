//! Viewer page (`/view`): opens a splat scene (file picker, URL field or `?url=`) and draws it
//! with the engine's GPU rasterizer on a WebGPU canvas.
//!
//! One `GpuContext` (opened for large scenes) serves both the rasterizer and the canvas surface.
//! Each frame: the rasterizer fills its colour buffer, `BlitKernel` draws it onto the canvas
//! texture, and the frame is presented. A `requestAnimationFrame` loop renders only when the view
//! changed (the `dirty` flag), one frame at a time. UI state lives in Leptos signals; the GPU
//! state in an `Rc` shared by the event handlers and the loop.
//!
//! Controls: drag orbits around the target; right-drag, middle-drag or Shift-drag pans; the wheel
//! zooms; on touch, one finger orbits and two fingers pinch-zoom and pan; W/S fly forward and
//! back, A/D left and right, E/Q up and down; "Reset view" frames the scene again.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use glam::Vec3;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use splatpod::api::StartView;
use splatpod::formats::{load_scene, GaussianScene, ProgressiveLoader};
use splatpod::gpu::{GpuContext, GpuError};
use splatpod::render::{percentile_box, BlitKernel, GpuScene, OrbitCamera, Renderer};
use wasm_bindgen::JsCast;

use super::browser_helpers::{next_frame, now_ms, webgpu_exposed};

/// Background behind the splats: the page's own background colour (#101830).
const BACKGROUND: Vec3 = Vec3::new(16.0 / 255.0, 24.0 / 255.0, 48.0 / 255.0);

/// Most pixels rendered per frame; larger canvases render at a lower resolution.
const MAX_PIXELS: f64 = 1920.0 * 1200.0;

/// Most positions sampled to find the box the initial view frames.
const FRAMING_SAMPLES: usize = 1 << 16;

/// Fly speed, in scene radii per second.
const FLY_SPEED: f32 = 0.6;

/// Why the viewer cannot show something, for `#viewer-error`.
#[derive(Clone, Debug, PartialEq)]
struct ViewerError {
    /// `no-webgpu`, `format`, `too-large`, `network` or `gpu` (the element's `data-kind`).
    kind: &'static str,
    message: String,
}

impl ViewerError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// WebGPU is missing, or offers no usable adapter; `detail` is the technical reason.
    fn no_webgpu(detail: &str) -> Self {
        Self::new(
            "no-webgpu",
            format!(
                "WebGPU is not available here. The viewer draws splats with your device's GPU \
                 through WebGPU: please open Splatpod in a recent Chrome, Edge or Safari, or \
                 turn WebGPU on in your browser's settings. (Details: {detail})"
            ),
        )
    }

    fn from_gpu(e: &GpuError) -> Self {
        match e {
            GpuError::TooLarge(_) => Self::new(
                "too-large",
                format!("This scene is too large for this device's GPU: {e}"),
            ),
            _ => Self::new("gpu", format!("The GPU failed: {e}")),
        }
    }
}

/// Where the browser's GPU stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GpuState {
    Checking,
    Ready,
    Unavailable,
}

impl GpuState {
    fn as_str(self) -> &'static str {
        match self {
            GpuState::Checking => "checking",
            GpuState::Ready => "ready",
            GpuState::Unavailable => "unavailable",
        }
    }
}

/// The page's reactive state (all `Copy` handles).
#[derive(Clone, Copy)]
struct Ui {
    status: RwSignal<String>,
    error: RwSignal<Option<ViewerError>>,
    splats: RwSignal<Option<usize>>,
    frame_ms: RwSignal<Option<f64>>,
    frames: RwSignal<u64>,
    gpu: RwSignal<GpuState>,
    url: RwSignal<String>,
    /// True while a frame is wanted or in flight (the canvas's `data-state="rendering"`).
    rendering: RwSignal<bool>,
}

/// The canvas surface and everything needed to draw on it.
struct Gpu {
    ctx: GpuContext,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    blit: BlitKernel,
}

/// A pointer (mouse button, pen or finger) that is down on the canvas.
#[derive(Clone, Copy, Debug)]
struct ActivePointer {
    id: i32,
    x: f64,
    y: f64,
    /// A mouse drag that pans (right or middle button, or Shift held at the press).
    pan: bool,
}

/// A box to frame, `(lo, hi)`.
type Bounds = (Vec3, Vec3);

/// The viewer's non-reactive state, shared by event handlers, loaders and the frame loop.
pub struct Viewer {
    ui: Ui,
    canvas: RefCell<Option<web_sys::HtmlCanvasElement>>,
    gpu: RefCell<Option<Gpu>>,
    /// Taken out while a frame renders (the render awaits), put back afterwards.
    renderer: RefCell<Option<Renderer>>,
    /// A scene parsed before the GPU was ready, and the box to frame if not its own.
    pending: RefCell<Option<(GaussianScene, Option<Bounds>)>>,
    /// Bumped for every scene installed, so a frame started on an old scene drops its renderer.
    generation: Cell<u64>,
    /// Bumped for every load started, so only the latest load installs its scene.
    load_seq: Cell<u64>,
    orbit: Cell<OrbitCamera>,
    /// The box that "Reset view" frames.
    home: Cell<Option<(Vec3, Vec3)>>,
    /// Where the view starts (and "Reset view" returns): a capture camera, if known.
    start: Cell<Option<StartView>>,
    pointers: RefCell<Vec<ActivePointer>>,
    keys: RefCell<HashSet<String>>,
    dirty: Cell<bool>,
    busy: Cell<bool>,
    /// Last value given to `ui.rendering`, to set the signal only on changes.
    rendering: Cell<bool>,
    last_tick: Cell<Option<f64>>,
}

/// `1234567` → `"1,234,567"`.
fn group_digits(n: usize) -> String {
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
fn name_from_url(url: &str) -> String {
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
fn short_url(url: &str) -> String {
    match url.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &url[..cut]),
        None => url.to_owned(),
    }
}

/// The box the initial view frames: the 5th–95th percentile box of (a sample of) the centres.
fn framing_box(scene: &GaussianScene) -> (Vec3, Vec3) {
    let stride = scene.positions.len().div_ceil(FRAMING_SAMPLES).max(1);
    let sample: Vec<[f32; 3]> = scene.positions.iter().step_by(stride).copied().collect();
    percentile_box(&sample, 0.05)
}

impl Viewer {
    fn new(ui: Ui) -> Rc<Self> {
        Rc::new(Self {
            ui,
            canvas: RefCell::new(None),
            gpu: RefCell::new(None),
            renderer: RefCell::new(None),
            pending: RefCell::new(None),
            generation: Cell::new(0),
            load_seq: Cell::new(0),
            orbit: Cell::new(OrbitCamera::default()),
            home: Cell::new(None),
            start: Cell::new(None),
            pointers: RefCell::new(Vec::new()),
            keys: RefCell::new(HashSet::new()),
            dirty: Cell::new(false),
            busy: Cell::new(false),
            rendering: Cell::new(false),
            last_tick: Cell::new(None),
        })
    }

    fn set_error(&self, e: ViewerError) {
        self.ui.error.set(Some(e));
    }

    /// The canvas's size in CSS pixels (at least 1×1).
    fn css_size(&self) -> (f64, f64) {
        self.canvas
            .borrow()
            .as_ref()
            .map(|c| {
                (
                    c.client_width().max(1) as f64,
                    c.client_height().max(1) as f64,
                )
            })
            .unwrap_or((1.0, 1.0))
    }

    /// The drawing-buffer size for the canvas's current layout: CSS size × device pixel ratio,
    /// scaled down to at most [`MAX_PIXELS`] and the device's largest texture.
    fn wanted_size(&self, max_dim: u32) -> (u32, u32) {
        let (w, h) = self.css_size();
        let dpr = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(1.0)
            .min(2.0);
        let (mut w, mut h) = (w * dpr, h * dpr);
        let scale = (MAX_PIXELS / (w * h)).sqrt().min(1.0);
        w *= scale;
        h *= scale;
        let max_dim = max_dim.max(1) as f64;
        let fit = (max_dim / w).min(max_dim / h).min(1.0);
        (
            ((w * fit).round() as u32).max(1),
            ((h * fit).round() as u32).max(1),
        )
    }

    fn aspect(&self) -> f32 {
        let (w, h) = self.css_size();
        (w / h) as f32
    }

    /// Reconfigures the surface when the canvas's layout size changed; returns the target size.
    fn sync_surface_size(&self) -> Option<(u32, u32)> {
        let mut gpu = self.gpu.borrow_mut();
        let gpu = gpu.as_mut()?;
        let wanted = self.wanted_size(gpu.ctx.device.limits().max_texture_dimension_2d);
        if (gpu.config.width, gpu.config.height) != wanted {
            gpu.config.width = wanted.0;
            gpu.config.height = wanted.1;
            gpu.surface.configure(&gpu.ctx.device, &gpu.config);
        }
        Some(wanted)
    }

    fn size_changed(&self) -> bool {
        let gpu = self.gpu.borrow();
        let Some(gpu) = gpu.as_ref() else {
            return false;
        };
        let wanted = self.wanted_size(gpu.ctx.device.limits().max_texture_dimension_2d);
        (gpu.config.width, gpu.config.height) != wanted
    }

    fn update_orbit(&self, f: impl FnOnce(&mut OrbitCamera)) {
        let mut orbit = self.orbit.get();
        f(&mut orbit);
        self.orbit.set(orbit);
        self.dirty.set(true);
    }

    fn reset_view(&self) {
        if let Some(home) = self.home.get() {
            self.orbit.set(self.home_orbit(home));
            self.dirty.set(true);
        }
    }

    /// The view of `home`: the start view from the capture cameras if there is one, else
    /// framing the box.
    fn home_orbit(&self, (lo, hi): Bounds) -> OrbitCamera {
        let radius = 0.5 * (hi - lo).length();
        self.start
            .get()
            .and_then(|v| {
                let (eye, target) = (Vec3::from(v.eye), Vec3::from(v.target));
                OrbitCamera::looking(eye, target, Vec3::from(v.up), radius)
            })
            .unwrap_or_else(|| OrbitCamera::framing(lo, hi, self.aspect()))
    }

    /// Uploads `scene` and makes it the one shown, or explains why it cannot be. `reframe`
    /// frames the new scene; a download in progress keeps the view the person has chosen.
    fn install(&self, scene: GaussianScene, reframe: bool) {
        let frame = framing_box(&scene);
        self.install_framed(scene, frame, reframe);
    }

    /// [`Viewer::install`] with the box to frame given (`lo`, `hi`) rather than taken from the
    /// scene.
    fn install_framed(&self, scene: GaussianScene, (lo, hi): (Vec3, Vec3), reframe: bool) {
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
                self.ui.status.set(String::new());
                self.set_error(ViewerError::from_gpu(&e));
            }
        }
    }

    /// Parses `bytes` (named `name`) and shows the scene.
    async fn load_bytes(self: &Rc<Self>, seq: u64, bytes: Vec<u8>, name: String) {
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
                self.ui.status.set(String::new());
                self.set_error(ViewerError::new(
                    "format",
                    format!("{name} could not be read as a splat scene: {e}"),
                ));
                return;
            }
        };
        self.show_parsed(seq, scene, name).await;
    }

    /// Shows a parsed scene once the GPU is ready (or explains why it cannot be shown).
    async fn show_parsed(self: &Rc<Self>, seq: u64, scene: GaussianScene, name: String) {
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

    /// Starts a new load: clears the error and bumps the sequence number; returns it.
    fn begin_load(&self) -> u64 {
        let seq = self.load_seq.get() + 1;
        self.load_seq.set(seq);
        self.ui.error.set(None);
        seq
    }

    async fn load_file(self: Rc<Self>, file: web_sys::File) {
        let seq = self.begin_load();
        let name = file.name();
        self.ui.status.set(format!("Opening {name}…"));
        let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
            Err(e) => {
                self.ui.status.set(String::new());
                self.set_error(ViewerError::new(
                    "format",
                    format!("{name} could not be read: {e:?}"),
                ));
                return;
            }
        };
        self.load_bytes(seq, bytes, name).await;
    }

    async fn load_url(self: Rc<Self>, url: String) {
        let url = url.trim().to_owned();
        if url.is_empty() {
            return;
        }
        let seq = self.begin_load();
        let shown = short_url(&url);
        self.ui.status.set(format!("Downloading {shown}…"));
        let fail = |msg: String| {
            self.ui.status.set(String::new());
            self.set_error(ViewerError::new(
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
                self.ui.status.set(String::new());
                return self.set_error(ViewerError::new(
                    "format",
                    format!("{name} could not be read as a splat scene: {e}"),
                ));
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
                self.ui.status.set(String::new());
                self.set_error(ViewerError::new(
                    "format",
                    format!("{name} could not be read as a splat scene: {e}"),
                ));
            }
        }
    }

    /// Opens the GPU and the canvas surface; installs a scene that was parsed meanwhile.
    async fn open_gpu(self: Rc<Self>, canvas: web_sys::HtmlCanvasElement) {
        *self.canvas.borrow_mut() = Some(canvas.clone());
        if !webgpu_exposed() {
            self.fail_gpu(ViewerError::no_webgpu("navigator.gpu is not defined"));
            return;
        }
        let ctx = match GpuContext::new_for_large_scenes().await {
            Ok(ctx) => ctx,
            Err(e) => {
                self.fail_gpu(ViewerError::no_webgpu(&e.to_string()));
                return;
            }
        };
        let surface = match ctx
            .instance
            .create_surface(wgpu::SurfaceTarget::Canvas(canvas))
        {
            Ok(s) => s,
            Err(e) => {
                self.fail_gpu(ViewerError::new(
                    "gpu",
                    format!("The canvas could not be used for WebGPU: {e}"),
                ));
                return;
            }
        };
        let caps = surface.get_capabilities(&ctx.adapter);
        let Some(format) = BlitKernel::preferred_format(&caps.formats) else {
            self.fail_gpu(ViewerError::new(
                "gpu",
                "The canvas offers no texture format this GPU can draw to.",
            ));
            return;
        };
        let alpha_mode = if caps.alpha_modes.contains(&wgpu::CompositeAlphaMode::Opaque) {
            wgpu::CompositeAlphaMode::Opaque
        } else {
            wgpu::CompositeAlphaMode::Auto
        };
        let (width, height) = self.wanted_size(ctx.device.limits().max_texture_dimension_2d);
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width,
            height,
            desired_maximum_frame_latency: 2,
            present_mode: wgpu::PresentMode::Fifo,
            alpha_mode,
            view_formats: vec![],
        };
        surface.configure(&ctx.device, &config);
        // Errors the engine does not catch itself (out of GPU memory while allocating frame
        // buffers, a lost device) end up on the page instead of in a panic.
        let error = self.ui.error;
        ctx.device
            .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let kind = match e {
                    wgpu::Error::OutOfMemory { .. } => "too-large",
                    _ => "gpu",
                };
                // Keep the first: later errors are usually its consequences.
                error.try_update(|current| {
                    if current.is_none() {
                        *current = Some(ViewerError::new(
                            kind,
                            format!("The GPU reported an error: {e}"),
                        ));
                    }
                });
            }));
        ctx.device.set_device_lost_callback(move |reason, message| {
            error.try_set(Some(ViewerError::new(
                "gpu",
                format!(
                    "The GPU device was lost ({reason:?}: {message}). Reload the page to \
                         try again."
                ),
            )));
        });
        let blit = BlitKernel::new(&ctx, format);
        *self.gpu.borrow_mut() = Some(Gpu {
            ctx,
            surface,
            config,
            blit,
        });
        self.ui.gpu.set(GpuState::Ready);
        let pending = self.pending.borrow_mut().take();
        if let Some((scene, frame)) = pending {
            self.ui.status.set("Uploading the scene to the GPU…".into());
            next_frame().await;
            let frame = frame.unwrap_or_else(|| framing_box(&scene));
            self.install_framed(scene, frame, true);
        }
    }

    fn fail_gpu(&self, e: ViewerError) {
        self.ui.gpu.set(GpuState::Unavailable);
        self.set_error(e);
        if let Some((scene, _)) = self.pending.borrow_mut().take() {
            self.ui.splats.set(Some(scene.len()));
            self.ui.status.set(String::new());
        }
    }

    /// Renders the current view and presents it; one at a time (`busy`).
    async fn frame(self: Rc<Self>) {
        let generation = self.generation.get();
        let Some(mut renderer) = self.renderer.borrow_mut().take() else {
            self.busy.set(false);
            return;
        };
        let Some((width, height)) = self.sync_surface_size() else {
            *self.renderer.borrow_mut() = Some(renderer);
            self.busy.set(false);
            return;
        };
        let camera = self.orbit.get().camera(width, height);
        let start = now_ms();
        let rendered = renderer.render(&camera, BACKGROUND).await;
        let outcome = match rendered {
            Ok(_) => self.present(&renderer).await,
            Err(e) => Err(ViewerError::from_gpu(&e)),
        };
        match outcome {
            Ok(true) => {
                self.ui.frame_ms.set(Some(now_ms() - start));
                self.ui.frames.update(|n| *n += 1);
            }
            Ok(false) => self.dirty.set(true),
            Err(e) => self.set_error(e),
        }
        if self.generation.get() == generation {
            *self.renderer.borrow_mut() = Some(renderer);
        }
        self.busy.set(false);
    }

    /// Blits the renderer's last frame onto the canvas and waits for the GPU to finish it.
    /// `Ok(false)`: no canvas texture this time (try again on the next tick).
    async fn present(&self, renderer: &Renderer) -> Result<bool, ViewerError> {
        let done = {
            let gpu = self.gpu.borrow();
            let Some(gpu) = gpu.as_ref() else {
                return Ok(false);
            };
            let Some((colors, iw, ih)) = renderer.color_buffer() else {
                return Ok(false);
            };
            let texture = match gpu.surface.get_current_texture() {
                wgpu::CurrentSurfaceTexture::Success(t)
                | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
                wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                    gpu.surface.configure(&gpu.ctx.device, &gpu.config);
                    return Ok(false);
                }
                wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                    return Ok(false)
                }
                wgpu::CurrentSurfaceTexture::Validation => {
                    return Err(ViewerError::new(
                        "gpu",
                        "The canvas texture could not be acquired (validation error).",
                    ))
                }
            };
            let target_size = (texture.texture.width(), texture.texture.height());
            let view = texture.texture.create_view(&Default::default());
            let mut encoder = gpu.ctx.device.create_command_encoder(&Default::default());
            gpu.blit
                .encode(&gpu.ctx, &mut encoder, colors, (iw, ih), &view, target_size);
            gpu.ctx.queue.submit([encoder.finish()]);
            gpu.ctx.queue.present(texture);
            let (tx, rx) = futures_channel::oneshot::channel::<()>();
            gpu.ctx.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx
        };
        let _ = done.await;
        Ok(true)
    }

    /// One animation frame: applies held fly keys, notices resizes, starts a frame when dirty.
    fn tick(self: &Rc<Self>) {
        let now = now_ms();
        let dt = self
            .last_tick
            .replace(Some(now))
            .map(|t| ((now - t) / 1000.0).clamp(0.0, 0.1) as f32)
            .unwrap_or(0.0);
        let (mut forward, mut right, mut up) = (0.0f32, 0.0f32, 0.0f32);
        for key in self.keys.borrow().iter() {
            match key.as_str() {
                "KeyW" | "ArrowUp" => forward += 1.0,
                "KeyS" | "ArrowDown" => forward -= 1.0,
                "KeyD" | "ArrowRight" => right += 1.0,
                "KeyA" | "ArrowLeft" => right -= 1.0,
                "KeyE" => up += 1.0,
                "KeyQ" => up -= 1.0,
                _ => {}
            }
        }
        if (forward, right, up) != (0.0, 0.0, 0.0) && dt > 0.0 {
            let step = FLY_SPEED * dt;
            self.update_orbit(|o| o.fly(forward * step, right * step, up * step));
        }
        if self.size_changed() {
            self.dirty.set(true);
        }
        let has_scene = self.renderer.borrow().is_some();
        if self.dirty.get() && !self.busy.get() && has_scene {
            self.dirty.set(false);
            self.busy.set(true);
            spawn_local(Rc::clone(self).frame());
        }
        let rendering = self.busy.get() || (self.dirty.get() && has_scene);
        if self.rendering.get() != rendering {
            self.rendering.set(rendering);
            self.ui.rendering.set(rendering);
        }
    }

    fn pointer_down(&self, ev: &web_sys::PointerEvent) {
        ev.prevent_default();
        if let Some(canvas) = self.canvas.borrow().as_ref() {
            let _ = canvas.set_pointer_capture(ev.pointer_id());
            let _ = canvas.focus();
        }
        let mouse = ev.pointer_type() == "mouse";
        let pan = mouse && (ev.button() == 1 || ev.button() == 2 || ev.shift_key());
        let mut pointers = self.pointers.borrow_mut();
        pointers.retain(|p| p.id != ev.pointer_id());
        pointers.push(ActivePointer {
            id: ev.pointer_id(),
            x: ev.client_x() as f64,
            y: ev.client_y() as f64,
            pan,
        });
    }

    fn pointer_move(&self, ev: &web_sys::PointerEvent) {
        let (x, y) = (ev.client_x() as f64, ev.client_y() as f64);
        let height = self.css_size().1 as f32;
        let mut pointers = self.pointers.borrow_mut();
        let Some(index) = pointers.iter().position(|p| p.id == ev.pointer_id()) else {
            return;
        };
        ev.prevent_default();
        let old = pointers[index];
        if pointers.len() == 1 {
            let (dx, dy) = ((x - old.x) as f32, (y - old.y) as f32);
            if old.pan || ev.shift_key() {
                self.update_orbit(|o| o.pan(dx, dy, height));
            } else {
                self.update_orbit(|o| o.orbit(dx, dy, height));
            }
        } else if index < 2 {
            // Pinch: the first two pointers. Zoom by the change of their distance, pan by the
            // motion of their midpoint.
            let other = pointers[1 - index];
            let span = |ax: f64, ay: f64| ((ax - other.x).hypot(ay - other.y)) as f32;
            let (before, after) = (span(old.x, old.y), span(x, y));
            let mid_dx = (0.5 * (x - old.x)) as f32;
            let mid_dy = (0.5 * (y - old.y)) as f32;
            self.update_orbit(|o| {
                if before > 1.0 && after > 1.0 {
                    o.zoom(before / after);
                }
                o.pan(mid_dx, mid_dy, height);
            });
        }
        pointers[index].x = x;
        pointers[index].y = y;
    }

    fn pointer_up(&self, ev: &web_sys::PointerEvent) {
        self.pointers
            .borrow_mut()
            .retain(|p| p.id != ev.pointer_id());
    }

    fn wheel(&self, ev: &web_sys::WheelEvent) {
        ev.prevent_default();
        let lines = match ev.delta_mode() {
            web_sys::WheelEvent::DOM_DELTA_LINE => 16.0,
            web_sys::WheelEvent::DOM_DELTA_PAGE => self.css_size().1,
            _ => 1.0,
        };
        let delta = (ev.delta_y() * lines).clamp(-500.0, 500.0) as f32;
        self.update_orbit(|o| o.zoom((delta * 0.0015).exp()));
    }

    fn key(&self, ev: &web_sys::KeyboardEvent, down: bool) {
        let code = ev.code();
        let handled = matches!(
            code.as_str(),
            "KeyW"
                | "KeyA"
                | "KeyS"
                | "KeyD"
                | "KeyQ"
                | "KeyE"
                | "ArrowUp"
                | "ArrowDown"
                | "ArrowLeft"
                | "ArrowRight"
        );
        if !handled || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        ev.prevent_default();
        let mut keys = self.keys.borrow_mut();
        if down {
            keys.insert(code);
        } else {
            keys.remove(&code);
        }
    }
}

/// Keeps calling [`Viewer::tick`] once per animation frame until `alive` turns false.
fn run_loop(viewer: Rc<Viewer>, alive: Arc<AtomicBool>) {
    if !alive.load(Ordering::Relaxed) {
        return;
    }
    viewer.tick();
    request_animation_frame(move || run_loop(viewer, alive));
}

/// The `/view` page; with `?job=ID` it follows that server job and shows its previews.
#[component]
pub fn ViewerPage() -> impl IntoView {
    match use_query_map().with_untracked(|q| q.get("job")) {
        Some(job) => {
            let feed = SceneFeed::default();
            view! {
                {super::job_watch::job_panel(job, feed.clone())}
                {viewer_view(SceneSource::Feed(feed))}
            }
            .into_any()
        }
        None => viewer_view(SceneSource::Picker).into_any(),
    }
}

/// What a viewer shows.
pub enum SceneSource {
    /// Whatever the person opens (file picker, URL field or `?url=`).
    Picker,
    /// One scene at a fixed URL (a share link), read-only: no file or URL controls; seen first
    /// from the start view, if given.
    Fixed(String, Option<StartView>),
    /// Scenes pushed by the page through the [`SceneFeed`] (training in the browser), no file
    /// or URL controls.
    Feed(SceneFeed),
}

/// A page's handle to push scenes into a viewer it embeds.
#[derive(Clone, Default)]
pub struct SceneFeed(Rc<RefCell<Option<Rc<Viewer>>>>);

impl SceneFeed {
    /// Shows `scene` seen first from `start` (a capture camera), else framed; false when the
    /// viewer is gone.
    pub fn show_from(&self, scene: GaussianScene, start: Option<StartView>) -> bool {
        let Some(viewer) = self.0.borrow().clone() else {
            return false;
        };
        if viewer.ui.gpu.try_get_untracked().is_none() {
            return false;
        }
        viewer.ui.error.set(None);
        viewer.start.set(start);
        viewer.install(scene, true);
        true
    }

    /// Shows `scene` (uploading it to the viewer's GPU; kept until the GPU is ready). With
    /// `frame`, the camera frames that box (`lo`, `hi`); without, the person's view is kept.
    /// False when the viewer is gone.
    pub fn show(&self, scene: GaussianScene, frame: Option<(Vec3, Vec3)>) -> bool {
        let Some(viewer) = self.0.borrow().clone() else {
            return false;
        };
        if viewer.ui.gpu.try_get_untracked().is_none() {
            return false;
        }
        viewer.ui.error.set(None);
        match frame {
            Some(b) => viewer.install_framed(scene, b, true),
            None => viewer.install(scene, false),
        }
        true
    }
}

/// The viewer, showing `source`.
pub fn viewer_view(source: SceneSource) -> impl IntoView {
    let controls = matches!(source, SceneSource::Picker);
    let idle_status = match &source {
        SceneSource::Feed(_) => "The scene appears here as it trains.",
        _ => "Open a .ply, .spz or .splat file, or load one from a URL.",
    };
    let ui = Ui {
        status: RwSignal::new(idle_status.into()),
        error: RwSignal::new(None),
        splats: RwSignal::new(None),
        frame_ms: RwSignal::new(None),
        frames: RwSignal::new(0),
        gpu: RwSignal::new(GpuState::Checking),
        url: RwSignal::new(String::new()),
        rendering: RwSignal::new(false),
    };
    let viewer = Viewer::new(ui);
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();

    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = Arc::clone(&alive);
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    {
        let viewer = Rc::clone(&viewer);
        canvas_ref.on_load(move |canvas| {
            spawn_local(Rc::clone(&viewer).open_gpu(canvas));
            run_loop(viewer, alive);
        });
    }
    // `?url=...` opens a scene directly (also when only the query changes, e.g. a link from
    // one scene to another).
    let query = use_query_map();
    match source {
        SceneSource::Fixed(url, start) => {
            viewer.start.set(start);
            spawn_local(Rc::clone(&viewer).load_url(url));
        }
        // The feed lets go of the viewer when the page's signals are gone (see `show`).
        SceneSource::Feed(feed) => *feed.0.borrow_mut() = Some(Rc::clone(&viewer)),
        SceneSource::Picker => {
            let viewer = Rc::clone(&viewer);
            Effect::new(move |_| {
                if let Some(url) = query.with(|q| q.get("url")) {
                    ui.url.set(url.clone());
                    spawn_local(Rc::clone(&viewer).load_url(url));
                }
            });
        }
    }

    let on_file = {
        let viewer = Rc::clone(&viewer);
        move |ev: web_sys::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                spawn_local(Rc::clone(&viewer).load_file(file));
            }
        }
    };
    let on_url = {
        let viewer = Rc::clone(&viewer);
        move |ev: web_sys::SubmitEvent| {
            ev.prevent_default();
            spawn_local(Rc::clone(&viewer).load_url(ui.url.get_untracked()));
        }
    };
    let v = Rc::clone(&viewer);
    let on_reset = move |_| v.reset_view();
    let v = Rc::clone(&viewer);
    let on_down = move |ev: web_sys::PointerEvent| v.pointer_down(&ev);
    let v = Rc::clone(&viewer);
    let on_move = move |ev: web_sys::PointerEvent| v.pointer_move(&ev);
    let v = Rc::clone(&viewer);
    let on_up = move |ev: web_sys::PointerEvent| v.pointer_up(&ev);
    let v = Rc::clone(&viewer);
    let on_cancel = move |ev: web_sys::PointerEvent| v.pointer_up(&ev);
    let v = Rc::clone(&viewer);
    let on_lost = move |ev: web_sys::PointerEvent| v.pointer_up(&ev);
    let v = Rc::clone(&viewer);
    let on_wheel = move |ev: web_sys::WheelEvent| v.wheel(&ev);
    let v = Rc::clone(&viewer);
    let on_key_down = move |ev: web_sys::KeyboardEvent| v.key(&ev, true);
    let v = Rc::clone(&viewer);
    let on_key_up = move |ev: web_sys::KeyboardEvent| v.key(&ev, false);
    let v = Rc::clone(&viewer);
    let on_blur = move |_| v.keys.borrow_mut().clear();

    view! {
        <section class="viewer" id="viewer" data-gpu=move || ui.gpu.get().as_str()>
            <div class="viewer-bar">
                <label class="file-pick" hidden=!controls>
                    "Open file "
                    <input type="file" id="scene-file" accept=".ply,.spz,.splat" on:change=on_file />
                </label>
                <form class="url-load" on:submit=on_url hidden=!controls>
                    <input
                        type="text"
                        inputmode="url"
                        id="scene-url"
                        placeholder="URL of a .ply, .spz or .splat file"
                        aria-label="Scene URL"
                        prop:value=move || ui.url.get()
                        on:input=move |ev| ui.url.set(event_target_value(&ev))
                    />
                    <button type="submit" id="scene-load">"Load"</button>
                </form>
                <button type="button" id="reset-view" on:click=on_reset>"Reset view"</button>
            </div>
            <p id="viewer-status" class="muted">{move || ui.status.get()}</p>
            {move || ui.error.get().map(|e| view! {
                <div class="warn viewer-error" id="viewer-error" role="alert" data-kind=e.kind>
                    {e.message}
                </div>
            })}
            <canvas
                id="viewer-canvas"
                node_ref=canvas_ref
                tabindex="0"
                data-state=move || if ui.rendering.get() { "rendering" } else { "idle" }
                aria-label="3D view: drag to orbit, right-drag or Shift-drag to pan, wheel or pinch to zoom, W A S D Q E to fly"
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_cancel
                on:lostpointercapture=on_lost
                on:wheel=on_wheel
                on:keydown=on_key_down
                on:keyup=on_key_up
                on:blur=on_blur
                on:contextmenu=|ev: web_sys::MouseEvent| ev.prevent_default()
            ></canvas>
            <div class="viewer-readout">
                <span id="splat-count">
                    {move || ui.splats.get().map(|n| format!("{} splats", group_digits(n)))}
                </span>
                <span id="frame-time" data-frames=move || ui.frames.get().to_string()>
                    {move || match ui.frame_ms.get() {
                        Some(ms) => format!("{ms:.1} ms"),
                        None => "– ms".to_owned(),
                    }}
                </span>
            </div>
            <p class="muted viewer-help">
                "Drag to orbit · right-drag or Shift-drag to pan · wheel or pinch to zoom · "
                "W A S D to fly, Q E down and up (click the view first)."
            </p>
        </section>
    }
}
