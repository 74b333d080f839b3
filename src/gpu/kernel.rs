//! Compiles a kernel family once: one shader module, one pipeline per entry point, and the calls
//! hosts use to bind buffers and record dispatches.

use std::sync::Arc;

use super::{
    bind_buffers, buffer_bind_group_layout, compose_wgsl, dispatch_size, GpuContext, WorkgroupGrid,
};

/// Binding types for [`Kernel::new`]'s lists, one word each.
pub const UNIFORM: wgpu::BufferBindingType = wgpu::BufferBindingType::Uniform;
/// A read-only storage buffer.
pub const READ: wgpu::BufferBindingType = wgpu::BufferBindingType::Storage { read_only: true };
/// A read-write storage buffer.
pub const READ_WRITE: wgpu::BufferBindingType =
    wgpu::BufferBindingType::Storage { read_only: false };

/// A kernel whose entry points share one bind-group layout: group 0, binding `i` a buffer.
///
/// The host keeps it next to the pipelines [`Kernel::new`] returns (and its uniform mirror), so
/// one module still owns everything about its WGSL file.
pub struct Kernel {
    label: &'static str,
    layout: wgpu::BindGroupLayout,
    max_dim: u32,
}

impl Kernel {
    /// The layout whose binding `i` is a compute buffer of `bindings[i]`, and a pipeline of it for
    /// each of `entries` (in order) from `source` (before `#import` expansion).
    ///
    /// `label` is the WGSL file's stem: it names the GPU objects and, with the entry point, keys
    /// the context's pipeline cache, so the module is compiled only when a pipeline is missing.
    pub fn new<const N: usize>(
        ctx: &GpuContext,
        label: &'static str,
        source: &'static str,
        bindings: &[wgpu::BufferBindingType],
        entries: [&'static str; N],
    ) -> (Self, [Arc<wgpu::ComputePipeline>; N]) {
        let layout = buffer_bind_group_layout(&ctx.device, label, bindings);
        let pipelines = compile(ctx, label, source, Some(&layout), entries);
        let kernel = Self {
            label,
            layout,
            max_dim: ctx.device.limits().max_compute_workgroups_per_dimension,
        };
        (kernel, pipelines)
    }

    /// A bind group of this kernel's layout with the whole of `buffers[i]` at binding `i`.
    pub fn bind(&self, ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        bind_buffers(&ctx.device, self.label, &self.layout, buffers)
    }

    /// `workgroups` folded into a grid within the device's per-dimension limit (65 535 in
    /// WebGPU); kernels recover the linear index with `linear_workgroup` (snippet `grid`).
    pub fn grid(&self, workgroups: u32) -> WorkgroupGrid {
        dispatch_size(workgroups, self.max_dim)
    }

    /// Records `pipeline` over `workgroups` linear workgroups (folded by [`Kernel::grid`]) with
    /// `bind_group` as group 0.
    pub fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) {
        record(pass, pipeline, bind_group, self.grid(workgroups));
    }
}

/// A [`Kernel`] of one entry point with its pipeline: what a host of a single-kernel WGSL file
/// owns.
pub struct SingleEntryKernel {
    kernel: Kernel,
    pipeline: Arc<wgpu::ComputePipeline>,
}

impl SingleEntryKernel {
    /// [`Kernel::new`] with the one entry point `entry`.
    pub fn new(
        ctx: &GpuContext,
        label: &'static str,
        source: &'static str,
        bindings: &[wgpu::BufferBindingType],
        entry: &'static str,
    ) -> Self {
        let (kernel, [pipeline]) = Kernel::new(ctx, label, source, bindings, [entry]);
        Self { kernel, pipeline }
    }

    /// [`Kernel::bind`].
    pub fn bind(&self, ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        self.kernel.bind(ctx, buffers)
    }

    /// [`Kernel::dispatch`] of the entry point.
    pub fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) {
        self.kernel
            .dispatch(pass, &self.pipeline, bind_group, workgroups);
    }

    /// [`record`] of the entry point over a 2-D `grid`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        grid: WorkgroupGrid,
    ) {
        record(pass, &self.pipeline, bind_group, grid);
    }
}

/// Records `pipeline` over `grid` with `bind_group` as group 0: image kernels' 2-D grids, and
/// plans that computed their grid when their length was set.
pub fn record(
    pass: &mut wgpu::ComputePass<'_>,
    pipeline: &wgpu::ComputePipeline,
    bind_group: &wgpu::BindGroup,
    grid: WorkgroupGrid,
) {
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    pass.dispatch_workgroups(grid.x, grid.y, 1);
}

/// Pipelines of `entries` whose layouts wgpu derives from what each entry point uses, which keeps
/// each within WebGPU's per-stage storage-buffer limit where the file as a whole binds more.
/// Bind groups then come from `pipeline.get_bind_group_layout(group)`.
pub fn derived_pipelines<const N: usize>(
    ctx: &GpuContext,
    label: &'static str,
    source: &'static str,
    entries: [&'static str; N],
) -> [Arc<wgpu::ComputePipeline>; N] {
    compile(ctx, label, source, None, entries)
}

/// One pipeline per entry, cached under `(label, entry)`; the module (and pipeline layout) is
/// built on the first cache miss and shared by the others.
fn compile<const N: usize>(
    ctx: &GpuContext,
    label: &'static str,
    source: &'static str,
    layout: Option<&wgpu::BindGroupLayout>,
    entries: [&'static str; N],
) -> [Arc<wgpu::ComputePipeline>; N] {
    let mut shared: Option<(wgpu::ShaderModule, Option<wgpu::PipelineLayout>)> = None;
    entries.map(|entry| {
        ctx.pipeline((label, entry), |device| {
            let (module, pipeline_layout) = shared.get_or_insert_with(|| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(compose_wgsl(source).into()),
                });
                let pipeline_layout = layout.map(|l| {
                    device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(label),
                        bind_group_layouts: &[Some(l)],
                        immediate_size: 0,
                    })
                });
                (module, pipeline_layout)
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: pipeline_layout.as_ref(),
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })
    })
}
