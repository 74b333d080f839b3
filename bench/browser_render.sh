#!/usr/bin/env bash
# Browser path of the render benchmark: 100k procedural splats at 1920x1080 through WebGPU in
# headless Chromium (SwiftShader, flags in webdriver.json), via wasm-bindgen-test's criterion.
# Merges the median frame time into bench/results/render.json beside the native figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/setup.sh
log=$(mktemp)
cargo bench --target wasm32-unknown-unknown --bench browser_render 2>&1 | tee "$log"
python3 bench/criterion_to_json.py "$log" render_1080p_100k bench/results/render.json render ms_per_frame_1080p_100k_browser fps_1080p_100k_browser
