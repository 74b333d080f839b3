//! Camera models as COLMAP names and numbers them, with COLMAP's parameter order, and their
//! projection (normalized camera coordinates ↔ pixels, with lens distortion) and its analytic
//! Jacobians for bundle adjustment.

use nalgebra::{Matrix2, SMatrix, Vector2, Vector3};
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

    /// Indices of the focal length parameter(s) (f, or fx and fy).
    pub fn focal_indices(self) -> &'static [usize] {
        match self {
            CameraModel::SimplePinhole | CameraModel::SimpleRadial | CameraModel::Radial => &[0],
            CameraModel::Pinhole | CameraModel::OpenCv => &[0, 1],
        }
    }

    /// Indices of the principal point parameters (cx, cy).
    pub fn principal_point_indices(self) -> &'static [usize] {
        match self {
            CameraModel::SimplePinhole | CameraModel::SimpleRadial | CameraModel::Radial => &[1, 2],
            CameraModel::Pinhole | CameraModel::OpenCv => &[2, 3],
        }
    }

    /// Indices of the distortion parameters (none for the pinhole models).
    pub fn extra_indices(self) -> &'static [usize] {
        match self {
            CameraModel::SimplePinhole | CameraModel::Pinhole => &[],
            CameraModel::SimpleRadial => &[3],
            CameraModel::Radial => &[3, 4],
            CameraModel::OpenCv => &[4, 5, 6, 7],
        }
    }
}

/// The most parameters any supported model has (OPENCV's 8): the width of the parameter
/// Jacobian of [`Camera::normalized_to_image_jacobians`].
pub const MAX_PARAMS: usize = 8;

/// Points at or nearer than this depth (camera z) do not project: they are behind the camera or
/// on its centre plane.
pub const MIN_DEPTH: f64 = 1e-12;

/// Newton iterations of the undistortion at most (COLMAP uses 100 as well).
const UNDISTORT_ITERATIONS: usize = 100;

/// Jacobian of a pixel w.r.t. the camera parameters: 2 × [`MAX_PARAMS`], the columns past the
/// model's parameter count are zero.
pub type ParamJacobian = SMatrix<f64, 2, MAX_PARAMS>;

/// Why a set of intrinsics was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    /// The parameter vector does not have the model's length.
    #[error("camera model {model} takes {expected} parameters, got {got}")]
    ParamCount {
        model: &'static str,
        expected: usize,
        got: usize,
    },
    /// A parameter is NaN or infinite.
    #[error("camera parameter {index} is not finite ({value})")]
    NotFinite { index: usize, value: f64 },
    /// A focal length is zero or negative.
    #[error("focal length must be positive, got {0}")]
    NonPositiveFocal(f64),
    /// The image has no pixels.
    #[error("image size {width}x{height} is empty")]
    EmptyImage { width: u64, height: u64 },
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

/// A pixel with its derivatives, what bundle adjustment linearises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectionJacobian {
    /// The pixel position.
    pub pixel: Vector2<f64>,
    /// ∂pixel / ∂(u, v), the normalized point.
    pub d_normalized: Matrix2<f64>,
    /// ∂pixel / ∂params, in the model's parameter order (unused columns zero).
    pub d_params: ParamJacobian,
}

impl Camera {
    /// Intrinsics checked for the model's parameter count, finite values, positive focal
    /// lengths and a non-empty image.
    pub fn new(
        id: u32,
        model: CameraModel,
        width: u64,
        height: u64,
        params: Vec<f64>,
    ) -> Result<Camera, CameraError> {
        let camera = Camera::unchecked(id, model, width, height, params);
        camera.validate()?;
        Ok(camera)
    }

    /// Intrinsics as given, for readers and builders that check the whole model afterwards
    /// ([`Camera::validate`] is what [`Camera::new`] adds).
    pub fn unchecked(
        id: u32,
        model: CameraModel,
        width: u64,
        height: u64,
        params: Vec<f64>,
    ) -> Camera {
        Camera {
            id,
            model,
            width,
            height,
            params,
        }
    }

    /// A prior for a camera of focal length `focal` (pixels): principal point at the image
    /// centre, no distortion, both focal lengths equal for the two-focal models.
    pub fn from_focal(
        id: u32,
        model: CameraModel,
        width: u64,
        height: u64,
        focal: f64,
    ) -> Result<Camera, CameraError> {
        let mut params = vec![0.0; model.param_count()];
        for &i in model.focal_indices() {
            params[i] = focal;
        }
        let pp = model.principal_point_indices();
        params[pp[0]] = width as f64 / 2.0;
        params[pp[1]] = height as f64 / 2.0;
        Camera::new(id, model, width, height, params)
    }

    /// Checks what [`Camera::new`] checks, for cameras built field by field (e.g. read from a
    /// file) before they are used in computations.
    pub fn validate(&self) -> Result<(), CameraError> {
        let expected = self.model.param_count();
        if self.params.len() != expected {
            return Err(CameraError::ParamCount {
                model: self.model.name(),
                expected,
                got: self.params.len(),
            });
        }
        if let Some((index, &value)) = self.params.iter().enumerate().find(|(_, p)| !p.is_finite())
        {
            return Err(CameraError::NotFinite { index, value });
        }
        for &i in self.model.focal_indices() {
            if self.params[i] <= 0.0 {
                return Err(CameraError::NonPositiveFocal(self.params[i]));
            }
        }
        if self.width == 0 || self.height == 0 {
            return Err(CameraError::EmptyImage {
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }

    /// Focal lengths (fx, fy) in pixels; equal for the single-focal models.
    pub fn focal_lengths(&self) -> Vector2<f64> {
        focal_of(self.model, &self.params)
    }

    /// Principal point (cx, cy) in pixels.
    pub fn principal_point(&self) -> Vector2<f64> {
        let pp = self.model.principal_point_indices();
        Vector2::new(param(&self.params, pp[0]), param(&self.params, pp[1]))
    }

    /// The pixel of a point in camera coordinates; `None` when it lies behind the camera
    /// (z ≤ [`MIN_DEPTH`]).
    pub fn project(&self, p_cam: &Vector3<f64>) -> Option<Vector2<f64>> {
        if p_cam.z <= MIN_DEPTH {
            return None;
        }
        Some(self.normalized_to_image(&Vector2::new(p_cam.x / p_cam.z, p_cam.y / p_cam.z)))
    }

    /// Pixel of the normalized (undistorted, z = 1) point `uv`: distortion, then focal length
    /// and principal point (COLMAP's `ImgFromCam`).
    pub fn normalized_to_image(&self, uv: &Vector2<f64>) -> Vector2<f64> {
        normalized_to_image(self.model, &self.params, uv)
    }

    /// The pixel of `uv` with its Jacobians w.r.t. `uv` and w.r.t. the parameters (analytic).
    pub fn normalized_to_image_jacobians(&self, uv: &Vector2<f64>) -> ProjectionJacobian {
        projection_jacobians(self.model, &self.params, uv)
    }

    /// The normalized point seen at pixel `xy` (COLMAP's `CamFromImg`): inverse intrinsics,
    /// then undistortion by Newton iterations on the distortion (analytic 2 × 2 Jacobian).
    /// Converges for the distortion of real lenses; for distortion so strong that the model
    /// folds over, the last iterate is returned.
    pub fn image_to_normalized(&self, xy: &Vector2<f64>) -> Vector2<f64> {
        let (f, c) = (self.focal_lengths(), self.principal_point());
        let target = Vector2::new((xy.x - c.x) / f.x, (xy.y - c.y) / f.y);
        if self.model.extra_indices().is_empty() {
            return target;
        }
        let mut x = target;
        for _ in 0..UNDISTORT_ITERATIONS {
            let d = distortion(self.model, &self.params, &x);
            let jacobian = Matrix2::identity() + d.d_point;
            let Some(inverse) = jacobian.try_inverse() else {
                break;
            };
            let step = inverse * (x + d.offset - target);
            if !step.x.is_finite() || !step.y.is_finite() {
                break;
            }
            x -= step;
            if step.amax() <= 1e-15 * x.amax().max(1.0) {
                break;
            }
        }
        x
    }
}

/// `params[i]`, or 0 when the vector is too short (cameras are validated before use; this keeps
/// an invalid one from panicking).
fn param(params: &[f64], i: usize) -> f64 {
    params.get(i).copied().unwrap_or(0.0)
}

/// (fx, fy) of a model's parameter vector.
pub(crate) fn focal_of(model: CameraModel, params: &[f64]) -> Vector2<f64> {
    match model.focal_indices() {
        [f] => Vector2::repeat(param(params, *f)),
        [fx, fy, ..] => Vector2::new(param(params, *fx), param(params, *fy)),
        [] => Vector2::zeros(),
    }
}

/// Pixel of `uv` under `model`/`params`, without derivatives (the cost evaluations of bundle
/// adjustment call it with their own parameter vectors).
pub(crate) fn normalized_to_image(
    model: CameraModel,
    params: &[f64],
    uv: &Vector2<f64>,
) -> Vector2<f64> {
    let f = focal_of(model, params);
    let pp = model.principal_point_indices();
    let (u, v) = (uv.x, uv.y);
    let e = |k: usize| {
        model
            .extra_indices()
            .get(k)
            .map_or(0.0, |&i| param(params, i))
    };
    let (du, dv) = match model {
        CameraModel::SimplePinhole | CameraModel::Pinhole => (0.0, 0.0),
        CameraModel::SimpleRadial | CameraModel::Radial | CameraModel::OpenCv => {
            let r2 = u * u + v * v;
            let radial = e(0) * r2 + e(1) * r2 * r2;
            let (p1, p2) = (e(2), e(3));
            (
                u * radial + 2.0 * p1 * u * v + p2 * (r2 + 2.0 * u * u),
                v * radial + 2.0 * p2 * u * v + p1 * (r2 + 2.0 * v * v),
            )
        }
    };
    Vector2::new(
        f.x * (u + du) + param(params, pp[0]),
        f.y * (v + dv) + param(params, pp[1]),
    )
}

/// A distortion offset with its derivatives.
struct Distortion {
    /// (du, dv): the distorted point is (u + du, v + dv).
    offset: Vector2<f64>,
    /// ∂(du, dv) / ∂(u, v).
    d_point: Matrix2<f64>,
    /// ∂(du, dv) / ∂(extra params), in the order of [`CameraModel::extra_indices`].
    d_extra: SMatrix<f64, 2, 4>,
}

/// COLMAP's distortion functions (`colmap/sensor/models.h`) and their analytic derivatives.
fn distortion(model: CameraModel, params: &[f64], uv: &Vector2<f64>) -> Distortion {
    let (u, v) = (uv.x, uv.y);
    let (u2, v2, uv_) = (u * u, v * v, u * v);
    let r2 = u2 + v2;
    let extra: [f64; 4] = {
        let mut e = [0.0; 4];
        for (slot, &i) in e.iter_mut().zip(model.extra_indices()) {
            *slot = param(params, i);
        }
        e
    };
    let mut d_extra = SMatrix::<f64, 2, 4>::zeros();
    let (offset, d_point) = match model {
        CameraModel::SimplePinhole | CameraModel::Pinhole => (Vector2::zeros(), Matrix2::zeros()),
        CameraModel::SimpleRadial | CameraModel::Radial | CameraModel::OpenCv => {
            let (k1, k2) = (extra[0], extra[1]);
            // Radial part, common to the three: u·(k1 r² + k2 r⁴) (k2 = 0 for SIMPLE_RADIAL).
            let radial = k1 * r2 + k2 * r2 * r2;
            // ∂radial/∂u = 2u·c, ∂radial/∂v = 2v·c.
            let c = k1 + 2.0 * k2 * r2;
            let mut offset = Vector2::new(u * radial, v * radial);
            let mut d_point = Matrix2::new(
                radial + 2.0 * u2 * c,
                2.0 * uv_ * c,
                2.0 * uv_ * c,
                radial + 2.0 * v2 * c,
            );
            d_extra[(0, 0)] = u * r2;
            d_extra[(1, 0)] = v * r2;
            if model != CameraModel::SimpleRadial {
                d_extra[(0, 1)] = u * r2 * r2;
                d_extra[(1, 1)] = v * r2 * r2;
            }
            if model == CameraModel::OpenCv {
                let (p1, p2) = (extra[2], extra[3]);
                offset.x += 2.0 * p1 * uv_ + p2 * (r2 + 2.0 * u2);
                offset.y += 2.0 * p2 * uv_ + p1 * (r2 + 2.0 * v2);
                d_point[(0, 0)] += 2.0 * p1 * v + 6.0 * p2 * u;
                d_point[(0, 1)] += 2.0 * p1 * u + 2.0 * p2 * v;
                d_point[(1, 0)] += 2.0 * p2 * v + 2.0 * p1 * u;
                d_point[(1, 1)] += 2.0 * p2 * u + 6.0 * p1 * v;
                d_extra[(0, 2)] = 2.0 * uv_;
                d_extra[(1, 2)] = r2 + 2.0 * v2;
                d_extra[(0, 3)] = r2 + 2.0 * u2;
                d_extra[(1, 3)] = 2.0 * uv_;
            }
            (offset, d_point)
        }
    };
    Distortion {
        offset,
        d_point,
        d_extra,
    }
}

/// Pixel of `uv` under `model`/`params` with ∂pixel/∂uv and ∂pixel/∂params (bundle adjustment
/// calls it with its own parameter vectors, of the model's length).
pub(crate) fn projection_jacobians(
    model: CameraModel,
    params: &[f64],
    uv: &Vector2<f64>,
) -> ProjectionJacobian {
    let f = focal_of(model, params);
    let pp = model.principal_point_indices();
    let c = Vector2::new(param(params, pp[0]), param(params, pp[1]));
    let d = distortion(model, params, uv);
    let distorted = uv + d.offset;
    let pixel = Vector2::new(f.x * distorted.x + c.x, f.y * distorted.y + c.y);
    let scale = Matrix2::from_diagonal(&f);
    let d_normalized = scale * (Matrix2::identity() + d.d_point);
    let mut d_params = ParamJacobian::zeros();
    match model.focal_indices() {
        [i] => {
            d_params[(0, *i)] = distorted.x;
            d_params[(1, *i)] = distorted.y;
        }
        [ix, iy, ..] => {
            d_params[(0, *ix)] = distorted.x;
            d_params[(1, *iy)] = distorted.y;
        }
        [] => {}
    }
    d_params[(0, pp[0])] = 1.0;
    d_params[(1, pp[1])] = 1.0;
    let d_extra = scale * d.d_extra;
    for (k, &i) in model.extra_indices().iter().enumerate() {
        d_params.set_column(i, &d_extra.column(k));
    }
    ProjectionJacobian {
        pixel,
        d_normalized,
        d_params,
    }
}

#[cfg(test)]
mod tests;
