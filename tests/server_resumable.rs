//! End-to-end tests of resumable uploads (tus 1.0 core + creation) against the real
//! `splatpod-server` on SQLite and PostgreSQL: a PATCH whose connection is cut mid-body (raw
//! TCP: the headers and part of the body, then the socket is dropped) keeps exactly the bytes
//! that arrived, HEAD reports them, the resumed PATCH completes and the photo is in the project
//! once with its SHA-256; and every refusal the protocol defines (409, 404, 410, 412, 413, 415,
//! 460, 401/403) answers with its status and leaves nothing behind. Runs once more with the S3
//! blob store.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::api::{backends, on_both_backends, typed, uuid_like, Api, Backend};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use splatpod::api;
use tokio::io::AsyncWriteExt;

/// The image limit of these servers (a photo upload may not declare more).
const MAX_IMAGE: usize = 300_000;
/// Their request body limit, which `Tus-Max-Size` reports.
const MAX_UPLOAD: usize = 5_000_000;

async fn start(backend: &Backend, extra: &[(&str, &str)]) -> Api {
    let max_image = MAX_IMAGE.to_string();
    let max_upload = MAX_UPLOAD.to_string();
    let mut env = vec![
        ("WGPU_BACKEND", "metal"),
        ("SPLATPOD_MAX_IMAGE_BYTES", max_image.as_str()),
        ("SPLATPOD_MAX_UPLOAD_BYTES", max_upload.as_str()),
    ];
    env.extend_from_slice(extra);
    Api::start_opts(backend, &env, false).await
}

/// A valid PNG of noise (`side` × `side` RGB, about 3 × side² bytes: it does not compress).
fn noisy_png(side: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let data: Vec<u8> = (0..side * side * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(&data).expect("png data");
    }
    out
}

fn sha_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// An answer: status, headers and body text.
struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn offset(&self) -> u64 {
        self.header("upload-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Upload-Offset: HTTP {} {}", self.status, self.text))
    }

    /// The JSON error body's `status` matches the HTTP status (HEAD answers have no body).
    fn check_error(&self) {
        if self.status >= 400 && !self.text.is_empty() {
            let body: serde_json::Value =
                serde_json::from_str(&self.text).expect("a JSON error body");
            assert_eq!(typed::<api::ErrorBody>(&body).status, self.status, "{body}");
        }
    }
}

/// tus calls with a chosen token.
struct Tus<'a> {
    api: &'a Api,
    token: String,
}

/// A client that opens a connection per request: the server closes a connection whose PATCH
/// body it refused unread, and a pooled reuse would race that close.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

impl Tus<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = unpooled()
            .request(method, self.api.url(path))
            .bearer_auth(&self.token)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let res = req.send().await.expect("request");
        let reply = Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.expect("body"),
        };
        reply.check_error();
        reply
    }

    /// `POST`s a new upload; the raw reply.
    async fn create_raw(&self, project: &str, length: u64, metadata: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/projects/{project}/uploads"),
            &[
                ("tus-resumable", "1.0.0".into()),
                ("upload-length", length.to_string()),
                ("upload-metadata", metadata.into()),
            ],
            Vec::new(),
        )
        .await
    }

    /// A new photo upload of `len` bytes declared with `sha`: its URL path.
    async fn create(&self, project: &str, name: &str, len: usize, sha: &str) -> String {
        let meta = format!(
            "filename {},sha256 {},kind {}",
            b64(name),
            b64(sha),
            b64("photo")
        );
        let r = self.create_raw(project, len as u64, &meta).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.header("tus-resumable"), Some("1.0.0"));
        let location = r.header("location").expect("Location").to_owned();
        assert!(
            location.starts_with(&format!("/api/projects/{project}/uploads/")),
            "{location}"
        );
        location
    }

    async fn head(&self, url: &str) -> Reply {
        self.send(
            Method::HEAD,
            url,
            &[("tus-resumable", "1.0.0".into())],
            Vec::new(),
        )
        .await
    }

    async fn patch(&self, url: &str, offset: u64, bytes: &[u8]) -> Reply {
        self.send(
            Method::PATCH,
            url,
            &[
                ("tus-resumable", "1.0.0".into()),
                ("content-type", "application/offset+octet-stream".into()),
                ("upload-offset", offset.to_string()),
            ],
            bytes.to_vec(),
        )
        .await
    }
}

/// The project's photos by SHA-256.
async fn shas(api: &Api, project: &str) -> Vec<String> {
    let (s, list) = api.get(&format!("/api/projects/{project}/images")).await;
    assert_eq!(s, 200, "{list}");
    typed::<api::ImageList>(&list)
        .images
        .into_iter()
        .map(|i| i.sha256)
        .collect()
}

/// Sends the headers of a PATCH of all of `body` and only its first `sent` bytes, then drops
/// the connection.
async fn cut_patch(api: &Api, url: &str, offset: u64, body: &[u8], sent: usize) {
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", api.server.port))
        .await
        .expect("connect");
    let head = format!(
        "PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
         Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
         Upload-Offset: {offset}\r\nContent-Length: {}\r\n\r\n",
        api.server.port,
        api.key,
        body.len()
    );
    sock.write_all(head.as_bytes()).await.expect("headers");
    sock.write_all(&body[..sent])
        .await
        .expect("part of the body");
    sock.flush().await.expect("flush");
    // Let the server read what was sent before the socket goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(sock);
}

/// Polls HEAD until the offset is `want` (the server finishes the cut request on its own time).
async fn wait_offset(tus: &Tus<'_>, url: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = tus.head(url).await;
        assert_eq!(r.status, 200, "HEAD {url}");
        let got = r.offset();
        assert!(
            got <= want,
            "the server holds {got} bytes, only {want} were sent"
        );
        if got == want {
            assert_eq!(r.header("upload-length"), Some(&*tus_len(&r)));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "offset stuck at {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tus_len(r: &Reply) -> String {
    r.header("upload-length").unwrap_or_default().to_owned()
}

/// A PATCH cut mid-body keeps what arrived; the upload resumes from there and the photo
/// arrives once; a second upload of the same bytes is a duplicate; a pairing token uploads to
/// its own project only.
async fn cut_and_resume_on(api: Api) {
    let project = api.project("resumable").await;
    let tus = Tus {
        api: &api,
        token: api.key.clone(),
    };
    let photo = noisy_png(128, 1);
    let sha = sha_hex(&photo);
    let len = photo.len();
    assert!(len > 40_000, "{len}");
    let url = tus.create(&project, "resumed.png", len, &sha).await;
    let r = tus.head(&url).await;
    assert_eq!((r.status, r.offset()), (200, 0));
    assert_eq!(r.header("upload-length"), Some(&*len.to_string()));
    assert_eq!(r.header("tus-resumable"), Some("1.0.0"));

    let cut = 17_000;
    cut_patch(&api, &url, 0, &photo, cut).await;
    wait_offset(&tus, &url, cut as u64).await;
    assert!(
        shas(&api, &project).await.is_empty(),
        "ingested a partial file"
    );

    // A PATCH from the wrong offset is refused and changes nothing.
    let r = tus.patch(&url, 0, &photo).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(tus.head(&url).await.offset(), cut as u64);

    // A second cut, resumed from the first.
    let second = 30_000;
    cut_patch(&api, &url, cut as u64, &photo[cut..], second - cut).await;
    wait_offset(&tus, &url, second as u64).await;

    let r = tus.patch(&url, second as u64, &photo[second..]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.offset(), len as u64);
    assert_eq!(shas(&api, &project).await, vec![sha.clone()]);
    let (_, list) = api.get(&format!("/api/projects/{project}/images")).await;
    let list: api::ImageList = typed(&list);
    assert_eq!(list.images[0].file_name, "resumed.png");
    assert_eq!(list.images[0].bytes, len as i64);
    assert_eq!((list.images[0].width, list.images[0].height), (128, 128));

    // The finished upload still reports all its bytes; a repeated last PATCH is harmless.
    assert_eq!(tus.head(&url).await.offset(), len as u64);
    let r = tus.patch(&url, len as u64, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);

    // The same bytes again: accepted as a duplicate, still one photo.
    let again = tus.create(&project, "again.png", len, &sha).await;
    let r = tus.patch(&again, 0, &photo).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(shas(&api, &project).await, vec![sha.clone()]);

    // A pairing token uploads to its project, and only to it.
    let other = api.project("not paired").await;
    let (s, p) = api
        .post(
            &format!("/api/projects/{project}/pairings"),
            json!({ "expires_in_s": 600 }),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let paired = Tus {
        api: &api,
        token: typed::<api::PairingCreated>(&p).token,
    };
    let phone = noisy_png(64, 2);
    let phone_sha = sha_hex(&phone);
    let r = paired
        .create_raw(
            &other,
            phone.len() as u64,
            &format!("sha256 {}", b64(&phone_sha)),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = paired.head(&url.replace(&project, &other)).await;
    assert_eq!(r.status, 403);
    let url = paired
        .create(&project, "phone.png", phone.len(), &phone_sha)
        .await;
    let r = paired.patch(&url, 0, &phone[..1000]).await;
    assert_eq!((r.status, r.offset()), (204, 1000));
    let r = paired.patch(&url, 1000, &phone[1000..]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let mut got = shas(&api, &project).await;
    got.sort();
    let mut want = vec![sha, phone_sha];
    want.sort();
    assert_eq!(got, want);
    assert!(shas(&api, &other).await.is_empty());
}

async fn cut_and_resume(backend: Backend) {
    cut_and_resume_on(start(&backend, &[]).await).await;
}

on_both_backends!(a_cut_upload_resumes_and_arrives_once, cut_and_resume);

/// The same with photos stored in an S3-compatible bucket.
#[tokio::test]
async fn a_cut_upload_resumes_into_the_s3_blob_store() {
    let endpoint = std::env::var("SPLATPOD_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("SPLATPOD_TEST_S3_ENDPOINT is not set: run the suite with ./test.sh (.ci/s3.sh)")
    });
    let bucket = format!("b{}", &uuid_like()[..16]);
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "{}", made.status());
    let blob_url = format!("s3://{bucket}/splatpod");
    let api = start(
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
    cut_and_resume_on(api).await;
    let listing = reqwest::Client::new()
        .get(format!(
            "{endpoint}/{bucket}?list-type=2&prefix=splatpod/projects/"
        ))
        .send()
        .await
        .expect("list bucket")
        .text()
        .await
        .expect("listing");
    assert_eq!(
        listing.matches("/images/").count(),
        2,
        "two photos in the bucket: {listing}"
    );
}

/// Every refusal of the protocol, and that a refused upload leaves nothing behind.
async fn refusals(backend: Backend) {
    let api = start(&backend, &[]).await;
    let project = api.project("refusals").await;
    let tus = Tus {
        api: &api,
        token: api.key.clone(),
    };
    let photo = noisy_png(48, 3);
    let sha = sha_hex(&photo);

    // OPTIONS needs no key and says what is supported.
    let r = api
        .http
        .request(
            Method::OPTIONS,
            api.url(&format!("/api/projects/{project}/uploads")),
        )
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(r.status(), 204);
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(h("tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(h("tus-extension").as_deref(), Some("creation"));
    assert_eq!(h("tus-max-size"), Some(MAX_UPLOAD.to_string()));

    // No key, or a wrong one: 401.
    let anon = Tus {
        api: &api,
        token: "sk_not_a_key".into(),
    };
    let meta = format!("sha256 {}", b64(&sha));
    assert_eq!(anon.create_raw(&project, 10, &meta).await.status, 401);

    // No or another protocol version: 412 with the version spoken.
    let r = tus
        .send(
            Method::POST,
            &format!("/api/projects/{project}/uploads"),
            &[
                ("upload-length", "10".into()),
                ("upload-metadata", meta.clone()),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    let r = tus
        .send(
            Method::POST,
            &format!("/api/projects/{project}/uploads"),
            &[
                ("tus-resumable", "0.2.2".into()),
                ("upload-length", "10".into()),
                ("upload-metadata", meta.clone()),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text);

    // Bad declarations: 400; over the image limit: 413; an unknown project: 404.
    assert_eq!(
        tus.create_raw(&project, 10, "").await.status,
        400,
        "no sha256"
    );
    assert_eq!(
        tus.create_raw(&project, 10, &format!("sha256 {}", b64("abc")))
            .await
            .status,
        400
    );
    assert_eq!(
        tus.create_raw(&project, 0, &meta).await.status,
        400,
        "empty"
    );
    let r = tus.create_raw(&project, MAX_IMAGE as u64 + 1, &meta).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(
        tus.create_raw("no-such-project", 10, &meta).await.status,
        404
    );

    // Unknown uploads: 404.
    let unknown = format!("/api/projects/{project}/uploads/{}", uuid_like());
    assert_eq!(tus.head(&unknown).await.status, 404);
    assert_eq!(tus.patch(&unknown, 0, &photo).await.status, 404);

    let url = tus.create(&project, "p.png", photo.len(), &sha).await;
    // A PATCH needs the version, the tus content type and an offset.
    let r = tus
        .send(
            Method::PATCH,
            &url,
            &[
                ("content-type", "application/offset+octet-stream".into()),
                ("upload-offset", "0".into()),
            ],
            photo.clone(),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
    let r = tus
        .send(
            Method::PATCH,
            &url,
            &[
                ("tus-resumable", "1.0.0".into()),
                ("content-type", "application/octet-stream".into()),
                ("upload-offset", "0".into()),
            ],
            photo.clone(),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    // Past the declared length: 413, nothing kept.
    let mut longer = photo.clone();
    longer.extend_from_slice(&[0; 10]);
    let r = tus.patch(&url, 0, &longer).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(tus.head(&url).await.offset(), 0);
    // A wrong offset: 409.
    assert_eq!(tus.patch(&url, 5, &photo[5..]).await.status, 409);
    assert_eq!(tus.head(&url).await.offset(), 0);
    // After all that, it still completes.
    assert_eq!(tus.patch(&url, 0, &photo).await.status, 204);
    assert_eq!(shas(&api, &project).await, vec![sha.clone()]);

    // Bytes that do not have the declared SHA-256: 460, nothing ingested, the upload is gone.
    let other = noisy_png(48, 4);
    let url = tus
        .create(&project, "q.png", other.len(), &sha_hex(&photo))
        .await;
    let r = tus.patch(&url, 0, &other).await;
    assert_eq!(r.status, 460, "{}", r.text);
    assert!(r.text.contains("SHA-256"), "{}", r.text);
    assert_eq!(tus.head(&url).await.status, 404);
    assert_eq!(shas(&api, &project).await, vec![sha.clone()]);

    // Bytes with the right SHA-256 that are no image: refused as the multipart upload does.
    let junk = b"not an image at all, just text".to_vec();
    let url = tus
        .create(&project, "junk.jpg", junk.len(), &sha_hex(&junk))
        .await;
    let r = tus.patch(&url, 0, &junk).await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(r.text.contains("junk.jpg"), "{}", r.text);
    assert_eq!(tus.head(&url).await.status, 404);
    assert_eq!(shas(&api, &project).await, vec![sha]);
}

on_both_backends!(resumable_upload_refusals, refusals);

/// An upload left unfinished past its expiry answers 410 once, then is gone (404).
async fn expiry(backend: Backend) {
    let api = start(&backend, &[("SPLATPOD_UPLOAD_EXPIRY_S", "1")]).await;
    let project = api.project("expiry").await;
    let tus = Tus {
        api: &api,
        token: api.key.clone(),
    };
    let photo = noisy_png(48, 5);
    let url = tus
        .create(&project, "late.png", photo.len(), &sha_hex(&photo))
        .await;
    assert_eq!(tus.patch(&url, 0, &photo[..100]).await.offset(), 100);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = tus.patch(&url, 100, &photo[100..]).await;
    assert_eq!(r.status, 410, "{}", r.text);
    assert_eq!(tus.head(&url).await.status, 404);
    assert!(shas(&api, &project).await.is_empty());
}

on_both_backends!(an_expired_upload_is_gone, expiry);
