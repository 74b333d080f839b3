//! COLMAP sparse models (`cameras`, `images`, `points3D`, binary `.bin` or text `.txt`) read
//! into and written from a [`Reconstruction`], byte for byte in COLMAP's layouts, so models move
//! between Splatpod, COLMAP, pycolmap, nerfstudio and the 3DGS trainers unchanged.
//!
//! Readers take the file contents (`&[u8]`) and writers return them ([`ModelFiles`]), so the
//! module works in the browser; [`read_model`] and [`write_model`] add folder IO natively.
//! Every model read or written is checked for consistency: ids unique, camera parameter counts
//! right, images name existing cameras, tracks and 2D points refer to each other both ways.
//!
//! COLMAP 3.12+ also writes `rigs` and `frames` files; they are not read (a model without them
//! is what COLMAP calls a legacy model, one rig per camera and one frame per image, which is
//! exactly what a [`Reconstruction`] holds) and not written (COLMAP reads such models).

mod binary;
mod check;
mod error;
mod text;

#[cfg(test)]
mod tests;

pub use binary::{read_binary, write_binary};
pub use error::{ColmapError, Record};
pub use text::{read_text, write_text};

use std::collections::BTreeMap;

use nalgebra::{Quaternion, UnitQuaternion};

use super::Reconstruction;

/// The three files of a model, as bytes (file names in [`ModelFormat::file_names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub cameras: Vec<u8>,
    pub images: Vec<u8>,
    pub points3d: Vec<u8>,
}

/// COLMAP's two encodings of a sparse model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    Binary,
    Text,
}

/// Names of a model's three files in one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileNames {
    pub cameras: &'static str,
    pub images: &'static str,
    pub points3d: &'static str,
}

impl ModelFormat {
    /// The file names COLMAP uses for this format.
    pub fn file_names(self) -> FileNames {
        match self {
            ModelFormat::Binary => FileNames {
                cameras: "cameras.bin",
                images: "images.bin",
                points3d: "points3D.bin",
            },
            ModelFormat::Text => FileNames {
                cameras: "cameras.txt",
                images: "images.txt",
                points3d: "points3D.txt",
            },
        }
    }

    /// Parses the three files in this format.
    pub fn read(self, files: &ModelFiles) -> Result<Reconstruction, ColmapError> {
        match self {
            ModelFormat::Binary => read_binary(&files.cameras, &files.images, &files.points3d),
            ModelFormat::Text => read_text(&files.cameras, &files.images, &files.points3d),
        }
    }

    /// Encodes `rec` in this format.
    pub fn write(self, rec: &Reconstruction) -> Result<ModelFiles, ColmapError> {
        match self {
            ModelFormat::Binary => write_binary(rec),
            ModelFormat::Text => write_text(rec),
        }
    }
}

/// Adds record `id` of a model being read; a second record with the same id in `file` is
/// [`ColmapError::DuplicateId`] (`what` names the kind of record).
fn insert_new<K: Ord + Copy + Into<u64>, V>(
    map: &mut BTreeMap<K, V>,
    id: K,
    value: V,
    file: &'static str,
    what: &'static str,
) -> Result<(), ColmapError> {
    match map.insert(id, value) {
        None => Ok(()),
        Some(_) => Err(ColmapError::DuplicateId {
            file,
            what,
            id: id.into(),
        }),
    }
}

/// The rotation stored as `qw qx qy qz`. A quaternion that is unit to rounding is kept bit for
/// bit (so models round-trip exactly); others (text written with few digits) are normalised.
/// `None` when it has no direction (zero or not finite).
fn rotation_from_wxyz(w: f64, x: f64, y: f64, z: f64) -> Option<UnitQuaternion<f64>> {
    let q = Quaternion::new(w, x, y, z);
    let norm = q.norm();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    if (norm - 1.0).abs() <= 8.0 * f64::EPSILON {
        Some(UnitQuaternion::new_unchecked(q))
    } else {
        Some(UnitQuaternion::new_normalize(q))
    }
}

/// Reads the model in `dir`: the `.bin` files when `cameras.bin` exists, else the `.txt` files.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_model(dir: &std::path::Path) -> Result<Reconstruction, ColmapError> {
    let format = if dir.join("cameras.bin").is_file() {
        ModelFormat::Binary
    } else if dir.join("cameras.txt").is_file() {
        ModelFormat::Text
    } else {
        return Err(ColmapError::NoModel {
            dir: dir.to_path_buf(),
        });
    };
    let names = format.file_names();
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| ColmapError::Io { path, source })
    };
    let files = ModelFiles {
        cameras: read(names.cameras)?,
        images: read(names.images)?,
        points3d: read(names.points3d)?,
    };
    format.read(&files)
}

/// Writes `rec` into `dir` (created if missing) as COLMAP's three files in `format`.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_model(
    dir: &std::path::Path,
    rec: &Reconstruction,
    format: ModelFormat,
) -> Result<(), ColmapError> {
    let files = format.write(rec)?;
    std::fs::create_dir_all(dir).map_err(|source| ColmapError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let names = format.file_names();
    for (name, bytes) in [
        (names.cameras, &files.cameras),
        (names.images, &files.images),
        (names.points3d, &files.points3d),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| ColmapError::Io { path, source })?;
    }
    Ok(())
}
