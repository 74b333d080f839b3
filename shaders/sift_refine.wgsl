// SIFT keypoint refinement (OpenCV's `adjustLocalExtrema`), one thread per DoG extremum of one
// octave, equal to `features::sift::refine_extremum_cpu` (the same f32 operations in the same
// order; only FMA contraction and `exp2` may differ).
//
// Up to `max_steps` Newton steps on the quadratic model of the DoG around the integer sample
// (central differences; Cramer's rule on the 3x3 Hessian); the sample moves by the offset
// rounded half away from zero while any component is >= 0.5; rejected when it leaves
// s in 1..=S or the border margin, when the Hessian is singular, when it does not converge, when
// |D(x^)| * S < contrast_threshold, or on the 2x2 edge test. `dog0`..`dog4` are the octave's
// S+2 DoG images, one binding each (so no binding is larger than one image; slots past S+1 are
// bound to any image and never read). Output per extremum `first + i`: (x, y, sigma, response) in
// input pixels and (kept, x, y, s) of the final integer sample (kept = 0: rejected).
// Limits: one octave per dispatch; S <= 3 scales per octave (the five DoG slots); extrema
// indices fit u32.

#import grid
#import sift_math

struct RefineParams {
    width: u32,
    height: u32,
    border: u32,
    scales: u32,
    first: u32,
    count: u32,
    max_steps: u32,
    _pad0: u32,
    contrast_threshold: f32,
    edge_threshold: f32,
    sigma0: f32,
    octave_factor: f32,
}

struct Refined {
    kp: vec4<f32>,
    sample: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: RefineParams;
@group(0) @binding(1) var<storage, read> extrema: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> dog0: array<f32>;
@group(0) @binding(3) var<storage, read> dog1: array<f32>;
@group(0) @binding(4) var<storage, read> dog2: array<f32>;
@group(0) @binding(5) var<storage, read> dog3: array<f32>;
@group(0) @binding(6) var<storage, read> dog4: array<f32>;
@group(0) @binding(7) var<storage, read_write> refined: array<Refined>;

// DoG image `s` (0..=4) at (x, y).
fn dog_at(s: i32, x: i32, y: i32) -> f32 {
    let i = u32(y * i32(params.width) + x);
    switch s {
        case 0: {
            return dog0[i];
        }
        case 1: {
            return dog1[i];
        }
        case 2: {
            return dog2[i];
        }
        case 3: {
            return dog3[i];
        }
        default: {
            return dog4[i];
        }
    }
}

// Determinant of the matrix with rows a, b, c, expanded along the first row.
fn det3(a: vec3<f32>, b: vec3<f32>, c: vec3<f32>) -> f32 {
    return a.x * (b.y * c.z - b.z * c.y) - a.y * (b.x * c.z - b.z * c.x) + a.z * (b.x * c.y - b.y * c.x);
}

@compute @workgroup_size(64)
fn refine(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = folded_workgroup(grid) * 64u + lid;
    if i >= params.count {
        return;
    }
    let slot = params.first + i;
    let e = extrema[slot];
    var x = i32(e.x);
    var y = i32(e.y);
    var s = i32(e.z);
    let n = i32(params.scales);
    let b = i32(params.border);
    let w = i32(params.width);
    let h = i32(params.height);
    var converged = false;
    var failed = false;
    var off = vec3<f32>(0.0);
    var g = vec3<f32>(0.0);
    var dxx = 0.0;
    var dyy = 0.0;
    var dxy = 0.0;
    for (var it = 0u; it < params.max_steps; it++) {
        // The 3x3x3 neighbourhood, loaded in one loop (one binding switch in the code: shader
        // compilers, SwiftShader's especially, choke on a switch inlined at every sample).
        var nb: array<f32, 27>;
        for (var k = 0; k < 27; k++) {
            nb[k] = dog_at(s - 1 + k / 9, x - 1 + k % 3, y - 1 + (k / 3) % 3);
        }
        // nb[l * 9 + (dy + 1) * 3 + (dx + 1)] for layer s - 1 + l.
        let c = nb[13];
        let v2 = c * 2.0;
        let cr = nb[14];
        let cl = nb[12];
        let cd = nb[16];
        let cu = nb[10];
        let nc = nb[22];
        let pc = nb[4];
        g = vec3<f32>((cr - cl) * 0.5, (cd - cu) * 0.5, (nc - pc) * 0.5);
        dxx = cr + cl - v2;
        dyy = cd + cu - v2;
        let dss = nc + pc - v2;
        dxy = (nb[17] - nb[15] - nb[11] + nb[9]) * 0.25;
        let dxs = (nb[23] - nb[21] - nb[5] + nb[3]) * 0.25;
        let dys = (nb[25] - nb[19] - nb[7] + nb[1]) * 0.25;
        let r0 = vec3<f32>(dxx, dxy, dxs);
        let r1 = vec3<f32>(dxy, dyy, dys);
        let r2 = vec3<f32>(dxs, dys, dss);
        let d = det3(r0, r1, r2);
        // `!(|d| <= f32::MAX)` also catches NaN and infinities.
        if d == 0.0 || !(abs(d) <= bitcast<f32>(0x7f7fffffu)) {
            failed = true;
            break;
        }
        let x0 = det3(vec3<f32>(g.x, r0.y, r0.z), vec3<f32>(g.y, r1.y, r1.z), vec3<f32>(g.z, r2.y, r2.z)) / d;
        let x1 = det3(vec3<f32>(r0.x, g.x, r0.z), vec3<f32>(r1.x, g.y, r1.z), vec3<f32>(r2.x, g.z, r2.z)) / d;
        let x2 = det3(vec3<f32>(r0.x, r0.y, g.x), vec3<f32>(r1.x, r1.y, g.y), vec3<f32>(r2.x, r2.y, g.z)) / d;
        off = -vec3<f32>(x0, x1, x2);
        if abs(off.x) < 0.5 && abs(off.y) < 0.5 && abs(off.z) < 0.5 {
            converged = true;
            break;
        }
        let big = f32(715827882); // i32::MAX / 3
        if !(abs(off.x) <= big) || !(abs(off.y) <= big) || !(abs(off.z) <= big) {
            failed = true;
            break;
        }
        x += i32(round_away(off.x));
        y += i32(round_away(off.y));
        s += i32(round_away(off.z));
        if s < 1 || s > n || x < b || x >= w - b || y < b || y >= h - b {
            failed = true;
            break;
        }
    }
    var out: Refined;
    out.kp = vec4<f32>(0.0);
    out.sample = vec4<u32>(0u);
    if converged && !failed {
        let v = dog_at(s, x, y);
        let contrast = v + 0.5 * (g.x * off.x + g.y * off.y + g.z * off.z);
        let tr = dxx + dyy;
        let det = dxx * dyy - dxy * dxy;
        let r = params.edge_threshold;
        let strong = abs(contrast) * f32(n) >= params.contrast_threshold;
        let corner = det > 0.0 && tr * tr * r < (r + 1.0) * (r + 1.0) * det;
        if strong && corner {
            let f = params.octave_factor;
            let sigma = params.sigma0 * exp2((f32(s) + off.z) / f32(n)) * f;
            out.kp = vec4<f32>((f32(x) + off.x) * f, (f32(y) + off.y) * f, sigma, abs(contrast));
            out.sample = vec4<u32>(1u, u32(x), u32(y), u32(s));
        }
    }
    refined[slot] = out;
}
