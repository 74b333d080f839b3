//! Test inputs shared by the end-to-end tests: the Strecha fountain photos from the shared
//! datasets, and a small valid 3DGS PLY written by the engine from a procedural scene.

use std::path::PathBuf;

/// The folder of the Strecha fountain-P11 photos (`0000.jpg` …).
pub fn images_dir() -> PathBuf {
    super::workspace_root().join("../shared/datasets/strecha-fountain-P11/images")
}

/// The bytes of Strecha photo `i`.
pub fn photo(i: usize) -> Vec<u8> {
    std::fs::read(images_dir().join(format!("{i:04}.jpg"))).expect("Strecha photo")
}

/// A valid 3DGS PLY of `splats` procedural splats (seed `seed`), written by the engine's writer.
pub fn scene_ply(splats: usize, seed: u64) -> Vec<u8> {
    let scene = splatpod::render::procedural_scene(splats, seed);
    let mut out = Vec::new();
    splatpod::formats::write_ply(&scene, &mut out).expect("write PLY");
    out
}
