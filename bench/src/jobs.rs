//! `splatpod-bench jobs`: the features task end to end through the job API, as a client
//! sees it. Starts a `splatpod-server` (built beside this binary), uploads a folder of photos, runs one `features` job
//! (GPU SIFT on every photo, exhaustive GPU matching), and records the job's wall time split by
//! stage (from its progress stream), GPU-seconds, and per-image / per-pair figures in
//! `bench/results/jobs.json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Map};

use crate::error::BenchError;
use crate::server::ApiServer;

#[derive(Debug, Args)]
pub struct JobBenchArgs {
    /// Folder of JPEG/PNG photos (all of them are uploaded).
    #[arg(long, default_value = "../shared/datasets/strecha-fountain-P11/images")]
    pub images: PathBuf,
    /// `max_side` of the job.
    #[arg(long, default_value_t = 1600)]
    pub max_side: u32,
    #[arg(long, default_value = "bench/results/jobs.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

pub async fn run(args: JobBenchArgs) -> Result<(), BenchError> {
    let photos = splatpod_server::sfm_cli::photo_paths(&args.images)?;
    if photos.is_empty() {
        return Err(BenchError::Failed(format!(
            "no photos in {}",
            args.images.display()
        )));
    }
    let server = ApiServer::start("jobs", &[]).await?;
    let http = reqwest::Client::new();
    let pid = server.project(&http, "bench").await?;
    let mut form = reqwest::multipart::Form::new();
    for p in &photos {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("photo.jpg")
            .to_owned();
        form = form.part(
            "images",
            reqwest::multipart::Part::bytes(std::fs::read(p)?).file_name(name),
        );
    }
    let upload_start = Instant::now();
    server
        .call(
            http.post(server.url(&format!("/api/projects/{pid}/images")))
                .multipart(form),
        )
        .await?;
    let upload_ms = upload_start.elapsed().as_secs_f64() * 1e3;

    let started = Instant::now();
    let input = json!({"task": "features", "project_id": pid, "max_side": args.max_side});
    let id = server.run_job(&http, input).await?;
    // Stage boundaries as the client sees them (first time each stage shows in the stream).
    let mut first_seen: Vec<(String, f64)> = Vec::new();
    let status = loop {
        let s = server
            .call(http.get(server.url(&format!("/v2/{{ep}}/stream/{id}"))))
            .await?;
        let now = started.elapsed().as_secs_f64() * 1e3;
        for c in s["stream"].as_array().into_iter().flatten() {
            if let Some(stage) = c["output"]["stage"].as_str() {
                if !first_seen.iter().any(|(s, _)| s == stage) {
                    first_seen.push((stage.to_owned(), now));
                }
            }
        }
        let st = s["status"].as_str().unwrap_or_default().to_owned();
        if matches!(
            st.as_str(),
            "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT"
        ) {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let body = server
        .call(http.get(server.url(&format!("/v2/{{ep}}/status/{id}"))))
        .await?;
    if status != "COMPLETED" {
        return Err(BenchError::Failed(format!("job ended {status}: {body}")));
    }
    let at = |stage: &str| first_seen.iter().find(|(s, _)| s == stage).map(|(_, t)| *t);
    let n = photos.len() as f64;
    let pairs = body["output"]["pairs"].as_f64().unwrap_or(0.0);
    let (feat_ms, match_ms) = match (at("features"), at("matching")) {
        (Some(f), Some(m)) => (m - f, total_ms - m),
        _ => (f64::NAN, f64::NAN),
    };
    let gpu = server.adapter_line().await;
    let mut fields = Map::new();
    fields.insert("name".into(), json!("jobs"));
    fields.insert("device".into(), json!(gpu));
    fields.insert("commit".into(), json!(args.commit));
    fields.insert("images".into(), json!(photos.len()));
    fields.insert("max_side".into(), json!(args.max_side));
    fields.insert("pairs".into(), json!(pairs));
    fields.insert("upload_ms".into(), json!(upload_ms.round()));
    fields.insert("job_wall_ms".into(), json!(total_ms.round()));
    fields.insert("job_execution_ms".into(), body["executionTime"].clone());
    fields.insert("job_delay_ms".into(), body["delayTime"].clone());
    fields.insert("gpu_seconds".into(), body["gpuSeconds"].clone());
    fields.insert(
        "ms_per_image_features_via_api".into(),
        json!((feat_ms / n * 10.0).round() / 10.0),
    );
    fields.insert(
        "ms_per_pair_matching_via_api".into(),
        json!((match_ms / pairs.max(1.0) * 10.0).round() / 10.0),
    );
    fields.insert(
        "features_per_image".into(),
        body["output"]["features_per_image"].clone(),
    );
    fields.insert(
        "matches_per_pair".into(),
        body["output"]["matches_per_pair"].clone(),
    );
    println!(
        "{} images, {pairs} pairs: job {total_ms:.0} ms ({:.1} ms/image features, {:.1} ms/pair matching incl. storage)",
        photos.len(),
        feat_ms / n,
        match_ms / pairs.max(1.0)
    );
    crate::results::write_result(&args.out, fields)
}
