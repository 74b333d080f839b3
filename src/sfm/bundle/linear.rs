//! The Gauss–Newton normal equations of the problem (IRLS-weighted) and their damped solution
//! through the Schur complement: points are eliminated block by block, the reduced camera
//! system (poses and intrinsics) is solved by dense Cholesky, points are back-substituted.

use nalgebra::{DMatrix, DVector, Matrix3, RowVector3, Vector3};

use super::problem::{Problem, State};
use super::residual::residual_jacobian;
use super::LossFunction;

/// Bounds on the diagonal used for Marquardt's scaling (as Ceres), so that unknowns with no
/// information still get damped and huge ones do not freeze.
const MIN_DIAGONAL: f64 = 1e-6;
const MAX_DIAGONAL: f64 = 1e32;

/// One point's block of the normal equations.
pub(crate) struct PointSystem {
    /// Jₚᵀ W Jₚ (3 × 3).
    v: Matrix3<f64>,
    /// Jₚᵀ W r.
    g: Vector3<f64>,
    /// Rows of the coupling Jcᵀ W Jₚ: (system unknown, row), sorted by unknown, one per unknown.
    coupling: Vec<(usize, RowVector3<f64>)>,
}

/// The normal equations `H δ = −g` at one state.
pub(crate) struct Linearization {
    /// Camera block Jcᵀ W Jc (upper triangle filled, then mirrored).
    u: DMatrix<f64>,
    /// Jcᵀ W r.
    gc: DVector<f64>,
    /// Per problem point; `None` for held points.
    points: Vec<Option<PointSystem>>,
    /// Largest absolute gradient entry.
    pub max_gradient: f64,
}

/// A solved damped step.
pub(crate) struct Step {
    pub cameras: Vec<f64>,
    pub points: Vec<Vector3<f64>>,
    /// Decrease of the quadratic model, ½ (λ δᵀDδ − gᵀδ) ≥ 0.
    pub predicted_decrease: f64,
    /// ‖δ‖.
    pub norm: f64,
}

/// Builds the weighted normal equations at `state` (observations whose point fell behind the
/// camera contribute nothing; accepted states have none).
pub(crate) fn linearize(problem: &Problem, state: &State, loss: LossFunction) -> Linearization {
    let n = problem.camera_vars;
    // Points split over the cores; each part sums its own camera block.
    let parts = crate::sfm::parallel::map_chunks(problem.points.len(), |range| {
        linearize_points(problem, state, loss, range)
    });
    let mut u = DMatrix::<f64>::zeros(n, n);
    let mut gc = DVector::<f64>::zeros(n);
    let mut points = Vec::with_capacity(problem.points.len());
    for part in parts {
        u += part.u;
        gc += part.gc;
        points.extend(part.points);
    }
    u.fill_lower_triangle_with_upper_triangle();
    let mut max_gradient = gc.amax();
    for system in points.iter().flatten() {
        max_gradient = max_gradient.max(system.g.amax());
    }
    Linearization {
        u,
        gc,
        points,
        max_gradient,
    }
}

/// The camera block (upper triangle), camera gradient and point systems of `range`'s points.
struct PartialLinearization {
    u: DMatrix<f64>,
    gc: DVector<f64>,
    points: Vec<Option<PointSystem>>,
}

fn linearize_points(
    problem: &Problem,
    state: &State,
    loss: LossFunction,
    range: std::ops::Range<usize>,
) -> PartialLinearization {
    let n = problem.camera_vars;
    let mut u = DMatrix::<f64>::zeros(n, n);
    let mut gc = DVector::<f64>::zeros(n);
    let mut points = Vec::with_capacity(range.len());
    // Column buffer of one observation: (unknown, ∂r/∂unknown); poses come before intrinsics
    // in the numbering, so the buffer is sorted.
    let mut columns: Vec<(usize, nalgebra::Vector2<f64>)> = Vec::with_capacity(14);
    for point_index in range {
        let block = &problem.points[point_index];
        let mut system = block.variable.then(|| PointSystem {
            v: Matrix3::zeros(),
            g: Vector3::zeros(),
            coupling: Vec::new(),
        });
        for obs in &problem.observations[block.observations.clone()] {
            let image = &problem.images[obs.image];
            let camera = &problem.cameras[image.camera];
            let Some(jac) = residual_jacobian(
                &state.poses[obs.image],
                camera.model,
                &state.params[image.camera],
                &state.points[point_index],
                &obs.xy,
            ) else {
                continue;
            };
            let weight = loss.evaluate(jac.residual.norm_squared()).1;
            columns.clear();
            for (k, var) in image.pose_vars.iter().enumerate() {
                if let Some(i) = var {
                    columns.push((*i, jac.d_pose.column(k).into()));
                }
            }
            for (k, var) in camera.param_vars.iter().enumerate() {
                if let Some(i) = var {
                    columns.push((*i, jac.d_params.column(k).into()));
                }
            }
            for (a, &(ia, ca)) in columns.iter().enumerate() {
                gc[ia] += weight * ca.dot(&jac.residual);
                for &(ib, cb) in &columns[a..] {
                    u[(ia, ib)] += weight * ca.dot(&cb);
                }
            }
            if let Some(system) = system.as_mut() {
                let jp = jac.d_point;
                system.v += weight * jp.transpose() * jp;
                system.g += weight * jp.transpose() * jac.residual;
                for &(i, c) in &columns {
                    system.coupling.push((i, weight * c.transpose() * jp));
                }
            }
        }
        if let Some(system) = system.as_mut() {
            merge_rows(&mut system.coupling);
        }
        points.push(system);
    }
    PartialLinearization { u, gc, points }
}

/// Sorts coupling rows by unknown and sums rows of the same unknown (a camera's intrinsics seen
/// from several images of the track).
fn merge_rows(rows: &mut Vec<(usize, RowVector3<f64>)>) {
    rows.sort_by_key(|&(i, _)| i);
    let mut merged: Vec<(usize, RowVector3<f64>)> = Vec::with_capacity(rows.len());
    for &(i, row) in rows.iter() {
        match merged.last_mut() {
            Some((last, sum)) if *last == i => *sum += row,
            _ => merged.push((i, row)),
        }
    }
    *rows = merged;
}

/// One part's Schur reduction (upper triangle of −W V⁻¹ Wᵀ, W V⁻¹ gₚ) and the damped point
/// inverses; `None` when a point block is not positive definite.
#[allow(clippy::type_complexity)]
fn eliminate(
    systems: &[Option<PointSystem>],
    lambda: f64,
    n: usize,
) -> Option<(
    DMatrix<f64>,
    DVector<f64>,
    Vec<Option<(Matrix3<f64>, Vector3<f64>)>>,
)> {
    let mut s = DMatrix::<f64>::zeros(n, n);
    let mut rhs = DVector::<f64>::zeros(n);
    let mut inverses = Vec::with_capacity(systems.len());
    let mut scaled: Vec<RowVector3<f64>> = Vec::new();
    for system in systems {
        let Some(system) = system else {
            inverses.push(None);
            continue;
        };
        let damping_p = system
            .v
            .diagonal()
            .map(|d| lambda * d.clamp(MIN_DIAGONAL, MAX_DIAGONAL));
        let damped = system.v + Matrix3::from_diagonal(&damping_p);
        let inverse = damped.cholesky()?.inverse();
        scaled.clear();
        scaled.extend(system.coupling.iter().map(|(_, w)| w * inverse));
        for (a, &(ia, _)) in system.coupling.iter().enumerate() {
            let ya = scaled[a];
            rhs[ia] += ya.dot(&system.g.transpose());
            for &(ib, wb) in &system.coupling[a..] {
                s[(ia, ib)] -= ya.dot(&wb);
            }
        }
        inverses.push(Some((inverse, damping_p)));
    }
    Some((s, rhs, inverses))
}

/// Solves `(H + λ D) δ = −g` (D: H's clamped diagonal) by eliminating the points; `None` when
/// the damped system is not positive definite (the caller raises λ).
pub(crate) fn solve(lin: &Linearization, lambda: f64) -> Option<Step> {
    let n = lin.gc.len();
    let mut s = lin.u.clone();
    let mut rhs = -&lin.gc;
    let damping_c: Vec<f64> = (0..n)
        .map(|i| lambda * lin.u[(i, i)].clamp(MIN_DIAGONAL, MAX_DIAGONAL))
        .collect();
    for (i, d) in damping_c.iter().enumerate() {
        s[(i, i)] += d;
    }
    // Eliminate each point: S −= W V⁻¹ Wᵀ, rhs += W V⁻¹ gₚ (points split over the cores, each
    // part summing its own reduction).
    let parts = crate::sfm::parallel::map_chunks(lin.points.len(), |range| {
        eliminate(&lin.points[range], lambda, n)
    });
    let mut inverses: Vec<Option<(Matrix3<f64>, Vector3<f64>)>> =
        Vec::with_capacity(lin.points.len());
    for part in parts {
        let (ds, drhs, inv) = part?;
        s += ds;
        rhs += drhs;
        inverses.extend(inv);
    }
    s.fill_lower_triangle_with_upper_triangle();
    let cameras: DVector<f64> = if n == 0 {
        DVector::zeros(0)
    } else {
        s.cholesky()?.solve(&rhs)
    };
    if !cameras.iter().all(|c| c.is_finite()) {
        return None;
    }
    // Back-substitute: δp = V⁻¹ (−gₚ − Wᵀ δc).
    let mut predicted = 0.0;
    let mut norm_squared = cameras.norm_squared();
    for (i, d) in damping_c.iter().enumerate() {
        predicted += d * cameras[i] * cameras[i] - lin.gc[i] * cameras[i];
    }
    let mut points = Vec::with_capacity(lin.points.len());
    for (system, inverse) in lin.points.iter().zip(&inverses) {
        let (Some(system), Some((inverse, damping_p))) = (system, inverse) else {
            points.push(Vector3::zeros());
            continue;
        };
        let mut b = -system.g;
        for &(i, w) in &system.coupling {
            b -= w.transpose() * cameras[i];
        }
        let step = inverse * b;
        predicted += step.dot(&damping_p.component_mul(&step)) - system.g.dot(&step);
        norm_squared += step.norm_squared();
        points.push(step);
    }
    Some(Step {
        cameras: cameras.as_slice().to_vec(),
        points,
        predicted_decrease: 0.5 * predicted,
        norm: norm_squared.sqrt(),
    })
}
