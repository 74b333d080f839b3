#!/usr/bin/env bash
# Installs what is missing, builds the PWA (release) and starts the server on the embedded default
# (local data folder ./splatpod-data) at http://127.0.0.1:8080. Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")"
source .ci/setup.sh
trunk build --release
cargo build --release -p splatpod-server
# API writes and jobs need a key: make one the first time and show it once.
if [ ! -s splatpod-data/splatpod.db ] || ! target/release/splatpod-server keys list --data-dir splatpod-data | grep -q ' local '; then
    echo "API key (send as 'Authorization: Bearer KEY'; shown once):"
    target/release/splatpod-server keys create --name local --data-dir splatpod-data
fi
exec cargo run --release -p splatpod-server -- serve --port 8080 --data-dir splatpod-data --dist-dir dist "$@"
