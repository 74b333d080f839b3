//! One compute pass in a command buffer of its own: the encoder, pass and submit that hosts
//! running a few dispatches outside a frame would otherwise each spell out.

use super::{GpuContext, GpuError};

impl GpuContext {
    /// A command encoder holding one compute pass in which `body` recorded its work (encoder and
    /// pass labelled `label`), for callers that add copies before submitting it.
    pub fn encode_pass(
        &self,
        label: &str,
        body: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> wgpu::CommandEncoder {
        self.encode_pass_with(label, body).0
    }

    /// Records `body` into one compute pass and submits it.
    pub fn submit_pass(&self, label: &str, body: impl FnOnce(&mut wgpu::ComputePass<'_>)) {
        let encoder = self.encode_pass(label, body);
        self.queue.submit([encoder.finish()]);
    }

    /// [`GpuContext::submit_pass`] for a `body` that may fail while recording; on an error
    /// nothing is submitted.
    pub fn try_submit_pass(
        &self,
        label: &str,
        body: impl FnOnce(&mut wgpu::ComputePass<'_>) -> Result<(), GpuError>,
    ) -> Result<(), GpuError> {
        let (encoder, recorded) = self.encode_pass_with(label, body);
        recorded?;
        self.queue.submit([encoder.finish()]);
        Ok(())
    }

    /// The encoder of [`GpuContext::encode_pass`] and what `body` returned.
    fn encode_pass_with<R>(
        &self,
        label: &str,
        body: impl FnOnce(&mut wgpu::ComputePass<'_>) -> R,
    ) -> (wgpu::CommandEncoder, R) {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let recorded = {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            body(&mut pass)
        };
        (encoder, recorded)
    }
}
