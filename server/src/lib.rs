//! `splatpod-server` as a library: the HTTP API, the job queue and workers, storage, and the
//! product commands, thin over the `splatpod` engine. The `splatpod-server` binary parses the
//! command line and calls in here; the benchmarks (`splatpod-bench`) use the same modules.
//!
//! The modules form no import cycle (`tests/module_graph.rs` checks it): the HTTP side
//! (`serve` → `routes` → `api` → `state`) sits over the job side (`worker` → `jobs`) and the
//! storage (`db`, `blob`), which import nothing above them.

pub mod admin;
pub mod api;
pub mod auth;
pub mod blob;
pub mod compress;
pub mod db;
pub mod error;
pub mod gpu;
pub mod ingest;
pub mod jobs;
pub mod net;
pub mod node;
pub mod qr;
pub mod ratelimit;
pub mod remote;
pub mod render_cli;
pub mod resumable;
pub mod routes;
pub mod runpod;
pub mod serve;
pub mod sfm_cli;
pub mod start_view;
pub mod state;
pub mod thumbnail;
pub mod train_cli;
pub mod video;
pub mod worker;
