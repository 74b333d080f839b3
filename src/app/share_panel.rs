//! "Share" on the project page: creates read-only share links with an expiry, and for each
//! active one shows the link with a copy button, the server's QR code of it, an `<iframe>`
//! snippet for the viewer-only `/embed/{token}` page, and Revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::{NewShare, Share, ShareList};

use super::client::{bearer, body_of, get_json, net};
use super::problem::{problem_view, Problem};
use super::widgets::card_intro;

/// Expiry choices: (label, seconds; none = until revoked).
const EXPIRY: [(&str, Option<u64>); 5] = [
    ("1 hour", Some(3600)),
    ("1 day", Some(86_400)),
    ("7 days", Some(7 * 86_400)),
    ("30 days", Some(30 * 86_400)),
    ("Until revoked", None),
];

/// The HTML a person pastes into another page to show the scene.
pub fn embed_snippet(share: &Share) -> String {
    format!(
        "<iframe src=\"{}\" width=\"640\" height=\"480\" style=\"border:0\" \
         allow=\"fullscreen\" title=\"3D scene\"></iframe>",
        share.embed_url
    )
}

/// Whether the link still opens: not revoked, not expired.
fn active(s: &Share) -> bool {
    s.revoked_at.is_none() && s.expires_at.is_none_or(|t| t as f64 > js_sys::Date::now())
}

fn expiry_text(s: &Share) -> String {
    match s.expires_at {
        None => "Works until revoked.".into(),
        Some(ms) => {
            let d = js_sys::Date::new(&(ms as f64).into());
            format!(
                "Works until {}.",
                String::from(d.to_locale_string("default", &js_sys::Object::new()))
            )
        }
    }
}

async fn list_shares(key: &str, project: &str) -> Result<Vec<Share>, String> {
    let list: ShareList = get_json(&format!("/api/projects/{project}/shares"), key).await?;
    Ok(list.shares.into_iter().filter(active).collect())
}

async fn create_share(
    key: &str,
    project: &str,
    expires_in_s: Option<u64>,
) -> Result<Share, String> {
    body_of(
        gloo_net::http::Request::post(&format!("/api/projects/{project}/shares"))
            .header("Authorization", &bearer(key))
            .json(&NewShare { expires_in_s })
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(net)?,
    )
    .await
}

async fn revoke_share(key: &str, token: &str) -> Result<(), String> {
    let res = gloo_net::http::Request::delete(&format!("/api/shares/{token}"))
        .header("Authorization", &bearer(key))
        .send()
        .await
        .map_err(net)?;
    if res.ok() {
        Ok(())
    } else {
        body_of::<serde_json::Value>(res).await.map(|_| ())
    }
}

/// Puts `text` on the clipboard (needs a secure context: HTTPS or localhost).
async fn copy_text(text: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let promise = window.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// One active link.
fn share_item(share: Share, key: String, shares: RwSignal<Vec<Share>>) -> impl IntoView {
    let copied = RwSignal::new(None::<Result<(), String>>);
    let problem = RwSignal::new(None::<Problem>);
    let url = share.url.clone();
    let on_copy = move |_| {
        let url = url.clone();
        spawn_local(async move {
            copied.try_set(Some(copy_text(&url).await));
        });
    };
    let token = share.token.clone();
    let on_revoke = move |_| {
        let (key, token) = (key.clone(), token.clone());
        spawn_local(async move {
            match revoke_share(&key, &token).await {
                Ok(()) => {
                    shares.try_update(|s| s.retain(|x| x.token != token));
                }
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The link could not be revoked; it still works.",
                        e,
                    )));
                }
            }
        });
    };
    let snippet = embed_snippet(&share);
    view! {
        <li class="share-item" data-token=share.token.clone()>
            <div class="pair-code">
                // The server's own QR code (SVG it generated); nothing else goes in here.
                <div class="pair-qr share-qr" inner_html=share.qr_svg.clone()></div>
                <div>
                    <p class="pair-url">
                        <a class="share-link" href=share.url.clone() target="_blank" rel="noopener">
                            {share.url.clone()}
                        </a>
                    </p>
                    <p class="muted share-expiry">{expiry_text(&share)}</p>
                    <div class="form-row">
                        <button type="button" class="button-like share-copy" on:click=on_copy>
                            "Copy link"
                        </button>
                        <button type="button" class="button-like share-revoke" on:click=on_revoke>
                            "Revoke"
                        </button>
                    </div>
                    <p class="muted share-copied" role="status">
                        {move || match copied.get() {
                            None => String::new(),
                            Some(Ok(())) => "Link copied.".into(),
                            Some(Err(_)) => "Copying is not allowed here: select the link instead.".into(),
                        }}
                    </p>
                </div>
            </div>
            <label class="field">
                "Embed on a web page"
                <textarea class="share-embed" readonly rows="3">{snippet}</textarea>
            </label>
            {move || problem.get().map(|p| problem_view("share-revoke-error", p))}
        </li>
    }
}

/// The panel.
pub fn share_panel(key: String, project: String) -> impl IntoView {
    let shares = RwSignal::new(Vec::<Share>::new());
    let expiry = RwSignal::new(EXPIRY[2].1);
    let problem = RwSignal::new(None::<Problem>);
    {
        let (key, project) = (key.clone(), project.clone());
        spawn_local(async move {
            match list_shares(&key, &project).await {
                Ok(list) => {
                    shares.try_set(list);
                }
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The share links could not be listed.",
                        e,
                    )));
                }
            }
        });
    }
    let create_key = key.clone();
    let on_create = move |_| {
        let (key, project) = (create_key.clone(), project.clone());
        let secs = expiry.get_untracked();
        problem.set(None);
        spawn_local(async move {
            match create_share(&key, &project, secs).await {
                Ok(s) => {
                    shares.try_update(|list| list.insert(0, s));
                }
                Err(e) => {
                    problem.try_set(Some(Problem::new(
                        "The share link could not be created.",
                        e,
                    )));
                }
            }
        });
    };
    view! {
        <section class="card" id="share">
            {card_intro(
                "Share",
                concat!(
                    "Anyone with a link sees the scene and its thumbnail, read-only, until the link ",
                    "expires or you revoke it.",
                ),
            )}
            <div class="form-row">
                <label class="field">
                    "Link works for"
                    <select
                        id="share-expiry"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            expiry.set(EXPIRY.iter().find(|(l, _)| *l == v).and_then(|(_, s)| *s));
                        }
                    >
                        {EXPIRY.iter().enumerate().map(|(i, (label, _))| view! {
                            <option value=*label selected=i == 2>{*label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="button" class="button-like" id="share-create" on:click=on_create>
                    "Create share link"
                </button>
            </div>
            {move || problem.get().map(|p| problem_view("share-error", p))}
            <ul id="share-list" data-count=move || shares.with(Vec::len).to_string()>
                <For
                    each=move || shares.get()
                    key=|s| s.token.clone()
                    children=move |s| share_item(s, key.clone(), shares)
                />
            </ul>
        </section>
    }
}
