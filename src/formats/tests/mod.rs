//! Tests of the splat file formats. Reference inputs are built by hand from the published
//! layouts (never with our writers), so a writer bug cannot hide a matching reader bug. The
//! shared builders and checks are here; the tests are in one file per format.

use std::io::{Read, Write};

use flate2::{write::GzEncoder, Compression};
use rand::{rngs::SmallRng, Rng, SeedableRng};

use super::*;

mod load;
mod ply;
mod splat;
mod spz;
mod spz4;

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
