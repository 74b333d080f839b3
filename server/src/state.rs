//! Shared server state: the GPU context once it is up (or why it failed).

use std::sync::{Arc, RwLock};

use splatpod::gpu::{AdapterSummary, GpuContext};

/// Where GPU initialisation stands; `/readiness` reports it.
#[derive(Debug, Clone)]
pub enum GpuState {
    Starting,
    Ready(Box<GpuContext>),
    Failed(String),
}

#[derive(Clone)]
pub struct AppState {
    gpu: Arc<RwLock<GpuState>>,
}

impl AppState {
    pub fn new() -> Self {
        Self {
            gpu: Arc::new(RwLock::new(GpuState::Starting)),
        }
    }

    pub fn set_gpu(&self, state: GpuState) {
        *self.gpu.write().unwrap_or_else(|p| p.into_inner()) = state;
    }

    pub fn gpu(&self) -> GpuState {
        self.gpu.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The adapter summary once the GPU is up.
    pub fn adapter(&self) -> Result<AdapterSummary, String> {
        match self.gpu() {
            GpuState::Ready(ctx) => Ok(ctx.summary().clone()),
            GpuState::Starting => Err("GPU context is starting".into()),
            GpuState::Failed(e) => Err(format!("GPU unavailable: {e}")),
        }
    }
}
