//! Multiple-view geometry for Structure-from-Motion: minimal and non-minimal solvers (essential,
//! fundamental, homography, absolute pose), a LO-RANSAC with MSAC scoring, triangulation and
//! two-view geometry classification.
//!
//! Conventions: f64; solvers take normalized image coordinates (pixels unprojected through the
//! camera model: x right, y down, z forward) except where pixel coordinates are named; a relative
//! pose (R, t) maps camera-1 coordinates to camera-2 (x2 = R x1 + t) and E = [t]x R so that
//! x2ᵀ E x1 = 0; absolute poses are `cam_from_world` as in [`super::model`].

pub mod absolute_pose;
pub mod epipolar;
pub mod essential;
pub mod essential_refine;
pub mod fundamental;
pub mod homography;
mod linalg;
pub mod ransac;
pub mod triangulation;
pub mod two_view;

#[cfg(test)]
mod tests;

pub use absolute_pose::{
    estimate_absolute_pose, p3p, refine_absolute_pose, AbsolutePose, AbsolutePoseEstimator,
    AbsolutePoseOptions,
};
pub use epipolar::{EpipolarEstimator, EpipolarMatrix};
pub use essential::{
    decompose_essential, essential_eight_point, essential_five_point, essential_from_pose,
    relative_pose_from_essential, sampson_error, RelativePose,
};
pub use essential_refine::refine_relative_pose;
pub use fundamental::{fundamental_eight_point, fundamental_seven_point};
pub use homography::{homography_dlt, symmetric_transfer_error, HomographyEstimator};
pub use ransac::{ransac, Estimator, RansacOptions, RansacResult};
pub use triangulation::{
    depth, reprojection_error_sq, triangulate_checked, triangulate_multi_view, triangulate_point,
    triangulation_angle, TriangulationError, TriangulationOptions,
};
pub use two_view::{estimate_two_view, TwoViewConfig, TwoViewGeometry, TwoViewOptions};
