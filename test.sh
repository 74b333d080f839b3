#!/usr/bin/env bash
# Runs every test: formatting and lints, native unit and kernel tests on Vulkan (lavapipe when
# there is no GPU), end-to-end server tests (SQLite and PostgreSQL) and headless-Chromium tests,
# and the kernel tests again in headless Chromium through WebGPU (SwiftShader).
set -euo pipefail
cd "$(dirname "$0")"
source .ci/setup.sh
# A one-shot build gains nothing from incremental caches, which doubled the wasm target's size
# (5 GB of 8); CI machines have little disk to spare.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
# Test-only services and peers: a private PostgreSQL server (the job-service tests run on it and
# on SQLite), a local S3-compatible server (moto) for the S3 blob store, and the `runpod` SDK
# (its endpoint client is run unchanged against the server), and pycolmap (COLMAP's own model
# reader and writer, for the SfM interop tests).
source .ci/postgres.sh
source .ci/s3.sh
python3 -c "import runpod" 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore 'runpod==1.12.0'
python3 -c "import pycolmap" 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore 'pycolmap==4.2.1'
# openapi-spec-validator checks /openapi.json as OpenAPI 3.1 (tests/server_jobs.rs), in its own
# venv under .ci (Debian's python3 needs python3-venv for `-m venv`).
if ! .ci/venv/bin/openapi-spec-validator --version >/dev/null 2>&1; then
    rm -rf .ci/venv
    if ! python3 -m venv .ci/venv 2>/dev/null; then
        rm -rf .ci/venv
        echo "setup: apt-get install python3-venv"
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv
        python3 -m venv .ci/venv
    fi
    .ci/venv/bin/pip install --quiet 'openapi-spec-validator==0.9.0'
fi
export SPLATPOD_OPENAPI_VALIDATOR="$PWD/.ci/venv/bin/openapi-spec-validator"

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --features web --bin splatpod-web -- -D warnings

step "build the server and the PWA"
cargo build -p splatpod-server
trunk build

step "native tests (kernels on Vulkan, server API, PWA in headless Chromium)"
cargo test --workspace --no-fail-fast

step "kernel tests in headless Chromium (WebGPU)"
cargo test --target wasm32-unknown-unknown --lib
