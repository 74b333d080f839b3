//! Bundle adjustment: Levenberg–Marquardt on the reprojection error of every observation, over
//! image poses, camera intrinsics and 3D points, with robust losses (IRLS weights) and the
//! Schur complement on the points.
//!
//! Pose update: `R ← exp([ω]×) R`, `t ← t + δt` on `cam_from_world` (rotation increment on the
//! left, in the camera frame; additive translation so a translation coordinate can be held to
//! fix the scale). Damping is Marquardt's (λ times the clamped diagonal of the normal
//! equations) with Nielsen's update; a step that raises the cost, puts a point behind a camera
//! or makes a focal length non-positive is rejected.

mod error;
mod linear;
mod loss;
mod options;
mod problem;
mod residual;

pub use error::BundleError;
pub use loss::LossFunction;
pub use options::{BundleOptions, BundleReport, Termination};

use problem::{Problem, State};

use crate::sfm::camera::Camera;
use crate::sfm::Reconstruction;

use self::residual::residual;

/// Damping beyond which no step is attempted any more.
const MAX_DAMPING: f64 = 1e32;
/// Damping is not lowered below this.
const MIN_DAMPING: f64 = 1e-16;
/// Smallest ratio of actual to predicted cost decrease for a step to be accepted.
const MIN_GAIN_RATIO: f64 = 1e-3;

/// Refines `rec` in place per `opts` and recomputes the mean reprojection error of every point
/// in the problem. On error nothing is changed.
pub fn bundle_adjust(
    rec: &mut Reconstruction,
    opts: &BundleOptions,
) -> Result<BundleReport, BundleError> {
    let (problem, mut state) = Problem::new(rec, opts)?;
    let observations = problem.observations.len();
    let rms = |squared_error: f64| {
        if observations == 0 {
            0.0
        } else {
            (squared_error / observations as f64).sqrt()
        }
    };
    let mut costs = problem
        .evaluate(&state, opts.loss)
        .ok_or(BundleError::NonFiniteCost)?;
    let initial = costs;
    let nothing_to_do =
        observations == 0 || (problem.camera_vars == 0 && problem.variable_points() == 0);
    let mut iterations = 0;
    let mut accepted_steps = 0;
    let termination = if nothing_to_do {
        Termination::NothingToOptimize
    } else {
        let outcome = iterate(&problem, &mut state, &mut costs, opts);
        iterations = outcome.iterations;
        accepted_steps = outcome.accepted;
        outcome.termination
    };
    problem.write_back(&state, rec);
    update_point_errors(&problem, rec);
    Ok(BundleReport {
        initial_cost: initial.cost,
        final_cost: costs.cost,
        initial_rms_px: rms(initial.squared_error),
        final_rms_px: rms(costs.squared_error),
        iterations,
        accepted_steps,
        termination,
        converged: termination.converged(),
        observations,
        skipped_observations: problem.skipped,
        variable_images: problem.variable_images(),
        variable_cameras: problem.variable_cameras(),
        variable_points: problem.variable_points(),
    })
}

/// What the iterations did.
struct Outcome {
    termination: Termination,
    iterations: usize,
    accepted: usize,
}

/// The Levenberg–Marquardt loop; `state` and `costs` end at the best accepted state.
fn iterate(
    problem: &Problem,
    state: &mut State,
    costs: &mut problem::Costs,
    opts: &BundleOptions,
) -> Outcome {
    let mut lambda = opts.initial_damping.max(MIN_DAMPING);
    let mut nu = 2.0;
    let mut lin = linear::linearize(problem, state, opts.loss);
    let mut outcome = Outcome {
        termination: Termination::MaxIterations,
        iterations: 0,
        accepted: 0,
    };
    while outcome.iterations < opts.max_iterations {
        if lin.max_gradient <= opts.gradient_tolerance {
            outcome.termination = Termination::GradientTolerance;
            break;
        }
        outcome.iterations += 1;
        let mut accepted = false;
        if let Some(step) = linear::solve(&lin, lambda) {
            let x_norm = problem.variable_norm(state);
            if step.norm <= opts.parameter_tolerance * (x_norm + opts.parameter_tolerance) {
                outcome.termination = Termination::ParameterTolerance;
                break;
            }
            let candidate = problem.apply(state, &step.cameras, &step.points);
            if let Some(new_costs) = problem.evaluate(&candidate, opts.loss) {
                let decrease = costs.cost - new_costs.cost;
                let ratio = decrease / step.predicted_decrease;
                if step.predicted_decrease > 0.0 && decrease > 0.0 && ratio > MIN_GAIN_RATIO {
                    accepted = true;
                    outcome.accepted += 1;
                    let relative = decrease / costs.cost;
                    *state = candidate;
                    *costs = new_costs;
                    lambda = (lambda * (1.0 / 3.0f64).max(1.0 - (2.0 * ratio - 1.0).powi(3)))
                        .max(MIN_DAMPING);
                    nu = 2.0;
                    if relative <= opts.function_tolerance || costs.cost == 0.0 {
                        outcome.termination = Termination::FunctionTolerance;
                        break;
                    }
                    lin = linear::linearize(problem, state, opts.loss);
                }
            }
        }
        if !accepted {
            lambda *= nu;
            nu *= 2.0;
            if lambda > MAX_DAMPING {
                outcome.termination = Termination::DampingLimit;
                break;
            }
        }
    }
    outcome
}

/// Sets each problem point's `error` to its mean reprojection error (pixels) over its whole
/// track, or −1 when no observation projects.
fn update_point_errors(problem: &Problem, rec: &mut Reconstruction) {
    for block in &problem.points {
        let Some(point) = rec.points3d.get(&block.id) else {
            continue;
        };
        let mut sum = 0.0;
        let mut count = 0usize;
        for te in &point.track {
            let Some(image) = rec.images.get(&te.image_id) else {
                continue;
            };
            let (Some(camera), Some(p2d)) = (
                rec.cameras.get(&image.camera_id),
                image.points2d.get(te.point2d_idx as usize),
            ) else {
                continue;
            };
            let Camera { model, params, .. } = camera;
            if let Some(r) = residual(&image.cam_from_world, *model, params, &point.xyz, &p2d.xy) {
                sum += r.norm();
                count += 1;
            }
        }
        let error = if count == 0 { -1.0 } else { sum / count as f64 };
        if let Some(point) = rec.points3d.get_mut(&block.id) {
            point.error = error;
        }
    }
}

#[cfg(test)]
mod synthetic;
#[cfg(test)]
mod tests;
