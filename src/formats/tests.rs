//! Tests of the splat file formats. Reference inputs are built by hand from the published
//! layouts (never with our writers), so a writer bug cannot hide a matching reader bug.

use std::io::{Read, Write};

use flate2::{write::GzEncoder, Compression};
use rand::{rngs::SmallRng, Rng, SeedableRng};

use super::*;

// ---------------------------------------------------------------- helpers

/// A PLY property type and name, as in a header line.
type Prop = (&'static str, String);

fn prop(ty: &'static str, name: &str) -> Prop {
    (ty, name.to_string())
}

/// Encodes `v` as the PLY scalar type `ty`, little endian.
fn le_bytes(ty: &str, v: f64) -> Vec<u8> {
    match ty {
        "float" => (v as f32).to_le_bytes().to_vec(),
        "double" => v.to_le_bytes().to_vec(),
        "uchar" => vec![v as u8],
        "char" => (v as i8).to_le_bytes().to_vec(),
        "short" => (v as i16).to_le_bytes().to_vec(),
        "ushort" => (v as u16).to_le_bytes().to_vec(),
        "int" => (v as i32).to_le_bytes().to_vec(),
        "uint" => (v as u32).to_le_bytes().to_vec(),
        _ => panic!("test helper: unknown type {ty}"),
    }
}

/// A value for property `name` of vertex `i`, distinct for every (name, vertex) pair.
/// `f_rest_j` gets `1000 + j + 100 i`, so the channel-major index is readable from the value.
fn hand_value(name: &str, i: usize) -> f64 {
    let base = match name {
        "x" => 1.5,
        "y" => -2.25,
        "z" => 3.125,
        "nx" | "ny" | "nz" => 0.0,
        "f_dc_0" => 0.5,
        "f_dc_1" => -0.75,
        "f_dc_2" => 1.25,
        "opacity" => -1.5,
        "scale_0" => -4.0,
        "scale_1" => -3.5,
        "scale_2" => -5.25,
        "rot_0" => 0.875,
        "rot_1" => 0.25,
        "rot_2" => -0.125,
        "rot_3" => 0.375,
        "confidence" => 0.99,
        "flag" => 7.0,
        "extra16" => -300.0,
        n => match n.strip_prefix("f_rest_") {
            Some(j) => return 1000.0 + j.parse::<f64>().expect("f_rest index") + 100.0 * i as f64,
            None => panic!("test helper: no value for {n}"),
        },
    };
    base + 10.0 * i as f64
}

/// The properties of the standard layout for `degree`, without normals.
fn standard_props(degree: u32) -> Vec<Prop> {
    let rest = 3 * (sh_coeffs_per_channel(degree) - 1);
    let mut p: Vec<Prop> = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"]
        .iter()
        .map(|n| prop("float", n))
        .collect();
    p.extend((0..rest).map(|j| prop("float", &format!("f_rest_{j}"))));
    p.extend(
        [
            "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
        ]
        .iter()
        .map(|n| prop("float", n)),
    );
    p
}

/// A binary little-endian PLY: a `camera` element before `vertex` (one fixed-size entry) and a
/// `face` element with a list after it, all written byte by byte.
fn hand_ply_binary(props: &[Prop], n: usize) -> Vec<u8> {
    let mut h = String::from(
        "ply\nformat binary_little_endian 1.0\ncomment written by hand\nobj_info test\n\
         element camera 1\nproperty float fx\nproperty uchar id\n",
    );
    h.push_str(&format!("element vertex {n}\n"));
    for (ty, name) in props {
        h.push_str(&format!("property {ty} {name}\n"));
    }
    h.push_str("element face 1\nproperty list uchar int vertex_indices\nend_header\n");
    let mut b = h.into_bytes();
    b.extend_from_slice(&500.0f32.to_le_bytes());
    b.push(3);
    for i in 0..n {
        for (ty, name) in props {
            b.extend(le_bytes(ty, hand_value(name, i)));
        }
    }
    b.push(3);
    for k in [0i32, 1, 2] {
        b.extend_from_slice(&k.to_le_bytes());
    }
    b
}

/// The same content as an ASCII PLY (the `face` list has three items).
fn hand_ply_ascii(props: &[Prop], n: usize) -> Vec<u8> {
    let mut s = String::from(
        "ply\r\nformat ascii 1.0\r\nelement camera 1\r\nproperty float fx\r\n\
         property list uchar int ids\r\n",
    );
    s.push_str(&format!("element vertex {n}\r\n"));
    for (ty, name) in props {
        s.push_str(&format!("property {ty} {name}\r\n"));
    }
    s.push_str("end_header\r\n500.0 2 7 8\r\n");
    for i in 0..n {
        let row: Vec<String> = props
            .iter()
            .map(|(ty, name)| {
                let v = hand_value(name, i);
                if *ty == "float" || *ty == "double" {
                    format!("{v}")
                } else {
                    format!("{}", v as i64)
                }
            })
            .collect();
        s.push_str(&row.join(" "));
        s.push_str("\r\n");
    }
    s.into_bytes()
}

/// Checks that `scene` holds `hand_value` for every field of `n` vertices of `degree`.
fn assert_hand_scene(scene: &GaussianScene, degree: u32, n: usize) {
    assert_eq!(scene.validate(), Ok(()));
    assert_eq!(scene.sh_degree, degree);
    assert_eq!(scene.len(), n);
    let v = |name: &str, i: usize| hand_value(name, i) as f32;
    let k = sh_coeffs_per_channel(degree);
    for i in 0..n {
        assert_eq!(scene.positions[i], [v("x", i), v("y", i), v("z", i)]);
        assert_eq!(
            scene.log_scales[i],
            [v("scale_0", i), v("scale_1", i), v("scale_2", i)]
        );
        assert_eq!(
            scene.rotations[i],
            [v("rot_0", i), v("rot_1", i), v("rot_2", i), v("rot_3", i)]
        );
        assert_eq!(scene.opacity_logits[i], v("opacity", i));
        let sh = scene.sh_of(i);
        assert_eq!(&sh[..3], &[v("f_dc_0", i), v("f_dc_1", i), v("f_dc_2", i)]);
        // Coefficient c (1-based), channel ch comes from f_rest_{ch * (K-1) + c - 1}.
        for c in 1..k {
            for ch in 0..3 {
                let j = ch * (k - 1) + c - 1;
                assert_eq!(
                    sh[3 * c + ch],
                    1000.0 + j as f32 + 100.0 * i as f32,
                    "vertex {i} coefficient {c} channel {ch}"
                );
            }
        }
    }
}

fn random_scene(rng: &mut SmallRng, degree: u32, n: usize, extent: f32) -> GaussianScene {
    let mut s = GaussianScene::empty(degree);
    for _ in 0..n {
        s.positions
            .push([0; 3].map(|_| rng.random_range(-extent..extent)));
        s.log_scales
            .push([0; 3].map(|_| rng.random_range(-9.5f32..5.5)));
        let mut q = [0; 4].map(|_| rng.random_range(-1.0f32..1.0));
        if q.iter().map(|v| v * v).sum::<f32>() < 0.01 {
            q[0] = 1.0;
        }
        s.rotations.push(q);
        s.opacity_logits.push(rng.random_range(-6.0f32..6.0));
        s.sh.extend((0..3).map(|_| rng.random_range(-3.2f32..3.2)));
        let rest = s.sh_floats_per_splat() - 3;
        s.sh.extend((0..rest).map(|_| rng.random_range(-0.95f32..0.95)));
    }
    s
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(raw).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// A 16-byte SPZ header.
fn spz_header(version: u32, n: u32, degree: u8, fractional_bits: u8, flags: u8) -> Vec<u8> {
    let mut h = 0x5053_474eu32.to_le_bytes().to_vec();
    h.extend_from_slice(&version.to_le_bytes());
    h.extend_from_slice(&n.to_le_bytes());
    h.extend_from_slice(&[degree, fractional_bits, flags, 0]);
    h
}

fn err_msg<T: std::fmt::Debug>(r: Result<T, FormatError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_err_contains<T: std::fmt::Debug>(r: Result<T, FormatError>, needles: &[&str]) {
    let msg = err_msg(r);
    for n in needles {
        assert!(msg.contains(n), "error `{msg}` should mention `{n}`");
    }
}

fn normalized(q: [f32; 4]) -> [f32; 4] {
    let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    q.map(|v| v / n)
}

/// Angle in radians of the rotation between two quaternions (either sign), in f64 so the
/// `acos` near 1 adds no noise of its own.
fn quat_angle(a: [f32; 4], b: [f32; 4]) -> f32 {
    let unit = |q: [f32; 4]| {
        let q = q.map(f64::from);
        let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
        q.map(|v| v / n)
    };
    let (a, b) = (unit(a), unit(b));
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    (2.0 * dot.abs().min(1.0).acos()) as f32
}

// ---------------------------------------------------------------- PLY

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

// ---------------------------------------------------------------- SPZ

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

// ---------------------------------------------------------------- .splat

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

// ---------------------------------------------------------------- detection and garbage

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
