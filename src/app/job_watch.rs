//! Following a server job from the viewer (`/view?job=ID`): its stage, progress and message, and
//! for a training job the `scene.ply` preview the job refreshes at every checkpoint, shown in
//! the viewer as each one arrives (the person's view is kept), then the final scene.
//!
//! Uses the API key this browser remembers (saved by the capture page's "Send to the server").

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{ArtifactList, JobStatus, JobStatusBody};
use splatpod::formats::load_scene;

use super::client::{endpoint, get_artifact, get_json, net, saved_key, sleep_ms};
use super::viewer::SceneFeed;

/// Seconds between status polls.
const POLL_MS: i32 = 2000;

/// The artifact a training job refreshes.
const PREVIEW: &str = "scene.ply";

/// What the panel shows.
#[derive(Clone, Copy)]
struct JobUi {
    /// `data-state`: `starting`, `queued`, `running`, `completed`, `failed`, `cancelled`,
    /// `timed-out`.
    state: RwSignal<&'static str>,
    line: RwSignal<String>,
    progress: RwSignal<f64>,
    /// Previews shown so far.
    previews: RwSignal<u32>,
    /// (what happened and what to do, technical detail).
    problem: RwSignal<Option<(String, String)>>,
}

fn state_of(s: JobStatus) -> &'static str {
    match s {
        JobStatus::InQueue => "queued",
        JobStatus::InProgress => "running",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
        JobStatus::TimedOut => "timed-out",
    }
}

/// Downloads the project's preview scene and shows it; the error is for the detail line.
async fn show_preview(key: &str, project: &str, feed: &SceneFeed) -> Result<(), String> {
    let response = get_artifact(key, project, PREVIEW).await.map_err(net)?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let bytes = response.binary().await.map_err(|e| e.to_string())?;
    let scene = load_scene(&bytes, Some(PREVIEW)).map_err(|e| e.to_string())?;
    feed.show(scene, None);
    Ok(())
}

/// Polls the job until it ends, updating `ui` and pushing each new preview into `feed`.
async fn follow(job: String, feed: SceneFeed, ui: JobUi) {
    let fail = |plain: &str, detail: String| {
        ui.problem.try_set(Some((plain.to_string(), detail)));
    };
    let Some(key) = saved_key() else {
        ui.state.set("failed");
        return fail(
            "This browser has no API key for the server. Enter it under \"Send to the server\" \
             on the capture page, then open this page again.",
            "no key in local storage".into(),
        );
    };
    let endpoint = match endpoint().await {
        Ok(e) => e,
        Err(e) => {
            ui.state.set("failed");
            return fail(
                "The server cannot be reached. Check the connection and reload.",
                e,
            );
        }
    };
    // (created_at, bytes) of the preview shown last.
    let mut shown: Option<(i64, i64)> = None;
    loop {
        let status = get_json::<JobStatusBody>(&format!("/v2/{endpoint}/status/{job}"), &key).await;
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                ui.state.try_set("failed");
                return fail(
                    "The job's status could not be read: the job may not exist, or the key may \
                     not be allowed to see it.",
                    e,
                );
            }
        };
        let stage = status.stage.clone().unwrap_or_else(|| status.task.clone());
        let message = status.message.clone().unwrap_or_default();
        if ui
            .line
            .try_set(
                format!("{stage}: {message}")
                    .trim_end_matches(": ")
                    .to_string(),
            )
            .is_some()
        {
            return; // The page is gone.
        }
        ui.progress.set(status.progress);
        ui.state.set(state_of(status.status));
        if let Some(project) = &status.project_id {
            let list =
                get_json::<ArtifactList>(&format!("/api/projects/{project}/artifacts"), &key).await;
            let version = list.ok().and_then(|l| {
                l.artifacts
                    .into_iter()
                    .find(|a| a.name == PREVIEW && a.job_id.as_deref() == Some(job.as_str()))
                    .map(|a| (a.created_at, a.bytes))
            });
            if version.is_some() && version != shown {
                match show_preview(&key, project, &feed).await {
                    Ok(()) => {
                        shown = version;
                        ui.previews.update(|n| *n += 1);
                    }
                    Err(e) => fail(
                        "The latest preview could not be shown; the next one will be tried.",
                        e,
                    ),
                }
            }
        }
        if status.status.is_final() {
            if status.status != JobStatus::Completed {
                fail(
                    match status.status {
                        JobStatus::Cancelled => "The job was cancelled.",
                        JobStatus::TimedOut => "The job ran out of time.",
                        _ => "The job failed. Its last preview, if any, stays on screen.",
                    },
                    status.error.unwrap_or_default(),
                );
            }
            return;
        }
        sleep_ms(POLL_MS).await;
    }
}

/// The panel above the viewer while following job `job`.
pub fn job_panel(job: String, feed: SceneFeed) -> impl IntoView {
    let ui = JobUi {
        state: RwSignal::new("starting"),
        line: RwSignal::new("Asking the server about the job…".into()),
        progress: RwSignal::new(0.0),
        previews: RwSignal::new(0),
        problem: RwSignal::new(None),
    };
    spawn_local(follow(job.clone(), feed, ui));
    view! {
        <section class="card" id="job-watch" data-state=move || ui.state.get()
            data-previews=move || ui.previews.get().to_string()>
            <h2>{format!("Job {job}")}</h2>
            <p id="job-line" role="status">
                {move || format!("{} · {:.0} %", ui.line.get(), ui.progress.get())}
            </p>
            <progress max="100" value=move || ui.progress.get().to_string()></progress>
            <p class="muted">
                {move || match ui.previews.get() {
                    0 => "The scene appears below when the job stores its first preview.".into(),
                    n => format!("Preview {n} shown; it refreshes at each checkpoint."),
                }}
            </p>
            {move || ui.problem.get().map(|(plain, detail)| view! {
                <div class="warn" id="job-error" role="alert">
                    <p>{plain}</p>
                    <details><summary>"Details"</summary><code>{detail}</code></details>
                </div>
            })}
        </section>
    }
}
