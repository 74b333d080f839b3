//! The worker side of RunPod's serverless protocol, as the `runpod` Python SDK 1.12 speaks it:
//! take a job (`RUNPOD_WEBHOOK_GET_JOB`, `$ID` = worker id, `&job_in_progress=0|1`; 204 = none),
//! post its result (`RUNPOD_WEBHOOK_POST_OUTPUT`, `$ID` = job id, `&isStream=false`, a JSON body
//! `{"output"}` or `{"error"}`), stream chunks (`RUNPOD_WEBHOOK_POST_STREAM`), ping
//! (`RUNPOD_WEBHOOK_PING`, `job_id` = the jobs in progress) and poll the stop channel (the
//! job-take URL with `/job-stop/`). Every request carries `Authorization: RUNPOD_AI_API_KEY`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// Version the pings report (`runpod_version`): the SDK whose protocol this follows.
pub const SDK_VERSION: &str = "1.12.0";

/// A control-plane request that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: the control plane answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: the control plane asks to slow down (429)")]
    TooMany { url: String },
    #[error("{url}: a job without `id` or `input`: {body}")]
    BadJob { url: String, body: String },
}

/// A job the control plane handed over.
#[derive(Debug, Clone, Deserialize)]
pub struct TakenJob {
    pub id: String,
    pub input: Value,
}

/// The control plane's URLs for this worker, with the worker id filled in.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    api_key: String,
    take: String,
    done: String,
    stream: Option<String>,
    ping: Option<String>,
    stop: Option<String>,
}

/// The URLs and credentials a RunPod worker gets from its environment.
pub struct Urls<'a> {
    pub get_job: &'a str,
    pub post_output: &'a str,
    pub post_stream: Option<&'a str>,
    pub ping: Option<&'a str>,
    pub worker_id: &'a str,
    pub api_key: &'a str,
}

/// `url` with `param` (`k=v`) added to its query.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

impl ControlPlane {
    pub fn new(urls: &Urls<'_>) -> Result<Self, reqwest::Error> {
        let take = urls.get_job.replace("$ID", urls.worker_id);
        let stop = take
            .contains("/job-take/")
            .then(|| take.replace("/job-take/", "/job-stop/"));
        let pod = |u: &str| u.replace("$RUNPOD_POD_ID", urls.worker_id);
        Ok(Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            api_key: urls.api_key.to_owned(),
            take,
            done: pod(urls.post_output),
            stream: urls.post_stream.map(pod),
            ping: urls.ping.map(pod),
            stop,
        })
    }

    fn get(&self, url: &str, timeout: Duration) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &self.api_key)
            .timeout(timeout)
    }

    /// Asks for a job; `None` when there is none (204, or 400 as the SDK reads it).
    pub async fn take(&self, in_progress: bool) -> Result<Option<TakenJob>, ProtocolError> {
        let url = with_param(
            &self.take,
            &format!("job_in_progress={}", u8::from(in_progress)),
        );
        // The job-take request may be held open (long poll) by the control plane.
        let r = match send(self.get(&url, Duration::from_secs(90)), &url).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(ProtocolError::Status { status: 400, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let body = text(r, &url).await?;
        if body.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|_| ProtocolError::BadJob {
                url,
                body: body.chars().take(200).collect(),
            })
    }

    /// Posts `body` for job `id` to `template` as the SDK does: JSON text, form content type.
    async fn post(&self, template: &str, id: &str, body: &Value) -> Result<(), ProtocolError> {
        let url = with_param(&template.replace("$ID", id), "isStream=false");
        let req = self
            .http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, &self.api_key)
            .header("X-Request-ID", id)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header("charset", "utf-8")
            .timeout(Duration::from_secs(60))
            .body(body.to_string());
        send(req, &url).await.map(drop)
    }

    /// Posts a job's result (`{"output": …}` or `{"error": …}`), retried on failure (the SDK
    /// tries three times); a result the control plane never gets would lose the job.
    pub async fn post_result(&self, id: &str, body: &Value) -> Result<(), ProtocolError> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            match self.post(&self.done, id, body).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 => {
                    tracing::warn!(job = id, attempt, "posting the result failed: {e}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Posts one stream chunk (`{"output": chunk}`); nowhere to post is not an error.
    pub async fn post_stream(&self, id: &str, chunk: &Value) -> Result<(), ProtocolError> {
        match &self.stream {
            Some(t) => {
                self.post(t, id, &serde_json::json!({ "output": chunk }))
                    .await
            }
            None => Ok(()),
        }
    }

    /// One heartbeat naming the jobs in progress (a comma-separated `job_id`, absent when
    /// idle).
    pub async fn ping(&self, jobs: &[String], interval: Duration) -> Result<(), ProtocolError> {
        let Some(base) = &self.ping else {
            return Ok(());
        };
        let mut url = with_param(base, &format!("runpod_version={SDK_VERSION}"));
        if !jobs.is_empty() {
            url = with_param(&url, &format!("job_id={}", jobs.join(",")));
        }
        let timeout = (interval * 2).max(Duration::from_secs(5));
        send(self.get(&url, timeout), &url).await.map(drop)
    }

    /// Job ids the control plane wants stopped (cancelled or timed out there); empty when
    /// none or when there is no stop channel.
    pub async fn stop_signals(&self) -> Result<Vec<String>, ProtocolError> {
        let Some(url) = &self.stop else {
            std::future::pending::<()>().await;
            return Ok(Vec::new());
        };
        let Some(r) = send(self.get(url, Duration::from_secs(90)), url).await? else {
            return Ok(Vec::new());
        };
        #[derive(Deserialize)]
        struct Stop {
            #[serde(default, rename = "jobsToStop")]
            jobs_to_stop: Vec<Value>,
        }
        let body = text(r, url).await?;
        let stop: Stop = serde_json::from_str(&body).unwrap_or(Stop {
            jobs_to_stop: Vec::new(),
        });
        Ok(stop
            .jobs_to_stop
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }
}

/// Sends `req` to `url`: the response of a 2xx, `None` for 204 (nothing for this worker);
/// 429 and every other status as errors.
async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
) -> Result<Option<reqwest::Response>, ProtocolError> {
    let r = req.send().await.map_err(|source| ProtocolError::Http {
        url: url.to_owned(),
        source,
    })?;
    match r.status().as_u16() {
        204 => Ok(None),
        429 => Err(ProtocolError::TooMany {
            url: url.to_owned(),
        }),
        s if (200..300).contains(&s) => Ok(Some(r)),
        status => Err(ProtocolError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

/// A response's body as text.
async fn text(r: reqwest::Response, url: &str) -> Result<String, ProtocolError> {
    r.text().await.map_err(|source| ProtocolError::Http {
        url: url.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_sdk_templates() {
        let plane = ControlPlane::new(&Urls {
            get_job: "https://api.example/v2/ep/job-take/$ID?gpu=H200",
            post_output: "https://api.example/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=H200",
            post_stream: Some("https://api.example/v2/ep/job-stream/$RUNPOD_POD_ID/$ID?gpu=H200"),
            ping: Some("https://api.example/v2/ep/ping/$RUNPOD_POD_ID?gpu=H200"),
            worker_id: "w1",
            api_key: "k",
        })
        .expect("client");
        assert_eq!(plane.take, "https://api.example/v2/ep/job-take/w1?gpu=H200");
        assert_eq!(
            plane.stop.as_deref(),
            Some("https://api.example/v2/ep/job-stop/w1?gpu=H200")
        );
        assert_eq!(
            plane.done,
            "https://api.example/v2/ep/job-done/w1/$ID?gpu=H200"
        );
        assert_eq!(
            with_param(&plane.done.replace("$ID", "j9"), "isStream=false"),
            "https://api.example/v2/ep/job-done/w1/j9?gpu=H200&isStream=false"
        );
        assert_eq!(with_param("http://h/p", "a=1"), "http://h/p?a=1");
    }
}
