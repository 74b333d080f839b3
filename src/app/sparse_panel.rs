//! The project's camera poses and sparse cloud (`/project/:id`): the COLMAP model the `sfm`
//! job or a COLMAP import stored (`sparse/0/*.bin`, read with the engine's reader) drawn in the
//! embedded viewer as coloured points and orange camera frusta, with how many photos were
//! registered and, from the job's `sfm.json`, why the others were not.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{ArtifactList, SfmOutput};
use splatpod::render::{sparse_scene, CameraMarker, PointCloud};
use splatpod::sfm::colmap::read_binary;

use super::client::{get_artifact, get_json, net, sleep_ms};
use super::problem::{problem_view, Problem};
use super::viewer::{viewer_view, SceneFeed, SceneSource};

/// Milliseconds between checks for a new model (an SfM job finishing while the page is open).
const REFRESH_MS: i32 = 4000;

const MODEL: [&str; 3] = [
    "sparse/0/cameras.bin",
    "sparse/0/images.bin",
    "sparse/0/points3D.bin",
];
const SUMMARY: &str = "sfm.json";

/// What the panel shows of one model.
#[derive(Clone)]
struct Model {
    /// Registered photos (cameras drawn).
    registered: usize,
    points: usize,
    /// The `sfm` job's summary; absent for an imported model.
    summary: Option<SfmOutput>,
    sparse: splatpod::render::SparseScene,
}

/// An artifact's bytes.
async fn artifact(key: &str, id: &str, name: &str) -> Result<Vec<u8>, String> {
    let res = get_artifact(key, id, name).await.map_err(net)?;
    if !res.ok() {
        return Err(format!("{name}: HTTP {}", res.status()));
    }
    res.binary().await.map_err(|e| format!("{name}: {e}"))
}

/// The model's artifacts' names and times, to notice a newer model; `None` without a model.
fn model_stamp(list: &ArtifactList) -> Option<String> {
    let stamp = |name: &str| {
        list.artifacts
            .iter()
            .find(|a| a.name == name)
            .map(|a| format!("{name}@{}", a.created_at))
    };
    let mut parts = MODEL.iter().map(|n| stamp(n)).collect::<Option<Vec<_>>>()?;
    parts.extend(stamp(SUMMARY));
    Some(parts.join(","))
}

async fn load_model(key: &str, id: &str, with_summary: bool) -> Result<Model, String> {
    let [cameras, images, points] = MODEL;
    let cameras = artifact(key, id, cameras).await?;
    let images = artifact(key, id, images).await?;
    let points = artifact(key, id, points).await?;
    let rec = read_binary(&cameras, &images, &points).map_err(|e| e.to_string())?;
    let summary = if with_summary {
        let bytes = artifact(key, id, SUMMARY).await?;
        Some(serde_json::from_slice::<SfmOutput>(&bytes).map_err(|e| format!("{SUMMARY}: {e}"))?)
    } else {
        None
    };
    let cloud = PointCloud::of(&rec);
    let markers = CameraMarker::all(&rec);
    Ok(Model {
        registered: markers.len(),
        points: cloud.positions.len(),
        summary,
        sparse: sparse_scene(&cloud, &markers),
    })
}

/// The panel, once the project has a model; `photos` is the project's photo count (the total
/// shown for an imported model, which has no `sfm.json`).
pub fn sparse_panel(key: String, id: String, photos: Signal<u64>) -> impl IntoView {
    let model = RwSignal::new(None::<Model>);
    let problem = RwSignal::new(None::<Problem>);
    spawn_local(async move {
        let mut shown = None::<String>;
        loop {
            let list =
                get_json::<ArtifactList>(&format!("/api/projects/{id}/artifacts"), &key).await;
            let stamp = list.as_ref().ok().and_then(model_stamp);
            if stamp.is_some() && stamp != shown {
                let with_summary = list
                    .as_ref()
                    .is_ok_and(|l| l.artifacts.iter().any(|a| a.name == SUMMARY));
                let loaded = load_model(&key, &id, with_summary).await;
                let alive = match loaded {
                    Ok(m) => {
                        shown = stamp;
                        problem.try_set(None).is_none() && model.try_set(Some(m)).is_none()
                    }
                    Err(e) => problem
                        .try_set(Some(Problem::new(
                            "The project's camera poses could not be shown.",
                            e,
                        )))
                        .is_none(),
                };
                if !alive {
                    return;
                }
            }
            sleep_ms(REFRESH_MS).await;
            if problem.try_get_untracked().is_none() {
                return;
            }
        }
    });
    view! {
        {move || problem.get().map(|p| problem_view("sparse-error", p))}
        // Tracks only `model`: the viewer is built again only for a new model.
        {move || model.get().map(|m| {
            let feed = SceneFeed::default();
            let viewer = viewer_view(SceneSource::Feed(feed.clone()));
            let (registered, points) = (m.registered, m.points);
            let total = m.summary.as_ref().map(|s| s.images);
            let unregistered = m.summary.map(|s| s.unregistered).unwrap_or_default();
            feed.show(m.sparse.scene, Some(m.sparse.frame));
            view! {
                <section class="card" id="sparse" data-cameras=registered.to_string()>
                    <h3>"Camera poses and sparse cloud"</h3>
                    <p id="sparse-summary">
                        {move || format!(
                            "{registered} of {} photos registered · {points} points",
                            total.unwrap_or_else(|| photos.get())
                        )}
                    </p>
                    <p class="muted">"Points in their colours; each orange frustum is a photo's camera."</p>
                    {(!unregistered.is_empty()).then(|| view! {
                        <h4>"Photos left out"</h4>
                        <ul id="sparse-unregistered">
                            {unregistered.into_iter().map(|u| {
                                let name = if u.file_name.is_empty() { u.name } else { u.file_name };
                                view! { <li><strong>{name}</strong>": "{u.reason}</li> }
                            }).collect_view()}
                        </ul>
                    })}
                    {viewer}
                </section>
            }
        })}
    }
}
