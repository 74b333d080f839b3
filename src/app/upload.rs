//! "Send to the server" on the capture page, then matching: on a desktop it creates a project
//! with the API key kept in this browser and hands the capture to the upload queue; on a paired
//! phone the photos already go to the paired project and no key is asked for; an unpaired phone
//! is pointed to pairing (a key field only on request). Either way, once
//! the photos are there it starts a `features` job and follows it to the end, with plain words
//! when something fails.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use splatpod::api::{
    FeaturesOutput, JobAccepted, JobInput, JobStatus, JobStatusBody, NewProject, Project, Quality,
    RunRequest, Task,
};

use super::browser_helpers::touch_first;
use super::client::{bearer, body_of, endpoint, get_json, net, sleep_ms, storage, KEY_STORAGE};
use super::pairing::{forget_pairing, saved_pairing, Pairing};
use super::photo::Upload;
use super::problem::{job_failed, problem_view, Problem};
use super::sender::Sender;
use super::widgets::{card_intro, quality_select};

/// Where the panel stands (`data-state` on `#upload-status`).
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Idle,
    Working(String),
    Done(String),
    Failed(Problem),
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

fn unreachable(detail: String) -> Problem {
    Problem::new(
        "The server cannot be reached. Check the connection and try again; your photos stay \
         on this device.",
        detail,
    )
}

/// Creates a project with the full key.
pub async fn create_project(key: &str, name: String) -> Result<Project, Problem> {
    let response = gloo_net::http::Request::post("/api/projects")
        .header("Authorization", &bearer(key))
        .json(&NewProject { name })
        .map_err(|e| Problem::new("The project could not be created.", e.to_string()))?
        .send()
        .await
        .map_err(|e| unreachable(net(e)))?;
    let status = response.status();
    body_of(response).await.map_err(|e| {
        if status == 401 || status == 403 {
            Problem::new(
                "The server refused the API key. Check it (the server's admin makes one with \
                 `splatpod-server keys create`) and try again.",
                e,
            )
        } else {
            Problem::new("The server could not create the project.", e)
        }
    })
}

/// Waits until no photo of `project` is still to be sent; the number that arrived.
async fn wait_sent(
    sender: &Rc<Sender>,
    project: &str,
    set: &impl Fn(Stage, Option<f64>),
) -> Result<usize, Problem> {
    loop {
        let counts = sender.photos.try_with_untracked(|ps| {
            let mine = ps.iter().filter(|p| p.project.as_deref() == Some(project));
            let (mut sent, mut pending) = (0, 0);
            for p in mine {
                match p.upload {
                    Upload::Sent => sent += 1,
                    ref u if u.pending() => pending += 1,
                    _ => {}
                }
            }
            (sent, pending)
        });
        let Some((sent, pending)) = counts else {
            return Err(Problem::new("The page was closed.", "page left"));
        };
        if pending == 0 {
            return Ok(sent);
        }
        if sender.stopped() {
            return Err(sender.problem.get_untracked().unwrap_or_else(|| {
                Problem::new("Sending the photos stopped.", "the upload queue stopped")
            }));
        }
        set(
            Stage::Working(format!(
                "Sending photos: {sent} of {} sent…",
                sent + pending
            )),
            Some(100.0 * sent as f64 / (sent + pending) as f64),
        );
        sleep_ms(300).await;
    }
}

/// Starts the features job on `project` and follows it to its end.
async fn run_features(
    token: &str,
    project: String,
    quality: Quality,
    sent: usize,
    set: &impl Fn(Stage, Option<f64>),
) -> Result<String, Problem> {
    if sent < 2 {
        return Err(Problem::new(
            "At least two photos must reach the server before matching. Take more photos.",
            format!("{sent} photos on the server"),
        ));
    }
    let auth = bearer(token);
    let endpoint = endpoint().await.map_err(unreachable)?;
    let request = RunRequest::new(JobInput::for_project(Task::Features, project, quality));
    let job: JobAccepted = body_of(
        gloo_net::http::Request::post(&format!("/v2/{endpoint}/run"))
            .header("Authorization", &auth)
            .json(&request)
            .map_err(|e| Problem::new("The job could not be started.", e.to_string()))?
            .send()
            .await
            .map_err(|e| unreachable(net(e)))?,
    )
    .await
    .map_err(|e| {
        Problem::new(
            "The server did not start the job. Try again in a moment.",
            e,
        )
    })?;
    let mut misses = 0;
    loop {
        sleep_ms(500).await;
        let status =
            get_json::<JobStatusBody>(&format!("/v2/{endpoint}/status/{}", job.id), token).await;
        let s = match status {
            Ok(s) => s,
            // The job runs on the server either way: keep asking through short drops.
            Err(e) if misses < 20 => {
                misses += 1;
                set(
                    Stage::Working(format!("Waiting for the server to answer ({e})…")),
                    None,
                );
                sleep_ms(1000).await;
                continue;
            }
            Err(e) => return Err(unreachable(e)),
        };
        misses = 0;
        match s.status {
            JobStatus::Completed => return Ok(summary(s.output)),
            st if st.is_final() => {
                return Err(job_failed(&format!(
                    "the job ended {st}: {}",
                    s.error.as_deref().unwrap_or("no reason given")
                )))
            }
            st => {
                let line = format!(
                    "{sent} photos on the server. Matching {}: {}",
                    if st == JobStatus::InQueue {
                        "is queued"
                    } else {
                        "runs"
                    },
                    s.message.as_deref().unwrap_or("")
                );
                set(Stage::Working(line), Some(s.progress));
            }
        }
    }
}

/// The status line with progress and, on failure, the problem.
fn status_view(stage: RwSignal<Stage>, progress: RwSignal<Option<f64>>) -> impl IntoView {
    let busy = move || matches!(stage.get(), Stage::Working(_));
    view! {
        <progress
            id="upload-progress"
            max="100"
            hidden=move || !busy()
            prop:value=move || progress.get().unwrap_or(0.0)
        ></progress>
        <div
            id="upload-status"
            data-state=move || stage.with(Stage::as_str)
            class=move || match stage.get() {
                Stage::Done(_) => "ok",
                Stage::Failed(_) => "",
                _ => "muted",
            }
            role="status"
        >
            {move || match stage.get() {
                Stage::Idle => ().into_any(),
                Stage::Working(s) | Stage::Done(s) => view! { <p>{s}</p> }.into_any(),
                Stage::Failed(p) => problem_view("upload-error", p).into_any(),
            }}
        </div>
    }
}

/// The quality choice and the button (`label`) that starts matching, disabled while a run is
/// working: the same controls on a paired phone and on a desktop.
fn start_controls(
    quality: RwSignal<Quality>,
    stage: RwSignal<Stage>,
    label: &'static str,
    on_start: impl FnMut(web_sys::MouseEvent) + 'static,
) -> impl IntoView {
    let busy = move || matches!(stage.get(), Stage::Working(_));
    view! {
        {quality_select("upload-quality", quality)}
        <button
            type="button"
            class="button-like primary"
            id="upload-start"
            disabled=busy
            on:click=on_start
        >
            {label}
        </button>
    }
}

/// A paired phone: photos go to the paired project as they are taken; no key anywhere.
fn paired_panel(sender: Rc<Sender>, pairing: Pairing) -> impl IntoView {
    let quality = RwSignal::new(Quality::Medium);
    let stage = RwSignal::new(Stage::Idle);
    let progress = RwSignal::new(None::<f64>);
    let project = pairing.project_id.clone();
    let on_start = move |_| {
        let (sender, project, token) = (Rc::clone(&sender), project.clone(), pairing.token.clone());
        let q = quality.get_untracked();
        progress.set(None);
        spawn_local(async move {
            let set = move |s: Stage, p: Option<f64>| {
                stage.try_set(s);
                progress.try_set(p);
            };
            sender.kick();
            let result = match wait_sent(&sender, &project, &set).await {
                Ok(sent) => run_features(&token, project, q, sent, &set).await,
                Err(p) => Err(p),
            };
            stage.try_set(match result {
                Ok(msg) => Stage::Done(msg),
                Err(p) => Stage::Failed(p),
            });
        });
    };
    let on_unpair = move |_| {
        forget_pairing();
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    };
    view! {
        <section class="card upload" id="upload" data-mode="paired">
            {card_intro(
                "Match on the server",
                concat!(
                    "Your photos go to the project as you take them. When you have walked all the ",
                    "way around, start matching: the server finds how the photos fit together.",
                ),
            )}
            <div class="form-row">
                {start_controls(quality, stage, "Start matching", on_start)}
            </div>
            {status_view(stage, progress)}
            <button type="button" class="button-like quiet" id="unpair" on:click=on_unpair>
                "Unpair this phone"
            </button>
        </section>
    }
}

/// A desktop: the API key, a project name, and "Upload and match".
fn desktop_panel(sender: Rc<Sender>) -> impl IntoView {
    let key = RwSignal::new(
        storage()
            .and_then(|s| s.get_item(KEY_STORAGE).ok().flatten())
            .unwrap_or_default(),
    );
    let name = RwSignal::new(String::new());
    let quality = RwSignal::new(Quality::Medium);
    let stage = RwSignal::new(Stage::Idle);
    let progress = RwSignal::new(None::<f64>);
    let project_id = RwSignal::new(None::<String>);

    let on_start = move |_| {
        let k = key.get_untracked().trim().to_owned();
        if k.is_empty() {
            stage.set(Stage::Failed(Problem::new(
                "Enter the server's API key first (the server's admin makes one with \
                 `splatpod-server keys create`).",
                "no API key",
            )));
            return;
        }
        if let Some(s) = storage() {
            let _ = s.set_item(KEY_STORAGE, &k);
        }
        let photos = sender.photos.with_untracked(|ps| {
            ps.iter()
                .filter(|p| !matches!(p.upload, Upload::Rejected(_)))
                .count()
        });
        if photos < 2 {
            stage.set(Stage::Failed(Problem::new(
                "Take or choose at least two photos first.",
                format!("{photos} photos in this capture"),
            )));
            return;
        }
        let n = name.get_untracked().trim().to_owned();
        let n = if n.is_empty() {
            "Capture".to_owned()
        } else {
            n
        };
        let q = quality.get_untracked();
        progress.set(None);
        let sender = Rc::clone(&sender);
        spawn_local(async move {
            let set = move |s: Stage, p: Option<f64>| {
                stage.try_set(s);
                progress.try_set(p);
            };
            set(Stage::Working("Contacting the server…".into()), None);
            let result = async {
                // Sending again (after a dropped connection) goes on with the same project.
                let project = match sender.desktop_project() {
                    Some(id) => id,
                    None => create_project(&k, n).await?.id,
                };
                project_id.try_set(Some(project.clone()));
                sender.send_all_to(&project).await;
                let sent = wait_sent(&sender, &project, &set).await?;
                run_features(&k, project, q, sent, &set).await
            }
            .await;
            stage.try_set(match result {
                Ok(msg) => Stage::Done(msg),
                Err(p) => Stage::Failed(p),
            });
        });
    };

    view! {
        <section class="card upload" id="upload" data-mode="desktop">
            <h3>"Send to the server"</h3>
            <p id="upload-phone-hint">
                "On a phone? No key needed: open a project on your desktop, press \"Pair a "
                "phone\" and scan the code. Photos you take before that stay on this phone and "
                "go to that project once it is paired."
            </p>
            <p class="muted">
                "On a desktop: uploads this capture to a new project with your API key and finds "
                "features and matches on the server's GPU."
            </p>
            <div class="form-row">
                <label class="field">
                    "API key"
                    <input
                        type="password"
                        id="upload-key"
                        autocomplete="off"
                        prop:value=move || key.get()
                        on:input=move |ev| key.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    "Project"
                    <input
                        type="text"
                        id="upload-name"
                        placeholder="Capture"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                {start_controls(quality, stage, "Upload and match", on_start)}
            </div>
            {status_view(stage, progress)}
            {move || project_id.get().map(|id| view! {
                <p>
                    <A href=format!("/project/{id}") attr:id="upload-project">
                        "Open the project page"
                    </A>
                    " to pair a phone and add photos from it."
                </p>
            })}
        </section>
    }
}

/// An unpaired phone: its photos wait on it for a pairing; no key field unless asked for.
fn unpaired_phone_panel(sender: Rc<Sender>) -> impl IntoView {
    let use_key = RwSignal::new(false);
    let sender = StoredValue::new_local(sender);
    move || {
        if use_key.get() {
            return desktop_panel(sender.get_value()).into_any();
        }
        view! {
            <section class="card upload" id="upload" data-mode="phone">
                <h3>"Send to a project"</h3>
                <p id="upload-phone-hint">
                    "Your photos stay on this phone until it is paired with a project. On your "
                    "desktop, open the project, press \"Pair a phone\" and scan the code with "
                    "this phone: the photos are sent there, and no key is needed here."
                </p>
                <button
                    type="button"
                    class="button-like quiet"
                    id="upload-use-key"
                    on:click=move |_| use_key.set(true)
                >
                    "Use an API key on this device instead"
                </button>
            </section>
        }
        .into_any()
    }
}

/// The panel below the capture: a paired phone's, an unpaired phone's or a desktop's.
#[component]
pub fn UploadPanel(sender: Rc<Sender>) -> impl IntoView {
    match saved_pairing() {
        Some(p) if !p.expired() => paired_panel(sender, p).into_any(),
        Some(_) => view! {
            <section class="card upload" id="upload" data-mode="pairing-ended">
                <p>
                    "Scan a new QR code on the desktop's project page to send this phone's "
                    "photos, or unpair to send them with an API key from this device."
                </p>
                <button type="button" class="button-like quiet" id="unpair" on:click=|_| {
                    forget_pairing();
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }>"Unpair this phone"</button>
            </section>
        }
        .into_any(),
        None if touch_first() => unpaired_phone_panel(sender).into_any(),
        None => desktop_panel(sender).into_any(),
    }
}
