//! GPU context, buffer helpers, pipeline cache and WGSL composition.
//!
//! One [`GpuContext`] type opens a device natively (Vulkan) and in the browser (WebGPU). It asks
//! only for features and limits inside the WebGPU baseline, so whatever runs on the server also
//! runs in Chrome and Safari.

mod buffers;
mod context;
mod dispatch;
mod pipeline;
mod shader;

pub use buffers::{read_buffer, storage_buffer, storage_buffer_init, uniform_buffer};
pub use context::{AdapterSummary, GpuContext, GpuError, LimitsSummary};
pub use dispatch::{dispatch_size, WorkgroupGrid};
pub use pipeline::{bind_buffers, buffer_bind_group_layout, buffer_layout_entry, compute_pipeline};
pub use shader::compose_wgsl;
