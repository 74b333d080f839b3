//! Helpers for the end-to-end tests: the real `splatpod-server` binary on a loopback port, and
//! headless Chromium driven through ChromeDriver.
//!
//! The tests need `cargo build -p splatpod-server` and `trunk build` first (the README's test
//! command does both); `SPLATPOD_SERVER_BIN` and `SPLATPOD_DIST_DIR` point elsewhere if needed.
#![allow(dead_code)]

pub mod api;
pub mod clip;
pub mod fixtures;
pub mod openapi;
pub mod phone;
pub mod posed_set;
pub mod project_page;
pub mod viewer;
pub mod webhook;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use splatpod_local_server::{Launch, LocalServer};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn server_bin() -> PathBuf {
    let path =
        splatpod_local_server::server_bin(&workspace_root().join("target/debug/splatpod-server"));
    assert!(
        path.is_file(),
        "{} missing: run `cargo build -p splatpod-server` (or set SPLATPOD_SERVER_BIN)",
        path.display()
    );
    path
}

pub fn dist_dir() -> PathBuf {
    let path = std::env::var_os("SPLATPOD_DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        path.join("index.html").is_file(),
        "{} has no built PWA: run `trunk build` (or set SPLATPOD_DIST_DIR)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    splatpod_local_server::free_port().expect("a free loopback port")
}

/// A running `splatpod-server serve` with the built PWA ([`LocalServer`] with the tests'
/// defaults, failing the test instead of returning errors), killed when dropped.
pub struct Server(LocalServer);

impl std::ops::Deref for Server {
    type Target = LocalServer;

    fn deref(&self) -> &LocalServer {
        &self.0
    }
}

impl Server {
    /// Starts the server on a free port with `env` added to its environment.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Self::start_in(tempfile::tempdir().expect("temp dir"), env)
    }

    /// Starts the server on a free port using (and keeping) `data_dir`.
    pub fn start_in(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
        let bin = server_bin();
        let dist = dist_dir();
        let launch = Launch {
            bin: &bin,
            dist_dir: Some(&dist),
            env,
            show_log: true,
        };
        Server(LocalServer::start(&launch, data_dir).expect("spawn splatpod-server"))
    }

    /// Waits until `/health` answers.
    pub async fn wait_healthy(&self) {
        if let Err(e) = self.0.wait_healthy(Duration::from_secs(30)).await {
            panic!("server not healthy: {e}");
        }
    }

    /// Polls `/readiness` until it answers 200, returning the body.
    pub async fn wait_ready(&self) -> serde_json::Value {
        self.0
            .wait_ready(Duration::from_secs(120))
            .await
            .unwrap_or_else(|e| panic!("server not ready: {e}"))
    }

    /// Sends SIGTERM and waits (up to 20 s) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.0
            .terminate(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Kills the server with SIGKILL (no chance to clean up) and hands back its data folder.
    pub fn sigkill(self) -> tempfile::TempDir {
        self.0.sigkill().expect("kill the server")
    }
}

/// Creates an API key with the server's CLI against the same data folder / database.
pub fn create_key(data_dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let key = splatpod_local_server::create_key(&server_bin(), data_dir, "test", env)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(key.starts_with("sp_") && key.len() > 40, "key `{key}`");
    key
}

/// How to start the browser.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrowserOptions {
    /// Keep the WebGPU flags of `webdriver.json` (SwiftShader).
    pub webgpu: bool,
    /// Emulate a phone: a 412 × 915 CSS-pixel touch screen at 2.625 device pixels per pixel
    /// (a Pixel 7 class device), with a mobile user agent.
    pub phone: bool,
}

/// The viewport width of [`BrowserOptions::phone`], in CSS pixels.
pub const PHONE_WIDTH: u32 = 412;

/// Headless Chromium through ChromeDriver, with the flags in `webdriver.json` (WebGPU on
/// SwiftShader), or with the WebGPU flags removed.
pub struct Browser {
    driver: Child,
    /// ChromeDriver's port, for its Chromium-only commands (network conditions).
    driver_port: u16,
    pub client: fantoccini::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(webgpu: bool) -> Browser {
        Self::start_with(BrowserOptions {
            webgpu,
            phone: false,
        })
        .await
    }

    pub async fn start_with(opts: BrowserOptions) -> Browser {
        let webgpu = opts.webgpu;
        let port = free_port();
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromedriver}: {e} (apt-get install chromium-driver)")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }

        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(workspace_root().join("webdriver.json"))
                .expect("webdriver.json"),
        )
        .expect("webdriver.json is JSON");
        let mut options = config["goog:chromeOptions"].clone();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = options["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .filter(|a| {
                webgpu || !(a.contains("webgpu") || a.contains("vulkan") || a.contains("Vulkan"))
            })
            .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push("--window-size=1024,768".into());
        options["args"] = serde_json::json!(args);
        if opts.phone {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": {
                    "width": PHONE_WIDTH,
                    "height": 915,
                    "pixelRatio": 2.625,
                    "touch": true,
                    "mobile": true
                },
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36"
            });
        }
        if let Ok(bin) = std::env::var("CHROME_BIN") {
            options["binary"] = serde_json::json!(bin);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session");
        Browser {
            driver,
            driver_port: port,
            client,
            _profile: profile,
        }
    }

    /// Saves a screenshot to `$SPLATPOD_SCREENSHOTS/NAME.png` when that variable is set, to
    /// look at a layout after a run.
    pub async fn shot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("SPLATPOD_SCREENSHOTS") {
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)
                .expect("save the screenshot");
        }
    }

    /// Cuts the page's network (`offline`) or gives it back, through ChromeDriver's DevTools
    /// network emulation (`POST /session/{id}/chromium/network_conditions`).
    pub async fn set_offline(&self, offline: bool) {
        let session = self
            .client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/chromium/network_conditions",
            self.driver_port
        );
        let body = serde_json::json!({
            "network_conditions": {
                "offline": offline,
                "latency": 0,
                "download_throughput": -1,
                "upload_throughput": -1
            }
        });
        let res = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("ChromeDriver answers");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        assert!(status.is_success(), "network_conditions: {status} {text}");
    }

    /// Opens `server`'s `path` with `key` saved in local storage first (as the PWA keeps it).
    pub async fn open_with_key(&self, server: &Server, key: &str, path: &str) {
        self.client
            .goto(&server.url("/status"))
            .await
            .expect("open the status page");
        self.client
            .execute(
                "localStorage.setItem('splatpod-api-key', arguments[0]);",
                vec![serde_json::json!(key)],
            )
            .await
            .expect("save the key");
        self.client
            .goto(&server.url(path))
            .await
            .expect("open the page");
    }

    /// Sets the input `id` to `value` as a person typing it would (a `change` event).
    pub async fn set_field(&self, id: &str, value: &str) {
        self.client
            .execute(
                "const el = document.getElementById(arguments[0]); el.value = arguments[1]; \
                 el.dispatchEvent(new Event('change'));",
                vec![serde_json::json!(id), serde_json::json!(value)],
            )
            .await
            .expect("set a field");
    }

    /// The first element matching `css`, waiting up to `secs` for it to appear.
    pub async fn wait_for(&self, css: &str, secs: u64) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(secs))
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` within {secs} s: {e}"))
    }

    /// Text of the first element matching `css`, waiting up to `secs` for it to appear.
    pub async fn text_of(&self, css: &str, secs: u64) -> String {
        let el = self.wait_for(css, secs).await;
        el.text().await.expect("element text")
    }

    pub async fn close(self) {
        let Browser {
            mut driver, client, ..
        } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}
