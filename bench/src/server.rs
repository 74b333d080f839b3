//! A throw-away `splatpod-server serve` child process for the API benchmarks: its own data
//! folder, a fresh API key, a free loopback port; killed and cleaned up when dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::ServerError;

pub struct LocalServer {
    child: std::process::Child,
    dir: PathBuf,
    pub base: String,
    pub key: String,
    pub endpoint: String,
}

impl LocalServer {
    /// Starts this binary as a server; `env` adds settings (e.g. `SPLATPOD_DATABASE_URL`).
    pub async fn start(tag: &str, env: &[(&str, &str)]) -> Result<Self, ServerError> {
        let exe = std::env::current_exe()?;
        let dir = std::env::temp_dir().join(format!("splatpod-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let endpoint = format!("{tag}{}", std::process::id());
        let key_out = std::process::Command::new(&exe)
            .args(["keys", "create", "--name", tag, "--data-dir"])
            .arg(&dir)
            .envs(env.iter().copied())
            .stderr(Stdio::null())
            .output()?;
        let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();
        if key.is_empty() {
            return Err(ServerError::Bench("could not create an API key".into()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(&exe)
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--dist-dir",
                "/nonexistent",
                "--data-dir",
            ])
            .arg(&dir)
            .env("RUST_LOG", "warn")
            .env("SPLATPOD_ENDPOINT", &endpoint)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = LocalServer {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            key,
            endpoint,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readiness", server.base)).await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(ServerError::Bench("server did not become ready".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl LocalServer {
    /// `path` on this server with `{ep}` replaced by the job endpoint's name.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.replace("{ep}", &self.endpoint))
    }

    /// Sends `req` with the key and reads a JSON answer; a non-2xx answer is an error.
    pub async fn call(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, ServerError> {
        let bench = |e: reqwest::Error| ServerError::Bench(e.to_string());
        let res = req.bearer_auth(&self.key).send().await.map_err(bench)?;
        let status = res.status();
        let text = res.text().await.map_err(bench)?;
        if !status.is_success() {
            return Err(ServerError::Bench(format!("HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| ServerError::Bench(format!("{e}: {text}")))
    }

    /// Creates a project and returns its id.
    pub async fn project(&self, http: &reqwest::Client, name: &str) -> Result<String, ServerError> {
        let p = self
            .call(
                http.post(self.url("/api/projects"))
                    .json(&serde_json::json!({ "name": name })),
            )
            .await?;
        p["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ServerError::Bench(format!("no project id in {p}")))
    }

    /// Queues a job with `input` and returns its id.
    pub async fn run_job(
        &self,
        http: &reqwest::Client,
        input: serde_json::Value,
    ) -> Result<String, ServerError> {
        let j = self
            .call(
                http.post(self.url("/v2/{ep}/run"))
                    .json(&serde_json::json!({ "input": input })),
            )
            .await?;
        j["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ServerError::Bench(format!("no job id in {j}")))
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// "adapter (backend, driver)" from the server's `/readiness`.
pub async fn adapter_line(server: &LocalServer) -> String {
    let r: Option<serde_json::Value> =
        match reqwest::get(format!("{}/readiness", server.base)).await {
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
