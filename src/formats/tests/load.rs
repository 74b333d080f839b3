//! Format detection in `load_scene`, and random bytes that are errors, not panics.

use super::*;

#[test]
fn load_scene_detects_and_reports() {
    assert_err_contains(load_scene(&[], None), &["empty input"]);
    assert_err_contains(load_scene(&[], Some("a.splat")), &["empty input"]);
    let b = vec![7u8; 33];
    assert_err_contains(
        load_scene(&b, Some("x.splat")),
        &["length 33", "multiple of 32"],
    );
    assert_err_contains(read_splat(&b), &["length 33"]);
    assert_err_contains(load_scene(&b, None), &["unrecognised", "33 bytes"]);
    assert_err_contains(load_scene(&b, Some("x.ply")), &["not a PLY file"]);
    assert_err_contains(load_scene(&b, Some("x.spz")), &["no gzip header"]);
    assert_eq!(
        detect_format(b"ply\r\nformat", None),
        Some(SceneFormat::Ply)
    );
    assert_eq!(
        detect_format(&[0x1f, 0x8b, 8], Some("a.splat")),
        Some(SceneFormat::Spz)
    );
    assert_eq!(detect_format(&[0; 64], None), Some(SceneFormat::Splat));
    assert_eq!(detect_format(&[0; 65], Some("noext")), None);
}

#[test]
fn random_bytes_are_errors_not_panics() {
    let mut rng = SmallRng::seed_from_u64(17);
    for len in [1usize, 2, 3, 15, 16, 17, 31, 100, 1001, 4099] {
        for _ in 0..20 {
            let b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            assert!(read_ply(&b).is_err());
            assert!(read_spz(&b).is_err());
            assert!(load_scene(&b, None).is_err(), "{len} random bytes");
            let mut ply = b"ply\n".to_vec();
            ply.extend_from_slice(&b);
            assert!(read_ply(&ply).is_err());
            let mut gz = vec![0x1f, 0x8b];
            gz.extend_from_slice(&b);
            assert!(read_spz(&gz).is_err());
        }
    }
    // Random header-ish lines.
    let words = [
        "ply",
        "format",
        "ascii",
        "binary_little_endian",
        "1.0",
        "element",
        "vertex",
        "property",
        "list",
        "float",
        "uchar",
        "x",
        "opacity",
        "end_header",
        "4294967296",
        "3",
        "\n",
        "\n",
    ];
    for _ in 0..2000 {
        let mut s = String::from("ply\n");
        for _ in 0..rng.random_range(0..40) {
            s.push_str(words[rng.random_range(0..words.len())]);
            s.push(' ');
        }
        s.push_str("\nend_header\n");
        let mut b = s.into_bytes();
        b.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
        let _ = read_ply(&b);
    }
}
