#!/usr/bin/env bash
# The peer side of the training benchmark, run on the GPU machine: gsplat 1.5.3 through
# ../shared/peers/gsplat_train.py, unchanged, on ngp-fox, RUNS times with seeds 0..RUNS-1.
#
# PEER_DIR holds what the GPU machine cannot download: site.tar.xz (the unpacked wheels of gsplat
# 1.5.3, opencv-python-headless 4.10.0.84, rich and its needs — PyTorch and torchmetrics are on the
# machine), gsplat_train.py and ngp-fox/. Each run writes OUT_DIR/gsplat_ITERS_SEED.json.
# Usage: bench/train_gsplat.sh PEER_DIR ITERS RUNS OUT_DIR
set -euo pipefail
peer=$1 iters=$2 runs=$3 out=$4
mkdir -p /tmp/site "$out"
tar xJf "$peer/site.tar.xz" -C /tmp/site
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for seed in $(seq 0 $((runs - 1))); do
  python3 "$peer/gsplat_train.py" "$peer/ngp-fox" "$iters" "$out/gsplat_${iters}_${seed}.json" "$seed" 2>&1 | tail -3
done
