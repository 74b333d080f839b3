//! Why bundle adjustment refused a reconstruction or its options.

use crate::sfm::camera::CameraError;

/// Inconsistent input to [`bundle_adjust`](super::bundle_adjust); the reconstruction is left
/// untouched when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    /// An option names an image that is not in the reconstruction.
    #[error("image {0} named in the options is not in the reconstruction")]
    UnknownImage(u32),
    /// The scale coordinate must be 0, 1 or 2.
    #[error("translation coordinate {0} does not exist (0, 1 or 2)")]
    BadScaleCoordinate(usize),
    /// A track refers to an image that is not in the reconstruction.
    #[error("point {point3d_id} is observed in image {image_id}, which is not registered")]
    MissingImage { point3d_id: u64, image_id: u32 },
    /// A track refers to a 2D point past the end of its image's list.
    #[error("point {point3d_id} refers to 2D point {point2d_idx} of image {image_id}, which does not exist")]
    MissingPoint2D {
        point3d_id: u64,
        image_id: u32,
        point2d_idx: u32,
    },
    /// An image refers to a camera that is not in the reconstruction.
    #[error("image {image_id} uses camera {camera_id}, which does not exist")]
    MissingCamera { image_id: u32, camera_id: u32 },
    /// A camera's intrinsics are invalid.
    #[error("camera {camera_id}: {source}")]
    InvalidCamera { camera_id: u32, source: CameraError },
    /// A pose holds NaN or infinite values.
    #[error("image {0} has a non-finite pose")]
    NonFinitePose(u32),
    /// A 3D point holds NaN or infinite coordinates.
    #[error("point {0} has non-finite coordinates")]
    NonFinitePoint(u64),
    /// An observed 2D position holds NaN or infinite coordinates.
    #[error("2D point {point2d_idx} of image {image_id} is not finite")]
    NonFiniteObservation { image_id: u32, point2d_idx: u32 },
    /// The loss scale must be positive and finite.
    #[error("robust loss scale must be positive and finite, got {0}")]
    BadLossScale(f64),
    /// The cost at the start is not finite (absurd magnitudes in the input).
    #[error("the initial cost is not finite")]
    NonFiniteCost,
}
