//! `splatpod-bench sort|render|match|extract|capture|strecha`: GPU benchmarks that write `bench/results/NAME.json`.
//!
//! Each result holds the device, the commit, and numeric fields named with their unit; where a
//! peer exists (torch.sort for the sort), its figure sits beside ours with the ratio.

use std::collections::BTreeMap;
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use serde_json::{json, Map, Value};
use splatpod::gpu::{read_buffer, storage_buffer, storage_buffer_init, GpuContext};
use splatpod::sort::RadixSort;

use splatpod_server::sfm_cli::photo_paths;

use crate::args::{
    CaptureBenchArgs, ExtractBenchArgs, MatchBenchArgs, RenderBenchArgs, SortBenchArgs,
    StrechaBenchArgs,
};
use crate::error::BenchError;
use crate::results::{merge_into, write_result};

/// The fields every result file starts with: its name, the device (adapter, backend, driver)
/// and the commit measured.
fn result_header(name: &str, ctx: &GpuContext, commit: &str) -> Map<String, Value> {
    let s = ctx.summary();
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert(
        "device".into(),
        json!(format!(
            "{} ({}, {} {})",
            s.name, s.backend, s.driver, s.driver_info
        )),
    );
    fields.insert("commit".into(), json!(commit));
    fields
}

/// Median of GPU-timestamped sorts (falls back to wall clock where timestamps are missing).
async fn time_sort(
    ctx: &GpuContext,
    sorter: &RadixSort,
    n: u32,
    iterations: u32,
    chunks: Option<u32>,
    bar: &ProgressBar,
) -> Result<f64, BenchError> {
    let mut rng = SmallRng::seed_from_u64(n as u64);
    let keys: Vec<u32> = (0..n).map(|_| rng.random()).collect();
    let values: Vec<u32> = (0..n).collect();
    let pristine_k = storage_buffer_init(ctx, "bench keys", &keys);
    let pristine_v = storage_buffer_init(ctx, "bench values", &values);
    let work_k = storage_buffer(ctx, "bench work keys", n as u64 * 4);
    let work_v = storage_buffer(ctx, "bench work values", n as u64 * 4);
    let plan = match chunks {
        Some(c) => sorter.plan_with_blocks(ctx, &work_k, &work_v, n, 32, c)?,
        None => sorter.plan(ctx, &work_k, &work_v, n, 32)?,
    };

    let timestamps = ctx.has_timestamps();
    let query_set = timestamps.then(|| {
        ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("sort timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        })
    });
    let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("timestamp resolve"),
        size: 16,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let period_ns = ctx.queue.get_timestamp_period() as f64;

    let mut samples = Vec::new();
    for i in 0..iterations + 3 {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&pristine_k, 0, &work_k, 0, n as u64 * 4);
        enc.copy_buffer_to_buffer(&pristine_v, 0, &work_v, 0, n as u64 * 4);
        let writes = query_set
            .as_ref()
            .map(|qs| wgpu::ComputePassTimestampWrites {
                query_set: qs,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
        plan.encode(&mut enc, writes);
        if let Some(qs) = &query_set {
            enc.resolve_query_set(qs, 0..2, &resolve, 0);
        }
        let start = std::time::Instant::now();
        ctx.queue.submit([enc.finish()]);
        ctx.wait_idle()?;
        let wall_ms = start.elapsed().as_secs_f64() * 1e3;
        let ms = if timestamps {
            let t: Vec<u64> = read_buffer(ctx, &resolve, 2).await?;
            t[1].wrapping_sub(t[0]) as f64 * period_ns / 1e6
        } else {
            wall_ms
        };
        if i >= 3 {
            samples.push(ms);
        }
        bar.inc(1);
    }

    // The last run must be a correct sort, or the timing means nothing.
    let got: Vec<u32> = read_buffer(ctx, &work_k, n as usize).await?;
    let mut want = keys;
    want.sort_unstable();
    if got != want {
        return Err(BenchError::Failed(format!(
            "GPU sort of {n} keys was wrong"
        )));
    }
    Ok(median(samples))
}

/// Runs the peer script; `None` (with a warning) where python3 or torch is missing.
fn torch_peer(args: &SortBenchArgs, sizes: &[u32]) -> Option<Value> {
    if !args.peer_script.is_file() {
        tracing::warn!("peer script {} not found", args.peer_script.display());
        return None;
    }
    let list = sizes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("python3")
        .arg(&args.peer_script)
        .args([
            "--sizes",
            &list,
            "--iterations",
            &args.iterations.to_string(),
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            tracing::warn!("torch peer failed: {}", String::from_utf8_lossy(&o.stderr));
            None
        }
        Err(e) => {
            tracing::warn!("cannot run python3: {e}");
            None
        }
    }
}

pub async fn sort(args: SortBenchArgs) -> Result<(), BenchError> {
    let ctx = GpuContext::new().await?;
    let sorter = RadixSort::new(&ctx);
    let sizes: Vec<u32> = args.sizes_m.iter().map(|m| m << 20).collect();
    let bar = ProgressBar::new(sizes.len() as u64 * (args.iterations as u64 + 3));
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut ours = BTreeMap::new();
    for &n in &sizes {
        bar.set_message(format!("sort {}M", n >> 20));
        ours.insert(
            n,
            time_sort(
                &ctx,
                &sorter,
                n,
                args.iterations,
                args.chunks_per_block,
                &bar,
            )
            .await?,
        );
    }
    bar.finish_and_clear();
    let peer = torch_peer(&args, &sizes);

    let mut fields = result_header("sort", &ctx, &args.commit);
    fields.insert("key_bits".into(), json!(32));
    fields.insert(
        "timing".into(),
        json!(if ctx.has_timestamps() {
            "gpu timestamps, median"
        } else {
            "wall clock, median"
        }),
    );
    if let Some(p) = &peer {
        fields.insert(
            "peer".into(),
            json!(format!(
                "torch.sort stable=True (CUB SortPairs, int32 keys, int64 indices), torch {}",
                p["torch"].as_str().unwrap_or("?")
            )),
        );
        fields.insert("peer_device".into(), p["device"].clone());
    }
    for (&n, &ms) in &ours {
        let tag = format!("{}m", n >> 20);
        let mkeys = n as f64 / ms / 1e3;
        fields.insert(format!("ms_{tag}"), json!(round3(ms)));
        fields.insert(format!("mkeys_per_s_{tag}"), json!(round3(mkeys)));
        let peer_ms = peer.as_ref().and_then(|p| p["ms"][n.to_string()].as_f64());
        if let Some(pms) = peer_ms {
            let pmkeys = n as f64 / pms / 1e3;
            fields.insert(format!("ms_{tag}_torch"), json!(round3(pms)));
            fields.insert(format!("mkeys_per_s_{tag}_torch"), json!(round3(pmkeys)));
            fields.insert(
                format!("ratio_{tag}_vs_torch"),
                json!(round3(mkeys / pmkeys)),
            );
        }
        println!(
            "sort {:>3}M pairs: {ms:8.3} ms  {mkeys:9.1} Mkeys/s{}",
            n >> 20,
            peer_ms
                .map(|p| format!("   torch.sort {p:8.3} ms  ratio {:.3}", p / ms))
                .unwrap_or_default()
        );
    }
    write_result(&args.out, fields)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub async fn render(args: RenderBenchArgs) -> Result<(), BenchError> {
    use glam::Vec3;
    use splatpod::render::{Camera, GpuScene, Renderer};

    let ctx = GpuContext::new_for_large_scenes().await?;
    let mut fields = result_header("render", &ctx, &args.commit);
    fields.insert("scene".into(), json!("procedural unit ball, SH degree 3, sigma log-uniform 0.001..0.01, fov 50 deg framing the ball"));
    fields.insert("timing".into(), json!("median over frames; wall = CPU submit to finish (one submission per frame, the intersection count stays on the GPU); stages = GPU timestamps"));
    let res = format!("{}p", args.height);
    for &m in &args.splats_m {
        let n = (m * 1_000_000.0) as usize;
        let tag = format!(
            "{res}_{}m",
            if m.fract() == 0.0 {
                format!("{}", m as u32)
            } else {
                format!("{m}")
            }
            .replace('.', "p")
        );
        let bar = ProgressBar::new(args.frames as u64 + 3);
        bar.set_message(format!("render {m}M"));
        let scene = splatpod::render::procedural_scene(n, n as u64);
        let mut renderer = Renderer::new(&ctx, GpuScene::upload(&ctx, &scene)?)?;
        let timed = renderer.enable_timestamps();
        drop(scene);
        let (mut wall, mut stages, mut isects) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..args.frames + 3 {
            let angle = f as f32 * 0.02;
            let eye = Vec3::new(2.6 * angle.sin(), -0.3, -2.6 * angle.cos());
            let cam = Camera::look_at(
                eye,
                Vec3::ZERO,
                Vec3::NEG_Y,
                50f32.to_radians(),
                args.width,
                args.height,
            );
            let start = std::time::Instant::now();
            let stats = renderer.render(&cam, Vec3::ZERO).await?;
            ctx.wait_idle()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            if f >= 3 {
                wall.push(ms);
                isects.push(stats.intersections as f64);
                if timed {
                    if let Some(t) = renderer.stage_times().await? {
                        stages.push(t);
                    }
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let wall_ms = median(wall);
        fields.insert(format!("ms_per_frame_{tag}"), json!(round3(wall_ms)));
        fields.insert(format!("fps_{tag}"), json!(round3(1000.0 / wall_ms)));
        fields.insert(format!("intersections_{tag}"), json!(median(isects)));
        let mut line = format!(
            "render {m}M splats {}x{}: {wall_ms:.3} ms/frame ({:.0} fps)",
            args.width,
            args.height,
            1000.0 / wall_ms
        );
        if !stages.is_empty() {
            let pick = |f: fn(&splatpod::render::StageTimes) -> f64| {
                median(stages.iter().map(f).collect())
            };
            let project = pick(|t| t.project_ms);
            let sort = pick(|t| t.depth_sort_ms + t.tile_sort_ms);
            let count = pick(|t| t.tile_count_scan_ms + t.emit_ms);
            let raster = pick(|t| t.rasterize_ms);
            let gpu = pick(|t| t.total_ms());
            fields.insert(format!("ms_project_{tag}"), json!(round3(project)));
            fields.insert(format!("ms_sort_{tag}"), json!(round3(sort)));
            fields.insert(format!("ms_tile_lists_{tag}"), json!(round3(count)));
            fields.insert(format!("ms_rasterize_{tag}"), json!(round3(raster)));
            fields.insert(format!("ms_gpu_{tag}"), json!(round3(gpu)));
            fields.insert(format!("fps_gpu_{tag}"), json!(round3(1000.0 / gpu)));
            line += &format!("  gpu {gpu:.3} ms = project {project:.3} + sorts {sort:.3} + tile lists {count:.3} + rasterize {raster:.3}");
        }
        println!("{line}");
    }
    write_result(&args.out, fields)
}

/// Random sparse descriptors (SIFT-like: most bins empty), `n` of them.
fn random_descriptors(n: u32, seed: u64) -> splatpod::features::Descriptors {
    let mut rng = SmallRng::seed_from_u64(seed);
    let raw: Vec<[u8; 128]> = (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                if rng.random_bool(0.3) {
                    rng.random_range(0..=255)
                } else {
                    0
                }
            })
        })
        .collect();
    splatpod::features::Descriptors::from_bytes(&raw)
}

pub async fn match_pairs(args: MatchBenchArgs) -> Result<(), BenchError> {
    use splatpod::features::{match_descriptors, match_descriptors_native, MatchOptions};
    let ctx = GpuContext::new().await?;
    let a = random_descriptors(args.features, 1);
    let b = random_descriptors(args.features, 2);
    let options = MatchOptions::default();
    let k = args.features / 1024;
    let mut fields = result_header("features", &ctx, &args.commit);
    fields.insert(
        "timing".into(),
        json!("median wall time per pair: upload, nearest two both ways, readback, ratio 0.8 + mutual check"),
    );
    if !args.cpu_only {
        let mut times = Vec::new();
        for i in 0..=args.pairs {
            let start = std::time::Instant::now();
            let matches = match_descriptors(&ctx, &a, &b, &options).await?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            if i > 0 {
                times.push(ms);
            }
            std::hint::black_box(matches);
        }
        let ms = median(times);
        fields.insert(format!("ms_per_pair_{k}k"), json!(round3(ms)));
        println!("match {k}k x {k}k descriptors on the GPU: {ms:.3} ms per pair");
    }
    // The native CPU matcher (what a software adapter's machine uses), on all cores.
    let mut times = Vec::new();
    for i in 0..=args.pairs {
        let start = std::time::Instant::now();
        let matches = match_descriptors_native(&a, &b, &options);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if i > 0 {
            times.push(ms);
        }
        std::hint::black_box(matches);
    }
    let ms = median(times);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    fields.insert(
        format!("ms_per_pair_{k}k_cpu_{cores}_cores"),
        json!(round3(ms)),
    );
    println!("match {k}k x {k}k descriptors on {cores} CPU cores: {ms:.3} ms per pair");
    merge_into(&args.out, fields)
}

/// Our matches and inlier fraction for one `scene:i:j` pair.
async fn strecha_pair(
    ctx: &GpuContext,
    args: &StrechaBenchArgs,
    spec: &str,
) -> Result<(usize, f64), BenchError> {
    use splatpod::features::sift::SiftParams;
    use splatpod::features::{
        extract_features_cpu, fraction_within, fundamental, match_descriptors, CalibratedCamera,
        MatchOptions,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let [scene, i, j] = parts[..] else {
        return Err(BenchError::BadInput(format!(
            "pair `{spec}` is not scene:i:j"
        )));
    };
    let index = |k: &str| {
        k.parse::<u32>()
            .map_err(|_| BenchError::BadInput(format!("`{k}` in `{spec}` is not an image index")))
    };
    let (i, j) = (index(i)?, index(j)?);
    let root = args.datasets.join(scene);
    // The settings of tests/strecha_matching.rs.
    let params = SiftParams {
        max_features: Some(4000),
        upsample: true,
        contrast_threshold: 0.02,
        ..SiftParams::default()
    };
    let image = |k: u32| -> Result<_, BenchError> {
        let path = root.join("images").join(format!("{k:04}.jpg"));
        let bytes = std::fs::read(&path)?;
        extract_features_cpu(&bytes, None, Some(args.max_side), &params)
            .map_err(|e| BenchError::BadInput(format!("{}: {e}", path.display())))
    };
    let camera = |k: u32| -> Result<_, BenchError> {
        let path = root.join("gt_cameras").join(format!("{k:04}.jpg.camera"));
        CalibratedCamera::from_strecha(&std::fs::read_to_string(&path)?)
            .map_err(|e| BenchError::BadInput(format!("{}: {e}", path.display())))
    };
    let (a, b) = (image(i)?, image(j)?);
    let f = fundamental(&camera(i)?, &camera(j)?, a.scale);
    let matches = match_descriptors(
        ctx,
        &a.descriptors,
        &b.descriptors,
        &MatchOptions::default(),
    )
    .await?;
    Ok((
        matches.len(),
        fraction_within(&f, &a.keypoints, &b.keypoints, &matches, 2.0),
    ))
}

pub async fn strecha(args: StrechaBenchArgs) -> Result<(), BenchError> {
    let ctx = GpuContext::new().await?;
    // Matching is exact integer arithmetic: these figures do not depend on the GPU, so they get
    // their own provenance fields and leave the file's `device` (speed figures) alone.
    let header = result_header("features", &ctx, &args.commit);
    let mut fields = Map::new();
    fields.insert("matching_quality_device".into(), header["device"].clone());
    fields.insert("matching_quality_commit".into(), header["commit"].clone());
    fields.insert(
        "matching_quality".into(),
        json!(format!(
            "Strecha pairs at {} px: SIFT (CPU reference, doubled first octave, contrast 0.02, \
             max 4000) + GPU matching (ratio 0.8, mutual); percent of matches within 2 px of the \
             ground-truth epipolar line",
            args.max_side
        )),
    );
    let peer = args
        .peer_script
        .is_file()
        .then(|| {
            Command::new("python3")
                .arg(&args.peer_script)
                .arg("--datasets")
                .arg(&args.datasets)
                .args([
                    "--pairs",
                    &args.pairs.join(","),
                    "--max-side",
                    &args.max_side.to_string(),
                ])
                .output()
                .ok()
        })
        .flatten()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok());
    match &peer {
        Some(p) => {
            fields.insert("matching_peer".into(), p["peer"].clone());
        }
        None => tracing::warn!("COLMAP peer unavailable (python3 with pycolmap, pillow, numpy)"),
    }
    for spec in &args.pairs {
        let (n, inliers) = strecha_pair(&ctx, &args, spec).await?;
        let tag = spec.replace(['-', ':'], "_").to_lowercase();
        fields.insert(format!("matches_{tag}"), json!(n));
        fields.insert(
            format!("within_2px_pct_{tag}"),
            json!(round3(100.0 * inliers)),
        );
        let mut line = format!("{spec}: {n} matches, {:.1} % within 2 px", 100.0 * inliers);
        let theirs = peer.as_ref().map(|p| &p["pairs"][spec.as_str()]);
        if let Some((pn, pf)) =
            theirs.and_then(|t| Some((t["matches"].as_u64()?, t["within_2px"].as_f64()?)))
        {
            fields.insert(format!("matches_{tag}_colmap"), json!(pn));
            fields.insert(
                format!("within_2px_pct_{tag}_colmap"),
                json!(round3(100.0 * pf)),
            );
            fields.insert(
                format!("ratio_matches_{tag}_vs_colmap"),
                json!(round3(n as f64 / pn.max(1) as f64)),
            );
            line += &format!("   COLMAP: {pn} matches, {:.1} %", 100.0 * pf);
        }
        println!("{line}");
    }
    merge_into(&args.out, fields)
}

pub async fn extract(args: ExtractBenchArgs) -> Result<(), BenchError> {
    use splatpod::features::sift::SiftParams;
    use splatpod::features::SiftGpu;
    use splatpod::images::{decode_image, DecodeOptions};

    let ctx = GpuContext::new_for_large_scenes().await?;
    let sift = SiftGpu::new(&ctx);
    let params = SiftParams {
        max_features: Some(args.max_features),
        upsample: true,
        contrast_threshold: 0.02,
        ..SiftParams::default()
    };
    let paths = photo_paths(&args.images)?;
    if paths.is_empty() {
        return Err(BenchError::BadInput(format!(
            "no images in {}",
            args.images.display()
        )));
    }
    let options = DecodeOptions {
        max_side: Some(args.max_side),
        ..DecodeOptions::default()
    };
    // Decoded once, for both measurements.
    let mut decoded = Vec::with_capacity(paths.len());
    for path in &paths {
        decoded.push(
            decode_image(&std::fs::read(path)?, None, &options)
                .map_err(|e| BenchError::BadInput(format!("{}: {e}", path.display())))?,
        );
    }
    let (mut times, mut counts) = (Vec::new(), Vec::new());
    let mut size = (0, 0);
    // The first image warms the pipeline caches up and is not timed.
    for (n, img) in std::iter::once(&decoded[0])
        .chain(decoded.iter())
        .enumerate()
    {
        size = (img.width, img.height);
        let start = std::time::Instant::now();
        let (keypoints, _) = sift
            .detect_and_describe(&ctx, &img.gray, img.width, img.height, &params)
            .await?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if n > 0 {
            times.push(ms);
            counts.push(keypoints.len() as f64);
        }
    }
    let ms = median(times);
    // Throughput as the sfm pipeline extracts: several photos in flight at once
    // (`pipeline::extract_all`); wall time over the photos.
    let refs: Vec<&splatpod::images::DecodedImage> = decoded.iter().collect();
    let start = std::time::Instant::now();
    splatpod::sfm::pipeline::extract_all(&ctx, &sift, &refs, &params, &mut |_, _| {}).await?;
    let ms_concurrent = start.elapsed().as_secs_f64() * 1e3 / refs.len() as f64;
    let mut fields = result_header("features", &ctx, &args.commit);
    fields.insert(
        format!("ms_per_image_{}_concurrent", args.max_side),
        json!(round3(ms_concurrent)),
    );
    fields.insert(
        "extraction".into(),
        json!(format!(
            "GPU SIFT (doubled first octave, contrast 0.02, max {} features) on {} photos at {}x{}; median wall time per image after decode, incl. uploads and readbacks",
            args.max_features,
            paths.len(),
            size.0,
            size.1
        )),
    );
    fields.insert(format!("ms_per_image_{}", args.max_side), json!(round3(ms)));
    fields.insert(
        format!("features_per_image_{}", args.max_side),
        json!(median(counts)),
    );
    println!(
        "extract at {}x{}: {ms:.1} ms per image one at a time, {ms_concurrent:.1} ms per image with several in flight",
        size.0, size.1
    );
    merge_into(&args.out, fields)
}

/// The capture check on phone-sized photos: each photo is made a 4000x3000 JPEG (upscaled, in
/// memory), then timed as the capture page runs it: decode + downscale to 1600 px on the CPU,
/// then sharpness, SIFT and matching to the previous photo on the GPU (`CaptureAnalyzer`).
pub async fn capture(args: CaptureBenchArgs) -> Result<(), BenchError> {
    use splatpod::features::CaptureAnalyzer;
    use splatpod::images::{decode_image, DecodeOptions};

    let paths = photo_paths(&args.images)?;
    if paths.len() < 2 {
        return Err(BenchError::BadInput(format!(
            "need at least two photos in {}",
            args.images.display()
        )));
    }
    let mut jpegs = Vec::new();
    for p in &paths {
        let img = image::open(p)
            .map_err(|e| BenchError::BadInput(format!("{}: {e}", p.display())))?
            .resize_exact(4000, 3000, image::imageops::FilterType::Triangle)
            .to_rgb8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img)?;
        jpegs.push(out);
    }
    let ctx = GpuContext::new().await?;
    let analyzer = CaptureAnalyzer::new(&ctx, args.max_features);
    let options = DecodeOptions::default();
    let (mut decode_ms, mut gpu_ms, mut matches) = (Vec::new(), Vec::new(), Vec::new());
    let mut previous = None;
    // The first photo warms the pipelines up and is not timed.
    for (n, bytes) in std::iter::once(&jpegs[0]).chain(jpegs.iter()).enumerate() {
        let t = std::time::Instant::now();
        let img =
            decode_image(bytes, None, &options).map_err(|e| BenchError::BadInput(e.to_string()))?;
        let d = t.elapsed().as_secs_f64() * 1e3;
        let t = std::time::Instant::now();
        let q = analyzer
            .analyze(&ctx, &img.gray, img.width, img.height, previous.as_ref())
            .await?;
        let g = t.elapsed().as_secs_f64() * 1e3;
        if n > 1 {
            decode_ms.push(d);
            gpu_ms.push(g);
            matches.push(q.matches_to_previous.unwrap_or(0) as f64);
        }
        previous = Some(q.descriptors);
    }
    let (d, g) = (median(decode_ms), median(gpu_ms));
    println!("12-MP capture check: decode {d:.1} ms (CPU) + analysis {g:.1} ms (GPU)");
    let s = ctx.summary();
    let mut fields = Map::new();
    fields.insert(
        "capture_native_device".into(),
        json!(format!(
            "{} ({}, {} {})",
            s.name, s.backend, s.driver, s.driver_info
        )),
    );
    fields.insert("capture_native_commit".into(), json!(args.commit));
    fields.insert(
        "capture_native_note".into(),
        json!(format!(
            "CaptureAnalyzer natively: {} photos upscaled to 4000x3000 JPEG q90; decode + downscale to 1600x1200 on the CPU (image crate), then sharpness + SIFT (max {}) + matching to the previous photo on the GPU; medians over photos with a previous one (median {} matches)",
            paths.len(),
            args.max_features,
            median(matches)
        )),
    );
    fields.insert("ms_capture_12mp_decode_cpu".into(), json!(round3(d)));
    fields.insert("ms_capture_12mp_analyze_gpu".into(), json!(round3(g)));
    fields.insert("ms_capture_12mp_total".into(), json!(round3(d + g)));
    merge_into(&args.out, fields)
}
