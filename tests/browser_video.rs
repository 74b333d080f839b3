//! End-to-end test of video capture on `/capture` in headless Chromium (WebGPU on SwiftShader):
//! a rendered 4-second test clip (VP8 WebM, encoded here with ffmpeg) picked through the video
//! input yields the requested number of frames, each added to the capture list and kept in the
//! offline store (a reload still lists them); a corrupt clip gets the plain message with the
//! browser's words behind "Details".
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::clip::{self, Codec};
use common::{Browser, Server};
use fantoccini::Locator;

/// Frames asked of the 4-second clip (SwiftShader scores each candidate on the CPU).
const FRAMES: usize = 8;

async fn pick_video(browser: &Browser, path: &Path) {
    let path = path.canonicalize().expect("canonical path");
    browser
        .client
        .find(Locator::Css("#capture-video"))
        .await
        .expect("video input")
        .send_keys(path.to_str().expect("UTF-8 path"))
        .await
        .expect("choose the video");
}

/// Waits until the video panel's `data-state` is one of `states`; returns it. Prints the
/// progress line as it changes.
async fn panel_state(browser: &Browser, states: &[&str], secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    loop {
        let (state, text) = match browser
            .client
            .find(Locator::Css("#capture-video-panel"))
            .await
        {
            Ok(el) => (
                el.attr("data-state")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                el.text().await.unwrap_or_default(),
            ),
            Err(_) => Default::default(),
        };
        if text != last {
            eprintln!(
                "[{:.1} s] {state}: {}",
                secs as f64 - (deadline - Instant::now()).as_secs_f64(),
                text.lines().last().unwrap_or("")
            );
            last = text;
        }
        if states.contains(&state.as_str()) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "video panel still `{state}` after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The capture list's (name, upload state) rows.
async fn rows(browser: &Browser) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in browser
        .client
        .find_all(Locator::Css("#capture-list .capture-photo"))
        .await
        .expect("capture rows")
    {
        let name = row
            .find(Locator::Css(".capture-name"))
            .await
            .expect("name")
            .text()
            .await
            .expect("name text");
        let upload = row
            .attr("data-upload")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        out.push((name, upload));
    }
    out
}

/// Waits until the list has `n` rows, all kept on this device.
async fn kept_rows(browser: &Browser, n: usize, secs: u64) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = rows(browser).await;
        if r.len() == n && r.iter().all(|(_, u)| u == "local") {
            return r;
        }
        assert!(Instant::now() < deadline, "rows after {secs} s: {r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_picked_video_yields_the_requested_frames_and_a_corrupt_one_a_plain_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip_path = clip::encode(&clip::frames(), dir.path(), Codec::Vp8Webm);
    let broken = dir.path().join("broken.mp4");
    let noise: Vec<u8> = (0u32..40_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&broken, noise).expect("write the corrupt clip");

    let server = Server::start(&[]);
    server.wait_healthy().await;
    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/capture")).await.unwrap();
    browser.text_of("#capture[data-gpu=ready]", 60).await;

    // The presets fill the frame count; a count typed in wins.
    let frames = browser
        .client
        .find(Locator::Css("#video-frames"))
        .await
        .expect("frame count");
    assert_eq!(
        frames.prop("value").await.ok().flatten().as_deref(),
        Some("50")
    );
    browser
        .client
        .execute(
            "const q = document.querySelector('#video-quality'); q.value = 'low'; \
             q.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .expect("choose low");
    assert_eq!(
        frames.prop("value").await.ok().flatten().as_deref(),
        Some("30")
    );
    browser
        .client
        .execute(
            &format!(
                "const f = document.querySelector('#video-frames'); f.value = '{FRAMES}'; \
                 f.dispatchEvent(new Event('change'));"
            ),
            vec![],
        )
        .await
        .expect("type a frame count");

    let start = Instant::now();
    pick_video(&browser, &clip_path).await;
    let state = panel_state(&browser, &["done", "error"], 300).await;
    let progress = browser.text_of("#capture-video-panel", 20).await;
    assert_eq!(state, "done", "{progress}");
    eprintln!(
        "{FRAMES} frames in {:.1} s: {progress}",
        start.elapsed().as_secs_f64()
    );
    let done = browser
        .client
        .find(Locator::Css("#video-progress"))
        .await
        .expect("progress line")
        .attr("data-done")
        .await
        .ok()
        .flatten();
    assert_eq!(done, Some(FRAMES.to_string()));
    let listed = kept_rows(&browser, FRAMES, 60).await;
    let mut names: Vec<String> = listed.into_iter().map(|(n, _)| n).collect();
    names.sort();
    let expected: Vec<String> = (1..=FRAMES).map(|k| format!("clip-{k:04}.jpg")).collect();
    assert_eq!(names, expected);

    // Kept on this device: a reload lists the same frames.
    browser.client.refresh().await.expect("reload");
    kept_rows(&browser, FRAMES, 60).await;

    // A corrupt clip: the plain message, the browser's words folded away, nothing added.
    pick_video(&browser, &broken).await;
    panel_state(&browser, &["error"], 60).await;
    let plain = browser.text_of("#video-problem .problem-plain", 20).await;
    assert!(
        plain.starts_with("This video could not be read by this browser:")
            && plain.contains("Try recording again or use photos"),
        "{plain}"
    );
    let detail = browser
        .client
        .find(Locator::Css("#video-problem details code"))
        .await
        .expect("details")
        .prop("textContent")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert!(detail.contains("MEDIA_ERR"), "detail: {detail}");
    assert_eq!(rows(&browser).await.len(), FRAMES);

    // The recording controls are there (a camera cannot be tested headless).
    let record = browser.text_of("#video-record", 20).await;
    assert_eq!(record, "Record video");
    browser.close().await;
}
