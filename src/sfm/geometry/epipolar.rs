//! RANSAC estimation of the two-view epipolar matrices E and F, which differ only in their
//! solvers and the units of the points.

use nalgebra::{Matrix3, Vector2};

use super::essential::{essential_eight_point, essential_five_point, sampson_error};
use super::fundamental::{fundamental_eight_point, fundamental_seven_point};
use super::linalg::gather;
use super::ransac::Estimator;

/// Which matrix an [`EpipolarEstimator`] fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpipolarMatrix {
    /// E from normalized correspondences (five-point minimal samples).
    Essential,
    /// F from pixel correspondences (seven-point minimal samples).
    Fundamental,
}

/// RANSAC estimator of E or F from correspondences `(x1[i], x2[i])` (residual: Sampson error in
/// the input units, e.g. pixels² for F).
pub struct EpipolarEstimator<'a> {
    pub matrix: EpipolarMatrix,
    pub x1: &'a [Vector2<f64>],
    pub x2: &'a [Vector2<f64>],
}

impl Estimator for EpipolarEstimator<'_> {
    type Model = Matrix3<f64>;

    fn min_sample_size(&self) -> usize {
        match self.matrix {
            EpipolarMatrix::Essential => 5,
            EpipolarMatrix::Fundamental => 7,
        }
    }

    fn num_data(&self) -> usize {
        self.x1.len().min(self.x2.len())
    }

    fn estimate(&self, sample: &[usize]) -> Vec<Matrix3<f64>> {
        let (a, b) = gather(self.x1, self.x2, sample);
        match self.matrix {
            EpipolarMatrix::Essential => essential_five_point(&a, &b),
            EpipolarMatrix::Fundamental => fundamental_seven_point(&a, &b),
        }
    }

    fn estimate_nonminimal(&self, inliers: &[usize], _current: &Matrix3<f64>) -> Vec<Matrix3<f64>> {
        let (a, b) = gather(self.x1, self.x2, inliers);
        match self.matrix {
            EpipolarMatrix::Essential => {
                let mut out = essential_five_point(&a, &b);
                out.extend(essential_eight_point(&a, &b));
                out
            }
            EpipolarMatrix::Fundamental => fundamental_eight_point(&a, &b).into_iter().collect(),
        }
    }

    fn residual(&self, model: &Matrix3<f64>, i: usize) -> f64 {
        sampson_error(model, &self.x1[i], &self.x2[i])
    }
}
