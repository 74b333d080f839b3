//! `splatpod-server render`: a scene file to a PNG (also used for project thumbnails).

use glam::Vec3;
use splatpod::gpu::GpuContext;
use splatpod::render::{Camera, GpuScene, RenderedImage, Renderer};

use crate::cli::RenderArgs;
use crate::error::ServerError;

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

/// PNG bytes of a rendered frame as an opaque RGB image (colours are already composited over
/// the background).
pub fn opaque_png(image: &RenderedImage) -> Result<Vec<u8>, ServerError> {
    let rgb: Vec<u8> = image
        .to_rgba8()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let img = image::RgbImage::from_raw(image.width, image.height, rgb)
        .ok_or_else(|| ServerError::Internal("image buffer size mismatch".into()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

pub async fn run(args: RenderArgs) -> Result<(), ServerError> {
    let bytes = std::fs::read(&args.scene)?;
    let name = args.scene.file_name().and_then(|n| n.to_str());
    let scene = splatpod::formats::load_scene(&bytes, name)?;
    let cam = camera_for(&args, &scene.positions)?;
    let ctx = GpuContext::new_for_large_scenes().await?;
    let mut renderer = Renderer::new(&ctx, GpuScene::upload(&ctx, &scene)?)?;
    let start = std::time::Instant::now();
    let stats = renderer.render(&cam, Vec3::from(args.background)).await?;
    let image = renderer.read_image().await?;
    std::fs::write(&args.out, opaque_png(&image)?)?;
    println!(
        "rendered {} splats ({} tile intersections) at {}x{} in {:.1} ms -> {}",
        scene.len(),
        stats.intersections,
        image.width,
        image.height,
        start.elapsed().as_secs_f64() * 1e3,
        args.out.display()
    );
    Ok(())
}
