#!/usr/bin/env bash
# Browser path of the training benchmark: iterations on a small scene (128x96, 2000 splats)
# through WebGPU in headless Chromium (SwiftShader, flags in webdriver.json), via
# wasm-bindgen-test's criterion. Merges iterations/s into bench/results/train.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/setup.sh
log=$(mktemp)
cargo bench --target wasm32-unknown-unknown --bench browser_train 2>&1 | tee "$log"
python3 bench/criterion_to_json.py "$log" train_iteration_128x96 bench/results/train.json train ms_per_iteration_128x96_2k_browser it_per_s_128x96_2k_browser
