//! The canvas surface: its size (CSS pixels × device pixel ratio, capped), opening the GPU and
//! configuring the surface, and presenting the rasterizer's frame with `BlitKernel`.

use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use splatpod::gpu::GpuContext;
use splatpod::render::{BlitKernel, Renderer};

use crate::browser_helpers::{next_frame, webgpu_exposed};

use super::loading::framing_box;
use super::{Gpu, GpuState, Viewer, ViewerError, MAX_PIXELS};

impl Viewer {
    /// The canvas's size in CSS pixels (at least 1×1).
    pub(super) fn css_size(&self) -> (f64, f64) {
        self.canvas
            .borrow()
            .as_ref()
            .map(|c| {
                (
                    c.client_width().max(1) as f64,
                    c.client_height().max(1) as f64,
                )
            })
            .unwrap_or((1.0, 1.0))
    }

    /// The drawing-buffer size for the canvas's current layout: CSS size × device pixel ratio,
    /// scaled down to at most [`MAX_PIXELS`] and the device's largest texture.
    pub(super) fn wanted_size(&self, max_dim: u32) -> (u32, u32) {
        let (w, h) = self.css_size();
        let dpr = web_sys::window()
            .map(|w| w.device_pixel_ratio())
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(1.0)
            .min(2.0);
        let (mut w, mut h) = (w * dpr, h * dpr);
        let scale = (MAX_PIXELS / (w * h)).sqrt().min(1.0);
        w *= scale;
        h *= scale;
        let max_dim = max_dim.max(1) as f64;
        let fit = (max_dim / w).min(max_dim / h).min(1.0);
        (
            ((w * fit).round() as u32).max(1),
            ((h * fit).round() as u32).max(1),
        )
    }

    pub(super) fn aspect(&self) -> f32 {
        let (w, h) = self.css_size();
        (w / h) as f32
    }

    /// Reconfigures the surface when the canvas's layout size changed; returns the target size.
    pub(super) fn sync_surface_size(&self) -> Option<(u32, u32)> {
        let mut gpu = self.gpu.borrow_mut();
        let gpu = gpu.as_mut()?;
        let wanted = self.wanted_size(gpu.ctx.device.limits().max_texture_dimension_2d);
        if (gpu.config.width, gpu.config.height) != wanted {
            gpu.config.width = wanted.0;
            gpu.config.height = wanted.1;
            gpu.surface.configure(&gpu.ctx.device, &gpu.config);
        }
        Some(wanted)
    }

    pub(super) fn size_changed(&self) -> bool {
        let gpu = self.gpu.borrow();
        let Some(gpu) = gpu.as_ref() else {
            return false;
        };
        let wanted = self.wanted_size(gpu.ctx.device.limits().max_texture_dimension_2d);
        (gpu.config.width, gpu.config.height) != wanted
    }

    /// Opens the GPU and the canvas surface; installs a scene that was parsed meanwhile.
    pub(super) async fn open_gpu(self: Rc<Self>, canvas: web_sys::HtmlCanvasElement) {
        *self.canvas.borrow_mut() = Some(canvas.clone());
        if !webgpu_exposed() {
            self.fail_gpu(ViewerError::no_webgpu("navigator.gpu is not defined"));
            return;
        }
        let ctx = match GpuContext::new_for_large_scenes().await {
            Ok(ctx) => ctx,
            Err(e) => {
                self.fail_gpu(ViewerError::no_webgpu(&e.to_string()));
                return;
            }
        };
        let surface = match ctx
            .instance
            .create_surface(wgpu::SurfaceTarget::Canvas(canvas))
        {
            Ok(s) => s,
            Err(e) => {
                self.fail_gpu(ViewerError::new(
                    "gpu",
                    format!("The canvas could not be used for WebGPU: {e}"),
                ));
                return;
            }
        };
        let caps = surface.get_capabilities(&ctx.adapter);
        let Some(format) = BlitKernel::preferred_format(&caps.formats) else {
            self.fail_gpu(ViewerError::new(
                "gpu",
                "The canvas offers no texture format this GPU can draw to.",
            ));
            return;
        };
        let alpha_mode = if caps.alpha_modes.contains(&wgpu::CompositeAlphaMode::Opaque) {
            wgpu::CompositeAlphaMode::Opaque
        } else {
            wgpu::CompositeAlphaMode::Auto
        };
        let (width, height) = self.wanted_size(ctx.device.limits().max_texture_dimension_2d);
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width,
            height,
            desired_maximum_frame_latency: 2,
            present_mode: wgpu::PresentMode::Fifo,
            alpha_mode,
            view_formats: vec![],
        };
        surface.configure(&ctx.device, &config);
        // Errors the engine does not catch itself (out of GPU memory while allocating frame
        // buffers, a lost device) end up on the page instead of in a panic.
        let error = self.ui.error;
        ctx.device
            .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let kind = match e {
                    wgpu::Error::OutOfMemory { .. } => "too-large",
                    _ => "gpu",
                };
                // Keep the first: later errors are usually its consequences.
                error.try_update(|current| {
                    if current.is_none() {
                        *current = Some(ViewerError::new(
                            kind,
                            format!("The GPU reported an error: {e}"),
                        ));
                    }
                });
            }));
        ctx.device.set_device_lost_callback(move |reason, message| {
            error.try_set(Some(ViewerError::new(
                "gpu",
                format!(
                    "The GPU device was lost ({reason:?}: {message}). Reload the page to \
                         try again."
                ),
            )));
        });
        let blit = BlitKernel::new(&ctx, format);
        *self.gpu.borrow_mut() = Some(Gpu {
            ctx,
            surface,
            config,
            blit,
        });
        self.ui.gpu.set(GpuState::Ready);
        let pending = self.pending.borrow_mut().take();
        if let Some((scene, frame)) = pending {
            self.ui.status.set("Uploading the scene to the GPU…".into());
            next_frame().await;
            let frame = frame.unwrap_or_else(|| framing_box(&scene));
            self.install_framed(scene, frame, true);
        }
    }

    pub(super) fn fail_gpu(&self, e: ViewerError) {
        self.ui.gpu.set(GpuState::Unavailable);
        self.set_error(e);
        if let Some((scene, _)) = self.pending.borrow_mut().take() {
            self.ui.splats.set(Some(scene.len()));
            self.ui.status.set(String::new());
        }
    }

    /// Blits the renderer's last frame onto the canvas and waits for the GPU to finish it.
    /// `Ok(false)`: no canvas texture this time (try again on the next tick).
    pub(super) async fn present(&self, renderer: &Renderer) -> Result<bool, ViewerError> {
        let done = {
            let gpu = self.gpu.borrow();
            let Some(gpu) = gpu.as_ref() else {
                return Ok(false);
            };
            let Some((colors, iw, ih)) = renderer.color_buffer() else {
                return Ok(false);
            };
            let texture = match gpu.surface.get_current_texture() {
                wgpu::CurrentSurfaceTexture::Success(t)
                | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
                wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                    gpu.surface.configure(&gpu.ctx.device, &gpu.config);
                    return Ok(false);
                }
                wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                    return Ok(false)
                }
                wgpu::CurrentSurfaceTexture::Validation => {
                    return Err(ViewerError::new(
                        "gpu",
                        "The canvas texture could not be acquired (validation error).",
                    ))
                }
            };
            let target_size = (texture.texture.width(), texture.texture.height());
            let view = texture.texture.create_view(&Default::default());
            let mut encoder = gpu.ctx.device.create_command_encoder(&Default::default());
            gpu.blit
                .encode(&gpu.ctx, &mut encoder, colors, (iw, ih), &view, target_size);
            gpu.ctx.queue.submit([encoder.finish()]);
            gpu.ctx.queue.present(texture);
            let (tx, rx) = futures_channel::oneshot::channel::<()>();
            gpu.ctx.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx
        };
        let _ = done.await;
        Ok(true)
    }
}
