//! LO-RANSAC with MSAC scoring: robust model fitting for any [`Estimator`], with an adaptive
//! number of iterations and local optimisation of every new best model. Deterministic for a seed.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A model family fitted by RANSAC: a minimal solver, an optional non-minimal solver for local
/// optimisation, and a squared residual per datum.
pub trait Estimator {
    /// The fitted model.
    type Model: Clone;
    /// Number of data a minimal sample holds.
    fn min_sample_size(&self) -> usize;
    /// Number of data (indices run over `0..num_data()`).
    fn num_data(&self) -> usize;
    /// Models fitting the minimal sample `sample` (indices); minimal solvers may give several or
    /// none.
    fn estimate(&self, sample: &[usize]) -> Vec<Self::Model>;
    /// Models fitting many inliers (least squares or refinement starting from `current`, the
    /// model they are inliers of). Used for local optimisation; none by default.
    fn estimate_nonminimal(&self, _inliers: &[usize], _current: &Self::Model) -> Vec<Self::Model> {
        Vec::new()
    }
    /// Squared error of datum `i` under `model` (non-finite counts as an outlier).
    fn residual(&self, model: &Self::Model, i: usize) -> f64;
}

/// RANSAC settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RansacOptions {
    /// Inlier threshold on the residual's square root (in the residual's units).
    pub max_error: f64,
    /// Probability of having drawn at least one all-inlier sample when stopping.
    pub confidence: f64,
    pub min_iterations: usize,
    pub max_iterations: usize,
    /// Re-estimation rounds of local optimisation per new best model (0 disables it).
    pub lo_iterations: usize,
    /// Threshold multiplier of the first local-optimisation round; it shrinks linearly to 1.
    pub lo_threshold_factor: f64,
    pub seed: u64,
}

impl Default for RansacOptions {
    fn default() -> Self {
        Self {
            max_error: 1.0,
            confidence: 0.9999,
            min_iterations: 20,
            max_iterations: 10_000,
            lo_iterations: 4,
            lo_threshold_factor: 2.0,
            seed: 0,
        }
    }
}

/// The best model RANSAC found with its support.
#[derive(Debug, Clone, PartialEq)]
pub struct RansacResult<M> {
    pub model: M,
    /// `inlier_mask[i]`: datum `i` is within `max_error` of the model.
    pub inlier_mask: Vec<bool>,
    pub num_inliers: usize,
    /// Number of samples drawn.
    pub iterations: usize,
    /// MSAC cost: sum of squared residuals truncated at `max_error²` (lower is better).
    pub score: f64,
}

/// Samples needed so that, with inlier ratio `ratio`, an all-inlier sample of `size` is drawn with
/// probability `confidence`.
pub fn required_iterations(ratio: f64, size: usize, confidence: f64, max: usize) -> usize {
    if ratio.is_nan() || ratio <= 0.0 {
        return max;
    }
    if ratio >= 1.0 {
        return 0;
    }
    let p_good = ratio.powi(size as i32);
    let denom = (-p_good).ln_1p();
    let nom = (1.0 - confidence.clamp(0.0, 1.0 - 1e-15)).ln();
    if denom.is_nan() || denom >= 0.0 {
        return max;
    }
    let n = (nom / denom).ceil();
    if n.is_finite() && n < max as f64 {
        n.max(0.0) as usize
    } else {
        max
    }
}

/// Fits a model to the estimator's data with LO-RANSAC/MSAC; `None` when there are too few data,
/// the threshold is invalid or no sample gave a model.
pub fn ransac<E: Estimator>(est: &E, options: &RansacOptions) -> Option<RansacResult<E::Model>> {
    let n = est.num_data();
    let s = est.min_sample_size();
    let t2 = options.max_error * options.max_error;
    if s == 0 || n < s || !(t2 > 0.0 && t2.is_finite()) {
        return None;
    }
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut sample = vec![0usize; s];
    let mut best: Option<(E::Model, f64, usize)> = None;
    let mut needed = options.max_iterations;
    let mut iterations = 0;
    while iterations < options.max_iterations
        && (iterations < options.min_iterations || iterations < needed)
    {
        iterations += 1;
        draw_sample(&mut rng, n, &mut sample);
        for model in est.estimate(&sample) {
            let (score, count) = msac_score(est, &model, t2);
            if best.as_ref().is_some_and(|b| score >= b.1) {
                continue;
            }
            let improved = local_optimize(est, (model, score, count), t2, options);
            needed = required_iterations(
                improved.2 as f64 / n as f64,
                s,
                options.confidence,
                options.max_iterations,
            );
            best = Some(improved);
        }
    }
    let (model, score, _) = best?;
    let inlier_mask: Vec<bool> = (0..n)
        .map(|i| is_inlier(est.residual(&model, i), t2))
        .collect();
    let num_inliers = inlier_mask.iter().filter(|&&b| b).count();
    Some(RansacResult {
        model,
        inlier_mask,
        num_inliers,
        iterations,
        score,
    })
}

fn is_inlier(r: f64, t2: f64) -> bool {
    r.is_finite() && r <= t2
}

/// Distinct random indices in `0..n` (rejection sampling; samples are small).
fn draw_sample(rng: &mut SmallRng, n: usize, sample: &mut [usize]) {
    for k in 0..sample.len() {
        loop {
            let i = rng.random_range(0..n);
            if !sample[..k].contains(&i) {
                sample[k] = i;
                break;
            }
        }
    }
}

/// MSAC cost and inlier count of `model`.
fn msac_score<E: Estimator>(est: &E, model: &E::Model, t2: f64) -> (f64, usize) {
    let mut score = 0.0;
    let mut count = 0;
    for i in 0..est.num_data() {
        let r = est.residual(model, i);
        if is_inlier(r, t2) {
            score += r;
            count += 1;
        } else {
            score += t2;
        }
    }
    (score, count)
}

/// Re-estimates from the inliers with the non-minimal solver, with a threshold shrinking from
/// `lo_threshold_factor × max_error` to `max_error`, keeping whatever lowers the MSAC cost.
fn local_optimize<E: Estimator>(
    est: &E,
    mut best: (E::Model, f64, usize),
    t2: f64,
    options: &RansacOptions,
) -> (E::Model, f64, usize) {
    let rounds = options.lo_iterations;
    let factor = options.lo_threshold_factor.max(1.0);
    let mut inliers = Vec::new();
    for k in 0..rounds {
        let f = if rounds > 1 {
            factor - (factor - 1.0) * k as f64 / (rounds - 1) as f64
        } else {
            1.0
        };
        let tk2 = t2 * f * f;
        inliers.clear();
        inliers.extend((0..est.num_data()).filter(|&i| is_inlier(est.residual(&best.0, i), tk2)));
        if inliers.len() <= est.min_sample_size() {
            break;
        }
        for model in est.estimate_nonminimal(&inliers, &best.0) {
            let (score, count) = msac_score(est, &model, t2);
            if score < best.1 {
                best = (model, score, count);
            }
        }
    }
    best
}
