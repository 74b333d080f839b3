//! Status page: this browser's WebGPU adapter and the server's `/readiness`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{ErrorBody, Readiness};
use splatpod::gpu::{AdapterSummary, GpuContext};

/// What the browser offers for GPU compute.
#[derive(Clone, Debug)]
enum BrowserGpu {
    Checking,
    Ready(AdapterSummary),
    /// WebGPU is missing, or present without a usable adapter; the reason is technical detail.
    Unavailable(String),
}

/// The server's answer to `/readiness`.
#[derive(Clone, Debug)]
enum ServerState {
    Checking,
    Ready(Box<Readiness>),
    NotReady(String),
    Unreachable(String),
}

fn webgpu_exposed() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &"gpu".into()).unwrap_or(false))
        .unwrap_or(false)
}

async fn probe_browser_gpu() -> BrowserGpu {
    if !webgpu_exposed() {
        return BrowserGpu::Unavailable("navigator.gpu is not defined".into());
    }
    match GpuContext::new().await {
        Ok(ctx) => BrowserGpu::Ready(ctx.summary().clone()),
        Err(e) => BrowserGpu::Unavailable(e.to_string()),
    }
}

async fn probe_server() -> ServerState {
    let response = match gloo_net::http::Request::get("/readiness").send().await {
        Ok(r) => r,
        Err(e) => return ServerState::Unreachable(e.to_string()),
    };
    if response.ok() {
        match response.json::<Readiness>().await {
            Ok(body) => ServerState::Ready(Box::new(body)),
            Err(e) => ServerState::Unreachable(format!("unreadable answer: {e}")),
        }
    } else {
        match response.json::<ErrorBody>().await {
            Ok(body) => ServerState::NotReady(body.error),
            Err(_) => ServerState::NotReady(format!("HTTP {}", response.status())),
        }
    }
}

fn adapter_facts(a: &AdapterSummary) -> impl IntoView {
    let rows = vec![
        (
            "Adapter",
            if a.name.is_empty() {
                "(not disclosed by the browser)".to_owned()
            } else {
                a.name.clone()
            },
        ),
        ("Backend", a.backend.clone()),
        ("Type", a.device_type.clone()),
        (
            "Driver",
            format!("{} {}", a.driver, a.driver_info).trim().to_owned(),
        ),
        (
            "Max storage binding",
            format!("{} MiB", a.limits.max_storage_buffer_binding_size >> 20),
        ),
        (
            "Max workgroup memory",
            format!("{} KiB", a.limits.max_compute_workgroup_storage_size >> 10),
        ),
    ];
    view! {
        <dl class="facts">
            {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
        </dl>
    }
}

#[component]
pub fn StatusPage() -> impl IntoView {
    let (gpu, set_gpu) = signal(BrowserGpu::Checking);
    let (server, set_server) = signal(ServerState::Checking);
    spawn_local(async move { set_gpu.set(probe_browser_gpu().await) });
    spawn_local(async move { set_server.set(probe_server().await) });

    view! {
        <section class="card" id="browser-gpu">
            <h2>"This browser's GPU"</h2>
            {move || match gpu.get() {
                BrowserGpu::Checking => view! { <p class="muted">"Checking WebGPU…"</p> }.into_any(),
                BrowserGpu::Unavailable(reason) => view! {
                    <div class="warn" data-state="unavailable" id="webgpu-missing">
                        <p><strong>"WebGPU is not available here."</strong></p>
                        <p>
                            "Splatpod checks photos and shows 3D models with your device's GPU through "
                            "WebGPU. Please open Splatpod in a recent Chrome, Edge or Safari, or turn "
                            "WebGPU on in your browser's settings. You can still upload photos: the "
                            "server does the heavy work."
                        </p>
                        <p class="muted">"Details: " {reason}</p>
                    </div>
                }.into_any(),
                BrowserGpu::Ready(a) => view! {
                    <div data-state="ready">
                        <p class="ok">"WebGPU ready."</p>
                        {adapter_facts(&a)}
                    </div>
                }.into_any(),
            }}
        </section>
        <section class="card" id="server">
            <h2>"Server"</h2>
            {move || match server.get() {
                ServerState::Checking => view! { <p class="muted">"Asking the server…"</p> }.into_any(),
                ServerState::Unreachable(e) => view! {
                    <p class="bad" data-state="unreachable">"The server cannot be reached (" {e} "). You may be offline."</p>
                }.into_any(),
                ServerState::NotReady(e) => view! {
                    <p class="warn" data-state="starting">"The server is up but not ready: " {e}</p>
                }.into_any(),
                ServerState::Ready(body) => {
                    let Readiness { version, gpu, .. } = *body;
                    view! {
                        <div data-state="ready">
                            <p class="ok">"Server ready (version " {version} ")."</p>
                            <dl class="facts">
                                <dt>"Adapter"</dt><dd id="server-adapter">{gpu.name}</dd>
                                <dt>"Backend"</dt><dd>{gpu.backend}</dd>
                                <dt>"Driver"</dt><dd>{format!("{} {}", gpu.driver, gpu.driver_info)}</dd>
                            </dl>
                        </div>
                    }.into_any()
                }
            }}
        </section>
    }
}
