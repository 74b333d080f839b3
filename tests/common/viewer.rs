//! The PWA's scene viewer, for the browser tests: reading an element's attribute, waiting until
//! the viewer has drawn a whole scene, the canvas as an image, and comparing a viewer's frame
//! with a square thumbnail of the same view.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use image::{imageops, RgbImage};

use super::Browser;

/// Attribute `name` of the first element matching `css`, if both exist.
pub async fn attr(browser: &Browser, css: &str, name: &str) -> Option<String> {
    match browser.client.find(Locator::Css(css)).await {
        Ok(el) => el.attr(name).await.expect("attribute"),
        Err(_) => None,
    }
}

/// A share link opened in a fresh phone-sized browser with WebGPU, once its viewer has drawn
/// all `splats` splats: the first view a visitor gets.
pub async fn open_on_phone(url: &str, splats: u64) -> Browser {
    let viewer = Browser::start_with(super::BrowserOptions {
        webgpu: true,
        phone: true,
    })
    .await;
    viewer.client.goto(url).await.expect("share link");
    wait_drawn(&viewer, "", splats).await;
    viewer
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

/// Side of the square both views are compared at.
const COMPARE_SIDE: u32 = 64;

/// The part of a `w × h` frame and of a square thumbnail that show the same rays, both cameras
/// having the same vertical field of view and centred principal points: the centred square on
/// the frame's shorter side, and the centred square of the thumbnail it covers; each resampled
/// to [`COMPARE_SIDE`].
pub fn common_view(frame: &RgbImage, thumb: &RgbImage) -> (RgbImage, RgbImage) {
    let (w, h) = frame.dimensions();
    let side = w.min(h);
    let frame_part = imageops::crop_imm(frame, (w - side) / 2, (h - side) / 2, side, side);
    // Pixels per unit of tan(angle) scale with the image height: the frame's square spans
    // side / h of the thumbnail's height.
    let t = thumb.height();
    let thumb_side = ((f64::from(side) * f64::from(t) / f64::from(h)).round() as u32).min(t);
    let off = (t - thumb_side) / 2;
    let thumb_part = imageops::crop_imm(thumb, off, off, thumb_side, thumb_side);
    let resize = |img: &RgbImage| {
        imageops::resize(
            img,
            COMPARE_SIDE,
            COMPARE_SIDE,
            imageops::FilterType::Triangle,
        )
    };
    (
        resize(&frame_part.to_image()),
        resize(&thumb_part.to_image()),
    )
}

/// Mean absolute difference per channel, 0–255.
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}
