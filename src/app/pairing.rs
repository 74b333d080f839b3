//! The phone's side of pairing (`/pair#TOKEN`): the token from the link's fragment is checked
//! with the server (`GET /api/pairing`) and kept in this browser's local storage, apart from any
//! full API key; the capture page then uploads to the paired project with it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};
use splatpod::api::PairedSession;

use super::client::{body_of, get_authorized, is_past, local_hh_mm, net, storage};
use super::problem::{problem_view, Problem};

/// Local-storage key of the pairing (never the same as the full key's).
const PAIRING_STORAGE: &str = "splatpod-pairing";

/// A phone's pairing with one project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pairing {
    pub token: String,
    pub project_id: String,
    pub project_name: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl Pairing {
    pub fn expired(&self) -> bool {
        is_past(&self.expires_at)
    }

    /// "Paired with project X until HH:MM."
    pub fn describe(&self) -> String {
        format!(
            "Paired with project {} until {}.",
            self.project_name,
            local_hh_mm(&self.expires_at)
        )
    }
}

/// The pairing this browser keeps, expired or not.
pub fn saved_pairing() -> Option<Pairing> {
    let text = storage()?.get_item(PAIRING_STORAGE).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

fn save_pairing(p: &Pairing) {
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(p)) {
        let _ = s.set_item(PAIRING_STORAGE, &text);
    }
}

/// Forgets the pairing ("Unpair").
pub fn forget_pairing() {
    if let Some(s) = storage() {
        let _ = s.remove_item(PAIRING_STORAGE);
    }
}

/// Pairing tokens are URL-safe; anything else in the fragment is not one.
fn plausible_token(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 200
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Asks the server which project `token` is paired with.
async fn check(token: &str) -> Result<Pairing, Problem> {
    let res = get_authorized("/api/pairing", token).await.map_err(|e| {
        Problem::new(
            "The server cannot be reached. Connect to the network and open the link again.",
            net(e),
        )
    })?;
    let status = res.status();
    let session: PairedSession = body_of(res).await.map_err(|e| {
        if status == 401 || status == 403 {
            Problem::new(
                "This pairing link has expired or was revoked. Ask for a new QR code on the \
                 desktop's project page.",
                e,
            )
        } else {
            Problem::new(
                "The server could not check this pairing link. Try again in a moment.",
                e,
            )
        }
    })?;
    Ok(Pairing {
        token: token.to_owned(),
        project_id: session.project_id,
        project_name: session.project_name,
        expires_at: session.expires_at,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum PairState {
    Checking,
    Paired(Pairing),
    Failed(Problem),
}

/// Takes the token out of the address bar, so it is not left in the history or shared by
/// accident.
fn drop_fragment() {
    if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/pair"));
    }
}

/// Reads the token from the address bar's fragment and checks it; with no token, shows the
/// pairing this phone keeps.
fn pair_from_fragment(state: RwSignal<PairState>) {
    let fragment = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    let token = fragment.trim_start_matches('#').to_owned();
    if token.is_empty() {
        // Nothing new in the link (also after the fragment was dropped): keep what is shown.
        if state.get_untracked() != PairState::Checking {
            return;
        }
        state.set(match saved_pairing() {
            Some(p) if !p.expired() => PairState::Paired(p),
            Some(p) => PairState::Failed(Problem::new(
                "This phone's pairing has ended. Scan a new QR code on the desktop's project page.",
                format!("expired at {}", p.expires_at),
            )),
            None => PairState::Failed(Problem::new(
                "Open the link or scan the QR code shown on the desktop's project page (\"Pair \
                 a phone\") to pair this phone.",
                "no pairing token in the link",
            )),
        });
    } else if !plausible_token(&token) {
        state.set(PairState::Failed(Problem::new(
            "This pairing link is damaged. Scan the QR code again.",
            "the link's token has characters a token never has",
        )));
    } else {
        state.set(PairState::Checking);
        spawn_local(async move {
            let result = check(&token).await;
            if let Ok(p) = &result {
                save_pairing(p);
                drop_fragment();
            }
            state.try_set(match result {
                Ok(p) => PairState::Paired(p),
                Err(p) => PairState::Failed(p),
            });
        });
    }
}

/// The `/pair` page.
#[component]
pub fn PairPage() -> impl IntoView {
    let state = RwSignal::new(PairState::Checking);
    pair_from_fragment(state);
    // A second link opened in the same tab changes only the fragment.
    let handle = window_event_listener(leptos::ev::hashchange, move |_| pair_from_fragment(state));
    on_cleanup(move || handle.remove());
    let state_name = move || match state.get() {
        PairState::Checking => "checking",
        PairState::Paired(_) => "paired",
        PairState::Failed(_) => "failed",
    };
    view! {
        <section class="card pair" id="pair" data-state=state_name>
            <h2>"Pair this phone"</h2>
            {move || match state.get() {
                PairState::Checking => {
                    view! { <p class="muted" id="pair-status">"Checking the pairing link…"</p> }
                        .into_any()
                }
                PairState::Paired(p) => view! {
                    <p class="ok" id="pair-status">{p.describe()}</p>
                    <p class="muted">
                        "Photos you take now go straight to this project; no API key is needed "
                        "on this phone."
                    </p>
                    <A href="/capture" attr:class="button-like big camera" attr:id="pair-go">
                        "Take photos"
                    </A>
                }
                .into_any(),
                PairState::Failed(p) => problem_view("pair-error", p).into_any(),
            }}
        </section>
    }
}
