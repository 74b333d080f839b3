//! Shared viewer (`/s/{token}`, and viewer-only at `/embed/{token}` for an `<iframe>`): what
//! a share link opens. Asks the server which scene the token
//! shares (`GET /api/s/{token}`) and shows it read-only, first from the view the server names
//! (`start_view`: the owner's saved view or a capture camera), else framed about the owner's
//! `up_axis`; no key, no other project data, no controls that write.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use splatpod::api::{SharedView, StartView, UpAxis};

use super::viewer::{viewer_view, SceneSource};

#[derive(Debug, Clone)]
enum Share {
    Loading,
    Failed(String),
    Ready {
        name: String,
        scene_url: Option<String>,
        thumbnail_url: Option<String>,
        start_view: Option<StartView>,
        up_axis: UpAxis,
    },
}

async fn fetch_share(token: &str) -> Share {
    if token.is_empty()
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Share::Failed("This share link is not valid.".into());
    }
    let res = match gloo_net::http::Request::get(&format!("/api/s/{token}"))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Share::Failed(format!("Cannot reach the server: {e}")),
    };
    if res.status() == 404 {
        return Share::Failed("This share link does not exist, has expired or was revoked.".into());
    }
    if !res.ok() {
        return Share::Failed(format!("The server answered {}.", res.status()));
    }
    let body: SharedView = match res.json().await {
        Ok(b) => b,
        Err(e) => return Share::Failed(format!("Unreadable answer from the server: {e}")),
    };
    Share::Ready {
        name: body.project.name,
        scene_url: body.scene_url,
        thumbnail_url: body.thumbnail_url,
        start_view: body.start_view,
        up_axis: body.up_axis,
    }
}

/// The `/s/:token` page.
#[component]
pub fn SharedPage() -> impl IntoView {
    let params = use_params_map();
    let state = RwSignal::new(Share::Loading);
    Effect::new(move |_| {
        let token = params.with(|p| p.get("token")).unwrap_or_default();
        state.set(Share::Loading);
        spawn_local(async move { state.set(fetch_share(&token).await) });
    });
    move || {
        match state.get() {
        Share::Loading => view! { <p id="share-status" class="muted">"Opening the shared scene…"</p> }.into_any(),
        Share::Failed(message) => view! {
            <div class="warn" id="share-error" role="alert">{message}</div>
        }
        .into_any(),
        Share::Ready { name, scene_url: Some(url), start_view, up_axis, .. } => view! {
            <h2 id="share-title">{name}</h2>
            {viewer_view(SceneSource::Fixed(url, start_view, up_axis))}
        }
        .into_any(),
        Share::Ready { name, scene_url: None, thumbnail_url, .. } => view! {
            <h2 id="share-title">{name}</h2>
            <p id="share-status" class="muted">"This project has no 3D scene yet."</p>
            {thumbnail_url.map(|src| view! { <img id="share-thumbnail" src=src alt="Thumbnail" /> })}
        }
        .into_any(),
    }
    }
}

/// The `/embed/:token` page: the shared scene's viewer alone (the app renders it without its
/// header), for an `<iframe>` on another site, with a link to the full page.
#[component]
pub fn EmbedPage() -> impl IntoView {
    let params = use_params_map();
    let state = RwSignal::new(Share::Loading);
    let token = params
        .with_untracked(|p| p.get("token"))
        .unwrap_or_default();
    {
        let token = token.clone();
        spawn_local(async move {
            state.try_set(fetch_share(&token).await);
        });
    }
    move || {
        match state.get() {
        Share::Loading => {
            view! { <p id="share-status" class="muted">"Opening the shared scene…"</p> }.into_any()
        }
        Share::Failed(message) => view! {
            <div class="warn" id="share-error" role="alert">{message}</div>
        }
        .into_any(),
        Share::Ready { name, scene_url: Some(url), start_view, up_axis, .. } => view! {
            <h1 class="embed-title" id="share-title">
                <a href=format!("/s/{token}") target="_blank" rel="noopener">{name}</a>
            </h1>
            {viewer_view(SceneSource::Fixed(url, start_view, up_axis))}
        }
        .into_any(),
        Share::Ready { name, scene_url: None, thumbnail_url, .. } => view! {
            <h1 class="embed-title" id="share-title">{name}</h1>
            <p id="share-status" class="muted">"This project has no 3D scene yet."</p>
            {thumbnail_url.map(|src| view! { <img id="share-thumbnail" src=src alt="Thumbnail" /> })}
        }
        .into_any(),
    }
    }
}
