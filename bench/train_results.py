#!/usr/bin/env python3
"""Combines the training runs in bench/results/train/ (ours_ITERS_SEED.json from bench/train.sh,
gsplat_ITERS_SEED.json from bench/train_gsplat.sh) into bench/results/train.json: means over the
runs of each trainer, gsplat's beside ours, and the ratios.

gsplat compiles its CUDA code on its first call in a fresh process tree, inside the timed loop of
its first run; a run whose it/s is under 0.6x the median of the others is left out of the timing
means (its quality figures are kept) and named in `excluded_from_timing`.
Usage: bench/train_results.py [RESULTS_DIR] [COMMIT] [OUT_JSON]"""
import glob, json, os, statistics, sys

root = sys.argv[1] if len(sys.argv) > 1 else "bench/results/train"
commit = sys.argv[2] if len(sys.argv) > 2 else "unknown"
out_path = sys.argv[3] if len(sys.argv) > 3 else "bench/results/train.json"


def load(prefix, iters):
    runs = []
    for path in sorted(glob.glob(os.path.join(root, f"{prefix}_{iters}_*.json"))):
        with open(path) as f:
            r = json.load(f)
        if not r.get("partial"):
            r["_file"] = os.path.basename(path)
            runs.append(r)
    return runs


def timing_runs(runs):
    if len(runs) < 2:
        return runs, []
    med = statistics.median(r["it_per_s"] for r in runs)
    keep = [r for r in runs if r["it_per_s"] >= 0.6 * med]
    return keep, [r["_file"] for r in runs if r not in keep]


res = {"name": "train", "commit": commit, "scene": "ngp-fox (50 frames 1080x1920, 43 train / 7 test)",
       "protocol": "../shared/peers/gsplat_train.py: undistorted (k1 k2 p1 p2), every 8th held out, "
                   "100k random points in a cube of half-size 3x the camera spread, L1 + 0.2 D-SSIM, "
                   "3DGS learning rates, gsplat DefaultStrategy densification, SH degree +1 per 1000 it"}
for iters in (7000, 30000):
    ours, peer = load("ours", iters), load("gsplat", iters)
    if not ours:
        continue
    k = f"{iters // 1000}k"
    res["device"] = ours[0]["device"]
    res[f"runs_ours_{k}"] = len(ours)
    res[f"psnr_ours_{k}"] = statistics.mean(r["psnr_test"] for r in ours)
    res[f"ssim_ours_{k}"] = statistics.mean(r["ssim_test"] for r in ours)
    res[f"train_wall_s_ours_{k}"] = statistics.mean(r["train_wall_s"] for r in ours)
    res[f"it_per_s_ours_{k}"] = statistics.mean(r["it_per_s"] for r in ours)
    res[f"splats_ours_{k}"] = statistics.mean(r["splats"] for r in ours)
    res[f"peak_gpu_mem_gib_ours_{k}"] = max(r["peak_gpu_buffer_gib"] for r in ours)
    if ours[0].get("curve"):
        res[f"psnr_curve_ours_{k}"] = ours[0]["curve"]
    if not peer:
        continue
    timed, excluded = timing_runs(peer)
    res[f"runs_gsplat_{k}"] = len(peer)
    res[f"psnr_gsplat_{k}"] = statistics.mean(r["psnr_test"] for r in peer)
    res[f"ssim_gsplat_{k}"] = statistics.mean(r["ssim_test"] for r in peer)
    res[f"train_wall_s_gsplat_{k}"] = statistics.mean(r["train_wall_s"] for r in timed)
    res[f"it_per_s_gsplat_{k}"] = statistics.mean(r["it_per_s"] for r in timed)
    res[f"splats_gsplat_{k}"] = statistics.mean(r["splats"] for r in peer)
    res[f"peak_gpu_mem_gib_gsplat_{k}"] = max(r["peak_gpu_mem_gib"] for r in peer)
    res[f"excluded_from_timing_gsplat_{k}"] = excluded
    res[f"psnr_diff_db_{k}"] = res[f"psnr_ours_{k}"] - res[f"psnr_gsplat_{k}"]
    res[f"wall_ratio_ours_over_gsplat_{k}"] = res[f"train_wall_s_ours_{k}"] / res[f"train_wall_s_gsplat_{k}"]
    res[f"mem_ratio_ours_over_gsplat_{k}"] = res[f"peak_gpu_mem_gib_ours_{k}"] / res[f"peak_gpu_mem_gib_gsplat_{k}"]
res["memory_note"] = ("ours: peak bytes held by wgpu buffers (wgpu internal counters, sampled after "
                      "every iteration); gsplat: torch.cuda.max_memory_allocated")
with open(out_path, "w") as f:
    json.dump(res, f, indent=2, sort_keys=True)
print(json.dumps(res, indent=2, sort_keys=True))
