// Snippet `grid`: linear workgroup index for dispatches folded into 2-D (see `gpu::dispatch_size`).
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
