//! SPZ v2/v3: round trips within the quantization bounds, hand-built files, extensions, and
//! errors and mutations that never panic.

use super::*;

/// Per-field error bounds of SPZ's quantization.
struct SpzBounds {
    /// Half a fixed-point step.
    position: f32,
    /// Half a step of `(s + 10) · 16`.
    log_scale: f32,
    /// Half a step of `sigmoid · 255`, compared after the sigmoid.
    opacity: f32,
    /// Half a step of `f_dc · 0.15 · 255`.
    dc: f32,
    /// Degree-1 SH: half a bucket of 8 plus rounding, over 128.
    sh1: f32,
    /// Degree-2+ SH: half a bucket of 16 plus rounding, over 128.
    sh_rest: f32,
    /// Quaternion angle (radians).
    rotation: f32,
}

fn spz_bounds(fractional_bits: u8, version: u32) -> SpzBounds {
    SpzBounds {
        position: 0.5 / (1u32 << fractional_bits) as f32,
        log_scale: 0.5 / 16.0,
        opacity: 0.5 / 255.0,
        dc: 0.5 / (0.15 * 255.0),
        sh1: 4.5 / 128.0,
        sh_rest: 8.5 / 128.0,
        // The angle is ~2 × the quaternion error |q' - q|. v3: the three stored components are
        // each within e = 0.5 · √½ / 511, so |d| ≤ √3 e, and the recomputed largest one (≥ ½)
        // adds at most √3 |d|: angle ≤ 2 · 2 · √3 e ≈ 4.8e-3 rad (0.27°). v2: components within
        // e = 0.5 / 127.5 and w = √(1 - |v|²) recomputed, worst at w ≈ 0 where its error is
        // √(2 |d|): angle ≤ 2 √(|d|² + 2 |d|) ≈ 0.234 rad.
        rotation: if version >= 3 {
            let e = 0.5 * std::f32::consts::FRAC_1_SQRT_2 / 511.0;
            4.0 * 3f32.sqrt() * e + 1e-5
        } else {
            let d = 3f32.sqrt() * 0.5 / 127.5;
            2.0 * (d * d + 2.0 * d).sqrt() + 1e-5
        },
    }
}

fn assert_spz_close(a: &GaussianScene, b: &GaussianScene, bounds: &SpzBounds, what: &str) {
    const EPS: f32 = 1e-5;
    assert_eq!(b.sh_degree, a.sh_degree, "{what}");
    assert_eq!(b.len(), a.len(), "{what}");
    assert_eq!(b.validate(), Ok(()));
    let k = sh_coeffs_per_channel(a.sh_degree);
    for i in 0..a.len() {
        for ax in 0..3 {
            let (p, q) = (a.positions[i][ax], b.positions[i][ax]);
            assert!(
                (p - q).abs() <= bounds.position + 2.0 * f32::EPSILON * p.abs().max(1.0),
                "{what}: splat {i} position {p} -> {q}"
            );
            let (s, t) = (a.log_scales[i][ax], b.log_scales[i][ax]);
            assert!(
                (s - t).abs() <= bounds.log_scale + EPS,
                "{what}: splat {i} log scale {s} -> {t}"
            );
        }
        let (o, p) = (sigmoid(a.opacity_logits[i]), sigmoid(b.opacity_logits[i]));
        assert!(
            (o - p).abs() <= bounds.opacity + EPS,
            "{what}: splat {i} opacity {o} -> {p}"
        );
        let angle = quat_angle(a.rotations[i], b.rotations[i]);
        assert!(
            angle <= bounds.rotation,
            "{what}: splat {i} rotation off by {angle} rad"
        );
        let (sa, sb) = (a.sh_of(i), b.sh_of(i));
        for c in 0..k {
            let bound = match c {
                0 => bounds.dc,
                1..=3 => bounds.sh1,
                _ => bounds.sh_rest,
            };
            for ch in 0..3 {
                let (x, y) = (sa[3 * c + ch], sb[3 * c + ch]);
                assert!(
                    (x - y).abs() <= bound + EPS,
                    "{what}: splat {i} SH coefficient {c} channel {ch}: {x} -> {y}"
                );
            }
        }
    }
}

#[test]
fn ply_to_spz_round_trip_within_quantization() {
    let mut rng = SmallRng::seed_from_u64(3);
    for version in [4, 3, 2] {
        for degree in 0..=3 {
            let scene = random_scene(&mut rng, degree, 2000, 100.0);
            // Through PLY bytes first, as a converter would.
            let ply = read_ply(&save_ply(&scene).expect("ply")).expect("ply");
            let options = SpzOptions {
                version,
                antialiased: degree == 2,
            };
            let spz = save_spz_with(&ply, &options).expect("write spz");
            let (back, info) = read_spz_with_info(&spz).expect("read spz");
            assert_eq!(
                info,
                SpzInfo {
                    version,
                    num_points: 2000,
                    sh_degree: degree,
                    fractional_bits: 12,
                    antialiased: degree == 2,
                }
            );
            assert_spz_close(
                &scene,
                &back,
                &spz_bounds(12, version),
                &format!("v{version} degree {degree}"),
            );
            assert_eq!(load_scene(&spz, Some("scene.spz")).expect("load"), back);
            // Decoding is deterministic and re-encoding the decoded scene changes nothing.
            let again =
                read_spz(&save_spz_with(&back, &options).expect("re-write")).expect("re-read");
            assert_spz_close(&back, &again, &spz_bounds(12, version), "re-encode");
        }
    }
}

#[test]
fn spz_v2_rotation_error_is_small_away_from_w_zero() {
    let mut rng = SmallRng::seed_from_u64(11);
    let scene = random_scene(&mut rng, 0, 5000, 1.0);
    let back = read_spz(
        &save_spz_with(
            &scene,
            &SpzOptions {
                version: 2,
                antialiased: false,
            },
        )
        .expect("v2"),
    )
    .expect("read v2");
    for i in 0..scene.len() {
        let q = normalized(scene.rotations[i]);
        if q[0].abs() > 0.5 {
            let angle = quat_angle(q, back.rotations[i]);
            assert!(angle < 0.03, "splat {i}: {angle} rad");
        }
    }
}

#[test]
fn spz_large_positions_use_fewer_fractional_bits() {
    let mut rng = SmallRng::seed_from_u64(5);
    let scene = random_scene(&mut rng, 1, 300, 5000.0);
    let (back, info) = read_spz_with_info(&save_spz(&scene).expect("write")).expect("read");
    // 5000 · 2^10 < 2^23 - 1 < 5000 · 2^11.
    assert_eq!(info.fractional_bits, 10);
    assert_spz_close(&scene, &back, &spz_bounds(10, 3), "large positions");

    let mut far = scene.clone();
    far.positions[7] = [1.0e7, 0.0, 0.0];
    assert_err_contains(save_spz(&far), &["exceeds the 24-bit fixed-point range"]);
    far.positions[7] = [f32::NAN, 0.0, 0.0];
    assert_err_contains(save_spz(&far), &["splat 7", "non-finite position"]);
    assert_err_contains(
        save_spz_with(
            &scene,
            &SpzOptions {
                version: 5,
                antialiased: false,
            },
        ),
        &["version 5 cannot be written"],
    );
}

#[test]
fn spz_degenerate_values_stay_finite() {
    let mut s = GaussianScene::empty(0);
    s.positions.extend([[0.0; 3], [1.0; 3]]);
    s.log_scales.extend([[-30.0; 3], [30.0; 3]]);
    s.rotations.extend([[0.0; 4], [f32::NAN, 0.0, 0.0, 0.0]]);
    s.opacity_logits.extend([-100.0, 100.0]);
    s.sh.extend([-50.0, 0.0, 50.0, f32::NAN, 1.0, 2.0]);
    let back = read_spz(&save_spz(&s).expect("write")).expect("read");
    for v in back.sh.iter().chain(&back.opacity_logits) {
        assert!(v.is_finite());
    }
    assert_eq!(back.rotations, vec![[1.0, 0.0, 0.0, 0.0]; 2]);
    assert_eq!(back.log_scales[0], [-10.0; 3]);
    assert_eq!(back.log_scales[1], [255.0 / 16.0 - 10.0; 3]);
    for degree in 0..=3 {
        let empty = GaussianScene::empty(degree);
        for version in [3, 4] {
            let options = SpzOptions {
                version,
                antialiased: false,
            };
            let spz = save_spz_with(&empty, &options).expect("write");
            let (back, info) = read_spz_with_info(&spz).expect("read");
            assert_eq!((back, info.num_points), (empty.clone(), 0));
        }
    }
}

#[test]
fn spz_hand_built_v2_applies_rub_to_rdf() {
    // One point, degree 1, 12 fractional bits, stored in SPZ's RUB axes.
    let mut raw = spz_header(2, 1, 1, 12, 0x1);
    for fixed in [4096i32, 8192, -12288] {
        raw.extend_from_slice(&fixed.to_le_bytes()[..3]); // (1, 2, -3)
    }
    raw.push(191); // alpha
    raw.extend_from_slice(&[166, 128, 90]); // colour
    raw.extend_from_slice(&[160, 144, 0]); // scales: (s + 10) * 16
                                           // 90° about +y in RUB: (x, y, z, w) = (0, √½, 0, √½); bytes q * 127.5 + 127.5.
    raw.extend_from_slice(&[128, 218, 128]);
    // SH degree 1: coefficients (y, z, x basis), RGB each.
    raw.extend_from_slice(&[192, 128, 64, 160, 96, 128, 192, 0, 255]);
    let (scene, info) = read_spz_with_info(&gzip(&raw)).expect("hand-built SPZ v2");
    assert!(info.antialiased);
    assert_eq!(info.version, 2);
    assert_eq!(scene.positions, vec![[1.0, -2.0, 3.0]]);
    assert!((sigmoid(scene.opacity_logits[0]) - 191.0 / 255.0).abs() < 1e-6);
    let dc = |b: f32| (b / 255.0 - 0.5) / 0.15;
    assert_eq!(&scene.sh[..3], &[dc(166.0), dc(128.0), dc(90.0)]);
    assert_eq!(scene.log_scales, vec![[0.0, -1.0, -10.0]]);
    let x = 218.0 / 127.5 - 1.0;
    let o = 128.0 / 127.5 - 1.0;
    let w = (1.0f32 - (o * o + x * x + o * o)).sqrt();
    // RDF: (w, x, -y, -z) — the turn about +y becomes one about -y.
    assert_eq!(scene.rotations, vec![[w, o, -x, -o]]);
    let u = |b: f32| (b - 128.0) / 128.0;
    assert_eq!(
        &scene.sh[3..],
        &[
            -u(192.0),
            -u(128.0),
            -u(64.0), // y basis: flips
            -u(160.0),
            -u(96.0),
            -u(128.0), // z basis: flips
            u(192.0),
            u(0.0),
            u(255.0), // x basis: kept
        ]
    );
}

#[test]
fn spz_hand_built_v3_smallest_three() {
    let mut raw = spz_header(3, 2, 0, 8, 0);
    raw.extend_from_slice(&[0x80, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0x80]); // (0.5, -1/256, -32768)
    raw.extend_from_slice(&[0; 9]);
    raw.extend_from_slice(&[0, 255]); // alphas
    raw.extend_from_slice(&[128; 6]); // colours
    raw.extend_from_slice(&[160; 6]); // scales
                                      // Identity: largest index 3 (w), other three zero.
    raw.extend_from_slice(&(3u32 << 30).to_le_bytes());
    // 90° about +z in RUB: (0, 0, √½, √½); largest is z (index 2, the first of the tie), and w
    // is stored last (lowest bits) with magnitude 511.
    raw.extend_from_slice(&((2u32 << 30) | 511).to_le_bytes());
    let scene = read_spz(&gzip(&raw)).expect("hand-built SPZ v3");
    assert_eq!(
        scene.positions,
        vec![[0.5, 1.0 / 256.0, 32768.0], [0.0, 0.0, 0.0]]
    );
    assert_eq!(scene.opacity_logits, vec![logit(0.0), logit(1.0)]);
    assert!(scene.opacity_logits.iter().all(|v| v.is_finite()));
    assert_eq!(scene.rotations[0], [1.0, 0.0, 0.0, 0.0]);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let r = scene.rotations[1];
    assert!((r[0] - h).abs() < 1e-6 && r[1] == 0.0 && r[2] == 0.0 && (r[3] + h).abs() < 1e-6);
    assert_eq!(load_scene(&gzip(&raw), None).expect("detect"), scene);
}

#[test]
fn spz_extension_records_are_skipped_and_sh_range_applied() {
    let body = |raw: &mut Vec<u8>| {
        raw.extend_from_slice(&[0; 9]);
        raw.push(128);
        raw.extend_from_slice(&[128; 3]);
        raw.extend_from_slice(&[160; 3]);
        raw.extend_from_slice(&(3u32 << 30).to_le_bytes());
        raw.extend_from_slice(&[0, 51, 255, 0, 0, 0, 0, 0, 0]);
    };
    let range = |ext: &[u8]| {
        let mut raw = spz_header(3, 1, 1, 12, 0x2);
        raw.extend_from_slice(ext);
        body(&mut raw);
        read_spz(&gzip(&raw)).map(|s| s.sh[3..6].to_vec())
    };
    let quant = |min: f32, max: f32| {
        let mut p = vec![5u8, 4];
        p.extend_from_slice(&min.to_le_bytes());
        p.extend_from_slice(&max.to_le_bytes());
        p
    };
    // Framed: [type][length][payload], with an unknown vendor record first.
    let mut framed = 0x1234_0001u32.to_le_bytes().to_vec();
    framed.extend_from_slice(&3u32.to_le_bytes());
    framed.extend_from_slice(&[9, 9, 9]);
    framed.extend_from_slice(&0xADBE_0001u32.to_le_bytes());
    framed.extend_from_slice(&10u32.to_le_bytes());
    framed.extend(quant(-2.0, 3.0));
    // Coefficient 1 is the y basis, which flips from RUB to RDF.
    let expect = [0.0f32, 51.0, 255.0].map(|b| -(-2.0 + b / 255.0 * 5.0));
    assert_eq!(range(&framed).expect("framed"), expect.to_vec());
    // Older unframed records: safe orbit (3 floats), then SH quantization with range.
    let mut unframed = 0xADBE_0002u32.to_le_bytes().to_vec();
    unframed.extend_from_slice(&[0; 12]);
    unframed.extend_from_slice(&0xADBE_0001u32.to_le_bytes());
    unframed.extend(quant(-2.0, 3.0));
    assert_eq!(range(&unframed).expect("unframed"), expect.to_vec());
    // No records at all: legacy [-1, 1].
    let legacy = [0.0f32, 51.0, 255.0].map(|b| -((b - 128.0) / 128.0));
    assert_eq!(range(&[]).expect("empty block"), legacy.to_vec());
    assert_err_contains(range(&[1, 2, 3, 4, 5]), &["extension", "5 bytes"]);
}

// ---------------------------------------------------------------- SPZ errors

#[test]
fn spz_errors_name_the_problem() {
    let mut rng = SmallRng::seed_from_u64(9);
    let good = save_spz(&random_scene(&mut rng, 2, 100, 1.0)).expect("write");

    // Truncated compressed stream.
    for cut in [good.len() / 2, good.len() - 4, 12] {
        assert_err_contains(read_spz(&good[..cut]), &["gzip", "corrupt or truncated"]);
    }
    // Not gzip / broken gzip.
    assert_err_contains(read_spz(b"hello world"), &["no gzip header"]);
    assert_err_contains(
        read_spz(&[
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]),
        &["gzip"],
    );
    // Any corrupted byte of the deflate data or the trailer is caught (CRC, length or deflate
    // error); the gzip header's mtime/OS bytes 4..10 are unchecked and the last deflate byte
    // may hold only padding bits, so those are skipped.
    let n = good.len();
    for pos in (10..n - 9).chain(n - 8..n) {
        let mut flipped = good.clone();
        flipped[pos] ^= 0x55;
        assert!(
            read_spz(&flipped).is_err(),
            "corrupt byte {pos} of {n} accepted"
        );
    }
    // A stream that goes on far past the declared points (a gzip bomb) stops early.
    let mut raw = spz_header(3, 1, 0, 12, 0);
    raw.resize(raw.len() + 20 + (2 << 20), 0);
    assert_err_contains(
        read_spz(&gzip(&raw)),
        &["more than 1048576 bytes beyond what its 1 points need"],
    );
    raw.truncate(16 + 20 + 1000); // modest trailing data is tolerated, as by the reference
    assert_eq!(read_spz(&gzip(&raw)).expect("trailing bytes").len(), 1);
    // Wrong magic, versions, SH degree.
    let mut raw = spz_header(2, 0, 0, 12, 0);
    raw[..4].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    assert_err_contains(read_spz(&gzip(&raw)), &["bad magic 0x12345678"]);
    assert_err_contains(read_spz(&gzip(&spz_header(7, 0, 0, 12, 0))), &["version 7"]);
    assert_err_contains(
        read_spz(&gzip(&spz_header(1, 0, 0, 12, 0))),
        &["version 1", "float16"],
    );
    assert_err_contains(
        read_spz(&gzip(&spz_header(4, 0, 0, 12, 0))),
        &["version 4", "never gzip"],
    );
    let mut bare_v3 = spz_header(3, 0, 0, 12, 0);
    bare_v3.resize(32, 0);
    assert_err_contains(load_scene(&bare_v3, None), &["version 3", "gzip streams"]);
    assert_err_contains(
        read_spz(&gzip(&spz_header(3, 0, 4, 12, 0))),
        &["SH degree 4"],
    );
    // Header shorter than 16 bytes.
    assert_err_contains(
        read_spz(&gzip(&spz_header(3, 0, 0, 12, 0)[..10])),
        &["after 10 bytes"],
    );
    // Point count mismatches: the data holds 1 point of 3 declared; hostile counts.
    let mut raw = spz_header(3, 3, 0, 12, 0);
    raw.extend_from_slice(&[0; 20 + 5]);
    assert_err_contains(
        read_spz(&gzip(&raw)),
        &["declares 3 points", "20 bytes each", "data holds 1"],
    );
    assert_err_contains(
        read_spz(&gzip(&spz_header(3, 10_000_000, 3, 12, 0))),
        &["declares 10000000 points", "holds 0"],
    );
    assert_err_contains(
        read_spz(&gzip(&spz_header(3, 4_000_000_000, 3, 12, 0))),
        &["4000000000 points", "more than the limit"],
    );
}

#[test]
fn spz_mutations_never_panic() {
    let mut rng = SmallRng::seed_from_u64(13);
    let scene = random_scene(&mut rng, 1, 20, 1.0);
    let good = save_spz(&scene).expect("write");
    for cut in 0..good.len() {
        assert!(read_spz(&good[..cut]).is_err(), "prefix {cut}");
    }
    // Corrupt the decompressed payload (valid gzip around it) at random places.
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&good[..])
        .read_to_end(&mut raw)
        .expect("decompress our own gzip");
    for _ in 0..300 {
        let mut r = raw.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..r.len());
            r[at] = rng.random();
        }
        let _ = read_spz(&gzip(&r));
        let cut = rng.random_range(0..r.len());
        let _ = read_spz(&gzip(&r[..cut]));
    }
}
