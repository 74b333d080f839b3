//! End-to-end test of capture on a phone in headless Chromium with phone emulation (412 × 915
//! touch screen) against the real server: a desktop pairs a phone with a project, the phone
//! opens the pairing link, takes 8 photos, loses its connection mid-upload (DevTools network
//! emulation), is reloaded while offline and still lists every photo, and once back online
//! the server has each photo exactly once (by SHA-256) and the page shows them all as sent;
//! matching then runs from the phone, and once the desktop revokes the pairing a new photo
//! stays queued on the phone with a plain explanation.
//! Two of the photos are full-size (over 256 KiB), so they go by the resumable (tus) upload.
//! Also checks that the phone layout never scrolls sideways and that the phone never sees a
//! key field.
//!
//! Needs `../shared/datasets/strecha-fountain-P11` (see its README) and the built PWA.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::api::{typed, Api, Backend};
use common::phone::{
    assert_no_sideways_scroll, card_attrs, count, pair_from_desktop, phone_photo, take, wait_cards,
};
use common::{Browser, BrowserOptions};
use fantoccini::Locator;
use splatpod::api;

/// Photos of the capture.
const PHOTOS: usize = 8;
/// These photos are sent at full size (over 256 KiB), so they go by the resumable upload.
const LARGE: [usize; 2] = [1, 5];

/// The first `PHOTOS` Strecha fountain images as a phone would send them ([`LARGE`] ones at
/// full size); (path, SHA-256 of the file).
fn phone_photos(dir: &Path) -> Vec<(PathBuf, String)> {
    (0..PHOTOS)
        .map(|i| phone_photo(dir, i, LARGE.contains(&i)))
        .collect()
}

#[tokio::test]
async fn a_paired_phone_captures_offline_and_every_photo_arrives_once() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let project = api.project("Fountain from a phone").await;
    let link = pair_from_desktop(&api, &project, "Fountain from a phone").await;

    let dir = tempfile::tempdir().expect("temp dir");
    let photos = phone_photos(dir.path());
    for &i in &LARGE {
        let size = std::fs::metadata(&photos[i].0).expect("photo").len();
        assert!(
            size > 256 * 1024,
            "photo {i} is {size} bytes: not a resumable upload"
        );
    }

    let phone = Browser::start_with(BrowserOptions {
        webgpu: true,
        phone: true,
    })
    .await;
    let c = &phone.client;
    // A made-up token is refused in plain words, and nothing is kept.
    c.goto(&api.server.url("/pair#pp_made_up_token"))
        .await
        .expect("open a bad link");
    let refused = phone
        .text_of("#pair[data-state=failed] #pair-error", 60)
        .await;
    assert!(refused.contains("expired or was revoked"), "{refused}");
    c.goto(&link).await.expect("open the pairing link");
    let paired = phone
        .text_of("#pair[data-state=paired] #pair-status", 60)
        .await;
    assert!(
        paired.starts_with("Paired with project Fountain from a phone until "),
        "{paired}"
    );
    let url = c.current_url().await.expect("url");
    assert!(
        url.fragment().is_none_or(str::is_empty),
        "the token stays in the address bar: {url}"
    );
    assert_no_sideways_scroll(&phone, "/pair").await;
    phone.shot("pair").await;
    // The service worker must hold the app shell before the phone goes offline.
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.ready.then(() => done(true));",
        vec![],
    )
    .await
    .expect("service worker ready");
    c.goto(&api.server.url("/")).await.expect("home");
    phone.text_of("#home", 60).await;
    assert_no_sideways_scroll(&phone, "/").await;
    phone.shot("home").await;

    c.find(Locator::Css("#home-capture"))
        .await
        .expect("Start capturing")
        .click()
        .await
        .expect("click");
    let paired = phone.text_of("#capture-paired", 60).await;
    assert!(paired.contains("Fountain from a phone"), "{paired}");
    phone.text_of("#capture[data-gpu=ready]", 120).await;
    assert!(
        c.find(Locator::Css("#upload-key")).await.is_err(),
        "a paired phone is shown an API key field"
    );
    assert_no_sideways_scroll(&phone, "/capture").await;

    // Half the photos, then the connection drops while they go up.
    take(&phone, &photos[..PHOTOS / 2]).await;
    wait_cards(&phone, "data-upload", 120, "a first photo sent", |v| {
        count(v, "sent") >= 1
    })
    .await;
    phone.set_offline(true).await;
    take(&phone, &photos[PHOTOS / 2..]).await;
    let uploads = wait_cards(&phone, "data-upload", 60, "every photo saved", |v| {
        v.len() == PHOTOS && count(v, "saving") == 0 && count(v, "uploading") == 0
    })
    .await;
    let sent_before = count(&uploads, "sent");
    eprintln!("offline with {sent_before} of {PHOTOS} sent: {uploads:?}");
    assert!(
        sent_before < PHOTOS,
        "everything was sent although the phone was offline: {uploads:?}"
    );
    assert_no_sideways_scroll(&phone, "/capture with photos").await;
    // Long file names are cut with an ellipsis on one line, not wrapped letter by letter.
    let name_height = c
        .execute(
            "const n = document.querySelector('#capture-list .capture-name');
             return n.getBoundingClientRect().height / parseFloat(getComputedStyle(n).lineHeight);",
            vec![],
        )
        .await
        .expect("name height")
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(name_height < 1.5, "a file name spans {name_height} lines");

    // A reload while offline loses nothing.
    c.refresh().await.expect("reload offline");
    let shas = wait_cards(&phone, "data-sha", 60, "the photos listed again", |v| {
        v.len() == PHOTOS
    })
    .await;
    let taken: Vec<String> = photos.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(
        shas, taken,
        "the photos listed after the reload are not the ones taken, in the order taken"
    );
    let expected: BTreeSet<String> = taken.into_iter().collect();
    let uploads = card_attrs(&phone, "data-upload").await;
    assert_eq!(
        count(&uploads, "sent"),
        sent_before,
        "after the reload: {uploads:?}"
    );
    phone.shot("capture-offline").await;
    let waiting = phone.text_of("#capture-connection", 60).await;
    eprintln!("after the offline reload: {uploads:?}; {waiting}");
    assert!(waiting.contains("kept on this device"), "{waiting}");
    assert!(
        c.find(Locator::Css("#upload-key")).await.is_err(),
        "a paired phone is shown an API key field after the reload"
    );

    // Back online: the queue sends the rest.
    phone.set_offline(false).await;
    wait_cards(&phone, "data-upload", 120, "every photo sent", |v| {
        v.len() == PHOTOS && count(v, "sent") == PHOTOS
    })
    .await;
    let summary = phone.text_of("#capture-summary", 20).await;
    assert!(summary.contains("8 photos · 8 sent"), "{summary}");
    let (s, list) = api.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(s, 200, "{list}");
    let list: api::ImageList = typed(&list);
    assert_eq!(list.images.len(), PHOTOS, "images on the server");
    let on_server: BTreeSet<String> = list.images.iter().map(|i| i.sha256.clone()).collect();
    assert_eq!(on_server, expected, "the server's photos by SHA-256");

    // The GPU checked the photos (a photo sent before the reload may not be checked again).
    let states = wait_cards(&phone, "data-state", 300, "every photo checked", |v| {
        v.iter().all(|s| s == "done" || s == "unchecked")
    })
    .await;
    assert!(
        count(&states, "done") >= PHOTOS / 2,
        "checked photos: {states:?}"
    );

    // Matching starts from the phone with the pairing token.
    c.find(Locator::Css("#upload-quality"))
        .await
        .expect("quality")
        .select_by_value("low")
        .await
        .expect("select low");
    c.find(Locator::Css("#upload-start"))
        .await
        .expect("Start matching")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(400);
    let text = loop {
        let el = c
            .find(Locator::Css("#upload-status"))
            .await
            .expect("status");
        let state = el
            .attr("data-state")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        if state == "done" || state == "failed" {
            let text = el.text().await.expect("text");
            assert_eq!(state, "done", "{text}");
            break text;
        }
        assert!(Instant::now() < deadline, "matching still `{state}`");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(text.contains("8 photos"), "{text}");
    phone.shot("capture-done").await;

    // The desktop revokes the pairing: a photo taken after that stays queued on the phone, and
    // the page says why and what to do.
    let (s, pairings) = api.get(&format!("/api/projects/{project}/pairings")).await;
    assert_eq!(s, 200, "{pairings}");
    let pairings: api::PairingList = typed(&pairings);
    assert_eq!(pairings.pairings.len(), 1, "{pairings:?}");
    let revoked = api
        .delete(&format!(
            "/api/projects/{project}/pairings/{}",
            pairings.pairings[0].id
        ))
        .await;
    assert_eq!(revoked, 204);
    let extra = phone_photo(dir.path(), PHOTOS, false);
    take(&phone, std::slice::from_ref(&extra)).await;
    let problem = phone.text_of("#capture-connection", 60).await;
    assert!(
        problem.contains("pairing has ended or was revoked"),
        "{problem}"
    );
    let uploads = card_attrs(&phone, "data-upload").await;
    assert_eq!(uploads.len(), PHOTOS + 1, "{uploads:?}");
    assert_eq!(uploads[PHOTOS], "queued", "{uploads:?}");
    let (_, list) = api.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(typed::<api::ImageList>(&list).images.len(), PHOTOS);
    phone.close().await;
}

/// Photos taken on a phone before it is paired stay on it ("On this device"; the phone is
/// pointed to pairing and shown no key field unless it asks for one) and go to the project once
/// the phone opens a pairing link.
#[tokio::test]
async fn photos_taken_before_pairing_go_to_the_paired_project() {
    let api = Api::start_opts(&Backend::Sqlite, &[], false).await;
    let project = api.project("Paired later").await;
    let (s, created) = api
        .post(
            &format!("/api/projects/{project}/pairings"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let created: api::PairingCreated = typed(&created);

    let dir = tempfile::tempdir().expect("temp dir");
    let photos: Vec<_> = (0..2).map(|i| phone_photo(dir.path(), i, false)).collect();
    let phone = Browser::start_with(BrowserOptions {
        webgpu: false,
        phone: true,
    })
    .await;
    let c = &phone.client;
    c.goto(&api.server.url("/capture")).await.expect("capture");
    let hint = phone
        .text_of("#upload[data-mode=phone] #upload-phone-hint", 60)
        .await;
    assert!(hint.contains("Pair a phone"), "{hint}");
    assert!(
        c.find(Locator::Css("#upload-key")).await.is_err(),
        "an unpaired phone is shown an API key field before asking for one"
    );
    take(&phone, &photos).await;
    wait_cards(&phone, "data-upload", 60, "photos kept on the phone", |v| {
        v.len() == 2 && v.iter().all(|u| u == "local")
    })
    .await;
    assert_no_sideways_scroll(&phone, "/capture unpaired").await;
    // A key can still be used on this device, on request.
    c.find(Locator::Css("#upload-use-key"))
        .await
        .expect("Use an API key on this device instead")
        .click()
        .await
        .expect("click");
    phone.text_of("#upload[data-mode=desktop]", 30).await;
    c.find(Locator::Css("#upload-key"))
        .await
        .expect("the key field, once asked for");

    c.goto(&api.server.url(&created.path))
        .await
        .expect("open the pairing link");
    phone.text_of("#pair[data-state=paired]", 60).await;
    c.find(Locator::Css("#pair-go"))
        .await
        .expect("Take photos")
        .click()
        .await
        .expect("click");
    wait_cards(
        &phone,
        "data-upload",
        60,
        "photos sent after pairing",
        |v| v.len() == 2 && v.iter().all(|u| u == "sent"),
    )
    .await;
    let (_, list) = api.get(&format!("/api/projects/{project}/images")).await;
    let on_server: BTreeSet<String> = typed::<api::ImageList>(&list)
        .images
        .into_iter()
        .map(|i| i.sha256)
        .collect();
    let taken: BTreeSet<String> = photos.into_iter().map(|(_, s)| s).collect();
    assert_eq!(on_server, taken);
    phone.close().await;
}
