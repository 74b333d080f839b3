//! The capture page's video controls: record with the camera or choose a video, pick how many
//! frames to keep (presets low / medium / high = 30 / 50 / 100), and watch the frames being
//! extracted; each kept frame joins the capture list and its offline upload queue as a photo
//! (`STEM-0001.jpg`, …). A clip the browser cannot read gets a plain message with the browser's
//! own words behind "Details".

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use splatpod::api::Quality;
use splatpod::images::keyframes::MAX_VIDEO_FRAMES;

use super::client::sleep_ms;
use super::problem::{problem_view, Problem};
use super::recorder::Recorder;
use super::video::{extract_frames, Scorer};
use super::widgets::card_intro;

/// Where kept frames go, and how they are scored (the capture page).
pub trait FrameSink {
    /// The scorer once the page knows whether it has a GPU; `None` while it is still opening.
    fn scorer(&self) -> Option<Scorer>;
    /// Adds a kept frame as a photo; false once the page has been left.
    fn add_frame(&self, name: String, jpeg: web_sys::Blob) -> bool;
}

/// What the video controls show.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    Idle,
    Recording,
    Extracting { done: u32, total: u32 },
    Done { kept: u32 },
    Failed(Problem),
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Recording => "recording",
            Status::Extracting { .. } => "extracting",
            Status::Done { .. } => "done",
            Status::Failed(_) => "error",
        }
    }

    fn busy(&self) -> bool {
        matches!(self, Status::Recording | Status::Extracting { .. })
    }
}

/// `name` without its extension, for the frames' names ("clip" when nothing is left).
fn stem(name: &str) -> String {
    let s = name.rsplit_once('.').map_or(name, |(s, _)| s).trim();
    if s.is_empty() {
        "clip".into()
    } else {
        s.into()
    }
}

/// Extracts `frames` frames of `blob` into `sink`, reporting progress in `status`.
async fn extract(
    sink: Rc<dyn FrameSink>,
    blob: web_sys::Blob,
    name: String,
    frames: u32,
    status: RwSignal<Status>,
) {
    // `try_set` hands the value back when the page has been left.
    if status
        .try_set(Status::Extracting {
            done: 0,
            total: frames,
        })
        .is_some()
    {
        return;
    }
    let scorer = loop {
        if let Some(s) = sink.scorer() {
            break s;
        }
        if status.try_get_untracked().is_none() {
            return;
        }
        sleep_ms(100).await;
    };
    let stem = stem(&name);
    let result = extract_frames(&blob, frames, &scorer, |k, jpeg| {
        sink.add_frame(format!("{stem}-{:04}.jpg", k + 1), jpeg)
            && status
                .try_update(|s| {
                    if let Status::Extracting { done, .. } = s {
                        *done += 1;
                    }
                })
                .is_some()
    })
    .await;
    let next = match result {
        Ok(kept) => Status::Done { kept },
        Err(e) => Status::Failed(Problem::new(
            format!(
                "This video could not be read by this browser: {}. Try recording again or use \
                 photos.",
                e.reason
            ),
            e.detail,
        )),
    };
    status.try_set(next);
}

/// The video controls of the capture page.
pub fn video_panel(sink: Rc<dyn FrameSink>) -> impl IntoView {
    let status = RwSignal::new(Status::Idle);
    let frames = RwSignal::new(Quality::default().video_frames());
    let preview = NodeRef::<html::Video>::new();
    let recorder: Rc<RefCell<Option<Recorder>>> = Rc::new(RefCell::new(None));
    // A second tap on "Record" while the camera opens is ignored.
    let opening = Rc::new(Cell::new(false));

    let on_pick = {
        let sink = Rc::clone(&sink);
        move |ev: web_sys::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            let file = input.files().and_then(|f| f.get(0));
            input.set_value("");
            if let Some(file) = file {
                if status.with_untracked(Status::busy) {
                    return;
                }
                let name = file.name();
                spawn_local(extract(
                    Rc::clone(&sink),
                    file.into(),
                    name,
                    frames.get_untracked(),
                    status,
                ));
            }
        }
    };
    let on_record = {
        let recorder = Rc::clone(&recorder);
        move |_| {
            if opening.get() || status.with_untracked(Status::busy) {
                return;
            }
            let Some(video) = preview.get_untracked() else {
                return;
            };
            opening.set(true);
            let recorder = Rc::clone(&recorder);
            let opening = Rc::clone(&opening);
            spawn_local(async move {
                match Recorder::start(&video).await {
                    Ok(r) => {
                        *recorder.borrow_mut() = Some(r);
                        status.try_set(Status::Recording);
                    }
                    Err(e) => {
                        status.try_set(Status::Failed(Problem::new(
                            "The camera could not be opened for recording. Allow this page to \
                             use the camera, or choose a video or photos instead.",
                            e,
                        )));
                    }
                }
                opening.set(false);
            });
        }
    };
    let on_stop = {
        let sink = Rc::clone(&sink);
        move |_| {
            let Some(r) = recorder.borrow_mut().take() else {
                return;
            };
            let Some(video) = preview.get_untracked() else {
                return;
            };
            let sink = Rc::clone(&sink);
            spawn_local(async move {
                match r.stop(&video).await {
                    Ok(blob) => {
                        extract(sink, blob, "clip".into(), frames.get_untracked(), status).await
                    }
                    Err(e) => {
                        status.try_set(Status::Failed(Problem::new(
                            "The recording could not be kept. Record again, or take photos.",
                            e,
                        )));
                    }
                }
            });
        }
    };
    let on_quality = move |ev: web_sys::Event| {
        if let Some(q) = Quality::from_name(&event_target_value(&ev)) {
            frames.set(q.video_frames());
        }
    };
    let on_frames = move |ev: web_sys::Event| {
        if let Ok(n) = event_target_value(&ev).trim().parse::<u32>() {
            frames.set(n.clamp(1, MAX_VIDEO_FRAMES));
        }
    };
    let recording = move || status.with(|s| *s == Status::Recording);
    let busy = move || status.with(Status::busy);

    view! {
        <div class="capture-video" id="capture-video-panel" data-state=move || status.with(|s| s.as_str())>
            {card_intro(
                "Or film it",
                concat!(
                    "Walk slowly around the object while filming. The sharpest frame of each moment ",
                    "is kept as a photo.",
                ),
            )}
            <div class="capture-actions">
                <button
                    type="button"
                    class="button-like big"
                    id="video-record"
                    on:click=on_record
                    disabled=busy
                    hidden=recording
                >
                    "Record video"
                </button>
                <button
                    type="button"
                    class="button-like big danger"
                    id="video-stop"
                    on:click=on_stop
                    hidden=move || !recording()
                >
                    "Stop"
                </button>
                <label class="file-pick button-like">
                    "Choose a video"
                    <input
                        type="file"
                        id="capture-video"
                        accept="video/*"
                        on:change=on_pick
                        disabled=busy
                    />
                </label>
            </div>
            <div class="video-settings">
                <label>
                    "Frames to keep "
                    <select id="video-quality" on:change=on_quality disabled=busy>
                        {Quality::ALL
                            .into_iter()
                            .map(|q| {
                                view! {
                                    <option value=q.name() selected=q == Quality::default()>
                                        {format!("{} ({})", q.name(), q.video_frames())}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <input
                    type="number"
                    id="video-frames"
                    aria-label="Frames to keep"
                    min="1"
                    max=MAX_VIDEO_FRAMES.to_string()
                    prop:value=move || frames.get().to_string()
                    on:change=on_frames
                    disabled=busy
                />
            </div>
            <video id="video-preview" node_ref=preview muted=true playsinline=true hidden=move || !recording()></video>
            {move || match status.get() {
                Status::Idle | Status::Recording => ().into_any(),
                Status::Extracting { done, total } => view! {
                    <p id="video-progress" role="status" data-done=done.to_string() data-total=total.to_string()>
                        {format!("Taking frames from the video: {done} / {total}")}
                        <progress max=total.to_string() value=done.to_string()></progress>
                    </p>
                }
                .into_any(),
                Status::Done { kept } => view! {
                    <p id="video-progress" class="ok" role="status" data-done=kept.to_string() data-total=kept.to_string()>
                        {format!("{kept} frames taken from the video and added below.")}
                    </p>
                }
                .into_any(),
                Status::Failed(p) => problem_view("video-problem", p).into_any(),
            }}
        </div>
    }
}
