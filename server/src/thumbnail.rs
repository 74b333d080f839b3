//! A splat scene rendered to an opaque PNG: the one render path of the `render` command and of
//! the jobs' project thumbnails.

use glam::Vec3;
use splatpod::api::ProjectStartView;
use splatpod::formats::GaussianScene;
use splatpod::gpu::{GpuContext, GpuError};
use splatpod::render::{framing_forward, Camera, GpuScene, RenderedImage, Renderer};

/// Why a scene could not be rendered to a PNG.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The scene cannot be put on this device (upload or renderer set-up): rendering the same
    /// scene again fails again.
    #[error("{0}")]
    Scene(GpuError),
    /// Rendering or reading the frame back failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("image encoding failed: {0}")]
    Encode(#[from] image::ImageError),
    #[error("image buffer size mismatch")]
    BufferSize,
}

/// A rendered frame as PNG bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// (tile, splat) pairs the frame sorted and blended.
    pub intersections: u32,
    /// Time of the render and its readback, in milliseconds (without the upload and the PNG
    /// encoding).
    pub render_ms: f64,
}

/// Renders `scene` from `cam` over `background` on `ctx` and encodes the frame as a PNG.
pub async fn render_png(
    ctx: &GpuContext,
    scene: &GaussianScene,
    cam: &Camera,
    background: Vec3,
) -> Result<Frame, RenderError> {
    let gpu_scene = GpuScene::upload(ctx, scene).map_err(RenderError::Scene)?;
    let mut renderer = Renderer::new(ctx, gpu_scene).map_err(RenderError::Scene)?;
    let start = std::time::Instant::now();
    let stats = renderer.render(cam, background).await?;
    let image = renderer.read_image().await?;
    let render_ms = start.elapsed().as_secs_f64() * 1e3;
    Ok(Frame {
        png: opaque_png(&image)?,
        width: image.width,
        height: image.height,
        intersections: stats.intersections,
        render_ms,
    })
}

/// The camera of a `w × h` project thumbnail: the project's first view as
/// [`crate::start_view::resolve`] decides it (the owner's saved view or a capture camera),
/// else the scene framed from the front about the project's up axis (looking along +z with −y
/// up by default, as 3DGS/COLMAP scenes are stored).
pub fn thumbnail_camera(
    start: &ProjectStartView,
    positions: &[[f32; 3]],
    w: u32,
    h: u32,
) -> Camera {
    // The viewer's field of view unless the view has its own, so a thumbnail shows what the
    // viewer's first frame shows.
    let fov = splatpod::render::VIEWER_FOV_Y;
    match &start.start_view {
        Some(v) => {
            let fov = v.fov_y_deg.map_or(fov, f32::to_radians);
            Camera::look_at(v.eye.into(), v.target.into(), v.up.into(), fov, w, h)
        }
        None => {
            let up = Vec3::from(start.up_axis.vector());
            Camera::frame_points(positions, framing_forward(up), up, fov, w, h)
        }
    }
}

/// PNG bytes of a rendered frame as an opaque RGB image (colours are already composited over
/// the background).
pub fn opaque_png(image: &RenderedImage) -> Result<Vec<u8>, RenderError> {
    let rgb: Vec<u8> = image
        .to_rgba8()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let img =
        image::RgbImage::from_raw(image.width, image.height, rgb).ok_or(RenderError::BufferSize)?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}
