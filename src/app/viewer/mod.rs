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
//!
//! Parts: `loading` (files, URLs, installing a scene), `surface` (canvas size, GPU, presenting),
//! `frame_loop` (the animation-frame loop), `input` (pointers, wheel, keys, camera), `page`
//! (the `/view` page and [`viewer_view`]).

mod frame_loop;
mod input;
mod loading;
mod page;
mod surface;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use glam::Vec3;
use leptos::prelude::*;
use splatpod::api::{StartView, UpAxis};
use splatpod::formats::GaussianScene;
use splatpod::gpu::{GpuContext, GpuError};
use splatpod::render::{BlitKernel, OrbitCamera, Renderer};

pub use page::{viewer_view, SceneFeed, SceneSource, ViewerPage};

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
    /// Where the view starts (and "Reset view" returns): the owner's saved view or a capture
    /// camera, if known.
    start: Cell<Option<StartView>>,
    /// World up the framing of a scene without a start view turns about.
    frame_up: Cell<Vec3>,
    pointers: RefCell<Vec<ActivePointer>>,
    keys: RefCell<HashSet<String>>,
    dirty: Cell<bool>,
    busy: Cell<bool>,
    /// Last value given to `ui.rendering`, to set the signal only on changes.
    rendering: Cell<bool>,
    last_tick: Cell<Option<f64>>,
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
            frame_up: Cell::new(Vec3::from(UpAxis::default().vector())),
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
}
