#!/usr/bin/env bash
# Splatpod's side of the training benchmark: `splatpod-server train` on ngp-fox under the peer
# protocol (full resolution, every 8th view held out, 100k random points, L1 + 0.2 D-SSIM, 3DGS
# rates, gsplat's densification), RUNS times with seeds 0..RUNS-1, each writing
# OUT_DIR/ours_ITERS_SEED.json. The peer side is bench/train_gsplat.sh; bench/train_results.py
# puts both into bench/results/train.json.
#
#   bench/train.sh FOX_DIR ITERS RUNS OUT_DIR
# On the device machine: carry [".gl", ".device-bin"] (release binary + the fox folder).
set -euo pipefail
cd "$(dirname "$0")/.."
fox=${1:?FOX_DIR} iters=${2:?ITERS} runs=${3:?RUNS} out=${4:?OUT_DIR}
mkdir -p "$out"
bin=target/release/splatpod-server
[ -x .device-bin/splatpod-server ] && bin=.device-bin/splatpod-server
source bench/device_vulkan.sh
for seed in $(seq 0 $((runs - 1))); do
    "$bin" train "$fox" --iterations "$iters" --seed "$seed" --out "/tmp/ours_$seed.ply" \
        --report "$out/ours_${iters}_${seed}.json" ${TRAIN_ARGS:-} 2>&1 | tail -2
done
