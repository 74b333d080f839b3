//! Training page (`/train`): trains a Gaussian-splat scene in this browser from a small posed
//! photo set the person picks — a folder (or its files) holding a `transforms.json` or a COLMAP
//! model with its photos — with the engine's training kernels on WebGPU, and shows the scene
//! live in an embedded viewer.
//!
//! Bounded so a tab never runs away with the device: the files read (count and bytes), the
//! photo size (longest side), the splat count (densification budget) and the wall time; the run
//! stops at whichever comes first, or when the person presses Stop. Every 8th view is held out
//! and scored (PSNR, SSIM) before and after, so the page shows what training achieved.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use glam::Vec3;
use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::formats::save_ply;
use splatpod::gpu::{GpuContext, GpuError};
use splatpod::render::percentile_box;
use splatpod::train::dataset::{DatasetError, LoadOptions, MemorySource, TrainDataset};
use splatpod::train::trainer::{TrainConfig, TrainError, Trainer};

use super::browser_helpers::{next_frame, now_ms, webgpu_exposed};
use super::viewer::{viewer_view, SceneFeed, SceneSource};

/// Most files read from a pick.
const MAX_FILES: usize = 1000;
/// Most bytes read from a pick (photos are decoded one at a time after that).
const MAX_BYTES: f64 = 768.0 * 1024.0 * 1024.0;
/// File types a posed set is made of; others in a picked folder are skipped unread.
const DATASET_EXTENSIONS: [&str; 7] = ["json", "txt", "bin", "jpg", "jpeg", "png", "webp"];
/// How often the page shows the loss and pushes the scene to the viewer, milliseconds.
const READOUT_MS: f64 = 400.0;
const PREVIEW_MS: f64 = 2500.0;

/// What the person chose.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    iterations: u32,
    /// Longest photo side after downscaling, pixels.
    max_side: u32,
    /// Splat budget: densification stops adding beyond it.
    max_splats: u32,
    /// Wall-time limit, minutes.
    minutes: f64,
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

/// The run's phase (`#train-panel[data-state]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Reading,
    Training,
    Done,
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Reading => "reading",
            Phase::Training => "training",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// A failure as the person reads it: what happened and what to do, with the technical detail
/// behind a toggle.
#[derive(Clone, Debug, PartialEq)]
struct Problem {
    plain: String,
    detail: String,
}

impl Problem {
    fn new(plain: impl Into<String>, detail: impl ToString) -> Self {
        Self {
            plain: plain.into(),
            detail: detail.to_string(),
        }
    }

    fn from_dataset(e: &DatasetError) -> Self {
        let plain = match e {
            DatasetError::NoDataset { .. } | DatasetError::NoImageFolder { .. } => {
                "No posed photo set was found in what you picked. Pick a folder holding a \
                 transforms.json and its photos, or a COLMAP model (cameras, images, points3D) \
                 and its images folder."
                    .to_string()
            }
            DatasetError::MissingImage { name, .. } => format!(
                "The poses name a photo that is not among the picked files ({name}). Pick the \
                 whole folder, photos included."
            ),
            DatasetError::Image { name, .. } => format!(
                "The photo {name} could not be read: it may be damaged or in a format this \
                 browser cannot decode. Remove it or replace it with a JPEG or PNG."
            ),
            DatasetError::ImageSize { name, .. } => format!(
                "The photo {name} does not have the size its camera says. The photos may have \
                 been resized or rotated after the poses were computed."
            ),
            DatasetError::NoViews => "The posed set has no photos.".to_string(),
            _ => "The picked files could not be read as a posed photo set.".to_string(),
        };
        Self::new(plain, e)
    }

    fn from_train(e: &TrainError) -> Self {
        let plain = match e {
            TrainError::Gpu(GpuError::TooLarge(_)) => {
                "This scene is too large for this device's GPU. Lower the photo size or the \
                 splat budget and try again."
            }
            TrainError::Gpu(_) => {
                "The GPU stopped while training. Reload the page and try again, with a smaller \
                 photo size if it happens again."
            }
            TrainError::NoData(_) => {
                "There are too few photos to train on: at least two posed photos are needed."
            }
            TrainError::Checkpoint(_) => "Training could not go on.",
        };
        Self::new(plain, e)
    }
}

/// The page's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    phase: RwSignal<Phase>,
    status: RwSignal<String>,
    problem: RwSignal<Option<Problem>>,
    step: RwSignal<u32>,
    total: RwSignal<u32>,
    splats: RwSignal<u32>,
    loss: RwSignal<Option<f32>>,
    rate: RwSignal<Option<f64>>,
    /// Held-out (PSNR, SSIM) before training and after.
    before: RwSignal<Option<(f32, f32)>>,
    after: RwSignal<Option<(f32, f32)>>,
    /// Object URL of the trained scene as PLY.
    download: RwSignal<Option<String>>,
}

/// The path a picked file goes by: its path inside a picked folder, else its name.
fn picked_path(file: &web_sys::File) -> String {
    let relative = js_sys::Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    if relative.is_empty() {
        file.name()
    } else {
        relative
    }
}

fn is_dataset_file(path: &str) -> bool {
    path.rsplit_once('.')
        .is_some_and(|(_, ext)| DATASET_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Reads the picked files of a posed set into memory, within [`MAX_FILES`] and [`MAX_BYTES`].
async fn read_files(files: Vec<web_sys::File>) -> Result<MemorySource, Problem> {
    let files: Vec<_> = files
        .into_iter()
        .filter(|f| is_dataset_file(&picked_path(f)))
        .collect();
    if files.is_empty() {
        return Err(Problem::new(
            "None of the picked files is part of a posed photo set (JSON, COLMAP .txt/.bin, \
             JPEG or PNG).",
            "no file with a dataset extension",
        ));
    }
    let bytes: f64 = files.iter().map(|f| f.size()).sum();
    if files.len() > MAX_FILES || bytes > MAX_BYTES {
        return Err(Problem::new(
            format!(
                "That is more than this page trains on in a browser ({} files, {:.0} MB; at \
                 most {MAX_FILES} files and {:.0} MB). Pick fewer photos, or train it on the \
                 server.",
                files.len(),
                bytes / 1e6,
                MAX_BYTES / 1e6
            ),
            format!("{} files, {bytes} bytes", files.len()),
        ));
    }
    let mut read = Vec::with_capacity(files.len());
    for file in files {
        let path = picked_path(&file);
        let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
            .await
            .map_err(|e| {
                Problem::new(
                    format!("The file {path} could not be read. Pick it again."),
                    format!("{e:?}"),
                )
            })?;
        read.push((path, js_sys::Uint8Array::new(&buffer).to_vec()));
    }
    Ok(MemorySource::new(read))
}

/// A `Blob` URL holding `bytes`.
fn object_url(bytes: &[u8]) -> Option<String> {
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

/// One training run, start to end; every failure ends on the page as a [`Problem`].
async fn run(
    ui: Ui,
    feed: SceneFeed,
    stop: Arc<AtomicBool>,
    files: Vec<web_sys::File>,
    settings: Settings,
) {
    if let Err(problem) = train(ui, &feed, &stop, files, settings).await {
        ui.problem.try_set(Some(problem));
        ui.phase.try_set(Phase::Failed);
        ui.status.try_set(String::new());
    }
}

async fn train(
    ui: Ui,
    feed: &SceneFeed,
    stop: &AtomicBool,
    files: Vec<web_sys::File>,
    settings: Settings,
) -> Result<(), Problem> {
    ui.status.set("Reading the picked files…".into());
    let source = read_files(files).await?;
    ui.status.set(format!(
        "Decoding {} files ({:.1} MB)…",
        source.len(),
        source.bytes() as f64 / 1e6
    ));
    next_frame().await;
    let options = LoadOptions {
        max_side: Some(settings.max_side),
        random_points: (settings.max_splats as usize / 2).clamp(1000, 100_000),
        ..LoadOptions::default()
    };
    let data = TrainDataset::load_from(&source, &options).map_err(|e| Problem::from_dataset(&e))?;
    drop(source);
    if data.train.is_empty() {
        return Err(Problem::from_train(&TrainError::NoData(
            "every view is held out".into(),
        )));
    }
    ui.status.set("Opening the GPU…".into());
    if !webgpu_exposed() {
        return Err(Problem::new(
            "This browser has no WebGPU, which training here needs. Open Splatpod in a recent \
             Chrome, Edge or Safari, or train on the server.",
            "navigator.gpu is not defined",
        ));
    }
    let ctx = GpuContext::new().await.map_err(|e| {
        Problem::new(
            "This browser offers no usable GPU for training. Train on the server instead.",
            e,
        )
    })?;
    let mut config = TrainConfig {
        iterations: settings.iterations,
        ..TrainConfig::default()
    };
    config.densify.max_splats = Some(settings.max_splats);
    let init = data.init_splats(config.seed);
    let fail = |e: TrainError| Problem::from_train(&e);
    let mut trainer = Trainer::new(&ctx, &data, &init, config).map_err(fail)?;
    drop(init);
    let frame = camera_box(&data);
    if !data.test.is_empty() {
        ui.status.set("Scoring the starting point…".into());
        let e = trainer.evaluate(&data.test).await.map_err(fail)?;
        ui.before.set(Some((e.psnr, e.ssim)));
    }
    feed.show(trainer.scene().await.map_err(fail)?, Some(frame));

    ui.phase.set(Phase::Training);
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
    if let Ok(bytes) = save_ply(&scene) {
        ui.download.set(object_url(&bytes));
    }
    feed.show(scene, None);
    ui.status.set(match stopped_by {
        Some(why) => format!("Stopped after {steps} iterations: {why}."),
        None => format!("Trained {steps} iterations."),
    });
    ui.phase.set(Phase::Done);
    Ok(())
}

/// A number input bound to a settings field.
fn number_field(
    id: &'static str,
    label: &'static str,
    min: &'static str,
    max: &'static str,
    value: impl Fn() -> String + Send + 'static,
    set: impl Fn(f64) + 'static,
) -> impl IntoView {
    view! {
        <label class="field" for=id>
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

/// The `/train` page.
#[component]
pub fn TrainPage() -> impl IntoView {
    let ui = Ui {
        phase: RwSignal::new(Phase::Idle),
        status: RwSignal::new(String::new()),
        problem: RwSignal::new(None),
        step: RwSignal::new(0),
        total: RwSignal::new(0),
        splats: RwSignal::new(0),
        loss: RwSignal::new(None),
        rate: RwSignal::new(None),
        before: RwSignal::new(None),
        after: RwSignal::new(None),
        download: RwSignal::new(None),
    };
    let settings = RwSignal::new(Settings::default());
    let picked = RwSignal::new_local(Vec::<web_sys::File>::new());
    let feed = SceneFeed::default();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        on_cleanup(move || stop.store(true, Ordering::Relaxed));
    }

    // A folder picker: `webkitdirectory` is not a typed attribute, so it is set on the element.
    let folder_ref = NodeRef::<leptos::html::Input>::new();
    folder_ref.on_load(|input| {
        let _ = input.set_attribute("webkitdirectory", "");
    });
    let on_pick = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let mut files = Vec::new();
        if let Some(list) = input.files() {
            for i in 0..list.length() {
                if let Some(f) = list.get(i) {
                    files.push(f);
                }
            }
        }
        picked.set(files);
        ui.problem.set(None);
    };
    let start = {
        let feed = feed.clone();
        let stop = Arc::clone(&stop);
        move |_| {
            let files = picked.get_untracked();
            if files.is_empty() {
                return;
            }
            if let Some(url) = ui.download.get_untracked() {
                let _ = web_sys::Url::revoke_object_url(&url);
            }
            stop.store(false, Ordering::Relaxed);
            ui.problem.set(None);
            ui.before.set(None);
            ui.after.set(None);
            ui.download.set(None);
            ui.loss.set(None);
            ui.rate.set(None);
            ui.step.set(0);
            ui.phase.set(Phase::Reading);
            spawn_local(run(
                ui,
                feed.clone(),
                Arc::clone(&stop),
                files,
                settings.get_untracked(),
            ));
        }
    };
    let on_stop = {
        let stop = Arc::clone(&stop);
        move |_| stop.store(true, Ordering::Relaxed)
    };
    let running = move || matches!(ui.phase.get(), Phase::Reading | Phase::Training);
    let quality = |q: Option<(f32, f32)>| {
        q.map_or("–".to_string(), |(p, s)| {
            format!("{p:.2} dB · SSIM {s:.3}")
        })
    };

    view! {
        <section class="card train" id="train-panel" data-state=move || ui.phase.get().as_str()>
            <h2>"Train in this browser"</h2>
            <p class="muted">
                "Pick a small posed photo set — a folder with a transforms.json and its photos, "
                "or a COLMAP model and its images — and train a splat scene on this device's GPU. "
                "Photos are scaled down and the splat count and time are capped, so it suits "
                "small scenes; large ones train faster on the server."
            </p>
            <div class="train-pick">
                <label class="file-pick button-like">
                    "Pick a folder"
                    <input type="file" id="train-folder" node_ref=folder_ref multiple on:change=on_pick />
                </label>
                <label class="file-pick button-like">
                    "Pick files"
                    <input
                        type="file"
                        id="train-files"
                        multiple
                        accept=".json,.txt,.bin,.jpg,.jpeg,.png,.webp"
                        on:change=on_pick
                    />
                </label>
                <span id="train-picked" class="muted">
                    {move || picked.with(|f| match f.len() {
                        0 => "Nothing picked yet.".to_string(),
                        n => format!("{n} files picked."),
                    })}
                </span>
            </div>
            <div class="train-settings">
                {number_field("train-iterations", "Iterations", "1", "30000",
                    move || settings.get().iterations.to_string(),
                    move |v| settings.update(|s| s.iterations = v.clamp(1.0, 30_000.0) as u32))}
                {number_field("train-max-side", "Photo size (px)", "32", "1600",
                    move || settings.get().max_side.to_string(),
                    move |v| settings.update(|s| s.max_side = v.clamp(32.0, 1600.0) as u32))}
                {number_field("train-max-splats", "Splat budget", "1000", "1000000",
                    move || settings.get().max_splats.to_string(),
                    move |v| settings.update(|s| s.max_splats = v.clamp(1000.0, 1e6) as u32))}
                {number_field("train-minutes", "Time limit (min)", "1", "120",
                    move || settings.get().minutes.to_string(),
                    move |v| settings.update(|s| s.minutes = v.clamp(0.1, 120.0)))}
            </div>
            <div class="train-actions">
                <button
                    type="button"
                    id="train-start"
                    on:click=start
                    disabled=move || running() || picked.with(Vec::is_empty)
                >
                    "Start training"
                </button>
                <button type="button" id="train-stop" on:click=on_stop disabled=move || !running()>
                    "Stop"
                </button>
                {move || ui.download.get().map(|url| view! {
                    <a id="train-download" class="button-like" href=url download="scene.ply">
                        "Download scene.ply"
                    </a>
                })}
            </div>
            <p id="train-status" class="muted" role="status">{move || ui.status.get()}</p>
            {move || ui.problem.get().map(|p| view! {
                <div class="warn" id="train-error" role="alert">
                    <p>{p.plain}</p>
                    <details><summary>"Details"</summary><code>{p.detail}</code></details>
                </div>
            })}
            <progress
                id="train-progress"
                max=move || ui.total.get().max(1).to_string()
                value=move || ui.step.get().to_string()
                hidden=move || ui.total.get() == 0
            ></progress>
            <dl class="train-readout">
                <dt>"Iteration"</dt>
                <dd id="train-step" data-step=move || ui.step.get().to_string()>
                    {move || format!("{} / {}", ui.step.get(), ui.total.get())}
                </dd>
                <dt>"Splats"</dt>
                <dd id="train-splats">{move || ui.splats.get().to_string()}</dd>
                <dt>"Loss"</dt>
                <dd id="train-loss">
                    {move || ui.loss.get().map_or("–".into(), |l| format!("{l:.4}"))}
                </dd>
                <dt>"Speed"</dt>
                <dd id="train-rate">
                    {move || ui.rate.get().map_or("–".into(), |r| format!("{r:.1} it/s"))}
                </dd>
                <dt>"Held-out before"</dt>
                <dd
                    id="train-before"
                    data-psnr=move || ui.before.get().map(|q| q.0.to_string())
                >
                    {move || quality(ui.before.get())}
                </dd>
                <dt>"Held-out after"</dt>
                <dd id="train-after" data-psnr=move || ui.after.get().map(|q| q.0.to_string())>
                    {move || quality(ui.after.get())}
                </dd>
            </dl>
        </section>
        {viewer_view(SceneSource::Feed(feed))}
    }
}
