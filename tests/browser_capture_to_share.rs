//! The whole path a person takes, end to end in headless Chromium against the real server
//! (lavapipe; the operator caps each job's photo size and training iterations to CI size): a
//! desktop pairs a phone with a new project; the phone (a phone's viewport) takes 8 photos; the
//! desktop presses Reconstruct, follows stage and percent to the end and makes a share link;
//! that link, opened on a phone in a fresh browser context, draws the scene from a capture
//! camera, and its first frame matches the server's thumbnail of that view.
//!
//! Needs `../shared/datasets/strecha-fountain-P11`, the built PWA and the server binary.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::api::{typed, Api, Backend};
use common::phone::{desktop, pair_from_desktop, phone_photo, take, wait_cards};
use common::project_page::{assert_seen_in, follow_reconstruct, share};
use common::viewer::{canvas_image, common_view, mean_abs_diff, open_on_phone};
use common::{Browser, BrowserOptions};
use fantoccini::Locator;
use image::imageops;
use splatpod::api;

/// Photos the phone takes.
const PHOTOS: usize = 8;

#[tokio::test]
async fn capture_reconstruct_share_and_the_first_view_is_the_thumbnail() {
    let api = Api::start(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_MAX_JOB_IMAGE_SIDE", "512"),
            ("SPLATPOD_MAX_JOB_ITERATIONS", "60"),
        ],
    )
    .await;
    let name = "Fountain walk";
    let project = api.project(name).await;

    // Pair, then take 8 photos on the phone.
    let link = pair_from_desktop(&api, &project, name).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let photos: Vec<_> = (0..PHOTOS)
        .map(|i| phone_photo(dir.path(), i, false))
        .collect();
    let phone = Browser::start_with(BrowserOptions {
        webgpu: false,
        phone: true,
    })
    .await;
    phone.client.goto(&link).await.expect("pairing link");
    phone.text_of("#pair[data-state=paired]", 60).await;
    phone
        .client
        .find(Locator::Css("#pair-go"))
        .await
        .expect("Take photos")
        .click()
        .await
        .expect("click");
    take(&phone, &photos).await;
    wait_cards(&phone, "data-upload", 180, "every photo sent", |v| {
        v.len() == PHOTOS && v.iter().all(|u| u == "sent")
    })
    .await;
    phone.close().await;
    let (_, list) = api.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(typed::<api::ImageList>(&list).images.len(), PHOTOS);

    // Reconstruct from the project page at the default preset.
    let desk = desktop(&api).await;
    desk.client
        .goto(&api.server.url(&format!("/project/{project}")))
        .await
        .expect("project page");
    desk.client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#reconstruct-start"))
        .await
        .expect("Reconstruct")
        .click()
        .await
        .expect("click");
    // Stage and percent as the job moves on, never going back, to the end; seen in the SfM
    // (20–40 %) and training and export (40–100 %) parts of the one timeline. (Features and
    // matching (0–20 %) of a few small photos on the native CPU path can end within one of the
    // page's 1 s status polls.)
    let seen = follow_reconstruct(&desk, 900).await;
    assert_seen_in(&seen, &[(20.0, 40.0), (40.0, 100.0)]);

    // The job ran within the operator's caps, and SfM placed the photos.
    let api_ref = &api;
    let artifact = |name: &str| {
        let path = format!("/api/projects/{project}/artifacts/{name}");
        async move { api_ref.bytes(&path).await }
    };
    let train: api::TrainOutput =
        serde_json::from_slice(&artifact("train.json").await).expect("train.json");
    let sfm: api::SfmOutput =
        serde_json::from_slice(&artifact("sfm.json").await).expect("sfm.json");
    assert_eq!(train.iterations, 60, "{train:?}");
    assert!(sfm.registered >= PHOTOS as u64 - 2, "{sfm:?}");

    // Share it.
    let url = share(&desk).await;
    desk.close().await;

    // Opened on a phone that never saw the project: the first frame is the thumbnail's view.
    let viewer = open_on_phone(&url, train.splats).await;
    let frame = canvas_image(&viewer, "").await;
    viewer.close().await;
    let thumb = image::load_from_memory(&artifact("thumbnail.png").await)
        .expect("thumbnail PNG")
        .to_rgb8();
    if let Some(dir) = std::env::var_os("SPLATPOD_SHOT_DIR") {
        let dir = std::path::Path::new(&dir);
        frame.save(dir.join("share-first-frame.png")).expect("save");
        thumb.save(dir.join("share-thumbnail.png")).expect("save");
    }
    let (frame_part, thumb_part) = common_view(&frame, &thumb);
    let diff = mean_abs_diff(&frame_part, &thumb_part);
    // The same view seen mirrored: what a wrong camera (or a flipped axis) would give.
    let mirrored = mean_abs_diff(&frame_part, &imageops::flip_horizontal(&thumb_part));
    let upside_down = mean_abs_diff(&frame_part, &imageops::flip_vertical(&thumb_part));
    eprintln!(
        "first frame {}×{} vs thumbnail: {diff:.2} (mirrored {mirrored:.2}, upside down \
         {upside_down:.2})",
        frame.width(),
        frame.height()
    );
    assert!(
        diff < 6.0,
        "the first frame differs from the thumbnail: {diff:.2}"
    );
    assert!(
        diff < 0.35 * mirrored.min(upside_down),
        "the view is not distinguishable from a flipped one: {diff:.2} vs {mirrored:.2} / \
         {upside_down:.2}"
    );
}
