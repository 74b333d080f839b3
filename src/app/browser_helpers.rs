//! Small browser helpers the pages share: a clock, WebGPU detection, and yielding to the next
//! animation frame.

use leptos::prelude::request_animation_frame;

/// `performance.now()` in milliseconds (0 where there is no window).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// Whether the browser exposes `navigator.gpu` at all (an adapter may still be missing).
pub fn webgpu_exposed() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &"gpu".into()).unwrap_or(false))
        .unwrap_or(false)
}

/// Resolves on the next animation frame, so the page can paint a status change before a long
/// synchronous step (decoding, parsing, uploading).
pub async fn next_frame() {
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    request_animation_frame(move || {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// Whether the primary pointer is a finger (`(pointer: coarse)`): a phone or a tablet, where a
/// full API key should not be typed in.
pub fn touch_first() -> bool {
    use wasm_bindgen::JsCast;
    let Some(w) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&w, &"matchMedia".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&w, &"(pointer: coarse)".into()).ok())
        .and_then(|list| js_sys::Reflect::get(&list, &"matches".into()).ok())
        .and_then(|m| m.as_bool())
        .unwrap_or(false)
}
