//! End-to-end tests of the viewer page (`/view`) in headless Chromium (WebGPU on SwiftShader)
//! against the real server: a scene file opened through the file picker is drawn on the canvas,
//! a mouse drag, a one-finger touch drag and a two-finger pinch each change the picture, and a
//! corrupt file shows the parser's error.
//!
//! Pictures are element screenshots of `#viewer-canvas`, decoded from PNG. After each gesture
//! the test waits for the canvas to report a new finished frame (`#frame-time[data-frames]`
//! grows and `#viewer-canvas[data-state=idle]`) before taking the next one.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Browser, Server};
use fantoccini::actions::{
    Actions, InputSource, MouseActions, PointerAction, TouchActions, WheelAction, WheelActions,
    MOUSE_BUTTON_LEFT,
};
use fantoccini::Locator;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use splatpod::formats::{logit, save_ply, GaussianScene, SH_C0};

/// Splats in the test scene.
const SPLATS: usize = 400;

/// The page background (#101830) the renderer composites over.
const BACKGROUND: [u8; 3] = [16, 24, 48];

/// `SPLATS` opaque, brightly coloured splats in a flat-ish box, so that every view shows them
/// over the background and any camera motion changes the picture.
fn test_scene() -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut scene = GaussianScene::empty(0);
    for i in 0..SPLATS {
        scene.positions.push([
            rng.random_range(-1.0..1.0),
            rng.random_range(-0.6..0.6),
            rng.random_range(-0.4..0.4),
        ]);
        scene
            .log_scales
            .push([rng.random_range(0.04f32..0.09).ln(); 3]);
        scene.rotations.push([1.0, 0.0, 0.0, 0.0]);
        scene.opacity_logits.push(logit(0.9));
        // Colour varies with x, so turning the scene moves colours across the canvas.
        let t = (scene.positions[i][0] + 1.0) / 2.0;
        for c in [t, 1.0 - t, rng.random_range(0.3..1.0)] {
            scene.sh.push((c - 0.5) / SH_C0);
        }
    }
    scene
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the scene file");
    path
}

/// A decoded screenshot, RGBA8.
struct Shot {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Shot {
    fn decode(png_bytes: &[u8]) -> Shot {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
        let info = reader.next_frame(&mut buf).expect("PNG data");
        let channels = info.color_type.samples();
        let rgba = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .flat_map(|p| match channels {
                1 | 2 => [p[0], p[0], p[0], 255],
                3 => [p[0], p[1], p[2], 255],
                _ => [p[0], p[1], p[2], p[3]],
            })
            .collect();
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            rgba,
        }
    }

    fn pixels(&self) -> impl Iterator<Item = &[u8]> {
        self.rgba.chunks_exact(4)
    }

    /// Fraction of pixels that are not the background colour (splats drawn there).
    fn coverage(&self) -> f64 {
        let covered = self
            .pixels()
            .filter(|p| (0..3).any(|k| p[k].abs_diff(BACKGROUND[k]) > 12))
            .count();
        covered as f64 / (self.width * self.height).max(1) as f64
    }

    /// Distinct colours (quantised to 4 bits a channel): a uniform image has one.
    fn distinct_colours(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        for p in self.pixels() {
            seen.insert((p[0] >> 4, p[1] >> 4, p[2] >> 4));
        }
        seen.len()
    }

    /// Fraction of pixels that differ from `other`'s by more than 24 in some channel.
    fn changed_from(&self, other: &Shot) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "screenshots of different sizes"
        );
        let changed = self
            .pixels()
            .zip(other.pixels())
            .filter(|(a, b)| (0..3).any(|k| a[k].abs_diff(b[k]) > 24))
            .count();
        changed as f64 / (self.width * self.height).max(1) as f64
    }
}

/// A browser on `/view` with its GPU open.
async fn open_viewer(server: &Server) -> Browser {
    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/view")).await.unwrap();
    browser.text_of("#viewer[data-gpu=ready]", 60).await;
    browser
}

/// Attribute `attr` of the first element matching `css`.
async fn attr(browser: &Browser, css: &str, attr: &str) -> Option<String> {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .attr(attr)
        .await
        .expect("attribute")
}

/// Frames presented so far.
async fn frames(browser: &Browser) -> u64 {
    attr(browser, "#frame-time", "data-frames")
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits until more than `after` frames were presented and no frame is wanted or in flight,
/// then returns a screenshot of the canvas.
async fn settled_shot(browser: &Browser, after: u64) -> Shot {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let idle = attr(browser, "#viewer-canvas", "data-state")
            .await
            .as_deref()
            == Some("idle");
        if idle && frames(browser).await > after {
            break;
        }
        if let Some(e) = viewer_error(browser).await {
            panic!("the viewer shows an error: {e}");
        }
        assert!(
            Instant::now() < deadline,
            "no new finished frame within 90 s (frames: {}, state: {:?}, error: {:?})",
            frames(browser).await,
            attr(browser, "#viewer-canvas", "data-state").await,
            viewer_error(browser).await,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let canvas = browser
        .client
        .find(Locator::Css("#viewer-canvas"))
        .await
        .expect("canvas");
    let png_bytes = canvas.screenshot().await.expect("canvas screenshot");
    // For debugging: SPLATPOD_SHOT_DIR=/some/dir keeps every screenshot.
    if let Some(dir) = std::env::var_os("SPLATPOD_SHOT_DIR") {
        let name = format!("viewer-{}.png", frames(browser).await);
        let _ = std::fs::write(Path::new(&dir).join(name), &png_bytes);
    }
    Shot::decode(&png_bytes)
}

async fn viewer_error(browser: &Browser) -> Option<String> {
    match browser.client.find(Locator::Css("#viewer-error")).await {
        Ok(el) => el.text().await.ok(),
        Err(_) => None,
    }
}

/// Opens `path` through the file picker and waits for the splat count and the first frame.
async fn load_scene_file(browser: &Browser, path: &Path) -> Shot {
    let input = browser
        .client
        .find(Locator::Css("#scene-file"))
        .await
        .expect("file input");
    input
        .send_keys(path.to_str().expect("UTF-8 temp path"))
        .await
        .expect("choose the file");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = browser.text_of("#splat-count", 30).await;
        if count.contains(&SPLATS.to_string()) {
            assert_eq!(count, format!("{SPLATS} splats"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "splat count not shown within 60 s (`{count}`, error: {:?})",
            viewer_error(browser).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shot = settled_shot(browser, 0).await;
    let frame_time = browser.text_of("#frame-time", 30).await;
    assert!(
        frame_time.ends_with(" ms") && frame_time[..frame_time.len() - 3].parse::<f64>().is_ok(),
        "frame time readout `{frame_time}`"
    );
    shot
}

async fn canvas_centre(browser: &Browser) -> (f64, f64) {
    let (x, y, w, h) = browser
        .client
        .find(Locator::Css("#viewer-canvas"))
        .await
        .expect("canvas")
        .rectangle()
        .await
        .expect("canvas rectangle");
    (x + w / 2.0, y + h / 2.0)
}

/// A viewer with the test scene loaded, and its first picture.
async fn viewer_with_scene(server: &Server, dir: &Path) -> (Browser, Shot) {
    let bytes = save_ply(&test_scene()).expect("write PLY");
    let path = write_file(dir, "scene.ply", &bytes);
    let browser = open_viewer(server).await;
    let first = load_scene_file(&browser, &path).await;
    assert!(
        first.coverage() > 0.02,
        "the scene should cover part of the canvas (coverage {:.4})",
        first.coverage()
    );
    assert!(
        first.distinct_colours() > 8,
        "the picture should not be uniform ({} colours)",
        first.distinct_colours()
    );
    (browser, first)
}

fn move_to(x: f64, y: f64, ms: u64) -> PointerAction {
    PointerAction::MoveTo {
        duration: Some(Duration::from_millis(ms)),
        x,
        y,
    }
}

#[tokio::test]
async fn a_scene_file_is_drawn_and_a_mouse_drag_orbits() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (browser, first) = viewer_with_scene(&server, dir.path()).await;
    let c = &browser.client;
    let (cx, cy) = canvas_centre(&browser).await;

    let before = frames(&browser).await;
    let drag = MouseActions::new("mouse".into())
        .then(move_to(cx, cy, 0))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(move_to(cx + 60.0, cy + 10.0, 150))
        .then(move_to(cx + 160.0, cy + 30.0, 150))
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(drag).await.expect("mouse drag");
    let dragged = settled_shot(&browser, before).await;
    let changed = dragged.changed_from(&first);
    assert!(
        changed > 0.01,
        "a mouse drag should turn the view ({:.4} of pixels changed)",
        changed
    );

    // Reset view frames the scene again: back to (nearly) the first picture.
    let before = frames(&browser).await;
    c.find(Locator::Css("#reset-view"))
        .await
        .expect("reset button")
        .click()
        .await
        .expect("click reset");
    let reset = settled_shot(&browser, before).await;
    let off = reset.changed_from(&first);
    assert!(
        off < 0.01,
        "Reset view should restore the initial view ({off:.4} of pixels differ)"
    );

    // Wheel up (negative delta): zoom in, so the splats cover more of the canvas.
    let before = frames(&browser).await;
    let mut wheel = WheelActions::new("wheel".into());
    wheel.push(WheelAction::Scroll {
        duration: None,
        x: cx as i64,
        y: cy as i64,
        delta_x: 0,
        delta_y: -300,
    });
    c.perform_actions(wheel).await.expect("wheel");
    let zoomed = settled_shot(&browser, before).await;
    assert!(
        zoomed.coverage() > reset.coverage() * 1.2,
        "the wheel should zoom in: coverage {:.4} -> {:.4}",
        reset.coverage(),
        zoomed.coverage()
    );
    browser.close().await;
}

#[tokio::test]
async fn touch_drag_orbits_and_pinch_zooms() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (browser, first) = viewer_with_scene(&server, dir.path()).await;
    let c = &browser.client;
    let (cx, cy) = canvas_centre(&browser).await;

    // One finger: orbit.
    let before = frames(&browser).await;
    let swipe = TouchActions::new("finger".into())
        .then(move_to(cx - 80.0, cy, 0))
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(move_to(cx, cy + 20.0, 150))
        .then(move_to(cx + 80.0, cy + 40.0, 150))
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(swipe).await.expect("touch drag");
    let swiped = settled_shot(&browser, before).await;
    let changed = swiped.changed_from(&first);
    assert!(
        changed > 0.01,
        "a one-finger drag should turn the view ({changed:.4} of pixels changed)"
    );

    // Back to the framed view, then two fingers moving apart: zoom in.
    let before = frames(&browser).await;
    c.find(Locator::Css("#reset-view"))
        .await
        .expect("reset button")
        .click()
        .await
        .expect("click reset");
    let framed = settled_shot(&browser, before).await;
    let before = frames(&browser).await;
    let finger = |id: &str, dir: f64| {
        TouchActions::new(id.into())
            .then(move_to(cx + dir * 30.0, cy, 0))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(move_to(cx + dir * 90.0, cy, 200))
            .then(move_to(cx + dir * 160.0, cy, 200))
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
    };
    c.perform_actions(Actions::from(finger("finger1", -1.0)).and(finger("finger2", 1.0)))
        .await
        .expect("pinch");
    let zoomed = settled_shot(&browser, before).await;
    let changed = zoomed.changed_from(&framed);
    assert!(
        changed > 0.01,
        "a pinch should change the view ({changed:.4} of pixels changed)"
    );
    assert!(
        zoomed.coverage() > framed.coverage() * 1.2,
        "spreading two fingers should zoom in: coverage {:.4} -> {:.4}",
        framed.coverage(),
        zoomed.coverage()
    );
    browser.close().await;
}

#[tokio::test]
async fn a_corrupt_file_shows_the_parse_error() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // A PLY header that promises more vertices than the body holds.
    let mut bytes = save_ply(&test_scene()).expect("write PLY");
    bytes.truncate(bytes.len() / 2);
    let path = write_file(dir.path(), "broken.ply", &bytes);
    let browser = open_viewer(&server).await;
    let input = browser
        .client
        .find(Locator::Css("#scene-file"))
        .await
        .expect("file input");
    input
        .send_keys(path.to_str().expect("UTF-8 temp path"))
        .await
        .expect("choose the file");
    let message = browser.text_of("#viewer-error[data-kind=format]", 60).await;
    assert!(
        message.contains("broken.ply could not be read as a splat scene"),
        "{message}"
    );
    assert!(message.contains("PLY"), "the parser's reason: {message}");
    assert_eq!(browser.text_of("#splat-count", 30).await, "");
    browser.close().await;
}

/// Percent-encodes everything but ASCII letters and digits (for a query parameter's value).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn the_url_parameter_and_the_url_field_open_scenes() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    // `?url=` with a data: URL (the server has no scene files to serve).
    let bytes = save_ply(&test_scene()).expect("write PLY");
    let data_url = format!("data:application/octet-stream;base64,{}", base64(&bytes));
    let browser = Browser::start(true).await;
    let c = &browser.client;
    c.goto(&server.url(&format!("/view?url={}", percent_encode(&data_url))))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while browser.text_of("#splat-count", 60).await != format!("{SPLATS} splats") {
        assert!(
            Instant::now() < deadline,
            "the ?url= scene did not load (error: {:?})",
            viewer_error(&browser).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shot = settled_shot(&browser, 0).await;
    assert!(shot.coverage() > 0.02, "coverage {:.4}", shot.coverage());
    let field = c.find(Locator::Css("#scene-url")).await.expect("URL field");
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(data_url.as_str())
    );

    // The URL field and Load button: this path serves the app's HTML, not a PLY file.
    field.clear().await.expect("clear the URL field");
    field
        .send_keys("/no-such-scene.ply")
        .await
        .expect("type a URL");
    c.find(Locator::Css("#scene-load"))
        .await
        .expect("Load button")
        .click()
        .await
        .expect("click Load");
    let message = browser.text_of("#viewer-error[data-kind=format]", 60).await;
    assert!(
        message.contains("no-such-scene.ply could not be read as a splat scene")
            && message.contains("PLY"),
        "{message}"
    );
    browser.close().await;
}

#[tokio::test]
async fn without_webgpu_the_viewer_explains_why() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let browser = Browser::start(false).await;
    browser.client.goto(&server.url("/view")).await.unwrap();
    let message = browser
        .text_of("#viewer-error[data-kind=no-webgpu]", 60)
        .await;
    assert!(
        message.contains("WebGPU is not available here")
            && message.contains("recent Chrome, Edge or Safari"),
        "{message}"
    );
    browser.text_of("#viewer[data-gpu=unavailable]", 30).await;
    browser.close().await;
}
