//! Splat scene model and file formats (3DGS PLY, Niantic SPZ, antimatter15 `.splat`).

mod scene;

pub use scene::{
    logit, sh_coeffs_per_channel, sigmoid, GaussianScene, SceneError, MAX_SH_DEGREE, SH_C0,
};
