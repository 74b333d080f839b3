//! End-to-end tests of job inputs on the real `splatpod-server` binary on loopback: upload and
//! rate limits, `image_urls` and the SSRF guard, blobs in an S3-compatible bucket
//! (SQLite embedded, and PostgreSQL through `SPLATPOD_TEST_DATABASE_URL` where `./test.sh` starts
//! it with `.ci/postgres.sh`), driven over HTTP; jobs run real engine work on the GPU (lavapipe
//! in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::api::{backends, on_both_backends, uuid_like, Api, Backend};
use common::fixtures::photo;
use common::webhook::Receiver;
use serde_json::json;

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

on_both_backends!(upload_and_rate_limits_sqlite_and_postgres, limits);

on_both_backends!(image_urls_and_ssrf_guard_sqlite_and_postgres, image_urls);

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
