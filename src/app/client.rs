//! Calls to the Splatpod server from the PWA: typed answers or the server's own error message,
//! the API key remembered in this browser, and a timer to poll with.

use serde::de::DeserializeOwned;
use splatpod::api::ErrorBody;
use wasm_bindgen::JsCast;

/// Local-storage key under which the API key is remembered.
pub const KEY_STORAGE: &str = "splatpod-api-key";

pub fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// The API key this browser remembers, if any.
pub fn saved_key() -> Option<String> {
    storage()
        .and_then(|s| s.get_item(KEY_STORAGE).ok().flatten())
        .filter(|k| !k.is_empty())
}

/// The typed answer, or the server's `error` message for a non-2xx status.
pub async fn body_of<T: DeserializeOwned>(res: gloo_net::http::Response) -> Result<T, String> {
    let status = res.status();
    if (200..300).contains(&status) {
        res.json()
            .await
            .map_err(|e| format!("unreadable answer (HTTP {status}): {e}"))
    } else if status == 401 {
        Err("the server refused the API key".into())
    } else {
        Err(res
            .json::<ErrorBody>()
            .await
            .map_or_else(|_| format!("HTTP {status}"), |b| b.error))
    }
}

pub fn net(e: gloo_net::Error) -> String {
    format!("cannot reach the server: {e}")
}

/// Waits `ms` milliseconds on the browser's timer.
pub async fn sleep_ms(ms: i32) {
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = tx.send(());
    });
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms);
    }
    let _ = rx.await;
}

/// `Authorization` header value for `token` (a full key or a pairing token).
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET path` with `token` (a full key or a pairing token) as a bearer: the answer, whatever its
/// status.
pub async fn get_authorized(
    path: &str,
    token: &str,
) -> Result<gloo_net::http::Response, gloo_net::Error> {
    gloo_net::http::Request::get(path)
        .header("Authorization", &bearer(token))
        .send()
        .await
}

/// `GET` of artifact `name` of `project` with `key` as a bearer: the answer, whatever its status.
pub async fn get_artifact(
    key: &str,
    project: &str,
    name: &str,
) -> Result<gloo_net::http::Response, gloo_net::Error> {
    get_authorized(&format!("/api/projects/{project}/artifacts/{name}"), key).await
}

/// `GET path` with `token` (a full key or a pairing token) as a bearer: the typed answer, or
/// what went wrong in words.
pub async fn get_json<T: DeserializeOwned>(path: &str, token: &str) -> Result<T, String> {
    let response = get_authorized(path, token).await.map_err(net)?;
    body_of(response).await
}

/// The job endpoint's name (for `/v2/{endpoint}/…` URLs), from `/health`.
pub async fn endpoint() -> Result<String, String> {
    let health: splatpod::api::Health = body_of(
        gloo_net::http::Request::get("/health")
            .send()
            .await
            .map_err(net)?,
    )
    .await?;
    Ok(health.endpoint)
}

/// An RFC 3339 time as the person's local `HH:MM` (the text itself if unreadable).
pub fn local_hh_mm(rfc3339: &str) -> String {
    let date = js_sys::Date::new(&rfc3339.into());
    let ms = date.get_time();
    if ms.is_nan() {
        return rfc3339.to_owned();
    }
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Whether the RFC 3339 time `t` has passed.
pub fn is_past(rfc3339: &str) -> bool {
    let ms = js_sys::Date::parse(rfc3339);
    !ms.is_nan() && ms <= js_sys::Date::now()
}

/// Follows a job's live progress, `GET /api/jobs/{job}/events` (Server-Sent Events, read
/// through `fetch` so that the bearer header goes along, which `EventSource` cannot send):
/// `on_status` gets each status body as the server sees it change, to the final one, and
/// answers whether to go on (false: the page is gone). Err when the stream cannot be opened or
/// ends before a final status; the caller then reads the status itself.
pub async fn follow_job_events(
    job: &str,
    token: &str,
    mut on_status: impl FnMut(splatpod::api::JobStatusBody) -> bool,
) -> Result<(), String> {
    let response = get_authorized(&format!("/api/jobs/{job}/events"), token)
        .await
        .map_err(net)?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body = response.body().ok_or("no response body")?;
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader().dyn_into().map_err(|e| format!("{e:?}"))?;
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("{e:?}"))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            return Err("the event stream ended before the job did".into());
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
            pending.extend(js_sys::Uint8Array::new(&value).to_vec());
        }
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            let (name, data) = parse_event(&String::from_utf8_lossy(&event));
            match name.as_str() {
                "progress" | "done" => {
                    let status: splatpod::api::JobStatusBody =
                        serde_json::from_str(&data).map_err(|e| e.to_string())?;
                    if !on_status(status) || name == "done" {
                        let _ = reader.cancel();
                        return Ok(());
                    }
                }
                "error" => return Err(data),
                _ => {} // keep-alive comments
            }
        }
    }
}

/// An SSE event's name (`message` when unnamed) and its `data` lines joined.
fn parse_event(text: &str) -> (String, String) {
    let (mut name, mut data) = ("message".to_owned(), Vec::new());
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data.join("\n"))
}
