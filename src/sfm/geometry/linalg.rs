//! Small numerical helpers shared by the solvers: null spaces, real polynomial roots, Hartley
//! normalisation of point sets.

use nalgebra::{DMatrix, DVector, Matrix3, Schur, Vector2, Vector3, SVD};

/// The `k` right singular vectors of the smallest singular values of `a` (its least-squares null
/// space), smallest last. Wide matrices are padded with zero rows so that every vector exists.
pub(crate) fn null_space(a: &DMatrix<f64>, k: usize) -> Option<Vec<DVector<f64>>> {
    Some(null_space_with_singular_values(a, k)?.0)
}

/// [`null_space`] together with all singular values (descending), to judge its dimension.
pub(crate) fn null_space_with_singular_values(
    a: &DMatrix<f64>,
    k: usize,
) -> Option<(Vec<DVector<f64>>, DVector<f64>)> {
    let (rows, cols) = a.shape();
    if cols == 0 || k > cols || !a.iter().all(|v| v.is_finite()) {
        return None;
    }
    if rows > 2 * cols {
        return null_space_of_normal_matrix(a, k);
    }
    let padded = if rows < cols {
        let mut p = DMatrix::zeros(cols, cols);
        p.view_mut((0, 0), (rows, cols)).copy_from(a);
        p
    } else {
        a.clone()
    };
    let svd = SVD::try_new(padded, false, true, f64::EPSILON, 2000)?;
    let v_t = svd.v_t?;
    let vectors = (cols - k..cols).map(|r| v_t.row(r).transpose()).collect();
    Some((vectors, svd.singular_values))
}

/// [`null_space_with_singular_values`] of a tall matrix (the least-squares fits over all of
/// RANSAC's inliers) from the eigenvectors of the small `AᵀA` instead of an SVD of `A`: the
/// same vectors up to sign at a fraction of the cost. Squaring the condition number is harmless
/// for the (Hartley-normalised or normalized-camera) systems built here.
fn null_space_of_normal_matrix(
    a: &DMatrix<f64>,
    k: usize,
) -> Option<(Vec<DVector<f64>>, DVector<f64>)> {
    let cols = a.ncols();
    let ata = a.tr_mul(a);
    let eigen = nalgebra::SymmetricEigen::try_new(ata, f64::EPSILON, 2000)?;
    // Descending eigenvalues, as singular values come.
    let mut order: Vec<usize> = (0..cols).collect();
    order.sort_by(|&i, &j| eigen.eigenvalues[j].total_cmp(&eigen.eigenvalues[i]));
    let singular = DVector::from_iterator(
        cols,
        order.iter().map(|&i| eigen.eigenvalues[i].max(0.0).sqrt()),
    );
    let vectors = order[cols - k..]
        .iter()
        .map(|&i| eigen.eigenvectors.column(i).into_owned())
        .collect();
    Some((vectors, singular))
}

/// The correspondences `idx` of two matched point lists (an estimator's sample or inliers).
pub(crate) fn gather(
    x1: &[Vector2<f64>],
    x2: &[Vector2<f64>],
    idx: &[usize],
) -> (Vec<Vector2<f64>>, Vec<Vector2<f64>>) {
    idx.iter().map(|&i| (x1[i], x2[i])).unzip()
}

/// The least-squares null vector of `a` (unit length).
pub(crate) fn null_vector(a: &DMatrix<f64>) -> Option<DVector<f64>> {
    null_space(a, 1)?.pop()
}

/// Real roots of `c[0] + c[1] x + … + c[n] xⁿ`, from the eigenvalues of the companion matrix
/// and polished by Newton steps. Roots of nearly double multiplicity (tiny imaginary part) are
/// kept, since minimal solvers must not lose solutions to rounding.
pub(crate) fn real_roots(coeffs: &[f64]) -> Vec<f64> {
    if !coeffs.iter().all(|c| c.is_finite()) {
        return Vec::new();
    }
    let scale = coeffs.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    if scale == 0.0 {
        return Vec::new();
    }
    let mut n = coeffs.len();
    while n > 0 && coeffs[n - 1].abs() <= 1e-14 * scale {
        n -= 1;
    }
    let c = &coeffs[..n];
    let degree = n.saturating_sub(1);
    let mut roots = match degree {
        0 => return Vec::new(),
        1 => vec![-c[0] / c[1]],
        2 => {
            let (a, b, cc) = (c[2], c[1], c[0]);
            let disc = b * b - 4.0 * a * cc;
            if disc < 0.0 {
                // Keep a nearly double root.
                if disc > -1e-12 * (b * b).max(1e-300) {
                    vec![-b / (2.0 * a)]
                } else {
                    return Vec::new();
                }
            } else {
                let q = -0.5 * (b + b.signum() * disc.sqrt());
                let q = if q == 0.0 { -0.5 * disc.sqrt() } else { q };
                if q == 0.0 {
                    vec![0.0]
                } else {
                    vec![q / a, cc / q]
                }
            }
        }
        _ => {
            let lead = c[degree];
            let mut m = DMatrix::zeros(degree, degree);
            for i in 1..degree {
                m[(i, i - 1)] = 1.0;
            }
            for i in 0..degree {
                m[(i, degree - 1)] = -c[i] / lead;
            }
            let Some(schur) = Schur::try_new(m, f64::EPSILON, 10_000) else {
                return Vec::new();
            };
            schur
                .complex_eigenvalues()
                .iter()
                .filter(|z| z.im.abs() <= 1e-6 * (1.0 + z.re.abs()))
                .map(|z| z.re)
                .collect()
        }
    };
    for r in roots.iter_mut() {
        *r = polish_root(c, *r);
    }
    roots.retain(|r| r.is_finite());
    roots
}

/// Newton steps on a real root estimate; keeps the estimate if a step does not help.
fn polish_root(c: &[f64], mut x: f64) -> f64 {
    let eval = |x: f64| {
        let (mut p, mut dp) = (0.0, 0.0);
        for &ci in c.iter().rev() {
            dp = dp * x + p;
            p = p * x + ci;
        }
        (p, dp)
    };
    for _ in 0..8 {
        let (p, dp) = eval(x);
        if dp == 0.0 || p == 0.0 {
            break;
        }
        let next = x - p / dp;
        if !next.is_finite() || eval(next).0.abs() >= p.abs() {
            break;
        }
        x = next;
    }
    x
}

/// Hartley normalisation: the transform moving the centroid to the origin with mean distance
/// √2, and the transformed points. `None` if all points coincide or a coordinate is not finite.
pub(crate) fn normalize_points(
    points: &[Vector2<f64>],
) -> Option<(Vec<Vector2<f64>>, Matrix3<f64>)> {
    if points.is_empty() || !points.iter().all(|p| p.x.is_finite() && p.y.is_finite()) {
        return None;
    }
    let n = points.len() as f64;
    let centroid = points.iter().fold(Vector2::zeros(), |s, p| s + p) / n;
    let mean_dist = points.iter().map(|p| (p - centroid).norm()).sum::<f64>() / n;
    if mean_dist <= 1e-300 {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean_dist;
    let t = Matrix3::new(
        s,
        0.0,
        -s * centroid.x,
        0.0,
        s,
        -s * centroid.y,
        0.0,
        0.0,
        1.0,
    );
    Some((points.iter().map(|p| (p - centroid) * s).collect(), t))
}

/// The cross-product matrix: `skew(a) * b == a × b`.
pub(crate) fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

/// A 3×3 matrix from 9 values in row-major order.
pub(crate) fn matrix3_from_row_major(v: &[f64]) -> Option<Matrix3<f64>> {
    (v.len() == 9).then(|| Matrix3::from_row_slice(v))
}

/// Scales a matrix to unit Frobenius norm; `None` if it is zero or not finite.
pub(crate) fn unit_frobenius(m: Matrix3<f64>) -> Option<Matrix3<f64>> {
    let n = m.norm();
    (n.is_finite() && n > 1e-300).then(|| m / n)
}
