#!/usr/bin/env bash
# Browser path of the training benchmark: iterations on a small scene (128x96, 2000 splats)
# through WebGPU in headless Chromium (SwiftShader, flags in webdriver.json), via
# wasm-bindgen-test's criterion. Merges iterations/s into bench/results/train.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/setup.sh
log=$(mktemp)
cargo bench --target wasm32-unknown-unknown --bench browser_train 2>&1 | tee "$log"
python3 - "$log" <<'PY'
import json, re, subprocess, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1]).read())
m = re.search(r"train_iteration_128x96\s+time:\s+\[([\d.]+) (\w+) ([\d.]+) (\w+) ([\d.]+) (\w+)\]", text)
if not m:
    sys.exit("no criterion result in the benchmark output")
scale = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}
ms = float(m.group(3)) * scale[m.group(4)]
chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
path = "bench/results/train.json"
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {"name": "train"}
data["browser_device"] = f"{chromium}, headless, WebGPU on SwiftShader (CPU), this 2-core machine"
data["ms_per_iteration_128x96_2k_browser"] = round(ms, 3)
data["it_per_s_128x96_2k_browser"] = round(1000.0 / ms, 3)
json.dump(data, open(path, "w"), indent=2, sort_keys=True)
open(path, "a").write("\n")
print(f"browser: {ms:.1f} ms/iteration -> {path}")
PY
