//! End-to-end tests of the job service: the real `splatpod-server` binary on loopback, on SQLite
//! (embedded default) and on PostgreSQL (`SPLATPOD_TEST_DATABASE_URL`, started by `./test.sh`
//! through `.ci/postgres.sh`), driven over HTTP. Every job runs real engine work on the GPU
//! (lavapipe in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::api::{backends, on_both_backends, typed, uuid_like, Api, Backend};
use serde_json::{json, Value};
use sha2::Sha256;
use splatpod::api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn images_dir() -> PathBuf {
    common::workspace_root().join("../shared/datasets/strecha-fountain-P11/images")
}

fn photo(i: usize) -> Vec<u8> {
    std::fs::read(images_dir().join(format!("{i:04}.jpg"))).expect("Strecha photo")
}

/// A one-shot-per-connection HTTP server on loopback: records POSTed requests (headers +
/// body) and serves `files` for GETs.
/// Requests received: (request line + headers, body).
type RequestLog = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

struct Receiver {
    port: u16,
    requests: RequestLog,
}

impl Receiver {
    async fn start(files: Vec<(String, Vec<u8>)>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests: RequestLog = RequestLog::default();
        let log = requests.clone();
        let files = std::sync::Arc::new(files);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let files = files.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 65536];
                    let (head, body_start) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break (String::from_utf8_lossy(&buf[..p]).to_string(), p + 4);
                        }
                    };
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < body_start + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[body_start..].to_vec();
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    let reply = if head.starts_with("GET") {
                        match files.iter().find(|(n, _)| *n == path) {
                            Some((_, bytes)) => {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                    bytes.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(bytes);
                                r
                            }
                            None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                        }
                    } else {
                        log.lock().expect("log").push((head, body));
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_vec()
                    };
                    let _ = sock.write_all(&reply).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver { port, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    async fn wait_requests(&self, n: usize, secs: u64) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.requests.lock().expect("log").clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} webhook calls",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SECRET: &str = "test-webhook-secret";

/// Uploads (good, duplicate, corrupt, hostile names), a features job to completion with its
/// progress stream, SSE and signed webhook, artifacts checked against the job output, share
/// links, 401 and 404s.
async fn lifecycle(backend: Backend) {
    let hook = Receiver::start(Vec::new()).await;
    let api = Api::start(
        &backend,
        &[
            ("SPLATPOD_WEBHOOK_SECRET", SECRET),
            ("SPLATPOD_ALLOW_HOSTS", "127.0.0.1"),
            ("SPLATPOD_GPU_PRICE_PER_HOUR", "3.6"),
        ],
    )
    .await;

    // 401 on every write and job call without a valid key.
    for (method, path) in [
        ("POST", "/api/projects"),
        ("GET", "/api/projects"),
        ("POST", "/v2/{ep}/run"),
        ("GET", "/v2/{ep}/health"),
        ("POST", "/v2/{ep}/purge-queue"),
    ] {
        let url = api.url(path);
        let req = if method == "POST" {
            api.http.post(&url).json(&json!({}))
        } else {
            api.http.get(&url)
        };
        let (s, b, h) = api.send(req.try_clone().expect("clone")).await;
        assert_eq!(s, 401, "{method} {path}: {b}");
        assert!(h.contains_key("www-authenticate"));
        let (s, _, _) = api.send(req.bearer_auth("sp_not-a-real-key")).await;
        assert_eq!(s, 401, "{method} {path} with a wrong key");
    }

    let project = api.project("fountain").await;
    let (s, up) = api
        .upload(
            &project,
            vec![
                ("0004.jpg".into(), photo(4)),
                ("../../etc/passwd.jpg".into(), photo(5)),
                ("again.jpg".into(), photo(4)),
            ],
        )
        .await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(
        (up["stored"].as_u64(), up["duplicates"].as_u64()),
        (Some(2), Some(1)),
        "{up}"
    );
    let hostile = &up["files"][1]["image"]["file_name"];
    assert_eq!(
        hostile, "passwd.jpg",
        "client names are reduced to a display name"
    );
    // Corrupt and truncated images are refused with 415 and nothing already stored is lost.
    let mut truncated = photo(6);
    truncated.truncate(truncated.len() / 3);
    for (name, bytes) in [
        ("notes.jpg", b"this is not an image".to_vec()),
        ("cut.jpg", truncated),
        ("empty.png", Vec::new()),
    ] {
        let (s, b) = api.upload(&project, vec![(name.into(), bytes)]).await;
        assert!(s == 415 || s == 400, "{name}: {s} {b}");
        assert!(b["error"].as_str().unwrap_or("").contains(name), "{b}");
    }
    // A request whose part headers are malformed (NUL in a file name) is refused as a whole.
    let (s, b) = api
        .upload(
            &project,
            vec![
                ("ok.jpg".into(), photo(6)),
                ("bad\u{0}.jpg".into(), photo(7)),
            ],
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (_, p) = api.get(&format!("/api/projects/{project}")).await;
    assert_eq!(p["image_count"], 2, "{p}");
    // Nothing stored under the data folder outside the blob tree.
    assert!(!api.server.data_dir.path().join("etc").exists());

    // 404s name what is missing.
    for path in [
        "/api/projects/nope".to_string(),
        "/v2/{ep}/status/nope".to_string(),
        "/v2/other-endpoint/health".to_string(),
        format!("/api/projects/{project}/artifacts/nope.bin"),
    ] {
        let (s, b) = api.get(&path).await;
        assert_eq!(s, 404, "{path}: {b}");
        assert!(b["error"].is_string());
    }
    let (s, _) = api
        .post(
            "/v2/{ep}/run",
            json!({"input": {"task": "features", "project_id": "nope"}}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = api
        .post(
            "/v2/{ep}/run",
            json!({"input": {"task": "reconstruct", "image_urls": ["http://127.0.0.1/a.jpg"]}}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("features task"),
        "reconstruct needs a project: {b}"
    );
    let (s, _, _) = api
        .send(
            api.http
                .post(api.url("/v2/{ep}/run"))
                .bearer_auth(&api.key)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(s, 400);

    // A features job with a signed webhook.
    let (s, j) = api
        .post(
            "/v2/{ep}/run",
            json!({
                "input": {"task": "features", "project_id": project, "max_side": 480},
                "webhook": hook.url("hook"),
            }),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let id = j["id"].as_str().expect("id").to_owned();

    // Live progress over SSE, read until the `done` event.
    let sse = api
        .http
        .get(api.url(&format!("/api/jobs/{id}/events")))
        .bearer_auth(&api.key)
        .send()
        .await
        .expect("events");
    assert_eq!(sse.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(180), sse.text())
        .await
        .expect("SSE stream ends with the job")
        .expect("SSE body");
    assert!(text.contains("event: progress"), "{text}");
    assert!(text.contains("event: done"), "{text}");
    assert!(text.contains("\"stage\":\"features\""), "{text}");

    let done = api.wait_final(&id, 60).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["progress"], 100.0);
    assert!(done["executionTime"].as_i64().unwrap_or(0) > 0);
    // GPU time is recorded and priced at $3.60/h = $0.001/s.
    let gpu_s = done["gpuSeconds"].as_f64().expect("gpuSeconds");
    assert!(gpu_s > 0.0, "{done}");
    let cost = done["costUsd"].as_f64().expect("costUsd");
    assert!((cost - gpu_s * 0.001).abs() < 1e-9, "{cost} vs {gpu_s}");
    assert!(done["delayTime"].as_i64().is_some());
    let out = &done["output"];
    assert_eq!(out["images"], 2);
    assert_eq!(out["pairs"], 1);
    let counts: Vec<u64> = out["features_per_image"]
        .as_array()
        .expect("counts")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(counts.iter().all(|&c| c > 50), "{counts:?}");
    assert!(
        out["matches_per_pair"][0].as_u64().unwrap_or(0) > 20,
        "{out}"
    );

    // The stream hands out each progress chunk once.
    let (_, s1) = api.get(&format!("/v2/{{ep}}/stream/{id}")).await;
    assert_eq!(s1["status"], "COMPLETED");
    let chunks = s1["stream"].as_array().expect("stream").len();
    assert!(chunks >= 3, "{s1}");
    let (_, s2) = api.get(&format!("/v2/{{ep}}/stream/{id}")).await;
    assert_eq!(s2["stream"].as_array().map(Vec::len), Some(0), "{s2}");

    // Artifacts: the feature files parse and hold the counts the job reported.
    let (_, arts) = api.get(&format!("/api/projects/{project}/artifacts")).await;
    let names: Vec<&str> = arts["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&"matches.json"), "{names:?}");
    let spf: Vec<&&str> = names.iter().filter(|n| n.ends_with(".spf")).collect();
    assert_eq!(spf.len(), 2, "{names:?}");
    let mut parsed = Vec::new();
    for name in spf {
        let bytes = api
            .bytes(&format!("/api/projects/{project}/artifacts/{name}"))
            .await;
        let f = splatpod::features::read_features(&bytes).expect("valid .spf");
        assert!(f.width <= 480 && f.height <= 480);
        parsed.push(f.keypoints.len() as u64);
    }
    parsed.sort_unstable();
    let mut want = counts.clone();
    want.sort_unstable();
    assert_eq!(parsed, want);

    // The webhook got the final body, signed with the server's secret.
    let calls = hook.wait_requests(1, 30).await;
    let (head, body) = &calls[0];
    let sig = header(head, "x-splatpod-signature").expect("signature header");
    assert_eq!(sig, format!("sha256={}", hmac_hex(SECRET, body)));
    assert_ne!(sig, format!("sha256={}", hmac_hex("wrong secret", body)));
    let posted: Value = serde_json::from_slice(body).expect("webhook JSON");
    assert_eq!(posted["id"], id.as_str());
    assert_eq!(posted["status"], "COMPLETED");

    // Share links: read-only, one project's viewer data, revocable, expiring.
    let scene = make_scene_ply();
    let (s, _, _) = api
        .send(
            api.http
                .put(api.url(&format!("/api/projects/{project}/artifacts/scene.ply")))
                .bearer_auth(&api.key)
                .body(scene.clone()),
        )
        .await;
    assert_eq!(s, 201);
    let (s, share) = api
        .post(&format!("/api/projects/{project}/shares"), json!({}))
        .await;
    assert_eq!(s, 201, "{share}");
    let token = share["token"].as_str().expect("token").to_owned();
    assert!(token.len() >= 40);
    assert!(share["url"]
        .as_str()
        .unwrap_or("")
        .ends_with(&format!("/s/{token}")));
    assert!(share.get("expires_at").is_some());
    // The link's QR code (as the qrcode crate draws it) and the viewer-only page for iframes.
    let share_body: api::Share = typed(&share);
    let expected_qr =
        qrcode::QrCode::with_error_correction_level(share_body.url.as_bytes(), qrcode::EcLevel::M)
            .expect("QR")
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
    assert_eq!(share_body.qr_svg, expected_qr);
    assert_eq!(
        share_body.embed_url,
        share_body
            .url
            .replace(&format!("/s/{token}"), &format!("/embed/{token}"))
    );
    let anon = reqwest::Client::new();
    let embed = anon
        .get(&share_body.embed_url)
        .send()
        .await
        .expect("embed page");
    assert_eq!(embed.status(), 200);
    let view: Value = anon
        .get(api.url(&format!("/api/s/{token}")))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("json");
    // The viewer gets the compact SPZ the import made; the original PLY is shared too.
    assert_eq!(view["scene_url"], format!("/api/s/{token}/scene.spz"));
    let got = anon
        .get(api.url(&format!("/api/s/{token}/scene.ply")))
        .send()
        .await
        .expect("scene");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), scene.as_slice());
    let spz = anon
        .get(api.url(&format!("/api/s/{token}/scene.spz")))
        .send()
        .await
        .expect("spz")
        .bytes()
        .await
        .expect("bytes");
    assert!(
        spz.len() < scene.len() / 3,
        "{} vs {}",
        spz.len(),
        scene.len()
    );
    let from_spz = splatpod::formats::read_spz(&spz).expect("valid SPZ");
    assert_eq!(from_spz.len(), 500);
    // The token opens the viewer page and nothing else.
    let page = anon
        .get(api.url(&format!("/s/{token}")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    for path in [
        format!("/api/s/{token}/matches.json"),
        format!("/api/s/{token}/features-x.spf"),
    ] {
        assert_eq!(
            anon.get(api.url(&path)).send().await.expect("get").status(),
            404,
            "{path}"
        );
    }
    for path in [
        format!("/api/projects/{project}"),
        format!("/api/projects/{project}/artifacts"),
    ] {
        let s = anon
            .get(api.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .status();
        assert_eq!(s, 401, "a share token is not an API key: {path}");
    }
    assert_eq!(api.delete(&format!("/api/shares/{token}")).await, 204);
    let s = anon
        .get(api.url(&format!("/api/s/{token}")))
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(s, 404, "revoked");
    let (_, short) = api
        .post(
            &format!("/api/projects/{project}/shares"),
            json!({"expires_in_s": 1}),
        )
        .await;
    let short = short["token"].as_str().expect("token").to_owned();
    assert_eq!(
        anon.get(api.url(&format!("/api/s/{short}")))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        anon.get(api.url(&format!("/api/s/{short}")))
            .send()
            .await
            .expect("get")
            .status(),
        404,
        "expired"
    );

    // A render job makes the thumbnail from the imported scene.
    let rid = api
        .run(json!({"task": "render", "project_id": project, "width": 64, "height": 48}))
        .await;
    let r = api.wait_final(&rid, 60).await;
    assert_eq!(r["status"], "COMPLETED", "{r}");
    let png = api
        .bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
        .await;
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let info = decoder.read_info().expect("PNG").info().clone();
    assert_eq!((info.width, info.height), (64, 48));

    // Health counts what happened.
    let (_, h) = api.get("/v2/{ep}/health").await;
    assert_eq!(h["jobs"]["completed"], 2, "{h}");
    assert_eq!(h["workers"]["running"], 0);
    assert!(h["workers"]["idle"].as_u64().unwrap_or(0) >= 1);

    // Deleting the project removes it and its share links.
    let (_, share) = api
        .post(&format!("/api/projects/{project}/shares"), json!({}))
        .await;
    let token = share["token"].as_str().expect("token").to_owned();
    assert_eq!(api.delete(&format!("/api/projects/{project}")).await, 204);
    assert_eq!(api.get(&format!("/api/projects/{project}")).await.0, 404);
    assert_eq!(
        anon.get(api.url(&format!("/api/s/{token}")))
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
}

/// A small valid 3DGS PLY written by the engine's writer from a procedural scene.
fn make_scene_ply() -> Vec<u8> {
    let scene = splatpod::render::procedural_scene(500, 7);
    let mut out = Vec::new();
    splatpod::formats::write_ply(&scene, &mut out).expect("write PLY");
    out
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
    let (s, b, _) = api
        .send(
            api.http
                .put(api.url(&format!("/api/projects/{project}/artifacts/scene.ply")))
                .bearer_auth(&api.key)
                .body(make_scene_ply()),
        )
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

/// Limits: 413 for oversize files and too many files, 429 with Retry-After.
async fn limits(backend: Backend) {
    let api = Api::start(
        &backend,
        &[
            ("SPLATPOD_MAX_IMAGE_BYTES", "300000"),
            ("SPLATPOD_MAX_FILES_PER_UPLOAD", "3"),
            ("SPLATPOD_JOB_RATE_PER_MIN", "3"),
        ],
    )
    .await;
    let project = api.project("limits").await;
    let (s, b) = api
        .upload(&project, vec![("big.jpg".into(), photo(0))])
        .await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"].as_str().unwrap_or("").contains("big.jpg"), "{b}");
    // A decompression bomb: a PNG header declaring 60000 × 60000 pixels is refused before any
    // pixel buffer is allocated.
    let (s, b) = api
        .upload(&project, vec![("bomb.png".into(), huge_png_header())])
        .await;
    assert_eq!(s, 413, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("pixel limit"),
        "{b}"
    );
    let small = small_png();
    let many = (0..4)
        .map(|i| (format!("{i}.png"), small.clone()))
        .collect();
    let (s, b) = api.upload(&project, many).await;
    assert_eq!(s, 413, "{b}");
    let (s, b) = api.upload(&project, vec![("ok.png".into(), small)]).await;
    assert_eq!(s, 201, "{b}");
    let (_, p) = api.get(&format!("/api/projects/{project}")).await;
    assert_eq!(p["image_count"], 1);
    for i in 0..4 {
        let req = api
            .http
            .post(api.url("/v2/{ep}/run"))
            .bearer_auth(&api.key)
            .json(&json!({"input": {"task": "render", "project_id": project}}));
        let (s, b, h) = api.send(req).await;
        if i < 3 {
            assert_eq!(s, 200, "{b}");
        } else {
            assert_eq!(s, 429, "{b}");
            let wait: u64 = h
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
            assert!((1..=60).contains(&wait), "{wait}");
        }
    }
}

/// A PNG whose header declares 60000 × 60000 gray pixels, followed by almost no data.
fn huge_png_header() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A 40×30 gradient PNG written with the `png` crate.
fn small_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 40, 30);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("header");
        let data: Vec<u8> = (0..40 * 30).map(|i| (i * 7 % 256) as u8).collect();
        w.write_image_data(&data).expect("data");
    }
    out
}

/// `image_urls`: fetched from an allowed host; private addresses refused unless allowed.
async fn image_urls(backend: Backend) {
    let files = vec![
        ("a.jpg".to_string(), photo(7)),
        ("b.jpg".to_string(), photo(8)),
    ];
    let origin = Receiver::start(files).await;
    // This server does not allow loopback targets.
    let strict = Api::start(&backend, &[]).await;
    let id = strict
        .run(json!({"task": "features", "image_urls": [origin.url("a.jpg")], "max_side": 320}))
        .await;
    let f = strict.wait_final(&id, 60).await;
    assert_eq!(f["status"], "FAILED", "{f}");
    assert!(f["error"].as_str().unwrap_or("").contains("refused"), "{f}");
    for hook in [
        "http://169.254.169.254/latest",
        "http://127.0.0.1:9/x",
        "ftp://example.com/",
    ] {
        let (s, b) = strict
            .post(
                "/v2/{ep}/run",
                json!({"input": {"task": "render", "project_id": "x"}, "webhook": hook}),
            )
            .await;
        assert!(s == 400 || s == 404, "{hook}: {s} {b}");
    }
    let (s, b) = strict
        .post(
            "/v2/{ep}/run",
            json!({"input": {"task": "features", "image_urls": ["http://[::1]/x.jpg"]}, "webhook": "http://10.0.0.1/"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    drop(strict);

    let open = Api::start(&backend, &[("SPLATPOD_ALLOW_HOSTS", "127.0.0.1")]).await;
    let id = open
        .run(json!({
            "task": "features",
            "image_urls": [origin.url("a.jpg"), origin.url("b.jpg")],
            "max_side": 320,
        }))
        .await;
    let done = open.wait_final(&id, 120).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["output"]["images"], 2);
    let project = done["output"]["project_id"]
        .as_str()
        .expect("project")
        .to_owned();
    let (_, imgs) = open.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(imgs["images"].as_array().map(Vec::len), Some(2));
    // A missing file fails the job with the HTTP status.
    let id = open
        .run(json!({"task": "features", "image_urls": [origin.url("missing.jpg")]}))
        .await;
    let f = open.wait_final(&id, 60).await;
    assert_eq!(f["status"], "FAILED");
    assert!(f["error"].as_str().unwrap_or("").contains("404"), "{f}");
}

on_both_backends!(job_lifecycle_sqlite_and_postgres, lifecycle);

on_both_backends!(cancel_timeout_retry_purge_sqlite_and_postgres, control);

on_both_backends!(
    sigkill_mid_job_then_restart_completes_it_sqlite_and_postgres,
    crash_recovery
);

on_both_backends!(upload_and_rate_limits_sqlite_and_postgres, limits);

on_both_backends!(image_urls_and_ssrf_guard_sqlite_and_postgres, image_urls);

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

/// Blobs in an S3-compatible bucket (`--blob-url s3://...`): uploads and artifacts go there,
/// come back byte for byte, and deleting the project empties its prefix.
#[tokio::test]
async fn s3_blob_store_holds_uploads_and_artifacts() {
    let endpoint = std::env::var("SPLATPOD_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("SPLATPOD_TEST_S3_ENDPOINT is not set: run the suite with ./test.sh (.ci/s3.sh)")
    });
    let bucket = format!("b{}", &uuid_like()[..16]);
    let http = reqwest::Client::new();
    let made = http
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(
        made.status().is_success(),
        "create bucket: {}",
        made.status()
    );
    let blob_url = format!("s3://{bucket}/splatpod");
    let api = Api::start(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_BLOB_URL", &blob_url),
            ("AWS_ENDPOINT", &endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
    .await;
    let list = || async {
        http.get(format!("{endpoint}/{bucket}?list-type=2"))
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("body")
    };
    let project = api.project("s3").await;
    let files = (0..2).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let listing = list().await;
    assert!(
        listing.contains(&format!("splatpod/projects/{project}/images/")),
        "{listing}"
    );
    assert!(
        !api.server.data_dir.path().join("blobs").exists(),
        "nothing stored locally"
    );
    let id = api
        .run(json!({"task": "features", "project_id": project, "max_side": 320}))
        .await;
    let done = api.wait_final(&id, 120).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let (_, arts) = api.get(&format!("/api/projects/{project}/artifacts")).await;
    let spf = arts["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .find(|n| n.ends_with(".spf"))
        .expect("a feature file")
        .to_owned();
    let bytes = api
        .bytes(&format!("/api/projects/{project}/artifacts/{spf}"))
        .await;
    assert!(splatpod::features::read_features(&bytes).is_ok());
    assert!(list().await.contains(&spf));
    assert_eq!(api.delete(&format!("/api/projects/{project}")).await, 204);
    let listing = list().await;
    assert!(listing.contains("<KeyCount>0</KeyCount>"), "{listing}");
}

/// The reported bug: on a server without a GPU (lavapipe: 128 MiB per binding, the WebGPU
/// baseline) a `features` job with the default input (1600-px side, medium quality: doubled
/// first octave) failed on full-size Strecha photos. It must complete with thousands of features
/// per photo and matches between them.
#[tokio::test]
async fn default_features_job_completes_on_a_baseline_gpu() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let (_, ready) = api.get("/readiness").await;
    let project = api.project("defaults").await;
    let files = (0..2).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let id = api
        .run(json!({"task": "features", "project_id": project}))
        .await;
    let done = api.wait_final(&id, 600).await;
    assert_eq!(done["status"], "COMPLETED", "{done}\nadapter: {ready}");
    let (_, arts) = api.get(&format!("/api/projects/{project}/artifacts")).await;
    let names: Vec<String> = arts["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    let mut spf = 0;
    for name in names.iter().filter(|n| n.ends_with(".spf")) {
        let bytes = api
            .bytes(&format!("/api/projects/{project}/artifacts/{name}"))
            .await;
        let features = splatpod::features::read_features(&bytes).expect("feature file");
        assert!(
            features.keypoints.len() >= 2000,
            "{name}: {} features",
            features.keypoints.len()
        );
        spf += 1;
    }
    assert_eq!(spf, 2, "{names:?}");
    let per_pair = done["output"]["matches_per_pair"].clone();
    let matched = per_pair
        .as_array()
        .and_then(|p| p.first())
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert!(matched >= 500, "matches per pair: {per_pair}");
}

/// The `sfm` job on four overlapping photos: it runs the features first (none exist yet),
/// reports the SfM stages, registers every photo and stores a COLMAP model that COLMAP's
/// format reader takes, a `transforms.json` and a coloured `points.ply`. Then the `train` job on
/// that model, killed mid-run, resumes from its checkpoint and exports PLY, SPZ and a thumbnail.
#[tokio::test]
async fn sfm_then_train_jobs_reconstruct_a_project_and_resume_after_sigkill() {
    let api = Api::start(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_JOB_LEASE_S", "5"),
            ("SPLATPOD_TRAIN_CHECKPOINT_EVERY", "20"),
        ],
    )
    .await;
    let project = api.project("sfm").await;
    let files = (3..7).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let id = api
        .run(json!({"task": "sfm", "project_id": project, "max_side": 768, "quality": "low"}))
        .await;
    let mut stages = std::collections::BTreeSet::new();
    let done = api
        .wait_for(&id, 600, |b| {
            if let Some(s) = b["stage"].as_str() {
                stages.insert(s.to_owned());
            }
            typed::<api::JobStatusBody>(b).status.is_final()
        })
        .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let out: api::SfmOutput = serde_json::from_value(done["output"].clone()).expect("output");
    assert_eq!((out.images, out.registered), (4, 4), "{out:?}");
    assert!(
        out.points >= 300 && out.rms_reprojection_px < 1.0,
        "{out:?}"
    );
    assert!(stages.contains("features"), "{stages:?}");
    let get = |name: String| {
        let api = &api;
        let project = project.clone();
        async move {
            api.bytes(&format!("/api/projects/{project}/artifacts/{name}"))
                .await
        }
    };
    let model = splatpod::sfm::colmap::read_binary(
        &get("sparse/0/cameras.bin".into()).await,
        &get("sparse/0/images.bin".into()).await,
        &get("sparse/0/points3D.bin".into()).await,
    )
    .expect("COLMAP model");
    assert_eq!(model.images.len(), 4);
    assert_eq!(model.points3d.len() as u64, out.points);
    let cam = model.cameras.values().next().expect("a camera");
    assert_eq!((cam.width, cam.height), (1536, 1024), "full-size pixels");
    let tj = splatpod::sfm::transforms::read_transforms(&get("transforms.json".into()).await)
        .expect("transforms.json");
    assert_eq!(tj.images.len(), 4);
    let ply = get("points.ply".into()).await;
    let header = format!("element vertex {}\n", out.points);
    assert!(
        ply.windows(header.len()).any(|w| w == header.as_bytes()),
        "points.ply header"
    );

    // Training on that model, SIGKILLed after its second checkpoint: the restarted server
    // resumes the job from a checkpoint (not from zero) and exports the scene.
    let id = api
        .run(json!({"task": "train", "project_id": project, "iterations": 100, "max_side": 384}))
        .await;
    api.wait_for(&id, 600, |b| {
        let msg = b["message"].as_str().unwrap_or("");
        let it: u32 = msg
            .strip_prefix("iteration ")
            .and_then(|m| m.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        it >= 45 || typed::<api::JobStatusBody>(b).status.is_final()
    })
    .await;
    let api = api.kill_and_restart().await;
    let done = api.wait_final(&id, 600).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(
        done["attempts"].as_i64().unwrap_or(0) >= 2,
        "ran again: {done}"
    );
    let out: api::TrainOutput = serde_json::from_value(done["output"].clone()).expect("output");
    assert!(
        out.resumed_from >= 40 && out.resumed_from < 100,
        "resumed from the checkpoint at 40 (or later): {out:?}"
    );
    assert_eq!((out.train_views, out.test_views), (3, 1), "{out:?}");
    // Measured on lavapipe: about 12 dB on the held-out photo after 100 iterations at 384 px.
    assert!(out.psnr.is_some_and(|p| p > 8.0), "{out:?}");
    let scene = splatpod::formats::read_ply(
        &api.bytes(&format!("/api/projects/{project}/artifacts/scene.ply"))
            .await,
    )
    .expect("scene.ply");
    assert_eq!(scene.len() as u64, out.splats);
    assert_eq!(scene.sh_degree, 3);
    let spz = splatpod::formats::read_spz(
        &api.bytes(&format!("/api/projects/{project}/artifacts/scene.spz"))
            .await,
    )
    .expect("scene.spz");
    assert_eq!(spz.len(), scene.len());
    let png = api
        .bytes(&format!("/api/projects/{project}/artifacts/thumbnail.png"))
        .await;
    assert!(png.starts_with(b"\x89PNG"), "thumbnail.png");
}

/// A server fault (here: the blob store's folder replaced by a file, so nothing can be stored)
/// answers 500 with a request id and no internal detail (paths, storage or database messages);
/// the detail goes to the log. The project is left as it was.
#[tokio::test]
async fn server_errors_carry_a_request_id_and_no_internal_detail() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let project = api.project("faults").await;
    let blobs = api.server.data_dir.path().join("blobs");
    let _ = std::fs::remove_dir_all(&blobs);
    std::fs::write(&blobs, b"not a folder").expect("a file where the blob folder was");
    let (s, b, _) = api
        .send(
            api.http
                .put(api.url(&format!("/api/projects/{project}/artifacts/scene.ply")))
                .bearer_auth(&api.key)
                .body(make_scene_ply()),
        )
        .await;
    assert_eq!(s, 500, "{b}");
    let e = typed::<api::ErrorBody>(&b);
    let id = e.request_id.expect("a request id");
    assert!(e.error.contains(&id), "{b}");
    for leak in [
        "blobs",
        "projects/",
        "storage",
        "directory",
        "/tmp",
        "os error",
    ] {
        assert!(!e.error.contains(leak), "leaks `{leak}`: {b}");
    }
    let (_, p) = api.get(&format!("/api/projects/{project}")).await;
    assert_eq!(typed::<api::Project>(&p).artifact_count, 0, "{p}");
}

/// CORS is off by default and allows exactly the configured origins.
#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let strict = Api::start(&Backend::Sqlite, &[]).await;
    let open = Api::start(
        &Backend::Sqlite,
        &[("SPLATPOD_CORS_ORIGINS", "https://app.example")],
    )
    .await;
    let preflight = |api: &Api, origin: &str| {
        api.http
            .request(reqwest::Method::OPTIONS, api.url("/api/projects"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };
    let allow = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let r = preflight(&open, "https://app.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r).as_deref(), Some("https://app.example"));
    let r = preflight(&open, "https://evil.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r), None);
    let r = preflight(&strict, "https://app.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r), None);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let spec: Value = reqwest::get(api.url("/openapi.json"))
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().expect("paths");
    for (method, path) in [
        ("post", "/api/projects"),
        ("get", "/api/projects/{id}"),
        ("delete", "/api/projects/{id}"),
        ("post", "/api/projects/{id}/images"),
        ("post", "/api/projects/{id}/uploads"),
        ("head", "/api/projects/{id}/uploads/{upload}"),
        ("patch", "/api/projects/{id}/uploads/{upload}"),
        ("get", "/api/projects/{id}/artifacts/{name}"),
        ("get", "/api/projects/{id}/start-view"),
        ("post", "/api/projects/{id}/shares"),
        ("delete", "/api/shares/{token}"),
        ("post", "/api/projects/{id}/pairings"),
        ("get", "/api/projects/{id}/pairings"),
        ("delete", "/api/projects/{id}/pairings/{pairing}"),
        ("get", "/api/pairing"),
        ("get", "/api/jobs/{id}/events"),
        ("post", "/v2/{endpoint}/run"),
        ("post", "/v2/{endpoint}/runsync"),
        ("get", "/v2/{endpoint}/status/{id}"),
        ("get", "/v2/{endpoint}/stream/{id}"),
        ("post", "/v2/{endpoint}/cancel/{id}"),
        ("post", "/v2/{endpoint}/retry/{id}"),
        ("post", "/v2/{endpoint}/purge-queue"),
        ("get", "/v2/{endpoint}/health"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} missing from /openapi.json");
        // Every documented route exists: without a key it answers 401, not 404/405.
        let url = api.server.url(&path.replace("{endpoint}", &api.endpoint));
        let req = match method {
            "post" => api.http.post(url),
            "delete" => api.http.delete(url),
            "head" => api.http.head(url),
            "patch" => api.http.patch(url),
            _ => api.http.get(url),
        };
        let s = req.send().await.expect("request").status().as_u16();
        assert_eq!(s, 401, "{method} {path}");
    }
    validate_with_openapi_spec_validator(&spec);
}

/// Runs PyPI's `openapi-spec-validator` (OpenAPI 3.1 rules and its JSON Schema dialect) on the
/// served document: `$SPLATPOD_OPENAPI_VALIDATOR`, else `.ci/venv` (where ./test.sh installs
/// it), else `openapi-spec-validator` on PATH. Skipped with a message when none is installed,
/// except in CI (`CI` set), where that fails.
fn validate_with_openapi_spec_validator(spec: &Value) {
    let venv = common::workspace_root().join(".ci/venv/bin/openapi-spec-validator");
    let found = std::env::var_os("SPLATPOD_OPENAPI_VALIDATOR")
        .map(PathBuf::from)
        .or_else(|| venv.is_file().then_some(venv))
        .or_else(|| {
            let on_path = std::process::Command::new("openapi-spec-validator")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            on_path.then(|| PathBuf::from("openapi-spec-validator"))
        });
    let Some(bin) = found else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "openapi-spec-validator is not installed (CI is set): ./test.sh installs it into \
             .ci/venv"
        );
        eprintln!(
            "SKIPPED the OpenAPI 3.1 validation of /openapi.json: openapi-spec-validator is not \
             installed (./test.sh installs it into .ci/venv, or set SPLATPOD_OPENAPI_VALIDATOR)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(spec).expect("serialise")).expect("write");
    let out = std::process::Command::new(&bin)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "/openapi.json is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The client's schema check fails on a body that does not match: the same 201 body passes
/// against the served document and fails once the document's `Project` schema is made wrong;
/// an undocumented status, media type or path fails too.
#[tokio::test]
async fn response_schema_check_can_fail() {
    use common::openapi::Spec;
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let (s, project) = api.post("/api/projects", json!({ "name": "schema" })).await;
    assert_eq!(s, 201, "{project}");
    let body = project.to_string();
    let json = Some("application/json");
    let doc: Value = reqwest::get(api.url("/openapi.json"))
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    let served = Spec::new(doc.clone());
    served
        .check_result("post", "/api/projects", 201, json, &body)
        .expect("the served schema accepts the body");
    let mut wrong = doc;
    wrong["components"]["schemas"]["Project"]["properties"]["image_count"] =
        json!({"type": "string"});
    let err = Spec::new(wrong)
        .check_result("post", "/api/projects", 201, json, &body)
        .expect_err("a wrong schema must fail");
    assert!(
        err.contains("image_count") && err.contains("string"),
        "{err}"
    );
    for (method, path, status, media) in [
        ("post", "/api/projects", 418, "application/json"),
        ("post", "/api/projects", 201, "image/png"),
        ("get", "/api/no-such-route", 200, "application/json"),
        ("put", "/api/projects", 201, "application/json"),
    ] {
        let r = served.check_result(method, path, status, Some(media), &body);
        assert!(r.is_err(), "{method} {path} {status} {media} passed");
    }
    let missing_field = json!({ "id": "p", "name": "n" }).to_string();
    assert!(served
        .check_result("get", "/api/projects/p", 200, json, &missing_field)
        .is_err());
}

/// The `runpod` PyPI package's endpoint client, unchanged, pointed at the server.
#[tokio::test]
async fn runpod_python_client_works_unchanged() {
    let api = Api::start(&Backend::Sqlite, &[("SPLATPOD_ENDPOINT", "splatpod")]).await;
    let project = api.project("sdk").await;
    let files = (0..2).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let script = common::workspace_root().join("tests/runpod_client.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&project)
        .env("RUNPOD_ENDPOINT_BASE_URL", api.server.url("/v2"))
        .env("RUNPOD_API_KEY", &api.key)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "runpod client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
}

/// `(stage, progress, message)` of the job's stream chunks since the previous call.
async fn stream_chunks(api: &Api, id: &str) -> Vec<(String, f64, String)> {
    let (s, b) = api.get(&format!("/v2/{{ep}}/stream/{id}")).await;
    assert_eq!(s, 200, "{b}");
    typed::<api::StreamBody>(&b)
        .stream
        .iter()
        .map(|c| {
            let o = &c.output;
            (
                o["stage"].as_str().unwrap_or("").to_owned(),
                o["progress"].as_f64().unwrap_or(-1.0),
                o["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The iteration a `training` message reports (`iteration N/M · …`).
fn iteration_of(message: &str) -> Option<u32> {
    message
        .strip_prefix("iteration ")
        .and_then(|m| m.split('/').next())
        .and_then(|n| n.parse().ok())
}

/// `name → created_at` of the project's artifacts.
async fn artifact_times(api: &Api, project: &str) -> std::collections::BTreeMap<String, i64> {
    let (_, b) = api.get(&format!("/api/projects/{project}/artifacts")).await;
    typed::<api::ArtifactList>(&b)
        .artifacts
        .into_iter()
        .map(|a| (a.name, a.created_at))
        .collect()
}

/// The `reconstruct` job on five Strecha photos: one timeline across features (0–20 %), SfM
/// (20–40), training (40–95) and export (95–100). SIGKILLed in training, the restarted server
/// finishes it without running features or SfM again (their artifacts are the ones written
/// before the kill) and resumes training from a checkpoint; the scene artifacts are valid.
#[tokio::test]
async fn reconstruct_job_survives_sigkill_in_training_and_exports_the_scene() {
    let api = Api::start(
        &Backend::Sqlite,
        &[
            ("SPLATPOD_JOB_LEASE_S", "5"),
            ("SPLATPOD_TRAIN_CHECKPOINT_EVERY", "20"),
        ],
    )
    .await;
    let project = api.project("reconstruct").await;
    let files = (3..8).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let started = Instant::now();
    let id = api
        .run(
            json!({"task": "reconstruct", "project_id": project, "quality": "low",
                    "max_side": 640, "iterations": 80}),
        )
        .await;
    let mut before = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !before
        .iter()
        .any(|(s, _, m): &(String, f64, String)| s == "training" && iteration_of(m) >= Some(45))
    {
        assert!(
            Instant::now() < deadline,
            "no training progress: {before:?}"
        );
        let b = api.status(&id).await;
        assert!(!typed::<api::JobStatusBody>(&b).status.is_final(), "{b}");
        before.extend(stream_chunks(&api, &id).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kill_s = started.elapsed().as_secs_f64();
    // One timeline: progress never goes back, and each stage reports inside its share.
    for w in before.windows(2) {
        assert!(w[1].1 >= w[0].1, "progress went back: {w:?}");
    }
    let share = |stage: &str| match stage {
        "features" | "matching" => (0.0, 20.0),
        "verification" | "mapping" | "bundle adjustment" | "export" => (20.0, 40.0),
        "loading" | "training" | "evaluation" => (40.0, 95.0),
        other => panic!("unexpected stage {other}"),
    };
    for (stage, p, _) in &before {
        let (lo, hi) = share(stage);
        assert!((lo..=hi).contains(p), "{stage} at {p}");
    }
    for stage in ["features", "matching", "mapping", "training"] {
        assert!(before.iter().any(|c| c.0 == stage), "{stage}: {before:?}");
    }
    let kept_before = artifact_times(&api, &project).await;

    let api = api.kill_and_restart().await;
    let mut after = Vec::new();
    let done = api
        .wait_for(&id, 600, |b| {
            typed::<api::JobStatusBody>(b).status.is_final()
        })
        .await;
    after.extend(stream_chunks(&api, &id).await);
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(done["attempts"].as_i64().unwrap_or(0) >= 2, "{done}");
    let out: api::ReconstructOutput = typed(&done["output"]);
    assert_eq!(out.reused_stages, ["features", "sfm"], "{out:?}");
    assert!(
        out.train.resumed_from >= 40 && out.train.resumed_from < 80,
        "resumed from the checkpoint at 40 (or later): {out:?}"
    );
    assert_eq!(out.train.iterations, 80);
    // No features or SfM work after the restart; its first training report is past the
    // checkpoint.
    let first_training = after
        .iter()
        .find(|c| c.0 == "training")
        .and_then(|c| iteration_of(&c.2));
    assert!(first_training > Some(40), "{after:?}");
    for (stage, _, message) in &after {
        assert!(
            !["matching", "verification", "mapping", "bundle adjustment"].contains(&stage.as_str())
                && (stage != "features" || message.contains("earlier attempt")),
            "stage re-run after the restart: {stage} {message}"
        );
    }
    assert!(
        after.iter().any(|c| c.0 == "export" && c.1 >= 95.0),
        "{after:?}"
    );
    let kept_after = artifact_times(&api, &project).await;
    let stage_files: Vec<&String> = kept_before
        .keys()
        .filter(|n| {
            n.ends_with(".spf")
                || n.starts_with("sparse/")
                || *n == "matches.json"
                || *n == "sfm.json"
        })
        .collect();
    assert_eq!(stage_files.len(), 5 + 1 + 3 + 1, "{kept_before:?}");
    for name in stage_files {
        assert_eq!(
            kept_before[name], kept_after[name],
            "{name} was written again"
        );
    }

    let get = |name: &'static str| {
        let (api, project) = (&api, project.clone());
        async move {
            api.bytes(&format!("/api/projects/{project}/artifacts/{name}"))
                .await
        }
    };
    let scene = splatpod::formats::read_ply(&get("scene.ply").await).expect("scene.ply");
    assert_eq!(scene.len() as u64, out.train.splats);
    let spz = splatpod::formats::read_spz(&get("scene.spz").await).expect("scene.spz");
    assert_eq!(spz.len(), scene.len());
    let (s, start) = api
        .get(&format!("/api/projects/{project}/start-view"))
        .await;
    assert_eq!(s, 200, "{start}");
    assert!(
        typed::<api::ProjectStartView>(&start).start_view.is_some(),
        "a capture camera: {start}"
    );
    let png = png::Decoder::new(std::io::Cursor::new(get("thumbnail.png").await))
        .read_info()
        .expect("thumbnail.png");
    assert_eq!((png.info().width, png.info().height), (512, 512));
    eprintln!(
        "reconstruct: killed after {kill_s:.1} s, finished after {:.1} s; {} of 5 photos registered, {} splats",
        started.elapsed().as_secs_f64(),
        out.sfm.registered,
        out.train.splats
    );
}
