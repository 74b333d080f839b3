//! GPU context, buffer helpers, pipeline cache and WGSL composition.
//!
//! One [`GpuContext`] type opens a device natively (Vulkan) and in the browser (WebGPU). It asks
//! only for features and limits inside the WebGPU baseline, so whatever runs on the server also
//! runs in Chrome and Safari.

mod buffers;
mod context;
mod dispatch;
mod kernel;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod mirrors;
mod pass;
mod pipeline;
mod shader;
mod watch;

pub use buffers::{read_buffer, read_buffers, storage_buffer, storage_buffer_init, uniform_buffer};
pub use context::{
    AdapterSummary, GpuContext, GpuError, LimitsSummary, PipelineKey, SubmissionFence,
};
pub use dispatch::{dispatch_size, WorkgroupGrid};
pub use kernel::{derived_pipelines, record, Kernel, SingleEntryKernel, READ, READ_WRITE, UNIFORM};
pub use pipeline::{bind_buffers, bind_derived, buffer_bind_group_layout, buffer_layout_entry};
pub use shader::compose_wgsl;
pub use watch::CounterWatch;
