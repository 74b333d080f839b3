#!/usr/bin/env bash
# Lighthouse report of the PWA's home, capture, project and share pages
# -> bench/results/lighthouse.json. The project page is audited with an API key in the browser's
# storage; the share page shows a small scene (bench/lighthouse/scene.py) through a share link.
# Builds the release PWA (trunk build --release) and serves it with the server on a free port
# and a throw-away data folder, then runs bench/lighthouse/report.mjs (Lighthouse 12.2.3 and
# puppeteer-core from the npm registry, driving the machine's Chromium; nothing else downloads).
#
#   bench/lighthouse.sh [OUT_JSON]
# Environment: SPLATPOD_LIGHTHOUSE_DIST (the built PWA, default target/dist-release, built when
# missing), SPLATPOD_LIGHTHOUSE_SERVER (a server binary; default: build the release one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/lighthouse.json}
dist=${SPLATPOD_LIGHTHOUSE_DIST:-target/dist-release}
if [ ! -d bench/lighthouse/node_modules/lighthouse ]; then
    (cd bench/lighthouse && npm i --no-audit --no-fund -E lighthouse@12.2.3 >/dev/null)
fi
# Trunk's wasm-opt (installed by .ci/setup.sh).
export PATH="$PWD/.ci/binaryen/node_modules/.bin:$PATH"
[ -f "$dist/index.html" ] || trunk build --release --dist "$dist"
# SPLATPOD_LIGHTHOUSE_SERVER: a server binary already built (e.g. target/debug/splatpod-server,
# whose brotli is optimised in dev builds too), else the release build.
server_bin=${SPLATPOD_LIGHTHOUSE_SERVER:-}
if [ -z "$server_bin" ]; then
    cargo build --release -p splatpod-server
    server_bin=target/release/splatpod-server
fi
data=$(mktemp -d)
key=$("$server_bin" keys create --name lighthouse --data-dir "$data")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server_bin" serve --port "$port" --data-dir "$data" --dist-dir "$dist" \
    >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.2
done
base="http://127.0.0.1:$port"
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
project=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' \
    -d '{"name":"Fountain"}' "$base/api/projects" | json_field id)
python3 bench/lighthouse/scene.py >"$data/scene.ply"
curl -sf -X PUT -H "Authorization: Bearer $key" --data-binary @"$data/scene.ply" \
    "$base/api/projects/$project/artifacts/scene.ply" >/dev/null
token=$(curl -sf -H "Authorization: Bearer $key" -H 'content-type: application/json' -d '{}' \
    "$base/api/projects/$project/shares" | json_field token)
node bench/lighthouse/report.mjs "$base" "$out" "$(git rev-parse --short HEAD)" "$server_bin" \
    "$key" "$project" "$token"
