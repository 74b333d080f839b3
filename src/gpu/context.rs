//! [`GpuContext`]: the adapter, device and queue every kernel runs on, [`GpuError`], adapter and
//! limit summaries, and [`SubmissionFence`] to wait for submitted work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Errors while opening or using the GPU.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter is available: {0}")]
    NoAdapter(String),
    #[error("the GPU device could not be opened: {0}")]
    Device(String),
    #[error("reading a GPU buffer back failed: {0}")]
    Readback(String),
    #[error("the GPU device was lost while waiting: {0}")]
    Poll(String),
    #[error("GPU validation error: {0}")]
    Validation(String),
    #[error("input too large for the GPU: {0}")]
    TooLarge(String),
    /// The input is one a kernel does not handle (e.g. keypoints of another scale space, or a
    /// setting outside the kernel's stated limits).
    #[error("input not supported by the GPU kernel: {0}")]
    Unsupported(String),
}

/// The limits that matter to Splatpod's kernels, for status pages and `/readiness`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsSummary {
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
}

impl From<&wgpu::Limits> for LimitsSummary {
    fn from(l: &wgpu::Limits) -> Self {
        Self {
            max_buffer_size: l.max_buffer_size,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
        }
    }
}

/// What the adapter says about itself, plus the limits the device was opened with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub limits: LimitsSummary,
    /// Optional features Splatpod enabled beyond the WebGPU baseline (e.g. timestamp queries).
    pub optional_features: Vec<String>,
}

/// A cached pipeline's key: the kernel's label (its WGSL file stem) and the entry point.
pub type PipelineKey = (&'static str, &'static str);

type PipelineMap = HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>;

/// The first GPU error nobody caught (a shader the browser's compiler rejected, a bad binding),
/// kept so the next readback reports it instead of returning zeros.
#[derive(Default)]
struct ErrorSlot(Mutex<Option<String>>);

impl ErrorSlot {
    fn record(&self, error: wgpu::Error) {
        tracing::error!("GPU error: {error}");
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| error.to_string());
    }
}

/// An open GPU device and queue, with a cache of compiled compute pipelines.
///
/// Cheap to clone; all clones share the device and the cache.
#[derive(Clone)]
pub struct GpuContext {
    /// The instance the adapter came from; surfaces (e.g. the viewer's canvas) must be created
    /// from it.
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    summary: Arc<AdapterSummary>,
    pipelines: Arc<Mutex<PipelineMap>>,
    errors: Arc<ErrorSlot>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.summary)
            .finish()
    }
}

impl GpuContext {
    /// Whether the adapter is a CPU implementation (lavapipe, SwiftShader): work that a
    /// native CPU path does faster should go there.
    pub fn is_software(&self) -> bool {
        self.adapter.get_info().device_type == wgpu::DeviceType::Cpu
    }

    /// Opens the best available adapter: Vulkan natively (Mesa lavapipe on machines without a GPU;
    /// `WGPU_BACKEND` overrides), WebGPU in the browser. Limits stay at the WebGPU baseline.
    pub async fn new() -> Result<Self, GpuError> {
        Self::open(false).await
    }

    /// As [`GpuContext::new`], but raises the buffer-size limits (only those) to what the adapter
    /// allows, so scenes of millions of splats fit where the GPU can hold them. Kernels stay the
    /// same; only the largest buffer changes.
    pub async fn new_for_large_scenes() -> Result<Self, GpuError> {
        Self::open(true).await
    }

    async fn open(large_buffers: bool) -> Result<Self, GpuError> {
        #[cfg(target_arch = "wasm32")]
        let backends = wgpu::Backends::BROWSER_WEBGPU;
        #[cfg(not(target_arch = "wasm32"))]
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::VULKAN);

        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;

        // Timestamp queries are optional and used only by benchmarks; natively, subgroups and
        // f32 atomic add speed up the training backward pass where the adapter has them (its
        // baseline variant needs neither). Limits stay at the WebGPU baseline
        // (`Limits::defaults()`).
        #[cfg(not(target_arch = "wasm32"))]
        let wanted = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::SUBGROUP
            | wgpu::Features::SHADER_FLOAT32_ATOMIC;
        #[cfg(target_arch = "wasm32")]
        let wanted = wgpu::Features::TIMESTAMP_QUERY;
        let optional = adapter.features() & wanted;
        let mut limits = wgpu::Limits::defaults();
        if large_buffers {
            let offered = adapter.limits();
            limits.max_buffer_size = offered.max_buffer_size.max(limits.max_buffer_size);
            limits.max_storage_buffer_binding_size = offered
                .max_storage_buffer_binding_size
                .max(limits.max_storage_buffer_binding_size);
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("splatpod"),
                required_features: optional,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;

        let info = adapter.get_info();
        let summary = AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            limits: LimitsSummary::from(&device.limits()),
            optional_features: optional.iter_names().map(|(n, _)| n.to_string()).collect(),
        };
        let errors = Arc::new(ErrorSlot::default());
        let slot = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e| slot.record(e)));
        Ok(Self {
            errors,
            instance,
            adapter,
            device,
            queue,
            summary: Arc::new(summary),
            pipelines: Arc::default(),
        })
    }

    /// Returns (and clears) the first uncaught GPU error since the last call.
    pub fn take_error(&self) -> Option<String> {
        self.errors
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Adapter name, backend, driver and limits.
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// Bytes of GPU memory this device's buffers hold now (native; `None` in the browser, whose
    /// WebGPU does not say). Training samples it for its peak-memory figure.
    pub fn buffer_memory(&self) -> Option<u64> {
        let bytes = self.device.get_internal_counters().hal.buffer_memory.read();
        (bytes > 0).then_some(bytes as u64)
    }

    /// True when GPU timestamp queries are enabled (native benchmarks).
    pub fn has_timestamps(&self) -> bool {
        self.device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Returns the pipeline cached under `key`, building it with `build` on first use.
    ///
    /// Kernels key their pipelines by (label, entry point) such as `("scan", "scan_blocks")`, so
    /// each pipeline is compiled once per device however many plans use it.
    pub fn pipeline(
        &self,
        key: PipelineKey,
        build: impl FnOnce(&wgpu::Device) -> wgpu::ComputePipeline,
    ) -> Arc<wgpu::ComputePipeline> {
        let mut map = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key)
            .or_insert_with(|| Arc::new(build(&self.device)))
            .clone()
    }

    /// Resolves once all work submitted so far has finished, natively and in the browser (frame
    /// timing, benchmarks).
    pub async fn finish(&self) -> Result<(), GpuError> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            // The receiver only disappears if the caller was dropped.
            let _ = tx.send(());
        });
        self.wait_idle()?;
        rx.await
            .map_err(|_| GpuError::Poll("work-done callback dropped".into()))
    }

    /// Waits until all submitted work has finished (natively); a no-op in the browser, where the
    /// event loop drives the GPU.
    /// A fence on the work submitted so far (call right after `queue.submit`, with its index):
    /// frame loops wait on the fence of an earlier iteration to keep a bounded number of
    /// submissions in flight.
    pub fn fence(&self, index: wgpu::SubmissionIndex) -> SubmissionFence {
        #[cfg(target_arch = "wasm32")]
        {
            let _ = index;
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            SubmissionFence { done: rx }
        }
        #[cfg(not(target_arch = "wasm32"))]
        SubmissionFence { index }
    }

    pub fn wait_idle(&self) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Poll(e.to_string()))?;
        Ok(())
    }
}

/// Work submitted up to some point (see [`GpuContext::fence`]).
pub struct SubmissionFence {
    #[cfg(not(target_arch = "wasm32"))]
    index: wgpu::SubmissionIndex,
    #[cfg(target_arch = "wasm32")]
    done: futures_channel::oneshot::Receiver<()>,
}

impl SubmissionFence {
    /// Waits until that work has run: natively by polling the device; in the browser by
    /// yielding to the event loop until WebGPU reports it done (which also lets map callbacks,
    /// e.g. a [`super::CounterWatch`], run).
    pub async fn wait(self, ctx: &GpuContext) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        ctx.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(self.index),
                timeout: None,
            })
            .map_err(|e| GpuError::Poll(e.to_string()))?;
        #[cfg(target_arch = "wasm32")]
        {
            let _ = ctx;
            self.done
                .await
                .map_err(|_| GpuError::Poll("the GPU dropped a work-done callback".into()))?;
        }
        Ok(())
    }
}
