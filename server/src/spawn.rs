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
