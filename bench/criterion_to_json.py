#!/usr/bin/env python3
"""Merges one wasm-bindgen-test criterion result from a benchmark log into a results JSON: the
median time in ms under MS_FIELD, its inverse per second under RATE_FIELD, and the browser that
ran it. Shared by bench/browser_render.sh and bench/browser_train.sh.
Usage: criterion_to_json.py LOG BENCH_ID JSON_PATH NAME MS_FIELD RATE_FIELD"""
import json, re, subprocess, sys

log, bench_id, path, name, ms_field, rate_field = sys.argv[1:7]
text = re.sub(r"\x1b\[[0-9;]*m", "", open(log).read())
m = re.search(re.escape(bench_id) + r"\s+time:\s+\[([\d.]+) (\w+) ([\d.]+) (\w+) ([\d.]+) (\w+)\]", text)
if not m:
    sys.exit("no criterion result in the benchmark output")
scale = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}
ms = float(m.group(3)) * scale[m.group(4)]
chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {"name": name}
data["browser_device"] = f"{chromium}, headless, WebGPU on SwiftShader (CPU), this 2-core machine"
data[ms_field] = round(ms, 3)
data[rate_field] = round(1000.0 / ms, 3)
json.dump(data, open(path, "w"), indent=2, sort_keys=True)
open(path, "a").write("\n")
print(f"browser: {ms:.1f} ms -> {path}")
