//! COLMAP's text model files (`cameras.txt`, `images.txt`, `points3D.txt`), with COLMAP's header
//! comments. Numbers are written in the shortest form that reads back to the same `f64`, so a
//! text model round-trips exactly. An image name is the rest of its line, so names with
//! spaces round-trip here (COLMAP's own text reader stops a name at the first space; use the
//! binary format for such names).

use std::fmt::Write as _;
use std::str::FromStr;

use nalgebra::{Isometry3, Translation3, Vector2, Vector3};

use super::check::check;
use super::{insert_new, rotation_from_wxyz, ColmapError, ModelFiles, ModelFormat};
use crate::sfm::{Camera, CameraModel, Image, Point2D, Point3D, Reconstruction, TrackElement};

/// The whitespace-separated values of one line, parsed in order.
struct Fields<'a> {
    file: &'static str,
    line: usize,
    rest: &'a str,
}

impl<'a> Fields<'a> {
    fn new(file: &'static str, line: usize, text: &'a str) -> Self {
        Fields {
            file,
            line,
            rest: text.trim_start_matches(|c: char| c.is_ascii_whitespace()),
        }
    }

    fn error(&self, reason: String) -> ColmapError {
        ColmapError::Syntax {
            file: self.file,
            line: self.line,
            reason,
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(self.rest.len());
        let token = &self.rest[..end];
        self.rest = self.rest[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        Some(token)
    }

    fn next<T: FromStr>(&mut self, field: &str) -> Result<T, ColmapError> {
        let token = self
            .token()
            .ok_or_else(|| self.error(format!("missing {field}")))?;
        token.parse().map_err(|_| {
            self.error(format!(
                "{field}: cannot read {token:?} as {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// All remaining values, parsed.
    fn remaining<T: FromStr>(&mut self, field: &str) -> Result<Vec<T>, ColmapError> {
        let mut out = Vec::new();
        while !self.rest.is_empty() {
            out.push(self.next(field)?);
        }
        Ok(out)
    }

    /// The rest of the line, verbatim up to trailing whitespace (an image name may hold spaces).
    fn rest_of_line(&mut self) -> &'a str {
        std::mem::take(&mut self.rest).trim_end()
    }

    fn finish(mut self) -> Result<(), ColmapError> {
        match self.token() {
            None => Ok(()),
            Some(token) => Err(self.error(format!("unexpected value {token:?} at the end"))),
        }
    }
}

/// The file as text, or the line of its first byte that is not UTF-8.
fn as_text<'a>(file: &'static str, bytes: &'a [u8]) -> Result<&'a str, ColmapError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        ColmapError::Syntax {
            file,
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
            reason: "not UTF-8 text".into(),
        }
    })
}

/// Lines numbered from 1, trimmed.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

fn is_data(line: &str) -> bool {
    !line.is_empty() && !line.starts_with('#')
}

/// Parses a text model from the contents of `cameras.txt`, `images.txt` and `points3D.txt`.
pub fn read_text(
    cameras: &[u8],
    images: &[u8],
    points3d: &[u8],
) -> Result<Reconstruction, ColmapError> {
    let names = ModelFormat::Text.file_names();
    let mut rec = Reconstruction::default();

    for (line, text) in numbered_lines(as_text(names.cameras, cameras)?) {
        if !is_data(text) {
            continue;
        }
        let mut f = Fields::new(names.cameras, line, text);
        let id: u32 = f.next("CAMERA_ID")?;
        let model_name: &str = f.token().ok_or_else(|| f.error("missing MODEL".into()))?;
        let model = CameraModel::from_name(model_name).ok_or(ColmapError::UnsupportedModel {
            file: names.cameras,
            camera_id: id,
            model: model_name.to_string(),
        })?;
        let width = f.next("WIDTH")?;
        let height = f.next("HEIGHT")?;
        let params: Vec<f64> = f.remaining("PARAMS")?;
        if params.len() != model.param_count() {
            return Err(ColmapError::ParamCount {
                file: names.cameras,
                camera_id: id,
                model: model.name(),
                expected: model.param_count(),
                found: params.len(),
            });
        }
        let camera = Camera::unchecked(id, model, width, height, params);
        insert_new(&mut rec.cameras, id, camera, names.cameras, "camera")?;
    }

    // Two lines per image; as in COLMAP, the line after an image line is always its points2D
    // (possibly empty).
    let mut lines = numbered_lines(as_text(names.images, images)?);
    while let Some((line, text)) = lines.next() {
        if !is_data(text) {
            continue;
        }
        let mut f = Fields::new(names.images, line, text);
        let id: u32 = f.next("IMAGE_ID")?;
        let (qw, qx, qy, qz) = (f.next("QW")?, f.next("QX")?, f.next("QY")?, f.next("QZ")?);
        let t = Vector3::new(f.next("TX")?, f.next("TY")?, f.next("TZ")?);
        let camera_id = f.next("CAMERA_ID")?;
        let name = f.rest_of_line().to_string();
        let rotation = rotation_from_wxyz(qw, qx, qy, qz).ok_or_else(|| {
            f.error(format!(
                "image {id}: rotation quaternion ({qw}, {qx}, {qy}, {qz}) is zero or not finite"
            ))
        })?;

        let mut points2d = Vec::new();
        if let Some((line, text)) = lines.next() {
            let mut f = Fields::new(names.images, line, text);
            let values: Vec<&str> = std::iter::from_fn(|| f.token()).collect();
            if !values.len().is_multiple_of(3) {
                return Err(f.error(format!(
                    "image {id}: POINTS2D come as (X, Y, POINT3D_ID) triples, found {} values",
                    values.len()
                )));
            }
            points2d.reserve(values.len() / 3);
            for triple in values.chunks_exact(3) {
                let coordinate = |token: &str, field: &str| -> Result<f64, ColmapError> {
                    token.parse().map_err(|_| {
                        f.error(format!("image {id}: {field}: cannot read {token:?} as f64"))
                    })
                };
                let xy = Vector2::new(
                    coordinate(triple[0], "point2D X")?,
                    coordinate(triple[1], "point2D Y")?,
                );
                let point3d_id = match triple[2] {
                    "-1" => None,
                    token => Some(token.parse::<u64>().map_err(|_| {
                        f.error(format!(
                            "image {id}: POINT3D_ID: cannot read {token:?} as an id or -1"
                        ))
                    })?)
                    .filter(|&p| p != u64::MAX),
                };
                points2d.push(Point2D { xy, point3d_id });
            }
        }
        let image = Image {
            id,
            camera_id,
            name,
            cam_from_world: Isometry3::from_parts(Translation3::from(t), rotation),
            points2d,
        };
        insert_new(&mut rec.images, id, image, names.images, "image")?;
    }

    for (line, text) in numbered_lines(as_text(names.points3d, points3d)?) {
        if !is_data(text) {
            continue;
        }
        let mut f = Fields::new(names.points3d, line, text);
        let id: u64 = f.next("POINT3D_ID")?;
        let xyz = Vector3::new(f.next("X")?, f.next("Y")?, f.next("Z")?);
        let color = [f.next("R")?, f.next("G")?, f.next("B")?];
        let error = f.next("ERROR")?;
        let values: Vec<u32> = f.remaining("TRACK (IMAGE_ID, POINT2D_IDX)")?;
        if !values.len().is_multiple_of(2) {
            return Err(f.error(format!(
                "point3D {id}: TRACK comes as (IMAGE_ID, POINT2D_IDX) pairs, found {} values",
                values.len()
            )));
        }
        let track = values
            .chunks_exact(2)
            .map(|pair| TrackElement {
                image_id: pair[0],
                point2d_idx: pair[1],
            })
            .collect();
        f.finish()?;
        let point = Point3D {
            xyz,
            color,
            error,
            track,
        };
        insert_new(&mut rec.points3d, id, point, names.points3d, "point3D")?;
    }

    check(&rec, names)?;
    Ok(rec)
}

/// Appends `x` in the shortest form that parses back to the same bits (C++ streams read it).
fn put_f64(out: &mut String, x: f64) {
    let magnitude = x.abs();
    // `write!` into a String cannot fail.
    let _ = if x == 0.0 || !x.is_finite() || (1e-5..1e16).contains(&magnitude) {
        write!(out, "{x}")
    } else {
        write!(out, "{x:e}")
    };
}

/// Encodes `rec` as COLMAP's text files (records in id order, COLMAP's header comments).
pub fn write_text(rec: &Reconstruction) -> Result<ModelFiles, ColmapError> {
    let names = ModelFormat::Text.file_names();
    check(rec, names)?;

    // `write!` into a String cannot fail; its results are ignored below.
    let mut cameras = String::new();
    cameras.push_str("# Camera list with one line of data per camera:\n");
    cameras.push_str("#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n");
    let _ = writeln!(cameras, "# Number of cameras: {}", rec.cameras.len());
    for camera in rec.cameras.values() {
        let _ = write!(
            cameras,
            "{} {} {} {}",
            camera.id,
            camera.model.name(),
            camera.width,
            camera.height
        );
        for &p in &camera.params {
            cameras.push(' ');
            put_f64(&mut cameras, p);
        }
        cameras.push('\n');
    }

    let observations: usize = rec
        .images
        .values()
        .map(|im| {
            im.points2d
                .iter()
                .filter(|p| p.point3d_id.is_some())
                .count()
        })
        .sum();
    let mut images = String::new();
    images.push_str("# Image list with two lines of data per image:\n");
    images.push_str("#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n");
    images.push_str("#   POINTS2D[] as (X, Y, POINT3D_ID)\n");
    let _ = writeln!(
        images,
        "# Number of images: {}, mean observations per image: {}",
        rec.images.len(),
        mean(observations, rec.images.len())
    );
    for image in rec.images.values() {
        if image.name.contains(['\n', '\r']) || image.name.trim() != image.name {
            return Err(ColmapError::Unwritable {
                file: names.images,
                record: format!("image {}", image.id),
                reason: format!(
                    "name {:?} has a line break or leading/trailing whitespace",
                    image.name
                ),
            });
        }
        let q = image.cam_from_world.rotation;
        let t = image.cam_from_world.translation.vector;
        let _ = write!(images, "{}", image.id);
        for v in [q.w, q.i, q.j, q.k, t.x, t.y, t.z] {
            images.push(' ');
            put_f64(&mut images, v);
        }
        let _ = writeln!(images, " {} {}", image.camera_id, image.name);
        for (i, point) in image.points2d.iter().enumerate() {
            if i > 0 {
                images.push(' ');
            }
            put_f64(&mut images, point.xy.x);
            images.push(' ');
            put_f64(&mut images, point.xy.y);
            let _ = match point.point3d_id {
                Some(id) => write!(images, " {id}"),
                None => write!(images, " -1"),
            };
        }
        images.push('\n');
    }

    let track_elements: usize = rec.points3d.values().map(|p| p.track.len()).sum();
    let mut points3d = String::new();
    points3d.push_str("# 3D point list with one line of data per point:\n");
    points3d
        .push_str("#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n");
    let _ = writeln!(
        points3d,
        "# Number of points: {}, mean track length: {}",
        rec.points3d.len(),
        mean(track_elements, rec.points3d.len())
    );
    for (id, point) in &rec.points3d {
        let _ = write!(points3d, "{id}");
        for v in point.xyz.iter() {
            points3d.push(' ');
            put_f64(&mut points3d, *v);
        }
        let [r, g, b] = point.color;
        let _ = write!(points3d, " {r} {g} {b} ");
        put_f64(&mut points3d, point.error);
        for el in &point.track {
            let _ = write!(points3d, " {} {}", el.image_id, el.point2d_idx);
        }
        points3d.push('\n');
    }

    Ok(ModelFiles {
        cameras: cameras.into_bytes(),
        images: images.into_bytes(),
        points3d: points3d.into_bytes(),
    })
}

/// `total / count`, 0 for no items (as COLMAP's header statistics).
fn mean(total: usize, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    }
}
