//! The PWA's scene viewer, for the browser tests: reading an element's attribute, waiting until
//! the viewer has drawn a whole scene, and the canvas as an image.

use std::time::{Duration, Instant};

use fantoccini::Locator;

use super::Browser;

/// Attribute `name` of the first element matching `css`, if both exist.
pub async fn attr(browser: &Browser, css: &str, name: &str) -> Option<String> {
    match browser.client.find(Locator::Css(css)).await {
        Ok(el) => el.attr(name).await.expect("attribute"),
        Err(_) => None,
    }
}

/// Waits until the viewer under `scope` (a CSS selector, or "" for the page) has drawn a frame
/// of all `splats` splats; fails on a viewer error.
pub async fn wait_drawn(browser: &Browser, scope: &str, splats: u64) {
    let want = format!("{splats} splats");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = browser
            .text_of(&format!("{scope} #splat-count"), 60)
            .await
            .replace(',', "");
        let frames: u64 = attr(browser, &format!("{scope} #frame-time"), "data-frames")
            .await
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if count == want && frames > 0 {
            return;
        }
        if let Ok(e) = browser.client.find(Locator::Css("#viewer-error")).await {
            panic!("viewer error: {}", e.text().await.unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "not drawn: `{count}`, {frames} frames"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The viewer canvas under `scope` as shown on screen (device pixels).
pub async fn canvas_image(browser: &Browser, scope: &str) -> image::RgbImage {
    let png = browser
        .client
        .find(Locator::Css(&format!("{scope} #viewer-canvas")))
        .await
        .expect("canvas")
        .screenshot()
        .await
        .expect("canvas screenshot");
    image::load_from_memory(&png).expect("PNG").to_rgb8()
}
