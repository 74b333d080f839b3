//! Recording a video with the device's camera: `getUserMedia` (the back camera where there is
//! one, no sound) shown live in a preview, and `MediaRecorder` collecting the clip in
//! one-second pieces until it is stopped.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn js(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A recording in progress.
pub struct Recorder {
    stream: web_sys::MediaStream,
    recorder: web_sys::MediaRecorder,
    chunks: Rc<RefCell<Vec<web_sys::Blob>>>,
    _on_data: Closure<dyn FnMut(web_sys::BlobEvent)>,
}

impl Recorder {
    /// Opens the camera, shows it in `preview` and starts recording.
    pub async fn start(preview: &web_sys::HtmlVideoElement) -> Result<Recorder, String> {
        let devices = web_sys::window()
            .ok_or("no window")?
            .navigator()
            .media_devices()
            .map_err(|_| "this browser has no camera access here (an https:// page is needed)")?;
        let video = js_sys::Object::new();
        js_sys::Reflect::set(&video, &"facingMode".into(), &"environment".into()).map_err(js)?;
        let constraints = js_sys::Object::new();
        js_sys::Reflect::set(&constraints, &"video".into(), &video).map_err(js)?;
        js_sys::Reflect::set(&constraints, &"audio".into(), &false.into()).map_err(js)?;
        let promise = devices
            .get_user_media_with_constraints(constraints.unchecked_ref())
            .map_err(js)?;
        let stream: web_sys::MediaStream = JsFuture::from(promise)
            .await
            .map_err(js)?
            .dyn_into()
            .map_err(|_| "the camera gave no stream")?;
        let recorder = match web_sys::MediaRecorder::new_with_media_stream(&stream) {
            Ok(r) => r,
            Err(e) => {
                stop_tracks(&stream);
                return Err(js(e));
            }
        };
        let chunks = Rc::new(RefCell::new(Vec::new()));
        let on_data = {
            let chunks = Rc::clone(&chunks);
            Closure::<dyn FnMut(web_sys::BlobEvent)>::new(move |e: web_sys::BlobEvent| {
                if let Some(b) = e.data().filter(|b| b.size() > 0.0) {
                    chunks.borrow_mut().push(b);
                }
            })
        };
        recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
        preview.set_src_object(Some(&stream));
        let _ = preview.play();
        if let Err(e) = recorder.start_with_time_slice(1000) {
            stop_tracks(&stream);
            return Err(js(e));
        }
        Ok(Recorder {
            stream,
            recorder,
            chunks,
            _on_data: on_data,
        })
    }

    /// Stops recording and the camera; the clip (with the recorder's MIME type).
    pub async fn stop(self, preview: &web_sys::HtmlVideoElement) -> Result<web_sys::Blob, String> {
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let on_stop = Closure::once_into_js(move || {
            let _ = tx.send(());
        });
        self.recorder.set_onstop(Some(on_stop.unchecked_ref()));
        let stopped = self.recorder.stop();
        if stopped.is_ok() {
            let _ = rx.await;
        }
        self.recorder.set_ondataavailable(None);
        self.recorder.set_onstop(None);
        stop_tracks(&self.stream);
        preview.set_src_object(None);
        stopped.map_err(js)?;
        let parts = js_sys::Array::new();
        for c in self.chunks.borrow().iter() {
            parts.push(c);
        }
        if parts.length() == 0 {
            return Err("nothing was recorded".into());
        }
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(&self.recorder.mime_type());
        web_sys::Blob::new_with_blob_sequence_and_options(&parts, &options).map_err(js)
    }
}

fn stop_tracks(stream: &web_sys::MediaStream) {
    for t in stream.get_tracks().iter() {
        if let Ok(t) = t.dyn_into::<web_sys::MediaStreamTrack>() {
            t.stop();
        }
    }
}
