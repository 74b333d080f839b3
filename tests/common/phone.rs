//! A phone in the capture flow, for the browser tests: Strecha photos made phone-sized, the
//! desktop pairing a phone from the project page, taking photos with the camera button, and
//! waiting on the photo cards' states.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use sha2::{Digest, Sha256};

use super::api::Api;
use super::{workspace_root, Browser, PHONE_WIDTH};

/// Strecha fountain image `i` into `dir` under a long phone-style name: downscaled to 768 px (a
/// phone-sized upload that keeps enough texture for the capture checks), or copied as it is
/// when `full_size` (over 256 KiB, so it goes by the resumable upload); (path, SHA-256).
pub fn phone_photo(dir: &Path, i: usize, full_size: bool) -> (PathBuf, String) {
    let src = workspace_root()
        .join("../shared/datasets/strecha-fountain-P11/images")
        .join(format!("{i:04}.jpg"));
    let path = dir.join(format!("IMG_2024_fountain_walkaround_{i:04}.jpg"));
    if full_size {
        std::fs::copy(&src, &path)
            .unwrap_or_else(|e| panic!("{}: {e} (see ../shared/datasets)", src.display()));
    } else {
        let img = image::open(&src)
            .unwrap_or_else(|e| panic!("{}: {e} (see ../shared/datasets)", src.display()));
        img.thumbnail(768, 768).save(&path).expect("write photo");
    }
    let bytes = std::fs::read(&path).expect("read photo");
    let sha = format!("{:x}", Sha256::digest(&bytes));
    (path.canonicalize().expect("canonical path"), sha)
}

/// Fails when the page is wider than the phone's screen.
pub async fn assert_no_sideways_scroll(phone: &Browser, page: &str) {
    let width = phone
        .client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("scrollWidth")
        .as_u64()
        .unwrap_or(u64::MAX);
    assert!(
        width <= u64::from(PHONE_WIDTH),
        "{page} is {width} px wide on a {PHONE_WIDTH}-px phone"
    );
}

/// `attr` of every photo card, in list order.
pub async fn card_attrs(phone: &Browser, attr: &str) -> Vec<String> {
    let cards = phone
        .client
        .find_all(Locator::Css("#capture-list .capture-photo"))
        .await
        .expect("photo cards");
    let mut out = Vec::new();
    for card in cards {
        out.push(card.attr(attr).await.ok().flatten().unwrap_or_default());
    }
    out
}

/// Waits (up to `secs`) until the cards' `attr` values satisfy `done`; returns them.
pub async fn wait_cards(
    phone: &Browser,
    attr: &str,
    secs: u64,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let values = card_attrs(phone, attr).await;
        if done(&values) {
            return values;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not reached within {secs} s: {attr} = {values:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many of `values` are `v`.
pub fn count(values: &[String], v: &str) -> usize {
    values.iter().filter(|x| x.as_str() == v).count()
}

/// Takes `photos` with the camera button (one `change` with several files).
pub async fn take(phone: &Browser, photos: &[(PathBuf, String)]) {
    let paths: Vec<&str> = photos
        .iter()
        .map(|(p, _)| p.to_str().expect("UTF-8 path"))
        .collect();
    phone
        .client
        .find(Locator::Css("#capture-camera"))
        .await
        .expect("camera button")
        .send_keys(&paths.join("\n"))
        .await
        .expect("take photos");
}

/// A desktop browser with the API key saved, for the project pages.
pub async fn desktop(api: &Api) -> Browser {
    let desk = Browser::start(false).await;
    desk.client
        .goto(&api.server.url("/"))
        .await
        .expect("open home");
    desk.client
        .execute(
            "localStorage.setItem('splatpod-api-key', arguments[0]);",
            vec![serde_json::json!(api.key)],
        )
        .await
        .expect("save key");
    desk
}

/// The desktop pairs a phone from the page of `project` (named `name`); returns the pairing
/// link.
pub async fn pair_from_desktop(api: &Api, project: &str, name: &str) -> String {
    let desk = desktop(api).await;
    let c = &desk.client;
    c.goto(&api.server.url(&format!("/project/{project}")))
        .await
        .expect("open project page");
    assert_eq!(desk.text_of("#project-name", 60).await, name);
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#pair-start"))
        .await
        .expect("pair button")
        .click()
        .await
        .expect("click Pair a phone");
    let link = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#pair-link"))
        .await
        .expect("pairing link")
        .attr("href")
        .await
        .expect("href")
        .expect("link has an href");
    // The server's QR code is shown as SVG.
    c.find(Locator::Css("#pair-qr svg"))
        .await
        .expect("QR code SVG");
    desk.shot("desktop-pair").await;
    let expiry = desk.text_of("#pair-expiry", 20).await;
    assert!(expiry.contains("works until"), "{expiry}");
    desk.close().await;
    assert!(link.contains("/pair#pp_"), "pairing link {link}");
    link
}
