//! Local → remote fallback, end to end in headless Chromium (WebGPU on SwiftShader) against the
//! real server: a desktop's capture page loses the server (the browser's network cut, so every
//! request fails as it does with the server down) and takes a few small photos; "Train on this
//! device" poses them in the browser (features → matching → mapping) and trains a few
//! iterations, the viewer drawing the scene; the scene is kept on the device across a reload;
//! once the server answers again "Upload scene" imports it into a new project, whose Share
//! button makes a link that opens the scene on a phone.
//!
//! Needs `../shared/datasets/strecha-fountain-P11`, the built PWA and the server binary.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::api::{Api, Backend};
use common::phone::{phone_photo, take, wait_cards};
use common::project_page::{note_progress, share};
use common::viewer::{attr, open_on_phone, wait_drawn};
use common::Browser;
use fantoccini::Locator;

/// Photos of the capture: few and small, so the run stays short on a software GPU.
const PHOTOS: usize = 5;
/// Training iterations asked for.
const ITERATIONS: &str = "30";

async fn click(browser: &Browser, css: &str, secs: u64) {
    browser
        .wait_for(css, secs)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
}

/// Waits until `#device-train[data-server]` is `state`.
async fn wait_server(browser: &Browser, state: &str) {
    browser
        .wait_for(&format!("#device-train[data-server={state}]"), 30)
        .await;
}

/// Follows the on-device run to its end; every (stage, percent) shown, in order.
async fn follow_run(browser: &Browser, secs: u64) -> Vec<(String, f64)> {
    let mut seen: Vec<(String, f64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let state = attr(browser, "#device-train", "data-state").await;
        note_progress(browser, "#device-train-stage", &mut seen).await;
        match state.as_deref() {
            Some("done") => return seen,
            Some("failed") => panic!(
                "the run failed: {} ({seen:?})",
                browser.text_of("#device-train-error", 5).await
            ),
            _ => {}
        }
        assert!(Instant::now() < deadline, "stuck: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_capture_trained_on_the_device_offline_is_uploaded_and_shared_later() {
    let started = Instant::now();
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let photos: Vec<_> = (0..PHOTOS)
        .map(|i| phone_photo(dir.path(), i, false))
        .collect();
    let desk = Browser::start(true).await;
    desk.open_with_key(&api.server, &api.key, "/capture").await;
    wait_server(&desk, "reachable").await;
    desk.text_of("#capture[data-gpu=ready]", 60).await;

    // The server drops out of reach; the photos are kept and checked on the device.
    desk.set_offline(true).await;
    wait_server(&desk, "unreachable").await;
    // Too few photos yet: refused with the reason, the button off.
    let refused = desk.text_of("#device-train-refused", 10).await;
    assert!(refused.contains("at least 3 photos"), "{refused}");
    let start = desk.wait_for("#device-train-start", 5).await;
    assert!(
        !start.is_enabled().await.expect("enabled"),
        "Train is offered"
    );
    // Every field and button of the panel is named (labels, text).
    let unnamed = desk
        .client
        .execute(
            "return [...document.querySelectorAll('#device-train input, #device-train button')] \
             .filter(el => !(el.labels && el.labels.length) && !el.textContent.trim() \
             && !el.getAttribute('aria-label')).map(el => el.id);",
            vec![],
        )
        .await
        .expect("names");
    assert_eq!(unnamed, serde_json::json!([]), "unnamed controls");
    take(&desk, &photos).await;
    wait_cards(&desk, "data-state", 300, "every photo checked", |v| {
        v.len() == PHOTOS && v.iter().all(|s| s == "done")
    })
    .await;
    wait_cards(&desk, "data-upload", 30, "every photo kept here", |v| {
        v.iter().all(|u| u == "local")
    })
    .await;
    let offer = desk.text_of("#device-train-offline", 10).await;
    assert!(offer.contains("cannot be reached"), "{offer}");

    // Train on this device, a few iterations.
    desk.set_field("device-iterations", ITERATIONS).await;
    desk.set_field("device-max-side", "160").await;
    click(&desk, "#device-train-start", 10).await;
    let run_start = Instant::now();
    let seen = follow_run(&desk, 900).await;
    eprintln!(
        "on-device run: {:.0} s, {seen:?}",
        run_start.elapsed().as_secs_f64()
    );
    for w in seen.windows(2) {
        assert!(w[1].1 >= w[0].1, "progress went back: {seen:?}");
    }
    // Every stage in order, as the page logged them (matching a few pairs can pass quicker
    // than a poll), and the slow ones seen live.
    let trail = attr(&desk, "#device-train", "data-stages").await;
    assert_eq!(
        trail.as_deref(),
        Some("reading features matching mapping training done"),
        "{seen:?}"
    );
    for stage in ["features", "training"] {
        assert!(
            seen.iter().any(|(s, _)| s == stage),
            "{stage} not seen: {seen:?}"
        );
    }
    assert_eq!(seen.last().map(|s| s.1), Some(100.0), "{seen:?}");
    let step = attr(&desk, "#device-step", "data-step").await;
    assert_eq!(step.as_deref(), Some(ITERATIONS));
    let splats: u64 = desk
        .text_of("#device-splats", 5)
        .await
        .parse()
        .expect("splat count");
    assert!(splats > 100, "{splats} splats");
    wait_drawn(&desk, "#device-train", splats).await;
    desk.shot("device-train-done").await;
    let kept = desk.text_of("#device-scene", 5).await;
    assert!(kept.contains("kept here"), "{kept}");
    // No upload while the server is out of reach.
    assert!(desk
        .client
        .find(Locator::Css("#device-upload"))
        .await
        .is_err());

    // The server is back; the scene survives a reload and goes up with "Upload scene".
    desk.set_offline(false).await;
    desk.client.refresh().await.expect("reload");
    desk.text_of("#device-train[data-scene=kept]", 60).await;
    wait_drawn(&desk, "#device-train", splats).await;
    wait_server(&desk, "reachable").await;
    desk.wait_for("#device-upload", 30).await;
    // With the server back, training here is no longer offered.
    let controls = desk.wait_for("#device-train-controls", 5).await;
    assert!(!controls.is_displayed().await.expect("displayed"));
    desk.shot("device-train-upload").await;
    click(&desk, "#device-upload", 30).await;
    let href = desk
        .wait_for("#device-project", 60)
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    let project = href
        .strip_prefix("/project/")
        .unwrap_or_else(|| panic!("{href}"))
        .to_owned();
    let ply = api
        .bytes(&format!("/api/projects/{project}/artifacts/scene.ply"))
        .await;
    let scene = splatpod::formats::load_scene(&ply, Some("scene.ply")).expect("the scene");
    assert_eq!(scene.len() as u64, splats);
    // The photos follow to the same project.
    wait_cards(&desk, "data-upload", 120, "every photo sent", |v| {
        v.len() == PHOTOS && v.iter().all(|u| u == "sent")
    })
    .await;

    // The project's Share button makes a link that opens the scene.
    desk.client
        .goto(&api.server.url(&href))
        .await
        .expect("project page");
    let url = share(&desk).await;
    desk.close().await;
    open_on_phone(&url, splats).await.close().await;
    eprintln!("whole test: {:.0} s", started.elapsed().as_secs_f64());
}
