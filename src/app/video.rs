//! Frames from a video in the browser: the clip plays in a detached `<video>` element, which is
//! seeked to a few candidate times in each of N equal time windows (`images::keyframes`, as
//! the server does); each candidate is drawn to a canvas and scored with the capture check's
//! GPU sharpness kernel (variance of the Laplacian; the same measure on the CPU,
//! `images::sharpness_cpu`, only where the page has no WebGPU), and the sharpest of each window
//! becomes a JPEG photo (`canvas.toBlob("image/jpeg", 0.92)`).
//!
//! Seeking a `<video>` works in every browser that plays the file; WebCodecs would need a
//! demuxer for each container, so it is not used.

use std::cell::RefCell;
use std::rc::Rc;

use splatpod::features::CaptureAnalyzer;
use splatpod::gpu::GpuContext;
use splatpod::images::keyframes::candidate_times;
use splatpod::images::{luminance_601, sharpness_cpu};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Candidates seeked per window: each costs a seek and a GPU score.
pub const CANDIDATES_PER_WINDOW: u32 = 3;
/// Candidates are scored at most this many pixels on the longer side (ranking only).
const SCORE_SIDE: u32 = 640;
/// Kept frames are at most this many pixels on the longer side (4K keeps its resolution).
const MAX_SIDE: u32 = 4096;
/// JPEG quality of the kept frames.
const JPEG_QUALITY: f64 = 0.92;
/// Longest wait for the browser to open the clip or reach a seek target.
const EVENT_TIMEOUT_MS: i32 = 20_000;

/// How candidates are scored: the capture check's GPU kernel, or the CPU reference where the
/// page has no WebGPU.
#[derive(Clone)]
pub enum Scorer {
    Gpu(GpuContext, Rc<CaptureAnalyzer>),
    Cpu,
}

impl Scorer {
    /// Variance of the Laplacian of a grey frame (higher is sharper). A GPU failure falls
    /// back to the CPU for this frame, so one bad submission does not end the extraction.
    async fn score(&self, gray: &[f32], w: u32, h: u32) -> f32 {
        match self {
            Scorer::Gpu(ctx, analyzer) => match analyzer.sharpness(ctx, gray, w, h).await {
                Ok(s) => s,
                Err(_) => sharpness_cpu(gray, w, h),
            },
            Scorer::Cpu => sharpness_cpu(gray, w, h),
        }
    }
}

/// Why a clip gave no frames.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoError {
    /// A short reason in plain words ("it is not a video this browser can play").
    pub reason: String,
    /// The browser's own message.
    pub detail: String,
}

impl VideoError {
    fn new(reason: &str, detail: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

/// The browser's words for the `<video>` element's current error.
fn media_error(video: &web_sys::HtmlVideoElement) -> String {
    match video.error() {
        Some(e) => {
            let kind = match e.code() {
                1 => "MEDIA_ERR_ABORTED",
                2 => "MEDIA_ERR_NETWORK",
                3 => "MEDIA_ERR_DECODE",
                4 => "MEDIA_ERR_SRC_NOT_SUPPORTED",
                _ => "MEDIA_ERR",
            };
            format!("{kind}: {}", e.message())
        }
        None => "the video element reported an error".into(),
    }
}

/// Waits for `event` (or `error`, or the timeout) on `target`; the listeners are removed again.
async fn wait_for(target: &web_sys::EventTarget, event: &str) -> Result<(), String> {
    type Tx = Rc<RefCell<Option<futures_channel::oneshot::Sender<Result<(), String>>>>>;
    let (tx, rx) = futures_channel::oneshot::channel();
    let tx: Tx = Rc::new(RefCell::new(Some(tx)));
    let settle = |tx: &Tx, v: Result<(), String>| {
        if let Some(t) = tx.borrow_mut().take() {
            let _ = t.send(v);
        }
    };
    let on_ok = {
        let tx = Rc::clone(&tx);
        Closure::<dyn FnMut()>::new(move || settle(&tx, Ok(())))
    };
    let on_err = {
        let tx = Rc::clone(&tx);
        Closure::<dyn FnMut()>::new(move || settle(&tx, Err("error".into())))
    };
    let on_timeout = {
        let tx = Rc::clone(&tx);
        let event = event.to_owned();
        Closure::<dyn FnMut()>::new(move || {
            settle(
                &tx,
                Err(format!("no `{event}` within {EVENT_TIMEOUT_MS} ms")),
            )
        })
    };
    let _ = target.add_event_listener_with_callback(event, on_ok.as_ref().unchecked_ref());
    let _ = target.add_event_listener_with_callback("error", on_err.as_ref().unchecked_ref());
    let window = web_sys::window();
    let timer = window.as_ref().and_then(|w| {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(
            on_timeout.as_ref().unchecked_ref(),
            EVENT_TIMEOUT_MS,
        )
        .ok()
    });
    let result = rx.await.unwrap_or_else(|_| Err("cancelled".into()));
    let _ = target.remove_event_listener_with_callback(event, on_ok.as_ref().unchecked_ref());
    let _ = target.remove_event_listener_with_callback("error", on_err.as_ref().unchecked_ref());
    if let (Some(w), Some(t)) = (window, timer) {
        w.clear_timeout_with_handle(t);
    }
    result
}

/// A canvas and its 2D context.
struct Canvas {
    el: web_sys::HtmlCanvasElement,
    ctx: web_sys::CanvasRenderingContext2d,
}

impl Canvas {
    /// A detached `w × h` canvas; `read_back` tells the browser pixels are read often.
    fn new(w: u32, h: u32, read_back: bool) -> Result<Canvas, String> {
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let el: web_sys::HtmlCanvasElement = doc
            .create_element("canvas")
            .map_err(|e| format!("{e:?}"))?
            .dyn_into()
            .map_err(|_| "not a canvas")?;
        el.set_width(w);
        el.set_height(h);
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"willReadFrequently".into(), &read_back.into());
        let ctx = el
            .get_context_with_context_options("2d", &options)
            .map_err(|e| format!("{e:?}"))?
            .ok_or("no 2D canvas")?
            .dyn_into()
            .map_err(|_| "not a 2D context")?;
        Ok(Canvas { el, ctx })
    }

    fn draw(&self, video: &web_sys::HtmlVideoElement) -> Result<(), String> {
        self.ctx
            .draw_image_with_html_video_element_and_dw_and_dh(
                video,
                0.0,
                0.0,
                f64::from(self.el.width()),
                f64::from(self.el.height()),
            )
            .map_err(|e| format!("{e:?}"))
    }

    /// The canvas as Rec. 601 grey in 0..1.
    fn gray(&self) -> Result<Vec<f32>, String> {
        let data = self
            .ctx
            .get_image_data(
                0.0,
                0.0,
                f64::from(self.el.width()),
                f64::from(self.el.height()),
            )
            .map_err(|e| format!("{e:?}"))?
            .data();
        Ok(luminance_601(&data))
    }

    /// The canvas as a JPEG.
    async fn jpeg(&self) -> Result<web_sys::Blob, String> {
        let (tx, rx) = futures_channel::oneshot::channel::<Option<web_sys::Blob>>();
        let cb = Closure::once_into_js(move |blob: JsValue| {
            let _ = tx.send(blob.dyn_into::<web_sys::Blob>().ok());
        });
        self.el
            .to_blob_with_type_and_encoder_options(
                cb.unchecked_ref(),
                "image/jpeg",
                &JsValue::from(JPEG_QUALITY),
            )
            .map_err(|e| format!("{e:?}"))?;
        rx.await
            .ok()
            .flatten()
            .ok_or_else(|| "the browser could not encode a JPEG".to_owned())
    }
}

/// `w × h` scaled so the longer side is at most `side` (never enlarged, at least 1).
fn fit(w: u32, h: u32, side: u32) -> (u32, u32) {
    let long = w.max(h).max(1);
    if long <= side {
        return (w.max(1), h.max(1));
    }
    let s = f64::from(side) / f64::from(long);
    (
        ((f64::from(w) * s).round() as u32).max(1),
        ((f64::from(h) * s).round() as u32).max(1),
    )
}

/// An opened clip: the `<video>` element and its object URL (revoked on drop).
struct Clip {
    video: web_sys::HtmlVideoElement,
    url: String,
}

impl Drop for Clip {
    fn drop(&mut self) {
        self.video.remove_attribute("src").ok();
        self.video.load();
        let _ = web_sys::Url::revoke_object_url(&self.url);
    }
}

impl Clip {
    /// Opens `blob` and waits for its first frame; learns the length of a clip whose container
    /// does not state it (MediaRecorder's WebM) by seeking to its end.
    async fn open(blob: &web_sys::Blob) -> Result<(Clip, f64), VideoError> {
        let unreadable = "it is not a video this browser can play";
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| VideoError::new(unreadable, "no document"))?;
        let video: web_sys::HtmlVideoElement = doc
            .create_element("video")
            .map_err(|e| VideoError::new(unreadable, format!("{e:?}")))?
            .dyn_into()
            .map_err(|_| VideoError::new(unreadable, "not a video element"))?;
        video.set_muted(true);
        video.set_preload("auto");
        let _ = video.set_attribute("playsinline", "");
        let url = web_sys::Url::create_object_url_with_blob(blob)
            .map_err(|e| VideoError::new(unreadable, format!("{e:?}")))?;
        video.set_src(&url);
        let clip = Clip { video, url };
        if let Err(e) = wait_for(&clip.video, "loadeddata").await {
            let detail = match e.as_str() {
                "error" => media_error(&clip.video),
                _ => e,
            };
            return Err(VideoError::new(unreadable, detail));
        }
        let mut duration = clip.video.duration();
        if !duration.is_finite() {
            clip.seek(1e9).await?;
            duration = clip.video.duration();
        }
        if !duration.is_finite() || duration <= 0.0 {
            return Err(VideoError::new(
                "its length is unknown",
                format!("duration {duration}"),
            ));
        }
        if clip.video.video_width() == 0 || clip.video.video_height() == 0 {
            return Err(VideoError::new("it has no picture", "videoWidth is 0"));
        }
        Ok((clip, duration))
    }

    /// Seeks to `t` seconds and waits until that frame can be drawn.
    async fn seek(&self, t: f64) -> Result<(), VideoError> {
        self.video.set_current_time(t);
        wait_for(&self.video, "seeked").await.map_err(|e| {
            let detail = match e.as_str() {
                "error" => media_error(&self.video),
                _ => e,
            };
            VideoError::new("part of it could not be decoded", detail)
        })
    }
}

/// Keeps the sharpest of [`CANDIDATES_PER_WINDOW`] frames in each of `windows` equal windows of
/// the clip in `blob`, handing each kept frame (window index, JPEG) to `keep` as soon as its
/// window is done; `keep` returns false to stop (the page was left). Returns frames kept.
pub async fn extract_frames(
    blob: &web_sys::Blob,
    windows: u32,
    scorer: &Scorer,
    mut keep: impl FnMut(u32, web_sys::Blob) -> bool,
) -> Result<u32, VideoError> {
    let (clip, duration) = Clip::open(blob).await?;
    let (w, h) = fit(
        clip.video.video_width(),
        clip.video.video_height(),
        MAX_SIDE,
    );
    let (sw, sh) = fit(w, h, SCORE_SIDE);
    let canvas_problem = |e: String| VideoError::new("this browser could not draw its frames", e);
    let score_canvas = Canvas::new(sw, sh, true).map_err(canvas_problem)?;
    let best_canvas = Canvas::new(w, h, false).map_err(canvas_problem)?;
    let times = candidate_times(duration, windows, CANDIDATES_PER_WINDOW);
    let mut kept = 0;
    for (k, window) in times.chunks(CANDIDATES_PER_WINDOW as usize).enumerate() {
        let mut best = f32::NEG_INFINITY;
        for &t in window {
            clip.seek(t).await?;
            score_canvas.draw(&clip.video).map_err(canvas_problem)?;
            let gray = score_canvas.gray().map_err(canvas_problem)?;
            let s = scorer.score(&gray, sw, sh).await;
            if s > best || best == f32::NEG_INFINITY {
                best = s;
                best_canvas.draw(&clip.video).map_err(canvas_problem)?;
            }
        }
        let jpeg = best_canvas.jpeg().await.map_err(canvas_problem)?;
        kept += 1;
        if !keep(k as u32, jpeg) {
            break;
        }
    }
    Ok(kept)
}
