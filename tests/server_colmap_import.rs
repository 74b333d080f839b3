//! `POST /api/projects/{id}/colmap`: a COLMAP model written by the test (as another SfM tool
//! would write it) posing photos uploaded to the project is imported, checked, stored as the
//! `sparse/0/*.bin` the `train` job reads, and trained on; bad models are refused with 4xx and
//! a message, and a refused import stores nothing.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::PathBuf;

use common::api::{typed, Api, Backend};
use common::posed_set::{import_model, write_posed_set, VIEWS};
use serde_json::json;
use splatpod::api;

/// A multipart POST of `files` (name, bytes) to the import endpoint: (status, body).
async fn post_model(
    api: &Api,
    project: &str,
    files: &[(&str, Vec<u8>)],
    key: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part(
            "model",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let mut req = api
        .http
        .post(api.url(&format!("/api/projects/{project}/colmap")))
        .multipart(form);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let (s, b, _) = api.send(req).await;
    (s, b)
}

fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).expect("model file")
}

#[tokio::test]
async fn a_colmap_model_is_imported_checked_and_trained_on() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_posed_set(dir.path());
    let (photos, model): (Vec<&PathBuf>, Vec<&PathBuf>) = files
        .iter()
        .partition(|p| p.extension().is_some_and(|e| e == "png"));
    let model_file = |name: &str| {
        read(
            model
                .iter()
                .find(|p| p.ends_with(name))
                .expect("model file"),
        )
    };
    let (cameras, images, points) = (
        model_file("cameras.txt"),
        model_file("images.txt"),
        model_file("points3D.txt"),
    );
    let project = api.project("import").await;
    let named = |p: &&PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).expect("name");
        (name.to_string(), read(p))
    };
    // All photos but the last one.
    let first: Vec<_> = photos[..VIEWS - 1].iter().map(named).collect();
    assert_eq!(api.upload(&project, first).await.0, 201);

    let full = [
        ("cameras.txt", cameras.clone()),
        ("images.txt", images.clone()),
        ("points3D.txt", points.clone()),
    ];
    let (s, b) = post_model(&api, &project, &full, None).await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = post_model(&api, "no-such-project", &full, Some(&api.key)).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = post_model(&api, &project, &[], Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    let points_only = [("points3D.bin", points.clone())];
    let (s, b) = post_model(&api, &project, &points_only, Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or("")
            .contains("no COLMAP model"),
        "{b}"
    );
    let (s, b) = post_model(&api, &project, &full[..1], Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("images.txt"),
        "{b}"
    );
    let (s, b) = post_model(
        &api,
        &project,
        &[("evil/../../notes.sh", b"rm -rf /".to_vec())],
        Some(&api.key),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let broken = [
        ("cameras.txt", b"1 PINHOLE 64 48 60\n".to_vec()),
        ("images.txt", images.clone()),
        ("points3D.txt", points.clone()),
    ];
    let (s, b) = post_model(&api, &project, &broken, Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("COLMAP model"),
        "{b}"
    );
    // The last photo is not uploaded: named in the refusal.
    let (s, b) = post_model(&api, &project, &full, Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    let error = b["error"].as_str().unwrap_or("");
    assert!(error.contains(&format!("{:03}.png", VIEWS - 1)), "{b}");
    // A camera of another size than the photos.
    let resized = String::from_utf8(cameras.clone()).expect("text").replacen(
        "PINHOLE 64 48",
        "PINHOLE 640 480",
        1,
    );
    let last = [named(&photos[VIEWS - 1])];
    assert_eq!(api.upload(&project, last.to_vec()).await.0, 201);
    let wrong = [
        ("cameras.txt", resized.into_bytes()),
        ("images.txt", images.clone()),
        ("points3D.txt", points.clone()),
    ];
    let (s, b) = post_model(&api, &project, &wrong, Some(&api.key)).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"].as_str().unwrap_or("").contains("640x480"), "{b}");
    // Nothing was stored by the refusals.
    let (s, list) = api.get(&format!("/api/projects/{project}/artifacts")).await;
    assert_eq!(s, 200);
    assert!(
        typed::<api::ArtifactList>(&list).artifacts.is_empty(),
        "{list}"
    );

    // The good model: stored as binary with the names of the stored photos.
    let imported = import_model(&api, &project, &model).await;
    assert_eq!(
        (imported.cameras, imported.images, imported.points),
        (1, VIEWS as u64, 300)
    );
    let path = |name: &str| format!("/api/projects/{project}/artifacts/sparse/0/{name}");
    let rec = splatpod::sfm::colmap::read_binary(
        &api.bytes(&path("cameras.bin")).await,
        &api.bytes(&path("images.bin")).await,
        &api.bytes(&path("points3D.bin")).await,
    )
    .expect("stored model");
    let (s, list) = api.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(s, 200);
    let stored = typed::<api::ImageList>(&list).images;
    let original = splatpod::sfm::colmap::read_text(&cameras, &images, &points).expect("text");
    for (id, image) in &rec.images {
        let photo = stored
            .iter()
            .find(|p| image.name == format!("{}.{}", p.id, p.format))
            .unwrap_or_else(|| panic!("{} is no stored photo", image.name));
        let before = &original.images[id];
        assert_eq!(photo.file_name, before.name);
        assert_eq!(image.cam_from_world, before.cam_from_world);
    }

    let id = api
        .run(json!({"task": "train", "project_id": project, "iterations": 60, "max_side": 64}))
        .await;
    let done = api.wait_final(&id, 300).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let out: api::TrainOutput = serde_json::from_value(done["output"].clone()).expect("output");
    assert_eq!((out.train_views, out.test_views), (14, 2), "{out:?}");
    assert!(out.psnr.is_some_and(|p| p > 15.0), "{out:?}");
}
