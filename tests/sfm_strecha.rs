//! Structure-from-Motion end to end on real photographs with ground-truth cameras: the Strecha
//! scenes through GPU SIFT (lavapipe in CI), matching, the incremental mapper, and a similarity
//! alignment to the laser-registered cameras. Photos are downscaled to 1024 px and use the `low`
//! preset so the whole run stays short on a software GPU; the full-size figures beside COLMAP
//! are in `bench/results/sfm.json`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use splatpod::api::Quality;
use splatpod::features::PairMode;
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions, DecodedImage};
use splatpod::sfm::evaluate::evaluate;
use splatpod::sfm::mapper::MapperOptions;
use splatpod::sfm::pipeline::reconstruct_photos;
use splatpod::sfm::{colmap, reference};

fn scene_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(name)
}

fn photos(scene: &str, max_side: u32) -> Vec<(String, DecodedImage)> {
    let dir = scene_dir(scene).join("images");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).expect("photo");
            let opts = DecodeOptions {
                max_side: Some(max_side),
                ..DecodeOptions::default()
            };
            let d = decode_image(&bytes, Some(&n), &opts).expect("decode");
            (n, d)
        })
        .collect()
}

/// Reconstructs `scene` and checks it against the ground truth: every photo registered,
/// rotations and centres within the floors, sub-pixel reprojection error, and a model that
/// survives the COLMAP binary format.
async fn reconstruct_and_check(scene: &str, max_rotation_deg: f64, max_center: f64) {
    let ctx = GpuContext::new().await.expect("GPU (lavapipe in CI)");
    let photos = photos(scene, 1024);
    let n = photos.len();
    let result = reconstruct_photos(
        &ctx,
        &photos,
        &Quality::Low.sift_params(None),
        PairMode::Exhaustive,
        &MapperOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{scene}: {e}"));
    let rec = &result.reconstruction;
    assert!(
        result.unregistered.is_empty(),
        "{scene}: {:?}",
        result.unregistered
    );
    let gt = reference::read_strecha_scene(&scene_dir(scene)).expect("ground truth");
    let eval = evaluate(rec, &reference::strecha_poses(&gt)).expect("evaluation");
    eprintln!(
        "{scene}: {} of {n} registered, {} points; rotation median {:.3}° max {:.3}°; centre median {:.4} % max {:.4} %; reprojection {:.3} px",
        eval.registered_count,
        eval.num_points3d,
        eval.rotation_error_deg.median,
        eval.rotation_error_deg.max,
        eval.center_error.median * 100.0,
        eval.center_error.max * 100.0,
        result.rms_reprojection_px,
    );
    assert_eq!(eval.matched_count, n, "{scene}: {:?}", eval.missing);
    assert!(
        eval.rotation_error_deg.max < max_rotation_deg,
        "{scene}: rotation errors {:?}",
        eval.rotation_error_deg
    );
    assert!(
        eval.center_error.max < max_center,
        "{scene}: centre errors {:?}",
        eval.center_error
    );
    let reproj = eval.reprojection.error_px.expect("observations");
    assert!(reproj.mean < 1.0, "{scene}: reprojection {reproj:?}");
    assert!(
        eval.num_points3d >= 1000,
        "{scene}: {} points",
        eval.num_points3d
    );
    for cam in rec.cameras.values() {
        assert_eq!((cam.width, cam.height), (1536, 1024), "{scene}: {cam:?}");
    }
    // The model is consistent (tracks and 2D points point at each other) and survives the
    // COLMAP binary format: the reader checks both.
    let files = colmap::write_binary(rec).expect("COLMAP model");
    let back = colmap::read_binary(&files.cameras, &files.images, &files.points3d).expect("read");
    assert_eq!(back.points3d.len(), rec.points3d.len());
    for (id, img) in &rec.images {
        let b = &back.images[id];
        assert_eq!(b.points2d.len(), img.points2d.len());
        let dr = (b.cam_from_world.rotation * img.cam_from_world.rotation.inverse()).angle();
        assert!(dr < 1e-12, "{scene}: image {id} rotation moved by {dr}");
    }
}

/// Floors for this test's settings (1024 px, `low`, lavapipe). Measured 2026-11-30: rotation
/// median 0.51° (Herz-Jesus; few points at this size, so the principal point stays at the
/// centre, whose ~11 px offset from the true one is worth ~0.5°) and 0.34° (fountain, where it
/// is refined), centre errors under 0.08 % of the extent.
#[tokio::test]
async fn strecha_herz_jesus_is_reconstructed_within_the_ground_truth_floors() {
    reconstruct_and_check("strecha-Herz-Jesus-P8", 0.8, 0.005).await;
}

#[tokio::test]
async fn strecha_fountain_is_reconstructed_within_the_ground_truth_floors() {
    reconstruct_and_check("strecha-fountain-P11", 0.8, 0.005).await;
}
