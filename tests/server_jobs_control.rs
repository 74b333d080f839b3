//! End-to-end tests of job control on the real `splatpod-server` binary on loopback: cancel,
//! timeout, retry and purge, SIGKILL recovery, transient failures retried with backoff
//! (SQLite embedded, and PostgreSQL through `SPLATPOD_TEST_DATABASE_URL` where `./test.sh` starts
//! it with `.ci/postgres.sh`), driven over HTTP; jobs run real engine work on the GPU (lavapipe
//! in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::api::{backends, on_both_backends, Api, Backend};
use common::fixtures::{photo, scene_ply};
use common::webhook::Receiver;
use serde_json::{json, Value};

/// A small valid 3DGS PLY written by the engine's writer from a procedural scene.
fn make_scene_ply() -> Vec<u8> {
    scene_ply(500, 7)
}

/// Cancel, timeout, retry and purge on a one-slot worker.
async fn control(backend: Backend) {
    let hook = Receiver::start(Vec::new()).await;
    let api = Api::start(
        &backend,
        &[
            ("SPLATPOD_MAX_CONCURRENT_JOBS", "1"),
            ("SPLATPOD_ALLOW_HOSTS", "127.0.0.1"),
        ],
    )
    .await;
    let project = api.project("control").await;
    let files = (0..6).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);

    // Cancel a running job: it stops promptly (at the next image: one image's extraction takes
    // a few seconds on lavapipe at 1024 px) and frees the worker.
    let long = json!({"task": "features", "project_id": project, "max_side": 1024});
    let id = api.run(long.clone()).await;
    api.wait_for(&id, 60, |b| {
        b["status"] == "IN_PROGRESS" && b["stage"] == "features"
    })
    .await;
    // Queue more behind it (one with a webhook), then purge them.
    let (s, j) = api
        .post(
            "/v2/{ep}/run",
            json!({"input": long, "webhook": hook.url("purged")}),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let mut queued = vec![j["id"].as_str().expect("id").to_owned()];
    for _ in 0..2 {
        queued.push(api.run(long.clone()).await);
    }
    let (s, p) = api.post("/v2/{ep}/purge-queue", Value::Null).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["removed"], 3, "{p}");
    let calls = hook.wait_requests(1, 30).await;
    let purged: Value = serde_json::from_slice(&calls[0].1).expect("webhook JSON");
    assert_eq!(purged["id"], queued[0].as_str());
    assert_eq!(purged["status"], "CANCELLED");
    for q in &queued {
        assert_eq!(api.status(q).await["status"], "CANCELLED");
    }
    let t = Instant::now();
    let (s, c) = api
        .post(&format!("/v2/{{ep}}/cancel/{id}"), Value::Null)
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "CANCELLED");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, h) = api.get("/v2/{ep}/health").await;
        if h["workers"]["running"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "worker still busy after cancel: {h}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "cancel freed the worker in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        api.status(&id).await["status"],
        "CANCELLED",
        "cancel is final"
    );

    // Execution timeout.
    let (s, j) = api
        .post(
            "/v2/{ep}/run",
            json!({"input": long, "policy": {"executionTimeout": 400}}),
        )
        .await;
    assert_eq!(s, 200);
    let tid = j["id"].as_str().expect("id").to_owned();
    let t = api.wait_final(&tid, 60).await;
    assert_eq!(t["status"], "TIMED_OUT", "{t}");
    assert!(t["error"].as_str().unwrap_or("").contains("400 ms"), "{t}");

    // A failing job keeps its error; retry after fixing the cause completes it.
    let rid = api
        .run(json!({"task": "render", "project_id": project, "width": 32, "height": 32}))
        .await;
    let f = api.wait_final(&rid, 60).await;
    assert_eq!(f["status"], "FAILED", "{f}");
    assert!(
        f["error"].as_str().unwrap_or("").contains("no scene"),
        "{f}"
    );
    assert_eq!(f["attempts"], 1, "a permanent failure is not retried: {f}");
    let (s, _) = api
        .post(&format!("/v2/{{ep}}/retry/{id}x"), Value::Null)
        .await;
    assert_eq!(s, 404);
    let (s, b) = api
        .put_artifact(&project, "scene.ply", make_scene_ply())
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, r) = api
        .post(&format!("/v2/{{ep}}/retry/{rid}"), Value::Null)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "IN_QUEUE");
    let f = api.wait_final(&rid, 60).await;
    assert_eq!(f["status"], "COMPLETED", "{f}");
    // A completed job cannot be retried.
    assert_eq!(
        api.post(&format!("/v2/{{ep}}/retry/{rid}"), Value::Null)
            .await
            .0,
        409
    );
    let (_, h) = api.get("/v2/{ep}/health").await;
    assert_eq!(h["jobs"]["retried"], 1, "{h}");
    assert_eq!(h["jobs"]["inQueue"], 0, "{h}");

    // The admin CLI sees the same jobs.
    let list = api.cli(&["jobs", "list"]);
    assert!(list.contains(&rid) && list.contains("COMPLETED"), "{list}");
    let shown: Value = serde_json::from_str(&api.cli(&["jobs", "show", &tid])).expect("JSON");
    assert_eq!(shown["status"], "TIMED_OUT");
    let keys = api.cli(&["keys", "list"]);
    assert!(keys.contains("test"), "{keys}");

    // runsync waits for a short job and returns its output.
    let (s, b) = api
        .post(
            "/v2/{ep}/runsync",
            json!({"input": {"task": "render", "project_id": project, "width": 32, "height": 32}}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "COMPLETED", "{b}");
    assert_eq!(b["output"]["artifact"], "thumbnail.png");
}

/// SIGKILL mid-job, restart on the same data: the job is requeued and completes; uploads and
/// artifacts survive.
async fn crash_recovery(backend: Backend) {
    let api = Api::start(&backend, &[("SPLATPOD_JOB_LEASE_S", "5")]).await;
    let project = api.project("crash").await;
    let files = (0..4).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let id = api
        .run(json!({"task": "features", "project_id": project, "max_side": 512}))
        .await;
    api.wait_for(&id, 60, |b| {
        b["status"] == "IN_PROGRESS" && b["stage"] == "features"
    })
    .await;
    let api = api.kill_and_restart().await;
    let done = api.wait_final(&id, 120).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(
        done["attempts"].as_i64().unwrap_or(0) >= 2,
        "ran again: {done}"
    );
    let (_, p) = api.get(&format!("/api/projects/{project}")).await;
    assert_eq!(p["image_count"], 4, "{p}");
    assert_eq!(p["artifact_count"], 5, "4 feature files + matches: {p}");
}

on_both_backends!(cancel_timeout_retry_purge_sqlite_and_postgres, control);

on_both_backends!(
    sigkill_mid_job_then_restart_completes_it_sqlite_and_postgres,
    crash_recovery
);

/// A transient failure (here: no GPU on the server) is retried with backoff, then fails with
/// the error kept; a job cancelled through the CLI is final.
async fn transient_retries(backend: Backend) {
    let api = Api::start_opts(
        &backend,
        &[
            ("WGPU_BACKEND", "metal"),
            ("SPLATPOD_JOB_RETRIES", "2"),
            ("SPLATPOD_RETRY_BACKOFF_MS", "300"),
        ],
        false,
    )
    .await;
    let project = api.project("no-gpu").await;
    let t = Instant::now();
    let id = api
        .run(json!({"task": "render", "project_id": project}))
        .await;
    let f = api.wait_final(&id, 60).await;
    assert_eq!(f["status"], "FAILED", "{f}");
    assert_eq!(f["attempts"], 3, "first run + 2 retries: {f}");
    assert!(f["error"].as_str().unwrap_or("").contains("no GPU"), "{f}");
    // Backoff 300 ms then 600 ms between the attempts.
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let (_, h) = api.get("/v2/{ep}/health").await;
    assert_eq!(h["gpu"]["ready"], false, "{h}");
    assert_eq!(h["jobs"]["failed"], 1, "{h}");
}

on_both_backends!(
    transient_failures_are_retried_with_backoff_sqlite_and_postgres,
    transient_retries
);
