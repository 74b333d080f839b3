//! Splat scene model and file formats (3DGS PLY, Niantic SPZ, antimatter15 `.splat`).

mod error;
mod load;
mod ply;
mod progressive;
mod scene;
mod splat;
mod spz;
mod spz4;
#[cfg(test)]
mod tests;

pub use error::FormatError;
pub use load::{detect_format, load_scene, SceneFormat};
pub use ply::{read_ply, save_ply, write_ply};
pub use progressive::ProgressiveLoader;
pub use scene::{
    logit, sh_coeffs_per_channel, sigmoid, GaussianScene, SceneError, MAX_SH_DEGREE, SH_C0,
};
pub use splat::{read_splat, SPLAT_RECORD_BYTES};
pub use spz::{
    read_spz, read_spz_with_info, save_spz, save_spz_with, write_spz, SpzInfo, SpzOptions,
    MAX_SPZ_POINTS, SPZ_MAGIC,
};
