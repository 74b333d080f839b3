//! Buffer helpers for kernels: storage and uniform buffers, and reading buffers back to the host.

use wgpu::util::DeviceExt;

use super::{GpuContext, GpuError};

/// Usage flags for the storage buffers kernels read and write and tests read back.
const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Smallest buffer we create: empty inputs must still bind where a kernel's element type is a
/// struct (the largest, `Projected`, is 64 bytes).
const MIN_BUFFER_BYTES: u64 = 256;

/// A zeroed storage buffer of `size` bytes (at least 256, so empty inputs still bind).
pub fn storage_buffer(ctx: &GpuContext, label: &str, size: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(MIN_BUFFER_BYTES).next_multiple_of(4),
        usage: STORAGE_USAGE,
        mapped_at_creation: false,
    })
}

/// A storage buffer holding `data` (padded with zeros to at least 256 bytes).
pub fn storage_buffer_init<T: bytemuck::Pod>(
    ctx: &GpuContext,
    label: &str,
    data: &[T],
) -> wgpu::Buffer {
    let bytes = std::mem::size_of_val(data) as u64;
    if bytes < MIN_BUFFER_BYTES {
        let buffer = storage_buffer(ctx, label, MIN_BUFFER_BYTES);
        if bytes > 0 {
            ctx.queue
                .write_buffer(&buffer, 0, bytemuck::cast_slice(data));
        }
        return buffer;
    }
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: STORAGE_USAGE,
        })
}

/// A uniform buffer holding one kernel parameter struct.
pub fn uniform_buffer<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, value: &T) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        })
}

/// Copies the first `bytes` of each buffer in `parts` to the CPU through one staging buffer,
/// one submission and one wait: a kernel's small counter and its output in one round trip.
///
/// Every size must be a multiple of 4 and within its buffer; each buffer needs `COPY_SRC`.
pub async fn read_buffers(
    ctx: &GpuContext,
    parts: &[(&wgpu::Buffer, u64)],
) -> Result<Vec<Vec<u8>>, GpuError> {
    let mut offsets = Vec::with_capacity(parts.len());
    let mut total = 0u64;
    for (buffer, bytes) in parts {
        if *bytes > buffer.size() || bytes % wgpu::COPY_BUFFER_ALIGNMENT != 0 {
            return Err(GpuError::Readback(format!(
                "asked for {bytes} bytes from a buffer of {}",
                buffer.size()
            )));
        }
        offsets.push(total);
        total += bytes;
    }
    if total == 0 {
        return Ok(vec![Vec::new(); parts.len()]);
    }
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: total,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
    for ((buffer, bytes), offset) in parts.iter().zip(&offsets) {
        if *bytes > 0 {
            encoder.copy_buffer_to_buffer(buffer, 0, &staging, *offset, *bytes);
        }
    }
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        // The receiver only disappears if the caller was dropped; nothing to report then.
        let _ = tx.send(result);
    });
    ctx.wait_idle()?;
    rx.await
        .map_err(|_| GpuError::Readback("map callback dropped".into()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let view = staging
        .get_mapped_range(..)
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let out = parts
        .iter()
        .zip(&offsets)
        .map(|((_, bytes), offset)| view[*offset as usize..(offset + bytes) as usize].to_vec())
        .collect();
    drop(view);
    staging.unmap();
    if let Some(e) = ctx.take_error() {
        return Err(GpuError::Validation(e));
    }
    Ok(out)
}

/// Copies the first `count` elements of `buffer` to the CPU.
///
/// Works natively (blocking poll) and in the browser (awaits the map callback from the event
/// loop); `buffer` needs `COPY_SRC`.
pub async fn read_buffer<T: bytemuck::Pod>(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    count: usize,
) -> Result<Vec<T>, GpuError> {
    let bytes = (count * std::mem::size_of::<T>()) as u64;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    // Copies move whole 4-byte words; buffers are made in whole words.
    let padded = bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    if padded > buffer.size() {
        return Err(GpuError::Readback(format!(
            "asked for {bytes} bytes from a buffer of {}",
            buffer.size()
        )));
    }
    let parts = read_buffers(ctx, &[(buffer, padded)]).await?;
    let raw = parts.first().map_or(&[][..], |p| &p[..bytes as usize]);
    Ok(bytemuck::pod_collect_to_vec(raw))
}
