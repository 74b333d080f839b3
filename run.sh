#!/usr/bin/env bash
# Installs what is missing, builds the PWA (release) and starts the server on the embedded default
# (local data folder ./splatpod-data) at http://127.0.0.1:8080. Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")"
source .ci/setup.sh
trunk build --release
exec cargo run --release -p splatpod-server -- serve --port 8080 --data-dir splatpod-data --dist-dir dist "$@"
