//! A job's `input` (the engine's [`JobInput`]), checked when the job is submitted so mistakes
//! get a 400 at once, and the settings derived from it.

pub use splatpod::api::{JobInput, PairModeName, Task};
use splatpod::features::sift::SiftParams;

use crate::error::ServerError;

/// The operator's bounds on every job's work, applied where a task settles what it will do
/// (from its input or its quality preset), so no input can ask for more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCaps {
    /// Most training iterations.
    pub iterations: Option<u32>,
    /// Longest photo side, in pixels, for feature extraction and training.
    pub image_side: Option<u32>,
}

impl JobCaps {
    /// `wanted` training iterations, within the cap.
    pub fn iterations(&self, wanted: u32) -> u32 {
        self.iterations.map_or(wanted, |cap| wanted.min(cap.max(1)))
    }

    /// `wanted` longest photo side, within the cap.
    pub fn image_side(&self, wanted: u32) -> u32 {
        self.image_side
            .map_or(wanted, |cap| wanted.min(cap.max(64)))
    }
}

/// Checks a parsed `input`; `max_url_images` bounds `image_urls`, and `s3://` ones are accepted
/// only where the worker reads them (`s3_inputs`: RunPod workers, whose control plane is the
/// operator's; a shared server's users must not read its bucket through a job).
pub fn validate(
    parsed: &JobInput,
    max_url_images: usize,
    s3_inputs: bool,
) -> Result<(), ServerError> {
    {
        match (&parsed.project_id, &parsed.image_urls) {
            (Some(_), Some(_)) => {
                return Err(ServerError::BadInput(
                    "give either `project_id` or `image_urls`, not both".into(),
                ))
            }
            (None, None) => {
                return Err(ServerError::BadInput(
                    "job input needs `project_id` or `image_urls`".into(),
                ))
            }
            (None, Some(urls)) => {
                if !parsed.task.takes_photos() {
                    return Err(ServerError::BadInput(format!(
                        "`image_urls` brings photos for features, sfm, train or reconstruct; \
                         the {} task needs a project",
                        parsed.task.name()
                    )));
                }
                if !s3_inputs && urls.iter().any(|u| u.starts_with("s3://")) {
                    return Err(ServerError::BadInput(
                        "`s3://` image URLs are read by RunPod workers only; give http(s) URLs"
                            .into(),
                    ));
                }
                if urls.is_empty() {
                    return Err(ServerError::BadInput("`image_urls` is empty".into()));
                }
                if urls.len() > max_url_images {
                    return Err(ServerError::TooLarge(format!(
                        "{} image URLs is over the limit of {max_url_images}",
                        urls.len()
                    )));
                }
            }
            _ => {}
        }
        if parsed
            .iterations
            .is_some_and(|n| !(1..=1_000_000).contains(&n))
        {
            return Err(ServerError::BadInput(
                "`iterations` must be in 1..=1000000".into(),
            ));
        }
        if parsed.max_side.is_some_and(|s| !(64..=8192).contains(&s)) {
            return Err(ServerError::BadInput(
                "`max_side` must be in 64..=8192".into(),
            ));
        }
        if parsed
            .max_features
            .is_some_and(|s| !(1..=65536).contains(&s))
        {
            return Err(ServerError::BadInput(
                "`max_features` must be in 1..=65536".into(),
            ));
        }
        if parsed.task == Task::Sleep
            && parsed
                .iterations
                .is_some_and(|ms| ms > super::sleep_task::MAX_SLEEP_MS)
        {
            return Err(ServerError::BadInput(format!(
                "`iterations` of a sleep job are milliseconds, at most {}",
                super::sleep_task::MAX_SLEEP_MS
            )));
        }
        if parsed.overlap == Some(0) {
            return Err(ServerError::BadInput("`overlap` must be at least 1".into()));
        }
        for d in [parsed.width, parsed.height].into_iter().flatten() {
            if !(16..=4096).contains(&d) {
                return Err(ServerError::BadInput(
                    "`width` and `height` must be in 16..=4096".into(),
                ));
            }
        }
    }
    Ok(())
}

/// SIFT settings for the job's quality preset ([`Quality::sift_params`]).
pub fn sift_params(input: &JobInput) -> SiftParams {
    input
        .quality
        .unwrap_or_default()
        .sift_params(input.max_features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses and validates as a submission does.
    fn parse(input: &serde_json::Value, max: usize) -> Result<JobInput, ServerError> {
        let parsed: JobInput = serde_json::from_value(input.clone())
            .map_err(|e| ServerError::BadInput(format!("invalid job input: {e}")))?;
        validate(&parsed, max, false).map(|()| parsed)
    }

    #[test]
    fn inputs_are_checked() {
        let ok = parse(&json!({"task": "features", "project_id": "p"}), 10);
        let ok = ok.expect("valid");
        let p = sift_params(&ok);
        assert!(p.upsample && p.root_sift && p.max_features == Some(8192));
        for (bad, want) in [
            (
                json!({"task": "nope", "project_id": "p"}),
                "unknown variant",
            ),
            (
                json!({"task": "render", "image_urls": ["http://x/"]}),
                "the render task needs a project",
            ),
            (
                json!({"task": "train", "project_id": "p", "iterations": 0}),
                "iterations",
            ),
            (json!({"task": "features"}), "needs `project_id`"),
            (
                json!({"task": "features", "project_id": "p", "image_urls": ["http://x/"]}),
                "not both",
            ),
            (json!({"task": "features", "image_urls": []}), "empty"),
            (
                json!({"task": "features", "image_urls": ["s3://bucket/a.jpg"]}),
                "RunPod workers only",
            ),
            (
                json!({"task": "features", "project_id": "p", "typo": 1}),
                "unknown field",
            ),
            (
                json!({"task": "features", "project_id": "p", "max_side": 5}),
                "max_side",
            ),
            (
                json!({"task": "sleep", "project_id": "p", "iterations": 60_001}),
                "at most 60000",
            ),
            (json!("just a string"), "invalid job input"),
        ] {
            let e = parse(&bad, 10).expect_err("must fail").to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let many: Vec<String> = (0..11).map(|i| format!("http://h/{i}.jpg")).collect();
        let e = parse(&json!({"task": "features", "image_urls": many}), 10);
        assert!(matches!(e, Err(ServerError::TooLarge(_))));
    }

    #[test]
    fn caps_bound_what_a_job_asks_and_leave_smaller_asks_alone() {
        let none = super::JobCaps::default();
        assert_eq!(
            (none.iterations(30_000), none.image_side(3200)),
            (30_000, 3200)
        );
        let caps = super::JobCaps {
            iterations: Some(60),
            image_side: Some(512),
        };
        assert_eq!((caps.iterations(30_000), caps.image_side(3200)), (60, 512));
        assert_eq!((caps.iterations(10), caps.image_side(300)), (10, 300));
        // A cap of 0 still lets a job do the least it can.
        let zero = super::JobCaps {
            iterations: Some(0),
            image_side: Some(0),
        };
        assert_eq!((zero.iterations(100), zero.image_side(1000)), (1, 64));
    }
}
