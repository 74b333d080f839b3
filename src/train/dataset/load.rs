//! Reading a dataset from a [`DatasetSource`] (a folder natively, picked files in the browser):
//! layout detection, the model files through [`crate::sfm`]'s readers, photos decoded and
//! undistorted (in parallel natively).

use crate::images::{decode_image, DecodeOptions, DEFAULT_MAX_PIXELS};
use crate::sfm::colmap::{ModelFiles, ModelFormat};
use crate::sfm::parallel::map_items;
use crate::sfm::transforms::Transforms;

use super::source::{join, DatasetSource};
use super::{
    camera_of, sfm_points, world_to_camera_from_colmap, world_to_camera_from_opengl, DatasetError,
    LoadOptions, TrainDataset, TrainView,
};

/// What a dataset holds (paths relative to the source's root).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// A `transforms.json`; frame paths are relative to `base`, its folder.
    Transforms { json: String, base: String },
    /// A COLMAP model folder and the folder its image names are relative to.
    Colmap { model: String, images: String },
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
    /// 3. or the model in `dir` itself, photos in the first of `dir/images/`, `dir/../images/`,
    ///    `dir/../../images/` and `dir` that exists (so `dir` may be `scene/sparse/0`).
    ///
    /// COLMAP image names are paths relative to the photo folder. The model's 3D points (with
    /// their colours) are the initial points, or random points if it has none. Each photo must
    /// have its camera's size (EXIF orientation applied).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(
        dir: &std::path::Path,
        options: &LoadOptions,
    ) -> Result<TrainDataset, DatasetError> {
        use super::source::FolderSource;
        options.validate()?;
        if !dir.exists() {
            return Err(DatasetError::NotFound {
                path: dir.to_path_buf(),
            });
        }
        let is_json = dir
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if dir.is_file() && is_json {
            let root = dir
                .parent()
                .map_or_else(std::path::PathBuf::new, |p| p.to_path_buf());
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("transforms.json");
            return load_transforms(&FolderSource { root }, name, "", options);
        }
        if dir.is_file() {
            return Err(DatasetError::NoDataset {
                dir: dir.to_path_buf(),
            });
        }
        Self::load_from(
            &FolderSource {
                root: dir.to_path_buf(),
            },
            options,
        )
    }

    /// Reads the dataset at the root of `source`, in the layouts of [`TrainDataset::load`]
    /// (the browser's path: the files a person picked, in a [`super::MemorySource`]).
    pub fn load_from(
        source: &dyn DatasetSource,
        options: &LoadOptions,
    ) -> Result<TrainDataset, DatasetError> {
        options.validate()?;
        match detect(source)? {
            Layout::Transforms { json, base } => load_transforms(source, &json, &base, options),
            Layout::Colmap { model, images } => load_colmap(source, &model, &images, options),
        }
    }
}

/// Finds the dataset at the root of `source` (see [`TrainDataset::load`]).
fn detect(source: &dyn DatasetSource) -> Result<Layout, DatasetError> {
    if source.is_file("transforms.json") {
        return Ok(Layout::Transforms {
            json: "transforms.json".into(),
            base: String::new(),
        });
    }
    let candidates: [(&str, &[&str]); 3] = [
        ("sparse/0", &["images"]),
        ("sparse", &["images"]),
        ("", &["images", "../images", "../../images", ""]),
    ];
    for (model, image_dirs) in candidates {
        let has_model = ["cameras.bin", "cameras.txt"]
            .iter()
            .any(|f| source.is_file(&join(model, f)));
        if !has_model {
            continue;
        }
        return match image_dirs.iter().find(|d| source.is_dir(d)) {
            Some(images) => Ok(Layout::Colmap {
                model: model.to_string(),
                images: images.to_string(),
            }),
            None => Err(DatasetError::NoImageFolder {
                model: source.display(model),
                tried: image_dirs
                    .iter()
                    .map(|d| source.display(d).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    Err(DatasetError::NoDataset {
        dir: source.display(""),
    })
}

/// `base/file_path`, or with an image extension added when it has none and only that exists.
fn resolve_image(source: &dyn DatasetSource, base: &str, file_path: &str) -> String {
    let path = join(base, file_path);
    let has_extension = std::path::Path::new(&path).extension().is_some();
    if has_extension || source.is_file(&path) {
        return path;
    }
    IMAGE_EXTENSIONS
        .iter()
        .map(|e| format!("{path}.{e}"))
        .find(|p| source.is_file(p))
        .unwrap_or(path)
}

/// Reads and decodes one photo at full size (EXIF orientation applied): RGBA8, width, height.
fn read_photo(
    source: &dyn DatasetSource,
    name: &str,
    path: &str,
) -> Result<(Vec<u8>, u32, u32), DatasetError> {
    let bytes = source
        .read(path)
        .map_err(|source_error| DatasetError::Io {
            path: source.display(path),
            source: source_error,
        })?
        .ok_or_else(|| DatasetError::MissingImage {
            name: name.to_string(),
            path: source.display(path),
        })?;
    let options = DecodeOptions {
        max_side: None,
        max_pixels: DEFAULT_MAX_PIXELS,
    };
    let hint = path.rsplit('/').next();
    let photo = decode_image(&bytes, hint, &options).map_err(|e| DatasetError::Image {
        name: name.to_string(),
        path: source.display(path),
        source: e,
    })?;
    Ok((photo.rgba8, photo.width, photo.height))
}

/// A view from a photo file.
fn read_view(
    source: &dyn DatasetSource,
    name: &str,
    path: &str,
    camera: &crate::sfm::Camera,
    world_to_camera: glam::DMat4,
    options: &LoadOptions,
) -> Result<TrainView, DatasetError> {
    let (rgba8, width, height) = read_photo(source, name, path)?;
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

/// A model or JSON file that must exist.
fn read_required(source: &dyn DatasetSource, path: &str) -> Result<Vec<u8>, DatasetError> {
    let io = |e| DatasetError::Io {
        path: source.display(path),
        source: e,
    };
    source.read(path).map_err(io)?.ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
    })
}

fn load_transforms(
    source: &dyn DatasetSource,
    json: &str,
    base: &str,
    options: &LoadOptions,
) -> Result<TrainDataset, DatasetError> {
    let bytes = read_required(source, json)?;
    let transforms_error = |e| DatasetError::Transforms {
        path: source.display(json),
        source: e,
    };
    let mut transforms = Transforms::from_json(&bytes).map_err(transforms_error)?;
    let paths: Vec<String> = transforms
        .frames
        .iter()
        .map(|f| resolve_image(source, base, &f.file_path))
        .collect();
    // Blender-style files give no image size: take the first photo's.
    let global = &transforms.intrinsics;
    let sizeless = transforms.frames.iter().any(|f| {
        (global.w.is_none() && f.intrinsics.w.is_none())
            || (global.h.is_none() && f.intrinsics.h.is_none())
    });
    if sizeless {
        if let (Some(first), Some(path)) = (transforms.frames.first(), paths.first()) {
            let (_, w, h) = read_photo(source, &first.file_path, path)?;
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
        read_view(source, name, &paths[k], camera, w2c, options)
    });
    let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;
    TrainDataset::from_views(views, Vec::new(), options)
}

fn load_colmap(
    source: &dyn DatasetSource,
    model: &str,
    images: &str,
    options: &LoadOptions,
) -> Result<TrainDataset, DatasetError> {
    let format = if source.is_file(&join(model, "cameras.bin")) {
        ModelFormat::Binary
    } else {
        ModelFormat::Text
    };
    let names = format.file_names();
    let files = ModelFiles {
        cameras: read_required(source, &join(model, names.cameras))?,
        images: read_required(source, &join(model, names.images))?,
        points3d: read_required(source, &join(model, names.points3d))?,
    };
    let rec = format.read(&files)?;
    let list: Vec<_> = rec.images.values().collect();
    let views = map_items(list.len(), &mut |_| {}, |k| {
        let image = list[k];
        let camera = camera_of(&rec, image)?;
        let w2c = world_to_camera_from_colmap(&image.cam_from_world);
        let path = join(images, &image.name);
        read_view(source, &image.name, &path, camera, w2c, options)
    });
    let views = views.into_iter().collect::<Result<Vec<_>, _>>()?;
    TrainDataset::from_views(views, sfm_points(&rec), options)
}
