//! The feature stage as the mapper wants it, on the GPU: SIFT per photo, descriptor matching per
//! selected pair, then point colours from the photos once the model exists. Shared by the CLI,
//! the server's `sfm` job and the end-to-end tests.

use super::Reconstruction;
use crate::features::sift::SiftParams;
use crate::features::{
    select_pairs, ImageFeatures, MatchOptions, PairMatcher, PairMode, SiftGpu, PAIRS_PER_BATCH,
};
use crate::gpu::{GpuContext, GpuError};
use crate::images::DecodedImage;

/// SIFT features of a decoded photo on the GPU (natively on a software adapter, the native CPU
/// pipeline that [`SiftGpu`] picks there).
pub async fn extract(
    ctx: &GpuContext,
    sift: &SiftGpu,
    photo: &DecodedImage,
    params: &SiftParams,
) -> Result<ImageFeatures, GpuError> {
    let (keypoints, descriptors) = sift
        .detect_and_describe(ctx, &photo.gray, photo.width, photo.height, params)
        .await?;
    Ok(ImageFeatures {
        keypoints,
        descriptors,
        scale: photo.width as f64 / photo.original_width.max(1) as f64,
        width: photo.width,
        height: photo.height,
    })
}

/// Photos whose SIFT runs at once natively: each extraction waits on a few readbacks, so while
/// one waits another prepares its buffers and dispatches (the GPU is shared). A quarter of the
/// cores, 2 to 4 (about 0.4 GB of GPU memory each for a 1600-px photo with the doubled octave;
/// on the H200 pod 4 gave 21 ms per photo, 8 gave 25).
#[cfg(not(target_arch = "wasm32"))]
fn concurrent_extractions() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores / 4).clamp(2, 4)
}

/// SIFT features of every photo, in order; `progress(done, total)` as they finish. Natively
/// several photos (`concurrent_extractions`) are in flight at once (on threads of their own, each
/// blocking on its readbacks); in the browser one after another.
pub async fn extract_all(
    ctx: &GpuContext,
    sift: &SiftGpu,
    photos: &[&DecodedImage],
    params: &SiftParams,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<ImageFeatures>, GpuError> {
    let total = photos.len();
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        // The first error ends the stage: photos not yet started are skipped.
        let failed = AtomicBool::new(false);
        let results = super::parallel::map_items_on_threads(
            total,
            concurrent_extractions(),
            &mut |done| progress(done, total),
            |k| {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let result = pollster::block_on(extract(ctx, sift, photos[k], params));
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(result)
            },
        );
        // Only an error skips photos, so a skipped one always comes with an `Err` here.
        results.into_iter().flatten().collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut out = Vec::with_capacity(total);
        for (k, photo) in photos.iter().enumerate() {
            out.push(extract(ctx, sift, photo, params).await?);
            progress(k + 1, total);
        }
        Ok(out)
    }
}

/// Ratio-tested mutual matches of the pairs `mode` selects, in batches on the GPU (every
/// image's descriptors uploaded once); `progress(done, total)` after each batch.
pub async fn match_pairs(
    ctx: &GpuContext,
    features: &[ImageFeatures],
    mode: PairMode,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<(usize, usize, Vec<[u32; 2]>)>, GpuError> {
    let pairs = select_pairs(features.len() as u32, mode, 200_000)
        .map_err(|e| GpuError::Unsupported(e.to_string()))?;
    let sets: Vec<&crate::features::Descriptors> =
        features.iter().map(|f| &f.descriptors).collect();
    // Reported at the start too, so that a caller timing stages by their reports counts the
    // upload and the first batch as matching.
    progress(0, pairs.len());
    let matcher = PairMatcher::new(ctx, &sets)?;
    let mut out = Vec::with_capacity(pairs.len());
    for batch in pairs.chunks(PAIRS_PER_BATCH) {
        let matches = matcher
            .match_batch(ctx, batch, &MatchOptions::default())
            .await?;
        for (&(a, b), m) in batch.iter().zip(matches) {
            out.push((
                a as usize,
                b as usize,
                m.iter().map(|m| [m.query, m.train]).collect(),
            ));
        }
        progress(out.len(), pairs.len());
    }
    Ok(out)
}

/// Colours every 3D point from the first photo that observes it (`photos[image id - 1]`, the
/// decoded photo whose keypoints the model used).
pub fn color_points(rec: &mut Reconstruction, photos: &[&DecodedImage]) {
    for p in rec.points3d.values_mut() {
        let Some(t) = p.track.first() else {
            continue;
        };
        let (Some(img), Some(photo)) = (
            rec.images.get(&t.image_id),
            photos.get(t.image_id as usize - 1),
        ) else {
            continue;
        };
        let Some(obs) = img.points2d.get(t.point2d_idx as usize) else {
            continue;
        };
        let sx = photo.width as f64 / photo.original_width.max(1) as f64;
        let sy = photo.height as f64 / photo.original_height.max(1) as f64;
        let x = (obs.xy.x * sx - 0.5).round();
        let y = (obs.xy.y * sy - 0.5).round();
        if x < 0.0 || y < 0.0 || x >= photo.width as f64 || y >= photo.height as f64 {
            continue;
        }
        let i = (y as usize * photo.width as usize + x as usize) * 4;
        if let Some(px) = photo.rgba8.get(i..i + 3) {
            p.color = [px[0], px[1], px[2]];
        }
    }
}

/// The points as a binary little-endian PLY (x, y, z as float; red, green, blue as uchar), the
/// form splat trainers and viewers read as an initial cloud.
pub fn points_ply(rec: &Reconstruction) -> Vec<u8> {
    let header = format!(
        "ply\nformat binary_little_endian 1.0\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n",
        rec.points3d.len()
    );
    let mut out = Vec::with_capacity(header.len() + rec.points3d.len() * 15);
    out.extend_from_slice(header.as_bytes());
    for p in rec.points3d.values() {
        for c in p.xyz.iter() {
            out.extend_from_slice(&(*c as f32).to_le_bytes());
        }
        out.extend_from_slice(&p.color);
    }
    out
}

/// Where [`reconstruct_photos`] stands.
#[derive(Debug, Clone, PartialEq)]
pub enum PipelineProgress {
    /// `done` of `total` photos have features.
    Features { done: usize, total: usize },
    /// `done` of `total` pairs are matched.
    Matching { done: usize, total: usize },
    /// The mapper's own progress.
    Mapping(super::mapper::SfmProgress),
}

/// Why [`reconstruct_photos`] gave no model.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Sfm(#[from] super::mapper::SfmError),
}

/// The whole pipeline on decoded photos: GPU SIFT, matching of the pairs `mode` selects,
/// shared cameras with EXIF focal priors, the incremental mapper, point colours.
pub async fn reconstruct_photos(
    ctx: &GpuContext,
    photos: &[(String, DecodedImage)],
    params: &SiftParams,
    mode: PairMode,
    options: &super::mapper::MapperOptions,
    progress: &mut dyn FnMut(PipelineProgress),
) -> Result<super::mapper::SfmResult, PipelineError> {
    let (features, pairs) = features_and_matches(ctx, photos, params, mode, progress).await?;
    Ok(map_photos(photos, &features, pairs, options, progress)?)
}

/// The GPU half of [`reconstruct_photos`]: SIFT features of every photo and the matches of the
/// pairs `mode` selects.
pub async fn features_and_matches(
    ctx: &GpuContext,
    photos: &[(String, DecodedImage)],
    params: &SiftParams,
    mode: PairMode,
    progress: &mut dyn FnMut(PipelineProgress),
) -> Result<FeaturesAndMatches, GpuError> {
    let sift = SiftGpu::new(ctx);
    progress(PipelineProgress::Features {
        done: 0,
        total: photos.len(),
    });
    let decoded: Vec<&DecodedImage> = photos.iter().map(|(_, d)| d).collect();
    let features = extract_all(ctx, &sift, &decoded, params, &mut |done, total| {
        progress(PipelineProgress::Features { done, total })
    })
    .await?;
    let pairs = match_pairs(ctx, &features, mode, &mut |done, total| {
        progress(PipelineProgress::Matching { done, total })
    })
    .await?;
    Ok((features, pairs))
}

/// Every photo's features and the matches of each matched pair (`a`, `b`, keypoint index
/// pairs).
pub type FeaturesAndMatches = (Vec<ImageFeatures>, Vec<(usize, usize, Vec<[u32; 2]>)>);

/// The CPU half of [`reconstruct_photos`]: shared cameras with EXIF focal priors, the
/// incremental mapper and point colours, from [`features_and_matches`]' output.
pub fn map_photos(
    photos: &[(String, DecodedImage)],
    features: &[ImageFeatures],
    pairs: Vec<(usize, usize, Vec<[u32; 2]>)>,
    options: &super::mapper::MapperOptions,
    progress: &mut dyn FnMut(PipelineProgress),
) -> Result<super::mapper::SfmResult, super::mapper::SfmError> {
    let featured: Vec<super::prepare::FeaturedImage<'_>> = photos
        .iter()
        .zip(features)
        .map(|((name, photo), f)| super::prepare::FeaturedImage {
            name: name.clone(),
            features: f,
            original_size: (photo.original_width, photo.original_height),
            focal_35mm: photo.focal.focal_35mm.map(f64::from),
        })
        .collect();
    let input = super::prepare::sfm_input(&featured, pairs);
    let mut result = super::mapper::reconstruct(&input, options, &mut |p| {
        progress(PipelineProgress::Mapping(p))
    })?;
    let decoded: Vec<&DecodedImage> = photos.iter().map(|(_, d)| d).collect();
    color_points(&mut result.reconstruction, &decoded);
    Ok(result)
}
