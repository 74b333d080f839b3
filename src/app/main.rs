//! The Splatpod PWA (Leptos, client-side rendered), built by Trunk for wasm32 with `--features web`.

mod browser_helpers;
mod capture;
mod capture_list;
mod client;
mod device_train;
mod job_watch;
mod pairing;
mod photo;
mod problem;
mod project;
mod projects;
mod queue;
mod reconstruct_panel;
mod recorder;
mod sender;
mod share_page;
mod share_panel;
mod sparse_panel;
mod start_view_controls;
mod status;
mod train;
mod train_run;
mod tus;
mod upload;
mod video;
mod video_panel;
mod viewer;
mod widgets;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

fn main() {
    console_error_panic_hook::set_once();
    // The static first paint of index.html, shown while this module loaded.
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    leptos::mount::mount_to_body(App);
}

/// Whether this page is the viewer-only embed (inside another site's `<iframe>`): no header.
fn is_embed() -> bool {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .is_some_and(|p| p.starts_with("/embed/"))
}

#[component]
fn App() -> impl IntoView {
    if is_embed() {
        return view! {
            <Router>
                <main class="embed">
                    <Routes fallback=|| view! { <p class="card">"Page not found."</p> }>
                        <Route path=path!("/embed/:token") view=share_page::EmbedPage />
                    </Routes>
                </main>
            </Router>
        }
        .into_any();
    }
    view! {
        <Router>
            <header class="top">
                <A href="/" attr:class="brand">"Splatpod"</A>
                <nav>
                    <A href="/">"Home"</A>
                    <A href="/capture">"Capture"</A>
                    <A href="/projects">"Projects"</A>
                    <A href="/train">"Train"</A>
                    <A href="/view">"Viewer"</A>
                    <A href="/status">"Status"</A>
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="card">"Page not found."</p> }>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/capture") view=capture::CapturePage />
                    <Route path=path!("/pair") view=pairing::PairPage />
                    <Route path=path!("/projects") view=projects::ProjectsPage />
                    <Route path=path!("/project/:id") view=project::ProjectPage />
                    <Route path=path!("/train") view=train::TrainPage />
                    <Route path=path!("/view") view=viewer::ViewerPage />
                    <Route path=path!("/status") view=status::StatusPage />
                    <Route path=path!("/s/:token") view=share_page::SharedPage />
                </Routes>
            </main>
        </Router>
    }
    .into_any()
}

#[component]
fn Home() -> impl IntoView {
    view! {
        <section class="card" id="home">
            <h2>"Photos in, 3D splats out"</h2>
            <p>
                "Walk around an object or a room with your phone. Splatpod checks each photo as you "
                "take it, reconstructs the cameras on your server, trains a 3D Gaussian-splat model "
                "and lets anyone you choose view it in the browser."
            </p>
            <A href="/capture" attr:class="button-like big camera" attr:id="home-capture">
                "Start capturing"
            </A>
            <p class="muted">
                "The "
                <A href="/capture">"capture page"</A>
                " keeps every photo on your device until your server has it, checks each one on "
                "your device's GPU, and sends them to a project: from a desktop with your API key, "
                "or from a phone paired with a project by scanning its QR code. The "
                <A href="/view">"viewer"</A>
                " opens .ply, .spz and .splat scenes today, and the "
                <A href="/status">"status page"</A>
                " shows what your browser's GPU and the server can do."
            </p>
        </section>
    }
}
