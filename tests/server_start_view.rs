//! The first view of a shared scene is a capture camera: a z-up capture (a COLMAP model whose
//! cameras ring the scene with their image up along +z, as a z-up world stores them) imported
//! with its photos and a splat scene gives the share view a `start_view` at the first camera
//! with +z up, and the render job's thumbnail is the scene seen from there (the CPU reference
//! renderer's picture of that camera), not the old front framing with −y up.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::api::{typed, Api, Backend};
use common::posed_set::{colmap_image_lines, import_model_texts, truth};
use glam::{Quat, Vec3};
use serde_json::json;
use splatpod::api::{SharedView, StartView};
use splatpod::formats::GaussianScene;
use splatpod::render::{render_cpu, Camera, NEAR_PLANE, VIEWER_BACKGROUND};

const SIZE: u32 = 64;
const VIEWS: usize = 8;
const FOV: f32 = 50.0 * std::f32::consts::PI / 180.0;

/// The posed set's ball turned into a z-up world: a quarter turn about x takes its up (−y) to
/// +z.
fn z_up_scene() -> GaussianScene {
    let mut s = truth();
    let turn = Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2);
    assert!((turn * Vec3::NEG_Y - Vec3::Z).length() < 1e-6);
    for p in &mut s.positions {
        *p = (turn * Vec3::from(*p)).to_array();
    }
    s
}

/// Eye of camera `i` of the ring: radius 2.4, 0.6 above the scene's centre in +z.
fn eye(i: usize) -> Vec3 {
    let a = i as f32 / VIEWS as f32 * std::f32::consts::TAU;
    Vec3::new(2.4 * a.cos(), 2.4 * a.sin(), 0.6)
}

fn camera(i: usize) -> Camera {
    Camera::look_at(eye(i), Vec3::ZERO, Vec3::Z, FOV, SIZE, SIZE)
}

fn png(scene: &GaussianScene, cam: &Camera) -> Vec<u8> {
    let rgba = render_cpu(scene, cam, VIEWER_BACKGROUND, NEAR_PLANE).to_rgba8();
    let mut out = Vec::new();
    image::RgbaImage::from_raw(SIZE, SIZE, rgba)
        .expect("size")
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn rgb(png: &[u8]) -> Vec<f32> {
    let img = image::load_from_memory(png).expect("PNG").to_rgb8();
    assert_eq!(img.dimensions(), (SIZE, SIZE));
    img.into_raw().into_iter().map(f32::from).collect()
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[tokio::test]
async fn a_z_up_capture_is_shared_and_thumbnailed_from_a_capture_camera() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let scene = z_up_scene();
    let project = api.project("z-up").await;

    // Photos (renders from each camera) and a COLMAP text model of the ring, no 2D points, so
    // camera 1 is the capture camera the start view takes.
    let mut photos = Vec::new();
    let mut images_txt = String::new();
    for i in 0..VIEWS {
        let cam = camera(i);
        let name = format!("{i:03}.png");
        photos.push((name.clone(), png(&scene, &cam)));
        images_txt += &colmap_image_lines(i + 1, &cam, &name);
    }
    assert_eq!(api.upload(&project, photos).await.0, 201);
    let fx = camera(0).fx;
    let half = SIZE as f32 / 2.0;
    let cameras_txt = format!("1 PINHOLE {SIZE} {SIZE} {fx} {fx} {half} {half}\n");
    let points_txt: String = scene
        .positions
        .iter()
        .enumerate()
        .map(|(k, p)| format!("{} {} {} {} 128 128 128 0.5\n", k + 1, p[0], p[1], p[2]))
        .collect();
    let model = [
        ("cameras.txt", cameras_txt),
        ("images.txt", images_txt),
        ("points3D.txt", points_txt),
    ];
    import_model_texts(
        &api,
        &project,
        model
            .into_iter()
            .map(|(name, text)| (name.to_string(), text.into_bytes()))
            .collect(),
    )
    .await;
    let mut ply = Vec::new();
    splatpod::formats::write_ply(&scene, &mut ply).expect("PLY");
    let (s, b, _) = api
        .send(
            api.http
                .put(api.url(&format!("/api/projects/{project}/artifacts/scene.ply")))
                .bearer_auth(&api.key)
                .body(ply),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // The import queued its thumbnail at once: 512 × 512, from the start view (checked below
    // at the test's size).
    let imported: splatpod::api::SceneImported = typed(&b);
    let t = api.wait_final(&imported.thumbnail_job, 120).await;
    assert_eq!(t["status"], "COMPLETED", "{t}");
    assert_eq!(t["output"]["artifact"], "thumbnail.png", "{t}");
    let first = image::load_from_memory(
        &api.bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
            .await,
    )
    .expect("thumbnail PNG");
    assert_eq!((first.width(), first.height()), (512, 512));

    // The share view starts at camera 1, +z up, looking at the scene's centre.
    let (_, share) = api
        .post(&format!("/api/projects/{project}/shares"), json!({}))
        .await;
    let token = share["token"].as_str().expect("token");
    let (s, view) = api.get(&format!("/api/s/{token}")).await;
    assert_eq!(s, 200, "{view}");
    let view: SharedView = typed(&view);
    let StartView { eye: e, target, up } = view.start_view.expect("a start view");
    let (e, target, up) = (Vec3::from(e), Vec3::from(target), Vec3::from(up));
    assert!((e - eye(0)).length() < 1e-3, "eye {e}");
    assert!((up - Vec3::Z).length() < 1e-3, "up {up}");
    let forward = (Vec3::ZERO - eye(0)).normalize();
    assert!(
        (target - e).normalize().dot(forward) > 0.9999,
        "target {target}"
    );

    // The thumbnail is the scene from that view.
    let rid = api
        .run(json!({"task": "render", "project_id": project, "width": SIZE, "height": SIZE}))
        .await;
    let r = api.wait_final(&rid, 120).await;
    assert_eq!(r["status"], "COMPLETED", "{r}");
    let thumb = rgb(&api
        .bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
        .await);
    let from_start = Camera::look_at(e, target, up, FOV, SIZE, SIZE);
    let want = rgb(&png(&scene, &from_start));
    let old = rgb(&png(
        &scene,
        &Camera::frame_points(&scene.positions, Vec3::Z, Vec3::NEG_Y, FOV, SIZE, SIZE),
    ));
    let background = VIEWER_BACKGROUND.to_array().map(|c| c * 255.0);
    let lit = want
        .chunks_exact(3)
        .filter(|p| p.iter().zip(background).any(|(v, b)| (v - b).abs() > 24.0))
        .count() as f32
        / (want.len() / 3) as f32;
    assert!(
        lit > 0.1,
        "the start view shows little of the scene ({lit})"
    );
    let (near, far) = (mean_abs_diff(&thumb, &want), mean_abs_diff(&thumb, &old));
    eprintln!("thumbnail vs start view {near:.3}, vs old framing {far:.2} (of 255); {lit:.2} lit");
    assert!(
        near < 2.0,
        "thumbnail differs from the start view by {near}"
    );
    assert!(
        far > 4.0 * near.max(1.0),
        "the old framing looks the same ({far})"
    );
}
