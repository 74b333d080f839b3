// Snippet `sift_frame`: where sift_orient.wgsl and sift_describe.wgsl sample a keypoint
// (host mirror: features::sift::GpuFrame): position and sigma in octave pixels,
// orientation, and the Gaussian image index.
struct Frame {
    x: f32,
    y: f32,
    sigma: f32,
    angle: f32,
    layer: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}
