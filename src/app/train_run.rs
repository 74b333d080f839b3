//! One bounded training run in this browser, shared by the `/train` page (a posed set the person
//! picks) and the capture page's "Train on this device" (a capture posed here): the GPU opened
//! with plain words when it is missing, the engine's [`Trainer`] stepped until the iterations,
//! the time limit or Stop, the readout (iteration, splats, loss, speed, held-out quality) and
//! the scene pushed to the viewer as it trains.

use std::sync::atomic::{AtomicBool, Ordering};

use glam::Vec3;
use leptos::prelude::*;
use splatpod::formats::GaussianScene;
use splatpod::gpu::{GpuContext, GpuError};
use splatpod::render::percentile_box;
use splatpod::train::dataset::TrainDataset;
use splatpod::train::trainer::{TrainConfig, TrainError, Trainer};

use super::browser_helpers::{next_frame, now_ms, webgpu_exposed};
use super::problem::Problem;
use super::viewer::SceneFeed;

/// How often the page shows the loss and pushes the scene to the viewer, milliseconds.
const READOUT_MS: f64 = 400.0;
const PREVIEW_MS: f64 = 2500.0;

/// The bounds of one run, as the person chose them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub iterations: u32,
    /// Longest photo side after downscaling, pixels.
    pub max_side: u32,
    /// Splat budget: densification stops adding beyond it.
    pub max_splats: u32,
    /// Wall-time limit, minutes.
    pub minutes: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            iterations: 2000,
            max_side: 320,
            max_splats: 150_000,
            minutes: 10.0,
        }
    }
}

/// What the page shows of a run while it trains.
#[derive(Clone, Copy)]
pub struct Readout {
    pub status: RwSignal<String>,
    pub step: RwSignal<u32>,
    pub total: RwSignal<u32>,
    pub splats: RwSignal<u32>,
    pub loss: RwSignal<Option<f32>>,
    pub rate: RwSignal<Option<f64>>,
    /// Held-out (PSNR, SSIM) before training and after.
    pub before: RwSignal<Option<(f32, f32)>>,
    pub after: RwSignal<Option<(f32, f32)>>,
}

impl Readout {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(String::new()),
            step: RwSignal::new(0),
            total: RwSignal::new(0),
            splats: RwSignal::new(0),
            loss: RwSignal::new(None),
            rate: RwSignal::new(None),
            before: RwSignal::new(None),
            after: RwSignal::new(None),
        }
    }

    /// Clears the last run's numbers before a new one.
    pub fn reset(&self) {
        self.before.set(None);
        self.after.set(None);
        self.loss.set(None);
        self.rate.set(None);
        self.step.set(0);
        self.total.set(0);
    }
}

/// A training failure in plain words.
pub fn train_problem(e: &TrainError) -> Problem {
    let plain = match e {
        TrainError::Gpu(GpuError::TooLarge(_)) => {
            "This scene is too large for this device's GPU. Lower the photo size or the splat \
             budget and try again."
        }
        TrainError::Gpu(_) => {
            "The GPU stopped while training. Reload the page and try again, with a smaller photo \
             size if it happens again."
        }
        TrainError::NoData(_) => {
            "There are too few photos to train on: at least two posed photos are needed."
        }
        TrainError::Checkpoint(_) => "Training could not go on.",
    };
    Problem::new(plain, e.to_string())
}

/// Opens this browser's GPU for training, or says why it cannot.
pub async fn open_gpu() -> Result<GpuContext, Problem> {
    if !webgpu_exposed() {
        return Err(Problem::new(
            "This browser has no WebGPU, which training here needs. Open Splatpod in a recent \
             Chrome, Edge or Safari, or train on the server.",
            "navigator.gpu is not defined",
        ));
    }
    GpuContext::new().await.map_err(|e| {
        Problem::new(
            "This browser offers no usable GPU for training. Train on the server instead.",
            e.to_string(),
        )
    })
}

/// A `Blob` URL holding `bytes`.
pub fn object_url(bytes: &[u8]) -> Option<String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// The box the viewer first frames: the camera centres (the object sits among them).
fn camera_box(data: &TrainDataset) -> (Vec3, Vec3) {
    let centres: Vec<[f32; 3]> = data
        .views_by_name()
        .iter()
        .map(|v| v.camera.position().to_array())
        .collect();
    percentile_box(&centres, 0.0)
}

/// A finished run.
pub struct Trained {
    pub scene: GaussianScene,
    /// What the readout's status says of it.
    pub summary: String,
}

/// Trains `data` within `settings` until done, out of time or `stop`; the readout and the
/// viewer follow along.
pub async fn train_dataset(
    ctx: &GpuContext,
    data: &TrainDataset,
    settings: Settings,
    stop: &AtomicBool,
    ui: Readout,
    feed: &SceneFeed,
) -> Result<Trained, Problem> {
    if data.train.is_empty() {
        return Err(train_problem(&TrainError::NoData(
            "every view is held out".into(),
        )));
    }
    let mut config = TrainConfig {
        iterations: settings.iterations,
        ..TrainConfig::default()
    };
    config.densify.max_splats = Some(settings.max_splats);
    let init = data.init_splats(config.seed);
    let fail = |e: TrainError| train_problem(&e);
    let mut trainer = Trainer::new(ctx, data, &init, config).map_err(fail)?;
    drop(init);
    let frame = camera_box(data);
    if !data.test.is_empty() {
        ui.status.set("Scoring the starting point…".into());
        let e = trainer.evaluate(&data.test).await.map_err(fail)?;
        ui.before.set(Some((e.psnr, e.ssim)));
    }
    feed.show(trainer.scene().await.map_err(fail)?, Some(frame));

    ui.total.set(settings.iterations);
    ui.status.set(format!(
        "Training on {} photos of {}×{} pixels…",
        data.train.len(),
        data.train[0].camera.width,
        data.train[0].camera.height
    ));
    let start = now_ms();
    let deadline = start + settings.minutes * 60_000.0;
    let (mut last_readout, mut last_preview) = (start, start);
    let mut stopped_by = None;
    while trainer.step_count() < settings.iterations {
        if stop.load(Ordering::Relaxed) {
            stopped_by = Some("you stopped it");
            break;
        }
        if now_ms() > deadline {
            stopped_by = Some("the time limit was reached");
            break;
        }
        let report = trainer.step().await.map_err(fail)?;
        let now = now_ms();
        if now - last_readout > READOUT_MS {
            last_readout = now;
            let loss = trainer.read_loss().await.map_err(fail)?;
            ui.step.set(report.step);
            ui.splats.set(report.splats);
            ui.loss.set(loss.map(|l| l.total));
            ui.rate.set(Some(
                f64::from(report.step) / ((now_ms() - start) / 1000.0).max(1e-3),
            ));
            next_frame().await;
        }
        if now - last_preview > PREVIEW_MS {
            last_preview = now;
            feed.show(trainer.scene().await.map_err(fail)?, None);
        }
    }
    let steps = trainer.step_count();
    ui.step.set(steps);
    ui.splats.set(trainer.splats());
    ui.rate.set(Some(
        f64::from(steps) / ((now_ms() - start) / 1000.0).max(1e-3),
    ));
    if !data.test.is_empty() {
        ui.status.set("Scoring the held-out photos…".into());
        let e = trainer.evaluate(&data.test).await.map_err(fail)?;
        ui.after.set(Some((e.psnr, e.ssim)));
    }
    let scene = trainer.scene().await.map_err(fail)?;
    feed.show(scene.clone(), None);
    let summary = match stopped_by {
        Some(why) => format!("Stopped after {steps} iterations: {why}."),
        None => format!("Trained {steps} iterations."),
    };
    Ok(Trained { scene, summary })
}

/// A number input bound to a settings field.
fn number_field(
    id: String,
    label: &'static str,
    min: &'static str,
    max: &'static str,
    value: impl Fn() -> String + Send + 'static,
    set: impl Fn(f64) + 'static,
) -> impl IntoView {
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span>{label}</span>
            <input
                type="number"
                id=id
                inputmode="numeric"
                min=min
                max=max
                prop:value=value
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                        set(v);
                    }
                }
            />
        </label>
    }
}

/// The four bounds as number inputs, ids `{prefix}-iterations`, `{prefix}-max-side`, ….
pub fn settings_fields(prefix: &'static str, settings: RwSignal<Settings>) -> impl IntoView {
    view! {
        <div class="train-settings">
            {number_field(format!("{prefix}-iterations"), "Iterations", "1", "30000",
                move || settings.get().iterations.to_string(),
                move |v| settings.update(|s| s.iterations = v.clamp(1.0, 30_000.0) as u32))}
            {number_field(format!("{prefix}-max-side"), "Photo size (px)", "32", "1600",
                move || settings.get().max_side.to_string(),
                move |v| settings.update(|s| s.max_side = v.clamp(32.0, 1600.0) as u32))}
            {number_field(format!("{prefix}-max-splats"), "Splat budget", "1000", "1000000",
                move || settings.get().max_splats.to_string(),
                move |v| settings.update(|s| s.max_splats = v.clamp(1000.0, 1e6) as u32))}
            {number_field(format!("{prefix}-minutes"), "Time limit (min)", "1", "120",
                move || settings.get().minutes.to_string(),
                move |v| settings.update(|s| s.minutes = v.clamp(0.1, 120.0)))}
        </div>
    }
}

/// A run's Start and Stop buttons, ids `{prefix}-start` and `{prefix}-stop`.
pub fn start_stop(
    prefix: &'static str,
    label: &'static str,
    on_start: impl FnMut(web_sys::MouseEvent) + 'static,
    on_stop: impl FnMut(web_sys::MouseEvent) + 'static,
    start_disabled: impl Fn() -> bool + Send + Sync + 'static,
    running: impl Fn() -> bool + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class="button-like primary"
            id=format!("{prefix}-start")
            on:click=on_start
            disabled=start_disabled
        >
            {label}
        </button>
        <button type="button" id=format!("{prefix}-stop") on:click=on_stop disabled=move || !running()>
            "Stop"
        </button>
    }
}

/// The progress bar and the readout list, ids `{prefix}-progress`, `{prefix}-step`, ….
pub fn readout_view(prefix: &'static str, ui: Readout) -> impl IntoView {
    let quality = |q: Option<(f32, f32)>| {
        q.map_or("–".to_string(), |(p, s)| {
            format!("{p:.2} dB · SSIM {s:.3}")
        })
    };
    view! {
        <progress
            id=format!("{prefix}-progress")
            aria-label="Training progress"
            max=move || ui.total.get().max(1).to_string()
            value=move || ui.step.get().to_string()
            hidden=move || ui.total.get() == 0
        ></progress>
        <dl class="train-readout">
            <dt>"Iteration"</dt>
            <dd id=format!("{prefix}-step") data-step=move || ui.step.get().to_string()>
                {move || format!("{} / {}", ui.step.get(), ui.total.get())}
            </dd>
            <dt>"Splats"</dt>
            <dd id=format!("{prefix}-splats")>{move || ui.splats.get().to_string()}</dd>
            <dt>"Loss"</dt>
            <dd id=format!("{prefix}-loss")>
                {move || ui.loss.get().map_or("–".into(), |l| format!("{l:.4}"))}
            </dd>
            <dt>"Speed"</dt>
            <dd id=format!("{prefix}-rate")>
                {move || ui.rate.get().map_or("–".into(), |r| format!("{r:.1} it/s"))}
            </dd>
            <dt>"Held-out before"</dt>
            <dd
                id=format!("{prefix}-before")
                data-psnr=move || ui.before.get().map(|q| q.0.to_string())
            >
                {move || quality(ui.before.get())}
            </dd>
            <dt>"Held-out after"</dt>
            <dd
                id=format!("{prefix}-after")
                data-psnr=move || ui.after.get().map(|q| q.0.to_string())
            >
                {move || quality(ui.after.get())}
            </dd>
        </dl>
    }
}
