//! Interop with PlayCanvas's `splat-transform` 3.7.0 (npm, pinned in `tests/interop/`, installed
//! by `.ci/setup.sh`), the converter behind SuperSplat: the PLY, SPZ (versions 3 and 4) and
//! `.splat` files it writes — from a scene we write and from a scene its own generator makes —
//! open with our readers within each format's quantisation; the SPZ we write (3 and 4) opens
//! with its reader; and its files import through the server's scene import
//! (`PUT /api/projects/{id}/artifacts/scene.*`).
//!
//! Axes: that tool writes and reads SPZ without the reference's RDF ⇄ RUB flip (see
//! `src/formats/spz.rs`), so its SPZ reads here with y and z negated, and ours there. The
//! checks apply that flip to the reference, which pins the difference.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::api::{Api, Backend};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use splatpod::formats::{
    load_scene, read_spz_with_info, save_ply, save_spz_with, sh_coeffs_per_channel, sigmoid,
    GaussianScene, SpzOptions, SH_C0,
};

/// The signs of SH coefficients 1..=15 under `y → -y, z → -z` (the parity of each real SH basis
/// function in `y` and `z`: y, z, x; xy, yz, 3z²-1, xz, x²-y²; then degree 3).
const FLIP_SH: [f32; 15] = [
    -1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0,
];

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Runs the pinned `splat-transform` CLI with `args` in `dir`.
fn splat_transform(dir: &Path, args: &[&str]) {
    let cli = interop_dir().join("node_modules/@playcanvas/splat-transform/bin/cli.mjs");
    assert!(
        cli.exists(),
        "{} is missing: run .ci/setup.sh (it installs tests/interop's pinned npm packages)",
        cli.display()
    );
    let out = Command::new("node")
        .arg(&cli)
        .args(["-q", "-w"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "splat-transform {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn load(dir: &Path, name: &str) -> GaussianScene {
    let bytes = std::fs::read(dir.join(name)).expect("read output");
    load_scene(&bytes, Some(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// How far each attribute may move through a format (absolute, in the scene's parameters;
/// opacity after the sigmoid; rotation as an angle in radians).
struct Tolerance {
    position: f32,
    log_scale: f32,
    opacity: f32,
    dc: f32,
    sh1: f32,
    sh_rest: f32,
    rotation: f32,
}

const EXACT: Tolerance = Tolerance {
    position: 0.0,
    log_scale: 0.0,
    opacity: 0.0,
    dc: 0.0,
    sh1: 0.0,
    sh_rest: 0.0,
    rotation: 1e-3,
};

/// SPZ with 12 fractional bits and 5/4-bit SH (half a step each; the angle bound of "smallest
/// three" 9-bit components, as derived in `src/formats/tests.rs`).
fn spz_tolerance(fractional_bits: u8) -> Tolerance {
    Tolerance {
        position: 0.5 / f32::from(1u16 << fractional_bits),
        log_scale: 0.5 / 16.0,
        opacity: 0.5 / 255.0,
        dc: 0.5 / (0.15 * 255.0),
        sh1: 4.5 / 128.0,
        sh_rest: 8.5 / 128.0,
        rotation: 4.0 * 3f32.sqrt() * 0.5 * std::f32::consts::FRAC_1_SQRT_2 / 511.0,
    }
}

/// `.splat` as splat-transform writes it: f32 positions and linear scales; colour, opacity and
/// quaternion bytes truncated (not rounded), so a whole step each.
const SPLAT: Tolerance = Tolerance {
    position: 0.0,
    log_scale: 1e-5,
    opacity: 1.0 / 255.0,
    dc: 1.0 / 255.0 / SH_C0,
    sh1: f32::INFINITY,
    sh_rest: f32::INFINITY,
    // Each component within 1/128: |Δq| ≤ 2/128, angle ≤ 2 asin(|Δq| / 2) / ... ≈ 2 |Δq|.
    rotation: 4.0 / 128.0 + 1e-3,
};

fn unit(q: [f32; 4]) -> [f32; 4] {
    let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    q.map(|v| v / n)
}

fn angle(a: [f32; 4], b: [f32; 4]) -> f32 {
    let (a, b) = (unit(a), unit(b));
    let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    2.0 * dot.abs().min(1.0).acos()
}

/// `scene` seen through the RDF ⇄ RUB flip (a 180° turn about x).
fn flipped(scene: &GaussianScene) -> GaussianScene {
    let mut s = scene.clone();
    for p in &mut s.positions {
        *p = [p[0], -p[1], -p[2]];
    }
    for q in &mut s.rotations {
        *q = [q[0], q[1], -q[2], -q[3]];
    }
    let per = s.sh_floats_per_splat();
    for splat in s.sh.chunks_exact_mut(per) {
        for (k, rgb) in splat.chunks_exact_mut(3).enumerate().skip(1) {
            rgb.iter_mut().for_each(|v| *v *= FLIP_SH[k - 1]);
        }
    }
    s
}

/// Asserts that `got` is `want` within `tol`, splat by splat in the same order; SH beyond
/// `got`'s degree is not compared (`.splat` keeps only the DC colour).
fn assert_close(want: &GaussianScene, got: &GaussianScene, tol: &Tolerance, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: splat count");
    let eps = 1e-5;
    let coeffs = sh_coeffs_per_channel(got.sh_degree.min(want.sh_degree));
    for i in 0..want.len() {
        for a in 0..3 {
            let (p, q) = (want.positions[i][a], got.positions[i][a]);
            let slack = tol.position + 4.0 * f32::EPSILON * p.abs().max(1.0);
            assert!(
                (p - q).abs() <= slack,
                "{what}: splat {i} position {p} -> {q}"
            );
            let (s, t) = (want.log_scales[i][a], got.log_scales[i][a]);
            assert!(
                (s - t).abs() <= tol.log_scale + eps,
                "{what}: splat {i} log scale {s} -> {t}"
            );
        }
        let (o, p) = (
            sigmoid(want.opacity_logits[i]),
            sigmoid(got.opacity_logits[i]),
        );
        assert!(
            (o - p).abs() <= tol.opacity + eps,
            "{what}: splat {i} opacity {o} -> {p}"
        );
        let r = angle(want.rotations[i], got.rotations[i]);
        assert!(
            r <= tol.rotation,
            "{what}: splat {i} rotation off by {r} rad"
        );
        let (a, b) = (want.sh_of(i), got.sh_of(i));
        for c in 0..coeffs {
            let bound = match c {
                0 => tol.dc,
                1..=3 => tol.sh1,
                _ => tol.sh_rest,
            } + eps;
            for ch in 0..3 {
                let (x, y) = (a[3 * c + ch], b[3 * c + ch]);
                assert!(
                    (x - y).abs() <= bound,
                    "{what}: splat {i} SH {c}.{ch}: {x} -> {y}"
                );
            }
        }
    }
}

/// A scene of SH degree 3 with every attribute inside the formats' ranges (colours that do
/// not clip in `.splat`, log scales inside SPZ's −10..6, unit quaternions).
fn our_scene(n: usize) -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut s = GaussianScene::empty(3);
    for _ in 0..n {
        s.positions
            .push([0; 3].map(|_| rng.random_range(-5.0f32..5.0)));
        s.log_scales
            .push([0; 3].map(|_| rng.random_range(-9.0f32..3.0)));
        let q = [0; 4].map(|_| rng.random_range(-1.0f32..1.0));
        s.rotations
            .push(if q.iter().map(|v| v * v).sum::<f32>() < 0.01 {
                [1.0, 0.0, 0.0, 0.0]
            } else {
                unit(q)
            });
        s.opacity_logits.push(rng.random_range(-5.0f32..5.0));
        s.sh.extend((0..3).map(|_| rng.random_range(-1.5f32..1.5)));
        s.sh.extend((0..45).map(|_| rng.random_range(-0.9f32..0.9)));
    }
    s
}

/// Converts `input` (in `dir`) to PLY, SPZ 4 (its default), SPZ 3 and `.splat`, and checks each
/// against `reference` as our readers see it.
fn check_its_outputs(dir: &Path, input: &str, extra: &[&str], reference: &GaussianScene) {
    let run = |out: &str, more: &[&str]| {
        let mut args = vec![input];
        args.extend_from_slice(extra);
        args.push(out);
        args.extend_from_slice(more);
        splat_transform(dir, &args);
    };
    run("out.ply", &[]);
    run("out4.spz", &[]);
    run("out3.spz", &["--spz-version", "3"]);
    run("out.splat", &[]);

    assert_close(reference, &load(dir, "out.ply"), &EXACT, "its PLY");
    for (name, version) in [("out4.spz", 4), ("out3.spz", 3)] {
        let bytes = std::fs::read(dir.join(name)).expect("read spz");
        let (scene, info) = read_spz_with_info(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.version, version, "{name}");
        assert_eq!(
            bytes.starts_with(b"NGSP"),
            version == 4,
            "{name}: container"
        );
        let tol = spz_tolerance(info.fractional_bits);
        // Its SPZ holds the PLY's axes unflipped; our reader flips them as the reference does.
        assert_close(&flipped(reference), &scene, &tol, name);
    }
    assert_close(reference, &load(dir, "out.splat"), &SPLAT, "its .splat");
}

#[test]
fn its_files_of_our_scene_open_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scene = our_scene(300);
    std::fs::write(dir.path().join("ours.ply"), save_ply(&scene).expect("ply")).expect("write");
    check_its_outputs(dir.path(), "ours.ply", &[], &scene);
}

#[test]
fn its_files_of_its_own_scene_open_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generator = interop_dir().join("gen-helix.mjs");
    let generator = generator.to_str().expect("utf-8 path");
    // Its own scene, as its PLY writer stores it, is the reference; a turn and a scale make
    // its transform code (quaternions, SH rotation) part of what the other formats must match.
    let transform = ["-p", "n=200", "-r", "10,20,30", "-s", "1.5"];
    let mut args = vec![generator];
    args.extend_from_slice(&transform);
    args.push("reference.ply");
    splat_transform(dir.path(), &args);
    let reference = load(dir.path(), "reference.ply");
    assert_eq!((reference.len(), reference.sh_degree), (200, 1));
    check_its_outputs(dir.path(), generator, &transform, &reference);
}

#[test]
fn our_spz_opens_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scene = our_scene(300);
    for version in [4, 3] {
        let options = SpzOptions {
            version,
            antialiased: false,
        };
        let spz = save_spz_with(&scene, &options).expect("spz");
        let name = format!("ours{version}.spz");
        std::fs::write(dir.path().join(&name), &spz).expect("write");
        splat_transform(dir.path(), &[&name, "back.ply"]);
        let back = load(dir.path(), "back.ply");
        // It decodes our bytes as we do, but without the axis flip.
        let ours = load_scene(&spz, Some(&name)).expect("our read");
        assert_close(
            &flipped(&ours),
            &back,
            &EXACT,
            &format!("v{version}: its read of ours"),
        );
        assert_close(
            &flipped(&scene),
            &back,
            &spz_tolerance(12),
            &format!("v{version}: its read against the source"),
        );
    }
}

#[tokio::test]
async fn its_files_import_through_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scene = our_scene(300);
    std::fs::write(dir.path().join("ours.ply"), save_ply(&scene).expect("ply")).expect("write");
    for out in ["its.ply", "its.spz", "its.splat"] {
        splat_transform(dir.path(), &["ours.ply", out]);
    }
    let api = Api::start_opts(&Backend::Sqlite, &[], false).await;
    let project = api.project("from splat-transform").await;
    let put = |name: &str, bytes: Vec<u8>| {
        let req = api
            .http
            .put(api.url(&format!("/api/projects/{project}/artifacts/{name}")))
            .bearer_auth(&api.key)
            .body(bytes);
        api.send(req)
    };
    for (file, artifact) in [
        ("its.ply", "scene.ply"),
        ("its.splat", "scene.splat"),
        ("its.spz", "scene.spz"),
    ] {
        let bytes = std::fs::read(dir.path().join(file)).expect("read");
        let (status, body, _) = put(artifact, bytes.clone()).await;
        assert_eq!(status, 201, "{file}: {body}");
        let imported: splatpod::api::SceneImported = common::api::typed(&body);
        assert_eq!(imported.splats, 300, "{file}");
        assert_eq!(
            api.bytes(&format!("/api/projects/{project}/artifacts/{artifact}"))
                .await,
            bytes,
            "{file} stored as uploaded"
        );
    }
    // The SPZ the viewer downloads is its version-4 file, read as our reader reads it.
    let spz = api
        .bytes(&format!("/api/projects/{project}/artifacts/scene.spz"))
        .await;
    let (served, info) = read_spz_with_info(&spz).expect("served SPZ");
    assert_eq!(info.version, 4);
    assert_close(
        &flipped(&scene),
        &served,
        &spz_tolerance(info.fractional_bits),
        "served",
    );

    // A damaged version-4 file is refused with the reason, and the stored scene is kept.
    let mut damaged = std::fs::read(dir.path().join("its.spz")).expect("read");
    let last = damaged.len() - 1;
    damaged.truncate(last);
    let (status, body, _) = put("scene.spz", damaged).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("runs past the end"), "{body}");
    assert_eq!(
        api.bytes(&format!("/api/projects/{project}/artifacts/scene.spz"))
            .await,
        spz
    );
}
