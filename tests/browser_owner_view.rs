//! The owner's start view, end to end in headless Chromium (WebGPU on SwiftShader) against the
//! real server: a scene imported without cameras opens on the project page with an up-axis
//! choice; choosing +z re-orients the viewer at once and is saved; the owner orbits and presses
//! "Save this view"; a share link opened on a phone (a fresh browser that never saw the project) draws
//! its first frame from that view, and that frame matches the thumbnail the server rendered
//! after the save (not the thumbnail of the import's default framing), with no controls that
//! write.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::api::{typed, Api, Backend};
use common::posed_set::truth;
use common::viewer::{attr, canvas_image, common_view, mean_abs_diff, open_on_phone, wait_drawn};
use common::Browser;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::Locator;
use image::imageops;
use serde_json::json;
use splatpod::api::{self, StartViewSource, UpAxis};

/// Waits until `#start-view` is idle with `data-thumbnail-job` other than `previous`; returns
/// that job's id.
async fn next_thumbnail_job(browser: &Browser, previous: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = attr(browser, "#start-view", "data-busy").await;
        let job = attr(browser, "#start-view", "data-thumbnail-job")
            .await
            .unwrap_or_default();
        if busy.as_deref() == Some("false") && !job.is_empty() && job != previous {
            return job;
        }
        if let Ok(e) = browser.client.find(Locator::Css("#start-view-error")).await {
            panic!("saving failed: {}", e.text().await.unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "no new thumbnail job");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The frame counter of the viewer under `scope`.
async fn frames(browser: &Browser, scope: &str) -> u64 {
    attr(browser, &format!("{scope} #frame-time"), "data-frames")
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits until the viewer under `scope` has drawn a frame after `before` and stays idle.
async fn settled(browser: &Browser, scope: &str, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while frames(browser, scope).await <= before
        || attr(browser, &format!("{scope} #viewer-canvas"), "data-state")
            .await
            .as_deref()
            != Some("idle")
    {
        assert!(Instant::now() < deadline, "the viewer did not redraw");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the viewer under `scope` has drawn no new frame for half a second and is idle
/// (a layout change after the first frame, such as the status line emptying, resizes the canvas
/// and draws again).
async fn still(browser: &Browser, scope: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = frames(browser, scope).await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = frames(browser, scope).await;
        let idle = attr(browser, &format!("{scope} #viewer-canvas"), "data-state").await;
        if now == last && idle.as_deref() == Some("idle") {
            return;
        }
        last = now;
        assert!(Instant::now() < deadline, "the viewer keeps drawing");
    }
}

#[tokio::test]
async fn the_owner_saves_a_view_and_a_share_link_starts_there() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let project = api.project("Ball without cameras").await;
    let scene = truth();
    let imported = api.import_scene(&project, &scene).await;
    let t = api.wait_final(&imported.thumbnail_job, 120).await;
    assert_eq!(t["status"], "COMPLETED", "{t}");
    let thumbnail_path = format!("/api/projects/{project}/artifacts/thumbnail.png");
    let thumbnail = || api.bytes(&thumbnail_path);
    let framed_thumb = image::load_from_memory(&thumbnail().await)
        .expect("thumbnail PNG")
        .to_rgb8();

    // The project page: the scene framed about −y, the up-axis choice shown (no cameras).
    let desk = Browser::start(true).await;
    desk.open_with_key(&api.server, &api.key, &format!("/project/{project}"))
        .await;
    wait_drawn(&desk, "#reconstruct", scene.len() as u64).await;
    assert_eq!(
        attr(&desk, "#start-view", "data-source").await.as_deref(),
        Some("framing")
    );
    let select = desk
        .client
        .find(Locator::Css("#up-axis"))
        .await
        .expect("the up-axis choice");
    assert!(select.is_displayed().await.expect("displayed"));
    assert_eq!(
        select.prop("value").await.expect("value").as_deref(),
        Some("-y")
    );

    // +z: the viewer turns at once, the choice is saved and a thumbnail queued.
    let before = frames(&desk, "#reconstruct").await;
    select.select_by_value("+z").await.expect("choose +z");
    settled(&desk, "#reconstruct", before).await;
    let job = next_thumbnail_job(&desk, "").await;
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
    let (_, b) = api
        .get(&format!("/api/projects/{project}/start-view"))
        .await;
    let resolved: api::ProjectStartView = typed(&b);
    assert_eq!(resolved.up_axis, UpAxis::PosZ);

    // Orbit a little, then save the view.
    let canvas = desk
        .client
        .find(Locator::Css("#reconstruct #viewer-canvas"))
        .await
        .expect("canvas");
    // Offsets from the canvas centre (WebDriver scrolls it into view).
    let step = |dx: f64, dy: f64| PointerAction::MoveToElement {
        element: canvas.clone(),
        duration: Some(Duration::from_millis(150)),
        x: dx,
        y: dy,
    };
    let before = frames(&desk, "#reconstruct").await;
    let drag = MouseActions::new("mouse".into())
        .then(step(0.0, 0.0))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(step(40.0, 10.0))
        .then(step(90.0, 25.0))
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    desk.client.perform_actions(drag).await.expect("drag");
    settled(&desk, "#reconstruct", before).await;
    desk.client
        .find(Locator::Css("#start-view-save"))
        .await
        .expect("Save this view")
        .click()
        .await
        .expect("click");
    let job = next_thumbnail_job(&desk, &job).await;
    assert_eq!(
        attr(&desk, "#start-view", "data-source").await.as_deref(),
        Some("saved")
    );
    assert!(desk
        .text_of("#start-view-status", 30)
        .await
        .starts_with("View saved"));
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
    let (_, b) = api
        .get(&format!("/api/projects/{project}/start-view"))
        .await;
    let resolved: api::ProjectStartView = typed(&b);
    assert_eq!(resolved.source, StartViewSource::Saved);
    let saved = resolved.start_view.expect("the saved view");
    assert!((glam::Vec3::from(saved.up) - glam::Vec3::Z).length() < 1e-6);
    let (_, share) = api
        .post(&format!("/api/projects/{project}/shares"), json!({}))
        .await;
    let url = share["url"].as_str().expect("url").to_owned();
    desk.close().await;

    // A fresh browser (a phone, whose viewport holds the whole canvas): the share page starts
    // from the saved view, read-only.
    let viewer = open_on_phone(&url, scene.len() as u64).await;
    still(&viewer, "").await;
    let frame = canvas_image(&viewer, "").await;
    for css in ["#start-view-save", "#up-axis", "#start-view-clear"] {
        assert!(
            viewer.client.find(Locator::Css(css)).await.is_err(),
            "{css} on the share page"
        );
    }
    viewer.close().await;
    let thumb = image::load_from_memory(&thumbnail().await)
        .expect("thumbnail PNG")
        .to_rgb8();
    if let Some(dir) = std::env::var_os("SPLATPOD_SHOT_DIR") {
        let dir = std::path::Path::new(&dir);
        frame
            .save(dir.join("owner-view-first-frame.png"))
            .expect("save");
        thumb
            .save(dir.join("owner-view-thumbnail.png"))
            .expect("save");
    }
    let (frame_part, thumb_part) = common_view(&frame, &thumb);
    let (_, framed_part) = common_view(&frame, &framed_thumb);
    let diff = mean_abs_diff(&frame_part, &thumb_part);
    let mirrored = mean_abs_diff(&frame_part, &imageops::flip_horizontal(&thumb_part));
    let upside_down = mean_abs_diff(&frame_part, &imageops::flip_vertical(&thumb_part));
    let default_view = mean_abs_diff(&frame_part, &framed_part);
    eprintln!(
        "first frame {}×{} vs the saved view's thumbnail: {diff:.2} (mirrored {mirrored:.2}, \
         upside down {upside_down:.2}, the import's framing {default_view:.2})",
        frame.width(),
        frame.height()
    );
    assert!(
        diff < 6.0,
        "the first frame differs from the thumbnail: {diff:.2}"
    );
    assert!(
        diff < 0.35 * mirrored.min(upside_down).min(default_view),
        "the view is not distinguishable from a flipped one or the default framing: {diff:.2} \
         vs {mirrored:.2} / {upside_down:.2} / {default_view:.2}"
    );
}
