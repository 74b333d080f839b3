//! The `reconstruct` task: features → SfM → training → export as one job with one progress
//! timeline ([`RECONSTRUCT_STAGES`]), running the same stage code as the `features`, `sfm` and
//! `train` tasks. Each stage's last artifact (`matches.json`, `sfm.json`, `train.json`) marks it
//! finished for this job, so an attempt after a crash skips the finished stages, and training
//! resumes from the job's last checkpoint.

use splatpod::api::{
    JobInput, Quality, ReconstructOutput, SfmOutput, TrainOutput, RECONSTRUCT_STAGES,
};

use super::tasks::{features, Run, TaskError};
use super::{sfm_task, train_task};
use crate::db::artifacts;

/// Longer side of the photos for feature extraction (and so SfM) by preset.
pub fn feature_side(quality: Quality) -> u32 {
    match quality {
        Quality::Low => 1000,
        Quality::Medium => 1600,
        Quality::High => 2400,
    }
}

/// The job-percent range of the stage named `name` in [`RECONSTRUCT_STAGES`].
fn span_of(name: &str) -> (f64, f64) {
    RECONSTRUCT_STAGES
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or((0.0, 100.0), |&(_, lo, hi)| (lo, hi))
}

/// The artifact `name` of the project when this job wrote it (an earlier attempt finished the
/// stage that writes it last).
async fn from_this_job(
    run: &Run<'_>,
    project_id: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, TaskError> {
    let inner = &run.svc.inner;
    match artifacts::get(&inner.db, project_id, name).await? {
        Some(a) if a.job_id.as_deref() == Some(run.job.id.as_str()) => {
            Ok(Some(inner.blobs.get(&a.blob_key).await?.to_vec()))
        }
        _ => Ok(None),
    }
}

/// A stage summary this job stored, parsed; unreadable counts as not finished.
fn parse<T: serde::de::DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    bytes.and_then(|b| serde_json::from_slice(&b).ok())
}

/// Reports a stage kept from an earlier attempt at its end of the timeline.
async fn reused(run: &Run<'_>, stage: &str, reused: &mut Vec<String>) -> Result<(), TaskError> {
    run.set_span(span_of(stage));
    reused.push(stage.to_owned());
    run.progress(
        stage,
        100.0,
        "finished by an earlier attempt of this job: kept",
    )
    .await
}

pub(super) async fn reconstruct(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<ReconstructOutput, TaskError> {
    run.photos_for(project_id, "reconstruction").await?;
    let quality = input.quality.unwrap_or_default();
    // Features and SfM at the preset's side; training keeps its own preset unless `max_side`
    // says otherwise.
    let staged = JobInput {
        max_side: Some(input.max_side.unwrap_or_else(|| feature_side(quality))),
        ..input.clone()
    };
    let mut reused_stages = Vec::new();

    let sfm_done: Option<SfmOutput> = parse(from_this_job(run, project_id, "sfm.json").await?);
    let features_done = sfm_done.is_some()
        || from_this_job(run, project_id, "matches.json")
            .await?
            .is_some();
    if features_done {
        reused(run, "features", &mut reused_stages).await?;
    } else {
        run.set_span(span_of("features"));
        features(run, project_id, &staged).await?;
    }

    let sfm = match sfm_done {
        Some(out) => {
            reused(run, "sfm", &mut reused_stages).await?;
            out
        }
        None => {
            run.set_span(span_of("sfm"));
            sfm_task::sfm(run, project_id, &staged).await?
        }
    };

    let trained: Option<TrainOutput> = parse(from_this_job(run, project_id, "train.json").await?);
    let train = match trained {
        Some(out) => {
            reused(run, "train", &mut reused_stages).await?;
            out
        }
        None => {
            run.set_span(span_of("train"));
            let scene = train_task::train_scene(run, project_id, input).await?;
            run.set_span(span_of("export"));
            train_task::export(run, project_id, scene).await?
        }
    };
    Ok(ReconstructOutput {
        project_id: project_id.to_owned(),
        quality,
        reused_stages,
        sfm,
        train,
        artifacts: vec![
            "scene.spz".into(),
            "scene.ply".into(),
            "thumbnail.png".into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stages_tile_the_timeline_in_order() {
        let stages = splatpod::api::RECONSTRUCT_STAGES;
        assert_eq!(stages[0].1, 0.0);
        assert_eq!(stages[stages.len() - 1].2, 100.0);
        for w in stages.windows(2) {
            assert_eq!(w[0].2, w[1].1, "{w:?}");
        }
        assert_eq!(super::span_of("train"), (40.0, 95.0));
        use splatpod::api::Quality;
        assert!(super::feature_side(Quality::Low) < super::feature_side(Quality::High));
    }
}
