//! End-to-end tests of phone pairing: a full API key pairs a phone with one project; the
//! pairing token may upload to, list and start and follow jobs on that project and nothing
//! else, and stops working when it expires, is revoked, or its key is revoked. The real
//! `splatpod-server` binary on loopback, on SQLite and on PostgreSQL
//! (`SPLATPOD_TEST_DATABASE_URL`, started by `./test.sh` through `.ci/postgres.sh`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::api::{backends, on_both_backends, typed, uuid_like, Api, Backend};
use serde_json::{json, Value};
use splatpod::api;

/// A server with no GPU (a backend this build does not include: queued jobs stay queued and
/// cheap) and its full key.
async fn start(backend: &Backend) -> Api {
    Api::start_opts(backend, &[("WGPU_BACKEND", "metal")], false).await
}

/// What a request answered: status and JSON body (or the text as a JSON string).
struct Answer {
    status: u16,
    body: Value,
}

/// The calls these tests make with a chosen token (a full key, a pairing token or none).
trait TokenCalls {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer;
    async fn pair(&self, project: &str, body: Value) -> api::PairingCreated;
    async fn pair_with(&self, key: &str, project: &str, body: Value) -> api::PairingCreated;
    async fn upload_as(&self, token: &str, project: &str, name: &str, bytes: Vec<u8>) -> Answer;
    async fn run_as(&self, token: &str, project: &str) -> Answer;
}

impl TokenCalls for Api {
    /// Sends `method path` with `token` (none: no Authorization header) and a JSON body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req).await
    }

    async fn pair(&self, project: &str, body: Value) -> api::PairingCreated {
        self.pair_with(&self.key, project, body).await
    }

    /// Creates a pairing for `project` with the full key `key`.
    async fn pair_with(&self, key: &str, project: &str, body: Value) -> api::PairingCreated {
        let a = self
            .call(
                "POST",
                &format!("/api/projects/{project}/pairings"),
                Some(key),
                Some(body),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        typed(&a.body)
    }

    async fn upload_as(&self, token: &str, project: &str, name: &str, bytes: Vec<u8>) -> Answer {
        let form = reqwest::multipart::Form::new().part(
            "images",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        answer(
            self.http
                .post(self.url(&format!("/api/projects/{project}/images")))
                .bearer_auth(token)
                .multipart(form),
        )
        .await
    }

    /// Queues a features job on `project` with `token`.
    async fn run_as(&self, token: &str, project: &str) -> Answer {
        self.call(
            "POST",
            "/v2/{ep}/run",
            Some(token),
            Some(json!({ "input": { "task": "features", "project_id": project } })),
        )
        .await
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400 {
        let e = typed::<api::ErrorBody>(&body);
        assert_eq!(e.status, status, "{body}");
    }
    Answer { status, body }
}

/// A small valid PNG (16 × 16 gradient) whose bytes differ with `seed`.
fn small_png(seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 16, 16);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        let data: Vec<u8> = (0..16 * 16 * 3)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
            .collect();
        w.write_image_data(&data).expect("png data");
    }
    out
}

/// RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ` as Unix seconds (enough to compare two stamps).
fn unix_s(stamp: &str) -> i64 {
    let b = stamp.as_bytes();
    assert!(
        stamp.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z',
        "not RFC 3339 UTC: {stamp}"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { stamp[r].parse().expect("digits") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// What a pairing token may and may not do, its link and QR code, and revocation.
async fn scope(backend: Backend) {
    let api = start(&backend).await;
    let mine = api.project("phone capture").await;
    let other = api.project("someone else's").await;

    // Lifetimes out of range are refused; the default is an hour.
    for bad in [json!({"expires_in_s": 0}), json!({"expires_in_s": 86_401})] {
        let a = api
            .call(
                "POST",
                &format!("/api/projects/{mine}/pairings"),
                Some(&api.key),
                Some(bad),
            )
            .await;
        assert_eq!(a.status, 400, "{}", a.body);
    }
    let pairing = api.pair(&mine, json!({})).await;
    let token = pairing.token.clone();
    assert_eq!(pairing.project_id, mine);
    assert!(token.starts_with("pp_") && token.len() > 40, "{token}");
    assert_eq!(pairing.path, format!("/pair#{token}"));
    assert_eq!(
        pairing.url,
        format!("http://127.0.0.1:{}{}", api.server.port, pairing.path)
    );
    assert_eq!(
        unix_s(&pairing.expires_at) - unix_s(&pairing.created_at),
        3600
    );
    // The SVG is exactly the QR code of the link.
    let expected_qr =
        qrcode::QrCode::with_error_correction_level(pairing.url.as_bytes(), qrcode::EcLevel::M)
            .expect("QR")
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
    assert!(pairing.qr_svg.contains("<svg"), "{}", pairing.qr_svg);
    assert_eq!(pairing.qr_svg, expected_qr);

    // The phone learns which project it is paired with.
    let a = api.call("GET", "/api/pairing", Some(&token), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let session: api::PairedSession = typed(&a.body);
    assert_eq!(session.project_id, mine);
    assert_eq!(session.project_name, "phone capture");
    assert_eq!(session.pairing_id, pairing.id);
    assert_eq!(session.expires_at, pairing.expires_at);
    let a = api.call("GET", "/api/pairing", Some(&api.key), None).await;
    assert_eq!(a.status, 400, "{}", a.body);

    // Allowed: read its project, upload to it, list its photos, start and follow a job on it.
    let a = api
        .call("GET", &format!("/api/projects/{mine}"), Some(&token), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = api.upload_as(&token, &mine, "a.png", small_png(1)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(typed::<api::UploadResult>(&a.body).stored, 1);
    let a = api
        .call(
            "GET",
            &format!("/api/projects/{mine}/images"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(typed::<api::ImageList>(&a.body).images.len(), 1);
    let a = api.run_as(&token, &mine).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let job = typed::<api::JobAccepted>(&a.body).id;
    let a = api
        .call(
            "GET",
            &format!("/v2/{{ep}}/status/{job}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(typed::<api::JobStatusBody>(&a.body).id, job);
    follow_events(&api, &token, &job).await;
    // And import a scene it trained on the device into its own project (not another).
    let mut scene = splatpod::formats::GaussianScene::empty(0);
    scene.positions.push([0.1, 0.2, 0.3]);
    scene.log_scales.push([-3.0; 3]);
    scene.rotations.push([1.0, 0.0, 0.0, 0.0]);
    scene.opacity_logits.push(2.0);
    scene.sh.extend([0.5, -0.5, 0.25]);
    let mut ply = Vec::new();
    splatpod::formats::write_ply(&scene, &mut ply).expect("PLY");
    let (status, body) = api
        .put_artifact_as(&token, &other, "scene.ply", ply.clone())
        .await;
    assert_eq!(status, 403, "import into another project: {body}");
    let (status, body) = api.put_artifact_as(&token, &mine, "scene.ply", ply).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(typed::<api::SceneImported>(&body).splats, 1);

    // Refused with 403: everything else, on its own project or another.
    let b = api.upload_as(&api.key, &other, "b.png", small_png(2)).await;
    assert_eq!(b.status, 201, "{}", b.body);
    let a = api.run_as(&api.key, &other).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let other_job = typed::<api::JobAccepted>(&a.body).id;
    let a = api.run_as(&token, &other).await;
    assert_forbidden(&a, "run on another project");
    let a = api.upload_as(&token, &other, "c.png", small_png(3)).await;
    assert_forbidden(&a, "upload to another project");
    let forbidden: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/projects".into(), None),
        (
            "POST",
            "/api/projects".into(),
            Some(json!({"name": "phone's own"})),
        ),
        ("GET", format!("/api/projects/{other}"), None),
        ("GET", format!("/api/projects/{other}/images"), None),
        ("DELETE", format!("/api/projects/{mine}"), None),
        ("DELETE", format!("/api/projects/{other}"), None),
        (
            "POST",
            format!("/api/projects/{mine}/shares"),
            Some(json!({})),
        ),
        ("GET", format!("/api/projects/{mine}/shares"), None),
        ("DELETE", "/api/shares/some-token".into(), None),
        // Pairing (key-issuing) endpoints: a phone cannot mint, list or revoke tokens.
        (
            "POST",
            format!("/api/projects/{mine}/pairings"),
            Some(json!({})),
        ),
        ("GET", format!("/api/projects/{mine}/pairings"), None),
        (
            "DELETE",
            format!("/api/projects/{mine}/pairings/{}", pairing.id),
            None,
        ),
        ("GET", format!("/api/projects/{mine}/artifacts"), None),
        (
            "GET",
            format!("/api/projects/{mine}/artifacts/thumbnail.png"),
            None,
        ),
        ("GET", format!("/v2/{{ep}}/status/{other_job}"), None),
        ("GET", format!("/api/jobs/{other_job}/events"), None),
        ("POST", format!("/v2/{{ep}}/cancel/{job}"), None),
        ("POST", format!("/v2/{{ep}}/retry/{job}"), None),
        ("GET", format!("/v2/{{ep}}/stream/{job}"), None),
        ("POST", "/v2/{ep}/purge-queue".into(), None),
        ("GET", "/v2/{ep}/health".into(), None),
        (
            "POST",
            "/v2/{ep}/run".into(),
            Some(
                json!({"input": {"task": "features", "image_urls": ["http://example.com/a.jpg"]}}),
            ),
        ),
        (
            "POST",
            "/v2/{ep}/run".into(),
            Some(json!({"input": {"task": "features", "project_id": mine},
                        "webhook": "http://example.com/hook"})),
        ),
    ];
    for (method, path, body) in forbidden {
        let a = api.call(method, &path, Some(&token), body).await;
        assert_forbidden(&a, &format!("{method} {path}"));
    }
    // Nothing was deleted, and the key still sees both projects.
    let a = api.call("GET", "/api/projects", Some(&api.key), None).await;
    let ids: Vec<String> = typed::<api::ProjectList>(&a.body)
        .projects
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(ids.contains(&mine) && ids.contains(&other), "{ids:?}");

    // Unknown and malformed tokens: 401.
    for bad in [
        "pp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pp_",
        "not-a-token",
        &token[..token.len() - 1],
    ] {
        let a = api
            .call("GET", &format!("/api/projects/{mine}"), Some(bad), None)
            .await;
        assert_eq!(a.status, 401, "token {bad}: {}", a.body);
    }
    let a = api
        .call("GET", &format!("/api/projects/{mine}"), None, None)
        .await;
    assert_eq!(a.status, 401, "{}", a.body);

    // Revoked by the desktop: 401 from the next request on, listed as inactive.
    let revoke = format!("/api/projects/{mine}/pairings/{}", pairing.id);
    let a = api.call("DELETE", &revoke, Some(&api.key), None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = api.call("DELETE", &revoke, Some(&api.key), None).await;
    assert_eq!(a.status, 404, "{}", a.body);
    let wrong_project = format!("/api/projects/{other}/pairings/{}", pairing.id);
    let a = api
        .call("DELETE", &wrong_project, Some(&api.key), None)
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    for (method, path) in [
        ("GET", format!("/api/projects/{mine}")),
        ("GET", format!("/api/projects/{mine}/images")),
        ("GET", format!("/v2/{{ep}}/status/{job}")),
    ] {
        let a = api.call(method, &path, Some(&token), None).await;
        assert_eq!(a.status, 401, "revoked token, {method} {path}: {}", a.body);
    }
    let a = api.upload_as(&token, &mine, "d.png", small_png(4)).await;
    assert_eq!(a.status, 401, "{}", a.body);
    let a = api.run_as(&token, &mine).await;
    assert_eq!(a.status, 401, "{}", a.body);
    let a = api
        .call(
            "GET",
            &format!("/api/projects/{mine}/pairings"),
            Some(&api.key),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list: api::PairingList = typed(&a.body);
    assert_eq!(list.pairings.len(), 1);
    assert!(!list.pairings[0].active);
    assert!(list.pairings[0].revoked_at.is_some());
    // The token is shown once and never listed.
    assert!(!a.body.to_string().contains(&token));
}

fn assert_forbidden(a: &Answer, what: &str) {
    assert_eq!(a.status, 403, "{what}: {}", a.body);
    let e = typed::<api::ErrorBody>(&a.body);
    assert!(e.error.contains("pairing"), "{what}: {}", e.error);
}

/// The job's Server-Sent Events reach the phone uncompressed (even when it accepts brotli)
/// and streaming: the first event arrives while the job is still queued.
async fn follow_events(api: &Api, token: &str, job: &str) {
    let mut res = api
        .http
        .get(api.url(&format!("/api/jobs/{job}/events")))
        .bearer_auth(token)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .expect("events");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert!(res.headers().get("content-encoding").is_none());
    let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
        .await
        .expect("an event within 10 s")
        .expect("stream")
        .expect("a chunk");
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: progress"), "{text}");
    assert!(text.contains(job), "{text}");
}

/// A pairing stops working at its expiry, even while its lookup is cached.
async fn expiry(backend: Backend) {
    let api = start(&backend).await;
    let project = api.project("short").await;
    let pairing = api.pair(&project, json!({"expires_in_s": 2})).await;
    let path = format!("/api/projects/{project}");
    let a = api.call("GET", &path, Some(&pairing.token), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = api.call("GET", &path, Some(&pairing.token), None).await;
    assert_eq!(a.status, 401, "expired token: {}", a.body);
    let a = api.run_as(&pairing.token, &project).await;
    assert_eq!(a.status, 401, "expired token: {}", a.body);
    let a = api
        .call("GET", &format!("{path}/pairings"), Some(&api.key), None)
        .await;
    let list: api::PairingList = typed(&a.body);
    assert!(!list.pairings[0].active && list.pairings[0].revoked_at.is_none());
}

/// A pairing dies with the key that created it (within the auth cache's 5 s).
async fn dies_with_its_key(backend: Backend) {
    let api = start(&backend).await;
    let project = api.project("keyed").await;
    // A second key, named uniquely: PostgreSQL may be shared with other tests' keys.
    let name = format!("desk{}", &uuid_like()[..12]);
    let key = api
        .cli(&["keys", "create", "--name", &name])
        .trim()
        .to_owned();
    let pairing = api
        .pair_with(&key, &project, json!({"expires_in_s": 600}))
        .await;
    let path = format!("/api/projects/{project}");
    let a = api.call("GET", &path, Some(&pairing.token), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    api.cli(&["keys", "revoke", &name]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = api.call("GET", &path, Some(&pairing.token), None).await;
        if a.status == 401 {
            break;
        }
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(
            Instant::now() < deadline,
            "pairing still works 10 s after its key was revoked"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

on_both_backends!(
    pairing_token_is_limited_to_its_project_sqlite_and_postgres,
    scope
);
on_both_backends!(pairing_token_expires_sqlite_and_postgres, expiry);
on_both_backends!(
    pairing_token_dies_with_its_key_sqlite_and_postgres,
    dies_with_its_key
);
