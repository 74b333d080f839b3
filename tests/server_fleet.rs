//! Scale-out acceptance test on loopback: PostgreSQL (`SPLATPOD_TEST_DATABASE_URL`) and the S3
//! test server (`SPLATPOD_TEST_S3_ENDPOINT`), both started by `./test.sh`; one API-only node
//! (`serve --no-worker`) and three `worker` processes; 30 GPU-free `sleep` jobs. One worker is
//! frozen (SIGSTOP) past its lease and woken after its job was finished by another, two are
//! SIGKILLed mid-job. Every job must end COMPLETED exactly once, with the artifact and output of
//! the claim that completed it, and `health` must count the fleet.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{typed, uuid_like};
use common::{create_key, free_port, server_bin};
use serde_json::{json, Value};
use splatpod::api;

/// Jobs in the test and how long each sleeps.
const JOBS: usize = 30;
const SLEEP_MS: u64 = 500;

/// A `splatpod-server` process (API node or worker) logging to a file, killed when dropped.
struct Proc {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Proc {
    fn start(args: &[&str], env: &[(String, String)], dir: &std::path::Path, name: &str) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(server_bin());
        cmd.args(args)
            .env("SPLATPOD_DATA_DIR", dir.join(name))
            .env(
                "RUST_LOG",
                "info,sqlx=warn,wgpu_core=warn,wgpu_hal=warn,naga=warn",
            )
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Proc {
            child: cmd.spawn().expect("spawn splatpod-server"),
            name: name.to_owned(),
            log,
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(r, 0, "signal {sig} to {}", self.name);
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Fleet {
    http: reqwest::Client,
    base: String,
    key: String,
    endpoint: String,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Fleet {
    async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.expect("JSON")
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let body: Value = res.json().await.expect("JSON");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn health(&self) -> api::EndpointHealth {
        typed(&self.get(&format!("/v2/{}/health", self.endpoint)).await)
    }

    /// Polls `health` until `ok` holds, failing after `secs`.
    async fn health_until(
        &self,
        secs: u64,
        ok: impl Fn(&api::EndpointHealth) -> bool,
    ) -> api::EndpointHealth {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let h = self.health().await;
            if ok(&h) {
                return h;
            }
            assert!(Instant::now() < deadline, "health never matched: {h:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The admin CLI against the shared database: stdout parsed as JSON.
    fn cli(&self, args: &[&str]) -> Value {
        let mut cmd = Command::new(server_bin());
        cmd.args(args)
            .env("SPLATPOD_DATA_DIR", self.dir.path().join("cli"));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run CLI");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("CLI JSON")
    }

    /// The id and epoch of the job `worker` runs now, if any.
    fn running_on(&self, worker: &str) -> Option<(String, i64)> {
        let jobs = self.cli(&["jobs", "list", "--json", "--limit", "200"]);
        jobs.as_array()?.iter().find_map(|j| {
            (j["worker_id"] == worker && j["status"] == "IN_PROGRESS").then(|| {
                (
                    j["id"].as_str().unwrap_or_default().to_owned(),
                    j["lease_epoch"].as_i64().unwrap_or(-1),
                )
            })
        })
    }

    async fn status(&self, id: &str) -> api::JobStatusBody {
        typed(
            &self
                .get(&format!("/v2/{}/status/{id}", self.endpoint))
                .await,
        )
    }

    async fn wait_completed(&self, id: &str, secs: u64) -> api::JobStatusBody {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status(id).await;
            if s.status.is_final() {
                assert_eq!(s.status, api::JobStatus::Completed, "{s:?}");
                return s;
            }
            assert!(Instant::now() < deadline, "job {id} stuck: {s:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Freezes `worker` (SIGSTOP) while it is mid-job; returns that job. Looking after the freeze
/// means the job cannot end between the look and what the test does next.
async fn freeze_mid_job(fleet: &Fleet, worker: &Proc) -> (String, i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "{} never ran a job", worker.name);
        if fleet.running_on(&worker.name).is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        worker.signal(libc::SIGSTOP);
        if let Some(j) = fleet.running_on(&worker.name) {
            return j;
        }
        // It finished between the two looks: let it run on and try again.
        worker.signal(libc::SIGCONT);
    }
}

#[tokio::test]
async fn fleet_survives_killed_and_stale_workers() {
    let t0 = Instant::now();
    let db_url = std::env::var("SPLATPOD_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("SPLATPOD_TEST_DATABASE_URL is not set: run the suite with ./test.sh")
    });
    let s3 = std::env::var("SPLATPOD_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("SPLATPOD_TEST_S3_ENDPOINT is not set: run the suite with ./test.sh (.ci/s3.sh)")
    });
    let http = reqwest::Client::new();
    let bucket = format!("fleet{}", &uuid_like()[..12]);
    let made = http
        .put(format!("{s3}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "bucket: {}", made.status());

    let endpoint = format!("f{}", &uuid_like()[..12]);
    let env: Vec<(String, String)> = [
        ("SPLATPOD_DATABASE_URL", db_url.as_str()),
        ("SPLATPOD_BLOB_URL", &format!("s3://{bucket}/sp")),
        ("AWS_ENDPOINT", &s3),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("SPLATPOD_ENDPOINT", &endpoint),
        ("SPLATPOD_JOB_LEASE_S", "2"),
        ("SPLATPOD_WEBHOOK_SECRET", "fleet-test"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let key = create_key(&dir.path().join("cli"), &refs);

    let port = free_port();
    let mut api_env = env.clone();
    api_env.extend(
        [
            ("SPLATPOD_PORT", port.to_string()),
            ("SPLATPOD_NO_WORKER", "true".into()),
            ("SPLATPOD_JOB_RATE_PER_MIN", "1000".into()),
            (
                "SPLATPOD_DIST_DIR",
                dir.path().join("no-pwa").display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let _api = Proc::start(&["serve"], &api_env, dir.path(), "api");
    let names: Vec<String> = (1..=3).map(|i| format!("w{i}-{endpoint}")).collect();
    let mut workers: Vec<Proc> = names
        .iter()
        .map(|n| {
            let mut e = env.clone();
            e.push(("SPLATPOD_WORKER_ID".into(), n.clone()));
            e.push(("SPLATPOD_MAX_CONCURRENT_JOBS".into(), "1".into()));
            Proc::start(&["worker"], &e, dir.path(), n)
        })
        .collect();
    let fleet = Fleet {
        http,
        base: format!("http://127.0.0.1:{port}"),
        key,
        endpoint: endpoint.clone(),
        env,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while fleet
        .http
        .get(format!("{}/health", fleet.base))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "API node did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Three workers, each reporting the GPU this machine's adapter query names; the API node
    // runs none.
    let h = fleet.health_until(60, |h| h.workers.idle == 3).await;
    assert_eq!(h.workers.running, 0);
    let registry = fleet.cli(&["jobs", "workers", "--endpoint", &endpoint]);
    let registry = registry.as_array().expect("workers");
    let mut ids: Vec<&str> = registry.iter().filter_map(|w| w["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, names.iter().map(String::as_str).collect::<Vec<_>>());
    let info = Command::new(server_bin())
        .arg("gpu-info")
        .output()
        .expect("gpu-info");
    let adapter: Value = serde_json::from_slice(&info.stdout).expect("gpu-info JSON");
    for w in registry {
        assert_eq!(w["gpu"], adapter["name"], "{w}");
        assert_eq!(w["slots"], 1, "{w}");
    }

    let project = fleet.post("/api/projects", json!({"name": "fleet"})).await;
    let project = project["id"].as_str().expect("project id").to_owned();
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        let input = json!({"task": "sleep", "project_id": project, "iterations": SLEEP_MS});
        let a = fleet
            .post(&format!("/v2/{endpoint}/run"), json!({ "input": input }))
            .await;
        jobs.push(typed::<api::JobAccepted>(&a).id);
    }

    // w3 freezes mid-job; w1 is killed mid-job (frozen first, so it is surely mid-job).
    let stale = freeze_mid_job(&fleet, &workers[2]).await;
    let (killed1, _) = freeze_mid_job(&fleet, &workers[0]).await;
    workers[0].sigkill();

    // w3's lease runs out; its job is requeued and completed by w2.
    let done = fleet.wait_completed(&stale.0, 30).await;
    let out = done.output.clone().expect("output");
    assert_eq!(out["worker"], names[1].as_str(), "{out}");
    assert!(out["epoch"].as_i64() > Some(stale.1), "{out}");

    // w3 wakes up: its renewal or progress write for that job is refused and it stops it.
    workers[2].signal(libc::SIGCONT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !workers[2]
        .log()
        .lines()
        .any(|l| l.contains("lease lost") && l.contains(&stale.0))
    {
        assert!(Instant::now() < deadline, "w3 never saw it lost the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for l in workers[2]
        .log()
        .lines()
        .filter(|l| l.contains("lease lost"))
    {
        eprintln!("w3: {l}");
    }

    let (killed2, _) = freeze_mid_job(&fleet, &workers[1]).await;
    workers[1].sigkill();

    // Every job ends COMPLETED, with the output of the claim that completed it.
    let mut outputs = HashMap::new();
    for id in &jobs {
        let s = fleet.wait_completed(id, 60).await;
        let out = s.output.expect("output");
        assert_eq!(out["epoch"].as_i64(), Some(s.attempts), "{id}: {out}");
        outputs.insert(id.clone(), out);
    }
    for (id, gone) in [
        (&killed1, &names[0]),
        (&killed2, &names[1]),
        (&stale.0, &names[2]),
    ] {
        let out = &outputs[id];
        assert_ne!(out["worker"], gone.as_str(), "{id}: {out}");
        assert!(out["epoch"].as_i64() >= Some(2), "{id} was retried: {out}");
    }

    // Exactly once: one "job ended" per job across every worker's log, killed ones included.
    let logs: Vec<String> = workers.iter().map(Proc::log).collect();
    for id in &jobs {
        let ends = logs
            .iter()
            .flat_map(|l| l.lines())
            .filter(|l| l.contains("job ended") && l.contains(id.as_str()))
            .count();
        assert_eq!(ends, 1, "job {id} ended {ends} times");
    }

    // One artifact per job, written by the completing claim, none lost or replaced; the refused
    // claim left no blob behind.
    let arts: api::ArtifactList = typed(
        &fleet
            .get(&format!("/api/projects/{project}/artifacts"))
            .await,
    );
    assert_eq!(arts.artifacts.len(), JOBS);
    for id in &jobs {
        let name = format!("sleep-{id}.json");
        let a = arts
            .artifacts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("artifact {name} lost"));
        assert_eq!(a.job_id.as_deref(), Some(id.as_str()));
        let res = fleet
            .http
            .get(format!(
                "{}/api/projects/{project}/artifacts/{name}",
                fleet.base
            ))
            .bearer_auth(&fleet.key)
            .send()
            .await
            .expect("artifact");
        assert_eq!(res.status(), 200, "{name}");
        let body: Value = res.json().await.expect("artifact JSON");
        assert_eq!(body, outputs[id], "{name}");
    }
    let listing = fleet
        .http
        .get(format!("{s3}/{bucket}?list-type=2"))
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("listing");
    let stale_key = format!("artifacts/{}.{}/", stale.0, stale.1);
    assert!(!listing.contains(&stale_key), "stale blob kept: {listing}");
    let refused = format!("artifacts/{}.", stale.0);
    assert_eq!(listing.matches(&refused).count(), 1, "{listing}");

    // Health: the killed workers drop out of the count; the survivor is idle.
    let h = fleet
        .health_until(20, |h| h.workers.idle == 1 && h.workers.running == 0)
        .await;
    assert_eq!(h.jobs.completed, JOBS as u64, "{h:?}");
    assert_eq!(h.jobs.in_progress + h.jobs.in_queue + h.jobs.failed, 0);
    eprintln!("fleet test took {:?}", t0.elapsed());
}
