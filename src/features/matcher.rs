//! Host of `shaders/match.wgsl`: nearest two neighbours on the GPU, then the ratio and mutual
//! checks.

use std::sync::Arc;

use super::descriptors::{Descriptors, DESCRIPTOR_WORDS};
use crate::gpu::{
    read_buffer, storage_buffer, storage_buffer_init, uniform_buffer, GpuContext, GpuError, Kernel,
    READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../shaders/match.wgsl");
const NONE: u32 = u32::MAX;

/// Host mirror of `MatchParams` in `match.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatchParams {
    pub num_query: u32,
    pub num_train: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// The two nearest train descriptors of one query: index of the best, squared distances of the
/// best and second best (`u32::MAX` where there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nearest {
    pub index: u32,
    pub best: u32,
    pub second: u32,
}

/// A match between query descriptor `query` and train descriptor `train`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub query: u32,
    pub train: u32,
    /// Squared L2 distance of the quantized descriptors.
    pub distance_sq: u32,
}

/// Lowe's ratio test threshold and the mutual (cross) check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchOptions {
    /// Keep a match when best distance < ratio × second-best distance (0.8 by default).
    pub ratio: f32,
    /// Keep only matches that are also the query's nearest from the other side.
    pub mutual: bool,
}

impl Default for MatchOptions {
    fn default() -> Self {
        Self {
            ratio: 0.8,
            mutual: true,
        }
    }
}

/// Owns the matching pipeline and its bind-group layout.
pub struct Matcher {
    kernel: Kernel,
    pipeline: Arc<wgpu::ComputePipeline>,
}

impl Matcher {
    pub fn new(ctx: &GpuContext) -> Self {
        let (kernel, [pipeline]) = Kernel::new(
            ctx,
            "match",
            SOURCE,
            &[UNIFORM, READ, READ, READ_WRITE],
            ["nearest_two"],
        );
        Self { kernel, pipeline }
    }

    /// For every descriptor of `query`, its two nearest in `train`.
    pub async fn nearest_two(
        &self,
        ctx: &GpuContext,
        query: &Descriptors,
        train: &Descriptors,
    ) -> Result<Vec<Nearest>, GpuError> {
        let nq = u32::try_from(query.len()).map_err(|_| GpuError::TooLarge("query set".into()))?;
        let nt = u32::try_from(train.len()).map_err(|_| GpuError::TooLarge("train set".into()))?;
        if nq == 0 {
            return Ok(Vec::new());
        }
        let params = uniform_buffer(
            ctx,
            "match params",
            &MatchParams {
                num_query: nq,
                num_train: nt,
                _pad0: 0,
                _pad1: 0,
            },
        );
        let q = storage_buffer_init(ctx, "query descriptors", query.words());
        let t = storage_buffer_init(ctx, "train descriptors", train.words());
        let out = storage_buffer(ctx, "nearest two", nq as u64 * 16);
        let bind_group = self.kernel.bind(ctx, &[&params, &q, &t, &out]);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.kernel
                .dispatch(&mut pass, &self.pipeline, &bind_group, nq.div_ceil(256));
        }
        ctx.queue.submit([enc.finish()]);
        let raw: Vec<[u32; 4]> = read_buffer(ctx, &out, nq as usize).await?;
        Ok(raw
            .into_iter()
            .map(|r| Nearest {
                index: r[0],
                best: r[1],
                second: r[2],
            })
            .collect())
    }
}

/// Applies the ratio test to `a_to_b` and, if asked, the mutual check against `b_to_a`.
pub fn filter_matches(
    a_to_b: &[Nearest],
    b_to_a: &[Nearest],
    options: &MatchOptions,
) -> Vec<Match> {
    let ratio_sq = (options.ratio as f64) * (options.ratio as f64);
    a_to_b
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            if n.index == NONE {
                return None;
            }
            // A lone train descriptor has no second neighbour: the ratio test cannot pass.
            let passes_ratio = n.second != NONE && (n.best as f64) < ratio_sq * (n.second as f64);
            let mutual_ok = !options.mutual
                || b_to_a
                    .get(n.index as usize)
                    .is_some_and(|back| back.index == i as u32);
            (passes_ratio && mutual_ok).then_some(Match {
                query: i as u32,
                train: n.index,
                distance_sq: n.best,
            })
        })
        .collect()
}

/// Matches `a` against `b` on the GPU (both directions when the mutual check is on).
pub async fn match_descriptors(
    ctx: &GpuContext,
    a: &Descriptors,
    b: &Descriptors,
    options: &MatchOptions,
) -> Result<Vec<Match>, GpuError> {
    let matcher = Matcher::new(ctx);
    let ab = matcher.nearest_two(ctx, a, b).await?;
    let ba = if options.mutual {
        matcher.nearest_two(ctx, b, a).await?
    } else {
        Vec::new()
    };
    Ok(filter_matches(&ab, &ba, options))
}

/// CPU reference of the kernel: exact integer squared distances, ties to the lower index.
pub fn nearest_two_cpu(query: &Descriptors, train: &Descriptors) -> Vec<Nearest> {
    (0..query.len())
        .map(|i| {
            let q = query.bytes(i);
            let mut n = Nearest {
                index: NONE,
                best: NONE,
                second: NONE,
            };
            for j in 0..train.len() {
                let t = train.bytes(j);
                let d: u32 = q
                    .iter()
                    .zip(t.iter())
                    .map(|(&x, &y)| {
                        let diff = x as i32 - y as i32;
                        (diff * diff) as u32
                    })
                    .sum();
                if d < n.best {
                    n.second = n.best;
                    n.best = d;
                    n.index = j as u32;
                } else if d < n.second {
                    n.second = d;
                }
            }
            n
        })
        .collect()
}

/// CPU reference of [`match_descriptors`].
pub fn match_descriptors_cpu(
    a: &Descriptors,
    b: &Descriptors,
    options: &MatchOptions,
) -> Vec<Match> {
    let ab = nearest_two_cpu(a, b);
    let ba = if options.mutual {
        nearest_two_cpu(b, a)
    } else {
        Vec::new()
    };
    filter_matches(&ab, &ba, options)
}

const _: () = assert!(
    DESCRIPTOR_WORDS == 32,
    "match.wgsl assumes 32 words per descriptor"
);
