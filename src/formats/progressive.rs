//! Progressive loading: a scene that grows as its file downloads, so the viewer can show what
//! has arrived. Binary PLY and `.splat` stream record by record; SPZ (stored attribute by
//! attribute, in one gzip stream or per-attribute ZSTD streams) and ASCII PLY appear when
//! complete.

use super::error::FormatError;
use super::load::{detect_format, load_scene, SceneFormat};
use super::ply::{read_ply_prefix, PlyPrefix};
use super::scene::GaussianScene;
use super::splat::{read_splat, SPLAT_RECORD_BYTES};

/// Accumulates a file's bytes and the splats parsed from them so far.
#[derive(Debug, Default)]
pub struct ProgressiveLoader {
    name_hint: Option<String>,
    bytes: Vec<u8>,
    scene: GaussianScene,
    declared: Option<u64>,
    streamable: bool,
}

impl ProgressiveLoader {
    /// A loader for a file called `name_hint` (used when the content has no magic number).
    pub fn new(name_hint: Option<&str>) -> Self {
        Self {
            name_hint: name_hint.map(str::to_owned),
            streamable: true,
            ..Self::default()
        }
    }

    /// Adds the next chunk; returns how many splats it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<usize, FormatError> {
        self.bytes.extend_from_slice(chunk);
        if !self.streamable || self.bytes.len() < 4 {
            return Ok(0);
        }
        let before = self.scene.len();
        match detect_format(&self.bytes, self.name_hint.as_deref()) {
            Some(SceneFormat::Ply) => match read_ply_prefix(&self.bytes, before as u64)? {
                PlyPrefix::Waiting => {}
                PlyPrefix::NotStreamable => self.streamable = false,
                PlyPrefix::Vertices { scene, declared } => {
                    if self.scene.is_empty() {
                        self.scene.sh_degree = scene.sh_degree;
                    }
                    self.declared = Some(declared);
                    self.append(&scene);
                }
            },
            Some(SceneFormat::Splat) if self.name_hint.is_some() => {
                let whole = self.bytes.len() / SPLAT_RECORD_BYTES;
                if whole > before {
                    let new = read_splat(
                        &self.bytes[before * SPLAT_RECORD_BYTES..whole * SPLAT_RECORD_BYTES],
                    )?;
                    self.append(&new);
                }
            }
            // SPZ, or content we cannot identify until the end.
            _ => self.streamable = false,
        }
        Ok(self.scene.len() - before)
    }

    fn append(&mut self, new: &GaussianScene) {
        for i in 0..new.len() {
            self.scene.push_from(new, i);
        }
    }

    /// The splats parsed so far.
    pub fn scene(&self) -> &GaussianScene {
        &self.scene
    }

    /// Splats the file declares, once its header has arrived (binary PLY only).
    pub fn declared(&self) -> Option<u64> {
        self.declared
    }

    /// Bytes received.
    pub fn received(&self) -> usize {
        self.bytes.len()
    }

    /// Finishes the download: the full scene, checked exactly as [`load_scene`] checks a whole
    /// file (so a truncated download is an error, not a silently smaller scene).
    pub fn finish(self) -> Result<GaussianScene, FormatError> {
        load_scene(&self.bytes, self.name_hint.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{save_ply, save_spz};

    fn scene(n: usize, degree: u32) -> GaussianScene {
        let mut s = GaussianScene::empty(degree);
        for i in 0..n {
            let f = i as f32;
            s.positions.push([f, -f, 0.5 * f]);
            s.log_scales.push([-2.0, -2.5, -3.0]);
            s.rotations.push([1.0, 0.0, 0.1 * f, 0.0]);
            s.opacity_logits.push(0.01 * f);
            s.sh.extend((0..s.sh_floats_per_splat()).map(|k| k as f32 * 0.01 + f));
        }
        s
    }

    #[test]
    fn binary_ply_grows_chunk_by_chunk_and_ends_equal_to_the_whole_file() {
        let want = scene(257, 3);
        let bytes = save_ply(&want).expect("ply");
        let mut loader = ProgressiveLoader::new(Some("scene.ply"));
        let mut seen = Vec::new();
        for chunk in bytes.chunks(1000) {
            loader.push(chunk).expect("push");
            seen.push(loader.scene().len());
            // Whatever has arrived is exactly the first splats of the file.
            let got = loader.scene();
            assert_eq!(&got.positions[..], &want.positions[..got.len()]);
            assert_eq!(&got.sh[..], &want.sh[..got.sh.len()]);
        }
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert!(
            seen.iter().filter(|&&n| n > 0 && n < 257).count() > 10,
            "grew in steps: {seen:?}"
        );
        assert_eq!(loader.declared(), Some(257));
        assert_eq!(loader.scene(), &want);
        assert_eq!(loader.finish().expect("finish"), want);
    }

    #[test]
    fn spz_appears_only_when_complete_and_truncation_is_an_error() {
        let want = scene(100, 1);
        let bytes = save_spz(&want).expect("spz");
        let mut loader = ProgressiveLoader::new(Some("s.spz"));
        loader.push(&bytes[..bytes.len() / 2]).expect("push");
        assert!(loader.scene().is_empty());
        assert!(loader.finish().is_err(), "a half SPZ must not load");
        let mut loader = ProgressiveLoader::new(Some("s.spz"));
        loader.push(&bytes).expect("push");
        assert_eq!(loader.finish().expect("spz").len(), 100);
    }

    #[test]
    fn truncated_ply_download_fails_at_finish_and_garbage_fails_early() {
        let bytes = save_ply(&scene(50, 0)).expect("ply");
        let mut loader = ProgressiveLoader::new(Some("s.ply"));
        loader.push(&bytes[..bytes.len() - 10]).expect("push");
        assert_eq!(loader.scene().len(), 49);
        assert!(loader.finish().is_err());
        let mut loader = ProgressiveLoader::new(Some("s.ply"));
        assert!(loader.push(b"GIF89a not a ply at all").is_err());
    }
}
