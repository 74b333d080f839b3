// Snippet `splat_types`: the frame parameters and projected-splat record shared by
// project.wgsl, rasterize.wgsl and backward.wgsl (host mirrors: render::RenderParams,
// render::ProjectedSplat), and the quaternion rotation, frustum limits and projection Jacobian
// they agree on.
struct RenderParams {
    view: mat4x4<f32>,
    cam_pos: vec4<f32>,
    focal: vec2<f32>,
    principal: vec2<f32>,
    image_size: vec2<u32>,
    tiles: vec2<u32>,
    num_splats: u32,
    sh_degree: u32,
    near: f32,
    num_intersections: u32,
    background: vec4<f32>,
    // SH floats stored per splat (3 (degree+1)^2 for a viewer scene, 48 while training, where
    // `sh_degree` grows while the storage stays).
    sh_floats: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Projected {
    xy: vec2<f32>,
    depth: f32,
    opacity: f32,
    conic: vec3<f32>,
    radius: f32,
    color: vec4<f32>,
    rect: vec4<u32>,
}

const TILE: u32 = 16u;

// The 3DGS frustum limits of x/z and y/z, the image plus 30 % of its size on each side, as
// (x_neg, x_pos, y_neg, y_pos): a splat centre is clamped to -x_neg <= x/z <= x_pos (and y).
fn frustum_limits(p: RenderParams) -> vec4<f32> {
    let w = f32(p.image_size.x);
    let h = f32(p.image_size.y);
    let fx = p.focal.x;
    let fy = p.focal.y;
    return vec4<f32>(
        p.principal.x / fx + 0.3 * w / fx,
        (w - p.principal.x) / fx + 0.3 * w / fx,
        p.principal.y / fy + 0.3 * h / fy,
        (h - p.principal.y) / fy + 0.3 * h / fy,
    );
}

// Jacobian of the perspective projection at camera depth `z` and clamped camera-space (tx, ty)
// (rows), as the columns of a 3x3 with a zero third row.
fn projection_jacobian(focal: vec2<f32>, z: f32, tx: f32, ty: f32) -> mat3x3<f32> {
    return mat3x3<f32>(
        vec3<f32>(focal.x / z, 0.0, 0.0),
        vec3<f32>(0.0, focal.y / z, 0.0),
        vec3<f32>(-focal.x * tx / (z * z), -focal.y * ty / (z * z), 0.0),
    );
}

// Rotation matrix (columns) of a unit quaternion (w, x, y, z).
fn unit_quat_to_mat(n: vec4<f32>) -> mat3x3<f32> {
    let w = n.x;
    let x = n.y;
    let y = n.z;
    let z = n.w;
    return mat3x3<f32>(
        vec3<f32>(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y)),
        vec3<f32>(2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x)),
        vec3<f32>(2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)),
    );
}
