// Snippet `grid`: linear workgroup and invocation indices for dispatches folded into 2-D (see
// `gpu::dispatch_size`), and `FoldedGrid`, the builtins that place a workgroup in such a grid.
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// The builtins that place a workgroup in a folded grid, taken as one entry-point parameter.
// Both are uniform, so the struct is too (one holding `local_invocation_index` would not be,
// and a barrier after an early return on it would not pass Tint's uniformity analysis).
struct FoldedGrid {
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
}

// `linear_workgroup` of an entry point's `FoldedGrid`.
fn folded_workgroup(grid: FoldedGrid) -> u32 {
    return linear_workgroup(grid.wid, grid.nwg);
}

// Linear index of invocation `gid` of a folded grid of 256-thread workgroups (`nwg.x` of them
// per row).
fn folded_invocation(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}
