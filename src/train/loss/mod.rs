//! The 3DGS photometric loss `0.8·mean|x − y| + 0.2·(1 − SSIM(x, y))` and its gradient w.r.t.
//! the rendered image, on the GPU — kernel `shaders/loss.wgsl`.
//!
//! SSIM matches the peer trainer's torchmetrics call (`structural_similarity_index_measure`,
//! `data_range=1.0`): Gaussian window 11×11, σ 1.5, C1 = 0.01², C2 = 0.03², per channel,
//! variances clamped at 0, on the image reflect-padded by 5, averaged over the three channels and
//! the centres [`SsimBorder`] names: by default every pixel, as torchmetrics ≥ 1.5 (its PR #2721
//! dropped the crop; the peer's torchmetrics 1.9.0 was checked to give this), or only the
//! (W−10)×(H−10) centres whose window lies inside, as torchmetrics before 1.5 and scikit-image.
//! Where torchmetrics fails or returns NaN (a side under 6 for the reflect pad; under 11 for
//! the crop) SSIM is 1 here and its gradient 0, so the loss is the L1 term alone.
//!
//! [`LossPlan`] owns the scratch maps for one image size and records three dispatches per
//! training step (forward, backward, a one-workgroup reduction) with no readback; the training
//! loop reads the scalars with [`LossPlan::read_loss`] only when it logs. The same plan
//! evaluates held-out views ([`LossPlan::evaluate`]: PSNR and SSIM of the render clamped to
//! [0, 1], as the peer reports).

mod cpu;
#[cfg(test)]
mod tests;

pub use cpu::{gaussian_taps, image_quality_cpu, loss_cpu, psnr_cpu, ssim_cpu, unpack_rgba8};

use std::sync::Arc;

use crate::gpu::{
    read_buffer, storage_buffer, uniform_buffer, GpuContext, GpuError, Kernel, READ, READ_WRITE,
    UNIFORM,
};

const SOURCE: &str = include_str!("../../../shaders/loss.wgsl");

/// Weight of the mean absolute error in the loss (3DGS: 1 − λ).
pub const L1_WEIGHT: f64 = 0.8;
/// Weight of the D-SSIM term `1 − SSIM` in the loss (3DGS: λ = 0.2).
pub const SSIM_WEIGHT: f64 = 0.2;
/// Half-width of the SSIM window (11 taps): torchmetrics' `int(3.5σ + 0.5)` for σ = 1.5.
pub const SSIM_RADIUS: u32 = 5;
/// Standard deviation of the SSIM window's Gaussian, in pixels.
pub const SSIM_SIGMA: f32 = 1.5;
/// SSIM's luminance constant (0.01 · data range)².
pub const SSIM_C1: f32 = 0.01 * 0.01;
/// SSIM's contrast constant (0.03 · data range)².
pub const SSIM_C2: f32 = 0.03 * 0.03;
/// Side of the square tile one workgroup handles (must match `TILE` in `loss.wgsl`).
pub const LOSS_TILE: u32 = 16;

/// Which pixels are SSIM window centres, i.e. how the window treats the image border.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SsimBorder {
    /// Every pixel, windows reaching into the reflect padding: torchmetrics ≥ 1.5, which the
    /// peer trainer runs. Needs both sides ≥ 6 (torch's reflect pad); SSIM is 1 below.
    #[default]
    Reflect,
    /// Only centres whose window lies inside the image: torchmetrics < 1.5, scikit-image.
    /// Needs both sides ≥ 11; SSIM is 1 below.
    Crop,
}

impl SsimBorder {
    /// Pixels between the border and the first centre.
    pub fn margin(self) -> u32 {
        match self {
            Self::Reflect => 0,
            Self::Crop => SSIM_RADIUS,
        }
    }

    /// SSIM values averaged (centres × 3 channels) for a `width × height` image; 0 where SSIM
    /// is undefined for this border and taken as 1.
    pub fn windows(self, width: u32, height: u32) -> u64 {
        let min_side = match self {
            Self::Reflect => SSIM_RADIUS + 1,
            Self::Crop => 2 * SSIM_RADIUS + 1,
        };
        if width < min_side || height < min_side {
            return 0;
        }
        let m = 2 * self.margin();
        3 * (width - m) as u64 * (height - m) as u64
    }
}

/// Slots of the sums buffer ahead of the per-tile partials: the last loss, the last evaluation.
const RESULT_SLOTS: u64 = 2;

/// Host mirror of `LossParams` in `loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub width: u32,
    pub height: u32,
    pub tiles_x: u32,
    pub num_tiles: u32,
    /// 1 / (3·W·H): the mean over every value.
    pub inv_values: f32,
    /// 1 / (SSIM values averaged), 0 where SSIM is taken as 1 ([`SsimBorder::windows`]).
    pub inv_windows: f32,
    pub l1_weight: f32,
    pub ssim_weight: f32,
    pub c1: f32,
    pub c2: f32,
    /// [`SsimBorder::margin`].
    pub margin: u32,
    pub _pad0: u32,
    /// The 11 normalised 1-D Gaussian taps, tap k at `[k / 4][k % 4]`.
    pub taps: [[f32; 4]; 3],
}

/// The loss of one training step and its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossValue {
    /// `L1_WEIGHT·l1 + SSIM_WEIGHT·(1 − ssim)`.
    pub total: f32,
    /// Mean absolute error over all W·H·3 values.
    pub l1: f32,
    /// Mean SSIM (1 when no window fits).
    pub ssim: f32,
    /// Mean squared error of the unclamped render (a training PSNR is `−10·log10(mse)`).
    pub mse: f32,
}

/// Quality of a render against a held-out photo, the render clamped to [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ImageQuality {
    /// `−10·log10(mse)` in dB (infinite for a perfect match).
    pub psnr: f32,
    /// Mean SSIM, as in the loss.
    pub ssim: f32,
    /// Mean squared error over all W·H·3 values.
    pub mse: f32,
}

/// Owns the loss kernel's bind-group layout and pipelines; cheap to clone (plans keep one).
#[derive(Clone)]
pub struct LossKernel {
    kernel: Arc<Kernel>,
    forward: Arc<wgpu::ComputePipeline>,
    evaluate: Arc<wgpu::ComputePipeline>,
    backward: Arc<wgpu::ComputePipeline>,
    reduce_loss: Arc<wgpu::ComputePipeline>,
    reduce_eval: Arc<wgpu::ComputePipeline>,
}

impl LossKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let (kernel, [forward, evaluate, backward, reduce_loss, reduce_eval]) = Kernel::new(
            ctx,
            "loss",
            SOURCE,
            &[
                UNIFORM, READ, READ, READ_WRITE, READ_WRITE, READ_WRITE, READ_WRITE, READ_WRITE,
            ],
            [
                "forward",
                "evaluate",
                "backward",
                "reduce_loss",
                "reduce_eval",
            ],
        );
        Self {
            kernel: Arc::new(kernel),
            forward,
            evaluate,
            backward,
            reduce_loss,
            reduce_eval,
        }
    }
}

/// The buffers of one training step bound for [`LossPlan::record`]: render, photo, gradient.
pub struct LossBindings(wgpu::BindGroup);

/// A render and a photo bound for [`LossPlan::record_eval`] (no gradient).
pub struct EvalBindings(wgpu::BindGroup);

/// The loss of one image size: parameters, the three W×H partial-derivative maps, the per-tile
/// sums and the two result slots. Re-create it when the training resolution changes.
pub struct LossPlan {
    kernel: LossKernel,
    width: u32,
    height: u32,
    border: SsimBorder,
    tiles: u32,
    params: wgpu::Buffer,
    d_mu: wgpu::Buffer,
    d_xx: wgpu::Buffer,
    d_xy: wgpu::Buffer,
    sums: wgpu::Buffer,
    /// Bound as the gradient by evaluations, which never write it.
    no_grad: wgpu::Buffer,
}

impl LossPlan {
    /// A plan for `width × height` images with the peer's SSIM ([`SsimBorder::Reflect`]).
    /// Fails for an empty image or one whose W·H·16 bytes exceed the device's storage binding
    /// limit (the render itself would not fit either).
    pub fn new(
        ctx: &GpuContext,
        kernel: &LossKernel,
        width: u32,
        height: u32,
    ) -> Result<Self, GpuError> {
        Self::with_border(ctx, kernel, width, height, SsimBorder::Reflect)
    }

    /// As [`LossPlan::new`], with the SSIM centres of `border`.
    pub fn with_border(
        ctx: &GpuContext,
        kernel: &LossKernel,
        width: u32,
        height: u32,
        border: SsimBorder,
    ) -> Result<Self, GpuError> {
        if width == 0 || height == 0 {
            return Err(GpuError::Unsupported(format!(
                "loss of an empty {width}x{height} image"
            )));
        }
        let pixels = width as u64 * height as u64;
        let limit = ctx.device.limits().max_storage_buffer_binding_size;
        if pixels * 16 > limit {
            return Err(GpuError::TooLarge(format!(
                "a {width}x{height} image needs {} MiB per map; this device binds {} MiB",
                (pixels * 16) >> 20,
                limit >> 20
            )));
        }
        let tiles_x = width.div_ceil(LOSS_TILE);
        let tiles = tiles_x * height.div_ceil(LOSS_TILE);
        let windows = border.windows(width, height);
        let taps = gaussian_taps();
        let mut packed = [[0f32; 4]; 3];
        for (k, t) in taps.iter().enumerate() {
            packed[k / 4][k % 4] = *t as f32;
        }
        let params = LossParams {
            width,
            height,
            tiles_x,
            num_tiles: tiles,
            inv_values: (1.0 / (3.0 * pixels as f64)) as f32,
            inv_windows: if windows == 0 {
                0.0
            } else {
                (1.0 / windows as f64) as f32
            },
            l1_weight: L1_WEIGHT as f32,
            ssim_weight: SSIM_WEIGHT as f32,
            c1: SSIM_C1,
            c2: SSIM_C2,
            margin: border.margin(),
            _pad0: 0,
            taps: packed,
        };
        Ok(Self {
            kernel: kernel.clone(),
            width,
            height,
            border,
            tiles,
            params: uniform_buffer(ctx, "loss params", &params),
            d_mu: storage_buffer(ctx, "loss d_mu", pixels * 16),
            d_xx: storage_buffer(ctx, "loss d_xx", pixels * 16),
            d_xy: storage_buffer(ctx, "loss d_xy", pixels * 16),
            sums: storage_buffer(ctx, "loss sums", (RESULT_SLOTS + tiles as u64) * 16),
            no_grad: storage_buffer(ctx, "loss no grad", 16),
        })
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The SSIM centres this plan averages over.
    pub fn border(&self) -> SsimBorder {
        self.border
    }

    /// Binds one step's buffers: `rendered` (W·H `vec4<f32>`, rgb in xyz), `target` (W·H RGBA8
    /// `u32`, r in the low byte) and `grad` (W·H `vec4<f32>`, written: dLoss/d rgb, w = 0).
    /// Bind groups are cheap; keep one per buffer set that repeats.
    pub fn bind(
        &self,
        ctx: &GpuContext,
        rendered: &wgpu::Buffer,
        target: &wgpu::Buffer,
        grad: &wgpu::Buffer,
    ) -> Result<LossBindings, GpuError> {
        self.check(rendered, target)?;
        self.check_len("gradient", grad, 16)?;
        Ok(LossBindings(self.bind_group(ctx, rendered, target, grad)))
    }

    /// Binds a render and a photo for [`LossPlan::record_eval`].
    pub fn bind_eval(
        &self,
        ctx: &GpuContext,
        rendered: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Result<EvalBindings, GpuError> {
        self.check(rendered, target)?;
        Ok(EvalBindings(self.bind_group(
            ctx,
            rendered,
            target,
            &self.no_grad,
        )))
    }

    /// Records one training step's loss into `pass`: the gradient into the bound `grad`, the
    /// scalars into the plan's loss slot (read by [`LossPlan::read_loss`]).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, bindings: &LossBindings) {
        let k = &self.kernel;
        k.kernel.dispatch(pass, &k.forward, &bindings.0, self.tiles);
        k.kernel
            .dispatch(pass, &k.backward, &bindings.0, self.tiles);
        k.kernel.dispatch(pass, &k.reduce_loss, &bindings.0, 1);
    }

    /// Binds the buffers and records [`LossPlan::record`] in a compute pass of its own.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        rendered: &wgpu::Buffer,
        target: &wgpu::Buffer,
        grad: &wgpu::Buffer,
    ) -> Result<(), GpuError> {
        let bindings = self.bind(ctx, rendered, target, grad)?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("loss"),
            timestamp_writes: None,
        });
        self.record(&mut pass, &bindings);
        Ok(())
    }

    /// Records a held-out evaluation (render clamped to [0, 1]; no gradient) into `pass`; its
    /// result goes to the evaluation slot, leaving the last loss as it was.
    pub fn record_eval(&self, pass: &mut wgpu::ComputePass<'_>, bindings: &EvalBindings) {
        let k = &self.kernel;
        k.kernel
            .dispatch(pass, &k.evaluate, &bindings.0, self.tiles);
        k.kernel.dispatch(pass, &k.reduce_eval, &bindings.0, 1);
    }

    /// The loss of the last step recorded with [`LossPlan::record`] and submitted (zeros before
    /// the first). Reads 16 bytes; waits for the queue, so call it every N steps, not each.
    pub async fn read_loss(&self, ctx: &GpuContext) -> Result<LossValue, GpuError> {
        let [total, l1, ssim, mse] = self.read_slot(ctx, 0).await?;
        Ok(LossValue {
            total,
            l1,
            ssim,
            mse,
        })
    }

    /// The quality of the last evaluation recorded with [`LossPlan::record_eval`] and submitted.
    pub async fn read_eval(&self, ctx: &GpuContext) -> Result<ImageQuality, GpuError> {
        let [_, _, ssim, mse] = self.read_slot(ctx, 1).await?;
        Ok(ImageQuality {
            psnr: -10.0 * mse.log10(),
            ssim,
            mse,
        })
    }

    /// Evaluates `rendered` against `target` now: records, submits and reads back 32 bytes.
    pub async fn evaluate(
        &self,
        ctx: &GpuContext,
        rendered: &wgpu::Buffer,
        target: &wgpu::Buffer,
    ) -> Result<ImageQuality, GpuError> {
        let bindings = self.bind_eval(ctx, rendered, target)?;
        ctx.submit_pass("loss eval", |pass| {
            self.record_eval(pass, &bindings);
        });
        self.read_eval(ctx).await
    }

    async fn read_slot(&self, ctx: &GpuContext, slot: usize) -> Result<[f32; 4], GpuError> {
        let slots: Vec<[f32; 4]> = read_buffer(ctx, &self.sums, slot + 1).await?;
        slots
            .get(slot)
            .copied()
            .ok_or_else(|| GpuError::Readback("loss slot missing".into()))
    }

    fn bind_group(
        &self,
        ctx: &GpuContext,
        rendered: &wgpu::Buffer,
        target: &wgpu::Buffer,
        grad: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        self.kernel.kernel.bind(
            ctx,
            &[
                &self.params,
                rendered,
                target,
                &self.d_mu,
                &self.d_xx,
                &self.d_xy,
                &self.sums,
                grad,
            ],
        )
    }

    fn check(&self, rendered: &wgpu::Buffer, target: &wgpu::Buffer) -> Result<(), GpuError> {
        self.check_len("render", rendered, 16)?;
        self.check_len("photo", target, 4)
    }

    fn check_len(&self, what: &str, buffer: &wgpu::Buffer, bytes: u64) -> Result<(), GpuError> {
        let need = self.width as u64 * self.height as u64 * bytes;
        if buffer.size() < need {
            return Err(GpuError::Unsupported(format!(
                "{what} buffer of {} bytes for a {}x{} image ({need} needed)",
                buffer.size(),
                self.width,
                self.height
            )));
        }
        Ok(())
    }
}
