//! Where a dataset's files come from: a folder on disk ([`FolderSource`], native) or files held
//! in memory ([`MemorySource`]: the files a person picked in the browser). The loader
//! ([`TrainDataset::load_from`](super::TrainDataset::load_from)) sees only relative,
//! `/`-separated paths, so one loader serves both.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A tree of files addressed by relative `/`-separated paths (`""` is the root; a native folder
/// also resolves `../`).
pub trait DatasetSource: Sync {
    /// The bytes of the file at `path`, `Ok(None)` when there is no such file.
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Whether a file exists at `path`.
    fn is_file(&self, path: &str) -> bool;
    /// Whether a folder exists at `path`.
    fn is_dir(&self, path: &str) -> bool;
    /// `path` as error messages show it.
    fn display(&self, path: &str) -> PathBuf;
}

/// `base/name` (just `name` when `base` is the root).
pub(super) fn join(base: &str, name: &str) -> String {
    match (base.trim_end_matches('/'), name.trim_start_matches("./")) {
        ("", name) => name.to_string(),
        (base, name) => format!("{base}/{name}"),
    }
}

/// A folder on disk.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct FolderSource {
    pub root: PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl DatasetSource for FolderSource {
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.root.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn is_file(&self, path: &str) -> bool {
        self.root.join(path).is_file()
    }

    fn is_dir(&self, path: &str) -> bool {
        self.root.join(path).is_dir()
    }

    fn display(&self, path: &str) -> PathBuf {
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }
}

/// Files held in memory under their relative paths, as a browser's file picker gives them (a
/// picked folder's `webkitRelativePath`, or bare names for separately picked files).
///
/// Paths are normalised: `\` becomes `/`, `./` segments and a folder that contains every file
/// are dropped (a picked folder `fox/` becomes the root). A path that is not found falls back to
/// the one file with the same base name when read, so a `transforms.json` whose frames say
/// `images/0001.jpg` works with photos picked without their folder.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: BTreeMap<String, Vec<u8>>,
    /// Base name → the paths that end in it.
    by_name: BTreeMap<String, Vec<String>>,
}

/// `path` with `\` as `/`, without empty and `.` segments.
fn normalise(path: &str) -> String {
    path.replace('\\', "/")
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn base_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

impl MemorySource {
    /// The files `(path, bytes)`; a later file with the same normalised path replaces an
    /// earlier one.
    pub fn new(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let mut files: BTreeMap<String, Vec<u8>> = files
            .into_iter()
            .map(|(path, bytes)| (normalise(&path), bytes))
            .filter(|(path, _)| !path.is_empty())
            .collect();
        // Drop a top folder shared by every file (repeatedly: `a/b/...` for all → root `a/b`).
        while let Some(first) = files.keys().next() {
            let Some((top, _)) = first.split_once('/') else {
                break;
            };
            let prefix = format!("{top}/");
            if !files.keys().all(|k| k.starts_with(&prefix)) {
                break;
            }
            files = files
                .into_iter()
                .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                .collect();
        }
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in files.keys() {
            by_name
                .entry(base_name(path).to_string())
                .or_default()
                .push(path.clone());
        }
        Self { files, by_name }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total bytes held.
    pub fn bytes(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }

    /// The stored path `path` resolves to: itself, else the only file with its base name.
    fn resolve(&self, path: &str) -> Option<&str> {
        let path = normalise(path);
        if path.split('/').any(|s| s == "..") {
            return None;
        }
        if let Some((key, _)) = self.files.get_key_value(&path) {
            return Some(key);
        }
        match self.by_name.get(base_name(&path)).map(Vec::as_slice) {
            Some([only]) => Some(only),
            _ => None,
        }
    }
}

impl DatasetSource for MemorySource {
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self
            .resolve(path)
            .and_then(|key| self.files.get(key))
            .cloned())
    }

    /// Exact paths only (no base-name fallback), so that layout detection sees the real tree.
    fn is_file(&self, path: &str) -> bool {
        self.files.contains_key(&normalise(path))
    }

    fn is_dir(&self, path: &str) -> bool {
        let path = normalise(path);
        if path.split('/').any(|s| s == "..") {
            return false;
        }
        if path.is_empty() {
            return !self.files.is_empty();
        }
        let prefix = format!("{path}/");
        self.files.keys().any(|k| k.starts_with(&prefix))
    }

    fn display(&self, path: &str) -> PathBuf {
        PathBuf::from(if path.is_empty() {
            "the picked files".to_string()
        } else {
            normalise(path)
        })
    }
}
