//! `splatpod-bench api`: a bounded load test of job-status polling on loopback. Starts a
//! `splatpod-server` (built beside this binary) on a free port with a throw-away data folder, queues one real job,
//! then polls `GET /v2/{endpoint}/status/{id}` from many keep-alive connections for a fixed
//! time and records polls per second and latency percentiles in `bench/results/api.json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Map};

use crate::error::BenchError;
use crate::server::ApiServer;

#[derive(Debug, Args)]
pub struct LoadTestArgs {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds of measured load (after 1 s of warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    #[arg(long, default_value = "bench/results/api.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
    /// Run the server on this PostgreSQL database instead of SQLite; the results go under
    /// `postgres_*` keys beside the SQLite ones.
    #[arg(long)]
    pub database_url: Option<String>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

pub async fn run(args: LoadTestArgs) -> Result<(), BenchError> {
    let db_env: Vec<(&str, &str)> = args
        .database_url
        .as_deref()
        .map(|u| vec![("SPLATPOD_DATABASE_URL", u)])
        .unwrap_or_default();
    let server = ApiServer::start("load", &db_env).await?;
    let key = &server.key;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    // One real job: a render of a project without a scene, which ends FAILED with a message.
    let project = server.project(&client, "loadtest").await?;
    let id = server
        .run_job(&client, json!({"task": "render", "project_id": project}))
        .await?;
    let url = server.url(&format!("/v2/{{ep}}/status/{id}"));

    let warmup_end = Instant::now() + Duration::from_secs(1);
    let end = warmup_end + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let ok = match client.get(&url).bearer_auth(&key).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if t >= warmup_end {
                    if ok {
                        lat.push(t.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t
            .await
            .map_err(|e| BenchError::Failed(format!("load task: {e}")))?;
        all.extend(lat);
        errors += e;
    }
    all.sort_unstable();
    let polls_per_s = all.len() as f64 / args.seconds as f64;
    let pre = if args.database_url.is_some() {
        "postgres_"
    } else {
        ""
    };
    let mut fields = Map::new();
    fields.insert("name".into(), json!("api"));
    fields.insert(
        "device".into(),
        json!(format!(
            "{} CPU cores, loopback; load generator in a second process on the same cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )),
    );
    fields.insert("commit".into(), json!(args.commit));
    fields.insert("connections".into(), json!(args.connections));
    fields.insert("seconds_measured".into(), json!(args.seconds));
    fields.insert("goal_polls_per_s".into(), json!(5000));
    fields.insert("goal_p99_ms".into(), json!(10));
    let database = if pre.is_empty() {
        "SQLite (embedded default)"
    } else {
        "PostgreSQL 15 on loopback"
    };
    let ratio = (polls_per_s / 5000.0 * 1000.0).round() / 1000.0;
    for (k, v) in [
        ("database", json!(database)),
        ("status_polls_per_s", json!(polls_per_s.round())),
        ("latency_p50_ms", json!(percentile(&all, 0.50))),
        ("latency_p99_ms", json!(percentile(&all, 0.99))),
        ("latency_max_ms", json!(percentile(&all, 1.0))),
        ("errors", json!(errors)),
        ("ratio_polls_to_goal", json!(ratio)),
    ] {
        fields.insert(format!("{pre}{k}"), v);
    }
    println!(
        "{polls_per_s:.0} polls/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    crate::results::merge_into(&args.out, fields)?;
    Ok(())
}
