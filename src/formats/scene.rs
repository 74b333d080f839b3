//! The in-memory model of a 3D Gaussian-splat scene, in the parameterisation of the reference
//! 3DGS implementation (so files from it, gsplat, Brush and SuperSplat load without conversion).

/// Most spherical-harmonics degree Splatpod handles (16 coefficients per colour channel).
pub const MAX_SH_DEGREE: u32 = 3;

/// Number of SH coefficients per colour channel for `degree` (1, 4, 9, 16).
pub const fn sh_coeffs_per_channel(degree: u32) -> usize {
    ((degree + 1) * (degree + 1)) as usize
}

/// A set of 3D Gaussians, structure-of-arrays.
///
/// - `positions`: centres in world space.
/// - `log_scales`: natural log of the three axis standard deviations.
/// - `rotations`: unit quaternions `(w, x, y, z)` (the PLY's `rot_0..3`); need not be normalised.
/// - `opacity_logits`: opacity before the sigmoid.
/// - `sh`: per splat, `sh_coeffs_per_channel(sh_degree)` RGB triples, coefficient-major
///   (`[c0.r, c0.g, c0.b, c1.r, ...]`); `c0` is the DC term (`f_dc_*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GaussianScene {
    pub sh_degree: u32,
    pub positions: Vec<[f32; 3]>,
    pub log_scales: Vec<[f32; 3]>,
    pub rotations: Vec<[f32; 4]>,
    pub opacity_logits: Vec<f32>,
    pub sh: Vec<f32>,
}

/// Errors in a scene's shape (mismatched array lengths, unsupported SH degree).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SceneError {
    #[error("SH degree {0} is not supported (0..=3)")]
    ShDegree(u32),
    #[error("array `{name}` has {got} entries, expected {want}")]
    Length {
        name: &'static str,
        got: usize,
        want: usize,
    },
}

impl GaussianScene {
    /// An empty scene of the given SH degree.
    pub fn empty(sh_degree: u32) -> Self {
        Self {
            sh_degree,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Floats of SH data per splat (3 × coefficients per channel).
    pub fn sh_floats_per_splat(&self) -> usize {
        3 * sh_coeffs_per_channel(self.sh_degree)
    }

    /// Each centre with its opacity logit as the fourth value: the `vec4` layout the kernels
    /// read.
    pub fn means_vec4(&self) -> Vec<[f32; 4]> {
        self.positions
            .iter()
            .zip(&self.opacity_logits)
            .map(|(p, &o)| [p[0], p[1], p[2], o])
            .collect()
    }

    /// Each log scale padded to the kernels' `vec4` (fourth value 0).
    pub fn log_scales_vec4(&self) -> Vec<[f32; 4]> {
        self.log_scales
            .iter()
            .map(|s| [s[0], s[1], s[2], 0.0])
            .collect()
    }

    /// The SH coefficients of splat `i`.
    pub fn sh_of(&self, i: usize) -> &[f32] {
        let k = self.sh_floats_per_splat();
        &self.sh[i * k..(i + 1) * k]
    }

    /// Checks that every array has one entry per splat and the SH degree is supported.
    pub fn validate(&self) -> Result<(), SceneError> {
        if self.sh_degree > MAX_SH_DEGREE {
            return Err(SceneError::ShDegree(self.sh_degree));
        }
        let n = self.len();
        let check = |name, got, want| {
            if got == want {
                Ok(())
            } else {
                Err(SceneError::Length { name, got, want })
            }
        };
        check("log_scales", self.log_scales.len(), n)?;
        check("rotations", self.rotations.len(), n)?;
        check("opacity_logits", self.opacity_logits.len(), n)?;
        check("sh", self.sh.len(), n * self.sh_floats_per_splat())
    }

    /// Axis-aligned bounds of the splat centres, `None` for an empty scene.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        let mut it = self.positions.iter();
        let first = *it.next()?;
        Some(it.fold((first, first), |(mut lo, mut hi), p| {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
            (lo, hi)
        }))
    }

    /// Appends splat `i` of `other` (same SH degree).
    pub fn push_from(&mut self, other: &GaussianScene, i: usize) {
        self.positions.push(other.positions[i]);
        self.log_scales.push(other.log_scales[i]);
        self.rotations.push(other.rotations[i]);
        self.opacity_logits.push(other.opacity_logits[i]);
        self.sh.extend_from_slice(other.sh_of(i));
    }
}

/// Logistic sigmoid: opacity from its logit.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Inverse sigmoid, clamped away from 0 and 1 so it stays finite.
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The zeroth-order SH basis constant: colour = 0.5 + SH_C0 · f_dc.
pub const SH_C0: f32 = 0.282_094_8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_catches_length_and_degree_errors() {
        let mut s = GaussianScene::empty(1);
        s.positions.push([0.0; 3]);
        s.log_scales.push([0.0; 3]);
        s.rotations.push([1.0, 0.0, 0.0, 0.0]);
        s.opacity_logits.push(0.0);
        s.sh.extend([0.0; 12]);
        assert_eq!(s.validate(), Ok(()));
        s.sh.pop();
        assert_eq!(
            s.validate(),
            Err(SceneError::Length {
                name: "sh",
                got: 11,
                want: 12
            })
        );
        s.sh_degree = 4;
        assert_eq!(s.validate(), Err(SceneError::ShDegree(4)));
    }

    #[test]
    fn sigmoid_and_logit_invert() {
        for p in [0.01f32, 0.3, 0.5, 0.9, 0.99] {
            assert!((sigmoid(logit(p)) - p).abs() < 1e-5);
        }
        assert_eq!(sh_coeffs_per_channel(3), 16);
    }
}
