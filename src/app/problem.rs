//! Problems shown to a person: what happened and what to do in plain words, with the technical
//! detail (the server's or the engine's own message) behind a "Details" toggle.

use leptos::prelude::*;

/// A plain message and its technical detail.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub plain: String,
    pub detail: String,
}

impl Problem {
    pub fn new(plain: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            plain: plain.into(),
            detail: detail.into(),
        }
    }
}

/// Explains why a server job ended without a result, from its error text.
pub fn job_failed(error: &str) -> Problem {
    let e = error.to_ascii_lowercase();
    let plain = if e.contains("too large") || e.contains("max side") || e.contains("memory") {
        "The photos are too large for the server's GPU at this quality. Choose a lower quality \
         and start again, or ask the server's admin to allow smaller photos."
    } else if e.contains("gpu") && (e.contains("unavailable") || e.contains("not ready")) {
        "The server's GPU is not working right now. Try again in a few minutes; if it keeps \
         failing, tell the server's admin."
    } else if e.contains("at least") || e.contains("not enough") || e.contains("no images") {
        "There were not enough usable photos. Take more photos that overlap, then start again."
    } else if e.contains("cancel") {
        "The job was cancelled on the server. Start it again when you are ready."
    } else if e.contains("time") && e.contains("out") {
        "The job took longer than the server allows. Try a lower quality or fewer photos."
    } else {
        "The server could not finish the job. Try again; if it fails again, show the details \
         below to the server's admin."
    };
    Problem::new(plain, error)
}

/// The problem box: `id` for tests, plain words first, detail folded away.
pub fn problem_view(id: &'static str, p: Problem) -> impl IntoView {
    view! {
        <div class="problem" id=id role="alert">
            <p class="problem-plain">{p.plain}</p>
            <details>
                <summary>"Details"</summary>
                <code>{p.detail}</code>
            </details>
        </div>
    }
}
