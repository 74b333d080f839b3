//! A throw-away `splatpod-server serve` child process: a free loopback port, its own temporary
//! data folder, waited for through `/health` or `/readiness`, killed (and its folder removed)
//! when dropped. The end-to-end tests (`tests/common`) and the benchmarks (`splatpod-bench`)
//! both start their servers through it.
//!
//! It depends on neither `splatpod` nor `splatpod-server`: it drives the built binary, so the
//! root package's tests can use it without a dependency cycle.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Why a local server could not be started, reached or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{bin} keys create` failed: {detail}")]
    KeyCreate { bin: PathBuf, detail: String },
    #[error("server did not answer {path} with 200 within {secs} s")]
    NotUp { path: String, secs: u64 },
    #[error("{path}: {source}")]
    Http {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("server ignored SIGTERM for {secs} s")]
    NoExit { secs: u64 },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalServerError {
    let what = what.into();
    move |source| LocalServerError::Io { what, source }
}

/// The `splatpod-server` binary: `SPLATPOD_SERVER_BIN` when set, else `default`.
pub fn server_bin(default: &Path) -> PathBuf {
    std::env::var_os("SPLATPOD_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_owned())
}

/// A loopback port free right now.
pub fn free_port() -> Result<u16, LocalServerError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io("a free loopback port"))
}

/// Creates an API key named `name` with the server's CLI against `data_dir` (or the database
/// `env` names) and returns it.
pub fn create_key(
    bin: &Path,
    data_dir: &Path,
    name: &str,
    env: &[(&str, &str)],
) -> Result<String, LocalServerError> {
    let out = Command::new(bin)
        .args(["keys", "create", "--name", name])
        .env("SPLATPOD_DATA_DIR", data_dir)
        .envs(env.iter().copied())
        .stderr(Stdio::null())
        .output()
        .map_err(io(format!("run {}", bin.display())))?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || key.is_empty() {
        return Err(LocalServerError::KeyCreate {
            bin: bin.to_owned(),
            detail: format!("{}, printed `{key}`", out.status),
        });
    }
    Ok(key)
}

/// How to start a [`LocalServer`].
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// The `splatpod-server` binary.
    pub bin: &'a Path,
    /// The built PWA (`SPLATPOD_DIST_DIR`); none serves the API only.
    pub dist_dir: Option<&'a Path>,
    /// More environment for the server (`SPLATPOD_DATABASE_URL`, `SPLATPOD_ENDPOINT`, …).
    pub env: &'a [(&'a str, &'a str)],
    /// Pass the server's log (stderr) through instead of discarding it.
    pub show_log: bool,
}

/// A running `splatpod-server serve`, killed when dropped.
pub struct LocalServer {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    /// Its data folder, removed when dropped (unless handed back by [`LocalServer::sigkill`]).
    pub data_dir: tempfile::TempDir,
}

impl LocalServer {
    /// Starts `serve` on a free port using (and keeping) `data_dir`; it may not be listening
    /// yet (see [`LocalServer::wait_healthy`]). `RUST_LOG` is passed on, `warn` by default.
    pub fn start(launch: &Launch, data_dir: tempfile::TempDir) -> Result<Self, LocalServerError> {
        let port = free_port()?;
        let mut cmd = Command::new(launch.bin);
        cmd.arg("serve")
            .env("SPLATPOD_PORT", port.to_string())
            .env("SPLATPOD_DATA_DIR", data_dir.path())
            .env(
                "SPLATPOD_DIST_DIR",
                launch.dist_dir.unwrap_or(Path::new("/nonexistent")),
            )
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(launch.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(if launch.show_log {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        let child = cmd
            .spawn()
            .map_err(io(format!("spawn {}", launch.bin.display())))?;
        Ok(LocalServer {
            child,
            port,
            data_dir,
        })
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Polls `path` every `every` until it answers 200 (the answer is returned), for at most
    /// `max`.
    pub async fn wait_for(
        &self,
        path: &str,
        every: Duration,
        max: Duration,
    ) -> Result<reqwest::Response, LocalServerError> {
        let deadline = Instant::now() + max;
        loop {
            if let Ok(r) = reqwest::get(self.url(path)).await {
                if r.status() == reqwest::StatusCode::OK {
                    return Ok(r);
                }
            }
            if Instant::now() >= deadline {
                return Err(LocalServerError::NotUp {
                    path: path.into(),
                    secs: max.as_secs(),
                });
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Waits (at most `max`) until `/health` answers.
    pub async fn wait_healthy(&self, max: Duration) -> Result<(), LocalServerError> {
        self.wait_for("/health", Duration::from_millis(100), max)
            .await
            .map(drop)
    }

    /// Waits (at most `max`) until `/readiness` answers 200 (the GPU is up) and returns its body.
    pub async fn wait_ready(&self, max: Duration) -> Result<serde_json::Value, LocalServerError> {
        let res = self
            .wait_for("/readiness", Duration::from_millis(200), max)
            .await?;
        res.json().await.map_err(|source| LocalServerError::Http {
            path: "/readiness".into(),
            source,
        })
    }

    /// Sends SIGTERM and waits (at most `max`) for the process to exit.
    pub fn terminate(&mut self, max: Duration) -> Result<ExitStatus, LocalServerError> {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + max;
        loop {
            if let Some(status) = self.child.try_wait().map_err(io("wait for the server"))? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(LocalServerError::NoExit {
                    secs: max.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server with SIGKILL (no chance to clean up) and hands back its data folder.
    pub fn sigkill(mut self) -> Result<tempfile::TempDir, LocalServerError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let spare = tempfile::tempdir().map_err(io("a temporary folder"))?;
        Ok(std::mem::replace(&mut self.data_dir, spare))
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_bin_falls_back_to_the_default() {
        // Only this test touches the variable in this test binary.
        std::env::remove_var("SPLATPOD_SERVER_BIN");
        assert_eq!(server_bin(Path::new("/a/b")), PathBuf::from("/a/b"));
    }

    #[test]
    fn a_missing_binary_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let launch = Launch {
            bin: Path::new("/nonexistent/splatpod-server"),
            dist_dir: None,
            env: &[],
            show_log: false,
        };
        let err = LocalServer::start(&launch, dir)
            .err()
            .expect("no such binary");
        assert!(err.to_string().contains("spawn /nonexistent"), "{err}");
    }
}
