//! The correspondence graph: for every keypoint of every image, the keypoints of other images
//! that verified matches tie it to.

use std::collections::HashMap;

use super::verify::VerifiedPair;
use crate::sfm::geometry::TwoViewConfig;

/// A keypoint of an image: (image index, keypoint index).
pub type Feature = (usize, u32);

/// Verified correspondences, by feature.
#[derive(Debug, Default)]
pub struct CorrespondenceGraph {
    links: Vec<HashMap<u32, Vec<Feature>>>,
}

impl CorrespondenceGraph {
    /// The graph of `images` images from verified pairs (degenerate pairs add nothing).
    pub fn new(images: usize, pairs: &[VerifiedPair]) -> Self {
        let mut links: Vec<HashMap<u32, Vec<Feature>>> = vec![HashMap::new(); images];
        for p in pairs {
            if p.config == TwoViewConfig::Degenerate || p.inliers.is_empty() {
                continue;
            }
            for &[i, j] in &p.inliers {
                links[p.a].entry(i).or_default().push((p.b, j));
                links[p.b].entry(j).or_default().push((p.a, i));
            }
        }
        Self { links }
    }

    /// The features tied to keypoint `kp` of `image`.
    pub fn neighbours(&self, image: usize, kp: u32) -> &[Feature] {
        self.links
            .get(image)
            .and_then(|m| m.get(&kp))
            .map_or(&[], Vec::as_slice)
    }

    /// Keypoints of `image` with at least one correspondence.
    pub fn linked_keypoints(&self, image: usize) -> impl Iterator<Item = u32> + '_ {
        self.links
            .get(image)
            .into_iter()
            .flat_map(|m| m.keys().copied())
    }

    /// Whether `image` has any verified correspondence.
    pub fn is_connected(&self, image: usize) -> bool {
        self.links.get(image).is_some_and(|m| !m.is_empty())
    }
}
