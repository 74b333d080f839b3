// Blit: shows the rasterizer's colour buffer on a render target (the viewer's canvas).
//
// The renderer writes one `vec4<f32>` per pixel, row-major: RGB already composited over the
// background, in display (sRGB-encoded) values, and coverage alpha. A fullscreen triangle covers
// the target; each fragment reads the image pixel under it (nearest, so a target twice the image
// size shows each image pixel as 2×2) and writes its colour, clamped to [0, 1], with alpha 1.
//
// Targets: any 8-bit unorm or float colour format. On a non-sRGB format (bgra8unorm, rgba8unorm,
// rgba16float: what browsers offer for canvases) values are written as is. On an `*Srgb` format
// the hardware encodes on store, so `srgb_target` = 1 makes the shader decode first and the
// stored bytes come out the same as on a non-sRGB target.

struct BlitParams {
    // Width and height of the colour buffer in pixels.
    image_size: vec2<u32>,
    // Width and height of the render target in pixels.
    target_size: vec2<u32>,
    // 1 when the target format is sRGB-encoding, else 0.
    srgb_target: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: BlitParams;
@group(0) @binding(1) var<storage, read> colors: array<vec4<f32>>;

// One triangle that covers the whole target: (-1, -1), (3, -1), (-1, 3) in clip space.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> @builtin(position) vec4<f32> {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    return vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let image = max(params.image_size, vec2<u32>(1u));
    let target_size = max(params.target_size, vec2<u32>(1u));
    // Framebuffer y runs down from the top-left, like the image rows. `frag.xy` is the pixel
    // centre (x + 0.5, y + 0.5); scale it into the image and take the pixel it falls in.
    let scaled = frag.xy * vec2<f32>(image) / vec2<f32>(target_size);
    let p = min(vec2<u32>(scaled), image - vec2<u32>(1u));
    let index = p.y * image.x + p.x;
    if (index >= arrayLength(&colors)) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    var rgb = clamp(colors[index].rgb, vec3<f32>(0.0), vec3<f32>(1.0));
    if (params.srgb_target != 0u) {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
