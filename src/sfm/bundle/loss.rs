//! Robust losses on the squared reprojection error, as Ceres defines them, for IRLS weighting.

/// How residuals are penalised: `cost = ½ Σ ρ(‖r‖²)`. The scale `a` (pixels) is where the
/// robust losses start to discount: residuals well below it count as in least squares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossFunction {
    /// ρ(s) = s: plain least squares.
    Trivial,
    /// ρ(s) = s for s ≤ a², 2a√s − a² beyond: quadratic near zero, linear for outliers.
    Huber { scale: f64 },
    /// ρ(s) = a² ln(1 + s/a²): outliers' influence falls to zero.
    Cauchy { scale: f64 },
    /// ρ(s) = 2a² (√(1 + s/a²) − 1): a smooth Huber.
    SoftL1 { scale: f64 },
}

impl LossFunction {
    /// The scale, if the loss has one.
    pub fn scale(self) -> Option<f64> {
        match self {
            LossFunction::Trivial => None,
            LossFunction::Huber { scale }
            | LossFunction::Cauchy { scale }
            | LossFunction::SoftL1 { scale } => Some(scale),
        }
    }

    /// ρ(s) and the IRLS weight ρ'(s) for a squared residual norm `s ≥ 0`.
    pub fn evaluate(self, s: f64) -> (f64, f64) {
        match self {
            LossFunction::Trivial => (s, 1.0),
            LossFunction::Huber { scale } => {
                let b = scale * scale;
                if s <= b {
                    (s, 1.0)
                } else {
                    let r = s.sqrt();
                    (2.0 * scale * r - b, scale / r)
                }
            }
            LossFunction::Cauchy { scale } => {
                let b = scale * scale;
                ((b * (s / b).ln_1p()), 1.0 / (1.0 + s / b))
            }
            LossFunction::SoftL1 { scale } => {
                let b = scale * scale;
                let root = (1.0 + s / b).sqrt();
                (2.0 * b * (root - 1.0), 1.0 / root)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOSSES: [LossFunction; 4] = [
        LossFunction::Trivial,
        LossFunction::Huber { scale: 2.0 },
        LossFunction::Cauchy { scale: 2.0 },
        LossFunction::SoftL1 { scale: 2.0 },
    ];

    #[test]
    fn weights_are_the_derivative_of_the_loss() {
        for loss in LOSSES {
            for s in [0.01, 1.0, 3.9, 4.1, 50.0, 900.0] {
                let h = 1e-6 * s;
                let numeric = (loss.evaluate(s + h).0 - loss.evaluate(s - h).0) / (2.0 * h);
                let (_, weight) = loss.evaluate(s);
                assert!(
                    (weight - numeric).abs() < 1e-7,
                    "{loss:?} at {s}: {weight} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn small_residuals_count_as_least_squares_and_outliers_less() {
        for loss in LOSSES {
            let (rho, weight) = loss.evaluate(1e-6);
            assert!(
                (rho - 1e-6).abs() < 1e-12 && (weight - 1.0).abs() < 1e-6,
                "{loss:?}"
            );
        }
        // A 30 px residual with a 2 px scale.
        let s = 900.0;
        let huber = LossFunction::Huber { scale: 2.0 }.evaluate(s);
        let cauchy = LossFunction::Cauchy { scale: 2.0 }.evaluate(s);
        assert!((huber.0 - (2.0 * 2.0 * 30.0 - 4.0)).abs() < 1e-9);
        assert!((cauchy.0 - 4.0 * (1.0f64 + 225.0).ln()).abs() < 1e-9);
        assert!(cauchy.1 < huber.1 && huber.1 < 1.0);
    }
}
