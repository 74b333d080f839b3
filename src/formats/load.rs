//! Format detection: one entry point for any supported splat file.

use super::error::FormatError;
use super::ply::{has_ply_magic, read_ply};
use super::scene::GaussianScene;
use super::splat::{read_splat, SPLAT_RECORD_BYTES};
use super::spz::read_spz;

/// The splat file formats Splatpod reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneFormat {
    /// 3DGS PLY (binary or ASCII).
    Ply,
    /// Niantic SPZ (gzip, or the ZSTD container of version 4).
    Spz,
    /// antimatter15 `.splat`.
    Splat,
}

fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// Guesses the format of `bytes`: by content first (`ply` magic line; gzip magic `1f 8b` or an
/// uncompressed `NGSP` header for SPZ), then by the file name's extension, then — for a length
/// that is a non-zero multiple of 32 — `.splat`, which has no magic of its own.
pub fn detect_format(bytes: &[u8], name_hint: Option<&str>) -> Option<SceneFormat> {
    if has_ply_magic(bytes) {
        return Some(SceneFormat::Ply);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) || bytes.starts_with(b"NGSP") {
        return Some(SceneFormat::Spz);
    }
    match name_hint.and_then(extension).as_deref() {
        Some("ply") => return Some(SceneFormat::Ply),
        Some("spz") => return Some(SceneFormat::Spz),
        Some("splat") => return Some(SceneFormat::Splat),
        _ => {}
    }
    (!bytes.is_empty() && bytes.len().is_multiple_of(SPLAT_RECORD_BYTES))
        .then_some(SceneFormat::Splat)
}

/// Loads a splat scene from a file's bytes, whatever its format (see [`detect_format`]);
/// `name_hint` is the file name, if known, used only when the content has no magic number.
pub fn load_scene(bytes: &[u8], name_hint: Option<&str>) -> Result<GaussianScene, FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    match detect_format(bytes, name_hint) {
        Some(SceneFormat::Ply) => read_ply(bytes),
        Some(SceneFormat::Spz) => read_spz(bytes),
        Some(SceneFormat::Splat) => read_splat(bytes),
        None => Err(FormatError::UnknownFormat(format!(
            "{} bytes with no PLY or gzip magic, and a length that is not a multiple of 32",
            bytes.len()
        ))),
    }
}
