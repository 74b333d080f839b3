//! Host of `shaders/match.wgsl`: nearest two neighbours on the GPU, then the ratio and mutual
//! checks.

use super::descriptors::{Descriptors, DESCRIPTOR_WORDS};
use crate::gpu::{
    read_buffer, storage_buffer, storage_buffer_init, uniform_buffer, GpuContext, GpuError,
    SingleEntryKernel, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../shaders/match.wgsl");
const NONE: u32 = u32::MAX;

/// Host mirror of `MatchParams` in `match.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatchParams {
    pub num_query: u32,
    pub num_train: u32,
    /// First output slot of this search (searches of a batch share one output buffer).
    pub out_offset: u32,
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
    kernel: SingleEntryKernel,
}

impl Matcher {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ, READ_WRITE];
        let kernel = SingleEntryKernel::new(ctx, "match", SOURCE, bindings, "nearest_two");
        Self { kernel }
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
                out_offset: 0,
                _pad1: 0,
            },
        );
        let q = storage_buffer_init(ctx, "query descriptors", query.words());
        let t = storage_buffer_init(ctx, "train descriptors", train.words());
        let out = storage_buffer(ctx, "nearest two", nq as u64 * 16);
        let bind_group = self.kernel.bind(ctx, &[&params, &q, &t, &out]);
        ctx.submit_pass("match", |pass| {
            self.kernel.dispatch(pass, &bind_group, nq.div_ceil(256));
        });
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

/// Pairs matched per submission by [`PairMatcher`]: 64 pairs of 8192-feature images read back
/// 16 MiB at once.
pub const PAIRS_PER_BATCH: usize = 64;

/// Many images' descriptors on the GPU, each uploaded once, matched pair by pair in batches:
/// both directions of every pair of a batch in one compute pass, one submission and one
/// readback per batch (a pair at a time spent most of its time uploading and waiting).
/// On a software adapter (lavapipe) natively, the pairs are matched on the CPU instead
/// ([`match_descriptors_native`](super::match_descriptors_native): the same matches, some ten
/// times sooner).
pub struct PairMatcher {
    matcher: Matcher,
    /// Per image: its descriptors and how many.
    images: Vec<(wgpu::Buffer, u32)>,
    /// The sets themselves when matching on the CPU.
    native: Option<Vec<Descriptors>>,
}

impl PairMatcher {
    /// Uploads every set in `descriptors` (image `i` is `descriptors[i]`), or keeps them for the
    /// CPU where the adapter is a software one (natively).
    pub fn new(ctx: &GpuContext, descriptors: &[&Descriptors]) -> Result<Self, GpuError> {
        if cfg!(not(target_arch = "wasm32")) && ctx.is_software() {
            return Ok(Self {
                matcher: Matcher::new(ctx),
                images: Vec::new(),
                native: Some(descriptors.iter().map(|&d| d.clone()).collect()),
            });
        }
        Self::on_gpu(ctx, descriptors)
    }

    /// Uploads every set in `descriptors` and matches on the GPU whatever the adapter.
    pub fn on_gpu(ctx: &GpuContext, descriptors: &[&Descriptors]) -> Result<Self, GpuError> {
        let images = descriptors
            .iter()
            .map(|d| {
                let n = u32::try_from(d.len())
                    .map_err(|_| GpuError::TooLarge("descriptor set".into()))?;
                Ok((storage_buffer_init(ctx, "pair descriptors", d.words()), n))
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        Ok(Self {
            matcher: Matcher::new(ctx),
            images,
            native: None,
        })
    }

    /// Ratio-tested (and, if asked, mutual) matches of each pair `(a, b)` of `pairs` (image
    /// indices), as [`match_descriptors`] gives them; pass at most [`PAIRS_PER_BATCH`] pairs
    /// to bound the readback.
    pub async fn match_batch(
        &self,
        ctx: &GpuContext,
        pairs: &[(u32, u32)],
        options: &MatchOptions,
    ) -> Result<Vec<Vec<Match>>, GpuError> {
        if let Some(sets) = &self.native {
            let set = |i: u32| {
                sets.get(i as usize)
                    .ok_or_else(|| GpuError::Unsupported(format!("no image {i} to match")))
            };
            return pairs
                .iter()
                .map(|&(a, b)| Ok(super::match_descriptors_native(set(a)?, set(b)?, options)))
                .collect();
        }
        let image = |i: u32| {
            self.images
                .get(i as usize)
                .ok_or_else(|| GpuError::Unsupported(format!("no image {i} to match")))
        };
        // Every direction to search: (query image, train image), its output offset in
        // `Nearest`s.
        let mut searches: Vec<(u32, u32, usize)> = Vec::with_capacity(pairs.len() * 2);
        let mut total = 0usize;
        for &(a, b) in pairs {
            for (q, t) in [(a, b), (b, a)]
                .into_iter()
                .take(if options.mutual { 2 } else { 1 })
            {
                searches.push((q, t, total));
                total += image(q)?.1 as usize;
            }
        }
        let out = storage_buffer(ctx, "nearest two (batch)", total as u64 * 16);
        let mut uniforms = Vec::with_capacity(searches.len());
        let mut groups = Vec::with_capacity(searches.len());
        for &(q, t, offset) in &searches {
            let ((qb, nq), (tb, nt)) = (image(q)?, image(t)?);
            if *nq == 0 {
                continue;
            }
            let params = uniform_buffer(
                ctx,
                "match params",
                &MatchParams {
                    num_query: *nq,
                    num_train: *nt,
                    out_offset: u32::try_from(offset)
                        .map_err(|_| GpuError::TooLarge("match batch".into()))?,
                    _pad1: 0,
                },
            );
            groups.push((self.matcher.kernel.bind(ctx, &[&params, qb, tb, &out]), *nq));
            uniforms.push(params);
        }
        ctx.submit_pass("match", |pass| {
            for (group, nq) in &groups {
                self.matcher.kernel.dispatch(pass, group, nq.div_ceil(256));
            }
        });
        let raw: Vec<[u32; 4]> = read_buffer(ctx, &out, total).await?;
        let nearest = |q: u32, offset: usize| -> Vec<Nearest> {
            let n = self.images[q as usize].1 as usize;
            raw[offset..offset + n]
                .iter()
                .map(|r| Nearest {
                    index: r[0],
                    best: r[1],
                    second: r[2],
                })
                .collect()
        };
        let per = if options.mutual { 2 } else { 1 };
        Ok(searches
            .chunks(per)
            .map(|dirs| {
                let ab = nearest(dirs[0].0, dirs[0].2);
                let ba = dirs.get(1).map_or(Vec::new(), |d| nearest(d.0, d.2));
                filter_matches(&ab, &ba, options)
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
