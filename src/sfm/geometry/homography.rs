//! Homographies between two views (planar scenes, pure rotations): the normalized DLT from ≥ 4
//! correspondences and the symmetric transfer error.

use nalgebra::{DMatrix, Matrix3, Vector2};

use super::linalg::{
    gather, matrix3_from_row_major, normalize_points, null_space_with_singular_values,
    unit_frobenius,
};
use super::ransac::Estimator;

/// Homography (unit Frobenius norm) with x2 ~ H x1 from ≥ 4 correspondences, by the DLT on
/// Hartley-normalized points; `None` for degenerate configurations.
pub fn homography_dlt(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Option<Matrix3<f64>> {
    if x1.len() < 4 || x1.len() != x2.len() {
        return None;
    }
    let (n1, t1) = normalize_points(x1)?;
    let (n2, t2) = normalize_points(x2)?;
    let mut a = DMatrix::zeros(2 * n1.len(), 9);
    for (k, (p, q)) in n1.iter().zip(&n2).enumerate() {
        let (x, y, u, v) = (p.x, p.y, q.x, q.y);
        let r0 = [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u];
        let r1 = [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v];
        for c in 0..9 {
            a[(2 * k, c)] = r0[c];
            a[(2 * k + 1, c)] = r1[c];
        }
    }
    // A second (near-)zero singular value: the points do not fix H (three of them collinear,
    // or coincident points).
    let (ns, sv) = null_space_with_singular_values(&a, 1)?;
    if sv.len() < 9 || sv[7].is_nan() || sv[7] <= 1e-8 * sv[0] {
        return None;
    }
    let h = matrix3_from_row_major(ns.first()?.as_slice())?;
    let h = t2.try_inverse()? * h * t1;
    let h = unit_frobenius(h)?;
    // A (numerically) singular H maps the plane to a line: degenerate sample.
    (h.determinant().abs() > 1e-12).then_some(h)
}

/// Symmetric transfer error |x2 − H x1|² + |x1 − H⁻¹ x2|², with `h_inv` = H⁻¹.
pub fn symmetric_transfer_error(
    h: &Matrix3<f64>,
    h_inv: &Matrix3<f64>,
    x1: &Vector2<f64>,
    x2: &Vector2<f64>,
) -> f64 {
    let transfer = |m: &Matrix3<f64>, p: &Vector2<f64>, q: &Vector2<f64>| {
        let y = m * p.push(1.0);
        if y.z.abs() <= f64::EPSILON * y.norm() {
            return f64::INFINITY;
        }
        (Vector2::new(y.x / y.z, y.y / y.z) - q).norm_squared()
    };
    transfer(h, x1, x2) + transfer(h_inv, x2, x1)
}

/// A homography with its inverse (RANSAC model: the inverse is needed by every residual).
#[derive(Debug, Clone, PartialEq)]
pub struct HomographyModel {
    pub h: Matrix3<f64>,
    pub h_inv: Matrix3<f64>,
}

impl HomographyModel {
    fn new(h: Matrix3<f64>) -> Option<Self> {
        Some(Self {
            h,
            h_inv: h.try_inverse()?,
        })
    }
}

/// RANSAC estimator of H (residual: symmetric transfer error in input units²).
pub struct HomographyEstimator<'a> {
    pub x1: &'a [Vector2<f64>],
    pub x2: &'a [Vector2<f64>],
}

impl HomographyEstimator<'_> {
    fn fit(&self, idx: &[usize]) -> Vec<HomographyModel> {
        let (a, b) = gather(self.x1, self.x2, idx);
        homography_dlt(&a, &b)
            .and_then(HomographyModel::new)
            .into_iter()
            .collect()
    }
}

impl Estimator for HomographyEstimator<'_> {
    type Model = HomographyModel;

    fn min_sample_size(&self) -> usize {
        4
    }

    fn num_data(&self) -> usize {
        self.x1.len().min(self.x2.len())
    }

    fn estimate(&self, sample: &[usize]) -> Vec<HomographyModel> {
        self.fit(sample)
    }

    fn estimate_nonminimal(
        &self,
        inliers: &[usize],
        _current: &HomographyModel,
    ) -> Vec<HomographyModel> {
        self.fit(inliers)
    }

    fn residual(&self, model: &HomographyModel, i: usize) -> f64 {
        symmetric_transfer_error(&model.h, &model.h_inv, &self.x1[i], &self.x2[i])
    }
}
