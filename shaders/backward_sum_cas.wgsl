// Gradient accumulation for `backward.wgsl` on the WebGPU baseline (no subgroups, no float
// atomics): every pixel adds its own contribution with a compare-and-swap loop on the f32's
// bits. Correct everywhere, slower under contention.
@group(0) @binding(9) var<storage, read_write> v_splat: array<atomic<u32>>;

fn any_lane(valid: bool) -> bool {
    return valid;
}

// Every lane adds its own values here.
fn first_lane() -> bool {
    return true;
}

fn grad_sum3(slot: u32, v: vec3<f32>, first: bool) {
    grad_sum(slot, v.x);
    grad_sum(slot + 1u, v.y);
    grad_sum(slot + 2u, v.z);
}

fn grad_sum(slot: u32, v: f32) {
    if v == 0.0 {
        return;
    }
    var old = atomicLoad(&v_splat[slot]);
    loop {
        let r = atomicCompareExchangeWeak(&v_splat[slot], old, bitcast<u32>(bitcast<f32>(old) + v));
        if r.exchanged {
            break;
        }
        old = r.old_value;
    }
}

fn grad_load(slot: u32) -> f32 {
    return bitcast<f32>(atomicLoad(&v_splat[slot]));
}
