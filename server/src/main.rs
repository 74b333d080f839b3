//! `splatpod-server`: the Splatpod HTTP server and command-line tools, thin over the engine.

mod admin;
mod api;
mod auth;
mod bench;
mod blob;
mod cli;
mod compress;
mod db;
mod error;
mod ingest;
mod jobbench;
mod jobs;
mod loadtest;
mod net;
mod qr;
mod queuebench;
mod ratelimit;
mod render;
mod resumable;
mod routes;
mod sfm_cli;
mod spawn;
mod start_view;
mod state;
mod train_cli;
mod video;
mod worker;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.log_json);
    let result = match cli.command {
        cli::Command::Serve(args) => routes::serve(*args).await,
        cli::Command::Worker(args) => worker::run(*args).await,
        cli::Command::Bench(args) => bench::run(args).await,
        cli::Command::GpuInfo => gpu_info().await,
        cli::Command::Render(args) => render::run(args).await,
        cli::Command::Sfm(args) => sfm_cli::run(args).await,
        cli::Command::Train(args) => train_cli::run(args).await,
        cli::Command::Keys(args) => admin::keys(args).await,
        cli::Command::Jobs(args) => admin::jobs(args).await,
        cli::Command::BenchApi(args) => loadtest::run(args).await,
        cli::Command::BenchJobs(args) => jobbench::run(args).await,
        cli::Command::BenchQueue(args) => queuebench::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,wgpu_core=warn,wgpu_hal=warn,naga=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn gpu_info() -> Result<(), error::ServerError> {
    let ctx = splatpod::gpu::GpuContext::new().await?;
    println!("{}", serde_json::to_string_pretty(ctx.summary())?);
    Ok(())
}
