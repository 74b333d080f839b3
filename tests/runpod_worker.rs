//! `splatpod-server runpod-worker` against a small RunPod control plane written here from the
//! `runpod` Python SDK 1.12's side of the protocol (job-take with `job_in_progress`, 204 when
//! empty, job-done and job-stream posts with `isStream`, pings naming the jobs in progress, the
//! job-stop channel, `Authorization` on every call). Real tasks run on the worker's GPU
//! (lavapipe in CI); a worker SIGKILLed in training hands its job to a second worker on the same
//! network volume, which resumes from the checkpoint.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::{HashMap, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::fixtures::photo;
use serde_json::{json, Value};
use splatpod::api::{FeaturesOutput, ReconstructOutput, RunpodJobOutput};

const KEY: &str = "rp-test-key";

/// What the control plane saw and holds.
#[derive(Default)]
struct Plane {
    queue: VecDeque<Value>,
    /// (worker, job_in_progress) of every job-take.
    takes: Vec<(String, String)>,
    /// (worker, job, body) of every job-done post.
    results: Vec<(String, String, Value)>,
    /// (worker, job, chunk) of every job-stream post.
    streams: Vec<(String, String, Value)>,
    /// (worker, job_id parameter) of every ping.
    pings: Vec<(String, Option<String>)>,
    /// Jobs to stop, per worker, handed out on the stop channel once.
    stop: HashMap<String, Vec<String>>,
    /// Requests without the right `Authorization`.
    unauthorised: usize,
    /// Photos served at `/files/NAME`.
    files: HashMap<String, Vec<u8>>,
}

type Shared = Arc<Mutex<Plane>>;

fn lock(p: &Shared) -> std::sync::MutexGuard<'_, Plane> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn authorised(p: &Shared, headers: &HeaderMap) -> bool {
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(KEY);
    if !ok {
        lock(p).unauthorised += 1;
    }
    ok
}

async fn take(
    State(p): State<Shared>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&p, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut plane = lock(&p);
    let busy = q.get("job_in_progress").cloned().unwrap_or_default();
    plane.takes.push((worker, busy));
    match plane.queue.pop_front() {
        Some(job) => Json(job).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn stop(State(p): State<Shared>, Path(worker): Path<String>) -> Response {
    for _ in 0..10 {
        if let Some(ids) = lock(&p).stop.remove(&worker) {
            return Json(json!({ "jobsToStop": ids })).into_response();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A job-done or job-stream post: the SDK's JSON text with a form content type.
fn posted(
    p: &Shared,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Option<Value> {
    if !authorised(p, headers) || q.get("isStream").map(String::as_str) != Some("false") {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// `job-done` (a result) or `job-stream` (a chunk) for `job` from `worker`.
async fn post_job(
    State(p): State<Shared>,
    Path((kind, worker, job)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(v) = posted(&p, &headers, &q, &body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut plane = lock(&p);
    match kind.as_str() {
        "job-done" => plane.results.push((worker, job, v)),
        "job-stream" => plane.streams.push((worker, job, v["output"].clone())),
        _ => return StatusCode::NOT_FOUND,
    }
    StatusCode::OK
}

async fn ping(
    State(p): State<Shared>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> StatusCode {
    if !authorised(&p, &headers) {
        return StatusCode::UNAUTHORIZED;
    }
    lock(&p).pings.push((worker, q.get("job_id").cloned()));
    StatusCode::OK
}

async fn file(State(p): State<Shared>, Path(name): Path<String>) -> Response {
    match lock(&p).files.get(&name).cloned() {
        Some(b) => b.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The control plane on a loopback port.
struct ControlPlane {
    base: String,
    state: Shared,
}

impl ControlPlane {
    async fn start(files: Vec<(String, Vec<u8>)>) -> ControlPlane {
        let state = Shared::default();
        lock(&state).files = files.into_iter().collect();
        let app = Router::new()
            .route("/v2/ep/job-take/{worker}", get(take))
            .route("/v2/ep/job-stop/{worker}", get(stop))
            .route("/v2/ep/{kind}/{worker}/{job}", post(post_job))
            .route("/v2/ep/ping/{worker}", get(ping))
            .route("/files/{name}", get(file))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        ControlPlane { base, state }
    }

    fn plane(&self) -> std::sync::MutexGuard<'_, Plane> {
        lock(&self.state)
    }

    fn queue(&self, id: &str, input: Value) {
        self.plane()
            .queue
            .push_back(json!({ "id": id, "input": input }));
    }

    fn url(&self, name: &str) -> String {
        format!("{}/files/{name}", self.base)
    }

    /// Starts `runpod-worker` with the RunPod environment pointing here and `volume` as its
    /// network volume (its store goes there, not to `SPLATPOD_DATA_DIR`).
    fn worker(&self, pod: &str, volume: &std::path::Path, env: &[(&str, &str)]) -> Worker {
        let b = &self.base;
        let child = Command::new(common::server_bin())
            .arg("runpod-worker")
            .env(
                "RUNPOD_WEBHOOK_GET_JOB",
                format!("{b}/v2/ep/job-take/$ID?gpu=test"),
            )
            .env(
                "RUNPOD_WEBHOOK_POST_OUTPUT",
                format!("{b}/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=test"),
            )
            .env(
                "RUNPOD_WEBHOOK_POST_STREAM",
                format!("{b}/v2/ep/job-stream/$RUNPOD_POD_ID/$ID?gpu=test"),
            )
            .env(
                "RUNPOD_WEBHOOK_PING",
                format!("{b}/v2/ep/ping/$RUNPOD_POD_ID?gpu=test"),
            )
            .env("RUNPOD_PING_INTERVAL", "200")
            .env("RUNPOD_POD_ID", pod)
            .env("RUNPOD_AI_API_KEY", KEY)
            .env("SPLATPOD_RUNPOD_IDLE_MS", "100")
            .env("SPLATPOD_RUNPOD_VOLUME", volume)
            .env("SPLATPOD_DATA_DIR", volume.join("not-used"))
            .env("SPLATPOD_ALLOW_HOSTS", "127.0.0.1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn runpod-worker");
        Worker(child)
    }

    /// Waits until `ready` holds for the plane's record, failing after `secs`.
    async fn wait_for(&self, secs: u64, what: &str, ready: impl Fn(&Plane) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !ready(&self.plane()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn result(&self, job: &str) -> Option<(String, Value)> {
        self.plane()
            .results
            .iter()
            .find(|r| r.1 == job)
            .map(|r| (r.0.clone(), r.2.clone()))
    }

    fn chunks(&self, worker: &str, job: &str) -> Vec<Value> {
        self.plane()
            .streams
            .iter()
            .filter(|s| s.0 == worker && s.1 == job)
            .map(|s| s.2.clone())
            .collect()
    }
}

/// The worker process, SIGKILLed when dropped.
struct Worker(Child);

impl Worker {
    fn sigkill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.sigkill();
    }
}

fn error_of(body: &Value) -> String {
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// Bad input gets `{"error"}` at once; a features job on photos by URL streams its stages and
/// posts its output with the files' locations on the volume; pings name the job in progress;
/// the stop channel cancels a running job (no result posted) and the worker takes the next.
#[tokio::test]
async fn runpod_worker_follows_the_sdk_protocol_through_real_tasks() {
    let files = (3..5).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    let plane = ControlPlane::start(files).await;
    let volume = tempfile::tempdir().expect("volume");
    plane.queue("bad-json", json!({"task": "nope"}));
    plane.queue("bad-input", json!({"task": "features"}));
    plane.queue(
        "no-project",
        json!({"task": "sleep", "project_id": "missing", "iterations": 100}),
    );
    plane.queue(
        "features",
        json!({"task": "features", "max_side": 320,
               "image_urls": [plane.url("3.jpg"), plane.url("4.jpg")]}),
    );
    let _worker = plane.worker("w1", volume.path(), &[]);
    plane
        .wait_for(300, "four results", |p| p.results.len() >= 4)
        .await;

    let (_, b) = plane.result("bad-json").expect("result");
    assert!(error_of(&b).contains("invalid job input"), "{b}");
    assert!(b.get("output").is_none(), "{b}");
    let (_, b) = plane.result("bad-input").expect("result");
    assert!(error_of(&b).contains("needs `project_id`"), "{b}");
    let (_, b) = plane.result("no-project").expect("result");
    assert!(error_of(&b).contains("does not exist"), "{b}");

    let (who, b) = plane.result("features").expect("result");
    assert_eq!(who, "w1");
    let out: RunpodJobOutput = serde_json::from_value(b["output"].clone()).expect("typed output");
    let features: FeaturesOutput = serde_json::from_value(out.result.clone()).expect("features");
    assert_eq!((features.images, features.pairs), (2, 1));
    assert!(
        features.features_per_image.iter().all(|&n| n > 100),
        "{features:?}"
    );
    assert_eq!(features.project_id, out.project_id);
    // The store is on the volume; every artifact's location is the file there, with its size.
    assert!(volume.path().join("splatpod").is_dir());
    assert!(!volume.path().join("not-used").exists());
    let names: Vec<&str> = out.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"matches.json"), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.ends_with(".spf")).count(), 2);
    for a in &out.artifacts {
        let path = std::path::Path::new(&a.location);
        assert!(path.starts_with(volume.path().join("splatpod")), "{a:?}");
        let len = std::fs::metadata(path).expect("artifact file").len();
        assert_eq!(len as i64, a.bytes, "{a:?}");
    }
    // Its progress reached the stream, stage by stage, never going back.
    let chunks = plane.chunks("w1", "features");
    let stages: Vec<&str> = chunks.iter().filter_map(|c| c["stage"].as_str()).collect();
    for s in ["download", "features", "matching"] {
        assert!(stages.contains(&s), "{stages:?}");
    }
    let progress: Vec<f64> = chunks
        .iter()
        .filter_map(|c| c["progress"].as_f64())
        .collect();
    assert!(progress.windows(2).all(|w| w[1] >= w[0]), "{progress:?}");

    // A long job on the project the features job made: pings name it while it runs; the
    // control plane stops it; no result comes for it and the worker takes the next job.
    plane.queue(
        "long",
        json!({"task": "sleep", "project_id": out.project_id, "iterations": 30000}),
    );
    plane
        .wait_for(30, "a ping naming the long job", |p| {
            p.pings
                .iter()
                .any(|(w, j)| w == "w1" && j.as_deref() == Some("long"))
        })
        .await;
    plane.plane().stop.insert("w1".into(), vec!["long".into()]);
    plane.queue(
        "short",
        json!({"task": "sleep", "project_id": out.project_id, "iterations": 200}),
    );
    plane
        .wait_for(30, "the short job's result", |p| {
            p.results.iter().any(|r| r.1 == "short")
        })
        .await;
    assert!(
        plane.result("long").is_none(),
        "a stopped job posts no result"
    );
    let (_, b) = plane.result("short").expect("result");
    let short: RunpodJobOutput = serde_json::from_value(b["output"].clone()).expect("typed");
    assert_eq!(short.result["worker"], "w1");
    assert!(
        short.artifacts.iter().any(|a| a.name == "sleep-short.json"),
        "{:?}",
        short.artifacts
    );

    let p = plane.plane();
    assert_eq!(p.unauthorised, 0, "every request carried the key");
    assert!(
        p.takes.iter().all(|(w, busy)| w == "w1" && busy == "0"),
        "one job at a time"
    );
    assert!(
        p.takes.len() > 6,
        "kept polling after 204s: {} takes",
        p.takes.len()
    );
    assert!(
        p.pings.iter().any(|(_, j)| j.is_none()),
        "idle pings name no job"
    );
}

fn iteration_of(chunk: &Value) -> Option<u32> {
    let m = chunk["message"].as_str()?;
    let rest = m.split("iteration ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A reconstruct job on photos by URL, its worker SIGKILLed in training: the control plane hands
/// the job to a second worker on the same volume, which reuses the features and SfM, resumes
/// training from the checkpoint and posts the scene; the first worker posts nothing.
#[tokio::test]
async fn a_killed_runpod_worker_resumes_on_the_next_from_its_checkpoint() {
    let files = (3..8).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    let plane = ControlPlane::start(files).await;
    let volume = tempfile::tempdir().expect("volume");
    let urls: Vec<String> = (3..8).map(|i| plane.url(&format!("{i}.jpg"))).collect();
    let input = json!({"task": "reconstruct", "image_urls": urls, "quality": "low",
                       "max_side": 640, "iterations": 80});
    plane.queue("rec", input.clone());
    let env = [("SPLATPOD_TRAIN_CHECKPOINT_EVERY", "20")];
    let mut first = plane.worker("wa", volume.path(), &env);
    plane
        .wait_for(600, "training past iteration 45 on the first worker", |p| {
            p.streams.iter().any(|(w, _, c)| {
                w == "wa" && c["stage"] == "training" && iteration_of(c) >= Some(45)
            })
        })
        .await;
    first.sigkill();
    // RunPod hands a job whose worker died to another worker.
    plane.queue("rec", input);
    let _second = plane.worker("wb", volume.path(), &env);
    plane
        .wait_for(600, "the reconstruct result", |p| !p.results.is_empty())
        .await;

    let (who, b) = plane.result("rec").expect("result");
    assert_eq!(who, "wb", "{b}");
    assert_eq!(plane.plane().results.len(), 1);
    let out: RunpodJobOutput = serde_json::from_value(b["output"].clone()).expect("typed");
    let rec: ReconstructOutput = serde_json::from_value(out.result.clone()).expect("reconstruct");
    assert_eq!(rec.reused_stages, ["features", "sfm"], "{rec:?}");
    assert!(
        rec.train.resumed_from >= 40 && rec.train.resumed_from < 80,
        "resumed from the checkpoint at 40 (or later): {rec:?}"
    );
    assert_eq!(rec.train.iterations, 80);
    for name in ["scene.ply", "scene.spz", "thumbnail.png"] {
        let a = out
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", out.artifacts));
        let bytes = std::fs::read(&a.location).expect("artifact on the volume");
        assert_eq!(bytes.len() as i64, a.bytes);
        if name == "scene.ply" {
            let scene = splatpod::formats::load_scene(&bytes, Some(name)).expect("a valid scene");
            assert!(scene.len() > 100, "{} splats", scene.len());
        }
    }
    // The second worker did no feature or SfM work, and its first training report is past
    // the checkpoint.
    let after = plane.chunks("wb", "rec");
    assert!(
        !after
            .iter()
            .any(|c| ["matching", "mapping", "bundle adjustment"]
                .contains(&c["stage"].as_str().unwrap_or_default())),
        "{after:?}"
    );
    let first_training = after
        .iter()
        .find(|c| c["stage"] == "training")
        .and_then(iteration_of);
    assert!(first_training > Some(40), "{after:?}");
}

/// On S3 (the fleet setup): photos come as `s3://` URLs from the bucket, the project's files go
/// to it, and the output's locations are the `s3://` URLs they can be read from; a missing
/// photo is an error, not a retry loop.
#[tokio::test]
async fn a_runpod_worker_reads_photos_from_s3_and_stores_its_files_there() {
    let endpoint = std::env::var("SPLATPOD_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("SPLATPOD_TEST_S3_ENDPOINT is not set: run the suite with ./test.sh (.ci/s3.sh)")
    });
    let bucket = format!("rp{}", std::process::id());
    let http = reqwest::Client::new();
    let put = |path: String, body: Vec<u8>| {
        let req = http.put(format!("{endpoint}/{path}")).body(body);
        async move {
            let r = req.send().await.expect("S3 put");
            assert!(r.status().is_success(), "put: {}", r.status());
        }
    };
    put(bucket.clone(), Vec::new()).await;
    for i in 3..5 {
        put(format!("{bucket}/photos/{i}.jpg"), photo(i)).await;
    }
    let plane = ControlPlane::start(Vec::new()).await;
    let volume = tempfile::tempdir().expect("local disk");
    let blob_url = format!("s3://{bucket}/splatpod");
    let env = [
        ("SPLATPOD_BLOB_URL", blob_url.as_str()),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let photos: Vec<String> = (3..5)
        .map(|i| format!("s3://{bucket}/photos/{i}.jpg"))
        .collect();
    plane.queue(
        "missing",
        json!({"task": "features", "image_urls": [format!("s3://{bucket}/photos/nope.jpg")]}),
    );
    plane.queue(
        "s3",
        json!({"task": "features", "max_side": 320, "image_urls": photos}),
    );
    let _worker = plane.worker("ws3", volume.path(), &env);
    plane
        .wait_for(300, "two results", |p| p.results.len() >= 2)
        .await;
    let (_, b) = plane.result("missing").expect("result");
    assert!(error_of(&b).contains("no object at"), "{b}");
    let (_, b) = plane.result("s3").expect("result");
    let out: RunpodJobOutput = serde_json::from_value(b["output"].clone()).expect("typed");
    let features: FeaturesOutput = serde_json::from_value(out.result.clone()).expect("features");
    assert_eq!(features.images, 2);
    assert!(out.artifacts.len() >= 3, "{:?}", out.artifacts);
    // The bucket's listing (objects written with credentials are not readable anonymously)
    // has every location's key with its size.
    let listing = http
        .get(format!("{endpoint}/{bucket}?list-type=2"))
        .send()
        .await
        .expect("S3 list")
        .text()
        .await
        .expect("listing");
    for a in &out.artifacts {
        let key = a
            .location
            .strip_prefix(&format!("s3://{bucket}/"))
            .unwrap_or_else(|| panic!("an s3:// location in the bucket: {a:?}"));
        let entry = listing
            .split(&format!("<Key>{key}</Key>"))
            .nth(1)
            .unwrap_or_else(|| panic!("{key} not in the bucket: {listing}"));
        let size = entry
            .split("<Size>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .and_then(|s| s.parse::<i64>().ok());
        assert_eq!(size, Some(a.bytes), "{a:?}");
    }
    assert!(
        !volume.path().join("splatpod/blobs").exists(),
        "nothing stored on local disk"
    );
}
