//! Posed training data for Gaussian-splat training: views (a pinhole [`Camera`] and its photo as
//! packed RGBA8), the train / test split, the initial point cloud and the initial splat
//! parameters in the GPU layout of [`crate::train`].
//!
//! The protocol is the peer trainer's (`shared/peers/gsplat_train.py`, gsplat 1.5.3):
//! - photos are undistorted exactly like OpenCV's `cv2.undistort(img, K, dist)` (output camera =
//!   input K, 1/32-pixel fixed-point bilinear sampling, black outside the photo; see
//!   [`undistort_rgba8`]), so every view is a pinhole camera;
//! - views are sorted by name and every 8th (`index % 8 == 0`) is held out for testing;
//! - without SfM points, 100k points are drawn uniformly in a cube of half-size
//!   3 × [`SceneExtent::scale`] around the mean camera centre, with random colours;
//! - splats start at opacity 0.1, isotropic scale = RMS distance to the 3 nearest neighbours,
//!   random rotations `normalize(uniform[0,1)⁴)`, SH DC from the colour, higher bands zero.
//!
//! What is portable (runs in the browser on photos it already has): [`undistort_rgba8`],
//! [`downscale_rgba8`], [`TrainView::from_photo`], [`TrainDataset::from_views`],
//! [`TrainDataset::from_reconstruction`], [`scene_extent`], [`random_points`], [`init_splats`],
//! [`knn3_mean_sq_dist`], and reading a dataset from files in memory ([`TrainDataset::load_from`] on
//! a [`MemorySource`]: what a person picked in the browser). Reading folders
//! ([`TrainDataset::load`]) is native only; the layouts both accept are listed there. File formats are parsed by [`crate::sfm::transforms`] and
//! [`crate::sfm::colmap`], photos decoded by [`crate::images::decode_image`], distortion is the
//! camera model of [`crate::sfm::camera`].

mod init;
mod load;
mod source;
#[cfg(test)]
mod tests;
mod undistort;

pub use init::{init_splats, knn3_mean_sq_dist, INIT_OPACITY};
#[cfg(not(target_arch = "wasm32"))]
pub use source::FolderSource;
pub use source::{DatasetSource, MemorySource};
pub use undistort::{
    downscale_rgba8, has_distortion, pack_rgba8, source_position_fixed, undistort_rgba8,
    SUBPIXEL_STEPS,
};

use std::path::PathBuf;

use glam::{DMat4, DVec3};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::images::{DecodedImage, ImageError};
use crate::render::Camera;
use crate::sfm::colmap::ColmapError;
use crate::sfm::transforms::TransformsError;
use crate::sfm::{CameraError, Reconstruction};
use crate::train::adam::SplatData;

/// One posed training photo, undistorted to a pinhole camera.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainView {
    /// The image's name as the dataset spells it (`file_path` of transforms.json, the COLMAP
    /// image name); views are ordered by it.
    pub name: String,
    /// Pinhole intrinsics of `rgba` (after undistortion and downscaling) and the pose.
    pub camera: Camera,
    /// `camera.width × camera.height` pixels, row-major from the top-left, RGBA8 packed with R in
    /// the low byte (what the GPU loss reads as `array<u32>`). Alpha is undistorted like the
    /// colours: 0 where the undistorted image has no source pixel (cv2.undistort's black
    /// border), 255 elsewhere for opaque photos.
    pub rgba: Vec<u32>,
}

/// Where the initial points came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointsSource {
    /// The SfM model's 3D points (COLMAP `points3D`).
    Sfm,
    /// Uniform random points in the cube around the cameras ([`random_points`]).
    Random,
}

/// Training and test views with the initial point cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainDataset {
    /// Views trained on, in name order.
    pub train: Vec<TrainView>,
    /// Held-out views (every `holdout_every`-th by name, starting with the first), in name order.
    pub test: Vec<TrainView>,
    /// Initial splat centres.
    pub points: Vec<[f32; 3]>,
    /// Their colours, RGB in 0..=1.
    pub colors: Vec<[f32; 3]>,
    /// Whether `points` are the SfM model's or random.
    pub points_source: PointsSource,
    /// 1.1 × the largest distance of a camera centre (train and test) from their mean: the
    /// length scale of the position learning rate and of densification.
    pub scene_scale: f32,
    /// Mean camera centre.
    pub center: [f32; 3],
}

/// How a dataset is read and split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Integer downscale of every photo after undistortion (area average over `f × f` blocks;
    /// intrinsics divided by `f`; a right / bottom remainder narrower than `f` is cropped).
    /// At least 1.
    pub downscale: u32,
    /// If set, the factor is raised (per view) to the smallest integer that brings the longer
    /// side down to at most this many pixels.
    pub max_side: Option<u32>,
    /// Hold out the views whose index (in name order) is a multiple of this for testing; `None`
    /// trains on every view. The peer protocol uses 8.
    pub holdout_every: Option<usize>,
    /// Random points drawn when the dataset has no SfM points.
    pub random_points: usize,
    /// Seed of the random points and colours.
    pub seed: u64,
}

impl Default for LoadOptions {
    /// Full resolution, every 8th view held out, 100k random points, seed 0.
    fn default() -> Self {
        LoadOptions {
            downscale: 1,
            max_side: None,
            holdout_every: Some(8),
            random_points: 100_000,
            seed: 0,
        }
    }
}

impl LoadOptions {
    /// Rejects a zero downscale, max side or holdout period.
    pub fn validate(&self) -> Result<(), DatasetError> {
        if self.downscale == 0 {
            return Err(DatasetError::InvalidOptions(
                "downscale must be at least 1".into(),
            ));
        }
        if self.max_side == Some(0) {
            return Err(DatasetError::InvalidOptions(
                "max_side must be at least 1".into(),
            ));
        }
        if self.holdout_every == Some(0) {
            return Err(DatasetError::InvalidOptions(
                "holdout_every must be at least 1 (None for no holdout)".into(),
            ));
        }
        Ok(())
    }

    /// The downscale factor for a photo of `width × height`: `downscale`, raised to honour
    /// `max_side`.
    pub fn factor_for(&self, width: u32, height: u32) -> u32 {
        let base = self.downscale.max(1);
        match self.max_side {
            Some(m) if m > 0 => base.max(width.max(height).div_ceil(m)),
            _ => base,
        }
    }
}

/// Why a dataset could not be loaded. Every failure on input data ends here, with the file or
/// view it concerns.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("dataset folder {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{dir}: no dataset found (looked for transforms.json, and for a COLMAP model — cameras.bin or cameras.txt — in sparse/0/, sparse/ and the folder itself)")]
    NoDataset { dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Transforms {
        path: PathBuf,
        source: TransformsError,
    },
    #[error("COLMAP model: {0}")]
    Colmap(#[from] ColmapError),
    #[error("COLMAP model in {model}: no images folder (tried {tried})")]
    NoImageFolder { model: PathBuf, tried: String },
    #[error("view {name}: image file {path} does not exist")]
    MissingImage { name: String, path: PathBuf },
    #[error("view {name}: {path}: {source}")]
    Image {
        name: String,
        path: PathBuf,
        source: ImageError,
    },
    #[error("view {name}: the photo is {got_width}x{got_height} pixels but its camera is {want_width}x{want_height}")]
    ImageSize {
        name: String,
        got_width: u32,
        got_height: u32,
        want_width: u64,
        want_height: u64,
    },
    #[error("view {name}: camera: {source}")]
    Camera { name: String, source: CameraError },
    #[error("view {name}: {reason}")]
    InvalidView { name: String, reason: String },
    #[error("the dataset has no views")]
    NoViews,
    #[error("invalid load options: {0}")]
    InvalidOptions(String),
}

/// Mean camera centre and the peer's scene scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneExtent {
    /// Mean of the camera centres.
    pub center: [f32; 3],
    /// 1.1 × the largest distance of a centre from `center` (gsplat's `scene_scale`).
    pub scale: f32,
}

/// [`SceneExtent`] of camera centres (computed in f64); the origin and scale 0 when empty.
pub fn scene_extent(centers: &[[f64; 3]]) -> SceneExtent {
    if centers.is_empty() {
        return SceneExtent {
            center: [0.0; 3],
            scale: 0.0,
        };
    }
    let mean = centers.iter().map(|c| DVec3::from(*c)).sum::<DVec3>() / centers.len() as f64;
    let max = centers
        .iter()
        .map(|c| (DVec3::from(*c) - mean).length())
        .fold(0.0f64, f64::max);
    SceneExtent {
        center: mean.as_vec3().to_array(),
        scale: (1.1 * max) as f32,
    }
}

/// The peer's scene scale of `views`: 1.1 × the largest distance of a camera centre from their
/// mean.
pub fn scene_scale(views: &[&TrainView]) -> f32 {
    let centers: Vec<[f64; 3]> = views.iter().map(|v| camera_center(&v.camera)).collect();
    scene_extent(&centers).scale
}

/// The camera centre in world space, in f64 (the inverse of the f32 pose, widened).
fn camera_center(camera: &Camera) -> [f64; 3] {
    camera
        .world_to_camera
        .as_dmat4()
        .inverse()
        .w_axis
        .truncate()
        .to_array()
}

/// `n` points uniform in the cube of half-size `3 × extent.scale` around `extent.center`, with
/// colours uniform in [0, 1) (the peer: `(rand·2 − 1)·3·scene_scale + mean` and
/// `sh0 = (rand − 0.5)/C0`). Deterministic for a seed.
pub fn random_points(n: usize, extent: SceneExtent, seed: u64) -> (Vec<[f32; 3]>, Vec<[f32; 3]>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let half = 3.0 * extent.scale;
    let c = extent.center;
    let points = (0..n)
        .map(|_| std::array::from_fn(|a| (rng.random::<f32>() * 2.0 - 1.0) * half + c[a]))
        .collect();
    let colors = (0..n)
        .map(|_| std::array::from_fn(|_| rng.random::<f32>()))
        .collect();
    (points, colors)
}

/// Whether the view at `index` (name order) is held out for testing: every `every`-th from
/// index 0; never for `None`.
pub fn is_held_out(index: usize, every: Option<usize>) -> bool {
    matches!(every, Some(k) if k > 0 && index.is_multiple_of(k))
}

/// The 4×4 world → camera matrix of a transforms.json `transform_matrix` (rows, OpenGL
/// camera-to-world): right-multiplied by diag(1, −1, −1, 1) to OpenCV axes, then inverted in
/// f64, exactly as the peer does.
pub fn world_to_camera_from_opengl(rows: &[[f64; 4]; 4]) -> DMat4 {
    let c2w = DMat4::from_cols_array_2d(rows).transpose()
        * DMat4::from_diagonal(glam::DVec4::new(1.0, -1.0, -1.0, 1.0));
    c2w.inverse()
}

/// The camera of `image` in `rec`, or [`DatasetError::InvalidView`] naming the missing camera.
pub(crate) fn camera_of<'a>(
    rec: &'a Reconstruction,
    image: &crate::sfm::Image,
) -> Result<&'a crate::sfm::Camera, DatasetError> {
    rec.cameras
        .get(&image.camera_id)
        .ok_or_else(|| DatasetError::InvalidView {
            name: image.name.clone(),
            reason: format!("its camera {} is not in the model", image.camera_id),
        })
}

/// The 4×4 world → camera matrix of a COLMAP `cam_from_world`.
pub fn world_to_camera_from_colmap(cam_from_world: &nalgebra::Isometry3<f64>) -> DMat4 {
    let m = cam_from_world.to_homogeneous();
    DMat4::from_cols_array(&std::array::from_fn(|k| m[(k % 4, k / 4)]))
}

impl TrainView {
    /// A view from a decoded photo (`width × height` RGBA8) taken by `camera` (COLMAP model)
    /// with pose `world_to_camera`: undistorted as `cv2.undistort` does when the model has
    /// distortion, downscaled by [`LoadOptions::factor_for`], packed. The photo must have the
    /// camera's size.
    pub fn from_photo(
        name: String,
        camera: &crate::sfm::Camera,
        world_to_camera: DMat4,
        rgba8: &[u8],
        width: u32,
        height: u32,
        options: &LoadOptions,
    ) -> Result<TrainView, DatasetError> {
        options.validate()?;
        camera.validate().map_err(|source| DatasetError::Camera {
            name: name.clone(),
            source,
        })?;
        if (u64::from(width), u64::from(height)) != (camera.width, camera.height) {
            return Err(DatasetError::ImageSize {
                name,
                got_width: width,
                got_height: height,
                want_width: camera.width,
                want_height: camera.height,
            });
        }
        if rgba8.len() as u64 != u64::from(width) * u64::from(height) * 4 {
            return Err(DatasetError::InvalidView {
                name,
                reason: format!(
                    "{} bytes of pixels for a {width}x{height} RGBA8 image",
                    rgba8.len()
                ),
            });
        }
        if !world_to_camera.is_finite() || world_to_camera.determinant().abs() < 1e-12 {
            return Err(DatasetError::InvalidView {
                name,
                reason: "the pose is not an invertible finite transform".into(),
            });
        }
        let factor = options.factor_for(width, height);
        if width / factor == 0 || height / factor == 0 {
            return Err(DatasetError::InvalidOptions(format!(
                "downscale {factor} leaves nothing of the {width}x{height} photo {name}"
            )));
        }
        let undistorted;
        let pixels = if has_distortion(camera) {
            undistorted = undistort_rgba8(rgba8, width, height, camera);
            &undistorted[..]
        } else {
            rgba8
        };
        let (pixels, w, h) = downscale_rgba8(pixels, width, height, factor);
        let (f, c, s) = (
            camera.focal_lengths(),
            camera.principal_point(),
            f64::from(factor),
        );
        let camera = Camera {
            world_to_camera: world_to_camera.as_mat4(),
            fx: (f.x / s) as f32,
            fy: (f.y / s) as f32,
            cx: (c.x / s) as f32,
            cy: (c.y / s) as f32,
            width: w,
            height: h,
        };
        Ok(TrainView {
            name,
            camera,
            rgba: pack_rgba8(&pixels),
        })
    }
}

impl TrainDataset {
    /// Sorts `views` by name, splits them ([`is_held_out`]), computes the scene extent over
    /// all of them and takes `points` (position, colour 0..=1; non-finite ones dropped) or, when
    /// there are none, [`random_points`].
    pub fn from_views(
        mut views: Vec<TrainView>,
        points: Vec<([f32; 3], [f32; 3])>,
        options: &LoadOptions,
    ) -> Result<TrainDataset, DatasetError> {
        options.validate()?;
        if views.is_empty() {
            return Err(DatasetError::NoViews);
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        let centers: Vec<[f64; 3]> = views.iter().map(|v| camera_center(&v.camera)).collect();
        let extent = scene_extent(&centers);
        let finite = |v: &[f32; 3]| v.iter().all(|x| x.is_finite());
        let (points, colors): (Vec<[f32; 3]>, Vec<[f32; 3]>) = points
            .into_iter()
            .filter(|(p, c)| finite(p) && finite(c))
            .unzip();
        let (points, colors, points_source) = if points.is_empty() {
            let (p, c) = random_points(options.random_points, extent, options.seed);
            (p, c, PointsSource::Random)
        } else {
            (points, colors, PointsSource::Sfm)
        };
        let (mut test, mut train) = (Vec::new(), Vec::new());
        for (i, view) in views.into_iter().enumerate() {
            if is_held_out(i, options.holdout_every) {
                test.push(view);
            } else {
                train.push(view);
            }
        }
        Ok(TrainDataset {
            train,
            test,
            points,
            colors,
            points_source,
            scene_scale: extent.scale,
            center: extent.center,
        })
    }

    /// A dataset from an SfM model and its photos, decoded at the cameras' sizes (e.g. the
    /// browser's own reconstruction): one view per model image whose name is among `photos`
    /// (`(name, photo)`), the model's 3D points as initial points (random ones if it has
    /// none). Views are built in parallel natively.
    pub fn from_reconstruction(
        rec: &Reconstruction,
        photos: &[(String, DecodedImage)],
        options: &LoadOptions,
    ) -> Result<TrainDataset, DatasetError> {
        options.validate()?;
        let images: Vec<_> = rec
            .images
            .values()
            .filter_map(|im| {
                let photo = photos.iter().find(|(n, _)| *n == im.name)?;
                Some((im, &photo.1))
            })
            .collect();
        let views = crate::sfm::parallel::map_items(images.len(), &mut |_| {}, |k| {
            let (image, photo) = images[k];
            let camera = camera_of(rec, image)?;
            TrainView::from_photo(
                image.name.clone(),
                camera,
                world_to_camera_from_colmap(&image.cam_from_world),
                &photo.rgba8,
                photo.width,
                photo.height,
                options,
            )
        });
        let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;
        Self::from_views(views, sfm_points(rec), options)
    }

    /// Every view in name order.
    pub fn views_by_name(&self) -> Vec<&TrainView> {
        let mut all: Vec<&TrainView> = self.train.iter().chain(&self.test).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The peer's scene scale (see the field).
    pub fn scene_scale(&self) -> f32 {
        self.scene_scale
    }

    /// [`init_splats`] on this dataset's points.
    pub fn init_splats(&self, seed: u64) -> SplatData {
        init_splats(&self.points, &self.colors, seed)
    }
}

/// The 3D points of an SfM model with their colours in 0..=1, in id order.
pub fn sfm_points(rec: &Reconstruction) -> Vec<([f32; 3], [f32; 3])> {
    rec.points3d
        .values()
        .map(|p| {
            (
                [p.xyz.x as f32, p.xyz.y as f32, p.xyz.z as f32],
                p.color.map(|c| f32::from(c) / 255.0),
            )
        })
        .collect()
}
