//! Host of `shaders/blit.wgsl`: draws the rasterizer's colour buffer onto a render target (the
//! viewer's canvas, or an offscreen texture in tests).
//!
//! The renderer's colours are display values (sRGB-encoded, composited over the background), so
//! the blit writes them unchanged to a non-sRGB target; [`BlitKernel::preferred_format`] picks one
//! from a surface's formats. On an `*Srgb` target the shader decodes first, so the stored bytes are
//! the same either way. CPU reference: [`blit_cpu`].

use crate::gpu::{uniform_buffer, GpuContext};

const SOURCE: &str = include_str!("../../shaders/blit.wgsl");

/// Host mirror of `BlitParams` in `blit.wgsl` (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BlitParams {
    /// Width and height of the colour buffer in pixels.
    pub image_size: [u32; 2],
    /// Width and height of the render target in pixels.
    pub target_size: [u32; 2],
    /// 1 when the target format encodes to sRGB on store (the shader then decodes first), else 0.
    pub srgb_target: u32,
    /// Padding to the uniform's 16-byte alignment.
    pub _pad: [u32; 3],
}

/// The blit's render pipeline for one target format, its bind-group layout and its uniform.
///
/// Bindings (group 0, fragment stage): 0 = [`BlitParams`] uniform, 1 = the colour buffer
/// (`array<vec4<f32>>`, read-only storage).
pub struct BlitKernel {
    /// The pipeline (fullscreen triangle, no vertex buffers, one colour target).
    pub pipeline: wgpu::RenderPipeline,
    /// Layout of group 0.
    pub layout: wgpu::BindGroupLayout,
    format: wgpu::TextureFormat,
    params: wgpu::Buffer,
}

impl BlitKernel {
    /// Builds the pipeline for targets of `format`.
    pub fn new(ctx: &GpuContext, format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("blit"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<BlitParams>() as u64
                        ),
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: true },
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(16),
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("blit"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("blit.wgsl"),
            source: wgpu::ShaderSource::Wgsl(crate::gpu::compose_wgsl(SOURCE).into()),
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("blit"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let params = uniform_buffer(ctx, "blit params", &BlitParams::default());
        Self {
            pipeline,
            layout,
            format,
            params,
        }
    }

    /// The target format this pipeline was built for.
    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
    }

    /// The format to configure a surface with, from the formats it supports (preferred first, as
    /// `SurfaceCapabilities::formats` lists them): the first 8-bit non-sRGB RGBA/BGRA format, else
    /// the first non-sRGB format, else the first format. `None` only for an empty list.
    pub fn preferred_format(formats: &[wgpu::TextureFormat]) -> Option<wgpu::TextureFormat> {
        use wgpu::TextureFormat as F;
        formats
            .iter()
            .find(|f| matches!(f, F::Bgra8Unorm | F::Rgba8Unorm))
            .or_else(|| formats.iter().find(|f| !f.is_srgb()))
            .or_else(|| formats.first())
            .copied()
    }

    /// Records a pass that draws `colors` (a colour buffer of `image_size` pixels, as
    /// [`Renderer::color_buffer`](super::Renderer::color_buffer) returns) over all of `target`, a
    /// view of a texture of `target_size` pixels in this kernel's format. Writes the uniform
    /// through `ctx.queue`, so submit `encoder` before recording the next blit.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        colors: &wgpu::Buffer,
        image_size: (u32, u32),
        target: &wgpu::TextureView,
        target_size: (u32, u32),
    ) {
        let params = BlitParams {
            image_size: [image_size.0, image_size.1],
            target_size: [target_size.0, target_size.1],
            srgb_target: u32::from(self.format.is_srgb()),
            _pad: [0; 3],
        };
        ctx.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("blit"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: colors.as_entire_binding(),
                },
            ],
        });
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("blit"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

/// One pixel as the blit stores it in an 8-bit unorm target: each colour channel clamped to
/// [0, 1] and rounded to the nearest 1/255, alpha 255.
pub fn blit_pixel_cpu(c: [f32; 4]) -> [u8; 4] {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [q(c[0]), q(c[1]), q(c[2]), 255]
}

/// CPU reference of the blit into an 8-bit RGBA target of `target_size`: nearest image pixel
/// under each target pixel centre, converted with [`blit_pixel_cpu`]. Row-major RGBA bytes.
pub fn blit_cpu(
    colors: &[[f32; 4]],
    image_size: (u32, u32),
    target_size: (u32, u32),
) -> Vec<[u8; 4]> {
    let (iw, ih) = (image_size.0.max(1), image_size.1.max(1));
    let (tw, th) = target_size;
    let mut out = Vec::with_capacity(tw as usize * th as usize);
    for y in 0..th {
        for x in 0..tw {
            let sx = (((x as f32 + 0.5) * iw as f32 / tw as f32) as u32).min(iw - 1);
            let sy = (((y as f32 + 0.5) * ih as f32 / th as f32) as u32).min(ih - 1);
            let pixel = colors
                .get((sy * iw + sx) as usize)
                .copied()
                .unwrap_or([0.0, 0.0, 0.0, 1.0]);
            out.push(blit_pixel_cpu(pixel));
        }
    }
    out
}

/// The blit on the GPU (lavapipe natively, WebGPU in the browser) against [`blit_cpu`].
///
/// Tolerance: ±1/255 per channel. The GPU converts float to unorm8 with its own rounding (the
/// WebGPU and Vulkan specs allow round-to-nearest or a rounding within 0.6 ULP), and the sRGB
/// case goes through a decode in f32 and the hardware's encode, so a value close to a half step
/// may land on either neighbour.
#[cfg(test)]
mod tests {
    use glam::Vec3;
    use rand::{rngs::SmallRng, Rng, SeedableRng};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::formats::{logit, GaussianScene, SH_C0};
    use crate::gpu::{read_buffer, storage_buffer, storage_buffer_init};
    use crate::render::{Camera, GpuScene, Renderer};
    use crate::test_support::gpu;

    /// Blits `colors` into a fresh texture of `format` and `target_size`, and reads it back.
    async fn blit_to_texture(
        ctx: &GpuContext,
        format: wgpu::TextureFormat,
        colors: &wgpu::Buffer,
        image_size: (u32, u32),
        target_size: (u32, u32),
    ) -> Vec<[u8; 4]> {
        let blit = BlitKernel::new(ctx, format);
        assert_eq!(blit.format(), format);
        let (w, h) = target_size;
        let extent = wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        };
        let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("blit target"),
            size: extent,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let row_bytes = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let readback = storage_buffer(ctx, "blit readback", row_bytes as u64 * h as u64);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        blit.encode(ctx, &mut enc, colors, image_size, &view, target_size);
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row_bytes),
                    rows_per_image: Some(h),
                },
            },
            extent,
        );
        ctx.queue.submit([enc.finish()]);
        let bytes: Vec<u8> = read_buffer(ctx, &readback, (row_bytes * h) as usize)
            .await
            .expect("read back the blit");
        bytes
            .chunks_exact(row_bytes as usize)
            .flat_map(|row| {
                row[..w as usize * 4]
                    .chunks_exact(4)
                    .map(|p| [p[0], p[1], p[2], p[3]])
            })
            .collect()
    }

    fn assert_within_one(gpu: &[[u8; 4]], cpu: &[[u8; 4]], what: &str) {
        assert_eq!(gpu.len(), cpu.len(), "{what}: pixel count");
        for (i, (g, c)) in gpu.iter().zip(cpu).enumerate() {
            for k in 0..4 {
                assert!(
                    g[k].abs_diff(c[k]) <= 1,
                    "{what}: pixel {i} channel {k}: GPU {g:?} vs CPU {c:?}"
                );
            }
        }
    }

    /// Colours in [-0.2, 1.2] (so clamping is exercised), every 8-bit level hit somewhere.
    fn random_colors(n: usize, seed: u64) -> Vec<[f32; 4]> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let level = (i % 256) as f32 / 255.0;
                [
                    level,
                    rng.random_range(-0.2..1.2),
                    rng.random_range(0.0..1.0),
                    rng.random_range(0.0..1.0),
                ]
            })
            .collect()
    }

    #[wasm_bindgen_test(unsupported = tokio::test)]
    async fn blit_matches_the_cpu_conversion_at_one_and_two_times_scale() {
        let ctx = gpu().await;
        let (w, h) = (37, 23);
        let colors = random_colors((w * h) as usize, 7);
        let buffer = storage_buffer_init(&ctx, "colors", &colors);
        for target in [(w, h), (2 * w, 2 * h), (19, 40)] {
            for format in [
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureFormat::Rgba8UnormSrgb,
            ] {
                let gpu = blit_to_texture(&ctx, format, &buffer, (w, h), target).await;
                let cpu = blit_cpu(&colors, (w, h), target);
                assert_within_one(&gpu, &cpu, &format!("{format:?} {target:?}"));
            }
        }
    }

    #[wasm_bindgen_test(unsupported = tokio::test)]
    async fn blit_of_a_rendered_frame_matches_its_colour_buffer() {
        let ctx = gpu().await;
        let mut rng = SmallRng::seed_from_u64(3);
        let mut scene = GaussianScene::empty(0);
        for _ in 0..300 {
            scene.positions.push([
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
            ]);
            scene.log_scales.push([rng.random_range(-3.5..-2.0); 3]);
            scene.rotations.push([1.0, 0.0, 0.0, 0.0]);
            scene.opacity_logits.push(logit(0.8));
            for _ in 0..3 {
                scene.sh.push((rng.random_range(0.0..1.0) - 0.5) / SH_C0);
            }
        }
        let mut renderer =
            Renderer::new(&ctx, GpuScene::upload(&ctx, &scene).expect("upload")).expect("renderer");
        let (w, h) = (80, 60);
        let cam = Camera::look_at(
            Vec3::new(0.0, -0.5, -4.0),
            Vec3::ZERO,
            Vec3::NEG_Y,
            0.8,
            w,
            h,
        );
        renderer
            .render(&cam, Vec3::new(0.1, 0.1, 0.2))
            .await
            .expect("render");
        let image = renderer.read_image().await.expect("read image");
        let (buffer, bw, bh) = renderer.color_buffer().expect("colour buffer");
        assert_eq!((bw, bh), (w, h));
        let gpu = blit_to_texture(
            &ctx,
            wgpu::TextureFormat::Rgba8Unorm,
            buffer,
            (w, h),
            (w, h),
        )
        .await;
        let cpu = blit_cpu(&image.rgba, (w, h), (w, h));
        assert_within_one(&gpu, &cpu, "rendered frame");
        assert!(
            gpu.iter().any(|p| *p != gpu[0]),
            "the frame should not be uniform"
        );
        assert!(
            gpu.iter().all(|p| p[3] == 255),
            "the blit writes opaque pixels"
        );
    }

    #[test]
    fn preferred_format_avoids_srgb() {
        use wgpu::TextureFormat as F;
        assert_eq!(
            BlitKernel::preferred_format(&[F::Bgra8UnormSrgb, F::Bgra8Unorm]),
            Some(F::Bgra8Unorm)
        );
        assert_eq!(
            BlitKernel::preferred_format(&[F::Rgba16Float, F::Rgba8Unorm]),
            Some(F::Rgba8Unorm)
        );
        assert_eq!(
            BlitKernel::preferred_format(&[F::Rgba8UnormSrgb, F::Rgba16Float]),
            Some(F::Rgba16Float)
        );
        assert_eq!(
            BlitKernel::preferred_format(&[F::Bgra8UnormSrgb]),
            Some(F::Bgra8UnormSrgb)
        );
        assert_eq!(BlitKernel::preferred_format(&[]), None);
    }

    #[test]
    fn cpu_conversion_clamps_and_rounds() {
        assert_eq!(blit_pixel_cpu([-0.5, 0.5, 2.0, 0.3]), [0, 128, 255, 255]);
        assert_eq!(
            blit_pixel_cpu([1.0 / 255.0, 0.0, 1.0, 0.0]),
            [1, 0, 255, 255]
        );
        let cpu = blit_cpu(&[[0.0; 4], [1.0; 4]], (2, 1), (4, 2));
        assert_eq!(cpu.len(), 8);
        assert_eq!(cpu[1], [0, 0, 0, 255]);
        assert_eq!(cpu[2], [255, 255, 255, 255]);
    }
}
