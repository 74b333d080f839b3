// Gradient accumulation for `backward.wgsl` where the device has subgroups and f32 atomic add
// (native Vulkan, e.g. NVIDIA): each subgroup sums a splat's contributions in registers and one
// lane adds the sum to memory, so a tile costs one atomic per subgroup per value, not per pixel.
@group(0) @binding(9) var<storage, read_write> v_splat: array<atomic<f32>>;

fn any_lane(valid: bool) -> bool {
    return subgroupAny(valid);
}

fn grad_sum(slot: u32, v: f32) {
    let s = subgroupAdd(v);
    // The first active lane (naga has no subgroupElect).
    if subgroupExclusiveAdd(1u) == 0u && s != 0.0 {
        atomicAdd(&v_splat[slot], s);
    }
}

fn grad_load(slot: u32) -> f32 {
    return atomicLoad(&v_splat[slot]);
}
