//! `splatpod-server`: the Splatpod HTTP server and command-line tools, thin over the engine
//! (the work is in the `splatpod_server` library; benchmarks are `splatpod-bench`).

mod cli;

use clap::Parser;
use splatpod_server::error::ServerError;
use splatpod_server::{admin, render_cli, runpod, serve, sfm_cli, train_cli, worker};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.log_json);
    let result = match cli.command {
        cli::Command::Serve(args) => serve::serve(*args).await,
        cli::Command::Worker(args) => worker::run(*args).await,
        cli::Command::RunpodWorker(args) => runpod::run(*args).await,
        cli::Command::GpuInfo => gpu_info().await,
        cli::Command::Render(args) => render_cli::run(args).await,
        cli::Command::Sfm(args) => sfm_cli::run(args).await,
        cli::Command::Train(args) => train_cli::run(args).await,
        cli::Command::Keys(args) => admin::keys(args).await,
        cli::Command::Jobs(args) => admin::jobs(args).await,
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

async fn gpu_info() -> Result<(), ServerError> {
    let ctx = splatpod::gpu::GpuContext::new().await?;
    println!("{}", serde_json::to_string_pretty(ctx.summary())?);
    Ok(())
}
