//! The viewer's page and view: `/view` (file picker, URL field, `?url=`, `?job=`), the
//! [`SceneFeed`] handle other pages use to push scenes in, and [`viewer_view`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use glam::Vec3;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use splatpod::api::{StartView, UpAxis};
use splatpod::formats::GaussianScene;

use super::frame_loop::run_loop;
use super::loading::group_digits;
use super::{GpuState, Ui, Viewer};

/// The `/view` page; with `?job=ID` it follows that server job and shows its previews.
#[component]
pub fn ViewerPage() -> impl IntoView {
    match use_query_map().with_untracked(|q| q.get("job")) {
        Some(job) => {
            let feed = SceneFeed::default();
            view! {
                {crate::job_watch::job_panel(job, feed.clone())}
                {viewer_view(SceneSource::Feed(feed))}
            }
            .into_any()
        }
        None => viewer_view(SceneSource::Picker).into_any(),
    }
}

/// What a viewer shows.
pub enum SceneSource {
    /// Whatever the person opens (file picker, URL field or `?url=`).
    Picker,
    /// One scene at a fixed URL (a share link), read-only: no file or URL controls; seen first
    /// from the start view, if given, else framed about the up axis.
    Fixed(String, Option<StartView>, UpAxis),
    /// Scenes pushed by the page through the [`SceneFeed`] (training in the browser), no file
    /// or URL controls.
    Feed(SceneFeed),
}

/// A page's handle to push scenes into a viewer it embeds.
#[derive(Clone, Default)]
pub struct SceneFeed(Rc<RefCell<Option<Rc<Viewer>>>>);

impl SceneFeed {
    /// The viewer, while it and its page are there.
    fn viewer(&self) -> Option<Rc<Viewer>> {
        let viewer = self.0.borrow().clone()?;
        viewer
            .ui
            .gpu
            .try_get_untracked()
            .is_some()
            .then_some(viewer)
    }

    /// Shows `scene` seen first from `start` (the owner's view or a capture camera), else
    /// framed about `up`; false when the viewer is gone.
    pub fn show_from(&self, scene: GaussianScene, start: Option<StartView>, up: UpAxis) -> bool {
        let Some(viewer) = self.viewer() else {
            return false;
        };
        viewer.ui.error.set(None);
        viewer.start.set(start);
        viewer.frame_up.set(Vec3::from(up.vector()));
        viewer.install(scene, true);
        true
    }

    /// The camera now, as a start view to save; none before a scene is shown.
    pub fn current_view(&self) -> Option<StartView> {
        let viewer = self.viewer()?;
        viewer.home.get()?;
        Some(viewer.orbit.get().start_view())
    }

    /// Makes `start` the view "Reset view" returns to, without moving the camera.
    pub fn set_start(&self, start: Option<StartView>) {
        if let Some(viewer) = self.viewer() {
            viewer.start.set(start);
        }
    }

    /// Forgets the start view and frames the scene about `up` at once.
    pub fn reorient(&self, up: UpAxis) {
        if let Some(viewer) = self.viewer() {
            viewer.start.set(None);
            viewer.frame_up.set(Vec3::from(up.vector()));
            viewer.reset_view();
        }
    }

    /// Shows `scene` (uploading it to the viewer's GPU; kept until the GPU is ready). With
    /// `frame`, the camera frames that box (`lo`, `hi`); without, the person's view is kept.
    /// False when the viewer is gone.
    pub fn show(&self, scene: GaussianScene, frame: Option<(Vec3, Vec3)>) -> bool {
        let Some(viewer) = self.viewer() else {
            return false;
        };
        viewer.ui.error.set(None);
        match frame {
            Some(b) => viewer.install_framed(scene, b, true),
            None => viewer.install(scene, false),
        }
        true
    }
}

/// The viewer, showing `source`.
pub fn viewer_view(source: SceneSource) -> impl IntoView {
    let controls = matches!(source, SceneSource::Picker);
    let idle_status = match &source {
        SceneSource::Feed(_) => "The scene appears here as it trains.",
        _ => "Open a .ply, .spz or .splat file, or load one from a URL.",
    };
    let ui = Ui {
        status: RwSignal::new(idle_status.into()),
        error: RwSignal::new(None),
        splats: RwSignal::new(None),
        frame_ms: RwSignal::new(None),
        frames: RwSignal::new(0),
        gpu: RwSignal::new(GpuState::Checking),
        url: RwSignal::new(String::new()),
        rendering: RwSignal::new(false),
    };
    let viewer = Viewer::new(ui);
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();

    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = Arc::clone(&alive);
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    {
        let viewer = Rc::clone(&viewer);
        canvas_ref.on_load(move |canvas| {
            spawn_local(Rc::clone(&viewer).open_gpu(canvas));
            run_loop(viewer, alive);
        });
    }
    // `?url=...` opens a scene directly (also when only the query changes, e.g. a link from
    // one scene to another).
    let query = use_query_map();
    match source {
        SceneSource::Fixed(url, start, up) => {
            viewer.start.set(start);
            viewer.frame_up.set(Vec3::from(up.vector()));
            spawn_local(Rc::clone(&viewer).load_url(url));
        }
        // The feed lets go of the viewer when the page's signals are gone (see `show`).
        SceneSource::Feed(feed) => *feed.0.borrow_mut() = Some(Rc::clone(&viewer)),
        SceneSource::Picker => {
            let viewer = Rc::clone(&viewer);
            Effect::new(move |_| {
                if let Some(url) = query.with(|q| q.get("url")) {
                    ui.url.set(url.clone());
                    spawn_local(Rc::clone(&viewer).load_url(url));
                }
            });
        }
    }

    let on_file = {
        let viewer = Rc::clone(&viewer);
        move |ev: web_sys::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                spawn_local(Rc::clone(&viewer).load_file(file));
            }
        }
    };
    let on_url = {
        let viewer = Rc::clone(&viewer);
        move |ev: web_sys::SubmitEvent| {
            ev.prevent_default();
            spawn_local(Rc::clone(&viewer).load_url(ui.url.get_untracked()));
        }
    };
    let on_reset = on_event(&viewer, |v, _: &web_sys::MouseEvent| v.reset_view());
    let on_down = on_event(&viewer, Viewer::pointer_down);
    let on_move = on_event(&viewer, Viewer::pointer_move);
    let on_up = on_event(&viewer, Viewer::pointer_up);
    let on_cancel = on_event(&viewer, Viewer::pointer_up);
    let on_lost = on_event(&viewer, Viewer::pointer_up);
    let on_wheel = on_event(&viewer, Viewer::wheel);
    let on_key_down = on_event(&viewer, |v, ev: &web_sys::KeyboardEvent| v.key(ev, true));
    let on_key_up = on_event(&viewer, |v, ev: &web_sys::KeyboardEvent| v.key(ev, false));
    let on_blur = on_event(&viewer, |v, _: &web_sys::FocusEvent| {
        v.keys.borrow_mut().clear()
    });

    view! {
        <section class="viewer" id="viewer" data-gpu=move || ui.gpu.get().as_str()>
            <div class="viewer-bar">
                <label class="file-pick" hidden=!controls>
                    "Open file "
                    <input type="file" id="scene-file" accept=".ply,.spz,.splat" on:change=on_file />
                </label>
                <form class="url-load" on:submit=on_url hidden=!controls>
                    <input
                        type="text"
                        inputmode="url"
                        id="scene-url"
                        placeholder="URL of a .ply, .spz or .splat file"
                        aria-label="Scene URL"
                        prop:value=move || ui.url.get()
                        on:input=move |ev| ui.url.set(event_target_value(&ev))
                    />
                    <button type="submit" id="scene-load">"Load"</button>
                </form>
                <button type="button" id="reset-view" on:click=on_reset>"Reset view"</button>
            </div>
            <p id="viewer-status" class="muted">{move || ui.status.get()}</p>
            {move || ui.error.get().map(|e| view! {
                <div class="warn viewer-error" id="viewer-error" role="alert" data-kind=e.kind>
                    {e.message}
                </div>
            })}
            <canvas
                id="viewer-canvas"
                node_ref=canvas_ref
                tabindex="0"
                data-state=move || if ui.rendering.get() { "rendering" } else { "idle" }
                aria-label="3D view: drag to orbit, right-drag or Shift-drag to pan, wheel or pinch to zoom, W A S D Q E to fly"
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_cancel
                on:lostpointercapture=on_lost
                on:wheel=on_wheel
                on:keydown=on_key_down
                on:keyup=on_key_up
                on:blur=on_blur
                on:contextmenu=|ev: web_sys::MouseEvent| ev.prevent_default()
            ></canvas>
            <div class="viewer-readout">
                <span id="splat-count">
                    {move || ui.splats.get().map(|n| format!("{} splats", group_digits(n)))}
                </span>
                <span id="frame-time" data-frames=move || ui.frames.get().to_string()>
                    {move || match ui.frame_ms.get() {
                        Some(ms) => format!("{ms:.1} ms"),
                        None => "– ms".to_owned(),
                    }}
                </span>
            </div>
            <p class="muted viewer-help">
                "Drag to orbit · right-drag or Shift-drag to pan · wheel or pinch to zoom · "
                "W A S D to fly, Q E down and up (click the view first)."
            </p>
        </section>
    }
}

/// An event handler that passes each event to `handle` with the viewer.
fn on_event<E>(
    viewer: &Rc<Viewer>,
    handle: impl Fn(&Viewer, &E) + 'static,
) -> impl Fn(E) + 'static {
    let viewer = Rc::clone(viewer);
    move |ev| handle(&viewer, &ev)
}
