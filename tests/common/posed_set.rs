//! A small posed photo set written as another tool would write it: PNG photos of a known splat
//! scene rendered by the CPU reference renderer from a ring of cameras, and a COLMAP text model
//! (a PINHOLE camera, the poses, a sparse cloud of grey points near the true splat centres).

use std::path::{Path, PathBuf};

use glam::{Mat3, Quat, Vec3};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use splatpod::formats::{logit, GaussianScene, SH_C0};
use splatpod::render::{render_cpu, Camera, NEAR_PLANE};

/// Photo size and count: small, because SwiftShader runs each iteration on the CPU.
pub const WIDTH: u32 = 64;
pub const HEIGHT: u32 = 48;
pub const VIEWS: usize = 16;

/// 300 coloured splats in a ball around the origin.
pub fn truth() -> GaussianScene {
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
pub fn write_posed_set(dir: &Path) -> Vec<PathBuf> {
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
        images_txt += &colmap_image_lines(i + 1, &camera, &name);
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

/// The two `images.txt` lines of image `id` seen by `camera` (camera 1, no 2-D points).
pub fn colmap_image_lines(id: usize, camera: &Camera, name: &str) -> String {
    let w2c = camera.world_to_camera;
    let q = Quat::from_mat3(&Mat3::from_mat4(w2c)).normalize();
    let t = w2c.w_axis;
    format!(
        "{id} {} {} {} {} {} {} {} 1 {name}\n\n",
        q.w, q.x, q.y, q.z, t.x, t.y, t.z
    )
}

/// Writes the posed set into `dir`, uploads its photos to `project` and imports its model.
pub async fn upload_posed_set(
    api: &super::api::Api,
    project: &str,
    dir: &Path,
) -> splatpod::api::ColmapImported {
    let files = write_posed_set(dir);
    let (photos, model): (Vec<_>, Vec<_>) = files
        .iter()
        .partition(|p| p.extension().is_some_and(|e| e == "png"));
    let photos = photos
        .iter()
        .map(|p| (file_name(p), std::fs::read(p).expect("photo")))
        .collect();
    assert_eq!(api.upload(project, photos).await.0, 201);
    import_model(api, project, &model).await
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("UTF-8 name")
        .to_string()
}

/// Imports the COLMAP model files `model` into `project` (`POST /api/projects/{id}/colmap`).
pub async fn import_model(
    api: &super::api::Api,
    project: &str,
    model: &[&PathBuf],
) -> splatpod::api::ColmapImported {
    let texts = model
        .iter()
        .map(|path| (file_name(path), std::fs::read(path).expect("model file")))
        .collect();
    import_model_texts(api, project, texts).await
}

/// Imports a COLMAP model given as `(file name, contents)` into `project`.
pub async fn import_model_texts(
    api: &super::api::Api,
    project: &str,
    files: Vec<(String, Vec<u8>)>,
) -> splatpod::api::ColmapImported {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part(
            "model",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    let (s, b, _) = api
        .send(
            api.http
                .post(api.url(&format!("/api/projects/{project}/colmap")))
                .bearer_auth(&api.key)
                .multipart(form),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    super::api::typed(&b)
}
