//! "Send to the server" on the capture page: creates a project on the Splatpod server, uploads
//! the captured photos (the server checks each one), starts a `features` job and shows its stage
//! and progress until it ends. The API key is kept in this browser's local storage.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{
    FeaturesOutput, Health, JobAccepted, JobInput, JobStatus, JobStatusBody, NewProject, Project,
    Quality, RunRequest, Task, UploadResult,
};

use super::client::{body_of, net, sleep_ms, storage, KEY_STORAGE};

/// Where the upload stands (`data-state` on `#upload-status`).
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Idle,
    Working(String),
    Done(String),
    Failed(String),
}

impl Stage {
    fn as_str(&self) -> &'static str {
        match self {
            Stage::Idle => "idle",
            Stage::Working(_) => "working",
            Stage::Done(_) => "done",
            Stage::Failed(_) => "failed",
        }
    }
}

/// Summary of a finished features job for the status line.
fn summary(output: Option<serde_json::Value>) -> String {
    let Some(output) = output.and_then(|v| serde_json::from_value::<FeaturesOutput>(v).ok()) else {
        return "Done (the server sent no readable summary).".into();
    };
    let mut per_pair = output.matches_per_pair.clone();
    per_pair.sort_unstable();
    let median = per_pair.get(per_pair.len() / 2).copied().unwrap_or(0);
    format!(
        "Done: {} photos, {} pairs matched (median {} matches per pair). Project {}.",
        output.images, output.pairs, median, output.project_id
    )
}

/// Runs the whole upload; `set` reports each step.
async fn send(
    key: String,
    name: String,
    quality: Quality,
    files: Vec<web_sys::File>,
    set: impl Fn(Stage, Option<f64>),
) -> Result<String, String> {
    let auth = format!("Bearer {key}");
    set(Stage::Working("Contacting the server…".into()), None);
    let health: Health = body_of(
        gloo_net::http::Request::get("/health")
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    let endpoint = health.endpoint;
    let project: Project = body_of(
        gloo_net::http::Request::post("/api/projects")
            .header("Authorization", &auth)
            .json(&NewProject { name })
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    let project_id = project.id;

    set(
        Stage::Working(format!("Uploading {} photos…", files.len())),
        None,
    );
    let form = web_sys::FormData::new().map_err(|_| "FormData is not available".to_string())?;
    for f in &files {
        form.append_with_blob_and_filename("images", f, &f.name())
            .map_err(|_| format!("cannot add {} to the upload", f.name()))?;
    }
    let uploaded: UploadResult = body_of(
        gloo_net::http::Request::post(&format!("/api/projects/{project_id}/images"))
            .header("Authorization", &auth)
            .body(form)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    let stored = uploaded.stored + uploaded.duplicates;
    let rejected = uploaded.rejected;
    if stored < 2 {
        return Err(format!(
            "only {stored} usable photos reached the server ({rejected} rejected); at least two are needed"
        ));
    }

    let request = RunRequest {
        input: JobInput {
            project_id: Some(project_id),
            quality: Some(quality),
            ..JobInput::new(Task::Features)
        },
        webhook: None,
        policy: None,
        s3_config: None,
    };
    let job: JobAccepted = body_of(
        gloo_net::http::Request::post(&format!("/v2/{endpoint}/run"))
            .header("Authorization", &auth)
            .json(&request)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    loop {
        sleep_ms(500).await;
        let s: JobStatusBody = body_of(
            gloo_net::http::Request::get(&format!("/v2/{endpoint}/status/{}", job.id))
                .header("Authorization", &auth)
                .send()
                .await
                .map_err(net)?,
        )
        .await?;
        match s.status {
            JobStatus::Completed => return Ok(summary(s.output)),
            st if st.is_final() => {
                return Err(format!(
                    "the job ended {st}: {}",
                    s.error.as_deref().unwrap_or("no reason given")
                ))
            }
            st => {
                let line = format!(
                    "{} photos stored{}. Job {}: {}",
                    stored,
                    if rejected > 0 {
                        format!(", {rejected} rejected")
                    } else {
                        String::new()
                    },
                    if st == JobStatus::InQueue {
                        "queued"
                    } else {
                        "running"
                    },
                    s.message.as_deref().unwrap_or("")
                );
                set(Stage::Working(line), Some(s.progress));
            }
        }
    }
}

/// The panel; `files` returns the photos of the current capture.
#[component]
pub fn UploadPanel(files: Rc<dyn Fn() -> Vec<web_sys::File>>) -> impl IntoView {
    let key = RwSignal::new(
        storage()
            .and_then(|s| s.get_item(KEY_STORAGE).ok().flatten())
            .unwrap_or_default(),
    );
    let name = RwSignal::new(String::new());
    let quality = RwSignal::new("medium".to_string());
    let stage = RwSignal::new(Stage::Idle);
    let progress = RwSignal::new(None::<f64>);
    let busy = move || matches!(stage.get(), Stage::Working(_));

    let on_start = move |_| {
        let k = key.get_untracked().trim().to_owned();
        if k.is_empty() {
            stage.set(Stage::Failed(
                "Enter an API key (the server's admin makes one with `splatpod-server keys create`)."
                    .into(),
            ));
            return;
        }
        if let Some(s) = storage() {
            let _ = s.set_item(KEY_STORAGE, &k);
        }
        let photos = files();
        if photos.len() < 2 {
            stage.set(Stage::Failed(
                "Take or choose at least two photos first.".into(),
            ));
            return;
        }
        let n = name.get_untracked().trim().to_owned();
        let n = if n.is_empty() {
            "Capture".to_owned()
        } else {
            n
        };
        let q = Quality::from_name(&quality.get_untracked()).unwrap_or_default();
        progress.set(None);
        spawn_local(async move {
            let set = move |s: Stage, p: Option<f64>| {
                stage.try_set(s);
                progress.try_set(p);
            };
            let result = send(k, n, q, photos, set).await;
            stage.try_set(match result {
                Ok(msg) => Stage::Done(msg),
                Err(e) => Stage::Failed(format!("Upload failed: {e}")),
            });
        });
    };

    view! {
        <section class="card upload" id="upload">
            <h3>"Send to the server"</h3>
            <p class="muted">
                "Uploads this capture to a new project and finds features and matches on the "
                "server's GPU."
            </p>
            <div class="upload-form">
                <label>
                    "API key "
                    <input
                        type="password"
                        id="upload-key"
                        autocomplete="off"
                        prop:value=move || key.get()
                        on:input=move |ev| key.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Project "
                    <input
                        type="text"
                        id="upload-name"
                        placeholder="Capture"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Quality "
                    <select
                        id="upload-quality"
                        prop:value=move || quality.get()
                        on:change=move |ev| quality.set(event_target_value(&ev))
                    >
                        <option value="low">"Low (fast)"</option>
                        <option value="medium" selected>"Medium"</option>
                        <option value="high">"High"</option>
                    </select>
                </label>
                <button type="button" id="upload-start" disabled=busy on:click=on_start>
                    "Upload and match"
                </button>
            </div>
            <progress
                id="upload-progress"
                max="100"
                hidden=move || !busy()
                prop:value=move || progress.get().unwrap_or(0.0)
            ></progress>
            <p
                id="upload-status"
                data-state=move || stage.with(Stage::as_str)
                class=move || match stage.get() {
                    Stage::Failed(_) => "bad",
                    Stage::Done(_) => "ok",
                    _ => "muted",
                }
                role="status"
            >
                {move || match stage.get() {
                    Stage::Idle => String::new(),
                    Stage::Working(s) | Stage::Done(s) | Stage::Failed(s) => s,
                }}
            </p>
        </section>
    }
}
