//! `splatpod-server render`: a scene file to a PNG, through the thumbnails' render path
//! ([`crate::thumbnail`]).

use std::path::PathBuf;

use clap::Args;
use glam::Vec3;
use splatpod::gpu::GpuContext;
use splatpod::render::Camera;

use crate::error::ServerError;
use crate::thumbnail::render_png;

/// Three comma-separated numbers.
fn parse_vec3(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|e| format!("`{p}`: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(v).map_err(|v| format!("expected 3 numbers, got {}", v.len()))
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Scene file: 3DGS PLY, SPZ or antimatter15 .splat.
    pub scene: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "view.png")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Camera position x,y,z; default: framing the scene from `--view-dir`.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true)]
    pub eye: Option<[f32; 3]>,
    /// Point looked at; default: the centre of the scene's bulk.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true)]
    pub target: Option<[f32; 3]>,
    /// Up direction in the image (3DGS/COLMAP scenes are y-down, so 0,-1,0).
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true, default_value = "0,-1,0")]
    pub up: [f32; 3],
    /// Viewing direction used when framing automatically.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true, default_value = "0,0,1")]
    pub view_dir: [f32; 3],
    /// Vertical field of view in degrees.
    #[arg(long, default_value_t = 50.0)]
    pub fov_deg: f32,
    /// Background colour r,g,b in 0..1.
    #[arg(long, value_parser = parse_vec3, default_value = "0,0,0")]
    pub background: [f32; 3],
}

/// The camera the arguments describe: explicit eye/target, or framing the scene's bulk.
pub fn camera_for(args: &RenderArgs, positions: &[[f32; 3]]) -> Result<Camera, ServerError> {
    if args.width == 0 || args.height == 0 || args.width > 16384 || args.height > 16384 {
        return Err(ServerError::BadInput(format!(
            "image size {}x{} is outside 1..=16384",
            args.width, args.height
        )));
    }
    if !(1.0..=170.0).contains(&args.fov_deg) {
        return Err(ServerError::BadInput(format!(
            "field of view {}° is outside 1..=170",
            args.fov_deg
        )));
    }
    let fov = args.fov_deg.to_radians();
    let up = Vec3::from(args.up);
    Ok(match (args.eye, args.target) {
        (Some(eye), target) => {
            let target = target.map(Vec3::from).unwrap_or_else(|| {
                let (lo, hi) = splatpod::render::percentile_box(positions, 0.05);
                0.5 * (lo + hi)
            });
            if (target - Vec3::from(eye)).length() < 1e-6 {
                return Err(ServerError::BadInput("eye and target coincide".into()));
            }
            Camera::look_at(Vec3::from(eye), target, up, fov, args.width, args.height)
        }
        (None, _) => Camera::frame_points(
            positions,
            Vec3::from(args.view_dir),
            up,
            fov,
            args.width,
            args.height,
        ),
    })
}

/// Runs `render`.
pub async fn run(args: RenderArgs) -> Result<(), ServerError> {
    let bytes = std::fs::read(&args.scene)?;
    let name = args.scene.file_name().and_then(|n| n.to_str());
    let scene = splatpod::formats::load_scene(&bytes, name)?;
    let cam = camera_for(&args, &scene.positions)?;
    let ctx = GpuContext::new_for_large_scenes().await?;
    let frame = render_png(&ctx, &scene, &cam, Vec3::from(args.background)).await?;
    std::fs::write(&args.out, &frame.png)?;
    println!(
        "rendered {} splats ({} tile intersections) at {}x{} in {:.1} ms -> {}",
        scene.len(),
        frame.intersections,
        frame.width,
        frame.height,
        frame.render_ms,
        args.out.display()
    );
    Ok(())
}
