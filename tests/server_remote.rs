//! Remote backends: two servers on loopback. The first, its one job slot busy, forwards a
//! `reconstruct` job to the second once it has waited past the threshold: the photos go there,
//! progress comes back, the scene and every other file land in the first server's project under
//! its own ids, and the job records where it ran and what it cost at that backend's price.
//! With the second server killed, the next job falls back to the first server's own GPU.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::api::{typed, Api, Backend};
use common::fixtures::photo;
use serde_json::json;
use splatpod::api::{self, JobStatusBody, ReconstructOutput};

/// USD per GPU-hour the first server pays the second.
const PRICE: f64 = 3.6;

#[tokio::test]
async fn a_busy_server_forwards_to_a_remote_backend_and_falls_back_when_it_dies() {
    let remote = Api::start(&Backend::Sqlite, &[]).await;
    let config = tempfile::tempdir().expect("config dir");
    let file = config.path().join("backends.json");
    let backends = json!([{
        "name": "gpu-b",
        "url": remote.server.url(""),
        "endpoint": remote.endpoint,
        "api_key": remote.key,
        "gpu_price_per_hour": PRICE,
    }]);
    std::fs::write(&file, backends.to_string()).expect("backends file");
    let file = file.display().to_string();
    let local = Api::start(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_REMOTE_BACKENDS", file.as_str()),
            ("SPLATPOD_REMOTE_AFTER_S", "1"),
            ("SPLATPOD_MAX_CONCURRENT_JOBS", "1"),
        ],
    )
    .await;
    let project = local.project("forwarded").await;
    let files = (3..8).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(local.upload(&project, files).await.0, 201);
    let reconstruct = json!({"task": "reconstruct", "project_id": project, "quality": "low",
               "max_side": 640, "iterations": 40});

    // The one local slot sleeps; the reconstruct job waits past 1 s and goes to gpu-b.
    let busy = local
        .run(json!({"task": "sleep", "project_id": project, "iterations": 20000}))
        .await;
    let id = local.run(reconstruct.clone()).await;
    let done = local.wait_final(&id, 600).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let status: JobStatusBody = typed(&done);
    assert_eq!(status.worker.as_deref(), Some("remote:gpu-b"), "{done}");
    assert!(status.gpu_seconds > 0.0, "{done}");
    let expected = status.gpu_seconds / 3600.0 * PRICE;
    assert!(
        (status.cost_usd - expected).abs() < 1e-9,
        "cost at gpu-b's price: {done}"
    );
    // It waited past the 1 s threshold and left while the 20 s sleep held the local slot.
    assert!(
        (1_000..20_000).contains(&status.delay_time),
        "queued {} ms before it was forwarded",
        status.delay_time
    );
    let sleep: JobStatusBody = typed(&local.status(&busy).await);
    let sleep_worker = sleep.worker.unwrap_or_default();
    assert!(sleep_worker.starts_with("node-"), "{sleep_worker}");

    // The output and the files speak of the local project and its photos.
    let out: ReconstructOutput = typed(&done["output"]);
    assert_eq!(out.project_id, project, "{out:?}");
    let (_, imgs) = local.get(&format!("/api/projects/{project}/images")).await;
    let local_ids: Vec<String> = typed::<api::ImageList>(&imgs)
        .images
        .into_iter()
        .map(|i| i.id)
        .collect();
    let (_, arts) = local
        .get(&format!("/api/projects/{project}/artifacts"))
        .await;
    let names: Vec<String> = typed::<api::ArtifactList>(&arts)
        .artifacts
        .into_iter()
        .map(|a| a.name)
        .collect();
    for name in ["scene.ply", "scene.spz", "thumbnail.png", "matches.json"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    for id in &local_ids {
        assert!(
            names.contains(&format!("features-{id}.spf")),
            "features of {id} under the local id: {names:?}"
        );
    }
    let matches: api::MatchesArtifact = serde_json::from_slice(
        &local
            .bytes(&format!("/api/projects/{project}/artifacts/matches.json"))
            .await,
    )
    .expect("matches.json");
    assert!(!matches.pairs.is_empty());
    for p in &matches.pairs {
        assert!(
            local_ids.contains(&p.a) && local_ids.contains(&p.b),
            "{p:?}"
        );
    }
    let ply = local
        .bytes(&format!("/api/projects/{project}/artifacts/scene.ply"))
        .await;
    let scene = splatpod::formats::load_scene(&ply, Some("scene.ply")).expect("scene");
    assert!(scene.len() > 100, "{} splats", scene.len());
    // The backend keeps nothing of the forwarded job's project.
    let (_, listed) = remote.get("/api/projects").await;
    assert!(
        typed::<api::ProjectList>(&listed).projects.is_empty(),
        "{listed}"
    );

    // gpu-b dies: the next job waits for the local slot and runs here.
    let mut remote = remote;
    remote.server.terminate();
    let id = local.run(reconstruct).await;
    let done = local.wait_final(&id, 600).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let status: JobStatusBody = typed(&done);
    let worker = status.worker.unwrap_or_default();
    assert!(
        !worker.is_empty() && !worker.starts_with("remote:"),
        "ran locally: {worker}"
    );
    assert_eq!(status.cost_usd, 0.0, "the local GPU has no price here");
}
