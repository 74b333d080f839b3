//! `.splat` (antimatter15): hand-built records.

use super::*;

fn splat_record(p: [f32; 3], s: [f32; 3], rgba: [u8; 4], rot: [u8; 4]) -> Vec<u8> {
    let mut r = Vec::new();
    for v in p.iter().chain(&s) {
        r.extend_from_slice(&v.to_le_bytes());
    }
    r.extend_from_slice(&rgba);
    r.extend_from_slice(&rot);
    r
}

#[test]
fn splat_hand_built_records() {
    let mut b = splat_record(
        [1.0, -2.0, 3.5],
        [0.5, 1.0, 2.0],
        [255, 128, 0, 204],
        [255, 128, 128, 128],
    );
    b.extend(splat_record(
        [0.0; 3],
        [0.0, 1e-3, 4.0],
        [0, 0, 0, 0],
        [128, 0, 128, 192],
    ));
    assert_eq!(b.len(), 64);
    let scene = read_splat(&b).expect(".splat");
    assert_eq!(scene.validate(), Ok(()));
    assert_eq!(scene.sh_degree, 0);
    assert_eq!(scene.positions, vec![[1.0, -2.0, 3.5], [0.0; 3]]);
    let ls = scene.log_scales[0];
    assert!((ls[0] - 0.5f32.ln()).abs() < 1e-6 && ls[1] == 0.0 && (ls[2] - 2f32.ln()).abs() < 1e-6);
    assert!(scene.log_scales[1][0].is_finite() && scene.log_scales[1][0] < -80.0);
    let dc = |c: f32| (c / 255.0 - 0.5) / SH_C0;
    assert_eq!(&scene.sh[..3], &[dc(255.0), dc(128.0), dc(0.0)]);
    // Colour back: 0.5 + SH_C0 · f_dc = c / 255.
    assert!((0.5 + SH_C0 * scene.sh[0] - 1.0).abs() < 1e-6);
    assert!((sigmoid(scene.opacity_logits[0]) - 0.8).abs() < 1e-6);
    assert!(scene.opacity_logits[1].is_finite());
    assert_eq!(scene.rotations[0], [127.0 / 128.0, 0.0, 0.0, 0.0]);
    assert_eq!(scene.rotations[1], [0.0, -1.0, 0.0, 0.5]);
    assert_eq!(
        load_scene(&b, Some("dir/Model.SPLAT")).expect("load"),
        scene
    );
    assert_eq!(load_scene(&b, None).expect("by size"), scene);
}
