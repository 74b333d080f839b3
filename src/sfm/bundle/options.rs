//! What bundle adjustment refines and when it stops, and what it reports back.

use std::collections::BTreeSet;

use super::LossFunction;

/// The choices of one bundle adjustment. The defaults refine everything COLMAP refines by
/// default (poses, points, focal length, distortion; not the principal point) with plain least
/// squares and leave the gauge free (damping keeps the system solvable; fix it for a unique
/// answer).
#[derive(Debug, Clone, PartialEq)]
pub struct BundleOptions {
    /// Penalty on each observation's reprojection error (pixels).
    pub loss: LossFunction,
    /// Linear solves at most (accepted and rejected steps both count).
    pub max_iterations: usize,
    /// Stop when an accepted step lowers the cost by less than this fraction.
    pub function_tolerance: f64,
    /// Stop when the step is shorter than this fraction of the parameter vector's norm.
    pub parameter_tolerance: f64,
    /// Stop when the largest gradient entry falls below this (cost units per parameter unit).
    pub gradient_tolerance: f64,
    /// Initial Levenberg–Marquardt damping, relative to the normal equations' diagonal.
    pub initial_damping: f64,
    /// Refine the focal length(s) of the variable cameras.
    pub refine_focal: bool,
    /// Refine the principal point of the variable cameras (poorly constrained without many
    /// views; off by default as in COLMAP).
    pub refine_principal_point: bool,
    /// Refine the distortion parameters of the variable cameras.
    pub refine_extra: bool,
    /// Cameras whose intrinsics stay as they are whatever the `refine_*` flags say.
    pub fixed_cameras: BTreeSet<u32>,
    /// Images whose pose stays as it is (the gauge: e.g. the first image).
    pub fixed_images: BTreeSet<u32>,
    /// An image and a translation coordinate (0, 1 or 2 of `cam_from_world.translation`) held
    /// fixed: with one fixed image this fixes the scale.
    pub fixed_scale_image: Option<(u32, usize)>,
    /// Local bundle adjustment: only these images' poses vary and only points they observe are
    /// refined (observations of those points in other images still count, with those poses
    /// held). `None`: every image.
    pub variable_images: Option<BTreeSet<u32>>,
    /// Refine the 3D points; `false` refines poses (and intrinsics) against fixed points.
    pub refine_points: bool,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            loss: LossFunction::Trivial,
            max_iterations: 100,
            function_tolerance: 1e-10,
            parameter_tolerance: 1e-12,
            gradient_tolerance: 1e-12,
            initial_damping: 1e-4,
            refine_focal: true,
            refine_principal_point: false,
            refine_extra: true,
            fixed_cameras: BTreeSet::new(),
            fixed_images: BTreeSet::new(),
            fixed_scale_image: None,
            variable_images: None,
            refine_points: true,
        }
    }
}

/// Why the iterations ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The relative cost decrease fell below the function tolerance.
    FunctionTolerance,
    /// The step fell below the parameter tolerance.
    ParameterTolerance,
    /// The gradient fell below the gradient tolerance.
    GradientTolerance,
    /// Nothing to refine (no variable parameters or no observations).
    NothingToOptimize,
    /// The iteration budget ran out.
    MaxIterations,
    /// The damping grew without finding a step that lowers the cost (numerical limit).
    DampingLimit,
}

impl Termination {
    /// Whether this ending means a (local) minimum was reached.
    pub fn converged(self) -> bool {
        matches!(
            self,
            Termination::FunctionTolerance
                | Termination::ParameterTolerance
                | Termination::GradientTolerance
                | Termination::NothingToOptimize
        )
    }
}

/// What one bundle adjustment did. Costs are `½ Σ ρ(‖r‖²)`; RMS errors are
/// `sqrt(Σ ‖r‖² / observations)` in pixels, over the observations in the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleReport {
    pub initial_cost: f64,
    pub final_cost: f64,
    pub initial_rms_px: f64,
    pub final_rms_px: f64,
    /// Linear solves (accepted and rejected steps).
    pub iterations: usize,
    /// Accepted steps.
    pub accepted_steps: usize,
    pub termination: Termination,
    /// Whether a minimum was reached (see [`Termination::converged`]).
    pub converged: bool,
    /// Observations (residuals) in the problem.
    pub observations: usize,
    /// Observations left out because their point lay behind the camera at the start.
    pub skipped_observations: usize,
    pub variable_images: usize,
    pub variable_cameras: usize,
    pub variable_points: usize,
}
