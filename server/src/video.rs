//! Frames from an uploaded video: `ffprobe` measures the clip, `ffmpeg` decodes evenly spaced
//! candidate frames to JPEG in a private temporary folder, and the sharpest candidate of each
//! equal time window (the engine's variance of the Laplacian, as the capture check uses) is
//! kept. Both tools run as child processes under one deadline and are killed when it passes;
//! their command lines hold only fixed names inside that folder, never anything a client sent.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use splatpod::images::keyframes::sharpest_per_window;
use splatpod::images::{decode_image, sharpness_cpu, DecodeOptions};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Candidates decoded per time window: enough that a shaky moment has a sharp neighbour,
/// few enough that decoding stays a small part of the upload.
pub const CANDIDATES_PER_WINDOW: u32 = 6;

/// Videos decoded at once; more wait (decoding is CPU-heavy and would starve the jobs).
static DECODES: Semaphore = Semaphore::const_new(2);

/// Where the decoders are and how long they may run (from `ServeArgs`).
#[derive(Debug, Clone)]
pub struct VideoTools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Probing plus decoding one video must finish within this.
    pub timeout: Duration,
    /// Parent of each upload's temporary folder (inside the data folder, not a small tmpfs).
    pub work_dir: PathBuf,
}

/// Why frames could not be taken from a video; mapped to a status in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The server has no ffmpeg/ffprobe: an operator's fix, not the client's.
    #[error(
        "this server cannot read videos: ffmpeg is not installed (install Debian's `ffmpeg` \
         package, or set --ffmpeg/--ffprobe); upload photos instead ({0})"
    )]
    NoDecoder(String),
    /// The bytes are not a video this decoder can read (corrupt, truncated, not a video).
    #[error("this video could not be read: {0}; record it again or upload photos")]
    Unreadable(String),
    /// Reading took longer than the server allows.
    #[error(
        "this video took longer than {0} s to read; upload a shorter clip or a lower resolution"
    )]
    Timeout(u64),
    /// The temporary folder or a frame file failed (a server fault).
    #[error("video frames: {0}")]
    Io(#[from] std::io::Error),
}

/// One kept frame: the candidate's position and its JPEG bytes as ffmpeg wrote them.
#[derive(Debug, Clone)]
pub struct KeptFrame {
    /// Index among the decoded candidates (in time order).
    pub candidate: usize,
    pub sharpness: f32,
    pub jpeg: Bytes,
}

/// The result of [`extract`].
#[derive(Debug)]
pub struct Extracted {
    pub duration_s: f64,
    /// Candidates decoded and scored.
    pub candidates: usize,
    /// The sharpest frame of each window, in time order.
    pub frames: Vec<KeptFrame>,
}

/// An uploaded clip on disk: a temporary folder holding `input` (and later the frames); both
/// are deleted when this is dropped.
pub struct Clip {
    dir: tempfile::TempDir,
}

impl Clip {
    /// A new empty folder under `tools.work_dir`.
    pub fn new(tools: &VideoTools) -> Result<Clip, VideoError> {
        std::fs::create_dir_all(&tools.work_dir)?;
        let dir = tempfile::Builder::new()
            .prefix("video-")
            .tempdir_in(&tools.work_dir)?;
        Ok(Clip { dir })
    }

    /// Where the upload is written.
    pub fn input(&self) -> PathBuf {
        self.dir.path().join("input")
    }

    fn frames_dir(&self) -> PathBuf {
        self.dir.path().join("frames")
    }
}

impl VideoTools {
    /// Ok when `ffprobe` runs; checked before a large upload is received.
    pub async fn check(&self) -> Result<(), VideoError> {
        let mut cmd = Command::new(&self.ffprobe);
        cmd.arg("-version");
        run(cmd, Instant::now() + Duration::from_secs(10), 10, None).await?;
        Ok(())
    }
}

/// Runs `cmd` (stdout captured) until `deadline`; a spawn failure is [`VideoError::NoDecoder`],
/// a failure exit [`VideoError::Unreadable`] with the tool's last words (the folder's path
/// replaced by "the video").
async fn run(
    mut cmd: Command,
    deadline: Instant,
    timeout_s: u64,
    dir: Option<&Path>,
) -> Result<Vec<u8>, VideoError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        VideoError::NoDecoder(format!(
            "{}: {e}",
            cmd.as_std().get_program().to_string_lossy()
        ))
    })?;
    let left = deadline.saturating_duration_since(Instant::now());
    let out = tokio::time::timeout(left, child.wait_with_output())
        .await
        .map_err(|_| VideoError::Timeout(timeout_s))??;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let mut said = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(dir) = dir {
        said = said.replace(&format!("{}/input", dir.display()), "the video");
        said = said.replace(&dir.display().to_string(), "");
    }
    let said = said.trim();
    let tail: String = {
        let chars: Vec<char> = said.chars().collect();
        chars[chars.len().saturating_sub(300)..].iter().collect()
    };
    Err(VideoError::Unreadable(if tail.is_empty() {
        format!("the decoder stopped ({})", out.status)
    } else {
        tail.replace('\n', "; ")
    }))
}

/// What `ffprobe` says about the first video stream.
struct Probe {
    duration_s: f64,
    /// Average frames per second, when the container states it.
    fps: Option<f64>,
}

/// "30000/1001" → 29.97; None for "0/0" and nonsense.
fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
    let r = n / d;
    (r.is_finite() && r > 0.0).then_some(r)
}

fn parse_probe(json: &[u8]) -> Result<Probe, VideoError> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
        VideoError::Unreadable(format!("the decoder's report was unreadable ({e})"))
    })?;
    let stream = v["streams"]
        .as_array()
        .and_then(|s| s.first())
        .ok_or_else(|| VideoError::Unreadable("it holds no video stream".into()))?;
    let number = |x: &serde_json::Value| {
        x.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
    };
    let duration_s = number(&v["format"]["duration"])
        .or_else(|| number(&stream["duration"]))
        .ok_or_else(|| VideoError::Unreadable("its length is unknown".into()))?;
    let fps = stream["avg_frame_rate"]
        .as_str()
        .and_then(parse_rate)
        .or_else(|| stream["r_frame_rate"].as_str().and_then(parse_rate));
    Ok(Probe { duration_s, fps })
}

/// Decodes about `windows × CANDIDATES_PER_WINDOW` evenly spaced frames of the clip (every
/// frame when it has fewer) and keeps the sharpest of each of `windows` equal windows.
pub async fn extract(
    tools: &VideoTools,
    clip: &Clip,
    windows: u32,
) -> Result<Extracted, VideoError> {
    let _slot = DECODES
        .acquire()
        .await
        .map_err(|e| VideoError::Io(std::io::Error::other(e)))?;
    let timeout_s = tools.timeout.as_secs();
    let deadline = Instant::now() + tools.timeout;
    let dir = clip.dir.path();

    let mut probe = Command::new(&tools.ffprobe);
    probe
        .current_dir(dir)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=avg_frame_rate,r_frame_rate,duration:format=duration"])
        .args(["-of", "json", "file:input"]);
    let probe = parse_probe(&run(probe, deadline, timeout_s, Some(dir)).await?)?;

    let frames_dir = clip.frames_dir();
    std::fs::create_dir_all(&frames_dir)?;
    let target = windows.max(1) * CANDIDATES_PER_WINDOW;
    let rate = f64::from(target) / probe.duration_s;
    let mut decode = Command::new(&tools.ffmpeg);
    decode
        .current_dir(dir)
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            "file:input",
        ])
        .args(["-map", "0:v:0", "-an", "-sn", "-dn"]);
    match probe.fps {
        // Fewer frames than candidates wanted: take every frame as it is (no duplicates).
        Some(fps) if fps <= rate => decode.args(["-fps_mode", "passthrough"]),
        _ => decode.args(["-vf", &format!("fps={rate:.6}")]),
    };
    decode
        .args(["-q:v", "2", "-frames:v", &(target * 2).to_string()])
        .args(["-f", "image2", "frames/%06d.jpg"]);
    run(decode, deadline, timeout_s, Some(dir)).await?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(&frames_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(VideoError::Unreadable("no frame could be decoded".into()));
    }
    let candidates = files.len();
    let scored = tokio::task::spawn_blocking(move || score_all(files, windows as usize))
        .await
        .map_err(|e| VideoError::Io(std::io::Error::other(e)))??;
    if Instant::now() > deadline {
        return Err(VideoError::Timeout(timeout_s));
    }
    Ok(Extracted {
        duration_s: probe.duration_s,
        candidates,
        frames: scored,
    })
}

/// Scores every candidate on the CPU (variance of the Laplacian of the grey image at most
/// 1600 px on a side) and reads back the sharpest of each window.
fn score_all(files: Vec<PathBuf>, windows: usize) -> Result<Vec<KeptFrame>, VideoError> {
    let mut scores = Vec::with_capacity(files.len());
    for f in &files {
        let bytes = std::fs::read(f)?;
        let img = decode_image(&bytes, None, &DecodeOptions::default()).map_err(|e| {
            VideoError::Unreadable(format!("a decoded frame was not a readable image ({e})"))
        })?;
        scores.push(sharpness_cpu(&img.gray, img.width, img.height));
    }
    sharpest_per_window(&scores, windows)
        .into_iter()
        .map(|i| {
            Ok(KeptFrame {
                candidate: i,
                sharpness: scores[i],
                jpeg: Bytes::from(std::fs::read(&files[i])?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("30/1"), Some(30.0));
        assert!((parse_rate("30000/1001").unwrap_or(0.0) - 29.97).abs() < 0.01);
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("25"), Some(25.0));
        assert_eq!(parse_rate("x/y"), None);
    }

    #[test]
    fn probe_reports_parse() {
        let p = parse_probe(
            br#"{"streams":[{"avg_frame_rate":"15/1","r_frame_rate":"15/1"}],"format":{"duration":"4.000000"}}"#,
        );
        let p = p.map_err(|e| e.to_string());
        assert!(
            matches!(p, Ok(Probe { duration_s, fps: Some(f) }) if duration_s == 4.0 && f == 15.0)
        );
        assert!(matches!(
            parse_probe(br#"{"streams":[],"format":{"duration":"4"}}"#),
            Err(VideoError::Unreadable(_))
        ));
        assert!(matches!(
            parse_probe(br#"{"streams":[{"avg_frame_rate":"0/0"}],"format":{}}"#),
            Err(VideoError::Unreadable(_))
        ));
        assert!(matches!(
            parse_probe(b"nonsense"),
            Err(VideoError::Unreadable(_))
        ));
    }
}
