//! "Reconstruct" on the project page: starts the `reconstruct` job at the chosen quality,
//! follows its stage and percent (polling the job's status) and shows the result in the viewer,
//! seen first from the project's start view (the owner's saved view or a capture camera), with
//! the owner's start-view controls under it. The running job's id is remembered per project, so
//! a reload keeps following it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{
    ArtifactList, JobAccepted, JobInput, JobStatus, JobStatusBody, ProjectStartView, Quality,
    RunRequest, Task,
};
use splatpod::formats::{load_scene, GaussianScene};

use super::client::{
    bearer, body_of, endpoint, follow_job_events, get_artifact, get_json, net, sleep_ms, storage,
};
use super::problem::{job_failed, problem_view, Problem};
use super::start_view_controls::start_view_controls;
use super::viewer::{viewer_view, SceneFeed, SceneSource};
use super::widgets::{card_intro, quality_select};

/// Milliseconds between status polls.
const POLL_MS: i32 = 1000;

/// The scene artifacts, most compact first.
const SCENES: [&str; 2] = ["scene.spz", "scene.ply"];

fn job_storage_key(project: &str) -> String {
    format!("splatpod-reconstruct-{project}")
}

/// A scene to show and where to see it from.
#[derive(Clone)]
struct Result3d {
    scene: GaussianScene,
    start: ProjectStartView,
    /// `created_at` of the artifact shown, to notice a newer one.
    stamp: i64,
}

async fn start_job(key: &str, project: &str, quality: Quality) -> Result<String, String> {
    let ep = endpoint().await?;
    let input = JobInput::for_project(Task::Reconstruct, project.to_owned(), quality);
    let body = RunRequest::new(input);
    let accepted: JobAccepted = body_of(
        gloo_net::http::Request::post(&format!("/v2/{ep}/run"))
            .header("Authorization", &bearer(key))
            .json(&body)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    Ok(accepted.id)
}

/// The project's newest scene artifact and its start view, if it has a scene.
async fn load_result(key: &str, project: &str) -> Result<Option<Result3d>, String> {
    let list = get_json::<ArtifactList>(&format!("/api/projects/{project}/artifacts"), key).await?;
    let Some(art) = SCENES
        .iter()
        .find_map(|n| list.artifacts.iter().find(|a| a.name == *n))
    else {
        return Ok(None);
    };
    let res = get_artifact(key, project, &art.name).await.map_err(net)?;
    if !res.ok() {
        return Err(format!("{}: HTTP {}", art.name, res.status()));
    }
    let bytes = res.binary().await.map_err(|e| e.to_string())?;
    let scene = load_scene(&bytes, Some(&art.name)).map_err(|e| e.to_string())?;
    let start: ProjectStartView =
        get_json(&format!("/api/projects/{project}/start-view"), key).await?;
    Ok(Some(Result3d {
        scene,
        start,
        stamp: art.created_at,
    }))
}

/// Where the job runs or ran (this server's worker or a remote backend) and, once it has used
/// GPU time, what that cost.
fn where_and_cost(s: &JobStatusBody) -> Option<impl IntoView> {
    let worker = s.worker.clone()?;
    let place = match worker.strip_prefix("remote:") {
        Some(name) => format!("on the remote backend {name}"),
        None => format!("on {worker}"),
    };
    let cost = if s.gpu_seconds > 0.0 {
        format!(" · {:.0} GPU-seconds, ${:.4}", s.gpu_seconds, s.cost_usd)
    } else {
        String::new()
    };
    Some(view! {
        <p class="muted" id="reconstruct-worker" data-worker=worker>{format!("Runs {place}{cost}")}</p>
    })
}

/// The panel: quality choice, Reconstruct, progress, result; sets `has_scene` once it shows
/// one (the page then drops the sparse cloud's viewer).
pub fn reconstruct_panel(key: String, project: String, has_scene: RwSignal<bool>) -> impl IntoView {
    let (owner_key, owner_project) = (key.clone(), project.clone());
    let quality = RwSignal::new(Quality::Medium);
    let status = RwSignal::new(None::<JobStatusBody>);
    let problem = RwSignal::new(None::<Problem>);
    let result = RwSignal::new(None::<Result3d>);
    let running =
        Memo::new(move |_| status.with(|s| s.as_ref().is_some_and(|s| !s.status.is_final())));

    // Follows `job` until it ends, then shows the scene.
    let follow = {
        let (key, project) = (key.clone(), project.clone());
        move |job: String| {
            let (key, project) = (key.clone(), project.clone());
            spawn_local(async move {
                let Ok(ep) = endpoint().await else {
                    problem.try_set(Some(Problem::new(
                        "The server cannot be reached. Check the connection and reload.",
                        "GET /health failed",
                    )));
                    return;
                };
                // Live: each change as the server sees it; the loop below then reads the final
                // status once (or polls, where the stream could not be followed).
                let live = |body| status.try_set(Some(body)).is_none();
                if let Err(e) = follow_job_events(&job, &key, live).await {
                    leptos::logging::log!("job {job}: following by polling ({e})");
                }
                loop {
                    let body =
                        get_json::<JobStatusBody>(&format!("/v2/{ep}/status/{job}"), &key).await;
                    let body = match body {
                        Ok(b) => b,
                        Err(e) => {
                            if let Some(s) = storage() {
                                let _ = s.remove_item(&job_storage_key(&project));
                            }
                            problem.try_set(Some(Problem::new(
                                "The reconstruction's progress could not be read.",
                                e,
                            )));
                            return;
                        }
                    };
                    let done = body.status.is_final();
                    let outcome = body.status;
                    // Without an error text (a cancelled job), the status says what happened.
                    let error = body
                        .error
                        .clone()
                        .unwrap_or_else(|| body.status.to_string());
                    if status.try_set(Some(body)).is_some() {
                        return; // The page is gone.
                    }
                    if done {
                        if let Some(s) = storage() {
                            let _ = s.remove_item(&job_storage_key(&project));
                        }
                        if outcome == JobStatus::Completed {
                            match load_result(&key, &project).await {
                                Ok(r) => {
                                    result.try_set(r);
                                }
                                Err(e) => {
                                    problem.try_set(Some(Problem::new(
                                        "The scene was made but could not be shown.",
                                        e,
                                    )));
                                }
                            }
                        } else {
                            problem.try_set(Some(job_failed(&error)));
                        }
                        return;
                    }
                    sleep_ms(POLL_MS).await;
                }
            });
        }
    };

    // On opening: a job this browser started and still running, and any scene already made.
    {
        let (key, project, follow) = (key.clone(), project.clone(), follow.clone());
        spawn_local(async move {
            if let Some(job) = storage()
                .and_then(|s| s.get_item(&job_storage_key(&project)).ok().flatten())
                .filter(|j| !j.is_empty())
            {
                follow(job);
            }
            match load_result(&key, &project).await {
                Ok(Some(r)) => {
                    // A newer result from a job followed meanwhile wins.
                    if result.try_get_untracked().flatten().is_none() {
                        result.try_set(Some(r));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The project's scene could not be shown.",
                        e,
                    )));
                }
            }
        });
    }

    let on_start = move |_| {
        let (key, project, follow) = (key.clone(), project.clone(), follow.clone());
        problem.set(None);
        let q = quality.get_untracked();
        spawn_local(async move {
            match start_job(&key, &project, q).await {
                Ok(job) => {
                    if let Some(s) = storage() {
                        let _ = s.set_item(&job_storage_key(&project), &job);
                    }
                    follow(job);
                }
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The reconstruction could not be started.",
                        e,
                    )));
                }
            }
        });
    };
    Effect::new(move |_| {
        if result.with(Option::is_some) {
            has_scene.set(true);
        }
    });
    let state = move || {
        status.with(|s| match s.as_ref().map(|s| s.status) {
            None => "idle",
            Some(JobStatus::InQueue) => "queued",
            Some(JobStatus::InProgress) => "running",
            Some(JobStatus::Completed) => "completed",
            Some(_) => "failed",
        })
    };
    view! {
        <section class="card" id="reconstruct" data-state=state
            data-shown=move || result.with(|r| r.as_ref().map_or(0, |r| r.stamp).to_string())>
            {card_intro(
                "Reconstruct",
                concat!(
                    "Turns the photos into a 3D scene on the server: features, camera poses, ",
                    "training, then the scene files and a thumbnail.",
                ),
            )}
            <div class="form-row">
                {quality_select("reconstruct-quality", quality)}
                <button
                    type="button"
                    class="button-like"
                    id="reconstruct-start"
                    disabled=move || running.get()
                    on:click=on_start
                >
                    "Reconstruct"
                </button>
            </div>
            {move || status.get().map(|s| {
                let stage = s.stage.clone().unwrap_or_else(|| "queued".into());
                let message = s.message.clone().unwrap_or_default();
                view! {
                    <p id="reconstruct-progress" role="status"
                        data-stage=stage.clone() data-percent=format!("{:.0}", s.progress)>
                        {format!("{stage} · {:.0} %", s.progress)}
                    </p>
                    <progress max="100" value=s.progress.to_string()></progress>
                    <p class="muted" id="reconstruct-message">{message}</p>
                    {where_and_cost(&s)}
                }
            })}
            {move || problem.get().map(|p| problem_view("reconstruct-error", p))}
            // Rebuilt only for a new result.
            {move || result.get().map(|r| {
                let feed = SceneFeed::default();
                let viewer = viewer_view(SceneSource::Feed(feed.clone()));
                feed.show_from(r.scene, r.start.start_view, r.start.up_axis);
                let controls = start_view_controls(
                    owner_key.clone(),
                    owner_project.clone(),
                    feed,
                    r.start,
                );
                view! { {viewer} {controls} }
            })}
        </section>
    }
}
