// Snippet `sift_math`: the rounding and angle conventions of the SIFT CPU reference, shared by
// sift_refine.wgsl, sift_orient.wgsl and sift_describe.wgsl so the kernels round alike.

// Rust's `f32::round`: half away from zero, exact for every f32.
fn round_away(v: f32) -> f32 {
    let a = abs(v);
    let t = floor(a);
    return sign(v) * select(t, t + 1.0, a - t >= 0.5);
}

// atan2(dy, dx) in [0, tau) with `tau` the host's f32 2pi; 0 for a zero gradient (as Rust's
// atan2(0, 0)).
fn angle_0_tau(dy: f32, dx: f32, tau: f32) -> f32 {
    if dx == 0.0 && dy == 0.0 {
        return 0.0;
    }
    let a = atan2(dy, dx);
    return select(a, a + tau, a < 0.0);
}
