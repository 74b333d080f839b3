//! The capture page's photo list: one card per photo (thumbnail, ellipsised name, the GPU
//! check's verdict and numbers, and where its upload stands), in a grid that fits a phone.

use leptos::prelude::*;

use super::photo::{Analysis, Photo, PhotoState, Upload};

/// Fewer matches to the previous photo than this: "low overlap".
pub const LOW_OVERLAP_MATCHES: usize = 30;

/// Fewer features than this: "little texture".
const FEW_FEATURES: usize = 200;

/// Sharpness below this fraction of the capture's median: "blurry".
const BLURRY_FRACTION: f32 = 0.4;

/// The median sharpness of the analysed photos (`None` before the first).
pub fn median_sharpness(photos: &[Photo]) -> Option<f32> {
    let mut values: Vec<f32> = photos
        .iter()
        .filter_map(|p| match &p.state {
            PhotoState::Done(a) if a.sharpness.is_finite() => Some(a.sharpness),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        0.5 * (values[mid - 1] + values[mid])
    })
}

/// The verdict on one photo: a CSS class (`ok` or `warn`) and the words shown.
fn verdict(a: &Analysis, median: Option<f32>) -> (&'static str, String) {
    let mut problems = Vec::new();
    if median.is_some_and(|m| a.sharpness < BLURRY_FRACTION * m) {
        problems.push("blurry");
    }
    if a.features < FEW_FEATURES {
        problems.push("little texture");
    }
    if a.matches_to_previous
        .is_some_and(|m| m < LOW_OVERLAP_MATCHES)
    {
        problems.push("low overlap");
    }
    if problems.is_empty() {
        ("ok", "Good".to_owned())
    } else {
        ("warn", problems.join(", "))
    }
}

/// The check's part of a card.
fn check_view(state: PhotoState, median: Option<f32>) -> (Option<&'static str>, AnyView) {
    match state {
        PhotoState::Queued => (
            None,
            view! { <p class="capture-note muted">"Waiting to be checked…"</p> }.into_any(),
        ),
        PhotoState::Analyzing => (
            None,
            view! { <p class="capture-note muted">"Checking…"</p> }.into_any(),
        ),
        PhotoState::NotChecked => (
            None,
            view! { <p class="capture-note muted">"Sent before the reload; not checked again."</p> }
                .into_any(),
        ),
        PhotoState::Failed {
            kind,
            message,
            detail,
        } => (
            Some(kind),
            view! {
                <div class="capture-note capture-error" role="alert">
                    // Unchecked is a warning (the photo still goes); unreadable is an error.
                    <p class=if kind == "no-webgpu" { "warn" } else { "bad" }>{message}</p>
                    <details><summary>"Details"</summary><code>{detail}</code></details>
                </div>
            }
            .into_any(),
        ),
        PhotoState::Done(a) => {
            let (class, words) = verdict(&a, median);
            let matches = a
                .matches_to_previous
                .map_or("–".to_owned(), |m| m.to_string());
            let data_matches = a.matches_to_previous.map(|m| m.to_string());
            let title = format!(
                "{}×{} px; decoded in {:.0} ms",
                a.width, a.height, a.decode_ms
            );
            (
                None,
                view! {
                    <p class=format!("capture-verdict {class}")>{words}</p>
                    <dl class="capture-facts">
                        <div title="Variance of the Laplacian: higher is sharper">
                            <dt>"Sharpness"</dt>
                            <dd class="capture-sharpness">{format!("{:.4}", a.sharpness)}</dd>
                        </div>
                        <div>
                            <dt>"Features"</dt>
                            <dd class="capture-features" data-value=a.features.to_string()>
                                {a.features.to_string()}
                            </dd>
                        </div>
                        <div title="Matches to the previous photo">
                            <dt>"Matches"</dt>
                            <dd class="capture-matches" data-value=data_matches>{matches}</dd>
                        </div>
                        <div title=title>
                            <dt>"GPU"</dt>
                            <dd
                                class="capture-ms"
                                data-value=format!("{:.1}", a.analysis_ms)
                                data-decode-ms=format!("{:.1}", a.decode_ms)
                            >
                                {format!("{:.0} ms", a.analysis_ms)}
                            </dd>
                        </div>
                    </dl>
                }
                .into_any(),
            )
        }
    }
}

/// Names longer than this are shortened in the middle, where phone file names differ least
/// (`IMG_20240101_…_0007.jpg`); the full name stays in the tooltip.
const NAME_CHARS: usize = 24;

/// `name`, shortened to [`NAME_CHARS`] characters with an ellipsis in the middle.
fn short_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= NAME_CHARS {
        return name.to_owned();
    }
    let tail = NAME_CHARS / 2;
    let head = NAME_CHARS - tail - 1;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// One card.
fn photo_card(photo: Photo, median: Option<f32>) -> impl IntoView {
    let state = photo.state.as_str();
    let thumb = match photo.thumb {
        Some(src) => {
            view! { <img class="capture-thumb" src=src alt="" loading="lazy" /> }.into_any()
        }
        None => view! {
            <div class="capture-thumb capture-thumb-none">"On the server"</div>
        }
        .into_any(),
    };
    let (kind, check) = check_view(photo.state, median);
    let upload_class = format!("capture-upload upload-{}", photo.upload.as_str());
    let rejected = match &photo.upload {
        Upload::Rejected(reason) => Some(view! {
            <div class="capture-note bad">
                "The server did not accept this file; it is not a photo it can use. "
                <details><summary>"Details"</summary><code>{reason.clone()}</code></details>
            </div>
        }),
        _ => None,
    };
    let title = photo.name;
    let name = short_name(&title);
    view! {
        <li
            class="capture-photo"
            data-state=state
            data-kind=kind
            data-upload=photo.upload.as_str()
            data-sha=photo.sha
        >
            {thumb}
            <div class="capture-body">
                <p class="capture-name" title=title>{name}</p>
                <span class=upload_class>{photo.upload.label()}</span>
                {check}
                {rejected}
            </div>
        </li>
    }
}

/// The list of every photo of the capture.
pub fn photo_list(photos: RwSignal<Vec<Photo>>) -> impl IntoView {
    view! {
        <ul class="capture-list" id="capture-list">
            {move || {
                let photos = photos.get();
                let median = median_sharpness(&photos);
                photos.into_iter().map(|p| photo_card(p, median)).collect_view()
            }}
        </ul>
    }
}
