//! COLMAP's binary model files (`cameras.bin`, `images.bin`, `points3D.bin`), little-endian, in
//! the layouts of COLMAP's `reconstruction_io_binary.cc`. Camera ids are COLMAP's `camera_t`
//! (u32) in both `cameras.bin` and `images.bin` (some descriptions say i32 in `cameras.bin`:
//! the same bytes for every id below 2³¹).

use nalgebra::{Isometry3, Translation3, Vector2, Vector3};

use super::check::check;
use super::{insert_new, rotation_from_wxyz, ColmapError, ModelFiles, ModelFormat, Record};
use crate::sfm::{Camera, CameraModel, Image, Point2D, Point3D, Reconstruction, TrackElement};

/// Smallest encoded sizes, to reject counts that cannot fit before allocating for them.
const CAMERA_MIN_BYTES: usize = 4 + 4 + 8 + 8;
const IMAGE_MIN_BYTES: usize = 4 + 7 * 8 + 4 + 1 + 8;
const POINT2D_BYTES: usize = 3 * 8;
const POINT3D_MIN_BYTES: usize = 8 + 3 * 8 + 3 + 8 + 8;
const TRACK_ELEMENT_BYTES: usize = 4 + 4;

/// A position in one file, with the record being read for error messages.
struct Cursor<'a> {
    file: &'static str,
    data: &'a [u8],
    pos: usize,
    record: Record,
}

impl<'a> Cursor<'a> {
    fn new(file: &'static str, data: &'a [u8]) -> Self {
        Cursor {
            file,
            data,
            pos: 0,
            record: Record::Header,
        }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ColmapError> {
        let available = self.remaining();
        if n > available {
            return Err(ColmapError::Truncated {
                file: self.file,
                record: self.record,
                field,
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ColmapError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ColmapError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ColmapError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, ColmapError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, ColmapError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn f64(&mut self, field: &'static str) -> Result<f64, ColmapError> {
        Ok(f64::from_le_bytes(self.array(field)?))
    }

    fn vec3(&mut self, field: &'static str) -> Result<Vector3<f64>, ColmapError> {
        Ok(Vector3::new(
            self.f64(field)?,
            self.f64(field)?,
            self.f64(field)?,
        ))
    }

    /// A u64 count of items taking at least `min_size` bytes each, checked against what is left.
    fn count(
        &mut self,
        field: &'static str,
        what: &'static str,
        min_size: usize,
    ) -> Result<usize, ColmapError> {
        let count = self.u64(field)?;
        let remaining = self.remaining();
        if count > (remaining / min_size) as u64 {
            return Err(ColmapError::CountTooLarge {
                file: self.file,
                record: self.record,
                what,
                count,
                min_size,
                remaining,
            });
        }
        Ok(count as usize)
    }

    /// A NUL-terminated UTF-8 string (the terminator is consumed, not returned).
    fn c_string(&mut self, field: &'static str) -> Result<String, ColmapError> {
        let rest = &self.data[self.pos..];
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(ColmapError::Truncated {
                file: self.file,
                record: self.record,
                field,
                offset: self.pos,
                needed: rest.len() + 1,
                available: rest.len(),
            });
        };
        let bytes = self.take(len + 1, field)?;
        String::from_utf8(bytes[..len].to_vec()).map_err(|e| ColmapError::InvalidRecord {
            file: self.file,
            record: self.record.to_string(),
            reason: format!("{field} is not UTF-8 ({e})"),
        })
    }

    fn finish(self) -> Result<(), ColmapError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(ColmapError::TrailingBytes {
                file: self.file,
                extra,
            }),
        }
    }
}

/// Parses a binary model from the contents of `cameras.bin`, `images.bin` and `points3D.bin`.
pub fn read_binary(
    cameras: &[u8],
    images: &[u8],
    points3d: &[u8],
) -> Result<Reconstruction, ColmapError> {
    let names = ModelFormat::Binary.file_names();
    let mut rec = Reconstruction::default();

    let mut c = Cursor::new(names.cameras, cameras);
    let count = c.count("number of cameras", "cameras", CAMERA_MIN_BYTES)?;
    for index in 0..count as u64 {
        c.record = Record::Camera { index, id: None };
        let id = c.u32("camera_id")?;
        c.record = Record::Camera {
            index,
            id: Some(id),
        };
        let model_id = c.i32("model_id")?;
        let model = CameraModel::from_id(model_id).ok_or(ColmapError::UnsupportedModel {
            file: names.cameras,
            camera_id: id,
            model: model_id.to_string(),
        })?;
        let width = c.u64("width")?;
        let height = c.u64("height")?;
        let params = (0..model.param_count())
            .map(|_| c.f64("params"))
            .collect::<Result<Vec<_>, _>>()?;
        let camera = Camera::unchecked(id, model, width, height, params);
        insert_new(&mut rec.cameras, id, camera, names.cameras, "camera")?;
    }
    c.finish()?;

    let mut c = Cursor::new(names.images, images);
    let count = c.count("number of images", "images", IMAGE_MIN_BYTES)?;
    for index in 0..count as u64 {
        c.record = Record::Image { index, id: None };
        let id = c.u32("image_id")?;
        c.record = Record::Image {
            index,
            id: Some(id),
        };
        let (qw, qx, qy, qz) = (
            c.f64("qvec")?,
            c.f64("qvec")?,
            c.f64("qvec")?,
            c.f64("qvec")?,
        );
        let t = c.vec3("tvec")?;
        let camera_id = c.u32("camera_id")?;
        let name = c.c_string("name")?;
        let num_points2d = c.count("num_points2D", "points2D", POINT2D_BYTES)?;
        let mut points2d = Vec::with_capacity(num_points2d);
        for _ in 0..num_points2d {
            let xy = Vector2::new(c.f64("point2D x")?, c.f64("point2D y")?);
            let point3d_id = Some(c.u64("point2D point3D_id")?).filter(|&p| p != u64::MAX);
            points2d.push(Point2D { xy, point3d_id });
        }
        let rotation = rotation_from_wxyz(qw, qx, qy, qz).ok_or(ColmapError::InvalidRecord {
            file: names.images,
            record: c.record.to_string(),
            reason: format!("rotation quaternion ({qw}, {qx}, {qy}, {qz}) is zero or not finite"),
        })?;
        let image = Image {
            id,
            camera_id,
            name,
            cam_from_world: Isometry3::from_parts(Translation3::from(t), rotation),
            points2d,
        };
        insert_new(&mut rec.images, id, image, names.images, "image")?;
    }
    c.finish()?;

    let mut c = Cursor::new(names.points3d, points3d);
    let count = c.count("number of points3D", "points3D", POINT3D_MIN_BYTES)?;
    for index in 0..count as u64 {
        c.record = Record::Point3D { index, id: None };
        let id = c.u64("point3D_id")?;
        c.record = Record::Point3D {
            index,
            id: Some(id),
        };
        let xyz = c.vec3("xyz")?;
        let color = [c.u8("rgb")?, c.u8("rgb")?, c.u8("rgb")?];
        let error = c.f64("error")?;
        let track_length = c.count("track_length", "track elements", TRACK_ELEMENT_BYTES)?;
        let mut track = Vec::with_capacity(track_length);
        for _ in 0..track_length {
            track.push(TrackElement {
                image_id: c.u32("track image_id")?,
                point2d_idx: c.u32("track point2D_idx")?,
            });
        }
        let point = Point3D {
            xyz,
            color,
            error,
            track,
        };
        insert_new(&mut rec.points3d, id, point, names.points3d, "point3D")?;
    }
    c.finish()?;

    check(&rec, names)?;
    Ok(rec)
}

fn put_f64s(out: &mut Vec<u8>, values: &[f64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Encodes `rec` as COLMAP's binary files (records in id order, as COLMAP writes them).
pub fn write_binary(rec: &Reconstruction) -> Result<ModelFiles, ColmapError> {
    let names = ModelFormat::Binary.file_names();
    check(rec, names)?;

    let mut cameras = Vec::with_capacity(8 + rec.cameras.len() * (CAMERA_MIN_BYTES + 8 * 8));
    cameras.extend_from_slice(&(rec.cameras.len() as u64).to_le_bytes());
    for camera in rec.cameras.values() {
        cameras.extend_from_slice(&camera.id.to_le_bytes());
        cameras.extend_from_slice(&camera.model.id().to_le_bytes());
        cameras.extend_from_slice(&camera.width.to_le_bytes());
        cameras.extend_from_slice(&camera.height.to_le_bytes());
        put_f64s(&mut cameras, &camera.params);
    }

    let mut images = Vec::new();
    images.extend_from_slice(&(rec.images.len() as u64).to_le_bytes());
    for image in rec.images.values() {
        if image.name.contains('\0') {
            return Err(ColmapError::Unwritable {
                file: names.images,
                record: format!("image {}", image.id),
                reason: format!("name {:?} contains a NUL byte", image.name),
            });
        }
        let q = image.cam_from_world.rotation;
        let t = image.cam_from_world.translation.vector;
        images.extend_from_slice(&image.id.to_le_bytes());
        put_f64s(&mut images, &[q.w, q.i, q.j, q.k, t.x, t.y, t.z]);
        images.extend_from_slice(&image.camera_id.to_le_bytes());
        images.extend_from_slice(image.name.as_bytes());
        images.push(0);
        images.extend_from_slice(&(image.points2d.len() as u64).to_le_bytes());
        for point in &image.points2d {
            put_f64s(&mut images, &[point.xy.x, point.xy.y]);
            images.extend_from_slice(&point.point3d_id.unwrap_or(u64::MAX).to_le_bytes());
        }
    }

    let mut points3d = Vec::new();
    points3d.extend_from_slice(&(rec.points3d.len() as u64).to_le_bytes());
    for (id, point) in &rec.points3d {
        points3d.extend_from_slice(&id.to_le_bytes());
        put_f64s(&mut points3d, point.xyz.as_slice());
        points3d.extend_from_slice(&point.color);
        put_f64s(&mut points3d, &[point.error]);
        points3d.extend_from_slice(&(point.track.len() as u64).to_le_bytes());
        for el in &point.track {
            points3d.extend_from_slice(&el.image_id.to_le_bytes());
            points3d.extend_from_slice(&el.point2d_idx.to_le_bytes());
        }
    }

    Ok(ModelFiles {
        cameras,
        images,
        points3d,
    })
}
