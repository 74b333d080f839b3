#!/usr/bin/env bash
# Real-GPU check: the kernel tests and the sort benchmark on the device machine's NVIDIA GPU
# (Vulkan). The device machine has no Rust toolchain, so binaries are built here and carried.
#
#   bench/device.sh prepare   # here: release server, benchmarks and kernel-test binary -> .device-bin/
#   bench/device.sh run       # there (device `run`, carry [".gl", ".device-bin"]): Vulkan loaders,
#                             # kernel tests, then `splatpod-bench sort` -> bench/results/sort.json
#   bench/device.sh jobs      # there: a features job through the job API on the photos in
#                             # .device-bin/imgs -> bench/results/jobs.json
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    cargo build --release -p splatpod-server -p splatpod-bench
    test_bin=$(cargo test --release --lib --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="splatpod" and m.get("executable"): print(m["executable"])')
    mkdir -p .device-bin
    # splatpod-bench starts the splatpod-server beside it (the jobs benchmark).
    cp target/release/splatpod-server target/release/splatpod-bench .device-bin/
    cp "$test_bin" .device-bin/splatpod-kernel-tests
    git rev-parse --short HEAD > .device-bin/COMMIT
    ls -la .device-bin
    ;;
jobs)
    source bench/device_vulkan.sh
    SPLATPOD_COMMIT=$(cat .device-bin/COMMIT) .device-bin/splatpod-bench jobs --images .device-bin/imgs "${@:2}"
    ;;
run)
    source bench/device_vulkan.sh
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    .device-bin/splatpod-server gpu-info
    .device-bin/splatpod-kernel-tests --test-threads 1
    SPLATPOD_COMMIT=$(cat .device-bin/COMMIT) .device-bin/splatpod-bench sort "${@:2}"
    ;;
*)
    echo "usage: $0 prepare|run|jobs [bench args]" >&2
    exit 2
    ;;
esac
