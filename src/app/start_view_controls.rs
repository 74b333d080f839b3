//! The owner's start-view controls under the project page's scene viewer (the page has the
//! full API key): "Save this view" stores the viewer's camera as the project's first view
//! (share links, embeds and the thumbnail then start there), "Forget saved view" drops it, and
//! for a scene without camera poses an up-axis choice re-orients the viewer at once and is
//! saved with the project. Each change queues a new thumbnail on the server.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{NewUpAxis, ProjectStartView, StartViewSaved, StartViewSource, UpAxis};

use super::client::{bearer, body_of, net};
use super::problem::{problem_view, Problem};
use super::viewer::SceneFeed;

/// What the up-axis choice shows for each axis.
fn axis_label(axis: UpAxis) -> &'static str {
    match axis {
        UpAxis::PosX => "+X",
        UpAxis::NegX => "−X",
        UpAxis::PosY => "+Y",
        UpAxis::NegY => "−Y (3DGS default)",
        UpAxis::PosZ => "+Z",
        UpAxis::NegZ => "−Z",
    }
}

/// The change to send.
enum Change {
    Save(splatpod::api::StartView),
    Clear,
    Up(UpAxis),
}

async fn send(key: &str, project: &str, change: &Change) -> Result<StartViewSaved, String> {
    let auth = bearer(key);
    let view_path = format!("/api/projects/{project}/start-view");
    let request = match change {
        Change::Save(v) => gloo_net::http::Request::put(&view_path)
            .header("Authorization", &auth)
            .json(v),
        Change::Clear => gloo_net::http::Request::delete(&view_path)
            .header("Authorization", &auth)
            .build(),
        Change::Up(up_axis) => {
            gloo_net::http::Request::put(&format!("/api/projects/{project}/up-axis"))
                .header("Authorization", &auth)
                .json(&NewUpAxis { up_axis: *up_axis })
        }
    }
    .map_err(|e| e.to_string())?;
    body_of(request.send().await.map_err(net)?).await
}

/// The controls for the viewer fed by `feed`, which shows the project's scene from `start`.
pub fn start_view_controls(
    key: String,
    project: String,
    feed: SceneFeed,
    start: ProjectStartView,
) -> impl IntoView {
    let current = RwSignal::new(start);
    let busy = RwSignal::new(false);
    let message = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<Problem>);
    let thumbnail_job = RwSignal::new(None::<String>);

    let apply = {
        let feed = feed.clone();
        move |change: Change, done: &'static str| {
            let (key, project, feed) = (key.clone(), project.clone(), feed.clone());
            busy.set(true);
            problem.set(None);
            message.set(String::new());
            spawn_local(async move {
                let result = send(&key, &project, &change).await;
                if busy.try_set(false).is_some() {
                    return; // The page is gone.
                }
                match result {
                    Ok(saved) => {
                        // "Reset view" returns to the new first view; the camera stays.
                        feed.set_start(saved.view.start_view);
                        current.set(saved.view);
                        thumbnail_job.set(saved.thumbnail_job);
                        message.set(done.into());
                    }
                    Err(e) => problem.set(Some(Problem::new(
                        "The project's start view could not be saved.",
                        e,
                    ))),
                }
            });
        }
    };
    let on_save = {
        let (apply, feed) = (apply.clone(), feed.clone());
        move |_| match feed.current_view() {
            Some(v) => apply(
                Change::Save(v),
                "View saved: the project page, share links and the thumbnail start here.",
            ),
            None => problem.set(Some(Problem::new(
                "There is no view to save yet.",
                "the viewer shows no scene",
            ))),
        }
    };
    let on_clear = {
        let apply = apply.clone();
        move |_| apply(Change::Clear, "Saved view forgotten.")
    };
    let on_axis = move |ev: web_sys::Event| {
        let Some(axis) = UpAxis::parse(&event_target_value(&ev)) else {
            return;
        };
        // Re-oriented at once; the server then keeps the choice.
        feed.reorient(axis);
        apply(
            Change::Up(axis),
            "Up axis saved: the view is framed about it.",
        );
    };

    let source = move || {
        current.with(|c| match c.source {
            StartViewSource::Saved => "saved",
            StartViewSource::Camera => "camera",
            StartViewSource::Framing => "framing",
        })
    };
    view! {
        <div class="start-view form-row" id="start-view" data-source=source
            data-up-axis=move || current.with(|c| c.up_axis.as_str())
            data-thumbnail-job=move || thumbnail_job.get().unwrap_or_default()
            data-busy=move || busy.get().to_string()>
            <button type="button" id="start-view-save" disabled=move || busy.get()
                on:click=on_save>
                "Save this view"
            </button>
            <button type="button" id="start-view-clear" disabled=move || busy.get()
                hidden=move || current.with(|c| c.source != StartViewSource::Saved)
                on:click=on_clear>
                "Forget saved view"
            </button>
            <label class="field" hidden=move || current.with(|c| c.has_cameras)>
                "Up axis"
                <select
                    id="up-axis"
                    disabled=move || busy.get()
                    on:change=on_axis
                >
                    {UpAxis::ALL
                        .into_iter()
                        .map(|a| view! {
                            <option value=a.as_str()
                                prop:selected=move || current.with(|c| c.up_axis == a)>
                                {axis_label(a)}
                            </option>
                        })
                        .collect_view()}
                </select>
            </label>
        </div>
        <p class="muted" id="start-view-status" role="status">{move || message.get()}</p>
        {move || problem.get().map(|p| problem_view("start-view-error", p))}
    }
}
