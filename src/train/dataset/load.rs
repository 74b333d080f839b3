//! Reading a dataset folder (native only): layout detection, the model files through
//! [`crate::sfm`]'s readers, photos decoded and undistorted in parallel.

use std::path::{Path, PathBuf};

use crate::images::{decode_image, DecodeOptions, DEFAULT_MAX_PIXELS};
use crate::sfm::colmap::read_model;
use crate::sfm::parallel::map_items;
use crate::sfm::transforms::Transforms;

use super::{
    sfm_points, world_to_camera_from_colmap, world_to_camera_from_opengl, DatasetError,
    LoadOptions, TrainDataset, TrainView,
};

/// What a dataset folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// A `transforms.json`; frame paths are relative to `base`, its folder.
    Transforms { json: PathBuf, base: PathBuf },
    /// A COLMAP model folder and the folder its image names are relative to.
    Colmap { model: PathBuf, images: PathBuf },
}

/// Extensions tried for a `file_path` given without one (NeRF-synthetic's `./train/r_0`).
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "PNG", "JPG", "JPEG"];

impl TrainDataset {
    /// Reads the dataset in `dir`: poses, photos (decoded at full size, undistorted, then
    /// downscaled per `options`, in parallel), the split and the initial points.
    ///
    /// Accepted layouts, tried in this order:
    /// 1. `dir` is a `.json` file, or `dir/transforms.json` exists: nerfstudio / instant-ngp
    ///    `transforms.json` (see [`crate::sfm::transforms`]); `file_path`s are relative to the
    ///    JSON's folder, and one without an extension gets the first of `.png`, `.jpg`, `.jpeg`
    ///    that exists. When no `w`/`h` is given anywhere, the size is the first frame's photo.
    ///    Poses: `transform_matrix · diag(1, −1, −1, 1)` inverted in f64, as the peer. No points
    ///    ship with it: the initial points are random.
    /// 2. A COLMAP model (`cameras`, `images`, `points3D` as `.bin`, else `.txt`) in
    ///    `dir/sparse/0/` or `dir/sparse/`, photos in `dir/images/`;
    /// 3. or the model in `dir` itself, photos in the first of `dir/images/`, `dir/../images/`
    ///    and `dir/../../images/` that exists (so `dir` may be `scene/sparse/0`).
    ///
    /// COLMAP image names are paths relative to the photo folder. The model's 3D points (with
    /// their colours) are the initial points, or random points if it has none. Each photo must
    /// have its camera's size (EXIF orientation applied).
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<TrainDataset, DatasetError> {
        options.validate()?;
        match detect(dir)? {
            Layout::Transforms { json, base } => load_transforms(&json, &base, options),
            Layout::Colmap { model, images } => load_colmap(&model, &images, options),
        }
    }
}

/// Finds the dataset in `dir` (see [`TrainDataset::load`]).
fn detect(dir: &Path) -> Result<Layout, DatasetError> {
    if !dir.exists() {
        return Err(DatasetError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let parent = |p: &Path| p.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    if dir.is_file() {
        if dir
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return Ok(Layout::Transforms {
                json: dir.to_path_buf(),
                base: parent(dir),
            });
        }
        return Err(DatasetError::NoDataset {
            dir: dir.to_path_buf(),
        });
    }
    let json = dir.join("transforms.json");
    if json.is_file() {
        return Ok(Layout::Transforms {
            json,
            base: dir.to_path_buf(),
        });
    }
    let up = parent(dir);
    let candidates = [
        (dir.join("sparse/0"), vec![dir.join("images")]),
        (dir.join("sparse"), vec![dir.join("images")]),
        (
            dir.to_path_buf(),
            vec![
                dir.join("images"),
                up.join("images"),
                parent(&up).join("images"),
            ],
        ),
    ];
    for (model, image_dirs) in candidates {
        let has_model = ["cameras.bin", "cameras.txt"]
            .iter()
            .any(|f| model.join(f).is_file());
        if !has_model {
            continue;
        }
        return match image_dirs.iter().find(|d| d.is_dir()) {
            Some(images) => Ok(Layout::Colmap {
                model,
                images: images.clone(),
            }),
            None => Err(DatasetError::NoImageFolder {
                model,
                tried: image_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    Err(DatasetError::NoDataset {
        dir: dir.to_path_buf(),
    })
}

/// `base/file_path`, or with an image extension added when it has none and only that exists.
fn resolve_image(base: &Path, file_path: &str) -> PathBuf {
    let path = base.join(file_path);
    if path.is_file() || path.extension().is_some() {
        return path;
    }
    IMAGE_EXTENSIONS
        .iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.is_file())
        .unwrap_or(path)
}

/// Reads and decodes one photo at full size (EXIF orientation applied): RGBA8, width, height.
fn read_photo(name: &str, path: &Path) -> Result<(Vec<u8>, u32, u32), DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DatasetError::MissingImage {
                name: name.to_string(),
                path: path.to_path_buf(),
            }
        } else {
            DatasetError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let options = DecodeOptions {
        max_side: None,
        max_pixels: DEFAULT_MAX_PIXELS,
    };
    let hint = path.file_name().and_then(|n| n.to_str());
    let photo = decode_image(&bytes, hint, &options).map_err(|source| DatasetError::Image {
        name: name.to_string(),
        path: path.to_path_buf(),
        source,
    })?;
    Ok((photo.rgba8, photo.width, photo.height))
}

/// A view from a photo file.
fn read_view(
    name: &str,
    path: &Path,
    camera: &crate::sfm::Camera,
    world_to_camera: glam::DMat4,
    options: &LoadOptions,
) -> Result<TrainView, DatasetError> {
    let (rgba8, width, height) = read_photo(name, path)?;
    TrainView::from_photo(
        name.to_string(),
        camera,
        world_to_camera,
        &rgba8,
        width,
        height,
        options,
    )
}

fn load_transforms(
    json: &Path,
    base: &Path,
    options: &LoadOptions,
) -> Result<TrainDataset, DatasetError> {
    let bytes = std::fs::read(json).map_err(|source| DatasetError::Io {
        path: json.to_path_buf(),
        source,
    })?;
    let transforms_error = |source| DatasetError::Transforms {
        path: json.to_path_buf(),
        source,
    };
    let mut transforms = Transforms::from_json(&bytes).map_err(transforms_error)?;
    let paths: Vec<PathBuf> = transforms
        .frames
        .iter()
        .map(|f| resolve_image(base, &f.file_path))
        .collect();
    // Blender-style files give no image size: take the first photo's.
    let global = &transforms.intrinsics;
    let sizeless = transforms.frames.iter().any(|f| {
        (global.w.is_none() && f.intrinsics.w.is_none())
            || (global.h.is_none() && f.intrinsics.h.is_none())
    });
    if sizeless {
        if let (Some(first), Some(path)) = (transforms.frames.first(), paths.first()) {
            let (_, w, h) = read_photo(&first.file_path, path)?;
            let global = &mut transforms.intrinsics;
            global.w = global.w.or(Some(f64::from(w)));
            global.h = global.h.or(Some(f64::from(h)));
        }
    }
    let rec = transforms.to_reconstruction().map_err(transforms_error)?;
    let views = map_items(transforms.frames.len(), &mut |_| {}, |k| {
        let frame = &transforms.frames[k];
        let name = &frame.file_path;
        // Reading makes image k + 1 of frame k (see `sfm::transforms`).
        let camera = u32::try_from(k + 1)
            .ok()
            .and_then(|id| rec.images.get(&id))
            .and_then(|image| rec.cameras.get(&image.camera_id))
            .ok_or_else(|| DatasetError::InvalidView {
                name: name.clone(),
                reason: "the frame has no camera in the parsed model".into(),
            })?;
        let w2c = world_to_camera_from_opengl(&frame.transform_matrix);
        read_view(name, &paths[k], camera, w2c, options)
    });
    let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;
    TrainDataset::from_views(views, Vec::new(), options)
}

fn load_colmap(
    model: &Path,
    images: &Path,
    options: &LoadOptions,
) -> Result<TrainDataset, DatasetError> {
    let rec = read_model(model)?;
    let list: Vec<_> = rec.images.values().collect();
    let views = map_items(list.len(), &mut |_| {}, |k| {
        let image = list[k];
        let camera =
            rec.cameras
                .get(&image.camera_id)
                .ok_or_else(|| DatasetError::InvalidView {
                    name: image.name.clone(),
                    reason: format!("its camera {} is not in the model", image.camera_id),
                })?;
        let w2c = world_to_camera_from_colmap(&image.cam_from_world);
        read_view(&image.name, &images.join(&image.name), camera, w2c, options)
    });
    let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;
    TrainDataset::from_views(views, sfm_points(&rec), options)
}
