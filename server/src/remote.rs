//! Remote backends: other Splatpod servers (their `/v2/{endpoint}` RunPod-shaped API and their
//! project API) that a node sends heavy jobs to when it has no GPU or its own slots stay busy
//! past a queue-time threshold. Configured in one JSON file (`--remote-backends`); each has a
//! price per GPU-hour so a forwarded job's cost is recorded per backend.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use splatpod::api::{
    ArtifactList, JobAccepted, JobInput, JobStatusBody, NewProject, Project, UploadResult,
};

use crate::error::ServerError;

/// One remote backend, as the configuration file lists it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteBackend {
    /// Shown as where a job ran (`remote:NAME`).
    pub name: String,
    /// The server's base URL (`https://gpu-2.example:8080`).
    pub url: String,
    /// Its job endpoint name (`/v2/NAME/…`).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// An API key of that server.
    #[serde(default)]
    pub api_key: String,
    /// USD per GPU-hour, for the cost of the jobs it runs.
    #[serde(default)]
    pub gpu_price_per_hour: f64,
    /// Jobs it is sent at once.
    #[serde(default = "default_max_jobs")]
    pub max_jobs: usize,
}

fn default_endpoint() -> String {
    "splatpod".into()
}

fn default_max_jobs() -> usize {
    2
}

/// Reads the backends file: a JSON array of [`RemoteBackend`]s with distinct names.
pub fn load(path: &Path) -> Result<Vec<RemoteBackend>, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServerError::BadInput(format!("remote backends file {}: {e}", path.display()))
    })?;
    let list: Vec<RemoteBackend> = serde_json::from_str(&text).map_err(|e| {
        ServerError::BadInput(format!("remote backends file {}: {e}", path.display()))
    })?;
    let mut names = std::collections::HashSet::new();
    for b in &list {
        if b.name.trim().is_empty() || !names.insert(b.name.as_str()) {
            return Err(ServerError::BadInput(format!(
                "remote backends file {}: names must be set and distinct (`{}`)",
                path.display(),
                b.name
            )));
        }
        url::Url::parse(&b.url).map_err(|e| {
            ServerError::BadInput(format!("remote backend `{}`: url `{}`: {e}", b.name, b.url))
        })?;
    }
    Ok(list)
}

/// A failed call to a remote backend.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{backend}: {path}: {source}")]
    Http {
        backend: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{backend}: {path} answered {status}: {body}")]
    Status {
        backend: String,
        path: String,
        status: u16,
        body: String,
    },
}

/// An HTTP client for one backend.
#[derive(Clone)]
pub struct RemoteClient {
    http: reqwest::Client,
    pub backend: RemoteBackend,
}

impl RemoteClient {
    pub fn new(backend: RemoteBackend) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap_or_default();
        Self { http, backend }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.backend.url.trim_end_matches('/'))
    }

    fn job_path(&self, what: &str) -> String {
        format!("/v2/{}/{what}", self.backend.endpoint)
    }

    /// Sends `req` (for `path`); a non-2xx answer is an error with its body.
    async fn send(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RemoteError> {
        let http = |source| RemoteError::Http {
            backend: self.backend.name.clone(),
            path: path.to_owned(),
            source,
        };
        let r = req
            .bearer_auth(&self.backend.api_key)
            .send()
            .await
            .map_err(http)?;
        if r.status().is_success() {
            return Ok(r);
        }
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        Err(RemoteError::Status {
            backend: self.backend.name.clone(),
            path: path.to_owned(),
            status,
            body: body.chars().take(300).collect(),
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, RemoteError> {
        let r = self.send(path, req).await?;
        r.json().await.map_err(|source| RemoteError::Http {
            backend: self.backend.name.clone(),
            path: path.to_owned(),
            source,
        })
    }

    /// Whether its job endpoint answers `health` (within 5 s).
    pub async fn healthy(&self) -> bool {
        let path = self.job_path("health");
        let req = self
            .http
            .get(self.url(&path))
            .timeout(Duration::from_secs(5));
        self.send(&path, req).await.is_ok()
    }

    pub async fn create_project(&self, name: &str) -> Result<Project, RemoteError> {
        let path = "/api/projects";
        let body = NewProject { name: name.into() };
        self.json(path, self.http.post(self.url(path)).json(&body))
            .await
    }

    pub async fn delete_project(&self, id: &str) -> Result<(), RemoteError> {
        let path = format!("/api/projects/{id}");
        self.send(&path, self.http.delete(self.url(&path)))
            .await
            .map(drop)
    }

    /// Uploads one photo; answers the remote's id for it.
    pub async fn upload(
        &self,
        project: &str,
        file_name: &str,
        bytes: Bytes,
    ) -> Result<Option<String>, RemoteError> {
        let path = format!("/api/projects/{project}/images");
        let part = reqwest::multipart::Part::stream(bytes).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("images", part);
        let out: UploadResult = self
            .json(&path, self.http.post(self.url(&path)).multipart(form))
            .await?;
        Ok(out.files.into_iter().find_map(|f| f.image.map(|i| i.id)))
    }

    pub async fn run(&self, input: &JobInput) -> Result<String, RemoteError> {
        let path = self.job_path("run");
        let body = serde_json::json!({ "input": input });
        let accepted: JobAccepted = self
            .json(&path, self.http.post(self.url(&path)).json(&body))
            .await?;
        Ok(accepted.id)
    }

    pub async fn status(&self, id: &str) -> Result<JobStatusBody, RemoteError> {
        let path = self.job_path(&format!("status/{id}"));
        self.json(
            &path,
            self.http
                .get(self.url(&path))
                .timeout(Duration::from_secs(10)),
        )
        .await
    }

    pub async fn cancel(&self, id: &str) -> Result<(), RemoteError> {
        let path = self.job_path(&format!("cancel/{id}"));
        self.send(&path, self.http.post(self.url(&path)))
            .await
            .map(drop)
    }

    pub async fn artifacts(&self, project: &str) -> Result<ArtifactList, RemoteError> {
        let path = format!("/api/projects/{project}/artifacts");
        self.json(&path, self.http.get(self.url(&path))).await
    }

    pub async fn download(&self, project: &str, name: &str) -> Result<Bytes, RemoteError> {
        let path = format!("/api/projects/{project}/artifacts/{name}");
        let r = self.send(&path, self.http.get(self.url(&path))).await?;
        r.bytes().await.map_err(|source| RemoteError::Http {
            backend: self.backend.name.clone(),
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backends_file_is_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let write = |text: &str| {
            let p = dir.path().join("b.json");
            std::fs::write(&p, text).expect("write");
            p
        };
        let ok = load(&write(
            r#"[{"name": "b", "url": "http://127.0.0.1:9", "api_key": "k", "gpu_price_per_hour": 2.5}]"#,
        ))
        .expect("valid");
        assert_eq!(ok[0].endpoint, "splatpod");
        assert_eq!(ok[0].max_jobs, 2);
        for (bad, want) in [
            (r#"[{"name": "b", "url": "nope"}]"#, "url"),
            (
                r#"[{"name": "b", "url": "http://a"}, {"name": "b", "url": "http://c"}]"#,
                "distinct",
            ),
            (
                r#"[{"name": "b", "url": "http://a", "typo": 1}]"#,
                "unknown field",
            ),
            ("{", "expected a sequence"),
            ("[", "EOF"),
        ] {
            let e = load(&write(bad)).expect_err(bad).to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
