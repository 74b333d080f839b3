//! Reading a small GPU value back without waiting for it: frame loops that size buffers from a
//! count the GPU computes (tile intersections) learn it a frame or two late instead of stalling.

use std::sync::{Arc, Mutex};

use super::GpuContext;

#[derive(Debug, Default)]
enum State {
    /// Nothing in flight: the next frame may record a copy.
    #[default]
    Idle,
    /// A copy is recorded; `arm` maps it after the submit.
    Recorded,
    /// Mapping requested, callback not yet run.
    Mapping,
    /// The callback ran; true when the map succeeded.
    Mapped(bool),
}

/// One `u32` copied from a GPU buffer into a mappable buffer and read when it is ready.
pub struct CounterWatch {
    staging: wgpu::Buffer,
    state: Arc<Mutex<State>>,
}

impl CounterWatch {
    pub fn new(ctx: &GpuContext, label: &str) -> Self {
        Self {
            staging: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 4,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a copy of `src[offset..offset + 4]` unless a read is still in flight; true when
    /// recorded (then call [`CounterWatch::arm`] after submitting `encoder`).
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, src: &wgpu::Buffer) -> bool {
        let mut state = self.lock();
        if !matches!(*state, State::Idle) {
            return false;
        }
        encoder.copy_buffer_to_buffer(src, 0, &self.staging, 0, 4);
        *state = State::Recorded;
        true
    }

    /// Requests the map of a recorded copy (after the submit that holds it).
    pub fn arm(&self) {
        let mut state = self.lock();
        if !matches!(*state, State::Recorded) {
            return;
        }
        *state = State::Mapping;
        let slot = self.state.clone();
        self.staging
            .map_async(wgpu::MapMode::Read, .., move |result| {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = State::Mapped(result.is_ok());
            });
    }

    /// The value, when a read has completed since the last call (never blocks).
    pub fn poll(&self, ctx: &GpuContext) -> Option<u32> {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = ctx.device.poll(wgpu::PollType::Poll);
        #[cfg(target_arch = "wasm32")]
        let _ = ctx;
        let mut state = self.lock();
        let State::Mapped(ok) = *state else {
            return None;
        };
        let value = if ok {
            self.staging
                .get_mapped_range(..)
                .ok()
                .map(|view| u32::from_le_bytes([view[0], view[1], view[2], view[3]]))
        } else {
            None
        };
        self.staging.unmap();
        *state = State::Idle;
        value
    }
}
