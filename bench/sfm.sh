#!/usr/bin/env bash
# Structure-from-Motion benchmark: Splatpod's `sfm` on the Strecha scenes (exhaustive pairs) and
# ngp-fox (sequential pairs), each evaluated against its reference poses, beside COLMAP
# (bench/sfm_colmap.py, pycolmap) on the same photos. Writes one sfm-<scene>.json per run.
#
#   bench/sfm.sh ours DATA_DIR OUT_DIR     # Splatpod (release binary in target/release or .device-bin)
#   bench/sfm.sh colmap DATA_DIR OUT_DIR   # COLMAP incremental + global on the Strecha scenes
# On the device machine: carry [".gl", ".device-bin"] (and ".whl" with pycolmap for colmap).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?ours|colmap}
data=${2:?DATA_DIR}
out=${3:?OUT_DIR}
mkdir -p "$out"
bin=target/release/splatpod-server
[ -x .device-bin/splatpod-server ] && bin=.device-bin/splatpod-server
source bench/device_vulkan.sh
case "$mode" in
ours)
    "$bin" gpu-info > "$out/gpu.json" || true
    for s in strecha-fountain-P11 strecha-Herz-Jesus-P8 strecha-entry-P10; do
        "$bin" sfm "$data/$s/images" --out "/tmp/sfm-$s" --reference "$data/$s" 2>/dev/null
        cp "/tmp/sfm-$s/sfm.json" "$out/sfm-$s.json"
    done
    "$bin" sfm "$data/ngp-fox/images" --out /tmp/sfm-ngp-fox --pair-mode sequential --overlap 10 \
        --reference "$data/ngp-fox/transforms.json" 2>/dev/null
    cp /tmp/sfm-ngp-fox/sfm.json "$out/sfm-ngp-fox.json"
    ;;
colmap)
    python3 bench/sfm_colmap.py --datasets "$data" \
        --scenes strecha-fountain-P11,strecha-Herz-Jesus-P8,strecha-entry-P10 \
        --modes incremental,global > "$out/colmap.json"
    ;;
*)
    echo "usage: $0 ours|colmap DATA_DIR OUT_DIR" >&2
    exit 2
    ;;
esac
