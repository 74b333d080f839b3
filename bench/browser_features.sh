#!/usr/bin/env bash
# Browser path of the features benchmarks: GPU SIFT extraction of one Strecha photograph
# (1536x1024 under the default 1600-px cap, 8192 features max) and matching of 8k x 8k
# descriptors, through WebGPU in headless Chromium (SwiftShader, flags in webdriver.json), via
# wasm-bindgen-test's criterion (benches/browser_features.rs). Merges the medians into
# bench/results/features.json beside the native figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/setup.sh
log=$(mktemp)
cargo bench --target wasm32-unknown-unknown --bench browser_features 2>&1 | tee "$log"
python3 - "$log" <<'PY'
import json, re, subprocess, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1]).read())
scale = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}
def median_ms(name):
    m = re.search(name + r"\s+time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]", text)
    if not m:
        sys.exit(f"no criterion result for {name} in the benchmark output")
    return float(m.group(3)) * scale[m.group(4)]
extract = median_ms("sift_extract_1600")
match = median_ms("match_8k_pair")
chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
path = "bench/results/features.json"
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {"name": "features"}
data["browser_device"] = f"{chromium}, headless, WebGPU on SwiftShader (CPU), this 2-core machine"
data["browser_timing"] = (
    "criterion estimate (10 flat samples) in headless Chromium: extraction = the `splatpod-bench extract` "
    "settings on strecha-fountain-P11/0005.jpg decoded at 1536x1024 (default 1600-px cap), "
    "incl. upload and readback; matching = 8192 x 8192 random sparse descriptors, ratio 0.8 + mutual "
    "(brute force both ways); wall time on a shared 2-core CPU, so expect some noise"
)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
data["browser_commit"] = commit
data["ms_per_image_1600_browser"] = round(extract, 3)
data["ms_per_pair_8k_browser"] = round(match, 3)
json.dump(data, open(path, "w"), indent=2, sort_keys=True)
open(path, "a").write("\n")
print(f"browser: {extract:.1f} ms/image, {match:.1f} ms/pair -> {path}")
PY
