//! Structure-from-Motion: from matched photos to camera intrinsics, poses and a sparse point
//! cloud, in COLMAP's terms (cameras, images, points3D) so models move freely between Splatpod,
//! COLMAP and nerfstudio.
//!
//! - [`model`]: the reconstruction (cameras, posed images with their 2D points, 3D points with
//!   tracks).
//! - [`camera`]: COLMAP camera models, projection and unprojection with distortion.
//! - [`geometry`]: minimal solvers (E, F, H, P3P), LO-RANSAC, triangulation, two-view geometry.
//! - [`bundle`]: bundle adjustment (Levenberg–Marquardt, Schur complement, robust losses).
//! - [`mapper`]: incremental mapping (verification, registration, triangulation, bundle
//!   adjustment) with honest failure reports.
//! - [`prepare`], [`pipeline`]: from photos to the mapper's input (GPU SIFT, matching, shared
//!   cameras with EXIF focal priors) and from the model to coloured points.
//! - [`colmap`]: COLMAP sparse models (binary and text) read and written exactly.
//! - [`transforms`]: nerfstudio / instant-ngp `transforms.json` (intrinsics, OpenGL
//!   camera-to-world poses).
//! - [`reference`], [`evaluate`]: reference poses (Strecha ground truth) and accuracy metrics.

pub mod bundle;
pub mod camera;
pub mod colmap;
pub mod evaluate;
pub mod geometry;
pub mod mapper;
pub mod model;
pub mod parallel;
pub mod pipeline;
pub mod prepare;
pub mod reference;
pub mod transforms;

pub use bundle::{
    bundle_adjust, BundleError, BundleOptions, BundleReport, LossFunction, Termination,
};
pub use camera::{Camera, CameraError, CameraModel};
pub use model::{Image, Point2D, Point3D, Reconstruction, TrackElement};
