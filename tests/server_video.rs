//! End-to-end tests of `POST /api/projects/{id}/videos`: the real `splatpod-server` binary
//! (SQLite) decodes a rendered test clip with ffmpeg and keeps the sharpest frame of each time
//! window as a photo; corrupt, truncated, oversize and unauthenticated uploads are refused with
//! a clear message and store nothing; a server without ffmpeg says to install it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::OnceLock;

use common::api::{typed, Api, Backend};
use common::clip::{self, Codec};
use serde_json::{json, Value};
use splatpod::api;

/// The clip's frames and its H.264 bytes, made once per test binary.
fn test_clip() -> &'static (Vec<Vec<u8>>, Vec<u8>) {
    static CLIP: OnceLock<(Vec<Vec<u8>>, Vec<u8>)> = OnceLock::new();
    CLIP.get_or_init(|| {
        let frames = clip::frames();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = clip::encode(&frames, dir.path(), Codec::H264Mp4);
        let bytes = std::fs::read(path).expect("read clip");
        (frames, bytes)
    })
}

/// Posts a video form (`fields` are extra text fields) with `token`; returns status and body.
async fn post_video(
    a: &Api,
    project: &str,
    token: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "video",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut req = a
        .http
        .post(a.url(&format!("/api/projects/{project}/videos")))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let (s, b, _) = a.send(req).await;
    (s, b)
}

async fn images(a: &Api, project: &str) -> Vec<api::ImageInfo> {
    let (s, b) = a.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(s, 200, "{b}");
    typed::<api::ImageList>(&b).images
}

/// The error message of a refused request, checked to be plain and to name the problem.
fn message(body: &Value) -> String {
    typed::<api::ErrorBody>(body).error
}

#[tokio::test]
async fn keeps_the_sharpest_frame_of_each_window() {
    let (frames, bytes) = test_clip();
    let a = Api::start_opts(&Backend::Sqlite, &[], false).await;
    let project = a.project("video").await;
    let (s, b) = post_video(
        &a,
        &project,
        Some(&a.key),
        "walk around.mp4",
        bytes.clone(),
        &[("frames", "10")],
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let r = typed::<api::VideoUploadResult>(&b);
    assert_eq!(r.frames_requested, 10);
    assert_eq!(r.frames_extracted, 10, "{b}");
    assert_eq!(r.upload.stored, 10, "{b}");
    assert!(
        (r.duration_s - 4.0).abs() < 0.2,
        "duration {}",
        r.duration_s
    );
    let names: Vec<&str> = r
        .upload
        .files
        .iter()
        .map(|f| f.file_name.as_str())
        .collect();
    assert_eq!(names[0], "walk around-0001.jpg");
    assert_eq!(names[9], "walk around-0010.jpg");

    let stored = images(&a, &project).await;
    assert_eq!(stored.len(), 10);
    // Which clip frame each stored photo is: the nearest source frame by pixels.
    let mut kept = Vec::new();
    for img in &stored {
        assert_eq!(
            (img.width, img.height),
            (clip::WIDTH as i64, clip::HEIGHT as i64)
        );
        let path = a.server.data_dir.path().join(format!(
            "blobs/projects/{project}/images/{}.jpg",
            img.sha256
        ));
        let jpeg = std::fs::read(&path).expect("stored blob");
        let rgb = image::load_from_memory(&jpeg)
            .expect("JPEG")
            .to_rgb8()
            .into_raw();
        kept.push(clip::nearest_frame(frames, &rgb));
    }
    kept.sort_unstable();
    let expected: Vec<usize> = (0..10).map(clip::sharp_frame).collect();
    assert_eq!(kept, expected, "kept frames (sharp ones: {expected:?})");
    assert!(kept.iter().all(|&i| clip::is_sharp(i)));

    // The same clip again: every frame is a duplicate, nothing new is stored.
    let (s, b) = post_video(
        &a,
        &project,
        Some(&a.key),
        "again.mp4",
        bytes.clone(),
        &[("frames", "10")],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let r = typed::<api::VideoUploadResult>(&b);
    assert_eq!((r.upload.stored, r.upload.duplicates), (0, 10));
    assert_eq!(images(&a, &project).await.len(), 10);

    // A preset: low keeps 30 frames (the clip has 60).
    let other = a.project("preset").await;
    let (s, b) = post_video(
        &a,
        &other,
        Some(&a.key),
        "c.mp4",
        bytes.clone(),
        &[("quality", "low")],
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let r = typed::<api::VideoUploadResult>(&b);
    assert_eq!(
        (r.frames_requested, r.frames_extracted, r.upload.stored),
        (30, 30, 30)
    );
}

#[tokio::test]
async fn bad_videos_get_a_clear_message_and_store_nothing() {
    let (_, bytes) = test_clip();
    let a = Api::start_opts(&Backend::Sqlite, &[], false).await;
    let project = a.project("bad").await;

    // Random bytes named .mp4.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (s, b) = post_video(&a, &project, Some(&a.key), "clip.mp4", noise, &[]).await;
    assert_eq!(s, 415, "{b}");
    let m = message(&b);
    assert!(m.contains("could not be read"), "{m}");
    assert!(
        !m.contains("/tmp") && !m.contains("video-"),
        "no server paths: {m}"
    );

    // A real clip cut in half (the index sits at its end).
    let half = bytes[..bytes.len() / 2].to_vec();
    let (s, b) = post_video(&a, &project, Some(&a.key), "cut.mp4", half, &[]).await;
    assert_eq!(s, 415, "{b}");
    assert!(message(&b).contains("could not be read"), "{b}");

    // Bad fields.
    let (s, b) = post_video(
        &a,
        &project,
        Some(&a.key),
        "c.mp4",
        bytes.clone(),
        &[("frames", "0")],
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(message(&b).contains("frames"), "{b}");
    let (s, b) = post_video(
        &a,
        &project,
        Some(&a.key),
        "c.mp4",
        bytes.clone(),
        &[("quality", "ultra")],
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = post_video(&a, &project, Some(&a.key), "c.mp4", Vec::new(), &[]).await;
    assert_eq!(s, 400, "{b}");

    // No key, a wrong key.
    let (s, _) = post_video(&a, &project, None, "c.mp4", bytes.clone(), &[]).await;
    assert_eq!(s, 401);
    let (s, _) = post_video(&a, &project, Some("sp_wrong"), "c.mp4", bytes.clone(), &[]).await;
    assert_eq!(s, 401);
    assert!(images(&a, &project).await.is_empty(), "nothing stored");

    // A phone's pairing token may send videos to its own project only.
    let (s, p) = a
        .post(&format!("/api/projects/{project}/pairings"), json!({}))
        .await;
    assert_eq!(s, 201, "{p}");
    let token = typed::<api::PairingCreated>(&p).token;
    let other = a.project("other").await;
    let (s, b) = post_video(
        &a,
        &other,
        Some(&token),
        "c.mp4",
        bytes.clone(),
        &[("frames", "3")],
    )
    .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = post_video(
        &a,
        &project,
        Some(&token),
        "c.mp4",
        bytes.clone(),
        &[("frames", "3")],
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(images(&a, &project).await.len(), 3);
    assert!(images(&a, &other).await.is_empty());
}

#[tokio::test]
async fn oversize_and_missing_ffmpeg_are_refused_plainly() {
    let (_, bytes) = test_clip();
    // The request body limit applies to videos.
    let mut a = Api::start_opts(
        &Backend::Sqlite,
        &[("SPLATPOD_MAX_UPLOAD_BYTES", "20000")],
        false,
    )
    .await;
    assert!(bytes.len() > 40_000, "the clip is {} bytes", bytes.len());
    let project = a.project("big").await;
    let (s, b) = post_video(&a, &project, Some(&a.key), "c.mp4", bytes.clone(), &[]).await;
    assert_eq!(s, 413, "{b}");
    // The server answers 413 without reading the rest of the body and closes that connection;
    // a new client makes sure the next request does not race the close on a pooled one.
    a.http = reqwest::Client::new();
    assert!(images(&a, &project).await.is_empty());
    drop(a);

    let mut a = Api::start_opts(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_FFMPEG", "/nonexistent/ffmpeg"),
            ("SPLATPOD_FFPROBE", "/nonexistent/ffprobe"),
        ],
        false,
    )
    .await;
    let project = a.project("no-ffmpeg").await;
    let (s, b) = post_video(&a, &project, Some(&a.key), "c.mp4", bytes.clone(), &[]).await;
    assert_eq!(s, 503, "{b}");
    let m = message(&b);
    assert!(m.contains("install") && m.contains("ffmpeg"), "{m}");
    // The 503 too is answered before the body is read: again a new client.
    a.http = reqwest::Client::new();
    assert!(images(&a, &project).await.is_empty());
}
