//! PLY: hand-built files of every degree and layout, the writer's layout, bit-exact round
//! trips, and header, truncation and size errors.

use super::*;

#[test]
fn ply_hand_built_degree0_shuffled_with_extras() {
    // Shuffled order, no normals, a `double`, and unknown float / uchar / short properties.
    let props = vec![
        prop("float", "opacity"),
        prop("float", "confidence"),
        prop("float", "rot_1"),
        prop("float", "z"),
        prop("uchar", "flag"),
        prop("float", "f_dc_2"),
        prop("float", "x"),
        prop("float", "scale_1"),
        prop("float", "rot_0"),
        prop("float", "y"),
        prop("double", "scale_0"),
        prop("float", "f_dc_0"),
        prop("float", "rot_3"),
        prop("short", "extra16"),
        prop("float", "scale_2"),
        prop("float", "rot_2"),
        prop("float", "f_dc_1"),
    ];
    let bytes = hand_ply_binary(&props, 3);
    let scene = read_ply(&bytes).expect("hand-built degree-0 PLY");
    assert_hand_scene(&scene, 0, 3);
    assert_eq!(scene.positions[1], [11.5, 7.75, 13.125]);
    assert_eq!(scene.sh_of(2), &[20.5, 19.25, 21.25]);

    let ascii = hand_ply_ascii(&props, 3);
    let scene_ascii = read_ply(&ascii).expect("hand-built ASCII PLY");
    assert_eq!(scene_ascii, scene);
    assert_eq!(load_scene(&ascii, None).expect("load_scene ascii"), scene);
}

#[test]
fn ply_hand_built_degree3_channel_major_rest() {
    // Standard layout with normals, then f_rest in reverse order, extras in between.
    let mut props = standard_props(3);
    props.insert(3, prop("float", "nx"));
    props.insert(4, prop("float", "ny"));
    props.insert(5, prop("float", "nz"));
    let rest_start = props.iter().position(|p| p.1 == "f_rest_0").unwrap();
    props[rest_start..rest_start + 45].reverse();
    props.insert(20, prop("uchar", "flag"));
    props.push(prop("float", "confidence"));
    let bytes = hand_ply_binary(&props, 2);
    let scene = read_ply(&bytes).expect("hand-built degree-3 PLY");
    assert_hand_scene(&scene, 3, 2);
    // Spot checks of the transpose, with literal indices: 15 coefficients per channel.
    let sh = scene.sh_of(0);
    assert_eq!(sh.len(), 48);
    assert_eq!(sh[3], 1000.0); // coefficient 1, red   = f_rest_0
    assert_eq!(sh[4], 1015.0); // coefficient 1, green = f_rest_15
    assert_eq!(sh[5], 1030.0); // coefficient 1, blue  = f_rest_30
    assert_eq!(sh[6], 1001.0); // coefficient 2, red   = f_rest_1
    assert_eq!(sh[47], 1044.0); // coefficient 15, blue = f_rest_44
    assert_eq!(scene.sh_of(1)[4], 1115.0);

    let ascii = hand_ply_ascii(&props, 2);
    assert_eq!(read_ply(&ascii).expect("ASCII degree 3"), scene);
}

#[test]
fn ply_hand_built_degrees_1_2_and_big_endian() {
    for degree in [1, 2] {
        let props = standard_props(degree);
        let scene = read_ply(&hand_ply_binary(&props, 4)).expect("hand-built PLY");
        assert_hand_scene(&scene, degree, 4);
    }
    // Big endian: same values, bytes reversed per scalar.
    let props = standard_props(1);
    let mut h = String::from("ply\nformat binary_big_endian 1.0\n");
    h.push_str("element vertex 2\n");
    for (ty, name) in &props {
        h.push_str(&format!("property {ty} {name}\n"));
    }
    h.push_str("end_header\n");
    let mut b = h.into_bytes();
    for i in 0..2 {
        for (_, name) in &props {
            b.extend_from_slice(&(hand_value(name, i) as f32).to_be_bytes());
        }
    }
    assert_hand_scene(&read_ply(&b).expect("big-endian PLY"), 1, 2);
}

#[test]
fn ply_writer_emits_the_standard_layout() {
    let mut rng = SmallRng::seed_from_u64(7);
    let scene = random_scene(&mut rng, 1, 5, 10.0);
    let bytes = save_ply(&scene).expect("write");
    let mut expected = String::from(
        "ply\nformat binary_little_endian 1.0\nelement vertex 5\nproperty float x\n\
         property float y\nproperty float z\nproperty float nx\nproperty float ny\n\
         property float nz\nproperty float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\n",
    );
    for j in 0..9 {
        expected.push_str(&format!("property float f_rest_{j}\n"));
    }
    expected.push_str(
        "property float opacity\nproperty float scale_0\nproperty float scale_1\n\
         property float scale_2\nproperty float rot_0\nproperty float rot_1\n\
         property float rot_2\nproperty float rot_3\nend_header\n",
    );
    assert!(bytes.starts_with(expected.as_bytes()));
    let data = &bytes[expected.len()..];
    assert_eq!(data.len(), 5 * 26 * 4);
    // Vertex 2, by hand: normals zero, f_rest_4 = coefficient 2 of green (channel-major).
    let f = |k: usize| {
        let o = (2 * 26 + k) * 4;
        f32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]])
    };
    assert_eq!(f(0), scene.positions[2][0]);
    assert_eq!([f(3), f(4), f(5)], [0.0; 3]);
    assert_eq!(f(6 + 3 + 4), scene.sh_of(2)[3 * 2 + 1]);
    assert_eq!(f(18), scene.opacity_logits[2]);
    assert_eq!(f(22), scene.rotations[2][0]);
}

#[test]
fn ply_round_trip_is_bit_exact() {
    let mut rng = SmallRng::seed_from_u64(42);
    for degree in 0..=3 {
        for n in [0, 1, 37, 5000] {
            let scene = random_scene(&mut rng, degree, n, 100.0);
            let back = read_ply(&save_ply(&scene).expect("write")).expect("read");
            assert_eq!(back.sh_degree, degree);
            let bits = |s: &GaussianScene| {
                let mut v: Vec<u32> = Vec::new();
                v.extend(s.positions.iter().flatten().map(|x| x.to_bits()));
                v.extend(s.log_scales.iter().flatten().map(|x| x.to_bits()));
                v.extend(s.rotations.iter().flatten().map(|x| x.to_bits()));
                v.extend(s.opacity_logits.iter().map(|x| x.to_bits()));
                v.extend(s.sh.iter().map(|x| x.to_bits()));
                v
            };
            assert_eq!(bits(&back), bits(&scene), "degree {degree}, n {n}");
            assert_eq!(back, scene);
        }
    }
}

#[test]
fn ply_writer_rejects_inconsistent_scene() {
    let mut rng = SmallRng::seed_from_u64(1);
    let mut scene = random_scene(&mut rng, 2, 3, 1.0);
    scene.sh.pop();
    assert_err_contains(save_ply(&scene), &["invalid scene", "sh"]);
}

// ---------------------------------------------------------------- PLY errors

fn ply_with_vertex(header_props: &str, count: &str, data: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "ply\nformat binary_little_endian 1.0\nelement vertex {count}\n{header_props}end_header\n"
    )
    .into_bytes();
    b.extend_from_slice(data);
    b
}

fn standard_header_props(degree: u32) -> String {
    standard_props(degree)
        .iter()
        .map(|(ty, name)| format!("property {ty} {name}\n"))
        .collect()
}

#[test]
fn ply_truncated_data_is_reported() {
    // 3 vertices declared, 2 and a bit present.
    let props = standard_header_props(0);
    let bytes = ply_with_vertex(&props, "3", &[0u8; 2 * 56 + 10]);
    assert_err_contains(
        read_ply(&bytes),
        &["declares 3 vertices", "56 bytes each", "data holds 2"],
    );
}

#[test]
fn ply_absurd_vertex_counts_fail_before_allocating() {
    let props = standard_header_props(3);
    for count in ["4000000000", "18446744073709551615"] {
        let bytes = ply_with_vertex(&props, count, &[0u8; 200]);
        assert_err_contains(
            read_ply(&bytes),
            &[&format!("declares {count} vertices"), "holds 0"],
        );
    }
    let bytes = ply_with_vertex(&props, "18446744073709551616", &[]);
    assert_err_contains(read_ply(&bytes), &["invalid count"]);
    // The same in ASCII.
    let mut ascii =
        format!("ply\nformat ascii 1.0\nelement vertex 4000000000\n{props}end_header\n")
            .into_bytes();
    ascii.extend_from_slice(b"1 2 3\n");
    assert_err_contains(read_ply(&ascii), &["declares 4000000000 vertices"]);
    // A huge element before the vertex element.
    let mut b = format!(
        "ply\nformat binary_little_endian 1.0\nelement junk 4000000000\nproperty double a\n\
         element vertex 0\n{props}end_header\n"
    )
    .into_bytes();
    b.extend_from_slice(&[0u8; 64]);
    assert_err_contains(read_ply(&b), &["element `junk`", "runs past the end"]);
    // ... and one with a list, walked entry by entry.
    let mut b = format!(
        "ply\nformat binary_little_endian 1.0\nelement junk 4000000000\n\
         property list uint uchar a\nelement vertex 0\n{props}end_header\n"
    )
    .into_bytes();
    b.extend_from_slice(&[1, 0, 0, 0, 9, 255, 255, 255, 255]);
    assert_err_contains(read_ply(&b), &["element `junk`", "runs past the end"]);
}

#[test]
fn ply_header_errors_name_the_problem() {
    let full = standard_header_props(0);
    let without = |name: &str| full.replace(&format!("property float {name}\n"), "");
    assert_err_contains(
        read_ply(&ply_with_vertex(&without("opacity"), "0", &[])),
        &["missing property `opacity`"],
    );
    assert_err_contains(
        read_ply(&ply_with_vertex(&without("rot_3"), "0", &[])),
        &["missing property `rot_3`"],
    );
    let list = format!("{full}property list uchar int vertex_indices\n");
    assert_err_contains(
        read_ply(&ply_with_vertex(&list, "1", &[0u8; 100])),
        &["list property `vertex_indices`"],
    );
    let uchar = full.replace("property float opacity", "property uchar opacity");
    assert_err_contains(
        read_ply(&ply_with_vertex(&uchar, "0", &[])),
        &["`opacity` has type `uchar`", "float or double"],
    );
    let five_rest: String = (0..5)
        .map(|j| format!("property float f_rest_{j}\n"))
        .collect();
    assert_err_contains(
        read_ply(&ply_with_vertex(&format!("{full}{five_rest}"), "0", &[])),
        &["5 `f_rest_*` properties"],
    );
    let gap = standard_header_props(1).replace("f_rest_8", "f_rest_9");
    assert_err_contains(
        read_ply(&ply_with_vertex(&gap, "0", &[])),
        &["missing property `f_rest_8`"],
    );
    let dup = format!("{full}property float x\n");
    assert_err_contains(
        read_ply(&ply_with_vertex(&dup, "0", &[])),
        &["duplicate property `x`"],
    );
    let bad_type = format!("{full}property quaternion q\n");
    assert_err_contains(
        read_ply(&ply_with_vertex(&bad_type, "0", &[])),
        &["line", "unknown property type `quaternion`"],
    );
    let no_vertex = b"ply\nformat binary_little_endian 1.0\nelement face 0\nend_header\n";
    assert_err_contains(read_ply(no_vertex), &["no `vertex` element"]);
    let middle = b"ply\nformat binary_middle_endian 1.0\nend_header\n";
    assert_err_contains(
        read_ply(middle),
        &["unsupported PLY format", "binary_middle_endian"],
    );
    let unended = format!("ply\nformat ascii 1.0\nelement vertex 1\n{full}");
    assert_err_contains(read_ply(unended.as_bytes()), &["end_header"]);
    let no_format = format!("ply\nelement vertex 0\n{full}end_header\n");
    assert_err_contains(read_ply(no_format.as_bytes()), &["no `format` line"]);
    assert_err_contains(read_ply(b"PLY\n"), &["not a PLY file"]);
    assert_err_contains(read_ply(b""), &["not a PLY file"]);
    // Bad ASCII numbers and short ASCII data.
    let mut ascii = format!("ply\nformat ascii 1.0\nelement vertex 2\n{full}end_header\n");
    let row = "1 2 3 0.1 0.2 0.3 -1 -2 -2 -2 1 0 0 0\n";
    let bad = format!("{ascii}{row}{}", row.replace("0.2", "zero"));
    assert_err_contains(
        read_ply(bad.as_bytes()),
        &["bad number `zero`", "f_dc_1", "vertex 1"],
    );
    ascii.push_str(row);
    ascii.push_str(&"123456.0 ".repeat(13)); // one value short of the second vertex
    assert_err_contains(read_ply(ascii.as_bytes()), &["ends after 1 of 2 vertices"]);
}

#[test]
fn ply_every_truncation_is_an_error_not_a_panic() {
    let mut props = standard_props(1);
    props.insert(2, prop("uchar", "flag"));
    let bin = hand_ply_binary(&props, 3);
    let ascii = hand_ply_ascii(&props, 3);
    // Binary: any cut before the trailing `face` element (13 bytes) loses vertex data.
    for cut in 0..bin.len() {
        let r = read_ply(&bin[..cut]);
        if cut < bin.len() - 13 {
            assert!(r.is_err(), "binary prefix of {cut} bytes should fail");
        }
    }
    // ASCII: a cut inside the last number can still parse, so require errors up to the start
    // of the last row (which then lacks tokens).
    let last_row = ascii[..ascii.len() - 2]
        .windows(2)
        .rposition(|w| w == b"\r\n")
        .expect("rows")
        + 2;
    for cut in 0..ascii.len() {
        let r = read_ply(&ascii[..cut]);
        if cut <= last_row {
            assert!(r.is_err(), "ASCII prefix of {cut} bytes should fail");
        }
    }
}
