//! Rate limits on job submission, per API key and per client IP (GCRA via `governor`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ServerError;

#[derive(Clone)]
pub struct RateLimits {
    jobs_by_key: Arc<DefaultKeyedRateLimiter<String>>,
    jobs_by_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl RateLimits {
    /// `per_minute` job submissions per key and per IP, all of it usable as a burst.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(n).allow_burst(n);
        Self {
            jobs_by_key: Arc::new(RateLimiter::keyed(quota)),
            jobs_by_ip: Arc::new(RateLimiter::keyed(quota)),
        }
    }

    /// Counts one job submission; 429 with the wait when either limit is reached.
    pub fn job_submission(&self, key_id: &str, ip: IpAddr) -> Result<(), ServerError> {
        let clock = DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| {
            let s = not_until.wait_time_from(clock.now()).as_secs_f64().ceil() as u64;
            ServerError::RateLimited {
                retry_after_s: s.max(1),
            }
        };
        self.jobs_by_key
            .check_key(&key_id.to_owned())
            .map_err(wait)?;
        self.jobs_by_ip.check_key(&ip).map_err(wait)?;
        Ok(())
    }

    /// Drops state of keys that are back to a full quota.
    pub fn shrink(&self) {
        self.jobs_by_key.retain_recent();
        self.jobs_by_ip.retain_recent();
    }
}
