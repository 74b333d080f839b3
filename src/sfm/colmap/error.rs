//! Why a COLMAP model could not be read or written: which file, which record, what is wrong.

use std::fmt;
#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;

/// Where in a binary file a problem was found (records counted from 0, in file order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The leading record count.
    Header,
    Camera {
        index: u64,
        id: Option<u32>,
    },
    Image {
        index: u64,
        id: Option<u32>,
    },
    Point3D {
        index: u64,
        id: Option<u64>,
    },
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, index, id) = match *self {
            Record::Header => return f.write_str("header"),
            Record::Camera { index, id } => ("camera", index, id.map(u64::from)),
            Record::Image { index, id } => ("image", index, id.map(u64::from)),
            Record::Point3D { index, id } => ("point3D", index, id),
        };
        match id {
            Some(id) => write!(f, "{what} #{index} (id {id})"),
            None => write!(f, "{what} #{index}"),
        }
    }
}

/// A malformed or inconsistent COLMAP model, or one that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ColmapError {
    #[error("{file}: {record}: {field} needs {needed} bytes at offset {offset}, the file ends there after {available}")]
    Truncated {
        file: &'static str,
        record: Record,
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{file}: {record}: {count} {what} cannot fit in the {remaining} bytes left (each takes at least {min_size})")]
    CountTooLarge {
        file: &'static str,
        record: Record,
        what: &'static str,
        count: u64,
        min_size: usize,
        remaining: usize,
    },
    #[error("{file}: {extra} unexpected bytes after the last record")]
    TrailingBytes { file: &'static str, extra: usize },
    #[error("{file} line {line}: {reason}")]
    Syntax {
        file: &'static str,
        line: usize,
        reason: String,
    },
    #[error("{file}: camera {camera_id}: unsupported camera model {model}")]
    UnsupportedModel {
        file: &'static str,
        camera_id: u32,
        model: String,
    },
    #[error(
        "{file}: camera {camera_id}: model {model} takes {expected} parameters, found {found}"
    )]
    ParamCount {
        file: &'static str,
        camera_id: u32,
        model: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{file}: {what} id {id} appears more than once")]
    DuplicateId {
        file: &'static str,
        what: &'static str,
        id: u64,
    },
    #[error("{file}: {record}: {reason}")]
    InvalidRecord {
        file: &'static str,
        record: String,
        reason: String,
    },
    #[error("{file}: image {image_id} uses camera {camera_id}, which is not in the model")]
    MissingCamera {
        file: &'static str,
        image_id: u32,
        camera_id: u32,
    },
    #[error(
        "{file}: point3D {point3d_id}: its track names image {image_id}, which is not in the model"
    )]
    MissingImage {
        file: &'static str,
        point3d_id: u64,
        image_id: u32,
    },
    #[error("{file}: point3D {point3d_id}: its track names point2D {point2d_idx} of image {image_id}, which has {num_points2d} points2D")]
    Point2DOutOfRange {
        file: &'static str,
        point3d_id: u64,
        image_id: u32,
        point2d_idx: u32,
        num_points2d: usize,
    },
    #[error("{file}: image {image_id}, point2D {point2d_idx}: observes point3D {point3d_id}, which is not in the model")]
    MissingPoint3D {
        file: &'static str,
        image_id: u32,
        point2d_idx: usize,
        point3d_id: u64,
    },
    #[error("{file}: point3D {point3d_id} and image {image_id}, point2D {point2d_idx} disagree: {reason}")]
    InconsistentTrack {
        file: &'static str,
        point3d_id: u64,
        image_id: u32,
        point2d_idx: usize,
        reason: &'static str,
    },
    #[error("cannot write {file}: {record}: {reason}")]
    Unwritable {
        file: &'static str,
        record: String,
        reason: String,
    },
    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: no COLMAP model here (neither cameras.bin nor cameras.txt)", dir.display())]
    NoModel { dir: PathBuf },
}
