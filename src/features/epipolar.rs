//! Ground-truth epipolar checks for matches between calibrated views (Strecha-style camera
//! files), used by the matching-quality test and benchmark.

use glam::{DMat3, DVec3};

/// A calibrated camera: `x ~ K Rᵀ (X − C)`, K for the full-size image spanning [0, W] × [0, H].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibratedCamera {
    pub k: DMat3,
    pub r: DMat3,
    pub c: DVec3,
    pub width: f64,
    pub height: f64,
}

/// Errors reading a camera file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CameraFileError {
    #[error("camera file has {0} numbers, expected 26 (K, distortion, R, C, size)")]
    Count(usize),
    #[error("camera file holds a non-number: `{0}`")]
    NotANumber(String),
}

impl CalibratedCamera {
    /// Parses the Strecha `.camera` text format (26 numbers: K row-major, 3 zeros, R row-major,
    /// C, width and height).
    pub fn from_strecha(text: &str) -> Result<Self, CameraFileError> {
        let v = text
            .split_whitespace()
            .map(|t| {
                t.parse::<f64>()
                    .map_err(|_| CameraFileError::NotANumber(t.to_owned()))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        if v.len() != 26 {
            return Err(CameraFileError::Count(v.len()));
        }
        let rows = |o: usize| {
            DMat3::from_cols_array(&[
                v[o],
                v[o + 3],
                v[o + 6],
                v[o + 1],
                v[o + 4],
                v[o + 7],
                v[o + 2],
                v[o + 5],
                v[o + 8],
            ])
        };
        Ok(Self {
            k: rows(0),
            r: rows(12),
            c: DVec3::new(v[21], v[22], v[23]),
            width: v[24],
            height: v[25],
        })
    }
}

fn skew(t: DVec3) -> DMat3 {
    DMat3::from_cols(
        DVec3::new(0.0, t.z, -t.y),
        DVec3::new(-t.z, 0.0, t.x),
        DVec3::new(t.y, -t.x, 0.0),
    )
}

/// Fundamental matrix mapping a point of view `a` to its epipolar line in view `b`, for images
/// resized by `scale` (pixel coordinates in K's convention: the image spans [0, W·scale]).
pub fn fundamental(a: &CalibratedCamera, b: &CalibratedCamera, scale: f64) -> DMat3 {
    let s = DMat3::from_diagonal(DVec3::new(scale, scale, 1.0));
    let (ka, kb) = (s * a.k, s * b.k);
    let r = b.r.transpose() * a.r;
    let t = b.r.transpose() * (a.c - b.c);
    kb.inverse().transpose() * skew(t) * r * ka.inverse()
}

/// Distance in pixels of `q` (view b) from the epipolar line of `p` (view a).
pub fn epipolar_distance(f: &DMat3, p: [f64; 2], q: [f64; 2]) -> f64 {
    let l = *f * DVec3::new(p[0], p[1], 1.0);
    (DVec3::new(q[0], q[1], 1.0).dot(l)).abs() / (l.x * l.x + l.y * l.y).sqrt()
}

/// Fraction of `matches` (between keypoints `a` and `b`) within `max_px` of their epipolar line
/// under `f`. Keypoints put pixel centres at integers; K's image spans [0, W], so both are
/// shifted by +0.5 first. 0 when there are no matches.
pub fn fraction_within(
    f: &DMat3,
    a: &[super::sift::Keypoint],
    b: &[super::sift::Keypoint],
    matches: &[super::Match],
    max_px: f64,
) -> f64 {
    let centre = |k: &super::sift::Keypoint| [k.x as f64 + 0.5, k.y as f64 + 0.5];
    let good = matches
        .iter()
        .filter(
            |m| match (a.get(m.query as usize), b.get(m.train as usize)) {
                (Some(p), Some(q)) => epipolar_distance(f, centre(p), centre(q)) <= max_px,
                _ => false,
            },
        )
        .count();
    good as f64 / matches.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_of_one_point_lie_on_each_others_epipolar_lines() {
        let k = DMat3::from_cols_array(&[1000.0, 0.0, 0.0, 0.0, 1000.0, 0.0, 640.0, 480.0, 1.0]);
        let rot = |a: f64| DMat3::from_rotation_y(a);
        let a = CalibratedCamera {
            k,
            r: rot(0.1),
            c: DVec3::new(0.0, 0.0, -5.0),
            width: 1280.0,
            height: 960.0,
        };
        let b = CalibratedCamera {
            k,
            r: rot(-0.2),
            c: DVec3::new(1.0, 0.2, -5.0),
            width: 1280.0,
            height: 960.0,
        };
        let project = |cam: &CalibratedCamera, x: DVec3, s: f64| {
            let p = DMat3::from_diagonal(DVec3::new(s, s, 1.0))
                * cam.k
                * cam.r.transpose()
                * (x - cam.c);
            [p.x / p.z, p.y / p.z]
        };
        for s in [1.0, 0.5] {
            let f = fundamental(&a, &b, s);
            for x in [DVec3::new(0.3, -0.2, 1.0), DVec3::new(-1.0, 0.5, 2.0)] {
                assert!(epipolar_distance(&f, project(&a, x, s), project(&b, x, s)) < 1e-6);
            }
            // A point moved off the line is measured at its distance.
            let q = project(&b, DVec3::new(0.3, -0.2, 1.0), s);
            assert!(
                epipolar_distance(
                    &f,
                    project(&a, DVec3::new(0.3, -0.2, 1.0), s),
                    [q[0], q[1] + 10.0]
                ) > 1.0
            );
        }
        assert_eq!(
            CalibratedCamera::from_strecha("1 2 3"),
            Err(CameraFileError::Count(3))
        );
        assert!(matches!(
            CalibratedCamera::from_strecha("x"),
            Err(CameraFileError::NotANumber(_))
        ));
    }
}
