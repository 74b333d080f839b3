//! A typed client of a `splatpod-server` under test: the server with a fresh API key on SQLite
//! or PostgreSQL, JSON calls checked against the API's types, uploads, jobs and their status.
//! Every response through [`Api::send`] (and [`Api::bytes`]) is also checked against the
//! server's `/openapi.json` ([`super::openapi::Spec`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use splatpod::api;

use super::openapi::Spec;
use super::{create_key, server_bin, Server};

/// A database for the server under test: SQLite in its data folder, or PostgreSQL.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

pub fn backends() -> Vec<Backend> {
    let url = std::env::var("SPLATPOD_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "SPLATPOD_TEST_DATABASE_URL is not set: run the suite with ./test.sh, which starts \
             PostgreSQL (.ci/postgres.sh), or point it at a server"
        )
    });
    vec![Backend::Sqlite, Backend::Postgres(url)]
}

/// A `#[tokio::test]` named `$test` that runs the scenario `$body(backend)` on SQLite, then on
/// PostgreSQL.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($test:ident, $body:ident) => {
        #[tokio::test]
        async fn $test() {
            for b in backends() {
                eprintln!("backend: {b:?}");
                $body(b).await;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

/// A server with its key and an HTTP client.
pub struct Api {
    pub server: Server,
    pub key: String,
    pub endpoint: String,
    pub env: Vec<(String, String)>,
    pub http: reqwest::Client,
    /// The server's `/openapi.json`, which every response is checked against.
    pub spec: Arc<Spec>,
}

impl Api {
    /// Starts a server on `backend` with extra environment; each server gets its own endpoint
    /// name so servers sharing one PostgreSQL database never see each other's queue.
    pub async fn start(backend: &Backend, extra: &[(&str, &str)]) -> Api {
        Self::start_opts(backend, extra, true).await
    }

    /// As `start`; `gpu` false waits only for liveness (a server whose GPU cannot open).
    pub async fn start_opts(backend: &Backend, extra: &[(&str, &str)], gpu: bool) -> Api {
        let endpoint = format!("t{}", &uuid_like()[..12]);
        let mut env: Vec<(String, String)> = vec![
            ("SPLATPOD_ENDPOINT".into(), endpoint.clone()),
            ("SPLATPOD_RETRY_BACKOFF_MS".into(), "200".into()),
        ];
        if let Backend::Postgres(url) = backend {
            env.push(("SPLATPOD_DATABASE_URL".into(), url.clone()));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let dir = tempfile::tempdir().expect("temp dir");
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let key = create_key(dir.path(), &refs);
        let server = Server::start_in(dir, &refs);
        if gpu {
            server.wait_ready().await;
        } else {
            server.wait_healthy().await;
        }
        let http = reqwest::Client::new();
        let spec = Arc::new(Spec::fetch(&http, &server.url("/openapi.json")).await);
        Api {
            server,
            key,
            endpoint,
            env,
            http,
            spec,
        }
    }

    /// Runs a `splatpod-server` admin subcommand against this server's data; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = std::process::Command::new(server_bin());
        cmd.args(args)
            .env("SPLATPOD_DATA_DIR", self.server.data_dir.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run CLI");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Restarts the server after a SIGKILL on the same data folder and database.
    pub async fn kill_and_restart(self) -> Api {
        let Api {
            server,
            key,
            endpoint,
            env,
            http,
            spec,
        } = self;
        let dir = server.sigkill();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = Server::start_in(dir, &refs);
        server.wait_ready().await;
        Api {
            server,
            key,
            endpoint,
            env,
            http,
            spec,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(&path.replace("{ep}", &self.endpoint))
    }

    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let (client, req) = req.build_split();
        let req = req.expect("request");
        let (method, path) = (req.method().to_string(), req.url().path().to_owned());
        let res = client.execute(req).await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        self.spec.check(&method, &path, status, content_type, &text);
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 && body.is_object() {
            let e = typed::<api::ErrorBody>(&body);
            assert_eq!(e.status, status, "{body}");
        }
        (status, body, headers)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, b, _) = self
            .send(self.http.get(self.url(path)).bearer_auth(&self.key))
            .await;
        (s, b)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, b, _) = self
            .send(
                self.http
                    .post(self.url(path))
                    .bearer_auth(&self.key)
                    .json(&body),
            )
            .await;
        (s, b)
    }

    /// The status of an authenticated DELETE.
    pub async fn delete(&self, path: &str) -> u16 {
        let (s, _, _) = self
            .send(self.http.delete(self.url(path)).bearer_auth(&self.key))
            .await;
        s
    }

    /// The raw bytes of an authenticated GET (artifacts).
    pub async fn bytes(&self, path: &str) -> Vec<u8> {
        let url = self.url(path);
        let res = self
            .http
            .get(&url)
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{path}");
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.bytes().await.expect("body").to_vec();
        let text = String::from_utf8_lossy(&bytes);
        let url_path = res_path(&url);
        self.spec
            .check("get", &url_path, 200, content_type.as_deref(), &text);
        bytes
    }

    pub async fn project(&self, name: &str) -> String {
        let (s, p) = self.post("/api/projects", json!({ "name": name })).await;
        assert_eq!(s, 201, "{p}");
        typed::<api::Project>(&p).id
    }

    /// PUTs `bytes` as the project's artifact `name` (a scene import for `scene.*`).
    pub async fn put_artifact(&self, project: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        self.put_artifact_as(&self.key, project, name, bytes).await
    }

    /// [`put_artifact`](Self::put_artifact) with `token` (a key or a pairing token).
    pub async fn put_artifact_as(
        &self,
        token: &str,
        project: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let (s, b, _) = self
            .send(
                self.http
                    .put(self.url(&format!("/api/projects/{project}/artifacts/{name}")))
                    .bearer_auth(token)
                    .body(bytes),
            )
            .await;
        (s, b)
    }

    /// Imports `scene` as the project's `scene.ply`; the answer names the thumbnail job it
    /// queued.
    pub async fn import_scene(
        &self,
        project: &str,
        scene: &splatpod::formats::GaussianScene,
    ) -> api::SceneImported {
        let mut ply = Vec::new();
        splatpod::formats::write_ply(scene, &mut ply).expect("PLY");
        let (s, b) = self.put_artifact(project, "scene.ply", ply).await;
        assert_eq!(s, 201, "{b}");
        typed(&b)
    }

    pub async fn upload(&self, project: &str, files: Vec<(String, Vec<u8>)>) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            form = form.part(
                "images",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        let (s, b, _) = self
            .send(
                self.http
                    .post(self.url(&format!("/api/projects/{project}/images")))
                    .bearer_auth(&self.key)
                    .multipart(form),
            )
            .await;
        if (200..300).contains(&s) {
            typed::<api::UploadResult>(&b);
        }
        (s, b)
    }

    pub async fn run(&self, input: Value) -> String {
        let (s, j) = self.post("/v2/{ep}/run", json!({ "input": input })).await;
        assert_eq!(s, 200, "{j}");
        let accepted = typed::<api::JobAccepted>(&j);
        assert_eq!(accepted.status, api::JobStatus::InQueue);
        accepted.id
    }

    /// The status body, checked against the API's type on the way.
    pub async fn status(&self, id: &str) -> Value {
        let (s, b) = self.get(&format!("/v2/{{ep}}/status/{id}")).await;
        assert_eq!(s, 200, "{b}");
        typed::<api::JobStatusBody>(&b);
        b
    }

    /// Polls until the job's status satisfies `done`, failing after `secs`.
    pub async fn wait_for(
        &self,
        id: &str,
        secs: u64,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let b = self.status(id).await;
            if done(&b) {
                return b;
            }
            assert!(Instant::now() < deadline, "job {id} stuck: {b}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_final(&self, id: &str, secs: u64) -> Value {
        self.wait_for(id, secs, |b| {
            typed::<api::JobStatusBody>(b).status.is_final()
        })
        .await
    }
}

/// `body` as the API type `T`: fails the test when a response does not have its declared shape
/// (a missing or mistyped field; unknown extra fields are tolerated by serde).
pub fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> T {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| {
        panic!(
            "response is not a {}: {e}\n{body}",
            std::any::type_name::<T>()
        )
    })
}

/// The path of an absolute URL (no query).
fn res_path(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

pub fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}{:016x}", h.finish(), std::process::id())
}
