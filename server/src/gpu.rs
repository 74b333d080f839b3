//! The GPU of a node: its start-up off the request path and the slot that the HTTP state and
//! the job workers share.

use std::sync::{Arc, RwLock};

use splatpod::gpu::GpuContext;

/// Where GPU initialisation stands; `/readiness` reports it.
#[derive(Debug, Clone)]
pub enum GpuState {
    Starting,
    Ready(Box<GpuContext>),
    Failed(String),
}

/// The GPU slot shared by the HTTP state and the job workers.
pub type SharedGpu = Arc<RwLock<GpuState>>;

/// Replaces the slot's state.
pub fn set_gpu(slot: &SharedGpu, state: GpuState) {
    *slot.write().unwrap_or_else(|p| p.into_inner()) = state;
}

/// A copy of the slot's state.
pub fn read_gpu(slot: &SharedGpu) -> GpuState {
    slot.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A slot in the `Starting` state whose GPU is being initialised on a background task; it turns
/// `Ready` or `Failed` when that ends.
pub fn start() -> SharedGpu {
    let slot: SharedGpu = Arc::new(RwLock::new(GpuState::Starting));
    let task_slot = slot.clone();
    tokio::spawn(async move {
        // Jobs work on whole scenes: take the adapter's full buffer limits rather than the
        // WebGPU baseline the browser has (a multi-million-splat scene needs more than 128 MiB
        // in one binding). Feature extraction fits the baseline too: its kernels bind one
        // scale-space image at a time.
        match GpuContext::new_for_large_scenes().await {
            Ok(ctx) => {
                let s = ctx.summary();
                tracing::info!(adapter = %s.name, backend = %s.backend, driver = %s.driver, "GPU ready");
                set_gpu(&task_slot, GpuState::Ready(Box::new(ctx)));
            }
            Err(e) => {
                tracing::error!("GPU initialisation failed: {e}");
                set_gpu(&task_slot, GpuState::Failed(e.to_string()));
            }
        }
    });
    slot
}
