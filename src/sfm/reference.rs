//! Reference camera poses to measure reconstructions against: Strecha ground-truth `.camera`
//! files (laser-scan registered, metric) and the poses of another [`Reconstruction`] (e.g. the
//! COLMAP poses in a `transforms.json`), as `(image name, cam_from_world)` lists that
//! [`super::evaluate`] takes.
//!
//! Strecha's convention (`x ~ K · [Rᵀ | −Rᵀ·C] · X`): `R` holds the camera axes as columns in
//! world coordinates (world-from-camera rotation) and `C` is the camera centre, so COLMAP's
//! `cam_from_world` is `R_cw = Rᵀ`, `t = −Rᵀ·C`.

use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion, Vector3};

use super::{Camera, CameraError, CameraModel, Reconstruction};

/// How far `RᵀR` may be from the identity (entry-wise) before a `.camera` rotation is rejected:
/// the files print six decimals, so real ones are within ~1e-5.
const ORTHONORMAL_TOLERANCE: f64 = 1e-3;

/// Why reference poses could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("Strecha camera file: expected 26 numbers, got {0}")]
    WrongCount(usize),
    #[error("Strecha camera file: number {index} ({token:?}) is not a finite number")]
    NotANumber { index: usize, token: String },
    #[error("Strecha camera file: nonzero distortion {0:?} is not supported")]
    Distortion([f64; 3]),
    #[error("Strecha camera file: K's last row is {0:?}, not (0, 0, 1)")]
    NotCalibrationMatrix([f64; 3]),
    #[error("Strecha camera file: R is not a rotation (max |RᵀR − I| = {deviation}, det = {det})")]
    NotARotation { deviation: f64, det: f64 },
    #[error("Strecha camera file: image size {0} x {1} is not a positive integer size")]
    BadSize(f64, f64),
    #[error("Strecha camera: K has skew {0}, which no COLMAP pinhole model has")]
    Skewed(f64),
    #[error("Strecha camera: {0}")]
    Camera(#[from] CameraError),
    #[error("two reference poses are named {0:?}")]
    DuplicateName(String),
    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: Box<ReferenceError>,
    },
    #[cfg(not(target_arch = "wasm32"))]
    #[error("{}: no *.camera files", dir.display())]
    NoCameras { dir: std::path::PathBuf },
}

/// One Strecha ground-truth camera, as the file states it.
#[derive(Debug, Clone, PartialEq)]
pub struct StrechaCamera {
    /// Intrinsic matrix (pixels; the image spans `[0, w] × [0, h]`).
    pub k: Matrix3<f64>,
    /// World-from-camera rotation: the camera's axes (x right, y down, z forward) in world
    /// coordinates, as columns. Checked to be a rotation within 1e-3.
    pub r: Matrix3<f64>,
    /// Camera centre in world coordinates (metres).
    pub c: Vector3<f64>,
    pub width: u64,
    pub height: u64,
}

impl StrechaCamera {
    /// Parses the 26 whitespace-separated numbers of a `.camera` file.
    pub fn parse(text: &str) -> Result<StrechaCamera, ReferenceError> {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        if tokens.len() != 26 {
            return Err(ReferenceError::WrongCount(tokens.len()));
        }
        let mut v = [0.0f64; 26];
        for (index, (slot, token)) in v.iter_mut().zip(&tokens).enumerate() {
            *slot = token
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ReferenceError::NotANumber {
                    index,
                    token: (*token).to_string(),
                })?;
        }
        let k = Matrix3::from_row_slice(&v[0..9]);
        let distortion = [v[9], v[10], v[11]];
        let r = Matrix3::from_row_slice(&v[12..21]);
        let c = Vector3::new(v[21], v[22], v[23]);
        let (w, h) = (v[24], v[25]);

        if distortion.iter().any(|&d| d != 0.0) {
            return Err(ReferenceError::Distortion(distortion));
        }
        let last_row = [k[(2, 0)], k[(2, 1)], k[(2, 2)]];
        if last_row != [0.0, 0.0, 1.0] {
            return Err(ReferenceError::NotCalibrationMatrix(last_row));
        }
        let deviation = (r.transpose() * r - Matrix3::identity()).amax();
        let det = r.determinant();
        if deviation > ORTHONORMAL_TOLERANCE || det <= 0.0 {
            return Err(ReferenceError::NotARotation { deviation, det });
        }
        let size_ok = |x: f64| x >= 1.0 && x.fract() == 0.0 && x < (1u64 << 53) as f64;
        if !size_ok(w) || !size_ok(h) {
            return Err(ReferenceError::BadSize(w, h));
        }
        Ok(StrechaCamera {
            k,
            r,
            c,
            width: w as u64,
            height: h as u64,
        })
    }

    /// COLMAP's world-to-camera pose: rotation `Rᵀ` (the nearest exact rotation, since the file
    /// rounds R), translation `−Rᵀ·C`.
    pub fn cam_from_world(&self) -> Isometry3<f64> {
        let rotation =
            Rotation3::from_matrix_eps(&self.r.transpose(), 1e-15, 100, Rotation3::identity());
        let translation = -(rotation * self.c);
        Isometry3::from_parts(
            Translation3::from(translation),
            UnitQuaternion::from_rotation_matrix(&rotation),
        )
    }

    /// The intrinsics as a COLMAP PINHOLE camera (fx, fy, cx, cy); K must have no skew.
    pub fn pinhole_camera(&self, id: u32) -> Result<Camera, ReferenceError> {
        let skew = self.k[(0, 1)];
        if skew.abs() > 1e-9 * self.k[(0, 0)].abs() {
            return Err(ReferenceError::Skewed(skew));
        }
        let params = vec![
            self.k[(0, 0)],
            self.k[(1, 1)],
            self.k[(0, 2)],
            self.k[(1, 2)],
        ];
        Ok(Camera::new(
            id,
            CameraModel::Pinhole,
            self.width,
            self.height,
            params,
        )?)
    }
}

/// `(image name, cam_from_world)` of each Strecha camera, in the given order.
pub fn strecha_poses(cameras: &[(String, StrechaCamera)]) -> Vec<(String, Isometry3<f64>)> {
    cameras
        .iter()
        .map(|(name, camera)| (name.clone(), camera.cam_from_world()))
        .collect()
}

/// `(image name, cam_from_world)` of every image of `rec`, sorted by name; names verbatim (a
/// `transforms.json` gives e.g. `images/0001.jpg`, see [`strip_directories`]).
pub fn reconstruction_poses(rec: &Reconstruction) -> Vec<(String, Isometry3<f64>)> {
    let mut poses: Vec<_> = rec
        .images
        .values()
        .map(|image| (image.name.clone(), image.cam_from_world))
        .collect();
    poses.sort_by(|a, b| a.0.cmp(&b.0));
    poses
}

/// The poses renamed to their last path component (`images/0001.jpg` → `0001.jpg`), so a
/// reference from a `transforms.json` matches a reconstruction of the image folder. Fails when
/// two then share a name.
pub fn strip_directories(
    poses: &[(String, Isometry3<f64>)],
) -> Result<Vec<(String, Isometry3<f64>)>, ReferenceError> {
    let mut out: Vec<(String, Isometry3<f64>)> = poses
        .iter()
        .map(|(name, pose)| {
            let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
            (file.to_string(), *pose)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ReferenceError::DuplicateName(pair[0].0.clone()));
    }
    Ok(out)
}

/// Reads `<scene>/gt_cameras/*.camera` (or `<scene>/*.camera` when there is no `gt_cameras`
/// folder): `(image file name, camera)` sorted by name, the image name being the file name
/// without `.camera` (`0000.jpg.camera` → `0000.jpg`).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_strecha_scene(
    scene: &std::path::Path,
) -> Result<Vec<(String, StrechaCamera)>, ReferenceError> {
    let gt = scene.join("gt_cameras");
    let dir = if gt.is_dir() { gt } else { scene.to_path_buf() };
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| ReferenceError::Io { path, source }
    };
    let mut cameras = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let path = entry.map_err(io(&dir))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".camera"))
        else {
            continue;
        };
        let name = name.to_string();
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let camera = StrechaCamera::parse(&text).map_err(|e| ReferenceError::File {
            path: path.clone(),
            source: Box::new(e),
        })?;
        cameras.push((name, camera));
    }
    if cameras.is_empty() {
        return Err(ReferenceError::NoCameras { dir });
    }
    cameras.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(cameras)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Point3, Vector2};

    /// K with f = 1000, principal point (500, 400); camera rotated 90° about world z; centre
    /// (1, 2, 3).
    const HAND_WRITTEN: &str = "1000 0 500\n0 1000 400\n0 0 1\n0 0 0\n\
        0 -1 0\n1 0 0\n0 0 1\n1 2 3\n1000 800\n";

    #[test]
    fn parses_a_hand_written_camera_file() {
        let cam = StrechaCamera::parse(HAND_WRITTEN).expect("valid file");
        assert_eq!(
            cam.k,
            Matrix3::new(1000.0, 0.0, 500.0, 0.0, 1000.0, 400.0, 0.0, 0.0, 1.0)
        );
        assert_eq!(
            cam.r,
            Matrix3::new(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
        );
        assert_eq!(cam.c, Vector3::new(1.0, 2.0, 3.0));
        assert_eq!((cam.width, cam.height), (1000, 800));

        // R_cw = Rᵀ, t = −Rᵀ·C = −(2, −1, 3).
        let pose = cam.cam_from_world();
        let expected_r = Matrix3::new(0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        assert!((pose.rotation.to_rotation_matrix().into_inner() - expected_r).amax() < 1e-15);
        assert!((pose.translation.vector - Vector3::new(-2.0, 1.0, -3.0)).amax() < 1e-12);
        assert!((pose.inverse().translation.vector - cam.c).amax() < 1e-12);

        // 10 m straight ahead of C (world +z is the camera's +z) lands on the principal point;
        // 1 m to world −x is camera +y: 100 px down.
        let camera = cam.pinhole_camera(7).expect("pinhole");
        assert_eq!(camera.params, vec![1000.0, 1000.0, 500.0, 400.0]);
        for (world, pixel) in [
            (Point3::new(1.0, 2.0, 13.0), Vector2::new(500.0, 400.0)),
            (Point3::new(0.0, 2.0, 13.0), Vector2::new(500.0, 500.0)),
        ] {
            let p = camera.project(&(pose * world).coords).expect("in front");
            assert!((p - pixel).amax() < 1e-9, "{p} vs {pixel}");
        }
    }

    #[test]
    fn rejects_malformed_camera_files() {
        let bad = |text: &str| StrechaCamera::parse(text).expect_err(text);
        assert!(matches!(bad("1 2 3"), ReferenceError::WrongCount(3)));
        let with = |from: &str, to: &str| HAND_WRITTEN.replacen(from, to, 1);
        assert!(matches!(
            bad(&with("0 0 0\n", "0.1 0 0\n")),
            ReferenceError::Distortion(_)
        ));
        assert!(matches!(
            bad(&with("1 2 3\n", "1 x 3\n")),
            ReferenceError::NotANumber { index: 22, .. }
        ));
        // A reflection (det −1) is not a rotation.
        assert!(matches!(
            bad(&with("0 0 1\n1 2", "0 0 -1\n1 2")),
            ReferenceError::NotARotation { .. }
        ));
        assert!(matches!(
            bad(&with("1000 800", "1000.5 800")),
            ReferenceError::BadSize(..)
        ));
    }

    /// The fountain's 11 cameras: one K, proper rotations, and a convention that puts the
    /// fountain (where neighbouring optical axes meet) in front of the cameras.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn reads_the_strecha_fountain_scene() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/datasets/strecha-fountain-P11"
        ));
        let cams = read_strecha_scene(dir).expect("fountain cameras");
        assert_eq!(cams.len(), 11);
        let names: Vec<_> = cams.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "0000.jpg");
        assert_eq!(names[10], "0010.jpg");
        for (name, cam) in &cams {
            assert_eq!(cam.k, cams[0].1.k, "{name}");
            assert_eq!((cam.width, cam.height), (1536, 1024));
            assert!((cam.r.transpose() * cam.r - Matrix3::identity()).amax() < 1e-4);
            assert!((cam.r.determinant() - 1.0).abs() < 1e-4);
        }

        // Closest approach of the optical axes (camera +z, R's third column) of cameras 0 and 5.
        let (a, b) = (&cams[0].1, &cams[5].1);
        let (da, db) = (a.r.column(2).into_owned(), b.r.column(2).into_owned());
        let w = a.c - b.c;
        let (ab, ad, bd) = (da.dot(&db), da.dot(&w), db.dot(&w));
        let den = 1.0 - ab * ab;
        let (sa, sb) = ((ab * bd - ad) / den, (bd - ab * ad) / den);
        let (pa, pb) = (a.c + sa * da, b.c + sb * db);
        assert!(
            (pa - pb).norm() < 1.0,
            "optical axes pass {} m apart",
            (pa - pb).norm()
        );
        let x = Point3::from((pa + pb) / 2.0);
        for cam in [a, b] {
            let pose = cam.cam_from_world();
            let p_cam = pose * x;
            assert!(p_cam.z > 5.0, "depth {}", p_cam.z);
            let pixel = cam
                .pinhole_camera(1)
                .expect("pinhole")
                .project(&p_cam.coords);
            let pixel = pixel.expect("in front");
            assert!(pixel.x > 0.0 && pixel.x < 1536.0 && pixel.y > 0.0 && pixel.y < 1024.0);
            // The same point mirrored through the centre is behind the camera.
            let behind = Point3::from(2.0 * cam.c - x.coords);
            assert!((pose * behind).z < -5.0);
        }
    }

    #[test]
    fn renames_to_file_names_and_refuses_collisions() {
        let id = Isometry3::identity();
        let poses = vec![("images/b.jpg".to_string(), id), ("a.jpg".to_string(), id)];
        let names: Vec<_> = strip_directories(&poses)
            .expect("distinct")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["a.jpg", "b.jpg"]);
        let clash = vec![("x/a.jpg".to_string(), id), ("y/a.jpg".to_string(), id)];
        assert!(matches!(
            strip_directories(&clash),
            Err(ReferenceError::DuplicateName(n)) if n == "a.jpg"
        ));
    }
}
