//! [`SiftGpu`]: the whole SIFT pipeline on the GPU (pyramid, extrema, refinement, orientation,
//! the `max_features` cap on the host, descriptors), as
//! [`detect_and_describe_cpu`](crate::features::sift::detect_and_describe_cpu).

use crate::features::sift::{retain_strongest, Keypoint, SiftParams};
use crate::features::sift::{
    DescribeKernel, ExtremaKernel, OrientKernel, PyramidKernel, RefineKernel,
    MAX_GPU_SCALES_PER_OCTAVE,
};
use crate::features::{Descriptors, DESCRIPTOR_BYTES};
use crate::gpu::{GpuContext, GpuError};

/// Every SIFT kernel, compiled once.
pub struct SiftGpu {
    pyramid: PyramidKernel,
    extrema: ExtremaKernel,
    refine: RefineKernel,
    orient: OrientKernel,
    describe: DescribeKernel,
}

impl SiftGpu {
    pub fn new(ctx: &GpuContext) -> Self {
        Self {
            pyramid: PyramidKernel::new(ctx),
            extrema: ExtremaKernel::new(ctx),
            refine: RefineKernel::new(ctx),
            orient: OrientKernel::new(ctx),
            describe: DescribeKernel::new(ctx),
        }
    }

    /// Keypoints and quantised descriptors of a `w × h` gray image (values in 0..1); keypoint
    /// `i` has descriptor `i`, ordered as `detect_and_describe_cpu` orders them.
    pub async fn detect_and_describe(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
    ) -> Result<(Vec<Keypoint>, Descriptors), GpuError> {
        let (keypoints, _, descriptors) = self.run(ctx, gray, w, h, params, false).await?;
        Ok((keypoints, descriptors))
    }

    /// [`Self::detect_and_describe`] with the float (unit-norm) descriptors too.
    pub async fn detect_and_describe_float(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
    ) -> Result<(Vec<Keypoint>, Vec<[f32; DESCRIPTOR_BYTES]>, Descriptors), GpuError> {
        let (keypoints, floats, descriptors) = self.run(ctx, gray, w, h, params, true).await?;
        Ok((keypoints, floats.unwrap_or_default(), descriptors))
    }

    /// The pipeline; the float descriptors are read back only when `with_floats` (4 MiB for
    /// 8192 features that the matcher never needs).
    async fn run(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
        with_floats: bool,
    ) -> Result<FeatureSet, GpuError> {
        check_images_fit(ctx, w, h, params)?;
        let mut clock = StageClock::start();
        let space = self.pyramid.build(ctx, gray, w, h, params)?;
        clock.lap("pyramid");
        let extrema = self.extrema.find(ctx, &space, params).await?;
        clock.lap("extrema");
        let located = self.refine.localize(ctx, &space, &extrema, params).await?;
        clock.lap("refine");
        let mut keypoints = self.orient.assign(ctx, &space, &located, params).await?;
        clock.lap("orient");
        if let Some(max) = params.max_features {
            retain_strongest(&mut keypoints, max as usize);
        }
        let (floats, descriptors) = self
            .describe
            .describe(ctx, &space, &keypoints, params, with_floats)
            .await?;
        clock.lap("describe");
        tracing::debug!(
            "GPU SIFT {w}x{h}: {} extrema, {} keypoints; ms {}",
            extrema.len(),
            keypoints.len(),
            clock.report()
        );
        Ok((keypoints, floats, descriptors))
    }
}

/// Keypoints, float descriptors (if asked for) and quantised descriptors.
type FeatureSet = (
    Vec<Keypoint>,
    Option<Vec<[f32; DESCRIPTOR_BYTES]>>,
    Descriptors,
);

/// Wall time per stage for the debug log (natively; the browser has no `Instant`, so it
/// records nothing there).
struct StageClock {
    #[cfg(not(target_arch = "wasm32"))]
    last: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
}

impl StageClock {
    fn start() -> Self {
        Self {
            #[cfg(not(target_arch = "wasm32"))]
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &'static str) {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let now = std::time::Instant::now();
            self.laps
                .push((stage, (now - self.last).as_secs_f64() * 1e3));
            self.last = now;
        }
        #[cfg(target_arch = "wasm32")]
        let _ = stage;
    }

    fn report(&self) -> String {
        self.laps
            .iter()
            .map(|(s, ms)| format!("{s} {ms:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every kernel binds single scale-space images (never a stack), so an image fits when its
/// largest image, octave 0, fits one storage binding and one buffer: 128 MiB in the WebGPU
/// baseline, i.e. up to 5792 × 5792 pixels with the doubled first octave. Refuses up front,
/// before any work, instead of a validation error later.
fn check_images_fit(ctx: &GpuContext, w: u32, h: u32, params: &SiftParams) -> Result<(), GpuError> {
    if params.scales_per_octave == 0 || params.scales_per_octave > MAX_GPU_SCALES_PER_OCTAVE {
        return Err(GpuError::Unsupported(format!(
            "{} scales per octave (GPU SIFT handles 1 to {MAX_GPU_SCALES_PER_OCTAVE})",
            params.scales_per_octave
        )));
    }
    let factor = if params.upsample { 2 } else { 1 };
    let need = (w as u64 * factor) * (h as u64 * factor) * 4;
    let limits = &ctx.summary().limits;
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if need > limit {
        return Err(GpuError::TooLarge(format!(
            "a {w}x{h} image{} needs {need}-byte scale-space images, over this device's \
             {limit}-byte buffer limit; use a smaller max side{}",
            if params.upsample {
                " with the doubled first octave"
            } else {
                ""
            },
            if params.upsample {
                " or no upsampling"
            } else {
                ""
            },
        )));
    }
    Ok(())
}
