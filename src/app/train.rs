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

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::formats::save_ply;
use splatpod::train::dataset::{DatasetError, LoadOptions, MemorySource, TrainDataset};

use super::browser_helpers::next_frame;
use super::problem::Problem;
use super::train_run::{
    object_url, open_gpu, readout_view, settings_fields, start_stop, train_dataset, Readout,
    Settings,
};
use super::viewer::{viewer_view, SceneFeed, SceneSource};

/// Most files read from a pick.
const MAX_FILES: usize = 1000;
/// Most bytes read from a pick (photos are decoded one at a time after that).
const MAX_BYTES: f64 = 768.0 * 1024.0 * 1024.0;
/// File types a posed set is made of; others in a picked folder are skipped unread.
const DATASET_EXTENSIONS: [&str; 7] = ["json", "txt", "bin", "jpg", "jpeg", "png", "webp"];
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

/// A dataset that could not be read, in plain words.
fn dataset_problem(e: &DatasetError) -> Problem {
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
    Problem::new(plain, e.to_string())
}

/// The page's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    phase: RwSignal<Phase>,
    problem: RwSignal<Option<Problem>>,
    readout: Readout,
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
        ui.readout.status.try_set(String::new());
    }
}

async fn train(
    ui: Ui,
    feed: &SceneFeed,
    stop: &AtomicBool,
    files: Vec<web_sys::File>,
    settings: Settings,
) -> Result<(), Problem> {
    let status = ui.readout.status;
    status.set("Reading the picked files…".into());
    let source = read_files(files).await?;
    status.set(format!(
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
    let data = TrainDataset::load_from(&source, &options).map_err(|e| dataset_problem(&e))?;
    drop(source);
    status.set("Opening the GPU…".into());
    let ctx = open_gpu().await?;
    ui.phase.set(Phase::Training);
    let trained = train_dataset(&ctx, &data, settings, stop, ui.readout, feed).await?;
    if let Ok(bytes) = save_ply(&trained.scene) {
        ui.download.set(object_url(&bytes));
    }
    status.set(trained.summary);
    ui.phase.set(Phase::Done);
    Ok(())
}

/// The `/train` page.
#[component]
pub fn TrainPage() -> impl IntoView {
    let ui = Ui {
        phase: RwSignal::new(Phase::Idle),
        problem: RwSignal::new(None),
        readout: Readout::new(),
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
            ui.download.set(None);
            ui.readout.reset();
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
            {settings_fields("train", settings)}
            <div class="train-actions">
                {start_stop("train", "Start training", start, on_stop,
                    move || running() || picked.with(Vec::is_empty), running)}
                {move || ui.download.get().map(|url| view! {
                    <a id="train-download" class="button-like" href=url download="scene.ply">
                        "Download scene.ply"
                    </a>
                })}
            </div>
            <p id="train-status" class="muted" role="status">{move || ui.readout.status.get()}</p>
            {move || ui.problem.get().map(|p| view! {
                <div class="warn" id="train-error" role="alert">
                    <p>{p.plain}</p>
                    <details><summary>"Details"</summary><code>{p.detail}</code></details>
                </div>
            })}
            {readout_view("train", ui.readout)}
        </section>
        {viewer_view(SceneSource::Feed(feed))}
    }
}
