//! Camera models as COLMAP names and numbers them, with COLMAP's parameter order.

use serde::{Deserialize, Serialize};

/// COLMAP's camera model ids and parameter orders (`colmap/sensor/models.h`):
/// - `SimplePinhole` (0): f, cx, cy
/// - `Pinhole` (1): fx, fy, cx, cy
/// - `SimpleRadial` (2): f, cx, cy, k
/// - `Radial` (3): f, cx, cy, k1, k2
/// - `OpenCv` (4): fx, fy, cx, cy, k1, k2, p1, p2
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CameraModel {
    SimplePinhole,
    Pinhole,
    SimpleRadial,
    Radial,
    OpenCv,
}

impl CameraModel {
    /// Every supported model.
    pub const ALL: [CameraModel; 5] = [
        CameraModel::SimplePinhole,
        CameraModel::Pinhole,
        CameraModel::SimpleRadial,
        CameraModel::Radial,
        CameraModel::OpenCv,
    ];

    /// COLMAP's numeric model id (binary files).
    pub fn id(self) -> i32 {
        match self {
            CameraModel::SimplePinhole => 0,
            CameraModel::Pinhole => 1,
            CameraModel::SimpleRadial => 2,
            CameraModel::Radial => 3,
            CameraModel::OpenCv => 4,
        }
    }

    /// The model with COLMAP id `id`, if supported.
    pub fn from_id(id: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.id() == id)
    }

    /// COLMAP's model name (text files).
    pub fn name(self) -> &'static str {
        match self {
            CameraModel::SimplePinhole => "SIMPLE_PINHOLE",
            CameraModel::Pinhole => "PINHOLE",
            CameraModel::SimpleRadial => "SIMPLE_RADIAL",
            CameraModel::Radial => "RADIAL",
            CameraModel::OpenCv => "OPENCV",
        }
    }

    /// The model named `name` (COLMAP spelling), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Number of parameters.
    pub fn param_count(self) -> usize {
        match self {
            CameraModel::SimplePinhole => 3,
            CameraModel::Pinhole => 4,
            CameraModel::SimpleRadial => 4,
            CameraModel::Radial => 5,
            CameraModel::OpenCv => 8,
        }
    }
}

/// One set of intrinsics, shared by the images taken with the same device at the same size.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub id: u32,
    pub model: CameraModel,
    pub width: u64,
    pub height: u64,
    /// In the model's COLMAP order; `params.len() == model.param_count()`.
    pub params: Vec<f64>,
}
