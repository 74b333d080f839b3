//! Checkpoints: the complete state of a training run (parameters, Adam moments, densification
//! statistics, step), so a job killed on one pod continues on another where it stopped.
//!
//! Format (little-endian): `SPLATCKP`, u32 version, u32 header length, the JSON header
//! ([`Header`]), then the f32 arrays means, log scales, rotations, SH of the parameters, of m,
//! of v, then grad2d (f32) and visits (u32), each splat-count long.

use serde::{Deserialize, Serialize};

use super::adam::SplatData;
use super::SH_FLOATS;

const MAGIC: &[u8; 8] = b"SPLATCKP";
const VERSION: u32 = 1;

/// A training run's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Iterations done.
    pub step: u32,
    pub seed: u64,
    pub iterations: u32,
    pub params: SplatData,
    pub m: SplatData,
    pub v: SplatData,
    /// Densification statistics since the last refinement.
    pub grad2d: Vec<f32>,
    pub visits: Vec<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    step: u32,
    seed: u64,
    iterations: u32,
    splats: u64,
    sh_floats: u32,
}

/// Why bytes are not a checkpoint.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckpointError {
    #[error("not a Splatpod checkpoint")]
    NotACheckpoint,
    #[error("checkpoint version {0} (this build reads {VERSION})")]
    Version(u32),
    #[error("checkpoint header: {0}")]
    Header(String),
    #[error("checkpoint is truncated or has trailing bytes ({got} bytes, expected {want})")]
    Length { got: usize, want: usize },
}

fn floats_per_splat() -> usize {
    // means, log scales, rotations (4 each) + SH, for params, m and v; then grad2d and visits.
    3 * (12 + SH_FLOATS) + 2
}

impl Checkpoint {
    /// Serialises the checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.params.len();
        let header = Header {
            step: self.step,
            seed: self.seed,
            iterations: self.iterations,
            splats: n as u64,
            sh_floats: SH_FLOATS as u32,
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(16 + json.len() + n * floats_per_splat() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for data in [&self.params, &self.m, &self.v] {
            for group in [
                data.means.as_flattened(),
                data.log_scales.as_flattened(),
                data.rotations.as_flattened(),
                &data.sh[..],
            ] {
                out.extend_from_slice(bytemuck::cast_slice(group));
            }
        }
        out.extend_from_slice(bytemuck::cast_slice(&self.grad2d));
        out.extend_from_slice(bytemuck::cast_slice(&self.visits));
        out
    }

    /// Reads a checkpoint written by [`Checkpoint::to_bytes`], checking every length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(CheckpointError::NotACheckpoint);
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version = word(8);
        if version != VERSION {
            return Err(CheckpointError::Version(version));
        }
        let json_len = word(12) as usize;
        let json = bytes
            .get(16..16 + json_len)
            .ok_or(CheckpointError::Length {
                got: bytes.len(),
                want: 16 + json_len,
            })?;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| CheckpointError::Header(e.to_string()))?;
        if header.sh_floats != SH_FLOATS as u32 {
            return Err(CheckpointError::Header(format!(
                "{} SH floats per splat (this build trains {SH_FLOATS})",
                header.sh_floats
            )));
        }
        let n = usize::try_from(header.splats)
            .map_err(|_| CheckpointError::Header("splat count out of range".into()))?;
        let body = &bytes[16 + json_len..];
        let want = n
            .checked_mul(floats_per_splat() * 4)
            .ok_or_else(|| CheckpointError::Header("splat count out of range".into()))?;
        if body.len() != want {
            return Err(CheckpointError::Length {
                got: bytes.len(),
                want: 16 + json_len + want,
            });
        }
        let mut at = 0usize;
        let mut take = |count: usize| -> Vec<f32> {
            let v: Vec<f32> = bytemuck::pod_collect_to_vec(&body[at..at + count * 4]);
            at += count * 4;
            v
        };
        let mut read_set = || {
            let vec4 = |v: Vec<f32>| -> Vec<[f32; 4]> {
                v.chunks_exact(4)
                    .map(|c| [c[0], c[1], c[2], c[3]])
                    .collect()
            };
            SplatData {
                means: vec4(take(4 * n)),
                log_scales: vec4(take(4 * n)),
                rotations: vec4(take(4 * n)),
                sh: take(SH_FLOATS * n),
            }
        };
        let params = read_set();
        let m = read_set();
        let v = read_set();
        let grad2d = take(n);
        let visits: Vec<u32> = take(n).into_iter().map(f32::to_bits).collect();
        Ok(Self {
            step: header.step,
            seed: header.seed,
            iterations: header.iterations,
            params,
            m,
            v,
            grad2d,
            visits,
        })
    }
}
