//! [`SiftGpu`]: the whole SIFT pipeline on the GPU (pyramid, extrema, refinement, orientation,
//! the `max_features` cap on the host, descriptors), as
//! [`detect_and_describe_cpu`](crate::features::sift::detect_and_describe_cpu); natively on a
//! software adapter, the native CPU pipeline instead.

use crate::features::sift::{retain_strongest, Keypoint, SiftParams};
use crate::features::sift::{
    DescribeKernel, ExtremaKernel, OrientKernel, PyramidKernel, RefineKernel,
    MAX_GPU_SCALES_PER_OCTAVE,
};
use crate::features::{Descriptors, DESCRIPTOR_BYTES};
use crate::gpu::{GpuContext, GpuError};

/// Every SIFT kernel, compiled once; or, on a software adapter (lavapipe) natively, none: the
/// pipeline then runs on the CPU (`detect_and_describe_native`: the same keypoints, descriptors
/// within about 1e-5, many times sooner), as [`PairMatcher`] matches there.
///
/// [`PairMatcher`]: crate::features::PairMatcher
pub struct SiftGpu {
    /// `None`: the native CPU pipeline.
    kernels: Option<Kernels>,
}

/// The five stage kernels.
struct Kernels {
    pyramid: PyramidKernel,
    extrema: ExtremaKernel,
    refine: RefineKernel,
    orient: OrientKernel,
    describe: DescribeKernel,
}

impl SiftGpu {
    /// The kernels, or the native CPU pipeline where the adapter is a software one (natively).
    pub fn new(ctx: &GpuContext) -> Self {
        if cfg!(not(target_arch = "wasm32")) && ctx.is_software() {
            return Self { kernels: None };
        }
        Self::on_gpu(ctx)
    }

    /// The kernels whatever the adapter (the kernel tests run them on lavapipe).
    pub fn on_gpu(ctx: &GpuContext) -> Self {
        Self {
            kernels: Some(Kernels {
                pyramid: PyramidKernel::new(ctx),
                extrema: ExtremaKernel::new(ctx),
                refine: RefineKernel::new(ctx),
                orient: OrientKernel::new(ctx),
                describe: DescribeKernel::new(ctx),
            }),
        }
    }

    /// Whether this runs the native CPU pipeline rather than the kernels.
    pub fn is_native(&self) -> bool {
        self.kernels.is_none()
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
        let Some(k) = &self.kernels else {
            return run_native(gray, w, h, params, with_floats);
        };
        check_images_fit(ctx, w, h, params)?;
        let mut clock = StageClock::start();
        let space = k.pyramid.build(ctx, gray, w, h, params)?;
        clock.lap("pyramid");
        let extrema = k.extrema.find(ctx, &space, params).await?;
        clock.lap("extrema");
        let located = k.refine.localize(ctx, &space, &extrema, params).await?;
        clock.lap("refine");
        let mut keypoints = k.orient.assign(ctx, &space, &located, params).await?;
        clock.lap("orient");
        if let Some(max) = params.max_features {
            retain_strongest(&mut keypoints, max as usize);
        }
        let (floats, descriptors) = k
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

/// The native CPU pipeline with [`SiftGpu::run`]'s output.
#[cfg(not(target_arch = "wasm32"))]
fn run_native(
    gray: &[f32],
    w: u32,
    h: u32,
    params: &SiftParams,
    with_floats: bool,
) -> Result<FeatureSet, GpuError> {
    use crate::features::sift::{detect_and_describe_native, SiftInputError};
    let clock = std::time::Instant::now();
    let (keypoints, floats) =
        detect_and_describe_native(gray, w, h, params).map_err(|e| match e {
            SiftInputError::Size { .. } => GpuError::TooLarge(e.to_string()),
            SiftInputError::NoScales => GpuError::Unsupported(e.to_string()),
        })?;
    let descriptors = Descriptors::quantize(&floats);
    tracing::debug!(
        "native SIFT {w}x{h}: {} keypoints in {:.1} ms",
        keypoints.len(),
        clock.elapsed().as_secs_f64() * 1e3
    );
    Ok((keypoints, with_floats.then_some(floats), descriptors))
}

/// The browser always has the kernels ([`SiftGpu::new`] picks the native pipeline only natively).
#[cfg(target_arch = "wasm32")]
fn run_native(
    _gray: &[f32],
    _w: u32,
    _h: u32,
    _params: &SiftParams,
    _with_floats: bool,
) -> Result<FeatureSet, GpuError> {
    Err(GpuError::Unsupported(
        "no native SIFT in the browser".into(),
    ))
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
