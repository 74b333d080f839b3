//! nerfstudio / instant-ngp `transforms.json` (intrinsics and camera-to-world poses of the
//! training images) read into and written from a [`Reconstruction`].
//!
//! Conventions:
//! - `transform_matrix` is camera-to-world with the OpenGL camera axes (x right, y up, looking
//!   down −z). COLMAP's camera has y down and looks down +z, so the two differ by flipping the
//!   camera's y and z axes: `world_from_cam(COLMAP) = transform_matrix · diag(1, −1, −1, 1)`.
//! - Nothing else is changed. instant-ngp's `colmap2nerf.py` and nerfstudio's
//!   `ns-process-data` also re-orient, recentre and rescale the world when they convert a COLMAP
//!   model (nerfstudio records it as `applied_transform`); reading does not undo that, so poses
//!   come back in the file's world frame. Writing uses the reconstruction's world frame as is.
//! - Intrinsics may be given at the top level, per frame, or mixed; a frame's own value wins,
//!   field by field. `fl_x` may be replaced by instant-ngp's `camera_angle_x`; `fl_y` defaults
//!   to `fl_x`, `cx`/`cy` to the image centre. `camera_model` "OPENCV" (k1, k2, p1, p2) and
//!   "PINHOLE" are supported; without it, nonzero distortion means OPENCV.
//! - Reading makes one camera per distinct set of intrinsics (ids from 1 in order of first
//!   use) and one image per frame (id = frame index + 1, name = `file_path` verbatim) without
//!   2D points. Writing maps SIMPLE_PINHOLE to PINHOLE and SIMPLE_RADIAL / RADIAL to OPENCV
//!   (same projection), and writes the intrinsics at the top level when every image shares one
//!   camera, per frame otherwise.

use nalgebra::{Isometry3, Matrix3, Matrix4, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use super::{Camera, CameraModel, Image, Reconstruction};

/// Intrinsics as `transforms.json` spells them. Every field is optional because frames
/// override the top-level values one field at a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fl_x: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fl_y: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cx: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k4: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2: Option<f64>,
    /// instant-ngp's horizontal field of view (radians), used when `fl_x` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_angle_x: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_angle_y: Option<f64>,
    /// instant-ngp's fisheye flag (not supported: rejected when true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_fisheye: Option<bool>,
}

/// One training image: its path and OpenGL camera-to-world matrix (rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub file_path: String,
    pub transform_matrix: [[f64; 4]; 4],
    #[serde(flatten)]
    pub intrinsics: Intrinsics,
}

/// A `transforms.json` file (keys other than these are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transforms {
    #[serde(flatten)]
    pub intrinsics: Intrinsics,
    pub frames: Vec<Frame>,
}

/// A `transforms.json` that cannot be read, or a reconstruction that cannot be written as one.
#[derive(Debug, thiserror::Error)]
pub enum TransformsError {
    #[error("transforms.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("transforms.json: frame {index} ({file_path}): no {field}, neither in the frame nor at the top level")]
    MissingField {
        index: usize,
        file_path: String,
        field: &'static str,
    },
    #[error("transforms.json: frame {index} ({file_path}): unsupported camera model {model}")]
    UnsupportedModel {
        index: usize,
        file_path: String,
        model: String,
    },
    #[error("transforms.json: frame {index} ({file_path}): {reason}")]
    InvalidFrame {
        index: usize,
        file_path: String,
        reason: String,
    },
    #[error("cannot write transforms.json: image {image_id}: {reason}")]
    Unwritable { image_id: u32, reason: String },
}

/// Parses `transforms.json` into a reconstruction (see the module notes for the conventions).
pub fn read_transforms(json: &[u8]) -> Result<Reconstruction, TransformsError> {
    Transforms::from_json(json)?.to_reconstruction()
}

/// Encodes the cameras and poses of `rec` as `transforms.json` (3D points are not part of it).
pub fn write_transforms(rec: &Reconstruction) -> Result<Vec<u8>, TransformsError> {
    Transforms::from_reconstruction(rec)?.to_json()
}

/// Flips the camera's y and z axes: OpenGL camera ↔ COLMAP camera (its own inverse).
fn axis_flip() -> Matrix3<f64> {
    Matrix3::from_diagonal(&Vector3::new(1.0, -1.0, -1.0))
}

/// Largest image side written or read as a float without loss.
const MAX_EXACT_SIZE: f64 = (1u64 << 53) as f64;

impl Transforms {
    /// Parses the JSON text.
    pub fn from_json(json: &[u8]) -> Result<Self, TransformsError> {
        Ok(serde_json::from_slice(json)?)
    }

    /// Pretty-printed JSON, floats in their shortest exact form.
    pub fn to_json(&self) -> Result<Vec<u8>, TransformsError> {
        Ok(serde_json::to_vec_pretty(self)?)
    }

    /// Cameras (one per distinct intrinsics) and posed images (one per frame).
    pub fn to_reconstruction(&self) -> Result<Reconstruction, TransformsError> {
        let mut rec = Reconstruction::default();
        for (index, frame) in self.frames.iter().enumerate() {
            let invalid = |reason: String| TransformsError::InvalidFrame {
                index,
                file_path: frame.file_path.clone(),
                reason,
            };
            let (model, width, height, params) = self.resolve_intrinsics(index, frame)?;
            let existing = rec.cameras.values().find(|c| {
                c.model == model && c.width == width && c.height == height && c.params == params
            });
            let camera_id = match existing {
                Some(camera) => camera.id,
                None => {
                    let id = rec.cameras.len() as u32 + 1;
                    let camera = Camera::unchecked(id, model, width, height, params);
                    rec.cameras.insert(id, camera);
                    id
                }
            };
            let id = u32::try_from(index + 1)
                .map_err(|_| invalid("more frames than u32 image ids".into()))?;
            let image = Image {
                id,
                camera_id,
                name: frame.file_path.clone(),
                cam_from_world: cam_from_world(&frame.transform_matrix).map_err(invalid)?,
                points2d: Vec::new(),
            };
            rec.images.insert(id, image);
        }
        Ok(rec)
    }

    /// The camera of frame `index`: model, width, height, COLMAP parameters.
    fn resolve_intrinsics(
        &self,
        index: usize,
        frame: &Frame,
    ) -> Result<(CameraModel, u64, u64, Vec<f64>), TransformsError> {
        let (own, global) = (&frame.intrinsics, &self.intrinsics);
        let pick = |field: fn(&Intrinsics) -> Option<f64>| field(own).or(field(global));
        let missing = |field| TransformsError::MissingField {
            index,
            file_path: frame.file_path.clone(),
            field,
        };
        let invalid = |reason: String| TransformsError::InvalidFrame {
            index,
            file_path: frame.file_path.clone(),
            reason,
        };
        let size = |value: Option<f64>, field| {
            let v = value.ok_or_else(|| missing(field))?;
            if (1.0..=MAX_EXACT_SIZE).contains(&v) && v.fract() == 0.0 {
                Ok(v)
            } else {
                Err(invalid(format!("{field} = {v} is not an image size")))
            }
        };
        let w = size(pick(|i| i.w), "w")?;
        let h = size(pick(|i| i.h), "h")?;
        let focal = |size: f64, angle: Option<f64>| angle.map(|a| 0.5 * size / (0.5 * a).tan());
        let fl_x = pick(|i| i.fl_x)
            .or_else(|| focal(w, pick(|i| i.camera_angle_x)))
            .ok_or_else(|| missing("fl_x (or camera_angle_x)"))?;
        let fl_y = pick(|i| i.fl_y)
            .or_else(|| focal(h, pick(|i| i.camera_angle_y)))
            .unwrap_or(fl_x);
        let cx = pick(|i| i.cx).unwrap_or(0.5 * w);
        let cy = pick(|i| i.cy).unwrap_or(0.5 * h);
        let [k1, k2, k3, k4, p1, p2] = [
            pick(|i| i.k1),
            pick(|i| i.k2),
            pick(|i| i.k3),
            pick(|i| i.k4),
            pick(|i| i.p1),
            pick(|i| i.p2),
        ]
        .map(|v| v.unwrap_or(0.0));

        for (name, v) in [("fl_x", fl_x), ("fl_y", fl_y)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(format!("{name} = {v} is not a focal length")));
            }
        }
        for (name, v) in [("cx", cx), ("cy", cy), ("k1", k1), ("k2", k2)]
            .into_iter()
            .chain([("p1", p1), ("p2", p2)])
        {
            if !v.is_finite() {
                return Err(invalid(format!("{name} is not finite")));
            }
        }
        let unsupported = |model: String| TransformsError::UnsupportedModel {
            index,
            file_path: frame.file_path.clone(),
            model,
        };
        if own.is_fisheye.or(global.is_fisheye).unwrap_or(false) {
            return Err(unsupported("fisheye (is_fisheye)".into()));
        }
        if k3 != 0.0 || k4 != 0.0 {
            return Err(invalid(
                "k3/k4 are set, but COLMAP's OPENCV model has only k1, k2, p1, p2".into(),
            ));
        }
        let distorted = [k1, k2, p1, p2].iter().any(|&k| k != 0.0);
        let model_name = own
            .camera_model
            .as_deref()
            .or(global.camera_model.as_deref());
        let model = match (model_name, distorted) {
            (None, true) | (Some("OPENCV"), _) => CameraModel::OpenCv,
            (None | Some("PINHOLE" | "SIMPLE_PINHOLE"), false) => CameraModel::Pinhole,
            (Some("PINHOLE" | "SIMPLE_PINHOLE"), true) => {
                return Err(invalid(
                    "distortion coefficients are set for a pinhole camera".into(),
                ))
            }
            (Some(other), _) => return Err(unsupported(other.to_string())),
        };
        let params = match model {
            CameraModel::OpenCv => vec![fl_x, fl_y, cx, cy, k1, k2, p1, p2],
            _ => vec![fl_x, fl_y, cx, cy],
        };
        Ok((model, w as u64, h as u64, params))
    }

    /// Frames for the images of `rec` in id order; intrinsics at the top level when all
    /// images share a camera.
    pub fn from_reconstruction(rec: &Reconstruction) -> Result<Self, TransformsError> {
        let mut frames = Vec::with_capacity(rec.images.len());
        for image in rec.images.values() {
            let camera =
                rec.cameras
                    .get(&image.camera_id)
                    .ok_or_else(|| TransformsError::Unwritable {
                        image_id: image.id,
                        reason: format!("its camera {} is not in the model", image.camera_id),
                    })?;
            frames.push(Frame {
                file_path: image.name.clone(),
                transform_matrix: opengl_camera_to_world(&image.cam_from_world),
                intrinsics: intrinsics_of(camera).map_err(|reason| {
                    TransformsError::Unwritable {
                        image_id: image.id,
                        reason,
                    }
                })?,
            });
        }
        let first_camera = rec.images.values().next().map(|im| im.camera_id);
        let shared = rec
            .images
            .values()
            .all(|im| Some(im.camera_id) == first_camera);
        let mut intrinsics = Intrinsics::default();
        if shared {
            if let Some(first) = frames.first() {
                intrinsics = first.intrinsics.clone();
            }
            for frame in &mut frames {
                frame.intrinsics = Intrinsics::default();
            }
        }
        Ok(Transforms { intrinsics, frames })
    }
}

/// The `transforms.json` intrinsics of a camera (OPENCV or PINHOLE, nerfstudio's names).
fn intrinsics_of(camera: &Camera) -> Result<Intrinsics, String> {
    let p = &camera.params;
    if p.len() != camera.model.param_count() {
        return Err(format!(
            "camera {}: {} takes {} parameters, it has {}",
            camera.id,
            camera.model.name(),
            camera.model.param_count(),
            p.len()
        ));
    }
    for (name, size) in [("width", camera.width), ("height", camera.height)] {
        if size as f64 > MAX_EXACT_SIZE {
            return Err(format!("camera {}: {name} {size} is too large", camera.id));
        }
    }
    let (fl_x, fl_y, cx, cy, distortion) = match camera.model {
        CameraModel::SimplePinhole => (p[0], p[0], p[1], p[2], None),
        CameraModel::Pinhole => (p[0], p[1], p[2], p[3], None),
        CameraModel::SimpleRadial => (p[0], p[0], p[1], p[2], Some([p[3], 0.0, 0.0, 0.0])),
        CameraModel::Radial => (p[0], p[0], p[1], p[2], Some([p[3], p[4], 0.0, 0.0])),
        CameraModel::OpenCv => (p[0], p[1], p[2], p[3], Some([p[4], p[5], p[6], p[7]])),
    };
    let mut out = Intrinsics {
        camera_model: Some(
            if distortion.is_some() {
                "OPENCV"
            } else {
                "PINHOLE"
            }
            .into(),
        ),
        fl_x: Some(fl_x),
        fl_y: Some(fl_y),
        cx: Some(cx),
        cy: Some(cy),
        w: Some(camera.width as f64),
        h: Some(camera.height as f64),
        ..Intrinsics::default()
    };
    if let Some([k1, k2, p1, p2]) = distortion {
        (out.k1, out.k2, out.p1, out.p2) = (Some(k1), Some(k2), Some(p1), Some(p2));
    }
    Ok(out)
}

/// The OpenGL camera-to-world matrix (rows) of a COLMAP `cam_from_world`.
fn opengl_camera_to_world(cam_from_world: &Isometry3<f64>) -> [[f64; 4]; 4] {
    let world_from_cam = cam_from_world.inverse();
    let r = world_from_cam.rotation.to_rotation_matrix().into_inner() * axis_flip();
    let c = world_from_cam.translation.vector;
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().take(3).enumerate() {
        *row = [r[(i, 0)], r[(i, 1)], r[(i, 2)], c[i]];
    }
    m[3] = [0.0, 0.0, 0.0, 1.0];
    m
}

/// COLMAP's `cam_from_world` of an OpenGL camera-to-world matrix (rows); the error says why the
/// matrix is not a rigid transform.
fn cam_from_world(rows: &[[f64; 4]; 4]) -> Result<Isometry3<f64>, String> {
    let m = Matrix4::from_fn(|r, c| rows[r][c]);
    if m.iter().any(|v| !v.is_finite()) {
        return Err("transform_matrix has values that are not finite".into());
    }
    let bottom = m.fixed_view::<1, 4>(3, 0);
    if (bottom - nalgebra::RowVector4::new(0.0, 0.0, 0.0, 1.0)).amax() > 1e-9 {
        return Err(format!(
            "transform_matrix's last row is {bottom}, not (0, 0, 0, 1)"
        ));
    }
    let r_gl: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into_owned();
    let deviation = (r_gl.transpose() * r_gl - Matrix3::identity()).amax();
    let determinant = r_gl.determinant();
    // Files store rotations to ~1e-6 (the instant-ngp fox scene: 1.2e-6); a scale or a
    // mirror is an error.
    if deviation > 1e-4 || determinant <= 0.0 {
        return Err(format!(
            "transform_matrix's 3×3 part is not a rotation (|RᵀR − I| = {deviation:e}, det = {determinant})"
        ));
    }
    let r_cv = r_gl * axis_flip();
    // The nearest rotation, started from the closed-form one.
    let guess = Rotation3::from_matrix_unchecked(r_cv);
    let guess = UnitQuaternion::from_rotation_matrix(&guess).to_rotation_matrix();
    let world_from_cam =
        UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_eps(&r_cv, 1e-15, 100, guess));
    let cam_from_world_rotation = world_from_cam.inverse();
    let centre = Vector3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]);
    Ok(Isometry3::from_parts(
        Translation3::from(-(cam_from_world_rotation * centre)),
        cam_from_world_rotation,
    ))
}

#[cfg(test)]
mod tests;
