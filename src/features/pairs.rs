//! Which image pairs to match.

/// How image pairs are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairMode {
    /// Every pair (photos taken in any order).
    Exhaustive,
    /// Each frame with the next `window` frames (video).
    Sequential { window: u32 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairError {
    #[error("{images} images give {pairs} pairs in this mode, more than the limit of {limit}; use sequential matching or fewer images")]
    TooMany { images: u32, pairs: u64, limit: u64 },
    #[error("a sequential window of 0 frames matches nothing")]
    EmptyWindow,
}

/// The pairs `(i, j)`, `i < j`, to match among `images` images, refusing more than `limit` so
/// a large exhaustive set cannot silently take quadratic time.
pub fn select_pairs(images: u32, mode: PairMode, limit: u64) -> Result<Vec<(u32, u32)>, PairError> {
    let n = images as u64;
    let count = match mode {
        PairMode::Exhaustive => n * n.saturating_sub(1) / 2,
        PairMode::Sequential { window: 0 } => return Err(PairError::EmptyWindow),
        PairMode::Sequential { window } => {
            let w = (window as u64).min(n.saturating_sub(1));
            // Sum over i of min(w, n - 1 - i).
            w * n - w * (w + 1) / 2
        }
    };
    if count > limit {
        return Err(PairError::TooMany {
            images,
            pairs: count,
            limit,
        });
    }
    let window = match mode {
        PairMode::Exhaustive => images,
        PairMode::Sequential { window } => window,
    };
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..images {
        let end = (i as u64 + window as u64).min(n - 1) as u32;
        for j in i + 1..=end {
            out.push((i, j));
        }
    }
    Ok(out)
}
