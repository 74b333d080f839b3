//! The essential matrix: Stewénius' five-point minimal solver (Gröbner basis / action matrix),
//! the eight-point least-squares solver projected onto the essential manifold, the Sampson
//! error, and the decomposition into a relative pose with the cheirality check.

use nalgebra::{
    DMatrix, Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion, Vector2, Vector3, SVD,
};

use super::linalg::{
    matrix3_from_row_major, normalize_points, null_space, null_vector, unit_frobenius,
};

/// Monomials in (x, y, z) of degree ≤ 3 as exponent triples: the ten cubics first (graded
/// lexicographic), then the quotient-ring basis x², xy, xz, y², yz, z², x, y, z, 1.
const MONOMIALS: [(u8, u8, u8); 20] = [
    (3, 0, 0),
    (2, 1, 0),
    (2, 0, 1),
    (1, 2, 0),
    (1, 1, 1),
    (1, 0, 2),
    (0, 3, 0),
    (0, 2, 1),
    (0, 1, 2),
    (0, 0, 3),
    (2, 0, 0),
    (1, 1, 0),
    (1, 0, 1),
    (0, 2, 0),
    (0, 1, 1),
    (0, 0, 2),
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (0, 0, 0),
];

fn monomial_index(e: (u8, u8, u8)) -> Option<usize> {
    MONOMIALS.iter().position(|&m| m == e)
}

/// A polynomial of degree ≤ 3 in (x, y, z), coefficients in [`MONOMIALS`] order.
#[derive(Clone, Copy)]
struct Poly([f64; 20]);

impl Poly {
    fn zero() -> Self {
        Poly([0.0; 20])
    }
    fn add(&self, o: &Poly) -> Poly {
        let mut r = *self;
        r.0.iter_mut().zip(o.0.iter()).for_each(|(a, b)| *a += b);
        r
    }
    fn sub(&self, o: &Poly) -> Poly {
        let mut r = *self;
        r.0.iter_mut().zip(o.0.iter()).for_each(|(a, b)| *a -= b);
        r
    }
    fn scale(&self, s: f64) -> Poly {
        Poly(self.0.map(|a| a * s))
    }
    /// Product; terms above degree 3 never arise in the constraints built here and are dropped.
    fn mul(&self, o: &Poly) -> Poly {
        let mut r = Poly::zero();
        for (i, &a) in self.0.iter().enumerate() {
            if a == 0.0 {
                continue;
            }
            for (j, &b) in o.0.iter().enumerate() {
                if b == 0.0 {
                    continue;
                }
                let (p, q) = (MONOMIALS[i], MONOMIALS[j]);
                if let Some(k) = monomial_index((p.0 + q.0, p.1 + q.1, p.2 + q.2)) {
                    r.0[k] += a * b;
                }
            }
        }
        r
    }
}

/// Essential matrices (up to 10, unit Frobenius norm) from five correspondences of normalized
/// points: x2ᵀ E x1 = 0. Also accepts more than five points (least-squares null space).
pub fn essential_five_point(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Vec<Matrix3<f64>> {
    if x1.len() < 5 || x1.len() != x2.len() {
        return Vec::new();
    }
    let a = epipolar_rows(x1, x2);
    let Some(basis) = null_space(&a, 4) else {
        return Vec::new();
    };
    // E = x X + y Y + z Z + W.
    let mut e = [[Poly::zero(); 3]; 3];
    let vars = [16usize, 17, 18, 19];
    for r in 0..3 {
        for c in 0..3 {
            for (b, &m) in basis.iter().zip(vars.iter()) {
                e[r][c].0[m] = b[3 * r + c];
            }
        }
    }
    let mut rows: Vec<Poly> = Vec::with_capacity(10);
    // det(E) = 0.
    let det = e[0][0]
        .mul(&e[1][1].mul(&e[2][2]).sub(&e[1][2].mul(&e[2][1])))
        .sub(&e[0][1].mul(&e[1][0].mul(&e[2][2]).sub(&e[1][2].mul(&e[2][0]))))
        .add(&e[0][2].mul(&e[1][0].mul(&e[2][1]).sub(&e[1][1].mul(&e[2][0]))));
    rows.push(det);
    // 2 E Eᵀ E − tr(E Eᵀ) E = 0.
    let mut eet = [[Poly::zero(); 3]; 3];
    for (r, row) in eet.iter_mut().enumerate() {
        for (c, entry) in row.iter_mut().enumerate() {
            for (a, b) in e[r].iter().zip(e[c].iter()) {
                *entry = entry.add(&a.mul(b));
            }
        }
    }
    let trace = eet[0][0].add(&eet[1][1]).add(&eet[2][2]);
    for r in 0..3 {
        for c in 0..3 {
            let mut p = Poly::zero();
            for (k, e_row) in e.iter().enumerate() {
                p = p.add(&eet[r][k].mul(&e_row[c]));
            }
            rows.push(p.scale(2.0).sub(&trace.mul(&e[r][c])));
        }
    }
    let m = DMatrix::from_fn(10, 20, |r, c| rows[r].0[c]);
    let lead = m.view((0, 0), (10, 10)).into_owned();
    let rest = m.view((0, 10), (10, 10)).into_owned();
    let Some(b) = lead.lu().solve(&rest) else {
        return Vec::new();
    };
    // Action matrix of multiplication by x on the basis vector
    // v = [x², xy, xz, y², yz, z², x, y, z, 1].
    let mut action = DMatrix::zeros(10, 10);
    for r in 0..6 {
        for c in 0..10 {
            action[(r, c)] = -b[(r, c)];
        }
    }
    action[(6, 0)] = 1.0;
    action[(7, 1)] = 1.0;
    action[(8, 2)] = 1.0;
    action[(9, 6)] = 1.0;
    if !action.iter().all(|v| v.is_finite()) {
        return Vec::new();
    }
    let Some(schur) = nalgebra::Schur::try_new(action.clone(), f64::EPSILON, 10_000) else {
        return Vec::new();
    };
    let action = nalgebra::SMatrix::<f64, 10, 10>::from_iterator(action.iter().copied());
    let mut out = Vec::new();
    for lambda in schur.complex_eigenvalues().iter() {
        if lambda.im.abs() > 1e-8 * (1.0 + lambda.re.abs()) {
            continue;
        }
        let Some(v) = eigenvector(&action, lambda.re) else {
            continue;
        };
        if v[9].abs() < 1e-12 {
            continue;
        }
        let (x, y, z) = (v[6] / v[9], v[7] / v[9], v[8] / v[9]);
        let coeffs: Vec<f64> = (0..9)
            .map(|k| x * basis[0][k] + y * basis[1][k] + z * basis[2][k] + basis[3][k])
            .collect();
        if let Some(e) = matrix3_from_row_major(&coeffs).and_then(unit_frobenius) {
            out.push(e);
        }
    }
    out
}

/// The eigenvector of `m` for its (simple, real) eigenvalue `lambda`, by two steps of inverse
/// iteration: one 10×10 LU instead of an SVD per solution.
fn eigenvector(
    m: &nalgebra::SMatrix<f64, 10, 10>,
    lambda: f64,
) -> Option<nalgebra::SVector<f64, 10>> {
    // A shift just off the eigenvalue keeps the system solvable; the eigenvector dominates the
    // solution by the ratio of the eigenvalue gaps to the shift.
    let shift = lambda + 1e-10 * (1.0 + lambda.abs());
    let lu = (m - nalgebra::SMatrix::<f64, 10, 10>::identity() * shift).full_piv_lu();
    let mut v = nalgebra::SVector::<f64, 10>::repeat(1.0);
    for _ in 0..2 {
        let next = lu.solve(&v)?;
        let norm = next.norm();
        if !norm.is_finite() || norm <= 0.0 {
            return None;
        }
        v = next / norm;
    }
    Some(v)
}

/// Rows of the linear epipolar system (row-major E entries): x2ᵀ E x1 = 0.
fn epipolar_rows(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> DMatrix<f64> {
    DMatrix::from_fn(x1.len(), 9, |r, c| {
        let a = [x2[r].x, x2[r].y, 1.0][c / 3];
        let b = [x1[r].x, x1[r].y, 1.0][c % 3];
        a * b
    })
}

/// Least-squares fundamental matrix (rank not enforced) from ≥ 8 correspondences with Hartley
/// normalisation, in the input coordinates.
pub(crate) fn linear_eight_point(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Option<Matrix3<f64>> {
    if x1.len() < 8 || x1.len() != x2.len() {
        return None;
    }
    let (n1, t1) = normalize_points(x1)?;
    let (n2, t2) = normalize_points(x2)?;
    let v = null_vector(&epipolar_rows(&n1, &n2))?;
    let f = matrix3_from_row_major(v.as_slice())?;
    unit_frobenius(t2.transpose() * f * t1)
}

/// Essential matrix from ≥ 8 correspondences: normalized eight-point, then the closest essential
/// matrix (singular values (1, 1, 0)).
pub fn essential_eight_point(x1: &[Vector2<f64>], x2: &[Vector2<f64>]) -> Option<Matrix3<f64>> {
    project_to_essential(&linear_eight_point(x1, x2)?)
}

/// The closest essential matrix (Frobenius) to `m`, unit norm.
pub(crate) fn project_to_essential(m: &Matrix3<f64>) -> Option<Matrix3<f64>> {
    let svd = SVD::try_new(*m, true, true, f64::EPSILON, 1000)?;
    let (u, v_t) = (svd.u?, svd.v_t?);
    let s = Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, 0.0));
    unit_frobenius(u * s * v_t)
}

/// Sampson error (squared, first-order geometric error) of a correspondence under E or F.
pub fn sampson_error(f: &Matrix3<f64>, x1: &Vector2<f64>, x2: &Vector2<f64>) -> f64 {
    let h1 = x1.push(1.0);
    let h2 = x2.push(1.0);
    let fx1 = f * h1;
    let ftx2 = f.transpose() * h2;
    let num = h2.dot(&fx1);
    let den = fx1.x * fx1.x + fx1.y * fx1.y + ftx2.x * ftx2.x + ftx2.y * ftx2.y;
    if den > 0.0 {
        num * num / den
    } else {
        f64::INFINITY
    }
}

/// E = [t]x R of a relative pose, unit Frobenius norm (zero if t = 0).
pub fn essential_from_pose(cam2_from_cam1: &Isometry3<f64>) -> Matrix3<f64> {
    let e = super::linalg::skew(&cam2_from_cam1.translation.vector)
        * cam2_from_cam1.rotation.to_rotation_matrix().into_inner();
    unit_frobenius(e).unwrap_or(e)
}

/// The four (R, t) candidates of an essential matrix (t unit length): (R1, t), (R1, −t),
/// (R2, t), (R2, −t).
pub fn decompose_essential(e: &Matrix3<f64>) -> Option<[(Matrix3<f64>, Vector3<f64>); 4]> {
    let svd = SVD::try_new(*e, true, true, f64::EPSILON, 1000)?;
    let mut u = svd.u?;
    let mut v_t = svd.v_t?;
    if u.determinant() < 0.0 {
        u = -u;
    }
    if v_t.determinant() < 0.0 {
        v_t = -v_t;
    }
    let w = Matrix3::new(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
    let r1 = u * w * v_t;
    let r2 = u * w.transpose() * v_t;
    let t: Vector3<f64> = u.column(2).into_owned();
    let t = t.try_normalize(1e-300)?;
    Some([(r1, t), (r1, -t), (r2, t), (r2, -t)])
}

/// A relative pose recovered from an essential matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct RelativePose {
    /// x2 = R x1 + t, with |t| = 1.
    pub cam2_from_cam1: Isometry3<f64>,
    /// Per correspondence, the point in camera-1 coordinates when it is in front of both cameras
    /// (and closer than 1000 baselines).
    pub points: Vec<Option<Vector3<f64>>>,
    pub num_in_front: usize,
}

/// Decomposes E and keeps the candidate that puts the most correspondences in front of both
/// cameras; `None` if no candidate has any point in front.
pub fn relative_pose_from_essential(
    e: &Matrix3<f64>,
    x1: &[Vector2<f64>],
    x2: &[Vector2<f64>],
) -> Option<RelativePose> {
    if x1.len() != x2.len() {
        return None;
    }
    let mut best: Option<RelativePose> = None;
    for (r, t) in decompose_essential(e)? {
        let rot = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
        let pose = Isometry3::from_parts(Translation3::from(t), rot);
        let (points, count) = cheirality(&pose, x1, x2);
        if count > 0 && best.as_ref().is_none_or(|b| count > b.num_in_front) {
            best = Some(RelativePose {
                cam2_from_cam1: pose,
                points,
                num_in_front: count,
            });
        }
    }
    best
}

/// Triangulates every correspondence and keeps those in front of both cameras.
fn cheirality(
    cam2_from_cam1: &Isometry3<f64>,
    x1: &[Vector2<f64>],
    x2: &[Vector2<f64>],
) -> (Vec<Option<Vector3<f64>>>, usize) {
    let max_depth = 1000.0 * cam2_from_cam1.translation.vector.norm();
    let mut count = 0;
    let points = x1
        .iter()
        .zip(x2)
        .map(|(a, b)| {
            let p = midpoint(cam2_from_cam1, a, b)?;
            let d2 = (cam2_from_cam1 * nalgebra::Point3::from(p)).z;
            let ok = p.z > f64::EPSILON && p.z < max_depth && d2 > f64::EPSILON && d2 < max_depth;
            ok.then(|| {
                count += 1;
                p
            })
        })
        .collect();
    (points, count)
}

/// The midpoint of the closest points of the two viewing rays, in camera-1 coordinates: the
/// depths `d1`, `d2` minimising |d1 R x1 + t − d2 x2|² from 2×2 normal equations. Cheaper
/// than the DLT for the four-candidate cheirality test over every inlier, and as good for
/// deciding which side of the cameras a point lies on. `None` for parallel rays.
fn midpoint(
    cam2_from_cam1: &Isometry3<f64>,
    x1: &Vector2<f64>,
    x2: &Vector2<f64>,
) -> Option<Vector3<f64>> {
    let f1 = x1.push(1.0);
    let f2 = x2.push(1.0);
    let rf1 = cam2_from_cam1.rotation * f1;
    let t = cam2_from_cam1.translation.vector;
    // [rf1, −f2] [d1, d2]ᵀ = −t in least squares.
    let (a, b, c) = (rf1.dot(&rf1), -rf1.dot(&f2), f2.dot(&f2));
    let (g1, g2) = (-rf1.dot(&t), f2.dot(&t));
    let det = a * c - b * b;
    // Parallel rays (or NaN input) leave no well-defined closest points.
    if det.is_nan() || det <= 1e-12 * a * c {
        return None;
    }
    let d1 = (c * g1 - b * g2) / det;
    let d2 = (a * g2 - b * g1) / det;
    // The closest points on the two rays, averaged, back in camera 1.
    let p2_in_1 = cam2_from_cam1.inverse_transform_point(&nalgebra::Point3::from(f2 * d2));
    let p = (f1 * d1 + p2_in_1.coords) * 0.5;
    p.iter().all(|v| v.is_finite()).then_some(p)
}
