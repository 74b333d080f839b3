//! The 128-float SIFT descriptor: the CPU reference (`cpu`) and its GPU host (`gpu`,
//! `shaders/sift_describe.wgsl`).

mod cpu;
mod gpu;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use cpu::describe_keypoint;
pub use cpu::{
    describe_cpu, describe_keypoints_cpu, PatchFrame, DESCR_HIST_BINS, DESCR_MAG_THR,
    DESCR_SCL_FCTR, DESCR_WIDTH,
};
pub use gpu::{DescribeKernel, DescribeParams};
