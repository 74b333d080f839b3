//! `splatpod-server sfm PHOTOS_DIR --out DIR`: Structure-from-Motion on a folder of photos with
//! progress bars: GPU SIFT, matching, verification, incremental mapping, bundle adjustment.
//! Writes `sparse/0/*.bin` (COLMAP), `transforms.json` (nerfstudio), `points.ply` and
//! `sfm.json` (what happened to every photo, timings).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use splatpod::api::{PairModeName, Quality};
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions, DecodedImage};
use splatpod::sfm::evaluate::{evaluate, PoseEvaluation};
use splatpod::sfm::mapper::{MapperOptions, UnregisteredImage};
use splatpod::sfm::pipeline::PipelineProgress;
use splatpod::sfm::{colmap, pipeline, reference, transforms};

use crate::error::ServerError;

#[derive(Debug, Args)]
pub struct SfmArgs {
    /// Folder of JPEG/PNG photos.
    pub photos: PathBuf,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Feature preset: low, medium or high.
    #[arg(long, default_value = "medium")]
    pub quality: String,
    /// Longer side the photos are downscaled to for features.
    #[arg(long, default_value_t = splatpod::images::DEFAULT_MAX_SIDE)]
    pub max_side: u32,
    /// exhaustive (default up to 100 photos) or sequential (video frames).
    #[arg(long)]
    pub pair_mode: Option<String>,
    /// Neighbours each frame is matched with in sequential mode.
    #[arg(long, default_value_t = 10)]
    pub overlap: u32,
    /// Reference poses to evaluate against: a Strecha scene folder (with `gt_cameras/`) or a
    /// `transforms.json`; the evaluation goes into `sfm.json`.
    #[arg(long)]
    pub reference: Option<PathBuf>,
}

/// `sfm.json`.
#[derive(Debug, Serialize)]
pub struct SfmSummary {
    pub photos: usize,
    pub registered: usize,
    pub points: usize,
    pub observations: usize,
    pub rms_reprojection_px: f64,
    pub matched_pairs: usize,
    pub verified_pairs: usize,
    pub unregistered: Vec<UnregisteredImage>,
    pub ms_features: f64,
    pub ms_matching: f64,
    /// Verification + incremental mapping + final bundle adjustment.
    pub ms_mapping: f64,
    pub ms_verification: f64,
    pub ms_bundle_adjustment: f64,
    /// Decoding included.
    pub ms_total: f64,
    /// Against `--reference`, after a similarity alignment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<PoseEvaluation>,
}

/// The reference poses of `path` (see [`SfmArgs::reference`]).
pub fn reference_poses(
    path: &std::path::Path,
) -> Result<Vec<(String, nalgebra::Isometry3<f64>)>, ServerError> {
    let bad = |e: String| ServerError::BadInput(format!("reference {}: {e}", path.display()));
    if path.is_dir() {
        let cams = reference::read_strecha_scene(path).map_err(|e| bad(e.to_string()))?;
        Ok(reference::strecha_poses(&cams))
    } else {
        let rec =
            transforms::read_transforms(&std::fs::read(path)?).map_err(|e| bad(e.to_string()))?;
        reference::strip_directories(&reference::reconstruction_poses(&rec))
            .map_err(|e| bad(e.to_string()))
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{elapsed:>4}} {what:<12} [{{bar:30}}] {{pos}}/{{len}} {{msg}}"
    )) {
        b.set_style(style);
    }
    b
}

pub async fn run(args: SfmArgs) -> Result<(), ServerError> {
    let quality = Quality::from_name(&args.quality).ok_or_else(|| {
        ServerError::BadInput(format!(
            "unknown quality `{}` (low, medium, high)",
            args.quality
        ))
    })?;
    let mode_name = match args.pair_mode.as_deref() {
        None => None,
        Some("exhaustive") => Some(PairModeName::Exhaustive),
        Some("sequential") => Some(PairModeName::Sequential),
        Some(other) => {
            return Err(ServerError::BadInput(format!(
                "unknown pair mode `{other}` (exhaustive, sequential)"
            )))
        }
    };
    let paths = photo_paths(&args.photos)?;
    if paths.len() < 2 {
        return Err(ServerError::BadInput(format!(
            "{} holds {} photos; structure-from-motion needs at least two",
            args.photos.display(),
            paths.len()
        )));
    }
    let ctx = GpuContext::new_for_large_scenes().await?;
    let params = quality.sift_params(None);
    let t0 = Instant::now();
    let b = bar(paths.len() as u64, "decoding");
    // Every core decodes (JPEG decoding and downscaling are the CPU's part of the features).
    let decoded = splatpod::sfm::parallel::map_items(
        paths.len(),
        &mut |done| b.set_position(done as u64),
        |k| -> Result<(String, DecodedImage), ServerError> {
            let p = &paths[k];
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("photo")
                .to_owned();
            let bytes = std::fs::read(p)?;
            let decoded = decode_image(
                &bytes,
                Some(&name),
                &DecodeOptions {
                    max_side: Some(args.max_side),
                    ..DecodeOptions::default()
                },
            )
            .map_err(|e| ServerError::BadInput(format!("{name}: {e}")))?;
            Ok((name, decoded))
        },
    );
    let photos: Vec<(String, DecodedImage)> = decoded.into_iter().collect::<Result<_, _>>()?;
    b.finish();
    let mode = PairModeName::resolve(mode_name, photos.len(), args.overlap);
    // One bar per stage; each stage's wall time is taken when the next one starts.
    let mut times: Vec<(&'static str, f64)> = Vec::new();
    let mut current: Option<(&'static str, ProgressBar, Instant)> = None;
    let mut enter =
        |name: &'static str,
         len: u64,
         current: &mut Option<(&'static str, ProgressBar, Instant)>| {
            if current.as_ref().is_some_and(|c| c.0 == name) {
                return;
            }
            if let Some((n, b, t)) = current.take() {
                b.finish();
                times.push((n, t.elapsed().as_secs_f64() * 1e3));
            }
            *current = Some((name, bar(len, name), Instant::now()));
        };
    let result = pipeline::reconstruct_photos(
        &ctx,
        &photos,
        &params,
        mode,
        &MapperOptions::default(),
        &mut |p| match p {
            PipelineProgress::Features { done, total } => {
                enter("features", total as u64, &mut current);
                if let Some((_, b, _)) = &current {
                    b.set_position(done as u64);
                }
            }
            PipelineProgress::Matching { done, total } => {
                enter("matching", total as u64, &mut current);
                if let Some((_, b, _)) = &current {
                    b.set_position(done as u64);
                }
            }
            PipelineProgress::Mapping(m) => {
                enter(m.stage, 1000, &mut current);
                if let Some((_, b, _)) = &current {
                    b.set_position((m.fraction.clamp(0.0, 1.0) * 1000.0) as u64);
                    b.set_message(format!("{}: {}", m.stage, m.message));
                }
            }
        },
    )
    .await
    .map_err(|e| match e {
        pipeline::PipelineError::Gpu(g) => ServerError::Gpu(g),
        pipeline::PipelineError::Sfm(s) => ServerError::BadInput(s.to_string()),
    })?;
    if let Some((n, b, t)) = current.take() {
        b.finish();
        times.push((n, t.elapsed().as_secs_f64() * 1e3));
    }
    let time_of = |name: &str| -> f64 { times.iter().filter(|t| t.0 == name).map(|t| t.1).sum() };
    let (ms_features, ms_matching) = (time_of("features"), time_of("matching"));
    let ms_verification = time_of("verification");
    let ms_bundle_adjustment = time_of("bundle adjustment");
    let ms_mapping = ms_verification + time_of("mapping") + ms_bundle_adjustment;
    let ms_total = t0.elapsed().as_secs_f64() * 1e3;
    let rec = result.reconstruction;
    let sparse = args.out.join("sparse/0");
    std::fs::create_dir_all(&sparse)?;
    colmap::write_model(&sparse, &rec, colmap::ModelFormat::Binary)
        .map_err(|e| ServerError::Internal(format!("writing the COLMAP model: {e}")))?;
    let tj = transforms::write_transforms(&rec)
        .map_err(|e| ServerError::Internal(format!("writing transforms.json: {e}")))?;
    std::fs::write(args.out.join("transforms.json"), tj)?;
    std::fs::write(args.out.join("points.ply"), pipeline::points_ply(&rec))?;
    let evaluation = match &args.reference {
        Some(path) => Some(
            evaluate(&rec, &reference_poses(path)?)
                .map_err(|e| ServerError::BadInput(format!("evaluation: {e}")))?,
        ),
        None => None,
    };
    let summary = SfmSummary {
        photos: photos.len(),
        registered: rec.images.len(),
        points: rec.points3d.len(),
        observations: rec.points3d.values().map(|p| p.track.len()).sum(),
        rms_reprojection_px: result.rms_reprojection_px,
        matched_pairs: result.matched_pairs,
        verified_pairs: result.verified_pairs,
        unregistered: result.unregistered,
        ms_features,
        ms_matching,
        ms_mapping,
        ms_verification,
        ms_bundle_adjustment,
        ms_total,
        evaluation,
    };
    std::fs::write(
        args.out.join("sfm.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    println!(
        "registered {} of {} photos, {} points, {:.2} px RMS reprojection; features {:.1} s, matching {:.1} s, mapping {:.1} s -> {}",
        summary.registered,
        summary.photos,
        summary.points,
        summary.rms_reprojection_px,
        ms_features / 1e3,
        ms_matching / 1e3,
        ms_mapping / 1e3,
        args.out.display()
    );
    if let Some(e) = &summary.evaluation {
        println!(
            "  vs reference: {} of {} registered; rotation error median {:.3}° max {:.3}°; centre error median {:.4} % max {:.4} % of the scene extent",
            e.matched_count,
            e.reference_count,
            e.rotation_error_deg.median,
            e.rotation_error_deg.max,
            e.center_error.median * 100.0,
            e.center_error.max * 100.0
        );
    }
    for u in &summary.unregistered {
        println!("  not registered: {}: {}", u.name, u.reason);
    }
    Ok(())
}

/// The JPEG and PNG files in `dir`, sorted by name (a photo set).
pub fn photo_paths(dir: &std::path::Path) -> Result<Vec<PathBuf>, ServerError> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    paths.sort();
    Ok(paths)
}
