//! CPU references for `densify.wgsl`: the same hash, the same comparisons and the same f32
//! arithmetic, so counts and copied records match the GPU exactly and split positions to rounding.

use crate::train::adam::SplatData;
use crate::train::SH_FLOATS;

use super::RefineRule;

/// PCG hash (Jarzyński & Olano, "Hash Functions for GPU Rendering"), as `pcg` in the kernel.
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// `ln(j / 2^24)` for `j` in `[1, 2^24]` with the kernel's arithmetic (`ln_fraction`): `y · 2^e`
/// with `y` in `[√½, √2)`, `ln y = 2 atanh((y - 1) / (y + 1))` by its series to the 9th power.
fn ln_fraction(j: u32) -> f32 {
    let mut e = 31 - j.leading_zeros() as i32;
    let mut y = j as f32 * f32::from_bits(((127 - e) as u32) << 23);
    if y > std::f32::consts::SQRT_2 {
        y *= 0.5;
        e += 1;
    }
    let z = (y - 1.0) / (y + 1.0);
    let z2 = z * z;
    let ln_y = 2.0
        * z
        * (1.0 + z2 * (0.333_333_34 + z2 * (0.2 + z2 * (0.142_857_15 + z2 * 0.111_111_11))));
    ln_y + (e - 24) as f32 * std::f32::consts::LN_2
}

/// `(cos θ, sin θ)` for `θ = 2π k / 2^24` with the kernel's polynomials (`unit_circle`).
fn unit_circle(k: u32) -> [f32; 2] {
    let phi = ((k & 0x3F_FFFF) as f32 * (1.0 / 4_194_304.0) - 0.5) * 1.570_796_4;
    let p2 = phi * phi;
    let s = phi
        * (1.0
            - p2 * (0.166_666_67
                - p2 * (0.008_333_334 - p2 * (0.000_198_412_7 - p2 * 2.755_731_9e-6))));
    let c = 1.0
        - p2 * (0.5
            - p2 * (0.041_666_668
                - p2 * (0.001_388_888_9 - p2 * (2.480_158_8e-5 - p2 * 2.755_732e-7))));
    let (mut x, mut y) = ((c - s) * 0.707_106_77, (c + s) * 0.707_106_77);
    let q = k >> 22;
    if q & 1 == 1 {
        (x, y) = (-y, x);
    }
    if q >= 2 {
        (x, y) = (-x, -y);
    }
    [x, y]
}

/// The six standard normals a split of splat `splat` uses under `seed`: three per child, from
/// Box–Muller over hashes `k = 0..5` of (seed, splat).
pub fn split_normals(seed: u32, splat: u32) -> [[f32; 3]; 2] {
    let base = pcg_hash(pcg_hash(seed).wrapping_add(splat));
    let pair = |p: u32| {
        let r = (-2.0 * ln_fraction((pcg_hash(base.wrapping_add(2 * p)) >> 8) + 1)).sqrt();
        let [c, s] = unit_circle(pcg_hash(base.wrapping_add(2 * p + 1)) >> 8);
        [r * c, r * s]
    };
    let ([a, b], [c, d], [e, f]) = (pair(0), pair(1), pair(2));
    [[a, b, c], [d, e, f]]
}

/// `v` rotated by the quaternion `q = (w, x, y, z)` after normalising it (the kernel's `rotate`).
pub fn rotate(q: [f32; 4], v: [f32; 3]) -> [f32; 3] {
    let len = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        .sqrt()
        .max(1e-12);
    let (w, u) = (q[0] / len, [q[1] / len, q[2] / len, q[3] / len]);
    let cross = |a: [f32; 3], b: [f32; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let uv = cross(u, v);
    let t = [2.0 * uv[0], 2.0 * uv[1], 2.0 * uv[2]];
    let ut = cross(u, t);
    [
        v[0] + w * t[0] + ut[0],
        v[1] + w * t[1] + ut[1],
        v[2] + w * t[2] + ut[2],
    ]
}

/// What the `accumulate` kernel adds for one camera: for each splat with `tiles[i] > 0`,
/// `grad2d[i] += |(gx·W/2, gy·H/2)|` and `visits[i] += 1`.
pub fn accumulate_cpu(
    grad2d: &mut [f32],
    visits: &mut [u32],
    grad_xy: &[[f32; 2]],
    tiles: &[u32],
    width: u32,
    height: u32,
) {
    let (hw, hh) = (width as f32 / 2.0, height as f32 / 2.0);
    for i in 0..grad2d.len() {
        if tiles[i] > 0 {
            let (x, y) = (grad_xy[i][0] * hw, grad_xy[i][1] * hh);
            grad2d[i] += (x * x + y * y).sqrt();
            visits[i] += 1;
        }
    }
}

/// What one splat becomes in a refine step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Keep,
    Duplicate,
    Split,
}

/// The classify kernel for one splat: its action and how many outputs survive pruning.
pub fn classify_cpu(
    rule: &RefineRule,
    mean: [f32; 4],
    log_scale: [f32; 4],
    grad2d: f32,
    visits: u32,
) -> (Action, u32) {
    let mut scale = log_scale[0].max(log_scale[1]).max(log_scale[2]);
    let mut action = Action::Keep;
    if grad2d > rule.grad_threshold * visits.max(1) as f32 {
        if scale <= rule.log_grow_scale {
            action = Action::Duplicate;
        } else {
            action = Action::Split;
            scale -= rule.log_split;
        }
    }
    let pruned = mean[3] < rule.prune_logit || (rule.prune_big && scale > rule.log_prune_scale);
    let count = match (pruned, action) {
        (true, _) => 0,
        (false, Action::Keep) => 1,
        (false, _) => 2,
    };
    (action, count)
}

/// A refine step's result on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct RefinedCpu {
    pub params: SplatData,
    pub m: SplatData,
    pub v: SplatData,
    pub duplicated: u32,
    pub split: u32,
    pub pruned: u32,
}

/// CPU reference of a whole refine step (classify, scan, scatter): new parameters and Adam
/// moments in the GPU's output order.
pub fn refine_cpu(
    params: &SplatData,
    m: &SplatData,
    v: &SplatData,
    grad2d: &[f32],
    visits: &[u32],
    rule: &RefineRule,
    seed: u32,
) -> RefinedCpu {
    let mut out = RefinedCpu {
        params: SplatData::default(),
        m: SplatData::default(),
        v: SplatData::default(),
        duplicated: 0,
        split: 0,
        pruned: 0,
    };
    let sh = |d: &SplatData, i: usize| d.sh[i * SH_FLOATS..(i + 1) * SH_FLOATS].to_vec();
    let push = |d: &mut SplatData, mean, scale, rot, coeffs: &[f32]| {
        d.means.push(mean);
        d.log_scales.push(scale);
        d.rotations.push(rot);
        d.sh.extend_from_slice(coeffs);
    };
    let zero_sh = [0.0f32; SH_FLOATS];
    for i in 0..params.len() {
        let (action, count) = classify_cpu(
            rule,
            params.means[i],
            params.log_scales[i],
            grad2d[i],
            visits[i],
        );
        let grown = match action {
            Action::Keep => 1,
            Action::Duplicate => {
                out.duplicated += 1;
                2
            }
            Action::Split => {
                out.split += 1;
                2
            }
        };
        out.pruned += grown - count;
        if count == 0 {
            continue;
        }
        let (mean, scale, rot) = (params.means[i], params.log_scales[i], params.rotations[i]);
        let coeffs = sh(params, i);
        match action {
            Action::Keep | Action::Duplicate => {
                for copy in 0..count {
                    push(&mut out.params, mean, scale, rot, &coeffs);
                    if copy == 0 {
                        push(
                            &mut out.m,
                            m.means[i],
                            m.log_scales[i],
                            m.rotations[i],
                            &sh(m, i),
                        );
                        push(
                            &mut out.v,
                            v.means[i],
                            v.log_scales[i],
                            v.rotations[i],
                            &sh(v, i),
                        );
                    } else {
                        push(&mut out.m, [0.0; 4], [0.0; 4], [0.0; 4], &zero_sh);
                        push(&mut out.v, [0.0; 4], [0.0; 4], [0.0; 4], &zero_sh);
                    }
                }
            }
            Action::Split => {
                let s = [scale[0].exp(), scale[1].exp(), scale[2].exp()];
                let child_scale = [
                    scale[0] - rule.log_split,
                    scale[1] - rule.log_split,
                    scale[2] - rule.log_split,
                    scale[3],
                ];
                for n in split_normals(seed, i as u32) {
                    let d = rotate(rot, [s[0] * n[0], s[1] * n[1], s[2] * n[2]]);
                    let child = [mean[0] + d[0], mean[1] + d[1], mean[2] + d[2], mean[3]];
                    push(&mut out.params, child, child_scale, rot, &coeffs);
                    push(&mut out.m, [0.0; 4], [0.0; 4], [0.0; 4], &zero_sh);
                    push(&mut out.v, [0.0; 4], [0.0; 4], [0.0; 4], &zero_sh);
                }
            }
        }
    }
    out
}

/// The opacity reset: every opacity logit clamped to at most `reset_logit`, and the Adam moments
/// of the opacity logits (means.w) zeroed.
pub fn reset_opacity_cpu(
    params: &mut SplatData,
    m: &mut SplatData,
    v: &mut SplatData,
    reset_logit: f32,
) {
    for mean in &mut params.means {
        mean[3] = mean[3].min(reset_logit);
    }
    for mean in m.means.iter_mut().chain(v.means.iter_mut()) {
        mean[3] = 0.0;
    }
}

/// The gradient threshold that lets at most `room` splats grow, when `base` would let more:
/// candidates are ranked by average gradient and only those strictly above the `room + 1`-th
/// grow (ties at the cut all stay), checked with the kernel's own comparison so the GPU grows
/// exactly the splats counted here. Returns `base` when there is room for every candidate.
pub fn budget_threshold(grad2d: &[f32], visits: &[u32], base: f32, room: u32) -> f32 {
    let grows = |t: f32| {
        grad2d
            .iter()
            .zip(visits)
            .filter(|(g, c)| **g > t * (**c).max(1) as f32)
            .count()
    };
    if grows(base) <= room as usize {
        return base;
    }
    let mut averages: Vec<f32> = grad2d
        .iter()
        .zip(visits)
        .filter(|(g, c)| **g > base * (**c).max(1) as f32)
        .map(|(g, c)| g / (*c).max(1) as f32)
        .collect();
    averages.sort_by(|a, b| b.total_cmp(a));
    let mut t = averages.get(room as usize).map_or(base, |a| a.max(base));
    // The average rounds; step up by ulps until the kernel's product test agrees.
    for _ in 0..64 {
        if !t.is_finite() {
            break;
        }
        if grows(t) <= room as usize {
            return t;
        }
        t = f32::from_bits(t.to_bits() + 1);
    }
    f32::MAX
}

#[cfg(test)]
mod tests {
    use super::{ln_fraction, unit_circle};

    #[test]
    fn polynomial_log_and_circle_match_std() {
        for j in (1..=1u32 << 24)
            .step_by(997)
            .chain([1, 2, 3, 1 << 23, (1 << 24) - 1, 1 << 24])
        {
            let want = (j as f64 / 16_777_216.0).ln();
            let got = ln_fraction(j) as f64;
            assert!(
                (got - want).abs() <= 2e-7 * want.abs().max(1.0),
                "ln({j}/2^24): {got} vs {want}"
            );
        }
        for k in (0..1u32 << 24)
            .step_by(1009)
            .chain([0, (1 << 22) - 1, 1 << 22, (1 << 24) - 1])
        {
            let a = std::f64::consts::TAU * k as f64 / 16_777_216.0;
            let [c, s] = unit_circle(k);
            assert!(
                (c as f64 - a.cos()).abs() < 3e-7 && (s as f64 - a.sin()).abs() < 3e-7,
                "angle {k}"
            );
        }
    }
}
