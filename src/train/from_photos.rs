//! Unposed photos → a posed training dataset, in one call: GPU SIFT, matching, the incremental
//! mapper ([`crate::sfm::pipeline::reconstruct_photos`], the same stages the server's `sfm` job
//! runs) and [`TrainDataset::from_reconstruction`]. What the browser runs when it trains a
//! capture on its own device; testable natively on the same photos.
//!
//! The photos are taken at their decoded size: the model's cameras are in the decoded pixels
//! (not the originals), so the same decoded photos become the training views without decoding
//! them again.

use crate::features::sift::SiftParams;
use crate::features::PairMode;
use crate::gpu::GpuContext;
use crate::images::DecodedImage;
use crate::sfm::mapper::{MapperOptions, SfmProgress, UnregisteredImage};
use crate::sfm::pipeline::{features_and_matches, map_photos, PipelineError, PipelineProgress};
use crate::sfm::Reconstruction;
use crate::train::dataset::{DatasetError, LoadOptions, TrainDataset};

/// How photos become a dataset.
#[derive(Debug, Clone)]
pub struct PhotosToDataset {
    /// SIFT settings of the feature stage.
    pub sift: SiftParams,
    /// Which pairs are matched.
    pub pairs: PairMode,
    /// The mapper's settings.
    pub mapper: MapperOptions,
    /// How the registered photos become views (training size, held-out views).
    pub load: LoadOptions,
}

/// A posed capture: the training dataset and the model it came from.
#[derive(Debug, Clone)]
pub struct PosedCapture {
    /// The registered photos as training views, the model's points as initial splats.
    pub dataset: TrainDataset,
    /// The SfM model (cameras in the decoded photos' pixels).
    pub reconstruction: Reconstruction,
    /// Photos the mapper could not place, with its reason for each.
    pub unregistered: Vec<UnregisteredImage>,
}

/// Why photos gave no dataset.
#[derive(Debug, thiserror::Error)]
pub enum PhotosToDatasetError {
    /// Features, matching or the mapper failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The model's photos could not become training views.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}

/// Awaited between the stages: a caller on one thread (the browser) paints the stage it was
/// just told of before the next one, which may block (the mapper), starts.
pub type Pause<'a> = &'a dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// Photos (`(name, decoded photo)`, names unique) → features → matches → [`Reconstruction`] →
/// [`TrainDataset`], the stages of [`crate::sfm::pipeline::reconstruct_photos`]; `progress`
/// reports them (features, matching, mapping) and `pause` is awaited before the mapper and
/// before the views are made.
pub async fn photos_to_dataset(
    ctx: &GpuContext,
    mut photos: Vec<(String, DecodedImage)>,
    options: &PhotosToDataset,
    progress: &mut dyn FnMut(PipelineProgress),
    pause: Pause<'_>,
) -> Result<PosedCapture, PhotosToDatasetError> {
    // The decoded photos are the model's images: cameras and keypoints in their pixels.
    for (_, photo) in &mut photos {
        photo.original_width = photo.width;
        photo.original_height = photo.height;
    }
    let (features, pairs) =
        features_and_matches(ctx, &photos, &options.sift, options.pairs, progress)
            .await
            .map_err(PipelineError::from)?;
    progress(PipelineProgress::Mapping(SfmProgress {
        stage: "verification",
        fraction: 0.0,
        message: "verifying the matched pairs".into(),
    }));
    pause().await;
    let result = map_photos(&photos, &features, pairs, &options.mapper, progress)
        .map_err(PipelineError::from)?;
    drop(features);
    pause().await;
    let dataset =
        TrainDataset::from_reconstruction(&result.reconstruction, &photos, &options.load)?;
    Ok(PosedCapture {
        dataset,
        reconstruction: result.reconstruction,
        unregistered: result.unregistered,
    })
}
