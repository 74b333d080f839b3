//! Host of `shaders/pyramid.wgsl`: the Gaussian and DoG scale space on the GPU, with exactly the
//! conventions (and the same blur taps) of [`build_scale_space_cpu`](super::build_scale_space_cpu).

use std::sync::Arc;

use crate::features::sift::{
    gaussian_kernel, incremental_sigma, initial_blur_sigma, octave_count, Octave, ScaleSpace,
    SiftParams,
};
use crate::gpu::{
    read_buffer, record, storage_buffer, storage_buffer_init, uniform_buffer, GpuContext, GpuError,
    Kernel, WorkgroupGrid, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../../../shaders/pyramid.wgsl");

/// Host mirror of `PyramidParams` in `pyramid.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PyramidParams {
    pub width: u32,
    pub height: u32,
    pub src_width: u32,
    pub src_height: u32,
    pub radius: u32,
    pub weight_offset: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// One octave on the GPU: `S+3` Gaussian and `S+2` DoG images.
pub struct GpuOctave {
    pub width: u32,
    pub height: u32,
    pub gaussians: Vec<wgpu::Buffer>,
    pub dogs: Vec<wgpu::Buffer>,
}

/// The scale space on the GPU.
pub struct GpuScaleSpace {
    pub octaves: Vec<GpuOctave>,
}

impl GpuScaleSpace {
    /// Copies every image back (tests, debugging).
    pub async fn read(&self, ctx: &GpuContext) -> Result<ScaleSpace, GpuError> {
        let mut octaves = Vec::with_capacity(self.octaves.len());
        for o in &self.octaves {
            let n = (o.width * o.height) as usize;
            let mut gaussians = Vec::with_capacity(o.gaussians.len());
            for b in &o.gaussians {
                gaussians.push(read_buffer(ctx, b, n).await?);
            }
            let mut dogs = Vec::with_capacity(o.dogs.len());
            for b in &o.dogs {
                dogs.push(read_buffer(ctx, b, n).await?);
            }
            octaves.push(Octave {
                width: o.width,
                height: o.height,
                gaussians,
                dogs,
            });
        }
        Ok(ScaleSpace { octaves })
    }
}

/// Owns the pyramid pipelines and their shared bind-group layout.
pub struct PyramidKernel {
    kernel: Kernel,
    blur_h: Arc<wgpu::ComputePipeline>,
    blur_v: Arc<wgpu::ComputePipeline>,
    downsample: Arc<wgpu::ComputePipeline>,
    dog: Arc<wgpu::ComputePipeline>,
    upsample: Arc<wgpu::ComputePipeline>,
}

/// One recorded dispatch: pipeline, bind group, size.
struct Step {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: WorkgroupGrid,
}

impl PyramidKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let (kernel, [blur_h, blur_v, downsample, dog, upsample]) = Kernel::new(
            ctx,
            "pyramid",
            SOURCE,
            &[UNIFORM, READ, READ_WRITE, READ, READ],
            ["blur_h", "blur_v", "downsample", "dog", "upsample"],
        );
        Self {
            kernel,
            blur_h,
            blur_v,
            downsample,
            dog,
            upsample,
        }
    }

    /// Builds the scale space of a `w × h` gray image on the GPU (one submission). With
    /// `params.upsample` the doubling runs on the GPU too (`upsample`, equal to
    /// [`upsample_cpu`]), so only the photo's own pixels are uploaded.
    pub fn build(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
    ) -> Result<GpuScaleSpace, GpuError> {
        if gray.len() as u64 != w as u64 * h as u64 || w == 0 || h == 0 {
            return Err(GpuError::TooLarge(format!(
                "{} pixels for a {w}x{h} image",
                gray.len()
            )));
        }
        let levels = params.scales_per_octave + 3;
        // All blur taps in one buffer: the initial blur, then each incremental one.
        let sigmas: Vec<f32> = std::iter::once(initial_blur_sigma(params))
            .chain((1..levels).map(|s| incremental_sigma(params, s)))
            .collect();
        let mut taps = Vec::new();
        let kernels: Vec<(u32, u32)> = sigmas
            .iter()
            .map(|&s| {
                let k = gaussian_kernel(s);
                let entry = (taps.len() as u32, (k.len() / 2) as u32);
                taps.extend(k);
                entry
            })
            .collect();
        let weights = storage_buffer_init(ctx, "blur taps", &taps);
        let photo = storage_buffer_init(ctx, "pyramid input", gray);
        let dummy = storage_buffer(ctx, "unused", 4);

        let mut steps = Vec::new();
        let mut step = |pipeline: &Arc<wgpu::ComputePipeline>,
                        params: PyramidParams,
                        src: &wgpu::Buffer,
                        dst: &wgpu::Buffer,
                        src2: &wgpu::Buffer| {
            let uniform = uniform_buffer(ctx, "pyramid params", &params);
            let bind_group = self.kernel.bind(ctx, &[&uniform, src, dst, &weights, src2]);
            // 16 x 16 pixels per workgroup.
            let grid = WorkgroupGrid {
                x: params.width.div_ceil(16),
                y: params.height.div_ceil(16),
            };
            steps.push(Step {
                pipeline: pipeline.clone(),
                bind_group,
                grid,
            });
        };

        let (mut w, mut h) = (w, h);
        let input = if params.upsample {
            let doubled = storage_buffer(ctx, "pyramid input (doubled)", 16 * w as u64 * h as u64);
            step(
                &self.upsample,
                PyramidParams {
                    width: 2 * w,
                    height: 2 * h,
                    src_width: w,
                    src_height: h,
                    ..Default::default()
                },
                &photo,
                &doubled,
                &dummy,
            );
            (w, h) = (2 * w, 2 * h);
            doubled
        } else {
            photo
        };
        let octave_total = octave_count(w, h, params);
        let mut octaves: Vec<GpuOctave> = Vec::with_capacity(octave_total as usize);
        for o in 0..octave_total {
            let mut gaussians = Vec::with_capacity(levels as usize);
            let first = if o == 0 {
                None
            } else {
                let prev: &GpuOctave = &octaves[o as usize - 1];
                let (pw, ph) = (prev.width, prev.height);
                (w, h) = (pw.div_ceil(2), ph.div_ceil(2));
                let down = storage_buffer(ctx, "gaussian", w as u64 * h as u64 * 4);
                let src = &prev.gaussians[params.scales_per_octave as usize];
                step(
                    &self.downsample,
                    PyramidParams {
                        width: w,
                        height: h,
                        src_width: pw,
                        src_height: ph,
                        ..Default::default()
                    },
                    src,
                    &down,
                    &dummy,
                );
                Some(down)
            };
            let bytes = w as u64 * h as u64 * 4;
            let tmp = storage_buffer(ctx, "blur tmp", bytes);
            let mut blur = |src: &wgpu::Buffer, kernel: (u32, u32)| {
                let out = storage_buffer(ctx, "gaussian", bytes);
                let p = PyramidParams {
                    width: w,
                    height: h,
                    src_width: w,
                    src_height: h,
                    weight_offset: kernel.0,
                    radius: kernel.1,
                    ..Default::default()
                };
                step(&self.blur_h, p, src, &tmp, &dummy);
                step(&self.blur_v, p, &tmp, &out, &dummy);
                out
            };
            let g0 = match first {
                Some(b) => b,
                None => blur(&input, kernels[0]),
            };
            gaussians.push(g0);
            for s in 1..levels as usize {
                let next = blur(&gaussians[s - 1], kernels[s]);
                gaussians.push(next);
            }
            let dogs: Vec<wgpu::Buffer> = gaussians
                .windows(2)
                .map(|pair| {
                    let out = storage_buffer(ctx, "dog", bytes);
                    step(
                        &self.dog,
                        PyramidParams {
                            width: w,
                            height: h,
                            src_width: w,
                            src_height: h,
                            ..Default::default()
                        },
                        &pair[0],
                        &out,
                        &pair[1],
                    );
                    out
                })
                .collect();
            octaves.push(GpuOctave {
                width: w,
                height: h,
                gaussians,
                dogs,
            });
        }

        ctx.submit_pass("scale space", |pass| {
            for s in &steps {
                record(pass, &s.pipeline, &s.bind_group, s.grid);
            }
        });
        Ok(GpuScaleSpace { octaves })
    }
}
