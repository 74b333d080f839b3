//! End-to-end test of the project page's camera poses and sparse cloud in headless Chromium
//! (WebGPU on SwiftShader) against the real server: a project whose photos were posed by a
//! COLMAP import (the posed set: 16 cameras on a ring, 300 grey points) shows how many photos
//! are registered and draws the cloud and one orange frustum per camera in its viewer.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::api::{Api, Backend};
use common::posed_set::{upload_posed_set, VIEWS};
use common::Browser;
use fantoccini::Locator;
use splatpod::render::SPLATS_PER_CAMERA;

const POINTS: usize = 300;

async fn attr(browser: &Browser, css: &str, name: &str) -> Option<String> {
    match browser.client.find(Locator::Css(css)).await {
        Ok(el) => el.attr(name).await.expect("attribute"),
        Err(_) => None,
    }
}

/// `1068` → `"1,068"`, as the viewer's readout groups digits.
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn the_project_page_shows_the_sparse_cloud_and_the_cameras() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let project = api.project("posed ring").await;
    assert_eq!(
        upload_posed_set(&api, &project, dir.path()).await.images,
        VIEWS as u64
    );

    let browser = Browser::start(true).await;
    browser
        .open_with_key(&api.server, &api.key, &format!("/project/{project}"))
        .await;

    let summary = browser.text_of("#sparse-summary", 60).await;
    assert_eq!(
        summary,
        format!("{VIEWS} of {VIEWS} photos registered · {POINTS} points")
    );
    assert_eq!(
        attr(&browser, "#sparse", "data-cameras").await.as_deref(),
        Some(VIEWS.to_string().as_str())
    );
    // No sfm.json for an imported model, so no list of photos left out.
    assert!(browser
        .client
        .find(Locator::Css("#sparse-unregistered"))
        .await
        .is_err());

    // The viewer holds the points and one frustum per camera, and has drawn them.
    let want = format!("{} splats", grouped(POINTS + VIEWS * SPLATS_PER_CAMERA));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = browser.text_of("#splat-count", 30).await;
        let frames: u64 = attr(&browser, "#frame-time", "data-frames")
            .await
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let idle = attr(&browser, "#viewer-canvas", "data-state")
            .await
            .as_deref()
            == Some("idle");
        if count == want && frames > 0 && idle {
            break;
        }
        let error = browser.client.find(Locator::Css("#viewer-error")).await;
        if let Ok(e) = error {
            panic!("viewer error: {}", e.text().await.unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "not drawn: `{count}`, {frames} frames"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let png = browser
        .client
        .find(Locator::Css("#viewer-canvas"))
        .await
        .expect("canvas")
        .screenshot()
        .await
        .expect("screenshot");
    // For debugging: SPLATPOD_SHOT_DIR=/some/dir keeps the screenshot.
    if let Some(dir) = std::env::var_os("SPLATPOD_SHOT_DIR") {
        let _ = std::fs::write(Path::new(&dir).join("project-sparse.png"), &png);
    }
    let image = image::load_from_memory(&png).expect("PNG").to_rgb8();
    let total = f64::from(image.width() * image.height());
    let share = |pred: &dyn Fn(&[u8; 3]) -> bool| {
        image.pixels().filter(|p| pred(&p.0)).count() as f64 / total
    };
    // Frusta in orange (1, 0.55, 0.1); points in the model's grey (128, 128, 128).
    let orange = share(&|p| p[0] > 170 && (70..190).contains(&p[1]) && p[2] < 100);
    let grey = share(&|p| {
        (90..170).contains(&p[0]) && p[0].abs_diff(p[1]) < 12 && p[1].abs_diff(p[2]) < 12
    });
    assert!(
        orange > 0.002,
        "camera frusta cover {orange:.4} of the view"
    );
    assert!(grey > 0.002, "points cover {grey:.4} of the view");
    browser.close().await;
}
