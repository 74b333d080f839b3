//! The `sfm` task: features and matches (run first when the project lacks them), then the
//! engine's incremental mapper; writes the COLMAP model (`sparse/0/*.bin`), `transforms.json`,
//! `points.ply` and `sfm.json` as project artifacts.

use std::collections::HashMap;

use splatpod::api::{JobInput, MatchesArtifact, SfmOutput, UnregisteredPhoto};
use splatpod::features::{read_features, ImageFeatures};
use splatpod::sfm::mapper::{reconstruct, MapperOptions, SfmProgress};
use splatpod::sfm::prepare::{sfm_input, FeaturedImage};
use splatpod::sfm::{colmap, pipeline, transforms};

use super::tasks::{features, sub_span, Run, TaskError};
use crate::db::{artifacts, projects};

/// The features stage's share of the job's progress when it has to run.
const FEATURES_SHARE: f64 = 60.0;

pub(super) async fn sfm(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<SfmOutput, TaskError> {
    let inner = &run.svc.inner;
    let imgs = run.photos_for(project_id, "structure-from-motion").await?;
    // Features first, unless every photo has them and the matches exist.
    let mut have_all = artifacts::get(&inner.db, project_id, "matches.json")
        .await?
        .is_some();
    for img in &imgs {
        let name = format!("features-{}.spf", img.id);
        have_all &= artifacts::get(&inner.db, project_id, &name)
            .await?
            .is_some();
    }
    let outer = run.span();
    let start = if have_all {
        0.0
    } else {
        run.set_span(sub_span(outer, 0.0, FEATURES_SHARE));
        features(run, project_id, input).await?;
        FEATURES_SHARE
    };
    run.set_span(sub_span(outer, start, 100.0));
    run.progress("verification", 0.0, "loading features and matches")
        .await?;

    let mut feats: Vec<ImageFeatures> = Vec::with_capacity(imgs.len());
    for img in &imgs {
        let name = format!("features-{}.spf", img.id);
        let art = artifacts::get(&inner.db, project_id, &name)
            .await?
            .ok_or_else(|| TaskError::Permanent(format!("{name} is missing")))?;
        let bytes = inner.blobs.get(&art.blob_key).await?;
        feats
            .push(read_features(&bytes).map_err(|e| TaskError::Permanent(format!("{name}: {e}")))?);
    }
    let art = artifacts::get(&inner.db, project_id, "matches.json")
        .await?
        .ok_or_else(|| TaskError::Permanent("matches.json is missing".into()))?;
    let matches: MatchesArtifact =
        serde_json::from_slice(&inner.blobs.get(&art.blob_key).await?)
            .map_err(|e| TaskError::Permanent(format!("matches.json: {e}")))?;
    let index: HashMap<&str, usize> = imgs
        .iter()
        .enumerate()
        .map(|(i, im)| (im.id.as_str(), i))
        .collect();
    let pairs: Vec<(usize, usize, Vec<[u32; 2]>)> = matches
        .pairs
        .into_iter()
        .filter_map(|p| {
            Some((
                *index.get(p.a.as_str())?,
                *index.get(p.b.as_str())?,
                p.matches,
            ))
        })
        .collect();
    // Model names are `{image id}.{format}`: unique and safe as file names, unlike uploads'.
    let names: Vec<String> = imgs
        .iter()
        .map(|im| format!("{}.{}", im.id, im.format))
        .collect();
    let featured: Vec<FeaturedImage<'_>> = imgs
        .iter()
        .zip(&feats)
        .zip(&names)
        .map(|((im, f), name)| FeaturedImage {
            name: name.clone(),
            features: f,
            original_size: (
                u32::try_from(im.width).unwrap_or(0),
                u32::try_from(im.height).unwrap_or(0),
            ),
            focal_35mm: im.focal_35mm,
        })
        .collect();
    let sfm_in = sfm_input(&featured, pairs);

    // The mapper is CPU work: off the async threads, progress through a channel.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<SfmProgress>();
    let mapping = tokio::task::spawn_blocking(move || {
        reconstruct(&sfm_in, &MapperOptions::default(), &mut |p| {
            let _ = tx.send(p);
        })
    });
    while let Some(p) = rx.recv().await {
        let (lo, hi) = match p.stage {
            "verification" => (0.0, 25.0),
            "mapping" => (25.0, 85.0),
            _ => (85.0, 95.0),
        };
        run.progress(p.stage, lo + (hi - lo) * p.fraction, &p.message)
            .await?;
    }
    let result = mapping
        .await
        .map_err(|e| TaskError::Transient(format!("mapper thread: {e}")))?
        .map_err(|e| TaskError::Permanent(e.to_string()))?;
    let mut rec = result.reconstruction;

    run.progress("export", 95.0, "colouring points and writing the model")
        .await?;
    let mut decoded = Vec::with_capacity(imgs.len());
    for (img, f) in imgs.iter().zip(&feats) {
        decoded.push(run.decode_photo(img, f.width.max(f.height)).await?);
    }
    let refs: Vec<_> = decoded.iter().collect();
    pipeline::color_points(&mut rec, &refs);

    let files = colmap::write_binary(&rec)
        .map_err(|e| TaskError::Permanent(format!("COLMAP model: {e}")))?;
    let tj = transforms::write_transforms(&rec)
        .map_err(|e| TaskError::Permanent(format!("transforms.json: {e}")))?;
    let unregistered: Vec<UnregisteredPhoto> = result
        .unregistered
        .iter()
        .map(|u| UnregisteredPhoto {
            file_name: names
                .iter()
                .position(|n| *n == u.name)
                .map_or_else(String::new, |i| imgs[i].file_name.clone()),
            name: u.name.clone(),
            reason: u.reason.clone(),
        })
        .collect();
    let output = SfmOutput {
        project_id: project_id.to_owned(),
        images: imgs.len() as u64,
        registered: rec.images.len() as u64,
        points: rec.points3d.len() as u64,
        rms_reprojection_px: result.rms_reprojection_px,
        unregistered,
        artifacts: vec![
            "sparse/0/cameras.bin".into(),
            "sparse/0/images.bin".into(),
            "sparse/0/points3D.bin".into(),
            "transforms.json".into(),
            "points.ply".into(),
            "sfm.json".into(),
        ],
    };
    let octet = "application/octet-stream";
    let json = "application/json";
    let summary = serde_json::to_vec_pretty(&output)
        .map_err(|e| TaskError::Permanent(format!("sfm.json: {e}")))?;
    for (name, kind, bytes) in [
        ("sparse/0/cameras.bin", octet, files.cameras),
        ("sparse/0/images.bin", octet, files.images),
        ("sparse/0/points3D.bin", octet, files.points3d),
        ("transforms.json", json, tj),
        ("points.ply", octet, pipeline::points_ply(&rec)),
        ("sfm.json", json, summary),
    ] {
        run.put_artifact(project_id, name, kind, bytes).await?;
    }
    projects::touch(&inner.db, project_id).await?;
    Ok(output)
}
