// Gradient accumulation for `backward.wgsl` where the device has subgroups and f32 atomic add
// (native Vulkan, e.g. NVIDIA): each subgroup sums a splat's contributions in registers and one
// lane adds the sum to memory, so a tile costs one atomic per subgroup per value, not per pixel.
@group(0) @binding(9) var<storage, read_write> v_splat: array<atomic<f32>>;

fn any_lane(valid: bool) -> bool {
    return subgroupAny(valid);
}

// Whether this is the subgroup's first lane (naga has no subgroupElect). Called once, where
// every lane is active, so the per-splat sums need no scan.
fn first_lane() -> bool {
    return subgroupExclusiveAdd(1u) == 0u;
}

// Adds the subgroup's sums of `v` to slots `slot .. slot + 3` (one vector reduction, then the
// first lane adds the non-zero components).
fn grad_sum3(slot: u32, v: vec3<f32>, first: bool) {
    let s = subgroupAdd(v);
    if first {
        if s.x != 0.0 {
            atomicAdd(&v_splat[slot], s.x);
        }
        if s.y != 0.0 {
            atomicAdd(&v_splat[slot + 1u], s.y);
        }
        if s.z != 0.0 {
            atomicAdd(&v_splat[slot + 2u], s.z);
        }
    }
}

fn grad_load(slot: u32) -> f32 {
    return atomicLoad(&v_splat[slot]);
}
