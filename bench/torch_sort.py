"""Peer figure for bench/results/sort.json: torch.sort (CUB radix sort) on key-value pairs.

Sorts random non-negative int32 keys with stable=True (so it returns the permutation, i.e. a
key-value sort) on the CUDA device, timed with CUDA events. Prints one JSON object:
{"device": ..., "ms": {"<pairs>": median_ms, ...}}. Usage: torch_sort.py --sizes 1048576,4194304
"""
import argparse
import json
import statistics

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    dev = torch.device("cuda")
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "ms": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        g = torch.Generator(device=dev).manual_seed(n)
        keys = torch.randint(0, 2**31 - 1, (n,), dtype=torch.int32, device=dev, generator=g)
        for _ in range(3):
            torch.sort(keys, stable=True)
        torch.cuda.synchronize()
        times = []
        for _ in range(args.iterations):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.sort(keys, stable=True)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        out["ms"][str(n)] = statistics.median(times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
