//! "Train on this device" on the capture page: when the server cannot be reached (its health
//! check fails), a small capture is posed and trained in this browser — GPU SIFT, matching and
//! the engine's mapper ([`splatpod::train::from_photos::photos_to_dataset`]), then the shared
//! bounded training run ([`super::train_run`]) — with the stage and percent shown and the scene
//! in the viewer as it trains. The scene is kept in the capture's IndexedDB store (PLY), so it
//! survives a reload; once the server answers again, "Upload scene" imports it into the
//! capture's project (created with the saved API key when there is none yet), where the
//! project page's Share button makes links to it: shared later.
//!
//! Bounded like `/train`: at most [`MAX_PHOTOS`] photos and [`MAX_BYTES`] of them, each decoded
//! to [`SFM_SIDE`] for the reconstruction; a larger capture is refused with the reason.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use splatpod::api::{Quality, SceneImported};
use splatpod::features::PairMode;
use splatpod::formats::{load_scene, save_ply};
use splatpod::gpu::GpuError;
use splatpod::images::{decode_image, DecodeOptions};
use splatpod::sfm::mapper::MapperOptions;
use splatpod::sfm::pipeline::{PipelineError, PipelineProgress};
use splatpod::train::dataset::LoadOptions;
use splatpod::train::from_photos::{
    photos_to_dataset, Pause, PhotosToDataset, PhotosToDatasetError,
};

use super::browser_helpers::{next_frame, now_ms};
use super::capture::read_bytes;
use super::client::{bearer, body_of, net, saved_key, sleep_ms};
use super::pairing::saved_pairing;
use super::photo::Upload;
use super::problem::{problem_view, Problem};
use super::queue::{Queue, SavedScene};
use super::sender::Sender;
use super::train_run::{
    open_gpu, readout_view, settings_fields, start_stop, train_dataset, Readout, Settings,
};
use super::upload::create_project;
use super::viewer::{viewer_view, SceneFeed, SceneSource};

/// Most photos trained on this device.
pub const MAX_PHOTOS: usize = 30;
/// Most bytes of photos read for it.
pub const MAX_BYTES: f64 = 150.0 * 1024.0 * 1024.0;
/// Fewest photos the mapper can place.
const MIN_PHOTOS: usize = 3;
/// Longer side of the photos the reconstruction sees, pixels.
const SFM_SIDE: u32 = 640;
/// How often the server's health is asked, milliseconds.
const HEALTH_EVERY_MS: i32 = 3000;

/// Where the server stands (`#device-train[data-server]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Checking,
    Reachable,
    Unreachable,
}

impl Server {
    fn as_str(self) -> &'static str {
        match self {
            Server::Checking => "checking",
            Server::Reachable => "reachable",
            Server::Unreachable => "unreachable",
        }
    }
}

/// The run's stage (`#device-train[data-state]`), with its share of the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Idle,
    Reading,
    Features,
    Matching,
    Mapping,
    Training,
    Done,
    Failed,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Idle => "idle",
            Stage::Reading => "reading",
            Stage::Features => "features",
            Stage::Matching => "matching",
            Stage::Mapping => "mapping",
            Stage::Training => "training",
            Stage::Done => "done",
            Stage::Failed => "failed",
        }
    }

    /// The percent range of the whole run this stage covers.
    fn span(self) -> (f64, f64) {
        match self {
            Stage::Reading => (0.0, 5.0),
            Stage::Features => (5.0, 35.0),
            Stage::Matching => (35.0, 50.0),
            Stage::Mapping => (50.0, 60.0),
            Stage::Training => (60.0, 100.0),
            Stage::Done => (100.0, 100.0),
            Stage::Idle | Stage::Failed => (0.0, 0.0),
        }
    }

    fn running(self) -> bool {
        !matches!(self, Stage::Idle | Stage::Done | Stage::Failed)
    }
}

/// The panel's reactive state.
#[derive(Clone, Copy)]
struct Ui {
    server: RwSignal<Server>,
    stage: RwSignal<Stage>,
    /// Every stage this run entered, in order (`data-stages`): some pass quicker than a
    /// frame.
    trail: RwSignal<Vec<&'static str>>,
    /// Percent of the whole run.
    percent: RwSignal<f64>,
    problem: RwSignal<Option<Problem>>,
    readout: Readout,
    /// The scene kept on this device, if any (the capture's: "Start over" clears it).
    saved: RwSignal<Option<SavedScene>, LocalStorage>,
    /// The viewer is on the page (a run started or a scene is kept).
    viewer_on: RwSignal<bool>,
    uploading: RwSignal<bool>,
    upload_problem: RwSignal<Option<Problem>>,
}

impl Ui {
    /// Percent of the whole run; while training, from the iterations done.
    fn percent(&self) -> f64 {
        match self.stage.get() {
            Stage::Training => {
                let (lo, hi) = Stage::Training.span();
                let total = self.readout.total.get();
                let done = f64::from(self.readout.step.get()) / f64::from(total.max(1));
                lo + (hi - lo) * if total == 0 { 0.0 } else { done.min(1.0) }
            }
            _ => self.percent.get(),
        }
    }

    fn at(&self, stage: Stage, fraction: f64, status: String) {
        let (lo, hi) = stage.span();
        if self.stage.try_get_untracked() != Some(stage) {
            self.trail.try_update(|t| t.push(stage.as_str()));
        }
        self.stage.try_set(stage);
        self.percent
            .try_set(lo + (hi - lo) * fraction.clamp(0.0, 1.0));
        self.readout.status.try_set(status);
    }
}

/// The photos the capture keeps on this device: (name, bytes), or why they are not trained
/// here.
fn photos_on_device(sender: &Sender) -> Result<Vec<(String, web_sys::Blob)>, Problem> {
    let photos: Vec<(String, web_sys::Blob)> = sender
        .photos
        .try_with_untracked(|ps| {
            ps.iter()
                .filter(|p| !matches!(p.upload, Upload::Rejected(_)))
                .filter_map(|p| Some((p.name.clone(), p.blob.clone()?)))
                .collect()
        })
        .unwrap_or_default();
    refusal(photos.len(), photos.iter().map(|(_, b)| b.size()).sum()).map_or(Ok(photos), Err)
}

/// Why a capture of `count` photos and `bytes` bytes is not trained on this device, if it is
/// not.
fn refusal(count: usize, bytes: f64) -> Option<Problem> {
    if count < MIN_PHOTOS {
        return Some(Problem::new(
            format!(
                "Training on this device needs at least {MIN_PHOTOS} photos kept here; this \
                 capture has {count}. Take more photos that overlap."
            ),
            format!("{count} photos on this device"),
        ));
    }
    if count > MAX_PHOTOS || bytes > MAX_BYTES {
        return Some(Problem::new(
            format!(
                "This capture is too large to train on this device ({count} photos, {:.0} MB; \
                 at most {MAX_PHOTOS} photos and {:.0} MB), so that the browser keeps working. \
                 Its photos stay here and go to the server once it can be reached, or start \
                 over with fewer photos.",
                bytes / 1e6,
                MAX_BYTES / 1e6
            ),
            format!("{count} photos, {bytes} bytes"),
        ));
    }
    None
}

/// The reconstruction's failure in plain words.
fn pose_problem(e: &PhotosToDatasetError) -> Problem {
    let plain = match e {
        PhotosToDatasetError::Pipeline(PipelineError::Gpu(GpuError::TooLarge(_))) => {
            "These photos are too large for this device's GPU. Take fewer photos, or wait for \
             the server."
        }
        PhotosToDatasetError::Pipeline(PipelineError::Gpu(_)) => {
            "The GPU stopped while finding features. Reload the page and try again."
        }
        PhotosToDatasetError::Pipeline(PipelineError::Sfm(_)) => {
            "The photos could not be placed in 3D: too few of them overlap. Take photos a step \
             or two apart, each overlapping the one before, and try again."
        }
        PhotosToDatasetError::Dataset(_) => {
            "The placed photos could not be prepared for training. Try again with other photos."
        }
    };
    Problem::new(plain, e.to_string())
}

/// A blob holding `bytes`.
fn blob_of(bytes: &[u8]) -> Result<web_sys::Blob, String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&array).map_err(|e| format!("{e:?}"))
}

/// Whether the server answers its health check.
async fn server_answers() -> bool {
    match gloo_net::http::Request::get("/health").send().await {
        Ok(r) => r.ok(),
        Err(_) => false,
    }
}

/// Asks the server's health every few seconds while the page is open.
async fn watch_server(ui: Ui) {
    loop {
        let state = if server_answers().await {
            Server::Reachable
        } else {
            Server::Unreachable
        };
        if ui.server.try_set(state).is_some() {
            return;
        }
        sleep_ms(HEALTH_EVERY_MS).await;
    }
}

/// Waits for the capture's offline store; `None` when it cannot be opened or the page is gone.
async fn store_of(sender: &Sender) -> Option<Rc<Queue>> {
    for _ in 0..200 {
        if let Some(store) = sender.store() {
            return Some(store);
        }
        sleep_ms(50).await;
    }
    None
}

/// Shows the scene kept on this device, if there is one.
async fn restore(ui: Ui, sender: Rc<Sender>, feed: SceneFeed) {
    let Some(store) = store_of(&sender).await else {
        return;
    };
    let Ok(Some(saved)) = store.scene().await else {
        return;
    };
    let scene = read_bytes(&saved.ply)
        .await
        .ok()
        .and_then(|b| load_scene(&b, Some("scene.ply")).ok());
    if ui.saved.try_set(Some(saved)).is_some() {
        return;
    }
    ui.viewer_on.set(true);
    if let Some(scene) = scene {
        next_frame().await;
        feed.show(scene, None);
    }
}

/// One on-device run, start to end; a failure ends on the panel as a [`Problem`].
async fn run(
    ui: Ui,
    sender: Rc<Sender>,
    feed: SceneFeed,
    stop: Arc<AtomicBool>,
    settings: Settings,
) {
    if let Err(p) = train_here(ui, &sender, &feed, &stop, settings).await {
        ui.problem.try_set(Some(p));
        ui.stage.try_set(Stage::Failed);
    }
}

async fn train_here(
    ui: Ui,
    sender: &Sender,
    feed: &SceneFeed,
    stop: &AtomicBool,
    settings: Settings,
) -> Result<(), Problem> {
    let picked = photos_on_device(sender)?;
    let total = picked.len();
    let decode = DecodeOptions {
        max_side: Some(SFM_SIDE),
        ..DecodeOptions::default()
    };
    let mut photos = Vec::with_capacity(total);
    for (k, (name, blob)) in picked.into_iter().enumerate() {
        ui.at(
            Stage::Reading,
            k as f64 / total as f64,
            format!("Reading photo {} of {total}…", k + 1),
        );
        next_frame().await;
        let bytes = read_bytes(&blob)
            .await
            .map_err(|e| Problem::new(format!("{name} could not be read on this device."), e))?;
        let photo = decode_image(&bytes, Some(&name), &decode).map_err(|e| {
            Problem::new(
                format!("{name} could not be read as a photo. Remove it and try again."),
                e.to_string(),
            )
        })?;
        // Two photos may share a file name (two gallery picks); the model needs unique ones.
        photos.push((format!("{k:04}-{name}"), photo));
    }
    ui.readout.status.set("Opening the GPU…".into());
    let ctx = open_gpu().await?;
    ui.viewer_on.set(true);
    let options = PhotosToDataset {
        sift: Quality::Low.sift_params(None),
        pairs: PairMode::Exhaustive,
        mapper: MapperOptions::default(),
        load: LoadOptions {
            max_side: Some(settings.max_side),
            random_points: (settings.max_splats as usize / 2).clamp(1000, 100_000),
            ..LoadOptions::default()
        },
    };
    let mut last_paint = 0.0;
    let mut progress = |p: PipelineProgress| {
        let (stage, fraction, status) = match p {
            PipelineProgress::Features { done, total } => (
                Stage::Features,
                done as f64 / total.max(1) as f64,
                format!("Finding features: {done} of {total} photos…"),
            ),
            PipelineProgress::Matching { done, total } => (
                Stage::Matching,
                done as f64 / total.max(1) as f64,
                format!("Matching photos: {done} of {total} pairs…"),
            ),
            PipelineProgress::Mapping(m) => {
                // The mapper's own stages, each 0–1, as parts of one (as the server's job).
                let (lo, hi) = match m.stage {
                    "verification" => (0.0, 0.25),
                    "mapping" => (0.25, 0.85),
                    _ => (0.85, 1.0),
                };
                (
                    Stage::Mapping,
                    lo + (hi - lo) * m.fraction,
                    format!("Placing the photos in 3D: {}", m.message),
                )
            }
        };
        let now = now_ms();
        if now - last_paint > 100.0 || fraction >= 1.0 {
            last_paint = now;
            ui.at(stage, fraction, status);
        }
    };
    let pause: Pause<'_> = &|| Box::pin(next_frame());
    let posed = photos_to_dataset(&ctx, photos, &options, &mut progress, pause)
        .await
        .map_err(|e| pose_problem(&e))?;
    let placed = posed.dataset.views_by_name().len();
    ui.at(
        Stage::Training,
        0.0,
        format!(
            "{placed} of {total} photos placed, {} points. Training…",
            posed.dataset.points.len()
        ),
    );
    next_frame().await;
    let trained = train_dataset(&ctx, &posed.dataset, settings, stop, ui.readout, feed).await?;
    ui.readout
        .status
        .set("Keeping the scene on this device…".into());
    let ply = save_ply(&trained.scene)
        .map_err(|e| Problem::new("The trained scene could not be written.", e.to_string()))?;
    let saved = SavedScene {
        ply: blob_of(&ply).map_err(|e| Problem::new("The scene could not be kept.", e))?,
        photos: placed as u32,
        iterations: ui.readout.step.get_untracked(),
        trained: js_sys::Date::now(),
        project: None,
    };
    if let Some(store) = sender.store() {
        store.put_scene(&saved).await.map_err(|e| {
            Problem::new(
                "The scene could not be kept on this device (is it full?). It is shown here \
                 until you leave the page.",
                e,
            )
        })?;
    }
    ui.saved.try_set(Some(saved));
    ui.at(
        Stage::Done,
        1.0,
        format!("{} Kept on this device.", trained.summary),
    );
    Ok(())
}

/// Imports the kept scene into the capture's project (made now with the saved key when the
/// capture has none; a paired phone's paired project), then sends the capture's photos there
/// too.
async fn upload_scene(ui: Ui, sender: Rc<Sender>) -> Result<String, Problem> {
    let Some(saved) = ui.saved.get_untracked() else {
        return Err(Problem::new("No scene is kept on this device.", "no scene"));
    };
    // A paired phone imports into its paired project with its pairing token (its photos go
    // there already); otherwise the saved key, into the capture's project.
    let pairing = saved_pairing().filter(|p| !p.expired());
    let (token, project) = match (&pairing, saved_key()) {
        (Some(p), _) => (p.token.clone(), p.project_id.clone()),
        (None, Some(key)) => {
            let project = match saved.project.clone().or_else(|| sender.target()) {
                Some(id) => id,
                None => {
                    create_project(&key, "Capture (trained on a device)".into())
                        .await?
                        .id
                }
            };
            (key, project)
        }
        (None, None) => {
            return Err(Problem::new(
                "Uploading a scene needs the server's API key on this device, or a pairing \
                 with a project. Enter the key under \"Send to the server\" below, then press \
                 \"Upload scene\" again.",
                "no API key or pairing saved in this browser",
            ))
        }
    };
    let bytes = read_bytes(&saved.ply)
        .await
        .map_err(|e| Problem::new("The kept scene could not be read.", e))?;
    let response =
        gloo_net::http::Request::put(&format!("/api/projects/{project}/artifacts/scene.ply"))
            .header("Authorization", &bearer(&token))
            .body(js_sys::Uint8Array::from(bytes.as_slice()))
            .map_err(|e| Problem::new("The scene could not be sent.", e.to_string()))?
            .send()
            .await
            .map_err(|e| {
                Problem::new(
            "The server cannot be reached. The scene stays on this device; try again when the \
             connection is back.",
            net(e),
        )
            })?;
    let _: SceneImported = body_of(response).await.map_err(|e| {
        Problem::new(
            "The server did not take the scene. Try again; if it fails again, show the \
             details to the server's admin.",
            e,
        )
    })?;
    if let Some(store) = sender.store() {
        // Best effort: the scene is on the server either way.
        let _ = store.scene_uploaded(&project).await;
    }
    ui.saved.try_update(|s| {
        if let Some(s) = s {
            s.project = Some(project.clone());
        }
    });
    // The photos follow to the same project (a paired phone's go there already).
    if pairing.is_none() {
        sender.send_all_to(&project).await;
    }
    Ok(project)
}

/// The panel below the capture.
#[component]
pub fn DeviceTrainPanel(sender: Rc<Sender>) -> impl IntoView {
    let ui = Ui {
        server: RwSignal::new(Server::Checking),
        stage: RwSignal::new(Stage::Idle),
        trail: RwSignal::new(Vec::new()),
        percent: RwSignal::new(0.0),
        problem: RwSignal::new(None),
        readout: Readout::new(),
        saved: sender.scene,
        viewer_on: RwSignal::new(false),
        uploading: RwSignal::new(false),
        upload_problem: RwSignal::new(None),
    };
    let settings = RwSignal::new(Settings {
        iterations: 500,
        max_side: 320,
        max_splats: 50_000,
        minutes: 10.0,
    });
    let feed = SceneFeed::default();
    let viewer_feed = StoredValue::new_local(feed.clone());
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        on_cleanup(move || stop.store(true, Ordering::Relaxed));
    }
    // "Start over" forgets the kept scene: the panel starts over too.
    Effect::new(move |_| {
        if ui.saved.with(Option::is_none) && ui.stage.get_untracked() == Stage::Done {
            ui.stage.set(Stage::Idle);
            ui.trail.set(Vec::new());
            ui.viewer_on.set(false);
            ui.readout.reset();
            ui.readout.status.set(String::new());
        }
    });
    spawn_local(watch_server(ui));
    spawn_local(restore(ui, Rc::clone(&sender), feed.clone()));

    let photos = sender.photos;
    // Why this capture is not trained here, live as photos come and go.
    let refused = Memo::new(move |_| {
        photos.with(|ps| {
            let kept: Vec<_> = ps
                .iter()
                .filter(|p| !matches!(p.upload, Upload::Rejected(_)))
                .filter_map(|p| p.blob.as_ref())
                .collect();
            refusal(kept.len(), kept.iter().map(|b| b.size()).sum())
        })
    });
    let start = {
        let (sender, feed, stop) = (Rc::clone(&sender), feed.clone(), Arc::clone(&stop));
        move |_| {
            stop.store(false, Ordering::Relaxed);
            ui.problem.set(None);
            ui.trail.set(Vec::new());
            ui.readout.reset();
            ui.at(Stage::Reading, 0.0, "Reading the photos…".into());
            spawn_local(run(
                ui,
                Rc::clone(&sender),
                feed.clone(),
                Arc::clone(&stop),
                settings.get_untracked(),
            ));
        }
    };
    let on_stop = {
        let stop = Arc::clone(&stop);
        move |_| stop.store(true, Ordering::Relaxed)
    };
    let sender = StoredValue::new_local(sender);
    let on_upload = move |_| {
        ui.uploading.set(true);
        ui.upload_problem.set(None);
        let sender = sender.get_value();
        spawn_local(async move {
            let result = upload_scene(ui, sender).await;
            ui.uploading.try_set(false);
            if let Err(p) = result {
                ui.upload_problem.try_set(Some(p));
            }
        });
    };
    let running = move || ui.stage.get().running();
    let offline = move || ui.server.get() == Server::Unreachable;
    // Shown when the server is out of reach, while a run goes on, or with a kept scene.
    let shown = move || {
        offline() || running() || ui.stage.get() != Stage::Idle || ui.saved.with(Option::is_some)
    };
    let uploaded = move || {
        ui.saved
            .with(|s| s.as_ref().and_then(|s| s.project.clone()))
    };

    view! {
        <section
            class="card device-train"
            id="device-train"
            aria-labelledby="device-train-title"
            data-server=move || ui.server.get().as_str()
            data-state=move || ui.stage.get().as_str()
            data-stages=move || ui.trail.with(|t| t.join(" "))
            data-scene=move || match (ui.saved.with(Option::is_some), uploaded().is_some()) {
                (false, _) => "none",
                (true, false) => "kept",
                (true, true) => "uploaded",
            }
            hidden=move || !shown()
        >
            <h3 id="device-train-title">"Train on this device"</h3>
            {move || offline().then(|| view! {
                <p id="device-train-offline">
                    "The server cannot be reached. A small capture (at most " {MAX_PHOTOS}
                    " photos) can be turned into a scene here, on this device's GPU, and "
                    "uploaded to share once the server is back. Photos are scaled down and the "
                    "training is short, so the server's result will be better."
                </p>
            })}
            {move || (offline() && !running()).then(|| refused.get().map(|p| problem_view("device-train-refused", p)))}
            // Offered while the server is out of reach (and kept while a run goes on).
            <div id="device-train-controls" hidden=move || !(offline() || running())>
                {settings_fields("device", settings)}
                <div class="train-actions">
                    {start_stop("device-train", "Train on this device", start, on_stop,
                        move || running() || refused.with(Option::is_some), running)}
                </div>
            </div>
            <p
                id="device-train-stage"
                role="status"
                data-stage=move || ui.stage.get().as_str()
                data-percent=move || format!("{:.0}", ui.percent())
            >
                {move || match ui.stage.get() {
                    Stage::Idle => String::new(),
                    _ => format!("{:.0} % · {}", ui.percent(), ui.readout.status.get()),
                }}
            </p>
            <progress
                id="device-train-progress"
                aria-label="Training on this device"
                max="100"
                prop:value=move || ui.percent()
                hidden=move || !running()
            ></progress>
            {move || ui.problem.get().map(|p| problem_view("device-train-error", p))}
            {readout_view("device", ui.readout)}
            {move || ui.saved.get().map(|s| view! {
                <p id="device-scene" class="ok">
                    {format!(
                        "A scene trained on this device from {} photos ({} iterations) is kept here.",
                        s.photos, s.iterations
                    )}
                </p>
            })}
            {move || {
                let can = ui.saved.with(Option::is_some) && uploaded().is_none()
                    && ui.server.get() == Server::Reachable && !running();
                can.then(|| view! {
                    <button
                        type="button"
                        class="button-like primary"
                        id="device-upload"
                        disabled=move || ui.uploading.get()
                        on:click=on_upload
                    >
                        "Upload scene"
                    </button>
                })
            }}
            {move || ui.upload_problem.get().map(|p| problem_view("device-upload-error", p))}
            {move || uploaded().map(|id| view! {
                <p class="ok" id="device-uploaded">
                    "The scene is on the server. "
                    <A href=format!("/project/{id}") attr:id="device-project">
                        "Open the project page"
                    </A>
                    " to share it."
                </p>
            })}
            {move || ui.viewer_on.get().then(|| viewer_view(SceneSource::Feed(viewer_feed.get_value())))}
        </section>
    }
}
