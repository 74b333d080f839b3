//! End-to-end test of the capture page (`/capture`) in headless Chromium (WebGPU on SwiftShader)
//! against the real server: two overlapping Strecha photographs picked through the file input
//! are each analysed on the GPU (feature counts above zero, the second one matched to the
//! first), and a file that is not a photo gets its own error line.
//!
//! Needs `../shared/datasets/strecha-fountain-P11` (see its README) and the built PWA.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{workspace_root, Browser, Server};
use fantoccini::elements::Element;
use fantoccini::Locator;

/// Image `i` of the Strecha fountain scene (neighbouring indices overlap).
fn fountain_photo(i: usize) -> PathBuf {
    let path = workspace_root()
        .join("../shared/datasets/strecha-fountain-P11/images")
        .join(format!("{i:04}.jpg"));
    // ChromeDriver wants canonical paths for uploads.
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e} (see ../shared/datasets/README.md)", path.display()))
}

/// The capture cards, in list order.
async fn rows(browser: &Browser) -> Vec<Element> {
    browser
        .client
        .find_all(Locator::Css("#capture-list .capture-photo"))
        .await
        .expect("capture rows")
}

async fn attr(el: &Element, name: &str) -> Option<String> {
    el.attr(name).await.expect("attribute")
}

/// `data-value` of the cell `css` in `row`, as a number.
async fn cell_value(row: &Element, css: &str) -> Option<f64> {
    let cell = row.find(Locator::Css(css)).await.ok()?;
    attr(&cell, "data-value").await?.parse().ok()
}

/// Waits until `n` rows exist and none is queued or being analysed; returns their states.
async fn settled_rows(browser: &Browser, n: usize, secs: u64) -> Vec<Element> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let rows = rows(browser).await;
        let mut states = Vec::new();
        for row in &rows {
            states.push(attr(row, "data-state").await.unwrap_or_default());
        }
        if rows.len() == n && states.iter().all(|s| s == "done" || s == "error") {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "rows not analysed within {secs} s: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn pick(browser: &Browser, path: &Path) {
    let path = path.canonicalize().expect("canonical path");
    browser
        .client
        .find(Locator::Css("#capture-files"))
        .await
        .expect("file input")
        .send_keys(path.to_str().expect("UTF-8 path"))
        .await
        .expect("choose the file");
}

#[tokio::test]
async fn photos_are_checked_and_a_non_image_gets_an_error_line() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_photo = dir.path().join("notes.jpg");
    std::fs::write(&not_a_photo, b"this is not a JPEG, only text").expect("write the file");

    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/capture")).await.unwrap();
    browser.text_of("#capture[data-gpu=ready]", 60).await;

    // One photo at a time, as a person taking them would, then the broken file.
    pick(&browser, &fountain_photo(4)).await;
    settled_rows(&browser, 1, 240).await;
    pick(&browser, &fountain_photo(5)).await;
    settled_rows(&browser, 2, 240).await;
    pick(&browser, &not_a_photo).await;
    let rows = settled_rows(&browser, 3, 60).await;

    for (i, row) in rows[..2].iter().enumerate() {
        let text = row.text().await.expect("row text");
        assert_eq!(
            attr(row, "data-state").await.as_deref(),
            Some("done"),
            "photo {i}: {text}"
        );
        let features = cell_value(row, ".capture-features").await.unwrap_or(0.0);
        assert!(features > 0.0, "photo {i}: no features ({text})");
        let ms = cell_value(row, ".capture-ms").await.unwrap_or(0.0);
        assert!(ms > 0.0, "photo {i}: no analysis time ({text})");
        eprintln!("photo {i}: {text}");
    }
    assert_eq!(
        cell_value(&rows[0], ".capture-matches").await,
        None,
        "the first photo has no previous one"
    );
    let matches = cell_value(&rows[1], ".capture-matches")
        .await
        .unwrap_or(0.0);
    assert!(
        matches > 0.0,
        "the second photo should match the first ({:?})",
        rows[1].text().await
    );

    assert_eq!(attr(&rows[2], "data-state").await.as_deref(), Some("error"));
    assert_eq!(attr(&rows[2], "data-kind").await.as_deref(), Some("format"));
    let error = rows[2]
        .find(Locator::Css(".capture-error"))
        .await
        .expect("error cell")
        .text()
        .await
        .expect("error text");
    assert!(
        error.contains("notes.jpg") && error.contains("could not be read as a photo"),
        "error line: {error}"
    );
    browser.close().await;
}

#[tokio::test]
async fn without_webgpu_each_photo_says_it_was_not_checked() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let browser = Browser::start(false).await;
    browser.client.goto(&server.url("/capture")).await.unwrap();
    let warning = browser.text_of("#webgpu-missing", 60).await;
    assert!(warning.contains("WebGPU is not available"), "{warning}");

    pick(&browser, &fountain_photo(4)).await;
    let rows = settled_rows(&browser, 1, 120).await;
    assert_eq!(
        attr(&rows[0], "data-kind").await.as_deref(),
        Some("no-webgpu")
    );
    let text = rows[0].text().await.expect("row text");
    assert!(
        text.contains("0004.jpg") && text.contains("was not checked"),
        "row: {text}"
    );
    browser.close().await;
}

/// Measurement, not a check: `SPLATPOD_CAPTURE_PHOTOS=a.jpg:b.jpg cargo test --test
/// browser_capture -- --ignored --nocapture` prints the decode and GPU-analysis times the page
/// reports for each photo (how `ms_capture_12mp_browser_swiftshader` in
/// `bench/results/features.json` was taken, with 4000×3000 JPEGs).
#[tokio::test]
#[ignore]
async fn report_capture_times_of_given_photos() {
    let Some(list) = std::env::var_os("SPLATPOD_CAPTURE_PHOTOS") else {
        eprintln!("set SPLATPOD_CAPTURE_PHOTOS to a colon-separated list of photos");
        return;
    };
    let paths: Vec<PathBuf> = std::env::split_paths(&list).collect();
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/capture")).await.unwrap();
    browser.text_of("#capture[data-gpu=ready]", 60).await;
    for (n, path) in paths.iter().enumerate() {
        pick(&browser, path).await;
        let rows = settled_rows(&browser, n + 1, 600).await;
        let row = &rows[n];
        let cell = row
            .find(Locator::Css(".capture-ms"))
            .await
            .expect("time cell");
        eprintln!(
            "{}: decode {:?} ms, analysis {:?} ms; row: {}",
            path.display(),
            attr(&cell, "data-decode-ms").await,
            attr(&cell, "data-value").await,
            row.text().await.expect("row text")
        );
    }
    browser.close().await;
}

/// "Send to the server": the capture's photos go to a new project, a features job runs on the
/// server and the panel follows it to the end; a wrong key is reported, and the key is
/// remembered. Runs without WebGPU (photos can be sent unchecked), which keeps it fast.
#[tokio::test]
async fn the_capture_is_uploaded_and_matched_on_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = common::create_key(dir.path(), &[]);
    let server = Server::start_in(dir, &[]);
    server.wait_ready().await;
    let text_file = tempfile::tempdir().expect("temp dir");
    let not_a_photo = text_file.path().join("notes.jpg");
    std::fs::write(&not_a_photo, b"only text").expect("write the file");

    let browser = Browser::start(false).await;
    browser.client.goto(&server.url("/capture")).await.unwrap();
    browser.text_of("#capture[data-gpu=unavailable]", 60).await;
    for path in [fountain_photo(4), fountain_photo(5), not_a_photo] {
        pick(&browser, &path).await;
    }
    let find = |css: &'static str| {
        let client = browser.client.clone();
        async move { client.find(Locator::Css(css)).await.expect(css) }
    };

    // A wrong key first.
    find("#upload-key")
        .await
        .send_keys("sp_wrong")
        .await
        .expect("type");
    find("#upload-start").await.click().await.expect("click");
    let status = wait_upload(&browser, 60).await;
    assert_eq!(status.0, "failed", "{}", status.1);
    assert!(status.1.contains("refused the API key"), "{}", status.1);

    let input = find("#upload-key").await;
    input.clear().await.expect("clear");
    input.send_keys(&key).await.expect("type");
    find("#upload-name")
        .await
        .send_keys("From the browser")
        .await
        .expect("type");
    find("#upload-quality")
        .await
        .select_by_value("low")
        .await
        .expect("select");
    find("#upload-start").await.click().await.expect("click");
    let (state, text) = wait_upload(&browser, 300).await;
    assert_eq!(state, "done", "{text}");
    assert!(
        text.contains("2 photos") && text.contains("1 pairs"),
        "{text}"
    );
    browser.shot("desktop-capture").await;

    // The server has the project with the two photos (the text file was rejected there).
    let projects: serde_json::Value = reqwest::Client::new()
        .get(server.url("/api/projects"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    let p = &projects["projects"][0];
    assert_eq!(p["name"], "From the browser", "{projects}");
    assert_eq!(p["image_count"], 2, "{projects}");
    assert_eq!(p["job_count"], 1, "{projects}");

    // The key is remembered for the next visit.
    browser.client.goto(&server.url("/capture")).await.unwrap();
    browser.text_of("#upload", 60).await;
    let remembered = find("#upload-key")
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert_eq!(remembered, key);
    browser.close().await;
}

/// Waits until `#upload-status` is `done` or `failed`; returns (state, text).
async fn wait_upload(browser: &Browser, secs: u64) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let el = browser
            .client
            .find(Locator::Css("#upload-status"))
            .await
            .expect("status line");
        let state = attr(&el, "data-state").await.unwrap_or_default();
        if state == "done" || state == "failed" {
            return (state, el.text().await.expect("text"));
        }
        assert!(
            Instant::now() < deadline,
            "upload still `{state}` after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
