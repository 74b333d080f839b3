//! View pieces several pages share: a card's heading with its explanation, and the quality
//! select of the upload and reconstruct panels.

use leptos::prelude::*;
use splatpod::api::Quality;

/// A card's heading and the muted paragraph under it that says what the card does.
pub fn card_intro(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <h3>{title}</h3>
        <p class="muted">{text}</p>
    }
}

/// The "Quality" select (low, medium, high) bound to `quality`; `id` is the `<select>`'s id.
pub fn quality_select(id: &'static str, quality: RwSignal<Quality>) -> impl IntoView {
    view! {
        <label class="field">
            "Quality"
            <select
                id=id
                prop:value=move || quality.get().name()
                on:change=move |ev| {
                    quality.set(Quality::from_name(&event_target_value(&ev)).unwrap_or_default())
                }
            >
                <option value="low">"Low (fast preview)"</option>
                <option value="medium" selected>"Medium"</option>
                <option value="high">"High (slow)"</option>
            </select>
        </label>
    }
}
