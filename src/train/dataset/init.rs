//! Initial splat parameters from a point cloud, in the GPU layout of [`crate::train`], and the
//! 3-nearest-neighbour distances that size them (a k-d tree: robust to the clustered, outlier-rich
//! clouds SfM produces, where a uniform grid degrades).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::formats::{logit, GaussianScene, SceneError, MAX_SH_DEGREE, SH_C0};
use crate::train::adam::SplatData;
use crate::train::SH_FLOATS;

/// Opacity every splat starts at (3DGS and gsplat: 0.1).
pub const INIT_OPACITY: f32 = 0.1;

/// Smallest scale before the log (gsplat's `clamp_min(1e-7)`), so coincident points stay finite.
const MIN_SCALE: f32 = 1e-7;

/// Conversions between the training layout and [`GaussianScene`] (what export writes and
/// what a scene file imports as).
impl SplatData {
    /// The splats as a degree-3 [`GaussianScene`] (for PLY / SPZ export through
    /// [`crate::formats`]).
    pub fn to_scene(&self) -> GaussianScene {
        GaussianScene {
            sh_degree: MAX_SH_DEGREE,
            positions: self.means.iter().map(|m| [m[0], m[1], m[2]]).collect(),
            log_scales: self.log_scales.iter().map(|s| [s[0], s[1], s[2]]).collect(),
            rotations: self.rotations.clone(),
            opacity_logits: self.means.iter().map(|m| m[3]).collect(),
            sh: self.sh.clone(),
        }
    }

    /// The splats of `scene` in the GPU layout; SH bands above the scene's degree are zero.
    pub fn from_scene(scene: &GaussianScene) -> Result<SplatData, SceneError> {
        scene.validate()?;
        let k = scene.sh_floats_per_splat();
        let mut sh = vec![0.0; scene.len() * SH_FLOATS];
        for (i, dst) in sh.chunks_exact_mut(SH_FLOATS).enumerate() {
            dst[..k].copy_from_slice(scene.sh_of(i));
        }
        Ok(SplatData {
            means: scene.means_vec4(),
            log_scales: scene.log_scales_vec4(),
            rotations: scene.rotations.clone(),
            sh,
        })
    }
}

/// Initial splats on `points` (colours `colors` in 0..=1, one per point): opacity
/// [`INIT_OPACITY`]; isotropic log scale `ln(max(√(mean squared distance to the 3 nearest other
/// points), 1e-7))`; rotation `normalize(u)` with `u` uniform in [0, 1)⁴ (gsplat's
/// `normalize(rand(4))`, as the peer trainer; not uniform over rotations, but an isotropic
/// splat does not care); SH DC `(c − 0.5)/C0`, higher bands 0. Deterministic for a seed.
/// Missing colours count as mid grey.
pub fn init_splats(points: &[[f32; 3]], colors: &[[f32; 3]], seed: u64) -> SplatData {
    let opacity = logit(INIT_OPACITY);
    let d2 = knn3_mean_sq_dist(points);
    let mut rng = SmallRng::seed_from_u64(seed);
    let rotations = (0..points.len())
        .map(|_| {
            let q: [f32; 4] = std::array::from_fn(|_| rng.random::<f32>());
            let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 1e-12 {
                q.map(|v| v / n)
            } else {
                [1.0, 0.0, 0.0, 0.0]
            }
        })
        .collect();
    let mut sh = vec![0.0; points.len() * SH_FLOATS];
    for (i, dst) in sh.chunks_exact_mut(SH_FLOATS).enumerate() {
        let c = colors.get(i).copied().unwrap_or([0.5; 3]);
        for a in 0..3 {
            dst[a] = (c[a] - 0.5) / SH_C0;
        }
    }
    SplatData {
        means: points.iter().map(|p| [p[0], p[1], p[2], opacity]).collect(),
        log_scales: d2
            .iter()
            .map(|&d| {
                let s = d.sqrt().max(MIN_SCALE).ln();
                [s, s, s, 0.0]
            })
            .collect(),
        rotations,
        sh,
    }
}

/// Per point, the mean squared distance to its 3 nearest other points (fewer when there are
/// fewer others; 0 for a lone point). Coincident points count as neighbours at distance 0.
/// A k-d tree, queries split over the cores natively.
pub fn knn3_mean_sq_dist(points: &[[f32; 3]]) -> Vec<f32> {
    let tree = KdTree::build(points);
    crate::sfm::parallel::map_chunks(points.len(), |range| {
        range
            .map(|i| {
                let mut best = Best3::default();
                tree.query(0, points.len(), &points[i], i as u32, &mut best);
                best.mean()
            })
            .collect::<Vec<f32>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Subtrees this small are scanned.
const LEAF: usize = 8;

/// An implicit k-d tree: `order` is a permutation of the points such that the subtree over
/// `order[lo..hi]` (of more than [`LEAF`] points) has its splitting point at
/// `mid = lo + (hi − lo)/2`, splitting on axis `axis[mid]`; `order[lo..mid]` lies at or below it
/// on that axis, `order[mid + 1..hi]` at or above.
struct KdTree<'a> {
    points: &'a [[f32; 3]],
    order: Vec<u32>,
    axis: Vec<u8>,
}

impl<'a> KdTree<'a> {
    fn build(points: &'a [[f32; 3]]) -> Self {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        let mut axis = vec![0u8; points.len()];
        build(points, &mut order, &mut axis);
        KdTree {
            points,
            order,
            axis,
        }
    }

    /// Offers the points of `order[lo..hi]` other than `skip` to `best`, pruning subtrees that
    /// cannot beat its current third distance.
    fn query(&self, lo: usize, hi: usize, q: &[f32; 3], skip: u32, best: &mut Best3) {
        if hi - lo <= LEAF {
            for &j in &self.order[lo..hi] {
                if j != skip {
                    best.offer(dist2(q, &self.points[j as usize]));
                }
            }
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let j = self.order[mid];
        let p = &self.points[j as usize];
        if j != skip {
            best.offer(dist2(q, p));
        }
        let a = usize::from(self.axis[mid]);
        let d = q[a] - p[a];
        let (near, far) = if d < 0.0 {
            ((lo, mid), (mid + 1, hi))
        } else {
            ((mid + 1, hi), (lo, mid))
        };
        self.query(near.0, near.1, q, skip, best);
        if d * d < best.worst() {
            self.query(far.0, far.1, q, skip, best);
        }
    }
}

/// Splits `order` (and the matching `axis` slots) at its median on the axis of largest extent,
/// recursively.
fn build(points: &[[f32; 3]], order: &mut [u32], axis: &mut [u8]) {
    if order.len() <= LEAF {
        return;
    }
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for &i in order.iter() {
        let p = &points[i as usize];
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let a = (0..3)
        .max_by(|&x, &y| (hi[x] - lo[x]).total_cmp(&(hi[y] - lo[y])))
        .unwrap_or(0);
    let mid = order.len() / 2;
    order.select_nth_unstable_by(mid, |&i, &j| {
        points[i as usize][a].total_cmp(&points[j as usize][a])
    });
    axis[mid] = a as u8;
    let (left, right) = order.split_at_mut(mid);
    let (axis_left, axis_right) = axis.split_at_mut(mid);
    build(points, left, axis_left);
    build(points, &mut right[1..], &mut axis_right[1..]);
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

/// The three smallest squared distances seen, ascending.
struct Best3 {
    d: [f32; 3],
    count: usize,
}

impl Default for Best3 {
    fn default() -> Self {
        Best3 {
            d: [f32::INFINITY; 3],
            count: 0,
        }
    }
}

impl Best3 {
    fn offer(&mut self, d2: f32) {
        if d2.is_nan() || d2 >= self.d[2] {
            return;
        }
        let mut k = 2;
        while k > 0 && self.d[k - 1] > d2 {
            self.d[k] = self.d[k - 1];
            k -= 1;
        }
        self.d[k] = d2;
        self.count = (self.count + 1).min(3);
    }

    fn worst(&self) -> f32 {
        self.d[2]
    }

    fn mean(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            self.d[..self.count].iter().sum::<f32>() / self.count as f32
        }
    }
}
