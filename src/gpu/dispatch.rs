//! Folding a 1-D workgroup count into a 2-D grid within the per-dimension dispatch limit.

/// A 2-D grid of workgroups covering a 1-D range of work.
///
/// WebGPU caps each dispatch dimension at 65 535 workgroups, so large inputs fold the workgroup
/// count into x and y. Kernels recover the linear index as `wid.x + wid.y * nwg.x` and return
/// early (uniformly) past the real count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkgroupGrid {
    pub x: u32,
    pub y: u32,
}

impl WorkgroupGrid {
    /// True when there is nothing to dispatch.
    pub fn is_empty(&self) -> bool {
        self.x == 0 || self.y == 0
    }
}

/// Folds `workgroups` into a grid whose sides do not exceed `max_per_dimension`.
pub fn dispatch_size(workgroups: u32, max_per_dimension: u32) -> WorkgroupGrid {
    if workgroups == 0 {
        return WorkgroupGrid { x: 0, y: 0 };
    }
    let x = workgroups.min(max_per_dimension);
    WorkgroupGrid {
        x,
        y: workgroups.div_ceil(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_workgroup_within_the_limit() {
        for (n, max) in [
            (0, 65535),
            (1, 65535),
            (65535, 65535),
            (65536, 65535),
            (300_000, 65535),
            (9, 3),
            (7, 3),
        ] {
            let g = dispatch_size(n, max);
            if n == 0 {
                assert!(g.is_empty());
                continue;
            }
            assert!(g.x <= max && g.y <= max, "{n}: {g:?}");
            assert!(g.x as u64 * g.y as u64 >= n as u64, "{n}: {g:?}");
            assert!(
                (g.x as u64) * (g.y as u64 - 1) < n as u64,
                "{n}: one spare row at most"
            );
        }
    }
}
