//! End-to-end tests of training in the browser (`/train`) in headless Chromium (WebGPU on
//! SwiftShader) against the real server.
//!
//! The posed set is written by the test as another tool would write it: a COLMAP text model
//! (PINHOLE camera, poses, a sparse cloud of grey points near the true splat centres) and PNG
//! photos of a known splat scene rendered by the CPU reference renderer from a ring of cameras.
//! The page is given the files through its picker and must train, score the held-out views
//! before and after (PSNR rises above a floor measured in this test), show the scene in its
//! viewer and offer the result for download. A set with a missing photo gets a plain message.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Browser, Server};
use fantoccini::Locator;
use glam::{Mat3, Quat, Vec3};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use splatpod::formats::{logit, GaussianScene, SH_C0};
use splatpod::render::{render_cpu, Camera, NEAR_PLANE};

/// Photo size and count: small, because SwiftShader runs each iteration on the CPU.
const WIDTH: u32 = 64;
const HEIGHT: u32 = 48;
const VIEWS: usize = 16;
/// Iterations the page is asked for.
const ITERATIONS: u32 = 150;

/// 300 coloured splats in a ball around the origin.
fn truth() -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(11);
    let mut s = GaussianScene::empty(0);
    for _ in 0..300 {
        s.positions.push([
            rng.random_range(-0.6..0.6),
            rng.random_range(-0.45..0.45),
            rng.random_range(-0.6..0.6),
        ]);
        s.log_scales.push([rng.random_range(0.06f32..0.12).ln(); 3]);
        s.rotations.push([1.0, 0.0, 0.0, 0.0]);
        s.opacity_logits.push(logit(0.8));
        for _ in 0..3 {
            s.sh.push((rng.random_range(0.1f32..0.9) - 0.5) / SH_C0);
        }
    }
    s
}

/// Writes the posed set into `dir` (`sparse/0/*.txt`, `images/NNN.png`); returns every file.
fn write_posed_set(dir: &Path) -> Vec<PathBuf> {
    let scene = truth();
    let model = dir.join("sparse/0");
    let images = dir.join("images");
    std::fs::create_dir_all(&model).expect("mkdir");
    std::fs::create_dir_all(&images).expect("mkdir");
    let mut files = Vec::new();
    let mut images_txt = String::new();
    let mut fx = 0.0;
    for i in 0..VIEWS {
        let a = i as f32 / VIEWS as f32 * std::f32::consts::TAU;
        let eye = Vec3::new(2.4 * a.sin(), -0.6, -2.4 * a.cos());
        let camera = Camera::look_at(eye, Vec3::ZERO, Vec3::NEG_Y, 0.9, WIDTH, HEIGHT);
        fx = camera.fx;
        let photo = render_cpu(&scene, &camera, Vec3::ZERO, NEAR_PLANE).to_rgba8();
        let name = format!("{i:03}.png");
        let path = images.join(&name);
        image::save_buffer(
            &path,
            &photo,
            WIDTH,
            HEIGHT,
            image::ExtendedColorType::Rgba8,
        )
        .expect("png");
        files.push(path);
        let w2c = camera.world_to_camera;
        let q = Quat::from_mat3(&Mat3::from_mat4(w2c)).normalize();
        let t = w2c.w_axis;
        images_txt += &format!(
            "{} {} {} {} {} {} {} {} 1 {name}\n\n",
            i + 1,
            q.w,
            q.x,
            q.y,
            q.z,
            t.x,
            t.y,
            t.z
        );
    }
    let cameras_txt = format!(
        "1 PINHOLE {WIDTH} {HEIGHT} {fx} {fx} {} {}\n",
        WIDTH as f32 / 2.0,
        HEIGHT as f32 / 2.0
    );
    // The sparse cloud: every true centre moved by up to ±0.08, grey.
    let mut rng = SmallRng::seed_from_u64(5);
    let mut points_txt = String::new();
    for (k, p) in scene.positions.iter().enumerate() {
        let j = |v: f32, rng: &mut SmallRng| v + rng.random_range(-0.08..0.08);
        let (x, y, z) = (j(p[0], &mut rng), j(p[1], &mut rng), j(p[2], &mut rng));
        points_txt += &format!("{} {x} {y} {z} 128 128 128 0.5\n", k + 1);
    }
    for (name, text) in [
        ("cameras.txt", cameras_txt),
        ("images.txt", images_txt),
        ("points3D.txt", points_txt),
    ] {
        let path = model.join(name);
        std::fs::write(&path, text).expect("write model");
        files.push(path);
    }
    files
}

async fn attr(browser: &Browser, css: &str, name: &str) -> Option<String> {
    match browser.client.find(Locator::Css(css)).await {
        Ok(el) => el.attr(name).await.ok().flatten(),
        Err(_) => None,
    }
}

async fn text(browser: &Browser, css: &str) -> Option<String> {
    match browser.client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.ok(),
        Err(_) => None,
    }
}

/// `/train` with `files` picked and the settings fields set.
async fn pick(server: &Server, files: &[PathBuf], settings: &[(&str, &str)]) -> Browser {
    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/train")).await.unwrap();
    browser.text_of("#train-panel[data-state=idle]", 60).await;
    for (id, value) in settings {
        browser
            .client
            .execute(
                "const el = document.getElementById(arguments[0]); el.value = arguments[1]; \
                 el.dispatchEvent(new Event('change'));",
                vec![serde_json::json!(id), serde_json::json!(value)],
            )
            .await
            .expect("set a field");
    }
    let paths: Vec<&str> = files
        .iter()
        .map(|p| p.to_str().expect("UTF-8 temp path"))
        .collect();
    browser
        .client
        .find(Locator::Css("#train-files"))
        .await
        .expect("file input")
        .send_keys(&paths.join("\n"))
        .await
        .expect("pick the files");
    let picked = browser.text_of("#train-picked", 10).await;
    assert_eq!(picked, format!("{} files picked.", files.len()));
    browser
        .client
        .find(Locator::Css("#train-start"))
        .await
        .expect("start button")
        .click()
        .await
        .expect("start");
    browser
}

/// Waits for the run to end (`done` or `failed`) within `secs`; returns the final state.
async fn wait_finished(browser: &Browser, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let state = attr(browser, "#train-panel", "data-state")
            .await
            .unwrap_or_default();
        if state == "done" || state == "failed" {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "training did not finish within {secs} s (state {state}, step {:?}, status {:?})",
            attr(browser, "#train-step", "data-step").await,
            text(browser, "#train-status").await,
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The picked COLMAP set trains for the requested iterations; held-out PSNR rises from the
/// grey starting point to above the floor; the viewer shows the splats; the PLY is offered.
#[tokio::test]
async fn a_picked_posed_set_trains_in_the_browser() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_posed_set(dir.path());
    let iterations = ITERATIONS.to_string();
    let browser = pick(
        &server,
        &files,
        &[
            ("train-iterations", iterations.as_str()),
            ("train-max-side", "64"),
            ("train-max-splats", "5000"),
        ],
    )
    .await;
    let start = Instant::now();
    let state = wait_finished(&browser, 600).await;
    let error = text(&browser, "#train-error").await;
    assert_eq!(state, "done", "training failed: {error:?}");
    eprintln!("{ITERATIONS} iterations in {:?}", start.elapsed());
    assert_eq!(
        attr(&browser, "#train-step", "data-step").await,
        Some(iterations)
    );
    let psnr = |v: Option<String>| -> f64 {
        v.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no PSNR readout"))
    };
    let before = psnr(attr(&browser, "#train-before", "data-psnr").await);
    let after = psnr(attr(&browser, "#train-after", "data-psnr").await);
    eprintln!("held-out PSNR {before:.2} → {after:.2} dB");
    // Measured on SwiftShader: 20.4 → 25.7 dB.
    assert!(after > before + 3.0, "PSNR {before:.2} → {after:.2} dB");
    assert!(after > 24.0, "held-out PSNR {after:.2} dB");

    let href = attr(&browser, "#train-download", "href")
        .await
        .expect("a download link");
    assert!(href.starts_with("blob:"), "{href}");
    let splats = browser.text_of("#splat-count", 10).await;
    assert!(splats.ends_with(" splats"), "{splats}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while attr(&browser, "#frame-time", "data-frames")
        .await
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "the viewer drew no frame");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.close().await;
}

/// A set whose photo is missing fails with a plain message naming it, details behind a toggle.
#[tokio::test]
async fn a_missing_photo_gets_a_plain_message() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<PathBuf> = write_posed_set(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with("images/003.png"))
        .collect();
    let browser = pick(&server, &files, &[]).await;
    assert_eq!(wait_finished(&browser, 120).await, "failed");
    let message = browser.text_of("#train-error p", 10).await;
    assert!(
        message.contains("003.png") && message.contains("Pick the whole folder"),
        "{message}"
    );
    let details = browser.text_of("#train-error details summary", 10).await;
    assert_eq!(details, "Details");
    browser.close().await;
}
