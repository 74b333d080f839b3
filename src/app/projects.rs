//! The project list (`/projects`): every project on the server with its thumbnail (fetched with
//! this browser's API key and shown from a `blob:` URL, since an `<img>` cannot send the key),
//! photo count and last change, each linking to its project page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{Project, ProjectList};

use super::client::{get_artifact, get_json, saved_key};
use super::problem::{problem_view, Problem};

/// A `blob:` URL of the project's `thumbnail.png`, if it has one.
async fn thumbnail_url(key: &str, project: &str) -> Option<String> {
    let res = get_artifact(key, project, "thumbnail.png").await.ok()?;
    if !res.ok() {
        return None;
    }
    let bytes = res.binary().await.ok()?;
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(&bytes[..]));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/png");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// When the project last changed, in the person's locale.
fn changed(p: &Project) -> String {
    let d = js_sys::Date::new(&(p.updated_at as f64).into());
    String::from(d.to_locale_string("default", &js_sys::Object::new()))
}

fn project_card(p: Project, key: String) -> impl IntoView {
    let thumb = RwSignal::new(None::<String>);
    {
        let id = p.id.clone();
        spawn_local(async move {
            if let Some(url) = thumbnail_url(&key, &id).await {
                if thumb.try_set(Some(url.clone())).is_some() {
                    let _ = web_sys::Url::revoke_object_url(&url);
                }
            }
        });
    }
    on_cleanup(move || {
        if let Some(url) = thumb.try_get_untracked().flatten() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    let alt = format!("Thumbnail of {}", p.name);
    let photos = match p.image_count {
        1 => "1 photo".to_string(),
        n => format!("{n} photos"),
    };
    view! {
        <li class="project-card" data-id=p.id.clone()>
            <a href=format!("/project/{}", p.id)>
                {move || match thumb.get() {
                    Some(src) => view! {
                        <img class="project-thumb" src=src alt=alt.clone() />
                    }.into_any(),
                    None => view! { <div class="project-thumb empty" aria-hidden="true"></div> }.into_any(),
                }}
                <span class="project-name">{p.name.clone()}</span>
            </a>
            <span class="muted">{format!("{photos} · {}", changed(&p))}</span>
        </li>
    }
}

/// The `/projects` page.
#[component]
pub fn ProjectsPage() -> impl IntoView {
    let list = RwSignal::new(None::<Result<Vec<Project>, String>>);
    let key = saved_key();
    if let Some(k) = key.clone() {
        spawn_local(async move {
            let got = get_json::<ProjectList>("/api/projects?limit=100", &k).await;
            list.try_set(Some(got.map(|l| l.projects)));
        });
    }
    view! {
        <section class="card" id="projects">
            <h2>"Projects"</h2>
            {move || match (key.clone(), list.get()) {
                (None, _) => view! {
                    <p>"This browser has no API key yet: enter it on a project page or under "
                    "\"Send to the server\" on the capture page."</p>
                }.into_any(),
                (_, None) => view! { <p class="muted">"Loading the projects…"</p> }.into_any(),
                (_, Some(Err(e))) => problem_view(
                    "projects-error",
                    Problem::new("The projects could not be listed.", e),
                ).into_any(),
                (Some(k), Some(Ok(items))) if !items.is_empty() => view! {
                    <ul class="project-grid" id="project-list">
                        {items.into_iter().map(|p| project_card(p, k.clone())).collect_view()}
                    </ul>
                }.into_any(),
                (_, Some(Ok(_))) => view! { <p>"No projects yet."</p> }.into_any(),
            }}
        </section>
    }
}
