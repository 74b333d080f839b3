//! Webhook delivery: the final status body, signed with HMAC-SHA256 over the exact bytes sent
//! (`X-Splatpod-Signature: sha256=HEX`), retried with exponential backoff.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::net::HostGuard;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-splatpod-signature";
const ATTEMPTS: u32 = 5;

/// `sha256=` + hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn deliver(
    guard: &HostGuard,
    secret: &str,
    url: &str,
    job_id: &str,
    body: &splatpod::api::JobStatusBody,
) {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(job = job_id, "webhook body: {e}");
            return;
        }
    };
    let signature = sign(secret, &bytes);
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        let headers = [
            (SIGNATURE_HEADER, signature.clone()),
            ("x-splatpod-job-id", job_id.to_owned()),
        ];
        match guard.post_json(url, bytes.clone(), &headers).await {
            Ok(()) => {
                tracing::info!(job = job_id, attempt, "webhook delivered");
                return;
            }
            Err(e @ crate::net::FetchError::Forbidden { .. })
            | Err(e @ crate::net::FetchError::BadUrl(_)) => {
                tracing::warn!(job = job_id, "webhook refused: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(job = job_id, attempt, "webhook failed: {e}");
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_answer() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
