//! A project seen from the desktop (`/project/:id`): its name and photo count (refreshed while
//! a phone uploads), "Pair a phone", which asks the server for an expiring pairing token and
//! shows its QR code and link, so the full API key never goes to the phone, and the camera
//! poses and sparse cloud once SfM (or a COLMAP import) has made them, Reconstruct (the one-job
//! path to a scene, with its progress and result) and Share (links, QR codes, embeds).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use splatpod::api::{NewPairing, PairingCreated, Project};

use super::client::{
    bearer, body_of, get_json, local_hh_mm, net, saved_key, sleep_ms, storage, KEY_STORAGE,
};
use super::problem::{problem_view, Problem};
use super::reconstruct_panel::reconstruct_panel;
use super::share_panel::share_panel;
use super::sparse_panel::sparse_panel;
use super::widgets::card_intro;

/// Milliseconds between refreshes of the project's counts.
const REFRESH_MS: i32 = 3000;

/// Project ids are URL-safe; anything else is not one.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn fetch_project(key: &str, id: &str) -> Result<Project, String> {
    get_json(&format!("/api/projects/{id}"), key).await
}

async fn create_pairing(key: &str, id: &str) -> Result<PairingCreated, String> {
    body_of(
        gloo_net::http::Request::post(&format!("/api/projects/{id}/pairings"))
            .header("Authorization", &bearer(key))
            .json(&NewPairing::default())
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await
}

/// The key form shown when this browser has no full API key yet.
fn key_form(key: RwSignal<Option<String>>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let on_save = move |_| {
        let k = typed.get_untracked().trim().to_owned();
        if k.is_empty() {
            return;
        }
        if let Some(s) = storage() {
            let _ = s.set_item(KEY_STORAGE, &k);
        }
        key.set(Some(k));
    };
    view! {
        <div class="card" id="project-key">
            <p>"This desktop needs the server's API key (it stays on this computer)."</p>
            <div class="form-row">
                <label class="field">
                    "API key"
                    <input
                        type="password"
                        id="project-key-input"
                        autocomplete="off"
                        on:input=move |ev| typed.set(event_target_value(&ev))
                    />
                </label>
                <button type="button" class="button-like" on:click=on_save>"Save"</button>
            </div>
        </div>
    }
}

/// "Pair a phone" and, once created, the QR code and link.
fn pair_panel(key: String, id: String) -> impl IntoView {
    let created = RwSignal::new(None::<PairingCreated>);
    let problem = RwSignal::new(None::<Problem>);
    let busy = RwSignal::new(false);
    let on_pair = move |_| {
        let (key, id) = (key.clone(), id.clone());
        busy.set(true);
        problem.set(None);
        spawn_local(async move {
            let result = create_pairing(&key, &id).await;
            busy.try_set(false);
            match result {
                Ok(p) => {
                    created.try_set(Some(p));
                }
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The pairing could not be created. Check that the server is reachable \
                         and that this desktop's API key is still valid.",
                        e,
                    )));
                }
            }
        });
    };
    view! {
        <section class="card" id="pair-phone">
            {card_intro(
                "Add photos from a phone",
                concat!(
                    "The phone gets a token that can only add photos to this project and start its ",
                    "jobs, and that expires; your API key stays on this computer.",
                ),
            )}
            <button
                type="button"
                class="button-like"
                id="pair-start"
                disabled=move || busy.get()
                on:click=on_pair
            >
                "Pair a phone"
            </button>
            {move || problem.get().map(|p| problem_view("pair-error", p))}
            {move || created.get().map(|p| view! {
                <div class="pair-code">
                    // The server's own QR code (SVG it generated); nothing else goes in here.
                    <div class="pair-qr" id="pair-qr" inner_html=p.qr_svg></div>
                    <div>
                        <p>"Scan this code with the phone's camera, or open this link on it:"</p>
                        <p class="pair-url"><a id="pair-link" href=p.url.clone()>{p.url.clone()}</a></p>
                        <p class="muted" id="pair-expiry">
                            {format!("The pairing works until {}.", local_hh_mm(&p.expires_at))}
                        </p>
                    </div>
                </div>
            })}
        </section>
    }
}

/// The `/project/:id` page.
#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id")).unwrap_or_default();
    let key = RwSignal::new(saved_key());
    let project = RwSignal::new(None::<Result<Project, String>>);
    if plausible_id(&id) {
        let id = id.clone();
        spawn_local(async move {
            loop {
                if let Some(k) = key.try_get_untracked().flatten() {
                    let p = fetch_project(&k, &id).await;
                    if project.try_set(Some(p)).is_some() {
                        return;
                    }
                } else if key.try_get_untracked().is_none() {
                    return;
                }
                sleep_ms(REFRESH_MS).await;
            }
        });
    }
    let bad_id = !plausible_id(&id);
    let ready = Memo::new(move |_| project.with(|p| matches!(p, Some(Ok(_)))));
    let photos = Signal::derive(move || {
        project.with(|p| match p {
            Some(Ok(p)) => u64::try_from(p.image_count).unwrap_or(0),
            _ => 0,
        })
    });
    let sparse_id = id.clone();
    let recon_id = id.clone();
    // Once the project has a scene, its viewer replaces the sparse cloud's (one viewer a page).
    let has_scene = RwSignal::new(false);
    let share_id = id.clone();
    view! {
        {move || key.get().is_none().then(|| key_form(key))}
        <section class="card" id="project" data-loaded=move || project.with(|p| matches!(p, Some(Ok(_))).to_string())>
            {move || match project.get() {
                _ if bad_id => problem_view(
                    "project-error",
                    Problem::new("This project link is not valid.", "bad project id"),
                )
                .into_any(),
                None => view! { <p class="muted">"Loading the project…"</p> }.into_any(),
                Some(Err(e)) => problem_view(
                    "project-error",
                    Problem::new(
                        "The project could not be loaded: it may have been deleted, or this \
                         desktop's API key is not valid.",
                        e,
                    ),
                )
                .into_any(),
                Some(Ok(p)) => view! {
                    <h2 id="project-name">{p.name.clone()}</h2>
                    <dl class="facts">
                        <dt>"Photos"</dt>
                        <dd id="project-images">{p.image_count.to_string()}</dd>
                        <dt>"Jobs"</dt>
                        <dd>{p.job_count.to_string()}</dd>
                    </dl>
                }
                .into_any(),
            }}
        </section>
        // A memo, so the panels are not built again on every refresh of the project.
        {move || key.get().filter(|_| ready.get()).map(|k| pair_panel(k, id.clone()))}
        {move || key.get().filter(|_| ready.get()).map(|k| reconstruct_panel(k, recon_id.clone(), has_scene))}
        {move || key.get().filter(|_| ready.get()).map(|k| share_panel(k, share_id.clone()))}
        {move || {
            key.get()
                .filter(|_| ready.get() && !has_scene.get())
                .map(|k| sparse_panel(k, sparse_id.clone(), photos))
        }}
    }
}
