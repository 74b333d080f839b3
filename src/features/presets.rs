//! Feature-extraction quality presets: the one mapping from `low` / `medium` / `high` to SIFT
//! settings, used by the server's jobs, the PWA's upload form and the preset tests.

use serde::{Deserialize, Serialize};

use super::sift::SiftParams;

/// How hard feature extraction works. Medium (the default) is the setting measured on the
/// Strecha pairs against COLMAP: doubled first octave, contrast 0.02. RootSIFT throughout
/// (COLMAP's default too: +2–4 % matches there at equal or better epipolar accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// No upsampling, default contrast, 2048 features: fast previews.
    Low,
    /// Doubled first octave, contrast 0.02, 8192 features.
    #[default]
    Medium,
    /// Doubled first octave, contrast 0.0133, 16384 features.
    High,
}

impl Quality {
    /// Every preset, for forms and tests.
    pub const ALL: [Quality; 3] = [Quality::Low, Quality::Medium, Quality::High];

    /// The name used in job inputs and forms.
    pub fn name(self) -> &'static str {
        match self {
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        }
    }

    /// The preset called `name` (see [`Self::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.name() == name)
    }

    /// Features kept per image by default.
    pub fn feature_cap(self) -> u32 {
        match self {
            Quality::Low => 2048,
            Quality::Medium => 8192,
            Quality::High => 16384,
        }
    }

    /// Frames kept from a video (the sharpest of each of this many equal time windows): enough
    /// overlap for SfM at low, denser coverage at high.
    pub fn video_frames(self) -> u32 {
        match self {
            Quality::Low => 30,
            Quality::Medium => 50,
            Quality::High => 100,
        }
    }

    /// The SIFT settings, keeping at most `max_features` (default [`Self::feature_cap`]).
    pub fn sift_params(self, max_features: Option<u32>) -> SiftParams {
        let (upsample, contrast_threshold) = match self {
            Quality::Low => (false, 0.04),
            Quality::Medium => (true, 0.02),
            Quality::High => (true, 0.0133),
        };
        SiftParams {
            max_features: Some(max_features.unwrap_or(self.feature_cap())),
            upsample,
            contrast_threshold,
            root_sift: true,
            ..SiftParams::default()
        }
    }
}
