//! SPZ v4 (the stream container): a hand-built file, errors that name the problem, and
//! mutations that never panic.

use super::*;

/// A version-4 file built from the published layout: header, `ext` records (flag 0x2 when
/// there are any), table of contents and one stored (uncompressed-block) ZSTD frame per stream.
fn hand_v4(n: u32, degree: u8, flags: u8, ext: &[u8], streams: &[Vec<u8>]) -> Vec<u8> {
    let mut f = spz_header(
        4,
        n,
        degree,
        12,
        flags | if ext.is_empty() { 0 } else { 0x2 },
    );
    f[15] = streams.len() as u8;
    f.extend_from_slice(&(32 + ext.len() as u32).to_le_bytes());
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(ext);
    let frames: Vec<Vec<u8>> = streams
        .iter()
        .map(|s| {
            ruzstd::encoding::compress_to_vec(
                &s[..],
                ruzstd::encoding::CompressionLevel::Uncompressed,
            )
        })
        .collect();
    for (frame, s) in frames.iter().zip(streams) {
        f.extend_from_slice(&(frame.len() as u64).to_le_bytes());
        f.extend_from_slice(&(s.len() as u64).to_le_bytes());
    }
    for frame in &frames {
        f.extend_from_slice(frame);
    }
    f
}

/// The streams of one degree-1 point at (1, 2, -3) in RUB, as in the hand-built v2 test.
fn one_point_streams() -> Vec<Vec<u8>> {
    let mut pos = Vec::new();
    for fixed in [4096i32, 8192, -12288] {
        pos.extend_from_slice(&fixed.to_le_bytes()[..3]);
    }
    vec![
        pos,
        vec![191],
        vec![166, 128, 90],
        vec![160, 144, 0],
        // 90° about +z in RUB, smallest three: largest index 2, w magnitude 511.
        ((2u32 << 30) | 511).to_le_bytes().to_vec(),
        vec![192, 128, 64, 160, 96, 128, 192, 0, 255],
    ]
}

#[test]
fn spz_hand_built_v4_container() {
    let file = hand_v4(1, 1, 0x1, &[], &one_point_streams());
    let (scene, info) = read_spz_with_info(&file).expect("hand-built SPZ v4");
    assert_eq!(
        info,
        SpzInfo {
            version: 4,
            num_points: 1,
            sh_degree: 1,
            fractional_bits: 12,
            antialiased: true
        }
    );
    assert_eq!(scene.positions, vec![[1.0, -2.0, 3.0]]);
    assert!((sigmoid(scene.opacity_logits[0]) - 191.0 / 255.0).abs() < 1e-6);
    assert_eq!(scene.log_scales, vec![[0.0, -1.0, -10.0]]);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let r = scene.rotations[0];
    assert!((r[0] - h).abs() < 1e-6 && r[1] == 0.0 && r[2] == 0.0 && (r[3] + h).abs() < 1e-6);
    let u = |b: f32| (b - 128.0) / 128.0;
    assert_eq!(scene.sh[3..6], [-u(192.0), -u(128.0), -u(64.0)]);
    assert_eq!(scene.sh[9..], [u(192.0), u(0.0), u(255.0)]);
    assert_eq!(load_scene(&file, Some("x.splat")).expect("detect"), scene);

    // Extension records sit between header and table of contents; the SH range applies.
    let mut ext = 0xADBE_0001u32.to_le_bytes().to_vec();
    ext.extend_from_slice(&10u32.to_le_bytes());
    ext.extend_from_slice(&[5, 4]);
    ext.extend_from_slice(&(-2.0f32).to_le_bytes());
    ext.extend_from_slice(&3.0f32.to_le_bytes());
    let with_ext = read_spz(&hand_v4(1, 1, 0, &ext, &one_point_streams())).expect("ext");
    assert_eq!(with_ext.sh[9], -2.0 + 192.0 / 255.0 * 5.0);
    assert_eq!(with_ext.positions, scene.positions);

    // Degree 0: five streams.
    let mut five = one_point_streams();
    five.pop();
    let deg0 = read_spz(&hand_v4(1, 0, 0, &[], &five)).expect("degree 0");
    assert_eq!((deg0.sh_degree, deg0.positions), (0, scene.positions));
}

#[test]
fn spz_v4_errors_name_the_problem() {
    let good = hand_v4(1, 1, 0, &[], &one_point_streams());
    assert_err_contains(read_spz(&good[..20]), &["after 20 bytes", "32-byte header"]);
    let mut five = one_point_streams();
    five.pop();
    assert_err_contains(
        read_spz(&hand_v4(1, 1, 0, &[], &five)),
        &["lists 5 streams", "needs 6"],
    );
    let mut toc_out = good.clone();
    toc_out[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_err_contains(
        read_spz(&toc_out),
        &["table of contents at byte 4294967295"],
    );
    let mut toc_low = good.clone();
    toc_low[16..20].copy_from_slice(&8u32.to_le_bytes());
    assert_err_contains(read_spz(&toc_low), &["table of contents at byte 8"]);
    // An uncompressed size that disagrees with the header's point count.
    let mut wrong = one_point_streams();
    wrong[1].push(7);
    assert_err_contains(
        read_spz(&hand_v4(1, 1, 0, &[], &wrong)),
        &["stream 1 holds 2 bytes", "need 1"],
    );
    // A compressed size past the end of the file.
    let mut long = good.clone();
    let last = 32 + 5 * 16;
    long[last..last + 8].copy_from_slice(&1000u64.to_le_bytes());
    assert_err_contains(read_spz(&long), &["stream 5", "runs past the end"]);
    assert_err_contains(
        read_spz(&good[..good.len() - 3]),
        &["stream 5", "runs past the end"],
    );
    // A frame whose content is shorter than its table entry says.
    let mut lying = good.clone();
    let first_frame = 32 + 6 * 16;
    lying[first_frame..first_frame + 4].copy_from_slice(&[0; 4]);
    assert_err_contains(read_spz(&lying), &["ZSTD", "stream 0"]);
    assert_err_contains(
        read_spz(&hand_v4(4_000_000_000, 3, 0, &[], &[])),
        &["4000000000 points", "more than the limit"],
    );
}

#[test]
fn spz_v4_mutations_never_panic() {
    let mut rng = SmallRng::seed_from_u64(19);
    let scene = random_scene(&mut rng, 2, 40, 1.0);
    let options = SpzOptions {
        version: 4,
        antialiased: false,
    };
    let good = save_spz_with(&scene, &options).expect("write v4");
    assert!(good.starts_with(b"NGSP"));
    for cut in 0..good.len() {
        assert!(read_spz(&good[..cut]).is_err(), "prefix {cut}");
    }
    for _ in 0..500 {
        let mut m = good.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(4..m.len());
            m[at] = rng.random();
        }
        let _ = read_spz(&m);
    }
}
