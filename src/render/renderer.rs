//! The frame loop: owns the scene's GPU buffers and every per-frame temporary.

use bytemuck::Zeroable;
use glam::Vec3;

use super::{
    bind, Camera, ProjectKernel, ProjectedSplat, RasterizeKernel, RenderParams, RenderedImage,
    NEAR_PLANE,
};
use crate::formats::GaussianScene;
use crate::gpu::{
    dispatch_size, read_buffer, storage_buffer, storage_buffer_init, uniform_buffer, CounterWatch,
    GpuContext, GpuError,
};
use crate::scan::{ScanKernel, ScanPlan};
use crate::sort::{RadixSort, SortPlan};

/// A scene uploaded to the GPU.
pub struct GpuScene {
    pub len: u32,
    /// SH degree evaluated (≤ what `sh_floats` holds).
    pub sh_degree: u32,
    /// SH floats stored per splat.
    pub sh_floats: u32,
    means: wgpu::Buffer,
    log_scales: wgpu::Buffer,
    rotations: wgpu::Buffer,
    sh: wgpu::Buffer,
}

impl GpuScene {
    /// Uploads `scene`, or explains which device limit it exceeds.
    pub fn upload(ctx: &GpuContext, scene: &GaussianScene) -> Result<Self, GpuError> {
        scene
            .validate()
            .map_err(|e| GpuError::TooLarge(format!("invalid scene: {e}")))?;
        let len = u32::try_from(scene.len())
            .map_err(|_| GpuError::TooLarge(format!("{} splats", scene.len())))?;
        let limit = ctx.device.limits().max_storage_buffer_binding_size;
        let biggest = (scene.sh.len() as u64 * 4).max(scene.len() as u64 * 64);
        if biggest > limit {
            return Err(GpuError::TooLarge(format!(
                "{} splats of SH degree {} need {} MiB in one GPU buffer; this device allows {} MiB",
                scene.len(),
                scene.sh_degree,
                biggest >> 20,
                limit >> 20
            )));
        }
        let means = scene.means_vec4();
        let scales = scene.log_scales_vec4();
        Ok(Self {
            len,
            sh_degree: scene.sh_degree,
            sh_floats: scene.sh_floats_per_splat() as u32,
            means: storage_buffer_init(ctx, "splat means", &means),
            log_scales: storage_buffer_init(ctx, "splat log scales", &scales),
            rotations: storage_buffer_init(ctx, "splat rotations", &scene.rotations),
            sh: storage_buffer_init(ctx, "splat sh", &scene.sh),
        })
    }
}

impl GpuScene {
    /// A scene over buffers someone else owns and updates (the trainer), in the layout of
    /// `train` (means + opacity logit, log scales, rotations as vec4; `sh_floats` SH floats per
    /// splat of which degree `sh_degree` is evaluated).
    pub fn from_buffers(
        len: u32,
        sh_degree: u32,
        sh_floats: u32,
        [means, log_scales, rotations, sh]: [&wgpu::Buffer; 4],
    ) -> Self {
        Self {
            len,
            sh_degree,
            sh_floats,
            means: means.clone(),
            log_scales: log_scales.clone(),
            rotations: rotations.clone(),
            sh: sh.clone(),
        }
    }
}

/// GPU time of each stage of the last frame, from timestamp queries (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct StageTimes {
    pub project_ms: f64,
    pub depth_sort_ms: f64,
    pub tile_count_scan_ms: f64,
    pub emit_ms: f64,
    pub tile_sort_ms: f64,
    pub rasterize_ms: f64,
}

impl StageTimes {
    /// Sum of the stages: GPU busy time, without the CPU round trip between the halves.
    pub fn total_ms(&self) -> f64 {
        self.project_ms
            + self.depth_sort_ms
            + self.tile_count_scan_ms
            + self.emit_ms
            + self.tile_sort_ms
            + self.rasterize_ms
    }
}

/// Stages timed, each one compute pass with a begin and an end timestamp.
const TIMED_PASSES: u32 = 6;

struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    period_ns: f64,
}

impl Timestamps {
    fn writes(&self, pass: u32) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * pass),
            end_of_pass_write_index: Some(2 * pass + 1),
        }
    }
}

/// What a frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    /// (tile, splat) pairs sorted and blended: this frame's when it read the count back first,
    /// else the latest count read back (a frame or two old).
    pub intersections: u32,
}

struct Intersections {
    capacity: u32,
    key_bits: u32,
    keys: wgpu::Buffer,
    splats: wgpu::Buffer,
    sort: SortPlan,
    emit: [wgpu::BindGroup; 2],
}

struct Image {
    width: u32,
    height: u32,
    ranges: wgpu::Buffer,
    rgba: wgpu::Buffer,
    depth: wgpu::Buffer,
    last: wgpu::Buffer,
}

/// The buffers of the last frame that the training backward pass reads.
pub struct FrameBuffers<'a> {
    pub params: &'a wgpu::Buffer,
    pub projected: &'a wgpu::Buffer,
    pub tile_counts: &'a wgpu::Buffer,
    pub tile_splats: &'a wgpu::Buffer,
    pub ranges: &'a wgpu::Buffer,
    pub rgba: &'a wgpu::Buffer,
    pub last: &'a wgpu::Buffer,
}

/// Renders one uploaded scene from any camera.
pub struct Renderer {
    ctx: GpuContext,
    project: ProjectKernel,
    raster: RasterizeKernel,
    sorter: RadixSort,
    scene: GpuScene,
    params: wgpu::Buffer,
    projected: wgpu::Buffer,
    total: wgpu::Buffer,
    depth_sort: SortPlan,
    count_scan: ScanPlan,
    project_bg: wgpu::BindGroup,
    gather_bg: [wgpu::BindGroup; 2],
    total_bg: [wgpu::BindGroup; 2],
    tile_counts: wgpu::Buffer,
    order: wgpu::Buffer,
    counts_sorted: wgpu::Buffer,
    isect: Option<Intersections>,
    image: Option<Image>,
    raster_bg: Option<[wgpu::BindGroup; 2]>,
    timestamps: Option<Timestamps>,
    total_watch: CounterWatch,
    /// The latest intersection count read back.
    last_total: u32,
    resync: bool,
}

impl Renderer {
    /// Times every stage with GPU timestamps from now on (benchmarks); false where the device
    /// has no timestamp queries (the browser).
    pub fn enable_timestamps(&mut self) -> bool {
        if !self.ctx.has_timestamps() {
            return false;
        }
        let set = self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("render stages"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * TIMED_PASSES,
        });
        let resolve = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("render timestamps"),
            size: 16 * TIMED_PASSES as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.timestamps = Some(Timestamps {
            set,
            resolve,
            period_ns: self.ctx.queue.get_timestamp_period() as f64,
        });
        true
    }

    /// Stage times of the last frame, when timestamps are enabled.
    pub async fn stage_times(&self) -> Result<Option<StageTimes>, GpuError> {
        let Some(ts) = &self.timestamps else {
            return Ok(None);
        };
        let t: Vec<u64> = read_buffer(&self.ctx, &ts.resolve, 2 * TIMED_PASSES as usize).await?;
        let ms = |p: usize| t[2 * p + 1].saturating_sub(t[2 * p]) as f64 * ts.period_ns / 1e6;
        Ok(Some(StageTimes {
            project_ms: ms(0),
            depth_sort_ms: ms(1),
            tile_count_scan_ms: ms(2),
            emit_ms: ms(3),
            tile_sort_ms: ms(4),
            rasterize_ms: ms(5),
        }))
    }

    pub fn new(ctx: &GpuContext, scene: GpuScene) -> Result<Self, GpuError> {
        let n = scene.len;
        let d = &ctx.device;
        let project = ProjectKernel::new(ctx);
        let raster = RasterizeKernel::new(ctx);
        let sorter = RadixSort::new(ctx);
        let params = uniform_buffer(ctx, "render params", &RenderParams::zeroed());
        let projected = storage_buffer(
            ctx,
            "projected",
            n as u64 * std::mem::size_of::<ProjectedSplat>() as u64,
        );
        let tile_counts = storage_buffer(ctx, "tile counts", n as u64 * 4);
        let depth_keys = storage_buffer(ctx, "depth keys", n as u64 * 4);
        let order = storage_buffer(ctx, "depth order", n as u64 * 4);
        let counts_sorted = storage_buffer(ctx, "tile offsets", n as u64 * 4);
        let total = storage_buffer(ctx, "intersection total", 4);
        let depth_sort = sorter.plan(ctx, &depth_keys, &order, n, 32)?;
        let count_scan = ScanKernel::new(ctx).plan(ctx, &counts_sorted, n);
        let project_bg = bind(
            d,
            &project.project,
            0,
            &[
                (0, &params),
                (1, &scene.means),
                (2, &scene.log_scales),
                (3, &scene.rotations),
                (4, &scene.sh),
                (5, &projected),
                (6, &tile_counts),
                (7, &depth_keys),
                (8, &order),
            ],
        );
        let gather_bg = [
            bind(
                d,
                &project.gather_counts,
                0,
                &[(0, &params), (6, &tile_counts), (8, &order)],
            ),
            bind(d, &project.gather_counts, 1, &[(0, &counts_sorted)]),
        ];
        let total_bg = [
            bind(
                d,
                &project.write_total,
                0,
                &[(0, &params), (6, &tile_counts), (8, &order)],
            ),
            bind(
                d,
                &project.write_total,
                1,
                &[(0, &counts_sorted), (3, &total)],
            ),
        ];
        Ok(Self {
            ctx: ctx.clone(),
            project,
            raster,
            sorter,
            scene,
            params,
            projected,
            total,
            depth_sort,
            count_scan,
            project_bg,
            gather_bg,
            total_bg,
            tile_counts,
            order,
            counts_sorted,
            isect: None,
            image: None,
            raster_bg: None,
            timestamps: None,
            total_watch: CounterWatch::new(ctx, "intersection count readback"),
            last_total: 0,
            resync: false,
        })
    }

    /// Evaluates SH up to `degree` from the next frame (training raises it as it goes).
    pub fn set_sh_degree(&mut self, degree: u32) {
        self.scene.sh_degree = degree.min(3);
    }

    /// The last frame's buffers, for the training backward pass.
    pub fn frame_buffers(&self) -> Option<FrameBuffers<'_>> {
        let (isect, image) = (self.isect.as_ref()?, self.image.as_ref()?);
        Some(FrameBuffers {
            params: &self.params,
            projected: &self.projected,
            tile_counts: &self.tile_counts,
            tile_splats: &isect.splats,
            ranges: &image.ranges,
            rgba: &image.rgba,
            last: &image.last,
        })
    }

    /// Splats in the scene.
    pub fn len(&self) -> u32 {
        self.scene.len
    }

    pub fn is_empty(&self) -> bool {
        self.scene.len == 0
    }

    fn ensure_image(&mut self, width: u32, height: u32) {
        if self
            .image
            .as_ref()
            .is_some_and(|i| i.width == width && i.height == height)
        {
            return;
        }
        let (tx, ty) = (width.div_ceil(16), height.div_ceil(16));
        let pixels = width as u64 * height as u64;
        self.image = Some(Image {
            width,
            height,
            ranges: storage_buffer(&self.ctx, "tile ranges", tx as u64 * ty as u64 * 8),
            rgba: storage_buffer(&self.ctx, "image rgba", pixels * 16),
            depth: storage_buffer(&self.ctx, "image depth", pixels * 4),
            last: storage_buffer(&self.ctx, "image last splat", pixels * 4),
        });
        self.raster_bg = None;
    }

    fn ensure_intersections(&mut self, total: u32, key_bits: u32) -> Result<(), GpuError> {
        if self
            .isect
            .as_ref()
            .is_some_and(|i| i.capacity >= total && i.key_bits == key_bits)
        {
            return Ok(());
        }
        let limit = self.ctx.device.limits().max_storage_buffer_binding_size / 4;
        if total as u64 > limit {
            return Err(GpuError::TooLarge(format!(
                "{total} tile intersections exceed this device's buffer limit ({limit}); \
                 use a smaller window or a smaller scene"
            )));
        }
        let capacity = ((total as u64 * 3 / 2).max(4096)).min(limit) as u32;
        let keys = storage_buffer(&self.ctx, "tile keys", capacity as u64 * 4);
        let splats = storage_buffer(&self.ctx, "tile splats", capacity as u64 * 4);
        let sort = self
            .sorter
            .plan(&self.ctx, &keys, &splats, capacity, key_bits)?;
        let d = &self.ctx.device;
        let emit = [
            bind(
                d,
                &self.project.emit,
                0,
                &[
                    (0, &self.params),
                    (5, &self.projected),
                    (6, &self.tile_counts),
                    (8, &self.order),
                ],
            ),
            bind(
                d,
                &self.project.emit,
                1,
                &[(0, &self.counts_sorted), (1, &keys), (2, &splats)],
            ),
        ];
        self.isect = Some(Intersections {
            capacity,
            key_bits,
            keys,
            splats,
            sort,
            emit,
        });
        self.raster_bg = None;
        Ok(())
    }

    /// Renders a frame into the renderer's image buffers.
    ///
    /// The frame is one submission that never waits for the CPU: the tile sort and the tile
    /// ranges take the intersection count from the GPU, within a capacity sized from earlier
    /// frames (×1.5). The count is read back without waiting; a frame that needed more than the
    /// capacity loses its farthest intersections and the next frames get room. The first frame
    /// (and any after [`Renderer::resync`] or a change of tile grid) reads the count back first.
    pub async fn render(&mut self, cam: &Camera, background: Vec3) -> Result<FrameStats, GpuError> {
        if cam.width == 0 || cam.height == 0 {
            return Err(GpuError::TooLarge("image of zero size".into()));
        }
        self.ensure_image(cam.width, cam.height);
        let (tiles_x, tiles_y) = cam.tiles();
        let num_tiles = tiles_x * tiles_y;
        let key_bits = (32 - num_tiles.saturating_sub(1).leading_zeros()).max(1);
        if let Some(total) = self.total_watch.poll(&self.ctx) {
            self.last_total = total;
            if self.isect.as_ref().is_some_and(|i| total > i.capacity) {
                self.ensure_intersections(total, key_bits)?;
            }
        }
        let synced = self.isect.as_ref().is_none_or(|i| i.key_bits != key_bits) || self.resync;
        self.resync = false;

        let params = RenderParams {
            view: cam.world_to_camera.to_cols_array_2d(),
            cam_pos: cam.position().extend(1.0).to_array(),
            focal: [cam.fx, cam.fy],
            principal: [cam.cx, cam.cy],
            image_size: [cam.width, cam.height],
            tiles: [tiles_x, tiles_y],
            num_splats: self.scene.len,
            sh_degree: self.scene.sh_degree,
            near: NEAR_PLANE,
            num_intersections: self.isect.as_ref().map_or(0, |i| i.capacity),
            background: background.extend(1.0).to_array(),
            sh_floats: self.scene.sh_floats,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        };
        let queue = self.ctx.queue.clone();
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let max_dim = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        let splat_grid = dispatch_size(self.scene.len.div_ceil(256), max_dim);

        let ts = self.timestamps.as_ref();
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            // Opened even when empty so every timestamp of the frame is written.
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("project"),
                timestamp_writes: ts.map(|t| t.writes(0)),
            });
            if self.scene.len > 0 {
                pass.set_pipeline(&self.project.project);
                pass.set_bind_group(0, &self.project_bg, &[]);
                pass.dispatch_workgroups(splat_grid.x, splat_grid.y, 1);
            }
        }
        self.depth_sort.encode(&mut enc, ts.map(|t| t.writes(1)));
        if self.scene.len == 0 {
            enc.clear_buffer(&self.total, 0, None);
        }
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("tile counts"),
                timestamp_writes: ts.map(|t| t.writes(2)),
            });
            if self.scene.len > 0 {
                pass.set_pipeline(&self.project.gather_counts);
                pass.set_bind_group(0, &self.gather_bg[0], &[]);
                pass.set_bind_group(1, &self.gather_bg[1], &[]);
                pass.dispatch_workgroups(splat_grid.x, splat_grid.y, 1);
                self.count_scan.record(&mut pass);
                pass.set_pipeline(&self.project.write_total);
                pass.set_bind_group(0, &self.total_bg[0], &[]);
                pass.set_bind_group(1, &self.total_bg[1], &[]);
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        if synced {
            queue.submit([enc.finish()]);
            let total = read_buffer::<u32>(&self.ctx, &self.total, 1).await?[0];
            self.last_total = total;
            self.ensure_intersections(total, key_bits)?;
            enc = self.ctx.device.create_command_encoder(&Default::default());
            let capacity = self.isect.as_ref().map_or(0, |i| i.capacity);
            let params = RenderParams {
                num_intersections: capacity,
                ..params
            };
            queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        }
        let ts = self.timestamps.as_ref();
        let (Some(isect), Some(image)) = (&self.isect, &self.image) else {
            return Err(GpuError::Device("frame buffers missing".into()));
        };
        if self.raster_bg.is_none() {
            let d = &self.ctx.device;
            self.raster_bg = Some([
                bind(
                    d,
                    &self.raster.tile_ranges,
                    0,
                    &[
                        (0, &self.params),
                        (1, &isect.keys),
                        (2, &image.ranges),
                        (8, &self.total),
                    ],
                ),
                bind(
                    d,
                    &self.raster.rasterize,
                    0,
                    &[
                        (0, &self.params),
                        (2, &image.ranges),
                        (3, &isect.splats),
                        (4, &self.projected),
                        (5, &image.rgba),
                        (6, &image.depth),
                        (7, &image.last),
                    ],
                ),
            ]);
        }
        let Some(raster_bg) = &self.raster_bg else {
            return Err(GpuError::Device("raster bind groups missing".into()));
        };
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("emit"),
                timestamp_writes: ts.map(|t| t.writes(3)),
            });
            if self.scene.len > 0 {
                pass.set_pipeline(&self.project.emit);
                pass.set_bind_group(0, &isect.emit[0], &[]);
                pass.set_bind_group(1, &isect.emit[1], &[]);
                pass.dispatch_workgroups(splat_grid.x, splat_grid.y, 1);
            }
        }
        isect
            .sort
            .encode_counted(&queue, &mut enc, &self.total, ts.map(|t| t.writes(4)));
        enc.clear_buffer(&image.ranges, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("rasterize"),
                timestamp_writes: ts.map(|t| t.writes(5)),
            });
            let grid = dispatch_size(isect.capacity.div_ceil(256), max_dim);
            pass.set_pipeline(&self.raster.tile_ranges);
            pass.set_bind_group(0, &raster_bg[0], &[]);
            pass.dispatch_workgroups(grid.x, grid.y, 1);
            pass.set_pipeline(&self.raster.rasterize);
            pass.set_bind_group(0, &raster_bg[1], &[]);
            pass.dispatch_workgroups(tiles_x, tiles_y, 1);
        }
        if let Some(ts) = ts {
            enc.resolve_query_set(&ts.set, 0..2 * TIMED_PASSES, &ts.resolve, 0);
        }
        let watching = !synced && self.total_watch.record(&mut enc, &self.total);
        queue.submit([enc.finish()]);
        if watching {
            self.total_watch.arm();
        }
        Ok(FrameStats {
            intersections: self.last_total,
        })
    }

    /// Makes the next frame read its intersection count back before sorting (e.g. after the
    /// scene grew), so it cannot overflow the capacity.
    pub fn resync(&mut self) {
        self.resync = true;
    }

    /// The last frame's colour buffer (`vec4<f32>` per pixel, row-major) and its size.
    pub fn color_buffer(&self) -> Option<(&wgpu::Buffer, u32, u32)> {
        self.image.as_ref().map(|i| (&i.rgba, i.width, i.height))
    }

    /// Copies the last frame to the CPU.
    pub async fn read_image(&self) -> Result<RenderedImage, GpuError> {
        let Some(image) = &self.image else {
            return Err(GpuError::Readback("nothing rendered yet".into()));
        };
        let pixels = (image.width * image.height) as usize;
        let rgba: Vec<[f32; 4]> = read_buffer(&self.ctx, &image.rgba, pixels).await?;
        let depth: Vec<f32> = read_buffer(&self.ctx, &image.depth, pixels).await?;
        Ok(RenderedImage {
            width: image.width,
            height: image.height,
            rgba,
            depth,
        })
    }
}
