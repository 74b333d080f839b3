//! A loopback HTTP receiver for the end-to-end tests: records POSTed requests (webhook calls)
//! and serves files for GETs (image URLs), with the helpers to check a signed webhook.

use std::time::{Duration, Instant};

use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A one-shot-per-connection HTTP server on loopback: records POSTed requests (headers +
/// body) and serves `files` for GETs.
/// Requests received: (request line + headers, body).
pub type RequestLog = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

pub struct Receiver {
    pub port: u16,
    pub requests: RequestLog,
}

impl Receiver {
    pub async fn start(files: Vec<(String, Vec<u8>)>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests: RequestLog = RequestLog::default();
        let log = requests.clone();
        let files = std::sync::Arc::new(files);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let files = files.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 65536];
                    let (head, body_start) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break (String::from_utf8_lossy(&buf[..p]).to_string(), p + 4);
                        }
                    };
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < body_start + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[body_start..].to_vec();
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    let reply = if head.starts_with("GET") {
                        match files.iter().find(|(n, _)| *n == path) {
                            Some((_, bytes)) => {
                                let mut r = format!(
                                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                    bytes.len()
                                )
                                .into_bytes();
                                r.extend_from_slice(bytes);
                                r
                            }
                            None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                        }
                    } else {
                        log.lock().expect("log").push((head, body));
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_vec()
                    };
                    let _ = sock.write_all(&reply).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    pub async fn wait_requests(&self, n: usize, secs: u64) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.requests.lock().expect("log").clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} webhook calls",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The value of header `name` (case-insensitive) in a request head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// HMAC-SHA256 of `body` under `secret`, as lower-case hex (the webhook signature).
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
