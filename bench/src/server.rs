//! A throw-away `splatpod-server` for the API benchmarks ([`splatpod_local_server`]): the API
//! only, a fresh API key and its own job endpoint, with the few calls the benchmarks make.

use std::path::PathBuf;
use std::time::Duration;

use splatpod_local_server::{create_key, server_bin, Launch, LocalServer};

use crate::error::BenchError;

/// A running server with a key to call it.
pub struct ApiServer {
    server: LocalServer,
    /// Its API key.
    pub key: String,
    /// Its job endpoint's name (`/v2/{endpoint}/…`).
    pub endpoint: String,
}

/// The `splatpod-server` built beside this binary (or `SPLATPOD_SERVER_BIN`).
fn sibling_server_bin() -> Result<PathBuf, BenchError> {
    let here = std::env::current_exe()?;
    let bin = server_bin(&here.with_file_name("splatpod-server"));
    if !bin.is_file() {
        return Err(BenchError::BadInput(format!(
            "{} missing: build it beside splatpod-bench (cargo build -p splatpod-server, with \
             --release for a release splatpod-bench) or set SPLATPOD_SERVER_BIN",
            bin.display()
        )));
    }
    Ok(bin)
}

impl ApiServer {
    /// Starts a server and waits until its GPU is ready; `env` adds settings (e.g.
    /// `SPLATPOD_DATABASE_URL`).
    pub async fn start(tag: &str, env: &[(&str, &str)]) -> Result<Self, BenchError> {
        let bin = sibling_server_bin()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("splatpod-{tag}-"))
            .tempdir()?;
        let endpoint = format!("{tag}{}", std::process::id());
        let key = create_key(&bin, dir.path(), tag, env)?;
        let mut all_env = vec![("SPLATPOD_ENDPOINT", endpoint.as_str())];
        all_env.extend_from_slice(env);
        let launch = Launch {
            bin: &bin,
            dist_dir: None,
            env: &all_env,
            show_log: false,
        };
        let server = LocalServer::start(&launch, dir)?;
        server.wait_ready(Duration::from_secs(60)).await?;
        Ok(ApiServer {
            server,
            key,
            endpoint,
        })
    }

    /// `path` on this server with `{ep}` replaced by the job endpoint's name.
    pub fn url(&self, path: &str) -> String {
        self.server.url(&path.replace("{ep}", &self.endpoint))
    }

    /// Sends `req` with the key and reads a JSON answer; a non-2xx answer is an error.
    pub async fn call(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, BenchError> {
        let res = req.bearer_auth(&self.key).send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            return Err(BenchError::Failed(format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| BenchError::Failed(format!("{e}: {text}")))
    }

    /// Creates a project and returns its id.
    pub async fn project(&self, http: &reqwest::Client, name: &str) -> Result<String, BenchError> {
        let p = self
            .call(
                http.post(self.url("/api/projects"))
                    .json(&serde_json::json!({ "name": name })),
            )
            .await?;
        p["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BenchError::Failed(format!("no project id in {p}")))
    }

    /// Queues a job with `input` and returns its id.
    pub async fn run_job(
        &self,
        http: &reqwest::Client,
        input: serde_json::Value,
    ) -> Result<String, BenchError> {
        let j = self
            .call(
                http.post(self.url("/v2/{ep}/run"))
                    .json(&serde_json::json!({ "input": input })),
            )
            .await?;
        j["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BenchError::Failed(format!("no job id in {j}")))
    }

    /// "adapter (backend, driver)" from the server's `/readiness`.
    pub async fn adapter_line(&self) -> String {
        let r: Option<serde_json::Value> = match reqwest::get(self.url("/readiness")).await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        match r {
            Some(v) => format!(
                "{} ({}, {} {})",
                v["gpu"]["name"].as_str().unwrap_or("?"),
                v["gpu"]["backend"].as_str().unwrap_or("?"),
                v["gpu"]["driver"].as_str().unwrap_or("?"),
                v["gpu"]["driver_info"].as_str().unwrap_or("")
            ),
            None => "unknown".into(),
        }
    }
}
