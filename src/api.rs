//! The HTTP API's request and response bodies, one definition for the server (which produces
//! them), the PWA (which reads them) and the end-to-end tests. Field names are the wire names;
//! the RunPod-compatible job bodies use RunPod's camelCase.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::features::Quality;
pub use crate::gpu::AdapterSummary;

/// Where a job stands (RunPod's status names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    InQueue,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::InQueue,
        JobStatus::InProgress,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::TimedOut,
    ];

    /// The wire name (also what the database stores).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InQueue => "IN_QUEUE",
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
            JobStatus::TimedOut => "TIMED_OUT",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether a job in this status will not change again on its own.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled | JobStatus::TimedOut
        )
    }
}

impl TryFrom<String> for JobStatus {
    type Error = String;

    /// For database rows that store the wire name.
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown job status `{s}`"))
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error response: the message, the HTTP status, and for server faults (5xx) the request
/// id that the server's log keeps the detail under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    /// The job endpoint name under `/v2/`.
    pub endpoint: String,
}

/// `GET /readiness` once the GPU is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Readiness {
    pub status: String,
    pub version: String,
    pub gpu: AdapterSummary,
}

// ---- projects, photos, artifacts ----

/// `POST /api/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
}

/// A project with its counts (times in ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: String,
    pub name: String,
    pub image_count: i64,
    pub artifact_count: i64,
    pub job_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `GET /api/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<Project>,
    pub limit: i64,
    pub offset: i64,
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageInfo {
    pub id: String,
    pub project_id: String,
    pub sha256: String,
    /// The client's file name, for display only.
    pub file_name: String,
    pub format: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    /// 35-mm-equivalent focal length from EXIF, the intrinsics prior.
    pub focal_35mm: Option<f64>,
    pub created_at: i64,
}

/// `GET /api/projects/{id}/images`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageList {
    pub images: Vec<ImageInfo>,
}

/// What became of one uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    Stored,
    /// The project already has these exact bytes.
    Duplicate,
    Rejected,
}

/// One file of an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedFile {
    pub file_name: String,
    pub status: UploadStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /api/projects/{id}/images`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadResult {
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub files: Vec<UploadedFile>,
}

/// `POST /api/projects/{id}/videos`: the frames kept from one video (the sharpest of each
/// time window), ingested exactly like uploaded photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoUploadResult {
    /// The clip's length as the decoder measured it.
    pub duration_s: f64,
    /// Frames asked for (`frames`, or the `quality` preset's count).
    pub frames_requested: u32,
    /// Frames kept: fewer than asked for when the clip has fewer frames than windows.
    pub frames_extracted: u32,
    /// What became of each kept frame, as for a photo upload.
    pub upload: UploadResult,
}

/// A result kept with a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactInfo {
    pub project_id: String,
    pub name: String,
    pub content_type: String,
    pub bytes: i64,
    pub job_id: Option<String>,
    pub created_at: i64,
}

/// `GET /api/projects/{id}/artifacts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactInfo>,
}

/// `PUT /api/projects/{id}/artifacts/scene.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SceneImported {
    pub name: String,
    pub bytes: i64,
    pub splats: u64,
    /// The artifacts written (the upload and, for PLY and `.splat`, a compact `scene.spz`).
    pub artifacts: Vec<String>,
    /// The `render` job queued to make the project's `thumbnail.png` from the imported scene
    /// (`/v2/{endpoint}/status/{id}`), so an import has its thumbnail at once.
    pub thumbnail_job: String,
}

/// `POST /api/projects/{id}/colmap`: a COLMAP model imported for the project's photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ColmapImported {
    pub cameras: u64,
    /// Posed photos (each matched to an uploaded image by file name).
    pub images: u64,
    pub points: u64,
    /// The artifacts written (`sparse/0/*.bin`, what the `train` job reads).
    pub artifacts: Vec<String>,
}

// ---- share links ----

/// `POST /api/projects/{id}/shares`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    /// Lifetime in seconds; none = until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

/// A share link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Share {
    pub token: String,
    /// The read-only viewer's address.
    pub url: String,
    /// A viewer-only page for an `<iframe>` on another site (`/embed/{token}`).
    pub embed_url: String,
    /// A standalone SVG document of a QR code encoding `url`.
    pub qr_svg: String,
    pub project_id: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `GET /api/projects/{id}/shares`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareList {
    pub shares: Vec<Share>,
}

/// The shared project as a share link shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedProject {
    pub name: String,
    pub image_count: i64,
}

/// `GET /api/s/{token}`: what the read-only viewer needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedView {
    pub project: SharedProject,
    pub artifacts: Vec<String>,
    pub scene_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub expires_at: Option<i64>,
    /// Where the viewer starts: the view the owner saved, else a capture camera when the
    /// project has camera poses; none: the viewer frames the splats about `up_axis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_view: Option<StartView>,
    /// World up for framing the splats when there is no start view (the owner's choice).
    #[serde(default)]
    pub up_axis: UpAxis,
}

/// `GET /api/projects/{id}/start-view`: where the project's viewer, share page and thumbnail
/// start, as the server resolves it: the view the owner saved, else a capture camera, else the
/// splats framed about `up_axis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectStartView {
    /// The first view (the owner's or a capture camera's); none: frame the splats.
    pub start_view: Option<StartView>,
    /// Where `start_view` comes from.
    pub source: StartViewSource,
    /// World up for framing the splats without a start view: the owner's choice, else −y.
    pub up_axis: UpAxis,
    /// Whether the project has camera poses (its up then comes from them, not from `up_axis`).
    pub has_cameras: bool,
}

/// Where a project's first view comes from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StartViewSource {
    /// The view the owner saved from the viewer.
    Saved,
    /// A capture camera of the project's camera poses.
    Camera,
    /// No view: the viewer frames the splats about the up axis.
    Framing,
}

/// A first view: eye, target and world up, and optionally the vertical field of view. Either
/// taken from the photos (the eye of a capture camera, a target on its optical axis at the
/// scene's depth, the world's up as the mean of the cameras' image-up axes, so a scene opens
/// the way it was photographed whatever its axes) or saved by the owner from the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartView {
    pub eye: [f32; 3],
    pub target: [f32; 3],
    /// World up (unit vector); yaw turns around it.
    pub up: [f32; 3],
    /// Vertical field of view in degrees, 1..=170; none: the viewer's (50°).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fov_y_deg: Option<f32>,
}

/// World up of a scene without camera poses: one of the axes, in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UpAxis {
    #[serde(rename = "+x")]
    PosX,
    #[serde(rename = "-x")]
    NegX,
    #[serde(rename = "+y")]
    PosY,
    /// The 3DGS/COLMAP convention, the default.
    #[default]
    #[serde(rename = "-y")]
    NegY,
    #[serde(rename = "+z")]
    PosZ,
    #[serde(rename = "-z")]
    NegZ,
}

impl UpAxis {
    pub const ALL: [UpAxis; 6] = [
        UpAxis::PosX,
        UpAxis::NegX,
        UpAxis::PosY,
        UpAxis::NegY,
        UpAxis::PosZ,
        UpAxis::NegZ,
    ];

    /// The wire name (also what the database stores): `+x`, `-y`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            UpAxis::PosX => "+x",
            UpAxis::NegX => "-x",
            UpAxis::PosY => "+y",
            UpAxis::NegY => "-y",
            UpAxis::PosZ => "+z",
            UpAxis::NegZ => "-z",
        }
    }

    /// The axis of wire name `s`, if it is one.
    pub fn parse(s: &str) -> Option<UpAxis> {
        UpAxis::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The unit vector.
    pub fn vector(self) -> [f32; 3] {
        match self {
            UpAxis::PosX => [1.0, 0.0, 0.0],
            UpAxis::NegX => [-1.0, 0.0, 0.0],
            UpAxis::PosY => [0.0, 1.0, 0.0],
            UpAxis::NegY => [0.0, -1.0, 0.0],
            UpAxis::PosZ => [0.0, 0.0, 1.0],
            UpAxis::NegZ => [0.0, 0.0, -1.0],
        }
    }
}

/// `PUT /api/projects/{id}/up-axis`: world up for a scene without camera poses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUpAxis {
    pub up_axis: UpAxis,
}

/// The answer to saving or clearing a start view or an up axis: the project's first view now,
/// and the render job queued to redraw its thumbnail from it (none without a scene).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartViewSaved {
    pub view: ProjectStartView,
    pub thumbnail_job: Option<String>,
}

// ---- phone pairings ----

/// `POST /api/projects/{id}/pairings` (full API key): a token for a phone, so the full key
/// stays on the desktop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPairing {
    /// Lifetime in seconds, 1 ..= [`NewPairing::MAX_EXPIRES_IN_S`]; default
    /// [`NewPairing::DEFAULT_EXPIRES_IN_S`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

impl NewPairing {
    /// One hour: long enough to capture an object, short enough that a lost phone matters little.
    pub const DEFAULT_EXPIRES_IN_S: u64 = 3600;
    /// One day at most.
    pub const MAX_EXPIRES_IN_S: u64 = 86_400;
}

/// A new pairing: everything a desktop page needs to hand it to a phone. The token is shown
/// only here (the server keeps its hash); the phone sends it as `Authorization: Bearer TOKEN`
/// and may then only upload photos to, list the photos of, read, and start and follow jobs on
/// this one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingCreated {
    pub id: String,
    pub project_id: String,
    pub token: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC; the token stops working then.
    pub expires_at: String,
    /// The pairing link's path, `/pair#TOKEN`: the token rides in the fragment, which browsers
    /// never send to a server (not in logs, not in `Referer`).
    pub path: String,
    /// The absolute pairing link (the server's public URL, else the request's host + `path`).
    pub url: String,
    /// A standalone SVG document of a QR code encoding `url`.
    pub qr_svg: String,
}

/// A pairing as listed (without its token, which is not stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingInfo {
    pub id: String,
    pub project_id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// RFC 3339, UTC, when it was revoked.
    pub revoked_at: Option<String>,
    /// Whether the token works now (not expired, not revoked).
    pub active: bool,
}

/// `GET /api/projects/{id}/pairings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingList {
    pub pairings: Vec<PairingInfo>,
}

/// `GET /api/pairing` with a pairing token: which project a phone that opened `/pair#TOKEN`
/// is paired with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairedSession {
    pub pairing_id: String,
    pub project_id: String,
    pub project_name: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

// ---- jobs (RunPod-compatible) ----

/// The engine task a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// SIFT features for every image, then matches between image pairs.
    Features,
    /// Renders the project's scene artifact to `thumbnail.png`.
    Render,
    /// Structure-from-motion on the features (run first when missing): a COLMAP model.
    Sfm,
    /// Gaussian-splat training on the SfM model: `scene.ply`, `scene.spz`, `thumbnail.png`.
    Train,
    /// Features → SfM → training → export as one job, resuming after a crash (see
    /// [`ReconstructOutput`]).
    Reconstruct,
    /// No GPU work: waits `iterations` milliseconds (default 1000, at most 60000) reporting
    /// progress, then writes a `sleep-<job id>.json` artifact naming the worker. For queue and
    /// fleet tests and benchmarks.
    Sleep,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Features => "features",
            Task::Render => "render",
            Task::Sfm => "sfm",
            Task::Train => "train",
            Task::Reconstruct => "reconstruct",
            Task::Sleep => "sleep",
        }
    }

    /// Whether the task works on photos (so `image_urls` can bring them instead of a project).
    pub fn takes_photos(self) -> bool {
        matches!(
            self,
            Task::Features | Task::Sfm | Task::Train | Task::Reconstruct
        )
    }
}

/// How image pairs are chosen for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PairModeName {
    Exhaustive,
    Sequential,
}

impl PairModeName {
    /// Photos up to which matching defaults to every pair.
    pub const EXHAUSTIVE_UP_TO: usize = 100;

    /// The pair selection for `images` photos: the requested mode, else exhaustive up to
    /// [`Self::EXHAUSTIVE_UP_TO`] photos and sequential (each with its `window` successors)
    /// beyond.
    pub fn resolve(
        requested: Option<Self>,
        images: usize,
        window: u32,
    ) -> crate::features::PairMode {
        use crate::features::PairMode;
        match (requested, images) {
            (Some(PairModeName::Exhaustive), _) => PairMode::Exhaustive,
            (None, n) if n <= Self::EXHAUSTIVE_UP_TO => PairMode::Exhaustive,
            _ => PairMode::Sequential { window },
        }
    }
}

/// A job's `input`. Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub task: Task,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Photos to fetch into a new project instead of `project_id` (the tasks that take photos:
    /// features, sfm, train, reconstruct): `http(s)://` URLs, or `s3://bucket/key` read with the
    /// worker's `AWS_*` settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_urls: Option<Vec<String>>,
    /// Longer image side for feature extraction (default 1600; `reconstruct`: by `quality`, 1000 /
    /// 1600 / 2400) and, when given, for training (default by `quality`, 1000 / 1600 / 3200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_side: Option<u32>,
    /// Most features kept per image (default by `quality`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_features: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// Pair selection for matching (default exhaustive up to 100 images, else sequential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_mode: Option<PairModeName>,
    /// Frames each frame is matched with in sequential mode (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<u32>,
    /// Training iterations (`train`, `reconstruct`; default by `quality`, 2000 / 7000 / 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Thumbnail size for `render` (default 512 × 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl RunRequest {
    /// A request to run `input`, with no webhook, policy or S3 settings.
    pub fn new(input: JobInput) -> Self {
        RunRequest {
            input,
            webhook: None,
            policy: None,
            s3_config: None,
        }
    }
}

impl JobInput {
    /// An input for `task` on project `project_id` at `quality`, every other option at its
    /// default.
    pub fn for_project(task: Task, project_id: String, quality: Quality) -> Self {
        JobInput {
            project_id: Some(project_id),
            quality: Some(quality),
            ..JobInput::new(task)
        }
    }

    /// An input for `task` with every option at its default.
    pub fn new(task: Task) -> Self {
        JobInput {
            task,
            project_id: None,
            image_urls: None,
            max_side: None,
            max_features: None,
            quality: None,
            pair_mode: None,
            overlap: None,
            iterations: None,
            width: None,
            height: None,
        }
    }
}

/// Per-request limits, in milliseconds (RunPod's `policy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

/// `POST /v2/{endpoint}/run` and `runsync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub input: JobInput,
    /// Called with the final status body (signed, see the README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<JobPolicy>,
    /// Accepted for RunPod compatibility; Splatpod keeps no per-request S3 settings.
    #[serde(default, rename = "s3Config", skip_serializing_if = "Option::is_none")]
    pub s3_config: Option<Value>,
}

/// `run` and `retry`: the job id and its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobAccepted {
    pub id: String,
    pub status: JobStatus,
}

/// `status/{id}`, `runsync`, `cancel/{id}` and the webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobStatusBody {
    pub id: String,
    pub status: JobStatus,
    /// Milliseconds queued before a worker took it.
    pub delay_time: i64,
    /// Milliseconds of execution so far.
    pub execution_time: i64,
    /// 0–100 within the current attempt.
    pub progress: f64,
    pub stage: Option<String>,
    pub message: Option<String>,
    pub task: String,
    pub project_id: Option<String>,
    pub attempts: i64,
    pub retries: i64,
    pub gpu_seconds: f64,
    pub cost_usd: f64,
    /// Where the job runs or ran: a worker's name, or `remote:NAME` for a remote backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The task's result (e.g. [`FeaturesOutput`]) once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Why it failed, timed out or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One chunk of `stream/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamChunk {
    pub output: Value,
}

/// `stream/{id}`: the chunks since the previous call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamBody {
    pub id: String,
    pub status: JobStatus,
    pub stream: Vec<StreamChunk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `purge-queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurgeResult {
    pub removed: u64,
    pub status: String,
}

/// Job counts by state (`health`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobCounts {
    pub completed: u64,
    /// Failed and timed out.
    pub failed: u64,
    pub cancelled: u64,
    pub in_progress: u64,
    pub in_queue: u64,
    pub retried: u64,
}

/// Worker slots (`health`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerCounts {
    pub idle: u64,
    pub running: u64,
}

/// The GPU as `health` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GpuHealth {
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /v2/{endpoint}/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointHealth {
    pub jobs: JobCounts,
    pub workers: WorkerCounts,
    pub gpu: GpuHealth,
}

/// The `output` of a completed `features` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeaturesOutput {
    pub project_id: String,
    pub images: u64,
    pub features_per_image: Vec<u64>,
    pub pairs: u64,
    pub matches_per_pair: Vec<u64>,
    pub pair_mode: PairModeName,
    pub artifacts: Vec<String>,
}

/// `matches.json`, written by the `features` job: per image pair (image ids), the matched
/// feature indices `[index in a, index in b]` into the images' `.spf` files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatchesArtifact {
    pub pairs: Vec<PairMatches>,
}

/// The matches of one image pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairMatches {
    pub a: String,
    pub b: String,
    pub matches: Vec<[u32; 2]>,
}

/// A photo the `sfm` job left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnregisteredPhoto {
    /// The image's file name in the model (`{image id}.{format}`).
    pub name: String,
    pub file_name: String,
    pub reason: String,
}

/// The `output` of a completed `sfm` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SfmOutput {
    pub project_id: String,
    pub images: u64,
    pub registered: u64,
    pub points: u64,
    pub rms_reprojection_px: f64,
    pub unregistered: Vec<UnregisteredPhoto>,
    pub artifacts: Vec<String>,
}

/// The `output` of a completed `train` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrainOutput {
    pub project_id: String,
    pub iterations: u32,
    /// The iteration the job's last run started from (0, or a checkpoint's step after a
    /// restart).
    pub resumed_from: u32,
    pub train_views: u64,
    pub test_views: u64,
    pub splats: u64,
    /// Held-out PSNR (dB) and SSIM (every 8th photo), when there were held-out photos.
    pub psnr: Option<f32>,
    pub ssim: Option<f32>,
    pub train_s: f64,
    pub artifacts: Vec<String>,
}

/// The stages of a `reconstruct` job, in order, with the part of the job's 0–100 % each
/// reports into. The `stage` field of a running job carries the finer names these stages use
/// (`features`, `matching`, `verification`, `mapping`, …, `loading`, `training`, `evaluation`,
/// `export`).
pub const RECONSTRUCT_STAGES: [(&str, f64, f64); 4] = [
    ("features", 0.0, 20.0),
    ("sfm", 20.0, 40.0),
    ("train", 40.0, 95.0),
    ("export", 95.0, 100.0),
];

/// The `output` a RunPod worker (`splatpod-server runpod-worker`) posts for a completed job:
/// the task's own output and where the project's files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunpodJobOutput {
    /// The project the job worked on (created for `image_urls` inputs).
    pub project_id: String,
    /// The task's output, as `/status` reports it for the same task.
    pub result: serde_json::Value,
    /// Every artifact of the project after the job, with its location.
    pub artifacts: Vec<StoredArtifact>,
    /// Time the job ran on this worker's GPU, all attempts.
    pub gpu_seconds: f64,
}

/// A stored file and where another tool can read it: a path on the worker's volume or an
/// `s3://` URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredArtifact {
    pub name: String,
    pub content_type: String,
    pub bytes: i64,
    pub location: String,
}

/// The `output` of a completed `reconstruct` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconstructOutput {
    pub project_id: String,
    pub quality: Quality,
    /// Stages an earlier attempt of this job (one a crash or restart interrupted) had finished,
    /// whose artifacts were kept instead of computed again (`features`, `sfm`, `train`).
    pub reused_stages: Vec<String>,
    pub sfm: SfmOutput,
    /// Training, with `resumed_from` the checkpoint's iteration when training itself resumed.
    pub train: TrainOutput,
    /// The scene artifacts: `scene.spz`, `scene.ply`, `thumbnail.png`.
    pub artifacts: Vec<String>,
}

/// The `output` of a completed `render` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenderOutput {
    pub project_id: String,
    pub splats: u64,
    pub width: u32,
    pub height: u32,
    pub artifact: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_status_names_round_trip() {
        for s in JobStatus::ALL {
            let json = serde_json::to_string(&s).expect("serialise");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::from_str::<JobStatus>(&json).expect("parse"), s);
        }
        assert_eq!(JobStatus::parse("DONE"), None);
        assert!(JobStatus::TimedOut.is_final() && !JobStatus::InProgress.is_final());
    }

    #[test]
    fn job_input_refuses_unknown_fields_and_omits_defaults() {
        let input = JobInput {
            project_id: Some("p".into()),
            quality: Some(Quality::High),
            ..JobInput::new(Task::Features)
        };
        let json = serde_json::to_value(&input).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({"task": "features", "project_id": "p", "quality": "high"})
        );
        let typo = serde_json::json!({"task": "features", "projct_id": "p"});
        let err = serde_json::from_value::<JobInput>(typo).expect_err("typo");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
