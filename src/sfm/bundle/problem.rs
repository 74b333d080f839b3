//! The bundle adjustment problem: which images, cameras and points take part, which of their
//! parameters vary (and where each sits in the reduced camera system), the observations, and
//! the parameter state the iterations move.

use std::collections::BTreeMap;

use nalgebra::{Isometry3, Vector2, Vector3};

use super::residual::{residual, retract_pose};
use super::{BundleError, BundleOptions, LossFunction};
use crate::sfm::camera::{CameraModel, MAX_PARAMS};
use crate::sfm::Reconstruction;

/// An image in the problem: its camera and the system index of each pose coordinate (ω then
/// δt, see [`retract_pose`]); `None` for a held coordinate.
pub(crate) struct ImageBlock {
    pub id: u32,
    pub camera: usize,
    pub pose_vars: [Option<usize>; 6],
}

/// A camera in the problem: its model and the system index of each parameter it refines.
pub(crate) struct CameraBlock {
    pub id: u32,
    pub model: CameraModel,
    pub param_vars: [Option<usize>; MAX_PARAMS],
}

/// A 3D point in the problem and its observations (a range of [`Problem::observations`]).
pub(crate) struct PointBlock {
    pub id: u64,
    pub variable: bool,
    pub observations: std::ops::Range<usize>,
}

/// One residual: a point seen in an image at `xy` (pixels).
pub(crate) struct Observation {
    pub image: usize,
    pub point: usize,
    pub xy: Vector2<f64>,
}

/// The structure of the problem (what varies), fixed during the iterations.
pub(crate) struct Problem {
    pub images: Vec<ImageBlock>,
    pub cameras: Vec<CameraBlock>,
    pub points: Vec<PointBlock>,
    /// Grouped by point, in point order.
    pub observations: Vec<Observation>,
    /// Size of the reduced camera system (pose and intrinsic unknowns).
    pub camera_vars: usize,
    /// Observations left out because the point was behind the camera at the start.
    pub skipped: usize,
}

/// The parameter values, indexed like the problem's blocks.
#[derive(Clone)]
pub(crate) struct State {
    pub poses: Vec<Isometry3<f64>>,
    pub params: Vec<Vec<f64>>,
    pub points: Vec<Vector3<f64>>,
}

/// Cost and plain squared error of a state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Costs {
    /// ½ Σ ρ(‖r‖²).
    pub cost: f64,
    /// Σ ‖r‖².
    pub squared_error: f64,
}

impl Problem {
    /// Selects images, cameras, points and observations per the options and checks the input.
    pub fn new(
        rec: &Reconstruction,
        opts: &BundleOptions,
    ) -> Result<(Problem, State), BundleError> {
        check_options(rec, opts)?;
        let active = |id: u32| {
            opts.variable_images
                .as_ref()
                .is_none_or(|s| s.contains(&id))
        };
        let pose_variable = |id: u32| active(id) && !opts.fixed_images.contains(&id);
        let refines_intrinsics =
            opts.refine_focal || opts.refine_principal_point || opts.refine_extra;
        // Cameras used by an active image have variable intrinsics (when any are refined).
        let mut camera_variable: BTreeMap<u32, bool> = BTreeMap::new();
        for image in rec.images.values() {
            let entry = camera_variable.entry(image.camera_id).or_insert(false);
            *entry |= refines_intrinsics
                && active(image.id)
                && !opts.fixed_cameras.contains(&image.camera_id);
        }

        let mut builder = Builder::default();
        let mut problem = Problem {
            images: Vec::new(),
            cameras: Vec::new(),
            points: Vec::new(),
            observations: Vec::new(),
            camera_vars: 0,
            skipped: 0,
        };
        let mut state = State {
            poses: Vec::new(),
            params: Vec::new(),
            points: Vec::new(),
        };
        for (&point_id, point) in &rec.points3d {
            if !point.xyz.iter().all(|c| c.is_finite()) {
                return Err(BundleError::NonFinitePoint(point_id));
            }
            let mut included = false;
            for te in &point.track {
                let image = rec
                    .images
                    .get(&te.image_id)
                    .ok_or(BundleError::MissingImage {
                        point3d_id: point_id,
                        image_id: te.image_id,
                    })?;
                let p2d = image.points2d.get(te.point2d_idx as usize).ok_or(
                    BundleError::MissingPoint2D {
                        point3d_id: point_id,
                        image_id: te.image_id,
                        point2d_idx: te.point2d_idx,
                    },
                )?;
                if !p2d.xy.iter().all(|c| c.is_finite()) {
                    return Err(BundleError::NonFiniteObservation {
                        image_id: te.image_id,
                        point2d_idx: te.point2d_idx,
                    });
                }
                included |= active(te.image_id);
            }
            if !included {
                continue;
            }
            let point_index = problem.points.len();
            let start = problem.observations.len();
            for te in &point.track {
                let image = &rec.images[&te.image_id];
                let cam_variable = camera_variable
                    .get(&image.camera_id)
                    .copied()
                    .unwrap_or(false);
                if !(opts.refine_points || pose_variable(image.id) || cam_variable) {
                    continue;
                }
                let image_index = builder.image(rec, image.id, &mut problem, &mut state)?;
                let camera_index = problem.images[image_index].camera;
                let xy = image.points2d[te.point2d_idx as usize].xy;
                if residual(
                    &state.poses[image_index],
                    problem.cameras[camera_index].model,
                    &state.params[camera_index],
                    &point.xyz,
                    &xy,
                )
                .is_none()
                {
                    problem.skipped += 1;
                    continue;
                }
                problem.observations.push(Observation {
                    image: image_index,
                    point: point_index,
                    xy,
                });
            }
            if problem.observations.len() > start {
                problem.points.push(PointBlock {
                    id: point_id,
                    variable: opts.refine_points,
                    observations: start..problem.observations.len(),
                });
                state.points.push(point.xyz);
            }
        }

        // Number the unknowns of the reduced system: poses, then intrinsics.
        let mut next = 0;
        for block in &mut problem.images {
            if !pose_variable(block.id) {
                continue;
            }
            for (k, slot) in block.pose_vars.iter_mut().enumerate() {
                let held = k >= 3 && opts.fixed_scale_image == Some((block.id, k - 3));
                if !held {
                    *slot = Some(next);
                    next += 1;
                }
            }
        }
        for block in &mut problem.cameras {
            if !camera_variable.get(&block.id).copied().unwrap_or(false) {
                continue;
            }
            let model = block.model;
            let mut refined: Vec<usize> = Vec::new();
            if opts.refine_focal {
                refined.extend_from_slice(model.focal_indices());
            }
            if opts.refine_principal_point {
                refined.extend_from_slice(model.principal_point_indices());
            }
            if opts.refine_extra {
                refined.extend_from_slice(model.extra_indices());
            }
            refined.sort_unstable();
            for i in refined {
                block.param_vars[i] = Some(next);
                next += 1;
            }
        }
        problem.camera_vars = next;
        Ok((problem, state))
    }

    /// Number of images whose pose varies.
    pub fn variable_images(&self) -> usize {
        self.images
            .iter()
            .filter(|b| b.pose_vars.iter().any(Option::is_some))
            .count()
    }

    /// Number of cameras whose intrinsics vary.
    pub fn variable_cameras(&self) -> usize {
        self.cameras
            .iter()
            .filter(|b| b.param_vars.iter().any(Option::is_some))
            .count()
    }

    /// Number of points that vary.
    pub fn variable_points(&self) -> usize {
        self.points.iter().filter(|p| p.variable).count()
    }

    /// Cost and squared error of `state`; `None` when a point falls behind a camera or a focal
    /// length turns non-positive (a step to reject).
    pub fn evaluate(&self, state: &State, loss: LossFunction) -> Option<Costs> {
        let mut costs = Costs {
            cost: 0.0,
            squared_error: 0.0,
        };
        for obs in &self.observations {
            let camera = self.images[obs.image].camera;
            let r = residual(
                &state.poses[obs.image],
                self.cameras[camera].model,
                &state.params[camera],
                &state.points[obs.point],
                &obs.xy,
            )?;
            let s = r.norm_squared();
            costs.cost += 0.5 * loss.evaluate(s).0;
            costs.squared_error += s;
        }
        (costs.cost.is_finite()).then_some(costs)
    }

    /// `state` moved by a step: `camera_step` indexed by system unknown, `point_step` by point.
    pub fn apply(&self, state: &State, camera_step: &[f64], point_step: &[Vector3<f64>]) -> State {
        let at = |var: Option<usize>| var.and_then(|i| camera_step.get(i).copied()).unwrap_or(0.0);
        let mut next = state.clone();
        for (block, pose) in self.images.iter().zip(&mut next.poses) {
            if block.pose_vars.iter().all(Option::is_none) {
                continue;
            }
            let v = block.pose_vars;
            let omega = Vector3::new(at(v[0]), at(v[1]), at(v[2]));
            let delta_t = Vector3::new(at(v[3]), at(v[4]), at(v[5]));
            *pose = retract_pose(pose, &omega, &delta_t);
        }
        for (block, params) in self.cameras.iter().zip(&mut next.params) {
            for (p, var) in params.iter_mut().zip(block.param_vars) {
                *p += at(var);
            }
        }
        for ((block, point), step) in self.points.iter().zip(&mut next.points).zip(point_step) {
            if block.variable {
                *point += step;
            }
        }
        next
    }

    /// Norm of the varying parameters (rotations as axis-angle), the scale of the parameter
    /// tolerance.
    pub fn variable_norm(&self, state: &State) -> f64 {
        let mut sum = 0.0;
        for (block, pose) in self.images.iter().zip(&state.poses) {
            let v = block.pose_vars;
            let omega = pose.rotation.scaled_axis();
            let t = pose.translation.vector;
            for k in 0..3 {
                if v[k].is_some() {
                    sum += omega[k] * omega[k];
                }
                if v[k + 3].is_some() {
                    sum += t[k] * t[k];
                }
            }
        }
        for (block, params) in self.cameras.iter().zip(&state.params) {
            for (p, var) in params.iter().zip(block.param_vars) {
                if var.is_some() {
                    sum += p * p;
                }
            }
        }
        for (block, point) in self.points.iter().zip(&state.points) {
            if block.variable {
                sum += point.norm_squared();
            }
        }
        sum.sqrt()
    }

    /// Writes the varying parameters back into the reconstruction.
    pub fn write_back(&self, state: &State, rec: &mut Reconstruction) {
        for (block, pose) in self.images.iter().zip(&state.poses) {
            if block.pose_vars.iter().any(Option::is_some) {
                if let Some(image) = rec.images.get_mut(&block.id) {
                    image.cam_from_world = *pose;
                }
            }
        }
        for (block, params) in self.cameras.iter().zip(&state.params) {
            if block.param_vars.iter().any(Option::is_some) {
                if let Some(camera) = rec.cameras.get_mut(&block.id) {
                    camera.params.clone_from(params);
                }
            }
        }
        for (block, xyz) in self.points.iter().zip(&state.points) {
            if block.variable {
                if let Some(point) = rec.points3d.get_mut(&block.id) {
                    point.xyz = *xyz;
                }
            }
        }
    }
}

/// Rejects options that name unknown images or impossible settings.
fn check_options(rec: &Reconstruction, opts: &BundleOptions) -> Result<(), BundleError> {
    if let Some(scale) = opts.loss.scale() {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(BundleError::BadLossScale(scale));
        }
    }
    let named = opts
        .fixed_images
        .iter()
        .chain(opts.variable_images.iter().flatten())
        .chain(opts.fixed_scale_image.iter().map(|(id, _)| id));
    for &id in named {
        if !rec.images.contains_key(&id) {
            return Err(BundleError::UnknownImage(id));
        }
    }
    if let Some((_, coordinate)) = opts.fixed_scale_image {
        if coordinate > 2 {
            return Err(BundleError::BadScaleCoordinate(coordinate));
        }
    }
    Ok(())
}

/// Adds images and cameras to the problem on first use, checking them once.
#[derive(Default)]
struct Builder {
    image_index: BTreeMap<u32, usize>,
    camera_index: BTreeMap<u32, usize>,
}

impl Builder {
    /// The problem index of image `id`, adding it (and its camera) if new.
    fn image(
        &mut self,
        rec: &Reconstruction,
        id: u32,
        problem: &mut Problem,
        state: &mut State,
    ) -> Result<usize, BundleError> {
        if let Some(&index) = self.image_index.get(&id) {
            return Ok(index);
        }
        let image = rec.images.get(&id).ok_or(BundleError::UnknownImage(id))?;
        let pose = image.cam_from_world;
        let finite = pose.translation.vector.iter().all(|c| c.is_finite())
            && pose.rotation.coords.iter().all(|c| c.is_finite());
        if !finite {
            return Err(BundleError::NonFinitePose(id));
        }
        let camera = match self.camera_index.get(&image.camera_id) {
            Some(&index) => index,
            None => {
                let camera =
                    rec.cameras
                        .get(&image.camera_id)
                        .ok_or(BundleError::MissingCamera {
                            image_id: id,
                            camera_id: image.camera_id,
                        })?;
                camera
                    .validate()
                    .map_err(|source| BundleError::InvalidCamera {
                        camera_id: image.camera_id,
                        source,
                    })?;
                let index = problem.cameras.len();
                problem.cameras.push(CameraBlock {
                    id: image.camera_id,
                    model: camera.model,
                    param_vars: [None; MAX_PARAMS],
                });
                state.params.push(camera.params.clone());
                self.camera_index.insert(image.camera_id, index);
                index
            }
        };
        let index = problem.images.len();
        problem.images.push(ImageBlock {
            id,
            camera,
            pose_vars: [None; 6],
        });
        state.poses.push(pose);
        self.image_index.insert(id, index);
        Ok(index)
    }
}
