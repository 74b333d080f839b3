//! End-to-end test of a job's whole life on the real `splatpod-server` binary on loopback
//! (SQLite embedded, and PostgreSQL through `SPLATPOD_TEST_DATABASE_URL` where `./test.sh` starts
//! it with `.ci/postgres.sh`), driven over HTTP; jobs run real engine work on the GPU (lavapipe
//! in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::api::{backends, on_both_backends, typed, Api, Backend};
use common::fixtures::{photo, scene_ply};
use common::webhook::{header, hmac_hex, Receiver};
use serde_json::{json, Value};
use splatpod::api;

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

    keys_are_required(&api).await;
    let project = uploads_store_good_photos_and_refuse_bad_ones(&api).await;
    missing_things_answer_404(&api, &project).await;
    features_job_reports_progress_and_signs_its_webhook(&api, &hook, &project).await;
    share_links_are_read_only_revocable_and_expiring(&api, &project).await;
    render_health_and_delete(&api, &project).await;
}

/// 401 on every write and job call without a key or with a wrong one.
async fn keys_are_required(api: &Api) {
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
}

/// Uploads: good photos stored (a duplicate once, hostile names reduced), corrupt and truncated
/// images refused with nothing lost, malformed part headers refused as a whole. Returns the
/// project.
async fn uploads_store_good_photos_and_refuse_bad_ones(api: &Api) -> String {
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
    project
}

/// 404s name what is missing; bad job input answers 400.
async fn missing_things_answer_404(api: &Api, project: &str) {
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
            json!({"input": {"task": "render", "image_urls": ["http://127.0.0.1/a.jpg"]}}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or("")
            .contains("render task needs a project"),
        "render needs a project: {b}"
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
}

/// A features job with a signed webhook: live SSE progress, the final status with GPU time
/// and cost, the stream handed out once, feature artifacts matching the output, the webhook
/// signed with the server's secret.
async fn features_job_reports_progress_and_signs_its_webhook(
    api: &Api,
    hook: &Receiver,
    project: &str,
) {
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
}

/// Share links: read-only, one project's viewer data, QR code and embed page, revocable,
/// expiring.
async fn share_links_are_read_only_revocable_and_expiring(api: &Api, project: &str) {
    // Share links: read-only, one project's viewer data, revocable, expiring.
    let scene = make_scene_ply();
    let (s, _) = api.put_artifact(project, "scene.ply", scene.clone()).await;
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
}

/// A render job makes the thumbnail; health counts the jobs; deleting the project removes it
/// and its share links.
async fn render_health_and_delete(api: &Api, project: &str) {
    let anon = reqwest::Client::new();
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

    // Health counts what happened: the features job, the import's thumbnail job and this
    // render.
    let (_, h) = api.get("/v2/{ep}/health").await;
    assert_eq!(h["jobs"]["completed"], 3, "{h}");
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
    scene_ply(500, 7)
}

on_both_backends!(job_lifecycle_sqlite_and_postgres, lifecycle);
