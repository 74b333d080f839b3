//! The first view of a shared scene. A capture camera: a z-up capture (a COLMAP model whose
//! cameras ring the scene with their image up along +z, as a z-up world stores them) imported
//! with its photos and a splat scene gives the share view a `start_view` at the first camera
//! with +z up, and the render job's thumbnail is the scene seen from there (the CPU reference
//! renderer's picture of that camera), not the old front framing with −y up; a view the owner
//! saves comes before the camera until cleared. A scene without cameras: the owner's up-axis
//! choice turns the framing (the z-up scene framed about +z is the upright scene's default
//! picture), a saved view is what share links and the thumbnail show, and only the owner's key
//! writes either (on SQLite and PostgreSQL).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::api::{backends, on_both_backends, typed, Api, Backend};
use common::posed_set::{colmap_image_lines, import_model_texts, truth};
use glam::{Quat, Vec3};
use serde_json::{json, Value};
use splatpod::api::{
    ProjectStartView, SharedView, StartView, StartViewSaved, StartViewSource, UpAxis,
};
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
    // The import queued its thumbnail at once: 512 × 512, from the start view (checked below
    // at the test's size).
    let imported = api.import_scene(&project, &scene).await;
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
    let StartView {
        eye: e, target, up, ..
    } = view.start_view.expect("a start view");
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

    // A view the owner saves comes before the capture camera, for the project page and the
    // share link, until it is cleared.
    let (_, page) = api
        .get(&format!("/api/projects/{project}/start-view"))
        .await;
    let page: ProjectStartView = typed(&page);
    assert_eq!(page.source, StartViewSource::Camera);
    assert!(page.has_cameras);
    let mine = StartView {
        eye: [0.0, -2.5, 1.5],
        target: [0.0, 0.0, 0.1],
        up: [0.0, 0.0, 2.0],
        fov_y_deg: Some(40.0),
    };
    let saved = save_view(&api, &project, &mine).await;
    let want_saved = StartView {
        up: [0.0, 0.0, 1.0],
        ..mine
    };
    assert_eq!(saved.view.source, StartViewSource::Saved);
    assert_eq!(saved.view.start_view, Some(want_saved));
    assert!(saved.view.has_cameras);
    assert_eq!(shared(&api, token).await.start_view, Some(want_saved));
    let job = saved.thumbnail_job.expect("a thumbnail job");
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
    let (s, cleared, _) = api
        .send(
            api.http
                .delete(api.url(&format!("/api/projects/{project}/start-view")))
                .bearer_auth(&api.key),
        )
        .await;
    assert_eq!(s, 200, "{cleared}");
    let cleared: StartViewSaved = typed(&cleared);
    assert_eq!(cleared.view.source, StartViewSource::Camera);
    assert_eq!(cleared.view.start_view, view.start_view);
    assert_eq!(shared(&api, token).await.start_view, view.start_view);
    let job = cleared.thumbnail_job.expect("a thumbnail job");
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
}

/// `PUT /api/projects/{project}/start-view` with the owner's key, which must succeed.
async fn save_view(api: &Api, project: &str, v: &StartView) -> StartViewSaved {
    let (s, b) = put(api, project, "start-view", Some(&api.key), json!(v)).await;
    assert_eq!(s, 200, "{b}");
    typed(&b)
}

/// `PUT /api/projects/{project}/{what}` with `body`, bearing `token` if given.
async fn put(
    api: &Api,
    project: &str,
    what: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = api
        .http
        .put(api.url(&format!("/api/projects/{project}/{what}")))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let (s, b, _) = api.send(req).await;
    (s, b)
}

/// The share link's view (no key).
async fn shared(api: &Api, token: &str) -> SharedView {
    let (s, b, _) = api
        .send(api.http.get(api.url(&format!("/api/s/{token}"))))
        .await;
    assert_eq!(s, 200, "{b}");
    typed(&b)
}

/// The project's thumbnail re-rendered at the test's size (a render job).
async fn thumbnail(api: &Api, project: &str) -> Vec<f32> {
    let rid = api
        .run(json!({"task": "render", "project_id": project, "width": SIZE, "height": SIZE}))
        .await;
    let r = api.wait_final(&rid, 120).await;
    assert_eq!(r["status"], "COMPLETED", "{r}");
    rgb(&api
        .bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
        .await)
}

async fn owner_view_of_a_scene_without_cameras(backend: Backend) {
    let api = Api::start(&backend, &[]).await;
    let scene = z_up_scene();
    let project = api.project("no cameras").await;
    let imported = api.import_scene(&project, &scene).await;
    assert_eq!(
        api.wait_final(&imported.thumbnail_job, 120).await["status"],
        "COMPLETED"
    );
    let (s, b) = api
        .get(&format!("/api/projects/{project}/start-view"))
        .await;
    assert_eq!(s, 200, "{b}");
    let first: ProjectStartView = typed(&b);
    assert_eq!(
        first,
        ProjectStartView {
            start_view: None,
            source: StartViewSource::Framing,
            up_axis: UpAxis::NegY,
            has_cameras: false,
        }
    );
    let default_framing = thumbnail(&api, &project).await;

    // Only the owner's key writes: none, a share token, a pairing token (its own project).
    let (_, share) = api
        .post(&format!("/api/projects/{project}/shares"), json!({}))
        .await;
    let token = share["token"].as_str().expect("token").to_owned();
    let (s, pairing) = api
        .post(&format!("/api/projects/{project}/pairings"), json!({}))
        .await;
    assert_eq!(s, 201, "{pairing}");
    let phone = pairing["token"].as_str().expect("pairing token").to_owned();
    let view = StartView {
        eye: [0.3, -2.0, 1.2],
        target: [0.0, 0.1, 0.0],
        up: [0.0, 0.0, 1.0],
        fov_y_deg: Some(45.0),
    };
    for (what, body) in [
        ("start-view", json!(view)),
        ("up-axis", json!({"up_axis": "+z"})),
    ] {
        for (token, status) in [
            (None, 401),
            (Some(token.as_str()), 401),
            (Some(&*phone), 403),
        ] {
            let (s, b) = put(&api, &project, what, token, body.clone()).await;
            assert_eq!(s, status, "{what} with {token:?}: {b}");
        }
    }
    for token in [token.as_str(), ""] {
        let (s, _, _) = api
            .send(
                api.http
                    .delete(api.url(&format!("/api/projects/{project}/start-view")))
                    .bearer_auth(token),
            )
            .await;
        assert_eq!(s, 401);
    }
    assert_eq!(shared(&api, &token).await.start_view, None);

    // Bad views and axes: a 400 that says what is wrong; an unknown project: 404.
    let with = |patch: Value| {
        let mut v = json!(view);
        for (k, x) in patch.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    for (body, says) in [
        // JSON has no NaN or infinity; beyond f32 is the nearest (the finite check is the
        // server's unit test).
        (with(json!({"eye": [1e39, 0.0, 0.0]})), "out of range"),
        (with(json!({"up": [0.0, 0.0, 0.0]})), "zero"),
        (with(json!({"eye": [0.0, 0.1, 0.0]})), "differ"),
        (with(json!({"eye": [0.0, 0.1, 3.0]})), "along the view"),
        (with(json!({"fov_y_deg": 0.2})), "fov_y_deg"),
        (with(json!({"fov_y_deg": 175.0})), "fov_y_deg"),
        (
            json!({"eye": [0.0, 1.0, 2.0], "target": [0.0, 0.0, 0.0]}),
            "up",
        ),
        (
            json!({"eye": "here", "target": [0.0, 0.0, 0.0], "up": [0.0, 1.0, 0.0]}),
            "eye",
        ),
    ] {
        let (s, b) = put(&api, &project, "start-view", Some(&api.key), body.clone()).await;
        assert_eq!(s, 400, "{body}: {b}");
        let error = b["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{body}: {error}");
    }
    for body in [json!({"up_axis": "up"}), json!({"up_axis": "z"}), json!({})] {
        let (s, b) = put(&api, &project, "up-axis", Some(&api.key), body.clone()).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()), "{b}");
    }
    let nobody = common::api::uuid_like();
    let (s, _) = put(&api, &nobody, "start-view", Some(&api.key), json!(view)).await;
    assert_eq!(s, 404);
    let (s, _) = put(
        &api,
        &nobody,
        "up-axis",
        Some(&api.key),
        json!({"up_axis": "+z"}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        api.delete(&format!("/api/projects/{nobody}/start-view"))
            .await,
        404
    );
    let (s, _) = api.get(&format!("/api/projects/{nobody}/start-view")).await;
    assert_eq!(s, 404);

    // Up +z: the scene is framed as the upright scene it was turned from (along +y with +z
    // up, which is along +z with −y up before the turn): the same picture.
    let (s, b) = put(
        &api,
        &project,
        "up-axis",
        Some(&api.key),
        json!({"up_axis": "+z"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let turned: StartViewSaved = typed(&b);
    assert_eq!(turned.view.up_axis, UpAxis::PosZ);
    assert_eq!(turned.view.source, StartViewSource::Framing);
    let job = turned.thumbnail_job.expect("a thumbnail job");
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
    let z_framing = thumbnail(&api, &project).await;
    let upright = truth();
    let want = rgb(&png(
        &upright,
        &Camera::frame_points(&upright.positions, Vec3::Z, Vec3::NEG_Y, FOV, SIZE, SIZE),
    ));
    let (near, far) = (
        mean_abs_diff(&z_framing, &want),
        mean_abs_diff(&default_framing, &want),
    );
    eprintln!("+z framing vs the upright scene's {near:.3}; the −y framing's {far:.2}");
    assert!(near < 2.0, "the +z framing differs by {near}");
    assert!(
        far > 4.0 * near.max(1.0),
        "−y framing looks the same ({far})"
    );
    let share = shared(&api, &token).await;
    assert_eq!((share.start_view, share.up_axis), (None, UpAxis::PosZ));

    // A saved view: the share link and the thumbnail start there.
    let saved = save_view(&api, &project, &view).await;
    assert_eq!(saved.view.source, StartViewSource::Saved);
    assert_eq!(saved.view.start_view, Some(view));
    assert_eq!(shared(&api, &token).await.start_view, Some(view));
    let job = saved.thumbnail_job.expect("a thumbnail job");
    assert_eq!(api.wait_final(&job, 120).await["status"], "COMPLETED");
    let queued = image::load_from_memory(
        &api.bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
            .await,
    )
    .expect("thumbnail PNG");
    assert_eq!((queued.width(), queued.height()), (512, 512));
    let fov = 45f32.to_radians();
    let from_saved = |w, h| {
        Camera::look_at(
            Vec3::from(view.eye),
            Vec3::from(view.target),
            Vec3::Z,
            fov,
            w,
            h,
        )
    };
    let near = mean_abs_diff(
        &thumbnail(&api, &project).await,
        &rgb(&png(&scene, &from_saved(SIZE, SIZE))),
    );
    eprintln!("thumbnail vs the saved view {near:.3}");
    assert!(
        near < 2.0,
        "thumbnail differs from the saved view by {near}"
    );

    // A new up axis drops the view saved about the old one.
    let (s, b) = put(
        &api,
        &project,
        "up-axis",
        Some(&api.key),
        json!({"up_axis": "-y"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let reset: StartViewSaved = typed(&b);
    assert_eq!(reset.view, first);
    assert_eq!(shared(&api, &token).await.start_view, None);
    // Clearing with nothing saved is fine; a project without a scene gets no thumbnail job.
    let bare = api.project("bare").await;
    let saved = save_view(&api, &bare, &view).await;
    assert_eq!(saved.thumbnail_job, None);
    assert_eq!(saved.view.source, StartViewSource::Saved);
    assert_eq!(
        api.delete(&format!("/api/projects/{bare}/start-view"))
            .await,
        200
    );
    assert_eq!(
        api.delete(&format!("/api/projects/{bare}/start-view"))
            .await,
        200
    );
}

on_both_backends!(
    the_owner_sets_the_first_view_of_a_scene_without_cameras,
    owner_view_of_a_scene_without_cameras
);
