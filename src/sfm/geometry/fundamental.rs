//! The fundamental matrix of uncalibrated views: the seven-point minimal solver and the
//! normalized eight-point solver (rank 2 enforced), for pixel or normalized coordinates.

use nalgebra::{DMatrix, Matrix3, Vector2, Vector3, SVD};

use super::essential::linear_eight_point;
use super::linalg::{
    matrix3_from_row_major, normalize_points, null_space, real_roots, unit_frobenius,
};

/// Fundamental matrices (1 or 3, unit Frobenius norm, x2ᵀ F x1 = 0) from exactly seven
/// correspondences.
pub fn fundamental_seven_point(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Vec<Matrix3<f64>> {
    if x1.len() != 7 || x2.len() != 7 {
        return Vec::new();
    }
    let (Some((n1, t1)), Some((n2, t2))) = (normalize_points(x1), normalize_points(x2)) else {
        return Vec::new();
    };
    let a = DMatrix::from_fn(7, 9, |r, c| {
        [n2[r].x, n2[r].y, 1.0][c / 3] * [n1[r].x, n1[r].y, 1.0][c % 3]
    });
    let Some(ns) = null_space(&a, 2) else {
        return Vec::new();
    };
    let (Some(f1), Some(f2)) = (
        matrix3_from_row_major(ns[0].as_slice()),
        matrix3_from_row_major(ns[1].as_slice()),
    ) else {
        return Vec::new();
    };
    // det(F2 + a (F1 − F2)) = d0 + c1 a + c2 a² + d3 a³.
    let d = f1 - f2;
    let det = |a: f64| (f2 + d * a).determinant();
    let (d0, d3) = (f2.determinant(), d.determinant());
    let (p1, m1) = (det(1.0), det(-1.0));
    let c2 = 0.5 * (p1 + m1) - d0;
    let c1 = 0.5 * (p1 - m1) - d3;
    real_roots(&[d0, c1, c2, d3])
        .into_iter()
        .filter_map(|a| unit_frobenius(t2.transpose() * (f2 + d * a) * t1))
        .collect()
}

/// Fundamental matrix from ≥ 8 correspondences: normalized eight-point with rank 2 enforced.
pub fn fundamental_eight_point(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Option<Matrix3<f64>> {
    // Enforce rank 2 in normalized coordinates, where the SVD is well conditioned.
    let (n1, t1) = normalize_points(x1)?;
    let (n2, t2) = normalize_points(x2)?;
    let f = linear_eight_point(&n1, &n2)?;
    let svd = SVD::try_new(f, true, true, f64::EPSILON, 1000)?;
    let (u, v_t) = (svd.u?, svd.v_t?);
    let s = svd.singular_values;
    let f = u * Matrix3::from_diagonal(&Vector3::new(s[0], s[1], 0.0)) * v_t;
    unit_frobenius(t2.transpose() * f * t1)
}
